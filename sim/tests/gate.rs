//! The CI gate (`scripts/gate`) catches a slower node: a scenario run twice
//! compares clean against itself, and the same scenario with every
//! operation twice as expensive fails `ringlab-sim compare`.
//!
//! Runs the real `ringlab-sim` binary the way the gate does (`run --quiet
//! --out`, then `compare BASE NEW`), so it exercises the exit codes the
//! gate relies on, on the default engine (fast) as the gate runs it.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{show, sim, tree};

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

/// `run` exits 1 when an expectation fails (and still writes the report
/// and its verdicts), 0 when every one holds; `sweep` counts such a seed
/// as one that broke an expectation, not as a simulation that failed.
#[test]
fn run_exits_1_when_an_expectation_fails() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-exit-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    let status_of = |label: &str, expect: &str| {
        let file = dir.join(format!("{label}.toml"));
        let toml = scenario("100us") + "[expect]\n" + expect + "\n";
        std::fs::write(&file, toml).expect("writing the scenario");
        let out = sim()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(dir.join(label))
            .output()
            .expect("starting ringlab-sim");
        (out.status.code(), show(&out), file)
    };
    let (code, text, _) = status_of("holds", "p99 = \"<= 1s\"");
    assert_eq!(code, Some(0), "{text}");
    let (code, text, file) = status_of("fails", "p99 = \"<= 1us\"");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL"), "the verdict is printed: {text}");
    let verdicts = std::fs::read_to_string(dir.join("fails/expect.json")).expect("expect.json");
    assert!(verdicts.contains("\"pass\": false"), "{verdicts}");

    let out = sim()
        .arg("sweep")
        .arg(&file)
        .args(["--seeds", "1-2", "--jobs", "1", "--out"])
        .arg(dir.join("sweep"))
        .output()
        .expect("starting ringlab-sim");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // Each failing seed with what it measured, and how to replay it.
    assert!(text.contains("| `p99 <= 1us` | 0/2 | 1 ("), "{text}");
    assert!(text.contains("replay seed 2: ringlab-sim run"), "{text}");
    assert!(!text.contains("Simulation failed"), "{text}");
}

/// `sweep --shard K/4` four times and `merge` give the same files, byte
/// for byte, as the sweep run whole (issue 14's "done when").
#[test]
fn a_sweep_in_four_shards_merged_equals_the_whole_sweep() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sweep-shards");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    let file = dir.join("probe.toml");
    std::fs::write(&file, scenario("100us")).expect("writing the scenario");
    let sweep = |extra: &[&str], out: &Path| {
        let o = sim()
            .arg("sweep")
            .arg(&file)
            .args(["--seeds", "1-4", "--jobs", "2", "--out"])
            .arg(out)
            .args(extra)
            .output()
            .expect("starting ringlab-sim");
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    };
    let whole = dir.join("whole");
    sweep(&[], &whole);
    let mut shards = Vec::new();
    for k in 1..=4 {
        let out = dir.join(format!("shard-{k}"));
        sweep(&["--shard", &format!("{k}/4")], &out);
        shards.push(out);
    }
    let merged = dir.join("merged");
    let o = sim()
        .arg("merge")
        .arg("--out")
        .arg(&merged)
        .args(&shards)
        .output()
        .expect("starting ringlab-sim merge");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (a, b) = (tree(&whole), tree(&merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(*bytes == b[path], "{} differs", path.display());
    }
    assert!(a.contains_key(Path::new("sweep.md")));
}
