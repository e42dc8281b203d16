//! The per-node series a scenario with `node_series` adds to its report:
//! the busiest node against the others, per window.
//!
//! A pure function of the scenario and of the numbers the engine collected
//! (each node's `capacity::NodeStats`), so the plain build compiles and
//! tests it; the madsim harness calls it at the end of a run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use ringlab_core::ring::NodeId;
use ringlab_loadgen::recorder::new_histogram;
use ringlab_loadgen::scenario::{Scenario, node_name};

/// One node's per-window histogram of time at the node (µs) and core time
/// served (µs), as `capacity::NodeStats::windows` keeps them.
pub type NodeWindows = Vec<(Histogram<u64>, u64)>;

/// The per-node series of a scenario with `node_series`: the busiest node
/// (most core time over the run; the lower id on a tie) against the mean of
/// the others, per window. `node.<name>.utilization` is its core time over
/// its cores' time; `node.<name>.op_p99_us` the p99 of the time its
/// operations spent at it (waiting for a core, then served); the same for
/// `node.others.*`, whose p99 merges the other nodes' histograms. Nodes
/// that never ran (a join that had not come) are left out: `nodes` holds
/// the ones that ran, by name, each with its per-window histogram of time
/// at the node and core time (`capacity::NodeStats::windows`).
pub fn node_series(
    scenario: &Scenario,
    nodes: Vec<(String, NodeWindows)>,
    windows: usize,
) -> BTreeMap<String, Vec<f64>> {
    let window_us = scenario.window.as_micros() as f64;
    // (name, cores, per-window histograms and core time), by node id.
    let mut per_node: Vec<(String, f64, NodeWindows)> = nodes
        .into_iter()
        .map(|(name, w)| {
            let cores = scenario.capacity_of(&name).cores.max(1) as f64;
            (name, cores, w)
        })
        .collect();
    // By id (the map is by name: "node-10" sorts before "node-2").
    per_node.sort_by_key(|(name, _, _)| {
        (1..=scenario.cluster.nodes)
            .find(|&i| node_name(i) == *name)
            .unwrap_or(NodeId::MAX)
    });
    let busy = |w: &[(Histogram<u64>, u64)]| w.iter().map(|(_, b)| *b).sum::<u64>();
    let Some(hottest) = per_node
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| busy(&a.2).cmp(&busy(&b.2)).then(j.cmp(i)))
        .map(|(i, _)| i)
    else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    let (name, cores, hot) = &per_node[hottest];
    let others: Vec<_> = per_node
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != hottest)
        .map(|(_, n)| n)
        .collect();
    let mut hot_util = Vec::with_capacity(windows);
    let mut hot_p99 = Vec::with_capacity(windows);
    let mut rest_util = Vec::with_capacity(windows);
    let mut rest_p99 = Vec::with_capacity(windows);
    let p99 = |h: &Histogram<u64>| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(0.99) as f64
        }
    };
    for k in 0..windows {
        let (h, b) = hot.get(k).map_or((None, 0), |(h, b)| (Some(h), *b));
        hot_util.push(b as f64 / (cores * window_us));
        hot_p99.push(h.map_or(0.0, p99));
        let mut merged = new_histogram();
        let mut util = 0.0;
        for (_, c, w) in &others {
            if let Some((h, b)) = w.get(k) {
                merged
                    .add(h)
                    .expect("every node's histogram has the recorder's bounds");
                util += *b as f64 / (c * window_us);
            }
        }
        rest_util.push(if others.is_empty() {
            0.0
        } else {
            util / others.len() as f64
        });
        rest_p99.push(p99(&merged));
    }
    out.insert(format!("node.{name}.utilization"), hot_util);
    out.insert(format!("node.{name}.op_p99_us"), hot_p99);
    if !others.is_empty() {
        out.insert("node.others.utilization".into(), rest_util);
        out.insert("node.others.op_p99_us".into(), rest_p99);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-window (histogram of one value, core time) for `busy` µs a window.
    fn windows(value_us: u64, busy: &[u64]) -> NodeWindows {
        busy.iter()
            .map(|&b| {
                let mut h = new_histogram();
                h.record(value_us).expect("in bounds");
                (h, b)
            })
            .collect()
    }

    fn series_scenario() -> Scenario {
        let text = r#"
window = "1s"
node_series = true

[cluster]
nodes = 10

[capacity]
cores = 2

[[phase]]
duration = "3s"
rate = 100
"#;
        ringlab_loadgen::scenario::parse(text, "series.toml").expect("valid scenario")
    }

    #[test]
    fn node_series_puts_the_busiest_node_against_the_others() {
        let sc = series_scenario();
        let nodes = vec![
            ("node-10".to_string(), windows(500, &[100_000, 100_000])),
            ("node-2".to_string(), windows(2_000, &[1_000_000, 600_000])),
            ("node-3".to_string(), windows(100, &[300_000])),
        ];
        let s = node_series(&sc, nodes, 2);
        assert_eq!(
            s.keys().map(String::as_str).collect::<Vec<_>>(),
            vec![
                "node.node-2.op_p99_us",
                "node.node-2.utilization",
                "node.others.op_p99_us",
                "node.others.utilization",
            ]
        );
        // 1 s of core time over 2 cores x 1 s windows.
        assert_eq!(s["node.node-2.utilization"], vec![0.5, 0.3]);
        // The others' mean: (0.05 + 0.15) / 2, then node-3 had no window.
        let others = &s["node.others.utilization"];
        assert!((others[0] - 0.1).abs() < 1e-12, "{others:?}");
        assert!((others[1] - 0.025).abs() < 1e-12, "{others:?}");
        let hot = &s["node.node-2.op_p99_us"];
        assert!((hot[0] - 2_000.0).abs() <= 2_000.0 * 0.01, "{hot:?}");
        // The others' p99 merges node-10's and node-3's histograms.
        let rest = &s["node.others.op_p99_us"];
        assert!((rest[0] - 500.0).abs() <= 5.0, "{rest:?}");
        assert!((rest[1] - 500.0).abs() <= 5.0, "{rest:?}");
    }

    #[test]
    fn node_series_breaks_ties_by_the_lower_id_and_needs_a_node() {
        let sc = series_scenario();
        let nodes = vec![
            ("node-10".to_string(), windows(100, &[200_000])),
            ("node-9".to_string(), windows(100, &[200_000])),
        ];
        let s = node_series(&sc, nodes, 1);
        assert!(s.contains_key("node.node-9.utilization"), "{s:?}");
        assert!(node_series(&sc, Vec::new(), 3).is_empty());
        let alone = node_series(&sc, vec![("node-1".into(), windows(100, &[0]))], 1);
        assert_eq!(alone.len(), 2, "no others series without others: {alone:?}");
    }
}
