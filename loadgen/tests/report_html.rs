//! `report.html` is one self-contained page that opens in headless Chromium
//! without console errors and renders something (the screenshot is not one
//! colour).
//!
//! Chromium is required: `scripts/setup` installs it (CI runs it). Without
//! it this test fails, saying so, rather than passing unchecked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ringlab_loadgen::report::{self, sample};

/// How long Chromium may take, in 100 ms steps (counted, not timed: no clock
/// is read in this package's tests).
const CHROMIUM_STEPS: u32 = 1_200;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(dir) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .find(|dir| dir.join(name).is_file())
        {
            return dir.join(name);
        }
    }
    panic!(
        "chromium was not found on PATH; run scripts/setup to install it \
         (CI installs it) -- this test checks report.html in a real browser"
    );
}

/// Runs headless Chromium on `page`, writing a screenshot to `png`; returns
/// its stderr (where console messages are logged).
fn screenshot(page: &Path, png: &Path, profile: &Path) -> String {
    let mut child = Command::new(chromium())
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
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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
    let out = child.wait_with_output().expect("chromium's output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    stderr
}

#[test]
fn report_page_renders_in_chromium_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("report");
    report::write_all(&sample::record(7), &reports).unwrap();
    let page = reports.join("report.html");
    let png = dir.path().join("shot.png");
    let stderr = screenshot(&page, &png, &dir.path().join("profile"));

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
