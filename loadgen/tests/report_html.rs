//! `report.html` is one self-contained page that opens in headless Chromium
//! without console errors and renders something (the screenshot is not one
//! colour); in two reports (one with a failing expectation and faults, one
//! healthy at 100% availability with per-node series) the verdicts show at
//! the top, no two texts of a plot overlap, and every table fits the page.
//!
//! Chromium: `scripts/setup` installs it, and CI (where `CI` is set) fails
//! without it. On a machine without it and without `CI`, the browser tests
//! print that they were skipped and why, and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ringlab_loadgen::report::{self, sample};

/// How long Chromium may take, in 100 ms steps (counted, not timed: no clock
/// is read in this package's tests).
const CHROMIUM_STEPS: u32 = 1_200;

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|dir| dir.join(name).is_file())
        {
            return Some(dir.join(name));
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "chromium was not found on PATH and CI is set; scripts/setup installs it -- \
             this test checks report.html in a real browser"
        );
    }
    eprintln!(
        "SKIPPED: chromium is not installed (run scripts/setup to install it; CI runs this \
         test) -- report.html was not checked in a browser"
    );
    None
}

/// Runs headless Chromium on `page`, writing a screenshot to `png`; returns
/// its stderr (where console messages are logged).
fn screenshot(browser: &Path, page: &Path, png: &Path, profile: &Path) -> String {
    run_chromium(
        browser,
        page,
        profile,
        &format!("--screenshot={}", png.display()),
    )
    .1
}

/// Runs headless Chromium on `page` with `action` (`--screenshot=...` or
/// `--dump-dom`); returns its stdout and stderr.
fn run_chromium(browser: &Path, page: &Path, profile: &Path, action: &str) -> (String, String) {
    // Files, not pipes: a dumped DOM is larger than a pipe's buffer, and
    // chromium would block writing it while this loop waits for its exit.
    std::fs::create_dir_all(profile).expect("creating the profile directory");
    let (out_path, err_path) = (profile.join("stdout.txt"), profile.join("stderr.txt"));
    let file = |p: &Path| std::fs::File::create(p).expect("creating an output file");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .expect("chromium starts");
    let mut steps = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for chromium") {
            break status;
        }
        steps += 1;
        if steps > CHROMIUM_STEPS {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish rendering {} in time",
                page.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let stderr = read(&err_path);
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (read(&out_path), stderr)
}

#[test]
fn report_page_renders_in_chromium_without_console_errors() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("report");
    report::write_all(&sample::record(7), &reports).unwrap();
    let page = reports.join("report.html");
    let png = dir.path().join("shot.png");
    let stderr = screenshot(&browser, &page, &png, &dir.path().join("profile"));

    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "the page logged to the console:\n{}",
        console.join("\n")
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().expect("screenshot is a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size fits")];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 2000));
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    let mut colours: BTreeMap<&[u8], u64> = BTreeMap::new();
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        *colours.entry(&px[..channels.min(3)]).or_default() += 1;
    }
    let pixels = u64::from(info.width) * u64::from(info.height);
    let background = colours.values().max().copied().unwrap_or(0);
    assert!(
        colours.len() > 50,
        "the screenshot has only {} colours: is the page blank?",
        colours.len()
    );
    assert!(
        (pixels - background) * 20 > pixels,
        "less than 5% of the screenshot differs from the background"
    );
}

#[test]
fn report_page_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    report::write_all(&sample::record(7), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    // The only URL allowed is the SVG namespace name, which is never fetched.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for needle in [
        "http://", "https://", "src=", "<script", "<link", "url(", "@import",
    ] {
        assert!(
            !without_ns.contains(needle),
            "report.html refers to something outside itself: {needle:?}"
        );
    }
    for heading in [
        "<h1>sample</h1>",
        "A synthetic run",
        "id=\"phases\"",
        "id=\"events\"",
        "kill node-3",
    ] {
        assert!(html.contains(heading), "report.html lacks {heading:?}");
    }
    // Every plot is inlined, and each exactly once.
    assert_eq!(html.matches("<svg ").count(), 5);
    assert!(!html.contains("<?xml"));
}

/// Added to a copy of a report page: lists texts of one plot that overlap,
/// tables wider than the page, and the verdicts' text, as JSON in
/// `<pre id="layout-check">` (read back from the dumped DOM).
const LAYOUT_CHECK: &str = r#"<script>
(() => {
  const problems = [];
  const box = (e) => ({ r: e.getBoundingClientRect(), t: e.textContent.trim() });
  const overlap = (a, b) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > 1 && h > 1 ? w * h : 0;
  };
  document.querySelectorAll('figure svg').forEach((svg, n) => {
    const texts = [...svg.querySelectorAll('text')].map(box)
      .filter((b) => b.t && b.r.width > 0 && b.r.height > 0);
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, b] = [texts[i].r, texts[j].r];
        const small = Math.min(a.width * a.height, b.width * b.height);
        if (overlap(a, b) > 0.1 * small) {
          problems.push(`plot ${n + 1}: "${texts[i].t}" overlaps "${texts[j].t}"`);
        }
      }
    }
  });
  const page = document.querySelector('main').getBoundingClientRect();
  document.querySelectorAll('table').forEach((t, n) => {
    const r = t.getBoundingClientRect();
    if (r.right > page.right + 1) {
      problems.push(`table ${n + 1} is ${Math.round(r.width)} px wide, past the page's right edge`);
    }
  });
  const v = document.getElementById('verdicts');
  const r = v ? v.getBoundingClientRect() : null;
  const result = document.createElement('pre');
  result.id = 'layout-check';
  result.textContent = JSON.stringify({
    problems,
    verdicts: v ? v.innerText : null,
    verdicts_top: r ? Math.round(r.top) : null,
    first_plot_top: Math.round(document.querySelector('figure').getBoundingClientRect().top),
  });
  document.body.appendChild(result);
})();
</script>
"#;

/// The layout check's result for the report page in `dir`.
fn layout_check(browser: &Path, dir: &Path) -> (serde_json::Value, String) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let checked = dir.join("checked.html");
    std::fs::write(
        &checked,
        html.replace("</body>", &format!("{LAYOUT_CHECK}</body>")),
    )
    .unwrap();
    let (dom, stderr) = run_chromium(browser, &checked, &dir.join("profile"), "--dump-dom");
    let marker = "<pre id=\"layout-check\">";
    let start = dom.find(marker).expect("the check ran") + marker.len();
    let end = start + dom[start..].find("</pre>").expect("the check's end");
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    (
        serde_json::from_str(&json).expect("the check's JSON"),
        stderr,
    )
}

/// A healthy run: every request ok (100% availability), no fault, and the
/// per-node series of a hot-key run.
fn healthy_record() -> ringlab_loadgen::recorder::RunRecord {
    let mut r = sample::record(11);
    r.events.clear();
    for w in &mut r.windows {
        for op in w.ops.values_mut() {
            op.counts.errors.clear();
            op.counts.timeouts = 0;
            op.counts.held_back = 0;
        }
    }
    let n = r.windows.len();
    let wave = |base: f64, amp: f64| {
        (0..n)
            .map(|i| base + amp * (i % 7) as f64)
            .collect::<Vec<f64>>()
    };
    r.series
        .insert("node.node-4.op_p99_us".into(), wave(30_000.0, 2_000.0));
    r.series
        .insert("node.others.op_p99_us".into(), wave(400.0, 30.0));
    r.series
        .insert("node.node-4.utilization".into(), wave(0.9, 0.01));
    r.series
        .insert("node.others.utilization".into(), wave(0.3, 0.02));
    r
}

#[test]
fn two_reports_show_verdicts_without_overlapping_text_or_wide_tables() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let line = |e: &str, m: &str, pass| report::ExpectLine {
        expectation: e.into(),
        measured: m.into(),
        pass,
    };
    let cases = [
        (
            "faults",
            sample::record(7),
            vec![
                line("availability >= 99.9%", "97.1%", false),
                line("p99 <= 50ms", "4.1ms", true),
            ],
            "1 of 2 expectations failed",
        ),
        (
            "healthy",
            healthy_record(),
            vec![line("availability >= 99.9%", "100%", true)],
            "All 1 expectations hold",
        ),
    ];
    for (name, record, verdicts, headline) in cases {
        let out = dir.path().join(name);
        report::write_all_with(&record, &out, &verdicts).unwrap();
        let (check, stderr) = layout_check(&browser, &out);
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(
            console.is_empty(),
            "{name}: console:\n{}",
            console.join("\n")
        );
        let problems = check["problems"].as_array().unwrap();
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        let shown = check["verdicts"].as_str().unwrap_or_default();
        assert!(
            shown.contains(headline),
            "{name}: verdicts shown: {shown:?}"
        );
        assert!(
            shown.contains(&verdicts[0].expectation),
            "{name}: {shown:?}"
        );
        assert!(
            check["verdicts_top"].as_i64() < check["first_plot_top"].as_i64(),
            "{name}: the verdicts come before the plots: {check}"
        );
    }
}

/// Two committed lesson reports (regenerated by `scripts/gate --update`):
/// the partition lesson (faults, error kinds in a wide phases table) and
/// the hot-key lesson (the per-node series on one plot). Verdicts first,
/// no overlapping text, no table past the page.
#[test]
fn two_lesson_reports_pass_the_layout_check() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports");
    for name in ["partition", "hot-key"] {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(
            reports.join(name).join("report.html"),
            out.join("report.html"),
        )
        .expect("a committed report.html");
        let (check, stderr) = layout_check(&browser, &out);
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(
            console.is_empty(),
            "{name}: console:\n{}",
            console.join("\n")
        );
        let problems = check["problems"].as_array().unwrap();
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        let shown = check["verdicts"].as_str().unwrap_or_default();
        assert!(
            shown.contains("expectations hold"),
            "{name}: verdicts shown: {shown:?}"
        );
        assert!(
            check["verdicts_top"].as_i64() < check["first_plot_top"].as_i64(),
            "{name}: the verdicts come before the plots: {check}"
        );
    }
}
