//! The CI gate (`scripts/gate`) catches a slower node: a scenario run twice
//! compares clean against itself, and the same scenario with every
//! operation twice as expensive fails `ringlab-sim compare`.
//!
//! Runs the real `ringlab-sim` binary the way the gate does (`run --quiet
//! --out`, then `compare BASE NEW`), so it exercises the exit codes the
//! gate relies on. Only with `--cfg madsim` (`cargo msim-test -p
//! ringlab-sim`): the plain build's binary cannot simulate.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tiny scenario: one node, a few thousand requests, a fixed service
/// time so that doubling it moves every percentile by a known amount.
fn scenario(op_cost: &str) -> String {
    format!(
        r#"
name = "gate-probe"
description = "one node at a quarter of its capacity"
seed = 7
[cluster]
nodes = 1
replication = {{ n = 1, r = 1, w = 1 }}
[capacity]
cores = 2
op_cost = "{op_cost}"
per_kb_cost = "0us"
queue_limit = 64
[network]
latency = "20us"
[[phase]]
name = "steady"
duration = "2s"
rate = 2000
keys = {{ count = 1000, distribution = "uniform" }}
mix = {{ get = 0.9, set = 0.1 }}
value_size = "16B"
timeout = "50ms"
clients = 1
connections = 16
"#
    )
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringlab-sim"))
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `toml` into `dir/<label>.toml`, runs it, and returns its report
/// directory.
fn run(dir: &Path, label: &str, toml: &str) -> PathBuf {
    let file = dir.join(format!("{label}.toml"));
    std::fs::write(&file, toml).expect("writing the scenario");
    let report = dir.join(label);
    let out = sim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&report)
        .arg("--quiet")
        .output()
        .expect("starting ringlab-sim");
    assert!(out.status.success(), "run {label}: {}", show(&out));
    assert!(report.join("summary.json").is_file(), "{label}: no summary");
    report
}

fn compare(base: &Path, new: &Path) -> Output {
    sim()
        .arg("compare")
        .arg(base)
        .arg(new)
        .output()
        .expect("starting ringlab-sim compare")
}

#[test]
fn the_gate_passes_a_rerun_and_fails_a_node_twice_as_slow() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");

    let base = run(&dir, "base", &scenario("100us"));
    let again = run(&dir, "again", &scenario("100us"));
    let slowed = run(&dir, "slowed", &scenario("200us"));

    // Same scenario, seed and binary: the same histograms, so no regression.
    let same = compare(&base, &again);
    assert_eq!(same.status.code(), Some(0), "rerun: {}", show(&same));

    // Each operation costs 100 us more: every percentile grows by at least
    // that, far beyond the default 5% + 20 us. Exit code 1 is a verdict
    // ("regressed"); 2 would be an error reading the reports.
    let worse = compare(&base, &slowed);
    assert_eq!(worse.status.code(), Some(1), "slowed: {}", show(&worse));
    let text = String::from_utf8_lossy(&worse.stdout);
    assert!(text.contains("p99"), "the verdict names p99: {text}");

    // The gate is one-sided: a faster node is not a regression.
    let better = compare(&slowed, &base);
    assert_eq!(better.status.code(), Some(0), "faster: {}", show(&better));
}
