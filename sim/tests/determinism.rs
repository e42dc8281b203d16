//! Same scenario, seed, engine and binary give byte-identical report files
//! (under each engine), in two separate processes (the in-process check would miss per-process state,
//! see docs/SIMULATION.md); a different seed gives different ones.
#![cfg(madsim)]

mod common;
use common::{files, run_report};

const SCENARIO: &str = r#"
name = "determinism"
description = "a small cluster with a fault, to replay"
seed = 21
[cluster]
nodes = 3
replication = { n = 3, r = 2, w = 2 }
replica_timeout = "5ms"
[capacity]
cores = 2
op_cost = { median = "20us", sigma = 0.5 }
queue_limit = 500
[network]
latency = { base = "50us", jitter = "50us" }
[[phase]]
name = "steady"
duration = "2s"
rate = 3000
keys = { count = 2000, distribution = "zipf", s = 0.99 }
mix = { get = 0.8, set = 0.15, delete = 0.05 }
value_size = "64B"
timeout = "50ms"
clients = 2
connections = 8
[[phase]]
name = "spike"
duration = "1s"
rate = "x3"
[[fault]]
at = "1s"
kill = "node-2"
[[fault]]
at = "2500ms"
restart = "node-2"
"#;

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    same_seed_same_bytes(SCENARIO, "direct");
}

/// The database, singleflight and the near-cache are driven by seeded
/// randomness and model time only: their series replay byte for byte too.
#[test]
fn an_app_with_a_database_replays_byte_for_byte() {
    let app = r#"
[app]
pattern = "cache-aside"
fill_ttl = "300ms"
coalesce = true
near_cache = { keys = 50, ttl = "200ms" }
[database]
latency = { median = "1ms", sigma = 0.5 }
concurrency = 4
queue_limit = 64
[[phase]]"#;
    let text = SCENARIO.replacen("[[phase]]", app, 1);
    same_seed_same_bytes(&text, "app");
}

fn same_seed_same_bytes(text: &str, tag: &str) {
    for engine in ["madsim", "fast"] {
        same_seed_same_bytes_under(text, tag, engine);
    }
}

fn same_seed_same_bytes_under(text: &str, tag: &str, engine: &str) {
    let dir = std::env::temp_dir().join(format!(
        "ringlab-determinism-{tag}-{engine}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("determinism.toml");
    std::fs::write(&scenario, text).unwrap();

    let args = ["--engine", engine];
    let a = files(&run_report(&dir, &scenario, 21, "a", &args));
    let b = files(&run_report(&dir, &scenario, 21, "b", &args));
    let c = files(&run_report(&dir, &scenario, 22, "c", &args));
    for name in [
        "summary.json",
        "summary.md",
        "timeline.csv",
        "latency.hlog",
        "report.html",
        "expect.json",
    ] {
        assert!(a.contains_key(name), "{name} missing from the report");
    }
    if tag == "app" {
        for name in [
            "series-db.reads_per_s.svg",
            "series-db.coalesced_per_s.svg",
            "series-near.hits_per_s.svg",
        ] {
            assert!(a.contains_key(name), "{name} missing from the report");
        }
    }
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same seed, different file sets"
    );
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs of seed 21 ({engine})"
        );
    }
    assert_ne!(
        a["summary.json"], c["summary.json"],
        "seeds 21 and 22 gave the same summary"
    );
    assert_ne!(a["timeline.csv"], c["timeline.csv"]);
    std::fs::remove_dir_all(&dir).ok();
}
