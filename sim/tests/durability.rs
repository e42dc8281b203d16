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
