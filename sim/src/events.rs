//! The fault timeline as report events: each fault with its kind, its
//! label and, for interval faults, its end. Shared by both engines.

use std::collections::BTreeMap;

use ringlab_core::ring::NodeId;
use ringlab_loadgen::recorder::Event;
use ringlab_loadgen::scenario::{Fault, FaultAction, Scenario, node_name};

/// The short kind of a fault, as events and plots name it.
fn fault_kind(action: &FaultAction) -> &'static str {
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
        FaultAction::Skew { .. } => "skew",
        FaultAction::Leave(_) => "leave",
        FaultAction::Remove(_) => "remove",
        FaultAction::Pause(_) => "pause",
        FaultAction::Resume(_) => "resume",
    }
}

/// The events of a fault timeline, interval faults with their end: a kill
/// ends at the node's restart, a partition at the heal, a cut link at its
/// restore or the heal, a slow-down at the node's next speed change, a
/// pause at the node's resume. An interval never ended stays open (plots
/// shade it to the run's end).
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
                FaultAction::Skew { node, .. } => later.iter().find(
                    |g| matches!(&g.action, FaultAction::Skew { node: n2, .. } if n2 == node),
                ),
                FaultAction::Pause(n) => later
                    .iter()
                    .find(|g| matches!(&g.action, FaultAction::Resume(m) if m == n)),
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
