//! Every report file is written, non-empty and well-formed; the same record
//! gives byte-identical files; report.md shows the verdicts and links every
//! plot; a phase not aligned with the windows gets a warning.
//!
//! Set `RINGLAB_KEEP_REPORT=DIR` to also write the sample report into DIR,
//! for looking at it.

use std::path::Path;

use ringlab_loadgen::report::{self, sample};

fn names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn write_all_writes_every_file() {
    let record = sample::record(7);
    let dir = tempfile::tempdir().unwrap();
    let written = report::write_all(&record, dir.path()).unwrap();
    assert_eq!(
        names(&written),
        [
            "summary.json",
            "summary.md",
            "timeline.csv",
            "latency.hlog",
            "latency.svg",
            "throughput.svg",
            "availability.svg",
            "distribution.svg",
            "series-db.queries_per_s.svg",
            "report.html",
            "report.md",
        ]
    );
    for path in &written {
        let len = std::fs::metadata(path).unwrap().len();
        assert!(len > 100, "{} has only {len} bytes", path.display());
    }
    if let Ok(keep) = std::env::var("RINGLAB_KEEP_REPORT") {
        report::write_all(&record, Path::new(&keep)).unwrap();
    }
}

#[test]
fn the_same_record_gives_byte_identical_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let written_a = report::write_all(&sample::record(11), a.path()).unwrap();
    let written_b = report::write_all(&sample::record(11), b.path()).unwrap();
    assert_eq!(names(&written_a), names(&written_b));
    for (pa, pb) in written_a.iter().zip(&written_b) {
        assert!(
            std::fs::read(pa).unwrap() == std::fs::read(pb).unwrap(),
            "{} differs between two writes of the same record",
            pa.display()
        );
    }
    // And another seed gives other figures: the comparison is not vacuous.
    let c = tempfile::tempdir().unwrap();
    report::write_all(&sample::record(12), c.path()).unwrap();
    assert_ne!(
        std::fs::read(a.path().join("summary.json")).unwrap(),
        std::fs::read(c.path().join("summary.json")).unwrap()
    );
}

#[test]
fn report_md_links_every_plot_and_shows_the_verdicts() {
    let record = sample::record(7);
    let dir = tempfile::tempdir().unwrap();
    let verdicts = [report::ExpectLine {
        expectation: "phase.steady.p99 <= 1ms".into(),
        measured: "4.2ms".into(),
        pass: false,
    }];
    let written = report::write_all_with(&record, dir.path(), &verdicts).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for svg in names(&written).iter().filter(|n| n.ends_with(".svg")) {
        assert!(
            md.contains(&format!("]({svg})")),
            "report.md lacks {svg}:\n{md}"
        );
    }
    assert!(md.contains("## 1 of 1 expectations failed"), "{md}");
    assert!(
        md.contains("| **FAIL** | `phase.steady.p99 <= 1ms` | 4.2ms |"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let (verdict, plot) = (
        html.find("id=\"verdicts\"").unwrap(),
        html.find("<figure").unwrap(),
    );
    assert!(verdict < plot, "the verdicts come before the plots");
}

#[test]
fn a_phase_off_the_window_edges_is_warned_about() {
    let mut record = sample::record(7);
    assert!(
        report::window_warnings(&record).is_empty(),
        "the sample is aligned"
    );
    // steady ends 0.5 s into a window; spike then starts there.
    let half = std::time::Duration::from_millis(500);
    record.phases[1].end += half;
    record.phases[2].start += half;
    let w = report::window_warnings(&record);
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(
        w[0].contains("phase steady (10 s – 30.5 s) does not start and end"),
        "{w:#?}"
    );
    record.phases[2].end = record.phases[2].start + std::time::Duration::from_millis(300);
    let w = report::window_warnings(&record);
    assert!(
        w[1].contains("phase spike (0.3 s long) is shorter than the 1 s report window"),
        "{w:#?}"
    );
    let dir = tempfile::tempdir().unwrap();
    report::write_all(&record, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("warning: phase spike"), "the page shows it");
}
