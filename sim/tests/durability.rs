//! The end-of-run durability verdict of the fast engine: the write oracle's
//! history judged against every live node's store (see
//! `ringlab_loadgen::durability`).

mod common;

use common::simulate_fast;
use ringlab_loadgen::durability::Durability;

/// Five nodes under a SET/GET load over 2,000 keys; `replication` and
/// `faults` vary.
fn scenario(replication: &str, mix: &str, faults: &str) -> String {
    format!(
        r#"
name = "durability"
seed = 3
window = "1s"

[cluster]
nodes = 5
vnodes = 64
replication = {replication}
replica_timeout = "5ms"

[capacity]
cores = 2
op_cost = {{ mean = "50us" }}

[network]
latency = {{ base = "100us", jitter = "50us" }}

[[phase]]
name = "fill"
duration = "2s"
rate = 2000
keys = {{ count = 2_000, distribution = "uniform" }}
mix = {{ set = 1.0 }}
value_size = "64B"
timeout = "50ms"
clients = 2
connections = 8

[[phase]]
name = "after"
duration = "12s"
rate = 200
mix = {mix}

{faults}
"#
    )
}

fn verdict(toml: &str) -> Durability {
    simulate_fast(toml)
        .durability
        .expect("the fast engine judges durability")
}

#[test]
fn a_replicated_cluster_keeps_every_acknowledged_write_through_a_death() {
    let d = verdict(&scenario(
        "{ n = 3, r = 2, w = 2 }",
        "{ get = 0.5, set = 0.4, delete = 0.1 }",
        "[[fault]]\nat = \"3s\"\nkill = \"node-2\"\n",
    ));
    assert!(d.keys > 1_800, "{d:?}");
    assert_eq!((d.lost, d.unjudged, d.evictable), (0, 0, 0), "{d:?}");
}

#[test]
fn a_death_without_replication_loses_the_keys_the_node_held() {
    let d = verdict(&scenario(
        "{ n = 1, r = 1, w = 1 }",
        "{ get = 1.0 }",
        "[[fault]]\nat = \"3s\"\nkill = \"node-2\"\n",
    ));
    // node-2 owned about a fifth of the keys, and nothing was written after.
    let share = d.lost as f64 / d.keys as f64;
    assert!((0.1..0.3).contains(&share), "{d:?}");
    assert!(d.examples.iter().all(|w| w.held == "nothing"), "{d:?}");
    assert_eq!(d.examples.len(), ringlab_loadgen::durability::EXAMPLES);
}

/// Each node killed for a second and restarted empty, one after another.
fn restarts_in_a_row() -> String {
    let mut faults = String::new();
    for i in 1..=5 {
        let at = 2 * i + 1;
        faults += &format!("[[fault]]\nat = \"{at}s\"\nkill = \"node-{i}\"\n\n");
        faults += &format!(
            "[[fault]]\nat = \"{}s\"\nrestart = \"node-{i}\"\n\n",
            at + 1
        );
    }
    faults
}

/// Every node restarts once, one after another, with nothing but new
/// writes to refill it: without anti-entropy or handoff a key's replicas
/// all come back empty in turn, so every key not written again is lost,
/// though no two nodes were ever down at once. (The next test shows the
/// same schedule losing nothing with anti-entropy on.)
#[test]
fn restarts_in_a_row_lose_what_no_repair_copied() {
    let d = verdict(&scenario(
        "{ n = 3, r = 2, w = 2 }",
        "{ set = 1.0 }\nkeys = { count = 1 }",
        &restarts_in_a_row(),
    ));
    // Every key but key 0, which the second phase writes to the end.
    assert!(d.keys > 1_500, "{d:?}");
    assert_eq!(d.lost, d.keys - 1, "{d:?}");
}

/// The same restarts with anti-entropy on: each restarted node refills
/// from its peers within its second back, before the next node dies.
#[test]
fn anti_entropy_refills_each_restarted_node_in_time() {
    let toml = scenario(
        "{ n = 3, r = 2, w = 2 }\nanti_entropy_interval = \"100ms\"",
        "{ set = 1.0 }\nkeys = { count = 1 }",
        &restarts_in_a_row(),
    );
    let d = verdict(&toml);
    assert!(d.keys > 1_500, "{d:?}");
    assert_eq!(d.lost, 0, "{d:?}");
}

/// Concurrent INCRs of 20 counters from 16 connections; `nodes` and
/// `replication` vary.
fn counters(nodes: u32, replication: &str) -> String {
    format!(
        r#"
name = "counters"
seed = 5
window = "1s"

[cluster]
nodes = {nodes}
replication = {replication}
replica_timeout = "5ms"

[capacity]
cores = 2
op_cost = {{ mean = "50us" }}

[network]
latency = {{ base = "100us", jitter = "50us" }}

[[phase]]
name = "count"
duration = "5s"
rate = 2000
keys = {{ count = 20, distribution = "uniform" }}
mix = {{ incr = 1.0 }}
timeout = "50ms"
clients = 2
connections = 8
"#
    )
}

/// One node runs each INCR's read and write in one step: every increment
/// is in the final counts and no two replies repeat.
#[test]
fn a_single_node_loses_no_increment() {
    let d = verdict(&counters(1, "{ n = 1, r = 1, w = 1 }"));
    let u = d.updates.expect("INCRs were sent");
    assert_eq!(u.counters, 20, "{u:?}");
    assert!(u.acked > 9_000, "{u:?}");
    assert_eq!((u.lost, u.evictable), (0, 0), "{u:?}");
}

/// Quorums do not make a read-modify-write atomic: two coordinators read
/// the same value and both write value + 1, even with R = W = N. The
/// checker shows each loss with two INCRs that answered alike.
#[test]
fn replicated_incrs_from_several_coordinators_lose_updates() {
    let d = verdict(&counters(3, "{ n = 3, r = 3, w = 3 }"));
    let u = d.updates.expect("INCRs were sent");
    assert!(u.lost > 0, "{u:?}");
    assert!(!u.examples.is_empty(), "{u:?}");
    for e in &u.examples {
        assert!(
            e.holds.is_some_and(|h| h as u64 + e.lost >= e.acked),
            "{e:?}"
        );
        let r = e.repeat.expect("concurrent INCRs answered alike");
        assert_ne!(r.first, r.second, "{r:?}");
    }
}

/// The madsim engine runs the real driver and node code: its INCR replies
/// reach the same checker, with the same verdicts as the fast engine's.
#[cfg(madsim)]
#[test]
fn the_madsim_engine_judges_counters_alike() {
    let one = common::simulate(&counters(1, "{ n = 1, r = 1, w = 1 }"));
    let u = one.durability.and_then(|d| d.updates).expect("INCRs sent");
    assert!(u.acked > 9_000, "{u:?}");
    assert_eq!((u.counters, u.lost), (20, 0), "{u:?}");
    let three = common::simulate(&counters(3, "{ n = 3, r = 3, w = 3 }"));
    let u = three
        .durability
        .and_then(|d| d.updates)
        .expect("INCRs sent");
    assert!(
        u.lost > 0 && u.examples.iter().all(|e| e.repeat.is_some()),
        "{u:?}"
    );
}
