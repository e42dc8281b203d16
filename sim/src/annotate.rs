//! What the simulator adds to a run's record besides the clients'
//! measurements: the fault timeline as report events (with each interval
//! fault's end, and what each join moves) and the per-node series.
//!
//! Pure functions of the scenario and of numbers the engine collected, so
//! the plain build compiles and tests them; the madsim harness (and any
//! other engine) calls them at the end of a run.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use ringlab_core::ring::NodeId;
use ringlab_loadgen::recorder::{Event, new_histogram};
use ringlab_loadgen::scenario::{Fault, FaultAction, Scenario, node_name};

/// One node's per-window histogram of time at the node (µs) and core time
/// served (µs), as `capacity::NodeStats::windows` keeps them.
pub type NodeWindows = Vec<(Histogram<u64>, u64)>;

/// The short kind of a fault, as events and plots name it.
pub fn fault_kind(action: &FaultAction) -> &'static str {
    match action {
        FaultAction::Kill(_) => "kill",
        FaultAction::Restart(_) => "restart",
        FaultAction::Partition(_) => "partition",
        FaultAction::Heal => "heal",
        FaultAction::CutLink { .. } => "cut-link",
        FaultAction::RestoreLink { .. } => "restore-link",
        FaultAction::Slow { .. } => "slow",
        FaultAction::SetLatency(_) => "latency",
        FaultAction::SetLoss(_) => "loss",
        FaultAction::Join(_) => "join",
    }
}

/// The events of a fault timeline, interval faults with their end: a kill
/// ends at the node's restart, a partition at the heal, a cut link at its
/// restore or the heal, a slow-down at the node's next speed change. An
/// interval never ended stays open (plots shade it to the run's end).
pub fn events_of(faults: &[Fault], labels: &BTreeMap<usize, String>) -> Vec<Event> {
    faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let later = &faults[i + 1..];
            let end = match &f.action {
                FaultAction::Kill(n) => later
                    .iter()
                    .find(|g| matches!(&g.action, FaultAction::Restart(m) if m == n)),
                FaultAction::Partition(_) => later.iter().find(|g| g.action == FaultAction::Heal),
                FaultAction::CutLink { from, to } => later.iter().find(|g| match &g.action {
                    FaultAction::Heal => true,
                    FaultAction::RestoreLink { from: f2, to: t2 } => f2 == from && t2 == to,
                    _ => false,
                }),
                FaultAction::Slow { node, .. } => later.iter().find(
                    |g| matches!(&g.action, FaultAction::Slow { node: n2, .. } if n2 == node),
                ),
                _ => None,
            }
            .map(|g| g.at);
            Event {
                at: f.at,
                end,
                kind: fault_kind(&f.action).to_string(),
                label: labels
                    .get(&i)
                    .cloned()
                    .unwrap_or_else(|| f.action.to_string()),
            }
        })
        .collect()
}

/// The labels of join faults (by index in `faults`), saying what each join
/// moves: "join node-5 (moves 80.0% of keys)", the exact share of the hash
/// space whose primary changes (`ringlab_core::ring`), given the members
/// before it.
pub fn join_labels(scenario: &Scenario, faults: &[Fault]) -> BTreeMap<usize, String> {
    let joining = scenario.joining_nodes();
    let mut members: Vec<(NodeId, u32)> = (1..=scenario.cluster.nodes)
        .filter(|&i| !joining.contains(&node_name(i)))
        .map(|i| (i, scenario.cluster.vnodes_of(&node_name(i))))
        .collect();
    let kind = scenario.cluster.placement;
    let mut labels = BTreeMap::new();
    for (i, f) in faults.iter().enumerate() {
        let FaultAction::Join(name) = &f.action else {
            continue;
        };
        let Some(id) = (1..=scenario.cluster.nodes).find(|&id| node_name(id) == *name) else {
            continue;
        };
        let before = kind.build(&members);
        members.push((id, scenario.cluster.vnodes_of(name)));
        let after = kind.build(&members);
        let moved = before
            .moved_fraction(&after)
            .expect("both placements are of the scenario's kind");
        labels.insert(
            i,
            format!("{} (moves {:.1}% of keys)", f.action, moved * 100.0),
        );
    }
    labels
}

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
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, action: FaultAction) -> Fault {
        Fault {
            at: Duration::from_secs(secs),
            action,
        }
    }

    fn ends(events: &[Event]) -> Vec<(String, Option<u64>)> {
        events
            .iter()
            .map(|e| (e.kind.clone(), e.end.map(|d| d.as_secs())))
            .collect()
    }

    #[test]
    fn interval_faults_end_at_what_undoes_them() {
        let n = |s: &str| s.to_string();
        let faults = vec![
            at(1, FaultAction::Kill(n("node-1"))),
            at(2, FaultAction::Kill(n("node-2"))),
            at(
                3,
                FaultAction::CutLink {
                    from: n("node-3"),
                    to: n("node-4"),
                },
            ),
            at(
                4,
                FaultAction::Slow {
                    node: n("node-3"),
                    factor: 4.0,
                },
            ),
            at(
                5,
                FaultAction::Partition(vec![vec![n("node-1")], vec![n("node-2")]]),
            ),
            at(6, FaultAction::Restart(n("node-2"))),
            at(
                7,
                FaultAction::Slow {
                    node: n("node-3"),
                    factor: 1.0,
                },
            ),
            at(8, FaultAction::Heal),
        ];
        let events = events_of(&faults, &BTreeMap::new());
        assert_eq!(
            ends(&events),
            vec![
                (n("kill"), None), // node-1 never restarts: open to the end
                (n("kill"), Some(6)),
                (n("cut-link"), Some(8)), // no restore: the heal ends it
                (n("slow"), Some(7)),
                (n("partition"), Some(8)),
                (n("restart"), None),
                (n("slow"), None),
                (n("heal"), None),
            ]
        );
        assert_eq!(events[1].label, "kill node-2");
        assert_eq!(events[0].at, Duration::from_secs(1));
    }

    #[test]
    fn a_restore_ends_only_its_own_link_and_labels_override() {
        let n = |s: &str| s.to_string();
        let cut = |a: &str, b: &str| FaultAction::CutLink {
            from: n(a),
            to: n(b),
        };
        let restore = |a: &str, b: &str| FaultAction::RestoreLink {
            from: n(a),
            to: n(b),
        };
        let faults = vec![
            at(1, cut("node-1", "node-2")),
            at(2, cut("node-2", "node-1")),
            at(3, restore("node-2", "node-1")),
            at(4, restore("node-1", "node-2")),
        ];
        let labels = BTreeMap::from([(1, n("custom"))]);
        let events = events_of(&faults, &labels);
        assert_eq!(events[0].end, Some(Duration::from_secs(4)));
        assert_eq!(events[1].end, Some(Duration::from_secs(3)));
        assert_eq!(events[1].label, "custom");
        assert_eq!(events[0].label, "cut node-1 -> node-2");
        assert_eq!(events[2].kind, "restore-link");
    }

    fn scenario(placement: &str) -> Scenario {
        let text = format!(
            r#"
[cluster]
nodes = 4
placement = "{placement}"

[[phase]]
duration = "10s"
rate = 100

[[fault]]
at = "5s"
join = "node-4"
"#
        );
        ringlab_loadgen::scenario::parse(&text, "join.toml").expect("valid scenario")
    }

    fn moved_percent(label: &str) -> f64 {
        let rest = label
            .strip_prefix("join node-4 (moves ")
            .and_then(|r| r.strip_suffix("% of keys)"))
            .unwrap_or_else(|| panic!("unexpected label {label:?}"));
        rest.parse().expect("a percentage")
    }

    #[test]
    fn join_labels_say_how_much_of_the_key_space_moves() {
        let ring = scenario("ring");
        let labels = join_labels(&ring, &ring.faults);
        assert_eq!(labels.keys().copied().collect::<Vec<_>>(), vec![0]);
        // One node of four: about a quarter moves on the ring...
        let on_ring = moved_percent(&labels[&0]);
        assert!((15.0..35.0).contains(&on_ring), "{on_ring}");
        // ...and most keys under hash mod N.
        let modn = scenario("modn");
        let by_mod = moved_percent(&join_labels(&modn, &modn.faults)[&0]);
        assert!(by_mod > 60.0, "{by_mod}");
    }

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
