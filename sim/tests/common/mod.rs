//! What the simulator's integration tests share: running a scenario text in
//! either engine, reading a phase's figures, running the `ringlab-sim`
//! binary, and reading a report directory back.
//!
//! Each test file is its own crate and uses a part of this; the rest would
//! warn as dead code there.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ringlab_loadgen::recorder::{OpWindow, RunRecord};
use ringlab_loadgen::scenario::{self, Scenario};

/// Parses a scenario text, panicking with the parser's message.
pub fn parse(toml: &str) -> Scenario {
    scenario::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Simulates `toml` at its own seed with the madsim engine.
#[cfg(madsim)]
pub fn simulate(toml: &str) -> RunRecord {
    let sc = parse(toml);
    ringlab_sim::harness::run(&sc, sc.seed, None)
        .expect("the simulation runs")
        .record
}

/// Simulates `toml` at its own seed with the fast engine.
pub fn simulate_fast(toml: &str) -> RunRecord {
    let sc = parse(toml);
    ringlab_sim::fast::simulate(&sc, sc.seed, None)
        .expect("the fast engine runs")
        .record
}

/// The figures of the phase called `name`.
pub fn phase(rec: &RunRecord, name: &str) -> OpWindow {
    let i = rec
        .phases
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no phase {name}"));
    rec.aggregate_phase(i, None).expect("phase exists")
}

/// How many requests of `w` failed with error kind `kind`.
pub fn errors(w: &OpWindow, kind: &str) -> u64 {
    w.counts.errors.get(kind).copied().unwrap_or(0)
}

/// The `ringlab-sim` binary of this build.
pub fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringlab-sim"))
}

/// Runs the `ringlab-sim` binary with `args` from the repository's root
/// (so scenario paths read as in the docs) and waits for it.
pub fn run_sim(args: &[&str]) -> Output {
    sim()
        .args(args)
        .current_dir(repo())
        .output()
        .expect("start ringlab-sim")
}

/// A finished command's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished command's status and output, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An empty directory of this test's own under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    dir
}

/// `ringlab-sim run SCENARIO --seed SEED --quiet --out DIR/NAME` with
/// `extra` arguments; returns the report directory.
pub fn run_report(dir: &Path, scenario: &Path, seed: u64, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let o = sim()
        .arg("run")
        .arg(scenario)
        .args(extra)
        .args(["--seed", &seed.to_string(), "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("starting ringlab-sim");
    assert!(o.status.success(), "run of seed {seed}: {}", show(&o));
    out
}

/// Every file under `dir`, by path relative to it.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("reading a report directory") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("reading a report file"));
            }
        }
    }
    out
}

/// The files directly in a report directory, by name.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(p, _)| p.components().count() == 1)
        .map(|(p, bytes)| (p.to_string_lossy().into_owned(), bytes))
        .collect()
}
