//! The clock-skew fault in both engines: a node whose clock falls behind
//! stamps its writes with old versions, so under last-writer-wins they lose
//! to writes acknowledged before them (stale reads with R+W>N, and lost
//! acknowledged writes). In step, the same run has neither.

mod common;

use common::{phase, simulate_fast};
use ringlab_loadgen::recorder::RunRecord;

/// 3 nodes, N=3 R=W=2, 40% sets over 200 keys; node-2's clock gets `skew`
/// at 1 s; the run ends with reads only.
fn scenario(skew: &str) -> String {
    format!(
        r#"
name = "skew"
seed = 2
window = "1s"

[cluster]
nodes = 3
replication = {{ n = 3, r = 2, w = 2 }}

[capacity]
cores = 2
op_cost = {{ mean = "50us" }}

[network]
latency = {{ base = "100us", jitter = "50us" }}

[[phase]]
name = "writes"
duration = "4s"
rate = 2000
keys = {{ count = 200, distribution = "uniform" }}
mix = {{ get = 0.6, set = 0.4 }}
value_size = "64B"
timeout = "50ms"
clients = 2
connections = 16

[[phase]]
name = "reads"
duration = "1s"
mix = {{ get = 1.0 }}

[[fault]]
at = "1s"
skew = {skew}
"#
    )
}

/// Stale reads over the run and lost writes at its end.
fn harm(rec: &RunRecord) -> (u64, u64) {
    let stale = phase(rec, "writes").counts.stale + phase(rec, "reads").counts.stale;
    let lost = rec.durability.as_ref().expect("judged").lost;
    (stale, lost)
}

const IN_STEP: &str = r#"{ node = "node-2", offset = "0ms" }"#;
const BEHIND: &str = r#"{ node = "node-2", offset = "-50ms" }"#;
const SLOW: &str = r#"{ node = "node-2", offset = "0ms", drift = "-50000ppm" }"#;

#[test]
fn the_fast_engine_stamps_with_the_skewed_clock() {
    assert_eq!(harm(&simulate_fast(&scenario(IN_STEP))), (0, 0));
    let (stale, lost) = harm(&simulate_fast(&scenario(BEHIND)));
    assert!(stale > 20 && lost > 0, "behind: {stale} stale, {lost} lost");
    // 5% slow: 50 ms behind after a model second, 150 ms by the end.
    let (stale, lost) = harm(&simulate_fast(&scenario(SLOW)));
    assert!(stale > 20 && lost > 0, "drift: {stale} stale, {lost} lost");
}

#[cfg(madsim)]
#[test]
fn the_madsim_node_stamps_with_the_skewed_clock() {
    use common::simulate;
    assert_eq!(harm(&simulate(&scenario(IN_STEP))), (0, 0));
    let (stale, lost) = harm(&simulate(&scenario(BEHIND)));
    assert!(stale > 20 && lost > 0, "behind: {stale} stale, {lost} lost");
    let (stale, lost) = harm(&simulate(&scenario(SLOW)));
    assert!(stale > 20 && lost > 0, "drift: {stale} stale, {lost} lost");
}
