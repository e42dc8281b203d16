//! `compare` across seeds on shortened copies of two lessons: a 10% dearer
//! operation (`op_cost` x 1.1) is caught on quickstart (far from saturation)
//! and on capacity-knee (near its knee), and an unchanged scenario is not
//! flagged in at least 19 of 20 splits of its seeds into two sets.
//!
//! Runs the real binary (`sweep`, then `compare BASE NEW`) with the madsim
//! engine, so only with `--cfg madsim`. The copies are a few seconds of
//! model time each; 18 runs per lesson. See docs/PERFORMANCE.md for the time
//! it takes.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{show, sim};

/// Seeds per side: 6 and 6 is the fewest for which Holm can flag one of
/// the ~15 figures judged at alpha 0.05 (1 / C(12, 6) = 0.0011).
const PER_SIDE: u64 = 6;

/// quickstart, shortened: the same cluster, capacity and network, one
/// steady phase at a tenth of the nodes' capacity.
fn quickstart(op_cost: &str) -> String {
    format!(
        r#"
name = "quickstart-short"
description = "quickstart's cluster, 3 s of steady load far from saturation"
seed = 1
[cluster]
nodes = 3
vnodes = 128
replication = {{ n = 3, r = 2, w = 2 }}
replica_timeout = "10ms"
maxmemory = "64MB"
eviction = "allkeys-lru"
[capacity]
cores = 2
op_cost = "{op_cost}"
per_kb_cost = "2us"
queue_limit = 2000
[network]
latency = {{ base = "100us", jitter = "50us" }}
[[phase]]
name = "steady"
duration = "3s"
rate = 3000
keys = {{ count = 10_000, distribution = "zipf", s = 0.99 }}
mix = {{ get = 0.9, set = 0.1 }}
value_size = "100B"
timeout = "50ms"
"#
    )
}

/// capacity-knee, shortened: the same cluster and cost model, one phase at
/// 50-80% of its capacity.
fn capacity_knee(op_cost: &str) -> String {
    format!(
        r#"
name = "capacity-knee-short"
description = "capacity-knee's cluster, 3 s at 50-80% of capacity"
seed = 1
[cluster]
nodes = 3
vnodes = 128
replication = {{ n = 3, r = 2, w = 2 }}
replica_timeout = "20ms"
maxmemory = "64MB"
eviction = "allkeys-lru"
[capacity]
cores = 2
op_cost = {{ mean = "{op_cost}" }}
per_kb_cost = "0us"
queue_limit = 64
[network]
latency = {{ base = "100us", jitter = "50us" }}
[[phase]]
name = "load-50-80"
duration = "3s"
rate = {{ from = 4000, to = 6400 }}
keys = {{ count = 10_000, distribution = "uniform" }}
mix = {{ get = 0.9, set = 0.1 }}
value_size = "100B"
timeout = "100ms"
clients = 4
connections = 256
"#
    )
}

/// Runs `toml` over `seeds` with `sweep`; returns the sweep directory.
fn sweep(dir: &Path, label: &str, toml: &str, seeds: &str) -> PathBuf {
    let file = dir.join(format!("{label}.toml"));
    std::fs::write(&file, toml).expect("writing the scenario");
    let out = dir.join(label);
    let o = sim()
        .arg("sweep")
        .arg(&file)
        .args(["--seeds", seeds, "--jobs", "2", "--out"])
        .arg(&out)
        .output()
        .expect("starting ringlab-sim");
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{label}: {}",
        show(&o)
    );
    out
}

fn compare(base: &Path, new: &Path) -> Output {
    sim()
        .arg("compare")
        .arg(base)
        .arg(new)
        .arg("--quiet")
        .output()
        .expect("starting ringlab-sim compare")
}

/// A directory holding copies of `seeds`' reports from `pool`.
fn side(pool: &Path, seeds: &[u64], to: &Path) -> PathBuf {
    for s in seeds {
        let (from, dest) = (pool.join(format!("seed-{s}")), to.join(format!("seed-{s}")));
        std::fs::create_dir_all(&dest).expect("creating a side");
        for f in ["summary.json", "timeline.csv"] {
            std::fs::copy(from.join(f), dest.join(f)).expect("copying a report file");
        }
    }
    to.to_path_buf()
}

/// 20 splits of the 2 x PER_SIDE seeds into two sets, by a fixed LCG.
fn splits() -> Vec<(Vec<u64>, Vec<u64>)> {
    let n = 2 * PER_SIDE;
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..20)
        .map(|_| {
            let mut seeds: Vec<u64> = (1..=n).collect();
            for i in (1..seeds.len()).rev() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                seeds.swap(i, (state >> 33) as usize % (i + 1));
            }
            let (a, b) = seeds.split_at(PER_SIDE as usize);
            (a.to_vec(), b.to_vec())
        })
        .collect()
}

fn check_lesson(name: &str, scenario: fn(&str) -> String, cost: &str, dearer: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compare-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    let pool = sweep(
        &dir,
        "pool",
        &scenario(cost),
        &format!("1-{}", 2 * PER_SIDE),
    );
    let slow = sweep(
        &dir,
        "dearer",
        &scenario(dearer),
        &format!("101-{}", 100 + PER_SIDE),
    );

    let base = side(
        &pool,
        &(1..=PER_SIDE).collect::<Vec<_>>(),
        &dir.join("base"),
    );
    let caught = compare(&base, &slow);
    assert_eq!(
        caught.status.code(),
        Some(1),
        "{name}: op_cost x1.1 not caught: {}",
        show(&caught)
    );

    let mut flagged = Vec::new();
    for (i, (a, b)) in splits().into_iter().enumerate() {
        let (x, y) = (
            dir.join(format!("split-{i}-a")),
            dir.join(format!("split-{i}-b")),
        );
        let o = compare(&side(&pool, &a, &x), &side(&pool, &b, &y));
        match o.status.code() {
            Some(0) => {}
            Some(1) => flagged.push(show(&o)),
            _ => panic!("{name}: split {i} could not be judged: {}", show(&o)),
        }
    }
    assert!(
        flagged.len() <= 1,
        "{name}: unchanged flagged in {} of 20:\n{}",
        flagged.len(),
        flagged.join("\n")
    );
}

#[test]
fn a_ten_percent_dearer_operation_is_caught_on_quickstart() {
    check_lesson("quickstart", quickstart, "20us", "22us");
}

#[test]
fn a_ten_percent_dearer_operation_is_caught_on_capacity_knee() {
    check_lesson("capacity-knee", capacity_knee, "250us", "275us");
}
