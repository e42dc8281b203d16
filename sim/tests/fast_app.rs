//! The fast engine's `[app]` patterns against their accounting: every
//! database query is one a request caused, a write-through SET waits for
//! both halves, a cache-aside miss waits for its read and fills the cache,
//! singleflight turns misses into waits, and a near-cache answers on the
//! spot. (Agreement with the madsim engine is `cross_check.rs`'s.)

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::workload::OpKind;

mod common;
use common::{errors, simulate_fast as simulate};

/// One node, a database answering every query in exactly 5 ms; `APP` is
/// replaced by the `[app]` table under test.
const BASE: &str = r#"
name = "fast-app"
seed = 5
[cluster]
nodes = 1
[capacity]
cores = 2
op_cost = "10us"
queue_limit = 500
[network]
latency = { base = "50us", jitter = "20us" }
APP
[database]
latency = "5ms"
concurrency = 64
queue_limit = 1000
[[phase]]
name = "load"
duration = "2s"
rate = 1000
keys = { count = 200, distribution = "uniform" }
mix = { get = 0.6, set = 0.3, delete = 0.1 }
value_size = "64B"
timeout = "100ms"
clients = 2
connections = 8
"#;

fn run(app: &str) -> RunRecord {
    simulate(&BASE.replace("APP", app))
}

/// The whole run's total of a per-second series.
fn total(rec: &RunRecord, series: &str) -> u64 {
    let rates = rec
        .series
        .get(series)
        .unwrap_or_else(|| panic!("no series {series}"));
    (rates.iter().sum::<f64>() * rec.meta.window.as_secs_f64()).round() as u64
}

/// Requests of `op` in the whole run, and the misses among them.
fn requests(rec: &RunRecord, op: OpKind) -> (u64, u64) {
    let w = rec.aggregate_all(Some(op));
    (w.counts.scheduled(), w.counts.misses)
}

fn p50_us(rec: &RunRecord, op: OpKind) -> u64 {
    rec.aggregate_all(Some(op)).hist.value_at_quantile(0.5)
}

#[test]
fn cache_aside_reads_the_database_once_per_miss_and_writes_once_per_write() {
    let rec = run("[app]\npattern = \"cache-aside\"");
    let all = rec.aggregate_all(None);
    assert_eq!(all.counts.availability(), Some(1.0), "{:?}", all.counts);
    let (gets, misses) = requests(&rec, OpKind::Get);
    let (sets, _) = requests(&rec, OpKind::Set);
    let (dels, _) = requests(&rec, OpKind::Delete);
    assert_eq!(total(&rec, "db.reads_per_s"), misses);
    assert_eq!(total(&rec, "db.writes_per_s"), sets + dels);
    // A miss fills the cache: 200 keys read ~1,200 times, and each write
    // deletes its key, so most reads hit.
    assert!(
        misses < gets / 2,
        "{misses} of {gets} GETs missed: fills do not land"
    );
    assert!(misses > 0);
    // A miss waits for its 5 ms read (the slowest GETs are misses); a
    // write for its 5 ms query first.
    let slowest = rec.aggregate_all(Some(OpKind::Get)).hist.max();
    assert!(slowest >= 5_000, "the slowest GET took {slowest} us");
    assert!(p50_us(&rec, OpKind::Set) >= 5_000);
}

#[test]
fn a_write_through_set_waits_for_the_database_and_the_cache() {
    let rec = run("[app]\npattern = \"write-through\"");
    let (sets, _) = requests(&rec, OpKind::Set);
    let (dels, _) = requests(&rec, OpKind::Delete);
    assert_eq!(total(&rec, "db.writes_per_s"), sets + dels);
    let p50 = p50_us(&rec, OpKind::Set);
    // Both halves at once: the database's 5 ms, not 5 ms plus a round trip.
    assert!(
        (5_000..5_100).contains(&p50),
        "write-through SET p50 {p50} us"
    );
    assert_eq!(rec.aggregate_all(None).counts.availability(), Some(1.0));
}

#[test]
fn singleflight_turns_concurrent_misses_into_waits() {
    let app = "[app]\npattern = \"cache-aside\"\ncoalesce = true";
    // Two keys, read 3,600 times a second, each miss reading for 5 ms:
    // misses of a key during its read wait for it.
    let text = BASE
        .replace("APP", app)
        .replace("count = 200", "count = 2")
        .replace(
            "get = 0.6, set = 0.3, delete = 0.1",
            "get = 0.9, delete = 0.1",
        )
        .replace("rate = 1000", "rate = 4000");
    let rec = simulate(&text);
    let (_, misses) = requests(&rec, OpKind::Get);
    let reads = total(&rec, "db.reads_per_s");
    let waits = total(&rec, "db.coalesced_per_s");
    assert_eq!(reads + waits, misses);
    assert!(waits > reads, "{waits} waits for {reads} reads");
}

#[test]
fn a_near_cache_answers_on_the_spot() {
    let app = "[app]\npattern = \"cache-aside\"\nnear_cache = { keys = 10, ttl = \"1s\" }";
    let text = BASE
        .replace("APP", app)
        .replace("count = 200", "count = 5")
        .replace("get = 0.6, set = 0.3, delete = 0.1", "get = 1.0");
    let rec = simulate(&text);
    let (gets, _) = requests(&rec, OpKind::Get);
    let near = total(&rec, "near.hits_per_s");
    // Five keys, each refreshed from the cluster at most once a second per
    // client machine: nearly every read is local, and costs nothing.
    assert!(near > gets * 9 / 10, "{near} near hits of {gets} GETs");
    // (Zero latency is recorded as the histogram's least value, 1 µs.)
    assert!(p50_us(&rec, OpKind::Get) <= 1);
}

#[test]
fn a_database_full_refuses_and_the_request_fails_with_dbrefused() {
    let text = BASE
        .replace("APP", "[app]\npattern = \"cache-aside\"")
        .replace("concurrency = 64", "concurrency = 1")
        .replace("queue_limit = 1000", "queue_limit = 2");
    let rec = simulate(&text);
    let all = rec.aggregate_all(None);
    let refused = errors(&all, "DBREFUSED");
    assert!(refused > 0, "{:?}", all.counts);
    assert_eq!(total(&rec, "db.refused_per_s"), refused);
}
