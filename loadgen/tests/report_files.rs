//! Every report file is written, non-empty and well-formed; the same record
//! gives byte-identical files.
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
