//! Golden files: `summary.md`, `summary.json` and `timeline.csv` of the
//! seeded sample record must match `testdata/golden/` byte for byte.
//!
//! After an intended change to the reports, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p ringlab-loadgen --test report_golden`
//! and review the diff.

use std::path::PathBuf;

use ringlab_loadgen::report::{Summary, sample, timeline};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/golden")
}

fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the generated text at line {}:\n  golden:    {:?}\n  generated: {:?}\n\
             If the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff.",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end of file>"),
            actual.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn summary_markdown_matches_golden() {
    let summary = Summary::from_record(&sample::record(7)).unwrap();
    check("sample-7.summary.md", &summary.to_markdown());
}

#[test]
fn summary_json_matches_golden() {
    let summary = Summary::from_record(&sample::record(7)).unwrap();
    check("sample-7.summary.json", &summary.to_json());
}

#[test]
fn timeline_csv_matches_golden() {
    check(
        "sample-7.timeline.csv",
        &timeline::to_csv(&sample::record(7)).unwrap(),
    );
}
