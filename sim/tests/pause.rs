//! The `pause` fault: a stopped process (a GC pause) loses nothing, it
//! only makes what needs it wait, and the failure detector cannot tell it
//! from a death. Checked on the fast engine in both builds and on the
//! madsim engine under `--cfg madsim` (`cargo msim-test -p ringlab-sim
//! --test pause`): a 200 ms pause of one replica out of three, and the
//! lesson `scenarios/false-suspicion-gc-pause.toml` with its expectations.

use std::path::Path;

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::scenario::{self, Scenario, check};
use ringlab_sim::fast;

mod common;
use common::{parse, phase};

/// 3 nodes, R=W=2, no detector: node-2 stops for 200 ms at 1 s.
const PAUSE: &str = r#"
name = "pause-200ms"
seed = 4
window = "500ms"
[cluster]
nodes = 3
replication = { n = 3, r = 2, w = 2 }
replica_timeout = "1s"
[capacity]
cores = 2
op_cost = { mean = "50us" }
per_kb_cost = "0us"
[network]
latency = { base = "100us", jitter = "50us" }
[[phase]]
name = "run"
duration = "2s"
rate = 2000
keys = { count = 1000, distribution = "uniform" }
mix = { get = 0.8, set = 0.2 }
value_size = "100B"
timeout = "1s"
clients = 3
connections = 8
[[fault]]
at = "1s"
pause = "node-2"
[[fault]]
at = "1200ms"
resume = "node-2"
"#;

/// What a pause must cost: nothing lost or failed, the requests node-2
/// coordinates wait out the rest of the pause (none longer), and those
/// the others coordinate do not wait for it (R=W=2 without it).
fn a_pause_delays_and_loses_nothing(rec: &RunRecord) {
    let w = phase(rec, "run");
    assert_eq!(w.counts.availability(), Some(1.0), "{:?}", w.counts);
    let max = w.hist.max();
    assert!(
        (190_000..=202_000).contains(&max),
        "the longest request took {max} µs, not the pause's 200 ms"
    );
    let p50 = w.hist.value_at_quantile(0.5);
    assert!(p50 < 2_000, "p50 {p50} µs: the other nodes waited too");
    // A connection carries one request at a time: each of the 8 to node-2
    // holds one through the pause, and the other 16 take the rest.
    let slow = w.hist.count_between(100_000, 202_000);
    assert!(
        (1..=8).contains(&slow),
        "{slow} requests waited over 100 ms"
    );
    let d = rec.durability.as_ref().expect("judged");
    assert_eq!(d.lost, 0, "{d:?}");
}

/// The lesson's expectations, every one.
fn the_lesson_holds(run: impl Fn(&Scenario) -> RunRecord) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/false-suspicion-gc-pause.toml");
    let sc = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let rec = run(&sc);
    let verdicts = check::evaluate(&sc.name, &sc.expect, &rec);
    assert_eq!(verdicts.len(), 5);
    for v in verdicts {
        assert!(v.pass, "{} measured {}", v.expectation, v.measured);
    }
}

#[test]
fn a_pause_delays_and_loses_nothing_on_the_fast_engine() {
    let sc = parse(PAUSE);
    a_pause_delays_and_loses_nothing(&fast::simulate(&sc, sc.seed, None).expect("runs").record);
}

#[test]
fn the_false_suspicion_lesson_holds_on_the_fast_engine() {
    the_lesson_holds(|sc| fast::simulate(sc, sc.seed, None).expect("runs").record);
}

#[cfg(madsim)]
#[test]
fn a_pause_delays_and_loses_nothing_on_the_madsim_engine() {
    let sc = parse(PAUSE);
    let rec = ringlab_sim::harness::run(&sc, sc.seed, None)
        .expect("runs")
        .record;
    a_pause_delays_and_loses_nothing(&rec);
}

#[cfg(madsim)]
#[test]
fn the_false_suspicion_lesson_holds_on_the_madsim_engine() {
    the_lesson_holds(|sc| {
        ringlab_sim::harness::run(sc, sc.seed, None)
            .expect("runs")
            .record
    });
}
