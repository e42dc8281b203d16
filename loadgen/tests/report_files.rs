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
