//! The application patterns in the simulator: a cache-aside client in
//! front of a cold cache sends its misses to the database until the cache
//! has warmed; singleflight keeps one read per key per client machine;
//! write-through writes reach the database.
//!
//! Only with `--cfg madsim` (`cargo msim-test -p ringlab-sim`).
#![cfg(madsim)]

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::workload::OpKind;

mod common;
use common::simulate;

/// Events of a `*_per_s` series over windows `range` (1 s windows).
fn total(rec: &RunRecord, series: &str, range: std::ops::Range<usize>) -> f64 {
    let s = rec
        .series
        .get(series)
        .unwrap_or_else(|| panic!("no series {series}: {:?}", rec.series.keys()));
    s[range].iter().sum()
}

const COLD: &str = r#"
name = "cold"
seed = 5
[cluster]
nodes = 3
replication = { n = 1, r = 1, w = 1 }
[network]
latency = "100us"
[app]
pattern = "cache-aside"
[database]
latency = "2ms"
concurrency = 64
queue_limit = 1000
[[phase]]
name = "steady"
duration = "6s"
rate = 2000
keys = { count = 1000, distribution = "uniform" }
mix = { get = 1.0, set = 0.0 }
value_size = "100B"
timeout = "200ms"
clients = 2
connections = 32
"#;

#[test]
fn a_cold_cache_sends_reads_to_the_database_until_it_warms() {
    let rec = simulate(COLD);
    let n = rec.windows.len();
    assert_eq!(n, 6, "one window per second");
    let first = total(&rec, "db.reads_per_s", 0..1);
    let last = total(&rec, "db.reads_per_s", n - 1..n);
    // 2,000 reads in the first second over 1,000 cold keys: most miss.
    assert!(first > 800.0, "first second: {first} database reads");
    // After 5 s every key has almost surely been read once and filled
    // (no TTL, memory to spare): P(a key unread) = e^-10.
    assert!(last <= 2.0, "last second: {last} database reads");
    let all = rec.aggregate_all(Some(OpKind::Get));
    let reads = total(&rec, "db.reads_per_s", 0..n);
    // Without singleflight every miss is exactly one database read, and
    // every read answers a request (nothing refused, nothing timed out).
    assert_eq!(all.counts.misses as f64, reads);
    assert_eq!(all.counts.ok, all.counts.scheduled());
    assert!(
        (990.0..1400.0).contains(&reads),
        "{reads} reads for 1,000 keys"
    );
    assert_eq!(total(&rec, "db.refused_per_s", 0..n), 0.0);
    assert_eq!(total(&rec, "db.writes_per_s", 0..n), 0.0);
}

#[test]
fn singleflight_reads_a_hot_key_once_per_client_machine() {
    let toml = COLD
        .replace(
            "pattern = \"cache-aside\"",
            "pattern = \"cache-aside\"\ncoalesce = true",
        )
        .replace("count = 1000", "count = 1")
        .replace("latency = \"2ms\"", "latency = \"50ms\"");
    let rec = simulate(&toml);
    let n = rec.windows.len();
    let reads = total(&rec, "db.reads_per_s", 0..n);
    let coalesced = total(&rec, "db.coalesced_per_s", 0..n);
    let gets = rec.aggregate_all(Some(OpKind::Get));
    // One key, no TTL: each of the 2 client machines reads it once at most;
    // every other miss while a read is out waits for it.
    assert!((1.0..=2.0).contains(&reads), "{reads} database reads");
    assert_eq!(gets.counts.misses as f64, reads + coalesced);
    // 50 ms of read at 2,000 requests per second: about 100 misses wait.
    assert!(coalesced > 50.0, "{coalesced} coalesced misses");
    assert_eq!(gets.counts.ok, gets.counts.scheduled());
}

#[test]
fn write_through_writes_every_set_to_the_database() {
    let toml = COLD
        .replace("cache-aside", "write-through")
        .replace("get = 1.0, set = 0.0", "get = 0.5, set = 0.5");
    let rec = simulate(&toml);
    let n = rec.windows.len();
    let sets = rec.aggregate_all(Some(OpKind::Set));
    assert!(sets.counts.scheduled() > 5000);
    assert_eq!(sets.counts.ok, sets.counts.scheduled());
    assert_eq!(total(&rec, "db.writes_per_s", 0..n), sets.counts.ok as f64);
    // A SET waits for its database write: at least 2 ms.
    assert!(
        sets.hist.min() >= 2000,
        "fastest set {} us",
        sets.hist.min()
    );
}

#[test]
fn a_near_cache_answers_repeated_reads_without_the_cluster() {
    let toml = COLD
        .replace(
            "pattern = \"cache-aside\"",
            "pattern = \"cache-aside\"\nnear_cache = { keys = 10, ttl = \"100ms\" }",
        )
        .replace("count = 1000", "count = 5");
    let rec = simulate(&toml);
    let n = rec.windows.len();
    let near = total(&rec, "near.hits_per_s", 0..n);
    let gets = rec.aggregate_all(Some(OpKind::Get));
    // 5 keys, each read 200 times a second per client machine; an entry is
    // served for 100 ms, so each machine asks the cluster for a key about
    // once per 100 ms: 5 keys x 2 machines x 60 lifetimes = 600 reads, a
    // little more while the first reads go to the database.
    let cluster = gets.counts.scheduled() as f64 - near;
    assert!(
        (600.0..=1200.0).contains(&cluster),
        "{cluster} reads reached the cluster ({near} near hits)"
    );
    assert_eq!(gets.counts.ok, gets.counts.scheduled());
}

#[test]
fn a_full_database_refuses_and_a_slow_one_times_out_as_error_kinds() {
    // One query at a time, none may wait: concurrent misses are refused.
    let refusing = COLD
        .replace("concurrency = 64", "concurrency = 1")
        .replace("queue_limit = 1000", "queue_limit = 0");
    let rec = simulate(&refusing);
    let n = rec.windows.len();
    let gets = rec.aggregate_all(Some(OpKind::Get)).counts;
    let refused = gets.errors.get("DBREFUSED").copied().unwrap_or(0);
    assert!(refused > 1000, "{refused} refused of {gets:?}");
    assert_eq!(total(&rec, "db.refused_per_s", 0..n), refused as f64);
    // A refused read is not filled, so those keys stay cold: every request
    // is a hit, a database read or a refusal.
    let reads = total(&rec, "db.reads_per_s", 0..n);
    assert_eq!(gets.misses as f64, reads);
    assert_eq!(gets.ok + refused, gets.scheduled());

    // The app waits 1 ms for a 2 ms query: every miss fails as DBTIMEOUT.
    let slow = COLD.replace(
        "queue_limit = 1000",
        "queue_limit = 1000\ntimeout = \"1ms\"",
    );
    let rec = simulate(&slow);
    let n = rec.windows.len();
    let gets = rec.aggregate_all(Some(OpKind::Get)).counts;
    let timeouts = gets.errors.get("DBTIMEOUT").copied().unwrap_or(0);
    assert_eq!(gets.misses, 0, "no read completes in time");
    assert!(timeouts >= 10_000, "{gets:?}");
    assert_eq!(total(&rec, "db.timeouts_per_s", 0..n), timeouts as f64);
    assert_eq!(gets.ok + timeouts, gets.scheduled());
}

/// A node dies under a cache-aside load of reads. The reads in flight on
/// the connections to it lose their connection; like the reads the other
/// nodes answer with an error (no replica left, N=1), they go on to the
/// database, so not one read fails.
#[test]
fn reads_whose_cache_connection_dies_go_on_to_the_database() {
    let toml = r#"
name = "death"
seed = 3
[cluster]
nodes = 3
replication = { n = 1, r = 1, w = 1 }
[network]
latency = "100us"
[capacity]
cores = 16
op_cost = "5ms"
queue_limit = 1000
[app]
pattern = "cache-aside"
[database]
latency = "1ms"
concurrency = 64
queue_limit = 1000
[[phase]]
name = "steady"
duration = "4s"
rate = 3000
keys = { count = 300, distribution = "uniform" }
mix = { get = 1.0, set = 0.0 }
value_size = "100B"
timeout = "500ms"
clients = 2
connections = 30
[[fault]]
at = "2s"
kill = "node-2"
"#;
    let rec = simulate(toml);
    let gets = rec.aggregate_all(Some(OpKind::Get)).counts;
    // Slow operations (5 ms each) keep about 30 requests in flight, about
    // ten of them on connections to node-2 when it dies: those break...
    assert!(gets.scheduled() >= 11_000, "{gets:?}");
    // ...and still every read is answered: by the cache, or by the database.
    assert_eq!(gets.ok, gets.scheduled(), "{gets:?}");
    assert!(gets.errors.is_empty(), "{gets:?}");
    // After the death node-2's third of the keys misses every time.
    let after = total(&rec, "db.reads_per_s", 3..4);
    assert!(after > 500.0, "{after} database reads in the last second");
}
