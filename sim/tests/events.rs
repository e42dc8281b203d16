//! The fault timeline as report events (`ringlab_sim::events`): interval
//! faults end at what undoes them, labels say what a join moves. Plain
//! build: these are pure functions of the scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use ringlab_loadgen::recorder::Event;
use ringlab_loadgen::scenario::{Fault, FaultAction, Scenario};
use ringlab_sim::events::{events_of, join_labels};

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
