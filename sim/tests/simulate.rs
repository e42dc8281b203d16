//! The simulator against what queueing theory and the replication rules
//! say must happen: capacity saturates, quorums survive a node death and
//! refuse a minority partition, a spike overloads and recovers.
//!
//! Each test runs the real node and driver code in a madsim runtime (only
//! with `--cfg madsim`; `cargo msim-test`).
#![cfg(madsim)]

use ringlab_loadgen::recorder::{OpWindow, RunRecord};

mod common;
use common::{phase, simulate};

fn overloads(w: &OpWindow) -> u64 {
    w.counts.errors.get("OVERLOADED").copied().unwrap_or(0)
}

fn p99(w: &OpWindow) -> u64 {
    w.hist.value_at_quantile(0.99)
}

fn ok_per_s(w: &OpWindow, secs: f64) -> f64 {
    w.counts.ok as f64 / secs
}

/// One node, 2 cores, 100 us per operation: 20,000 ops/s at most. With
/// Poisson arrivals this is an M/D/2 queue: at 50% load waits are short, at
/// 95% they are many service times long, beyond 100% the bounded queue
/// fills and the node refuses work.
const CAPACITY: &str = r#"
name = "capacity"
description = "one node, 2 cores, 100 us per op"
seed = 3
[cluster]
nodes = 1
replication = { n = 1, r = 1, w = 1 }
[capacity]
cores = 2
op_cost = "100us"
per_kb_cost = "0us"
queue_limit = 64
[network]
latency = "10us"
[[phase]]
name = "half"
duration = "2s"
rate = 10000
keys = { count = 1000, distribution = "uniform" }
mix = { get = 0.5, set = 0.5 }
value_size = "16B"
timeout = "200ms"
clients = 2
connections = 128
[[phase]]
name = "high"
duration = "3s"
rate = 19000
[[phase]]
name = "over"
duration = "2s"
rate = 30000
"#;

#[test]
fn capacity_saturates_and_queues_grow_near_it() {
    let rec = simulate(CAPACITY);
    let (half, high, over) = (
        phase(&rec, "half"),
        phase(&rec, "high"),
        phase(&rec, "over"),
    );
    let service_us = 100;
    let network_rtt_us = 20;

    // 50%: p99 near the service time (the wire plus a short wait).
    assert_eq!(half.counts.availability(), Some(1.0), "{:?}", half.counts);
    assert!(
        p99(&half) <= 3 * service_us + network_rtt_us,
        "p99 at 50% load is {} us, not near the 100 us service time",
        p99(&half)
    );
    assert!(p99(&half) >= service_us + network_rtt_us);
    // 95%: the same work waits several times longer.
    assert_eq!(overloads(&high), 0, "{:?}", high.counts);
    assert!(
        p99(&high) >= 3 * p99(&half),
        "p99 at 95% ({} us) is not several times p99 at 50% ({} us)",
        p99(&high),
        p99(&half)
    );
    // 150%: throughput saturates near 2 cores / 100 us and the bounded
    // queue refuses the excess.
    let tput = ok_per_s(&over, 2.0);
    assert!(
        (17_000.0..=20_500.0).contains(&tput),
        "saturated throughput {tput} ops/s"
    );
    assert!(
        overloads(&over) as f64 >= 0.2 * over.counts.scheduled() as f64,
        "at 150% load about a third must be refused: {:?}",
        over.counts
    );
}

fn node_death(n: u32, rw: u32) -> String {
    format!(
        r#"
name = "node-death"
description = "5 nodes, one dies and comes back"
seed = 11
[cluster]
nodes = 5
replication = {{ n = {n}, r = {rw}, w = {rw} }}
replica_timeout = "5ms"
[capacity]
cores = 2
op_cost = "20us"
queue_limit = 1000
[network]
latency = {{ base = "50us", jitter = "20us" }}
[[phase]]
name = "before"
duration = "2s"
rate = 4000
keys = {{ count = 5000, distribution = "uniform" }}
mix = {{ get = 0.8, set = 0.2 }}
value_size = "64B"
timeout = "50ms"
clients = 2
connections = 16
[[phase]]
name = "dead"
duration = "2s"
[[phase]]
name = "after"
duration = "2s"
[[fault]]
at = "2s"
kill = "node-3"
[[fault]]
at = "4s"
restart = "node-3"
"#
    )
}

#[test]
fn quorums_survive_a_node_death_and_n1_loses_its_share() {
    let rec = simulate(&node_death(3, 2));
    let all = rec.aggregate_all(None);
    let avail = all.counts.availability().unwrap();
    assert!(
        avail >= 0.999,
        "N=3 R=W=2 availability {avail}: {:?}",
        all.counts
    );
    assert_eq!(rec.events.len(), 2);
    assert_eq!(
        rec.events[0].end,
        Some(rec.events[1].at),
        "the kill ends at the restart"
    );

    // With one copy of each key, the dead node's share (about a fifth of
    // the keys) fails while it is down.
    let rec = simulate(&node_death(1, 1));
    let before = phase(&rec, "before").counts.availability().unwrap();
    let dead = phase(&rec, "dead").counts.availability().unwrap();
    let after = phase(&rec, "after").counts.availability().unwrap();
    assert!(before >= 0.999, "before the death: {before}");
    assert!(
        (0.70..=0.90).contains(&dead),
        "N=1 availability while a fifth is dead: {dead}"
    );
    assert!(
        after > dead,
        "the restart brought nothing back: {after} vs {dead}"
    );
    // The other nodes reconnect to the restarted one when their peer backoff
    // next fires, at most `peer_backoff_max` (1 s by default) later; from
    // then on every key is served again (empty: N=1 lost the dead node's data).
    let reconnected = rec.phases[2].start + std::time::Duration::from_secs(1);
    let tail = rec.aggregate(reconnected..rec.phases[2].end, None).counts;
    assert!(
        tail.availability().unwrap() >= 0.999,
        "after the peers reconnect: {tail:?}"
    );
}

const PARTITION: &str = r#"
name = "partition"
description = "5 nodes split 3+2, then healed"
seed = 5
[cluster]
nodes = 5
replication = { n = 3, r = 2, w = 2 }
replica_timeout = "5ms"
[capacity]
cores = 2
op_cost = "20us"
queue_limit = 1000
[network]
latency = "50us"
[[phase]]
name = "whole"
duration = "2s"
rate = 4000
keys = { count = 5000, distribution = "uniform" }
mix = { get = 0.8, set = 0.2 }
value_size = "64B"
timeout = "50ms"
clients = 2
connections = 32
[[phase]]
name = "split"
duration = "2s"
[[phase]]
name = "healed"
duration = "3s"
[[fault]]
at = "2s"
partition = [["node-1", "node-2", "node-3"], ["node-4", "node-5"]]
[[fault]]
at = "4s"
heal = true
"#;

#[test]
fn a_minority_partition_loses_quorum_and_healing_restores_it() {
    let rec = simulate(PARTITION);
    let whole = phase(&rec, "whole").counts;
    let split = phase(&rec, "split").counts;
    assert!(whole.availability().unwrap() >= 0.999, "{whole:?}");
    // Coordinators on the minority side reach two nodes: a key with fewer
    // than two replicas there has no quorum, so some requests fail, and
    // they fail as UNAVAILABLE, not as hangs.
    let avail = split.availability().unwrap();
    assert!(
        avail < 0.99,
        "the partition cost no availability: {split:?}"
    );
    assert!(avail > 0.4, "the majority side kept serving: {avail}");
    assert!(
        split.errors.get("UNAVAILABLE").copied().unwrap_or(0) > 0,
        "{split:?}"
    );
    // After the heal every key has its quorum again. The heal's first
    // window may still see requests that were waiting on cut links.
    let window = rec.meta.window;
    let healed_start = rec.phases[2].start + window;
    let tail = rec.aggregate(healed_start..rec.phases[2].end, None);
    assert!(
        tail.counts.availability().unwrap() >= 0.999,
        "after the heal: {:?}",
        tail.counts
    );
}

const SPIKE: &str = r#"
name = "spike"
description = "a 10x spike beyond capacity, then back"
seed = 9
[cluster]
nodes = 1
replication = { n = 1, r = 1, w = 1 }
[capacity]
cores = 2
op_cost = "100us"
per_kb_cost = "0us"
queue_limit = 64
[network]
latency = "10us"
[[phase]]
name = "base"
duration = "2s"
rate = 3000
keys = { count = 1000, distribution = "uniform" }
mix = { get = 0.9, set = 0.1 }
value_size = "16B"
timeout = "200ms"
clients = 2
connections = 128
[[phase]]
name = "spike"
duration = "1s"
rate = "x10"
[[phase]]
name = "after"
duration = "2s"
rate = 3000
"#;

#[test]
fn a_spike_beyond_capacity_overloads_then_recovers() {
    let rec = simulate(SPIKE);
    let (base, spike, after) = (
        phase(&rec, "base"),
        phase(&rec, "spike"),
        phase(&rec, "after"),
    );
    assert_eq!(overloads(&base), 0);
    assert!(
        overloads(&spike) > 0,
        "30k/s against 20k/s of capacity: {:?}",
        spike.counts
    );
    assert!(
        p99(&spike) >= 5 * p99(&base),
        "spike p99 {} us vs base {} us",
        p99(&spike),
        p99(&base)
    );
    // The queue drains within milliseconds: the next phase is healthy.
    assert_eq!(overloads(&after), 0, "{:?}", after.counts);
    assert!(
        p99(&after) <= 2 * p99(&base),
        "after {} us vs base {} us",
        p99(&after),
        p99(&base)
    );
}

/// With `node_series`, the report holds the busiest node's utilization and
/// operation p99 against the other nodes': a key drawing half the traffic
/// makes its owner the busiest, near saturation while the rest idle, and
/// its operations wait longer. Under both engines.
#[test]
fn node_series_single_out_the_hot_node() {
    let toml = r#"
name = "hot"
seed = 2
node_series = true
[cluster]
nodes = 4
replication = { n = 1, r = 1, w = 1 }
[capacity]
cores = 1
op_cost = { mean = "200us" }
queue_limit = 1000
[network]
latency = "100us"
[[phase]]
name = "hot"
duration = "3s"
rate = 5500
keys = { count = 1000, distribution = "hotspot", hot_fraction = 0.001, hot_share = 0.5 }
mix = { get = 1.0, set = 0.0 }
value_size = "100B"
timeout = "1s"
clients = 2
connections = 32
"#;
    for (engine, run) in [
        ("madsim", simulate as fn(&str) -> RunRecord),
        ("fast", common::simulate_fast),
    ] {
        eprintln!("{engine} engine");
        hot_node_stands_out(&run(toml));
    }
}

fn hot_node_stands_out(rec: &RunRecord) {
    let names: Vec<&String> = rec.series.keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let hot = names
        .iter()
        .find(|n| n.ends_with(".utilization") && !n.contains("others"))
        .expect("the busiest node's utilization");
    let hot_name = hot.trim_end_matches(".utilization");
    let series = |name: &str| -> &Vec<f64> { &rec.series[name] };
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let hot_util = mean(series(hot));
    let rest_util = mean(series("node.others.utilization"));
    // A request costs one operation at its coordinator (a quarter of them
    // each) and, 3 times in 4, one more at the key's owner. At 5,500/s and
    // 200 us: every node coordinates 0.28 of a core; the hot key's owner
    // also serves 0.75 x (2,750 + 2,750 / 4) operations (0.52 of a core),
    // the others 0.75 x 2,750 / 4 (0.10): about 0.79 against 0.38.
    assert!(hot_util > 0.65, "busiest {hot_util}");
    assert!(rest_util < 0.5, "others {rest_util}");
    assert!(hot_util <= 1.0 + 1e-9, "utilization above one: {hot_util}");
    let hot_p99 = mean(series(&format!("{hot_name}.op_p99_us")));
    let rest_p99 = mean(series("node.others.op_p99_us"));
    assert!(
        hot_p99 > 2.0 * rest_p99,
        "p99 busiest {hot_p99} us, others {rest_p99} us"
    );
    assert!(
        rest_p99 >= 200.0,
        "an operation costs 200 us on average: {rest_p99}"
    );
}
