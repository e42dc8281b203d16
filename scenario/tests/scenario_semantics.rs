//! What a valid scenario means: defaults, inheritance between phases, rate
//! multipliers, per-node overrides, the fault timeline's order, and the
//! expectations' normalised values.

use std::time::Duration;

use ringlab_scenario::workload::{Arrival, KeyDist, Mix, OpKind, Rate, ValueSize};
use ringlab_scenario::{
    self as scenario, Cmp, CostDist, Eviction, FaultAction, LatencyDist, Metric, PlacementKind,
    Scope,
};

const MINIMAL: &str = r#"
[[phase]]
duration = "10s"
rate = 1000
"#;

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

#[test]
fn a_minimal_file_takes_the_documented_defaults() {
    let s = scenario::parse(MINIMAL, "dir/minimal.toml").unwrap();
    assert_eq!(s.name, "minimal", "the name defaults to the file's stem");
    assert_eq!(s.description, "");
    assert_eq!(s.seed, 1);
    assert_eq!(s.window, Duration::from_secs(1));
    assert_eq!(s.time_scale, 1000);
    assert_eq!(s.source.to_str(), Some("dir/minimal.toml"));

    let c = &s.cluster;
    assert_eq!((c.nodes, c.vnodes), (3, 128));
    assert_eq!(
        (c.replication.n, c.replication.r, c.replication.w),
        (3, 2, 2)
    );
    assert_eq!(c.replica_timeout, Duration::from_millis(10));
    assert_eq!(c.maxmemory, 256_000_000);
    assert_eq!(c.eviction, Eviction::AllKeysLru);
    assert_eq!(c.node_names(), ["node-1", "node-2", "node-3"]);
    assert_eq!(
        c.anti_entropy_interval, None,
        "anti-entropy is off by default"
    );
    assert_eq!(c.anti_entropy_keys, 1000);

    assert_eq!(s.capacity.cores, 2);
    assert_eq!(s.capacity.op_cost, CostDist::Constant(us(20)));
    assert_eq!(s.capacity.per_kb_cost, us(2));
    assert_eq!(s.capacity.queue_limit, 2000);
    assert!(s.node_capacity.is_empty());

    assert_eq!(s.network.latency, LatencyDist::Fixed(us(100)));
    assert_eq!(s.network.loss, 0.0);
    assert_eq!(
        s.network.rto,
        Duration::from_millis(200),
        "Linux's minimum RTO"
    );

    let p = &s.phases[0];
    assert_eq!(p.name, "phase-1");
    assert_eq!(p.duration, Duration::from_secs(10));
    assert_eq!(p.rate, Rate::Constant(1000.0));
    assert_eq!(p.arrival, Arrival::Poisson);
    assert_eq!(p.keys.count, 100_000);
    assert_eq!(p.keys.distribution, KeyDist::Uniform);
    assert_eq!(
        p.mix,
        Mix {
            get: 0.9,
            set: 0.1,
            ..Mix::default()
        }
    );
    assert_eq!((p.ttl, p.mget_keys), (None, 10));
    assert_eq!(p.value_size, ValueSize::Fixed(100));
    assert_eq!(p.timeout, Duration::from_millis(100));
    assert_eq!((p.clients, p.connections, p.max_in_flight), (4, 64, 1024));
    assert!(s.faults.is_empty() && s.expect.is_empty());
}

#[test]
fn small_clusters_default_to_a_replication_they_can_hold() {
    let one = scenario::parse(&format!("[cluster]\nnodes = 1\n{MINIMAL}"), "x.toml").unwrap();
    let r = one.cluster.replication;
    assert_eq!((r.n, r.r, r.w), (1, 1, 1));
    let n5 = "[cluster]\nnodes = 5\nreplication = { n = 5 }\n";
    let five = scenario::parse(&format!("{n5}{MINIMAL}"), "x.toml").unwrap();
    let r = five.cluster.replication;
    assert_eq!(
        (r.n, r.r, r.w),
        (5, 3, 3),
        "R and W default to a majority of N"
    );
}

#[test]
fn later_phases_inherit_what_they_do_not_give() {
    let text = r#"
[[phase]]
name = "a"
duration = "5s"
rate = 100
arrival = "uniform"
keys = { count = 500, distribution = "zipf", s = 1.1 }
mix = { get = 0.5, set = 0.5 }
value_size = "1KiB"
timeout = "7ms"
clients = 3
connections = 5
max_in_flight = 9

[[phase]]
name = "b"
keys = { count = 900 }

[[phase]]
name = "c"
keys = { distribution = "hotspot" }
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    let [a, b, c] = &s.phases[..] else {
        panic!("three phases expected, got {}", s.phases.len())
    };
    assert_eq!(b.duration, a.duration);
    assert_eq!(b.rate, a.rate);
    assert_eq!(b.arrival, a.arrival);
    assert_eq!(b.mix, a.mix);
    assert_eq!(b.value_size, ValueSize::Fixed(1024));
    assert_eq!(b.timeout, us(7000));
    assert_eq!((b.clients, b.connections, b.max_in_flight), (3, 5, 9));
    assert_eq!(b.keys.count, 900, "the given key overrides");
    assert_eq!(
        b.keys.distribution,
        KeyDist::Zipf { s: 1.1 },
        "the distribution and its parameter are inherited"
    );
    assert_eq!(c.keys.count, 900);
    assert_eq!(
        c.keys.distribution,
        KeyDist::Hotspot {
            hot_fraction: 0.2,
            hot_share: 0.8
        },
        "a new distribution takes its own defaults, not the previous one's s"
    );
    assert_eq!(s.duration(), Duration::from_secs(15));
    assert_eq!(s.phase_start("c"), Some(Duration::from_secs(10)));
    assert_eq!(s.phase_start("zzz"), None);
}

#[test]
fn multipliers_scale_the_previous_phases_end_rate() {
    let text = r#"
[[phase]]
duration = "1s"
rate = { from = 1000, to = 3000 }

[[phase]]
duration = "1s"
rate = "x10"

[[phase]]
duration = "1s"
rate = { multiply = 0.5 }

[[phase]]
duration = "1s"
rate = "2x"

[[phase]]
duration = "1s"
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    let rates: Vec<Rate> = s.phases.iter().map(|p| p.rate).collect();
    assert_eq!(
        rates,
        [
            Rate::Ramp {
                from: 1000.0,
                to: 3000.0
            },
            Rate::Constant(30_000.0),
            Rate::Constant(15_000.0),
            Rate::Constant(30_000.0),
            // An omitted rate holds the previous phase's end rate.
            Rate::Constant(30_000.0),
        ]
    );
}

#[test]
fn an_omitted_rate_after_a_ramp_holds_where_the_ramp_ended() {
    let text = r#"
[[phase]]
duration = "1s"
rate = { from = 0, to = 500 }

[[phase]]
duration = "1s"
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    assert_eq!(s.phases[1].rate, Rate::Constant(500.0));
}

fn everything() -> scenario::Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/scenarios/good/everything.toml"
    );
    scenario::load(std::path::Path::new(path)).unwrap()
}

#[test]
fn per_node_overrides_apply_to_their_node_only() {
    let s = everything();
    assert_eq!(
        s.cluster.anti_entropy_interval,
        Some(Duration::from_millis(250))
    );
    assert_eq!(s.cluster.anti_entropy_keys, 500);
    assert_eq!(s.cluster.vnodes_of("node-3"), 256);
    assert_eq!(s.cluster.vnodes_of("node-1"), 64);
    let five = s.capacity_of("node-5");
    assert_eq!(five.cores, 1);
    assert_eq!(five.op_cost, CostDist::Exponential { mean: us(40) });
    assert_eq!(
        five.queue_limit, 10_000,
        "keys an override omits come from [capacity]"
    );
    assert_eq!(s.capacity_of("node-1").cores, 4);
    assert_eq!(s.network.extra("node-2", "node-3"), us(1000));
    assert_eq!(s.network.extra("node-1", "node-4"), us(2000));
    assert_eq!(
        s.network.extra("node-4", "node-1"),
        us(2000),
        "both_ways adds the reverse link"
    );
    assert_eq!(s.network.loss, 0.001);
    assert_eq!(s.network.rto, Duration::from_millis(5));
    assert_eq!(s.cluster.maxmemory, 1 << 30);
    assert_eq!(s.cluster.eviction, Eviction::VolatileTtl);
    assert_eq!(s.window, Duration::from_millis(500));
    assert_eq!(s.time_scale, 500);
    assert_eq!(s.seed, 42);
}

#[test]
fn faults_come_out_in_time_order_with_partitions_completed() {
    let text = r#"
[cluster]
nodes = 4

[[phase]]
duration = "30s"
rate = 100

[[fault]]
at = "20s"
restart = "node-2"

[[fault]]
at = "10s"
kill = "node-2"

[[fault]]
at = "12s"
partition = [["node-4"]]
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    let timeline: Vec<(u64, FaultAction)> = s
        .faults
        .iter()
        .map(|f| (f.at.as_secs(), f.action.clone()))
        .collect();
    assert_eq!(
        timeline,
        [
            (10, FaultAction::Kill("node-2".into())),
            (
                12,
                FaultAction::Partition(vec![
                    vec!["node-4".into()],
                    vec!["node-1".into(), "node-2".into(), "node-3".into()],
                ])
            ),
            (20, FaultAction::Restart("node-2".into())),
        ]
    );
}

#[test]
fn a_join_is_read_with_its_placement_and_the_joiner_may_be_partitioned_implicitly() {
    let text = r#"
[cluster]
nodes = 5
placement = "modn"
replication = { n = 1, r = 1, w = 1 }

[[phase]]
name = "steady"
duration = "30s"
rate = 1000

[[fault]]
at = "20s"
join = "node-5"

[[fault]]
at = "5s"
partition = [["node-1"]]

[[fault]]
at = "10s"
heal = true

[[fault]]
at = "25s"
kill = "node-5"
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    assert_eq!(s.cluster.placement, PlacementKind::ModN);
    assert_eq!(s.joining_nodes(), ["node-5"]);
    assert_eq!(s.faults[2].action, FaultAction::Join("node-5".into()));
    assert_eq!(s.faults[2].action.to_string(), "join node-5");
    // Without the key, the ring: every existing lesson is unchanged.
    let plain = scenario::parse(
        "[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 10\n",
        "y.toml",
    )
    .unwrap();
    assert_eq!(plain.cluster.placement, PlacementKind::Ring);
    assert!(plain.joining_nodes().is_empty());
}

#[test]
fn expectations_are_normalised_and_keep_file_order() {
    let s = everything();
    let shown: Vec<String> = s.expect.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            "availability >= 99%",
            "p50 <= 1ms",
            "p95 <= 3ms",
            "p999 < 50ms",
            "max < 1s",
            "hit_ratio > 50%",
            "overload <= 1%",
            "get.p99 <= 4ms",
            "phase.steady.p99 <= 5ms",
            "phase.steady.set.max <= 20ms",
            "phase.spike.overload <= 100_000",
            "phase.recover.availability >= 0.999",
        ]
    );
    let steady_set_max = &s.expect[9];
    assert_eq!(steady_set_max.scope, Scope::Phase("steady".into()));
    assert_eq!(steady_set_max.op, Some(OpKind::Set));
    assert_eq!(steady_set_max.metric, Metric::Max);
    assert_eq!(
        (steady_set_max.cmp, steady_set_max.value),
        (Cmp::Le, 20_000.0)
    );
    assert_eq!(s.expect[0].value, 0.99);
    assert_eq!(s.expect[3].metric, Metric::Percentile(99.9));
    assert_eq!(s.expect[10].metric, Metric::OverloadCount);
    assert_eq!(s.expect[10].value, 100_000.0);
    assert_eq!(s.expect[6].metric, Metric::OverloadShare);
    assert!(s.expect[0].holds(0.995) && !s.expect[0].holds(0.985));
}

#[test]
fn the_design_example_says_what_the_design_says() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/scenarios/good/design-example.toml"
    );
    let s = scenario::load(std::path::Path::new(path)).unwrap();
    assert_eq!(s.name, "node-death");
    assert_eq!(s.seed, 7);
    assert_eq!(s.cluster.nodes, 5);
    // "256MB" as Redis reads it: 256 x 2^20 bytes.
    assert_eq!(s.cluster.maxmemory, 256 << 20);
    assert_eq!(
        s.network.latency,
        LatencyDist::BaseJitter {
            base: us(200),
            jitter: us(100)
        }
    );
    assert_eq!(s.phases.len(), 2);
    assert_eq!(s.phases[0].keys.count, 1_000_000);
    assert_eq!(s.phases[0].keys.distribution, KeyDist::Zipf { s: 0.99 });
    let spike = &s.phases[1];
    assert_eq!(
        spike.rate,
        Rate::Ramp {
            from: 60_000.0,
            to: 600_000.0
        }
    );
    assert_eq!(spike.keys, s.phases[0].keys, "the spike inherits the keys");
    assert_eq!(spike.timeout, Duration::from_millis(50));
    assert_eq!(s.faults.len(), 2);
    assert_eq!(s.expect.len(), 3);
    assert_eq!(s.expect[2].scope, Scope::Phase("steady".into()));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = r#"
[cluster]
nodes = 3
replication = { n = 3, r = 4, w = 9 }
vnode = 12

[[phase]]
duration = "5 parsecs"
rate = -1
"#;
    let err = scenario::parse(text, "multi.toml").unwrap_err();
    let lines: Vec<(usize, usize)> = err.problems().iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(lines, [(4, 28), (4, 35), (5, 1), (8, 12), (9, 8)]);
    assert!(err.to_string().ends_with("multi.toml: 5 problems"), "{err}");
}

#[test]
fn app_and_database_read_every_key() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/scenarios/good/cache-aside.toml"
    );
    let s = scenario::load(std::path::Path::new(path)).unwrap();
    assert_eq!(s.app.pattern, scenario::Pattern::CacheAside);
    assert_eq!(s.app.on_write, scenario::OnWrite::Update);
    assert_eq!(s.app.fill_ttl, Some(Duration::from_secs(5)));
    assert!(s.app.coalesce);
    assert_eq!(
        s.app.near_cache,
        Some(scenario::NearCacheSpec {
            keys: 100,
            ttl: Duration::from_secs(1)
        })
    );
    let db = s.database.expect("a database");
    assert_eq!(
        db.latency,
        CostDist::LogNormal {
            median: Duration::from_millis(2),
            sigma: 0.5
        }
    );
    assert_eq!((db.concurrency, db.queue_limit), (32, 256));
    assert_eq!(db.timeout, Some(Duration::from_millis(50)));
}

#[test]
fn without_app_the_clients_talk_to_the_cache_only() {
    let s = everything();
    assert_eq!(s.app, scenario::App::default());
    assert_eq!(s.app.pattern, scenario::Pattern::Direct);
    assert!(s.database.is_none());
}

#[test]
fn the_engine_key_names_an_engine() {
    let base = "name = \"e\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 10\n";
    let ok = scenario::parse(&format!("engine = \"fast\"\n{base}"), "e.toml").unwrap();
    assert_eq!(ok.engine.as_deref(), Some("fast"));
    assert_eq!(scenario::parse(base, "e.toml").unwrap().engine, None);
    let e = scenario::parse(&format!("engine = \"quick\"\n{base}"), "e.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not an engine"), "{e}");
}

#[test]
fn ttl_mget_keys_and_the_new_kinds_are_read_and_inherited() {
    let s = scenario::parse(
        r#"
[[phase]]
name = "a"
duration = "1s"
rate = 100
mix = { get = 0.5, incr = 0.2, mget = 0.2, expire = 0.1 }
ttl = "30s"
mget_keys = 4

[[phase]]
name = "b"
duration = "1s"
rate = 100
"#,
        "t.toml",
    )
    .unwrap();
    let (a, b) = (&s.phases[0], &s.phases[1]);
    assert_eq!(a.mix.incr, 0.2);
    assert_eq!(a.mix.mget, 0.2);
    assert_eq!(a.mix.expire, 0.1);
    assert_eq!(a.ttl, Some(Duration::from_secs(30)));
    assert_eq!(a.mget_keys, 4);
    assert_eq!((b.ttl, b.mget_keys, b.mix), (a.ttl, a.mget_keys, a.mix));
}

#[test]
fn expire_without_a_ttl_and_a_bad_mget_width_are_refused_by_name() {
    let e = scenario::parse(
        r#"
[[phase]]
duration = "1s"
rate = 100
mix = { get = 0.9, expire = 0.1 }
mget_keys = 0
"#,
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("expire 0.1 but the phase has no `ttl`"), "{e}");
    assert!(e.contains("mget_keys"), "{e}");
    let e = scenario::parse(
        "[[phase]]\nduration = \"1s\"\nrate = 1\nmix = { get = 0.5, incr = 0.6 }\n",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("get 0.5 + incr 0.6"), "{e}");
}

#[test]
fn failure_detection_and_handoff_are_off_unless_asked_for() {
    let c = scenario::parse(MINIMAL, "m.toml").unwrap().cluster;
    assert_eq!(c.heartbeat_interval, None);
    assert_eq!(c.phi_threshold, 8.0);
    assert!(!c.hinted_handoff);
    assert_eq!(c.handoff_max_hints, 10_000);
    let text = format!(
        "[cluster]\nheartbeat_interval = \"5ms\"\nphi_threshold = 12\n\
         hinted_handoff = true\nhandoff_max_hints = 500\n{MINIMAL}"
    );
    let c = scenario::parse(&text, "h.toml").unwrap().cluster;
    assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(5)));
    assert_eq!(c.phi_threshold, 12.0);
    assert!(c.hinted_handoff);
    assert_eq!(c.handoff_max_hints, 500);
    for bad in [
        "heartbeat_interval = \"0s\"",
        "phi_threshold = 0",
        "hinted_handoff = \"yes\"",
        "handoff_max_hints = 0",
    ] {
        let text = format!("[cluster]\n{bad}\n{MINIMAL}");
        let err = scenario::parse(&text, "bad.toml").unwrap_err().to_string();
        let key = bad.split(' ').next().unwrap();
        assert!(err.contains(key), "{bad}: {err}");
    }
}

#[test]
fn leave_remove_and_join_stream_are_read_and_their_misuses_name_file_and_field() {
    let text = r#"
[cluster]
nodes = 4
join_stream = true
join_stream_keys = 20
join_stream_interval = "50ms"

[[phase]]
duration = "30s"
rate = 1000

[[fault]]
at = "5s"
leave = "node-2"

[[fault]]
at = "10s"
kill = "node-3"

[[fault]]
at = "12s"
remove = "node-3"
"#;
    let s = scenario::parse(text, "x.toml").unwrap();
    assert!(s.cluster.join_stream);
    assert_eq!(s.cluster.join_stream_keys, 20);
    assert_eq!(s.cluster.join_stream_interval, Duration::from_millis(50));
    assert_eq!(s.faults[0].action, FaultAction::Leave("node-2".into()));
    assert_eq!(s.faults[2].action.to_string(), "remove node-3");
    let plain = scenario::parse(MINIMAL, "y.toml").unwrap();
    assert!(!plain.cluster.join_stream, "off unless asked for");

    let bad = |body: &str| {
        let text = format!("[cluster]\nnodes = 4\n{MINIMAL}\n{body}");
        scenario::parse(&text, "bad.toml").unwrap_err().to_string()
    };
    let e = bad("[[fault]]\nat = \"1s\"\nremove = \"node-2\"\n");
    assert!(
        e.contains("bad.toml") && e.contains("remove forgets a dead node"),
        "{e}"
    );
    let e = bad(
        "[[fault]]\nat = \"1s\"\nkill = \"node-2\"\n[[fault]]\nat = \"2s\"\nleave = \"node-2\"\n",
    );
    assert!(e.contains("is dead at 2s"), "{e}");
    let e = bad(
        "[[fault]]\nat = \"1s\"\nleave = \"node-2\"\n[[fault]]\nat = \"2s\"\nkill = \"node-2\"\n",
    );
    assert!(e.contains("no member at 2s"), "{e}");
    let e = bad("[[fault]]\nat = \"1s\"\nleave = \"node-9\"\n");
    assert!(e.contains("fault[1].leave"), "{e}");
    let text = format!("[cluster]\njoin_stream_keys = 0\n{MINIMAL}");
    let e = scenario::parse(&text, "k.toml").unwrap_err().to_string();
    assert!(
        e.contains("k.toml") && e.contains("cluster.join_stream_keys"),
        "{e}"
    );
}

#[test]
fn pause_and_resume_are_read_and_their_misuses_name_file_and_fault() {
    let text = format!(
        "{MINIMAL}\n[[fault]]\nat = \"2s\"\npause = \"node-2\"\n\
         [[fault]]\nat = \"3s\"\nresume = \"node-2\"\n\
         [[fault]]\nat = \"4s\"\nkill = \"node-2\"\n"
    );
    let s = scenario::parse(&text, "p.toml").unwrap();
    assert_eq!(s.faults[0].action, FaultAction::Pause("node-2".into()));
    assert_eq!(s.faults[1].action.to_string(), "resume node-2");

    let bad = |body: &str| {
        let text = format!("{MINIMAL}\n{body}");
        scenario::parse(&text, "bad.toml").unwrap_err().to_string()
    };
    let e = bad("[[fault]]\nat = \"1s\"\nresume = \"node-2\"\n");
    assert!(
        e.contains("bad.toml") && e.contains("cannot resume node-2: it is not paused at 1s"),
        "{e}"
    );
    let pause = "[[fault]]\nat = \"1s\"\npause = \"node-2\"\n";
    let e = bad(&format!(
        "{pause}[[fault]]\nat = \"2s\"\nkill = \"node-2\"\n"
    ));
    assert!(
        e.contains("fault[2]: node-2 is paused at 2s (fault[1] paused it at 1s)"),
        "{e}"
    );
    let e = bad(&format!("{pause}{pause}"));
    assert!(e.contains("node-2 is paused at 1s"), "{e}");
    let e = bad(
        "[[fault]]\nat = \"1s\"\nkill = \"node-2\"\n[[fault]]\nat = \"2s\"\npause = \"node-2\"\n",
    );
    assert!(e.contains("node-2 is dead at 2s"), "{e}");
    let e = bad("[[fault]]\nat = \"1s\"\npause = \"node-9\"\n");
    assert!(e.contains("fault[1].pause"), "{e}");
}

#[test]
fn the_membership_does_not_change_while_a_node_is_paused() {
    let text = format!(
        "[cluster]\nnodes = 4\n{MINIMAL}\n[[fault]]\nat = \"1s\"\npause = \"node-2\"\n\
         [[fault]]\nat = \"2s\"\nleave = \"node-3\"\n"
    );
    let e = scenario::parse(&text, "m.toml").unwrap_err().to_string();
    assert!(
        e.contains("fault[2]: the membership changes at 2s while node-2 is paused"),
        "{e}"
    );
}
