//! The simulator CLI's contract that needs no simulation: `check --dry-run`
//! validates scenario files (every problem, naming the file, the line and
//! the key) and its exit status; `--seeds` refuses the ambiguous `A..B`.
//! Runs in both builds: nothing here simulates.

use std::path::PathBuf;

mod common;
use common::{repo, scratch, show, sim};

#[test]
fn dry_run_accepts_every_lesson_without_simulating() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .expect("reading scenarios/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the lessons: {files:?}");
    let out = sim()
        .arg("check")
        .arg("--dry-run")
        .args(&files)
        .output()
        .expect("starting ringlab-sim");
    // The plain build cannot simulate: a dry run that simulated would fail.
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("quickstart (2 phases, 0 faults, 2 expectations"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} scenario files valid", files.len())),
        "{text}"
    );
}

#[test]
fn dry_run_names_the_file_line_and_key_of_every_problem() {
    let dir = scratch("cli-dry-run");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "name = \"good\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 10\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 10\n\
         [expect]\nphase.a.p99 = \"fast\"\n",
    )
    .unwrap();
    let out = sim()
        .args(["check", "--dry-run"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("starting ringlab-sim");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!("{}:7:", bad.display());
    assert!(text.contains(&expected), "names file and line: {text}");
    assert!(text.contains("p99"), "names the key: {text}");
    assert!(text.contains(&format!("ok {}", good.display())), "{text}");
}

#[test]
fn dry_run_refuses_two_scenarios_with_one_name() {
    let dir = scratch("cli-dry-run-names");
    let toml = "name = \"twin\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 10\n";
    let (a, b) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(&a, toml).unwrap();
    std::fs::write(&b, toml).unwrap();
    let out = sim()
        .args(["check", "--dry-run"])
        .arg(&a)
        .arg(&b)
        .output()
        .expect("starting ringlab-sim");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("already the name of"), "{text}");
}

#[test]
fn sweep_refuses_an_exclusive_seed_range_before_simulating() {
    let out = sim()
        .args(["sweep", "--seeds", "1..5"])
        .arg(repo().join("scenarios/quickstart.toml"))
        .output()
        .expect("starting ringlab-sim");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("1..=5 or 1-5"), "{text}");
}
