//! `ringlab-sim estimate`: the arithmetic against hand-computed figures,
//! the generated scenario against the scenario crate's own validation, and
//! broken estimate files against the messages they must give.

use std::path::Path;

use proptest::prelude::*;
use ringlab_loadgen::scenario::{self, workload::Rate};
use ringlab_sim::estimate::{self, Figures, input};

/// The lesson's file, `scenarios/estimates/photo-feed.toml`.
fn photo_feed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/estimates/photo-feed.toml");
    std::fs::read_to_string(path).unwrap()
}

const MINIMAL: &str = r#"
[estimate]
daily_active_users = 10_000_000
requests_per_user_per_day = 20
peak_factor = 2
read_write = "4:1"
object_size = "500B"
keys = 1_000_000
yearly_growth = "100%"
"#;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn the_figures_match_the_hand_computed_ones() {
    let e = input::parse(&photo_feed(), "photo-feed.toml").unwrap();
    let f = Figures::of(&e);
    // 20,000,000 x 50 = 1,000,000,000 a day; / 86,400 s = 11,574.07/s.
    assert!(close(f.requests_per_day, 1e9));
    assert!(close(f.avg, 1e9 / 86_400.0));
    assert_eq!(f.avg.round(), 11_574.0);
    // x3 at the peak: 34,722.2/s, 9:1 -> 31,250 reads and 3,472.2 writes.
    assert_eq!(f.peak.round(), 34_722.0);
    assert!(close(f.peak_reads, 31_250.0));
    assert_eq!(f.peak_writes.round(), 3_472.0);
    // The spike: 10 x the average.
    assert_eq!(f.spike.round(), 115_741.0);
    // 200,000,000 keys x 1,024 B = 204.8 GB; x3 = 614.4 GB; x1.5 = 921.6 GB.
    assert!(close(f.storage, 204.8e9));
    assert!(close(f.storage_replicated, 614.4e9));
    assert!(close(f.storage_year, 921.6e9));
    // Bandwidth at the peak: 3,472.2 x 1,024 in, 31,250 x 1,024 out, and
    // the writes twice more between replicas.
    assert!(close(f.bandwidth_in, 1e9 / 86_400.0 * 3.0 * 0.1 * 1024.0));
    assert!(close(f.bandwidth_out, 32_000_000.0));
    assert!(close(f.bandwidth_replicas, 2.0 * f.bandwidth_in));
    // 20% of 204.8 GB hot = 40.96 GB, x3 = 122.88 GB: 2 nodes of 64 GiB,
    // but at least N = 3.
    assert!(close(f.working_set, 40.96e9));
    assert!(close(f.memory, 122.88e9));
    assert_eq!(f.nodes_by_memory, 3);
    // A request costs 1 + 3 - 3/n operations: at 3 nodes 3, 347,222/s
    // against 300,000; at 4 nodes 3.25, 376,157/s against 400,000.
    assert_eq!(f.ops_per_request, 3.25);
    assert_eq!(f.nodes_by_cpu, 4);
}

#[test]
fn the_table_shows_each_calculation() {
    let out = estimate::build(
        &photo_feed(),
        "photo-feed.toml",
        Path::new("x/scenario.toml"),
    )
    .unwrap();
    for line in [
        "20,000,000 users x 50 req/day / 86,400 s",
        "= 11,574 req/s",
        "11,574 req/s x peak factor 3",
        "= 34,722 req/s",
        "34,722 req/s x 9:1 reads (90%)",
        "= 31,250 req/s",
        "200,000,000 keys x 1KiB = 191 GiB x N=3 replicas",
        "= 572 GiB",
        "572 GiB x (1 + 50% growth)",
        "= 858 GiB",
        "= 30.5 MiB/s (256 Mbit/s)",
        "= 114 GiB",
        "115,741 req/s x (1 + N - N/n = 3.25) ops / 100,000 ops/s a node <= n",
        "= 4 nodes",
    ] {
        assert!(out.table.contains(line), "{line:?} not in\n{}", out.table);
    }
    assert_eq!(
        out.plan_command,
        "ringlab-sim plan x/scenario.toml --find nodes --slo 'p99<=5ms' \
         --slo 'availability>=99.99%' --seeds 3"
    );
}

#[test]
fn the_generated_scenario_is_valid_and_says_what_the_estimate_says() {
    let out = estimate::build(&photo_feed(), "photo-feed.toml", Path::new("s.toml")).unwrap();
    let sc = scenario::parse(&out.scenario, "s.toml").unwrap();
    assert_eq!(sc.name, "photo-feed");
    assert_eq!(sc.cluster.nodes, 4);
    assert_eq!(sc.cluster.replication.n, 3);
    assert_eq!(sc.capacity.cores, 2);
    let names: Vec<&str> = sc.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["average", "peak", "spike"]);
    let rates: Vec<Rate> = sc.phases.iter().map(|p| p.rate).collect();
    assert_eq!(
        rates,
        [
            Rate::Constant(11_574.0),
            Rate::Constant(34_722.0),
            Rate::Constant(115_741.0)
        ]
    );
    for p in &sc.phases {
        assert_eq!(p.keys.count, 200_000_000);
    }
    // A few model seconds, so a plan's point stays cheap.
    assert!(sc.duration().as_secs() <= 3);
    // The plan command's SLOs are ones `plan` accepts for this scenario.
    for s in &out.estimate.slos {
        ringlab_sim::plan::slo::Slo::parse(s)
            .unwrap()
            .check(&sc)
            .unwrap();
    }
}

#[test]
fn a_memory_floor_goes_into_the_plan_command() {
    let text = format!("{MINIMAL}node_memory = \"100MB\"\nworking_set = \"100%\"\n");
    let out = estimate::build(&text, "m.toml", Path::new("m/s.toml")).unwrap();
    // 1,000,000 x 500 B x 3 = 1.5 GB over 100 MiB = 14.3 -> 15 nodes.
    assert_eq!(out.figures.nodes_by_memory, 15);
    assert!(
        out.plan_command.ends_with("--min 15 --seeds 3"),
        "{}",
        out.plan_command
    );
    let sc = scenario::parse(&out.scenario, "s.toml").unwrap();
    assert_eq!(sc.cluster.nodes, 15);
    assert_eq!(sc.cluster.maxmemory, 100 << 20);
}

#[test]
fn defaults_and_a_write_only_or_read_only_mix_still_give_a_valid_scenario() {
    for mix in ["1:0", "0:1", "2:1", "1:3"] {
        let text = MINIMAL.replace("\"4:1\"", &format!("{mix:?}"));
        let out = estimate::build(&text, "m.toml", Path::new("m.toml")).unwrap();
        scenario::parse(&out.scenario, "m.toml").unwrap();
    }
    // A description with quotes and backslashes reads back as written.
    let text = format!("description = '''a \"quoted\" C:\\path \"\"\" end'''\n{MINIMAL}");
    let out = estimate::build(&text, "m.toml", Path::new("m.toml")).unwrap();
    let sc = scenario::parse(&out.scenario, "m.toml").unwrap();
    assert!(
        sc.description.starts_with(r#"a "quoted" C:\path """ end"#),
        "{}",
        sc.description
    );
    let e = input::parse(MINIMAL, "dir/min.toml").unwrap();
    assert_eq!(e.name, "min");
    assert_eq!(e.replication, 3);
    assert_eq!(e.spike_factor, 10.0);
    assert_eq!(e.working_set, 0.2);
}

/// Each broken file and a piece of the message it must give.
#[test]
fn broken_files_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "daily_active_users = 10_000_000\n",
            "",
            "b.toml: estimate.daily_active_users is missing",
        ),
        (
            "daily_active_users = 10_000_000",
            "daily_active_users = -5",
            "estimate.daily_active_users = -5: expected a whole number of users, at least 1",
        ),
        (
            "peak_factor = 2",
            "peak_factor = 0",
            "estimate.peak_factor = 0: expected a number above 0",
        ),
        (
            "peak_factor = 2",
            "peak_factor = 0.5",
            "estimate.peak_factor = 0.5: expected at least 1",
        ),
        (
            "keys = 1_000_000",
            "keys = 1_000_000\nusers = 5",
            "unknown key `estimate.users`",
        ),
        (
            "keys = 1_000_000",
            "keys = 1_000_000\npeak_facter = 5",
            "did you mean `peak_factor`?",
        ),
        (
            "read_write = \"4:1\"",
            "read_write = \"4 to 1\"",
            "estimate.read_write = \"4 to 1\": expected reads to writes",
        ),
        ("read_write = \"4:1\"", "read_write = \"0:0\"", "not both 0"),
        (
            "object_size = \"500B\"",
            "object_size = \"500 bits\"",
            "estimate.object_size = \"500 bits\": unknown unit",
        ),
        (
            "object_size = \"500B\"",
            "object_size = 0",
            "estimate.object_size = 0",
        ),
        (
            "yearly_growth = \"100%\"",
            "yearly_growth = -0.1",
            "estimate.yearly_growth = -0.1: expected a share",
        ),
        (
            "keys = 1_000_000",
            "keys = 1_000_000\nslo = [\"p99=5ms\"]",
            "estimate.slo: --slo \"p99=5ms\"",
        ),
        ("[estimate]", "[estimat]", "unknown key `estimat`"),
        (
            "[estimate]",
            "[cluster]\nnodes = 3\n[estimate]",
            "looks like a scenario file",
        ),
    ];
    for (from, to, want) in cases {
        let text = MINIMAL.replace(from, to);
        assert_ne!(text, MINIMAL, "case {want:?} changed nothing");
        let err = input::parse(&text, "b.toml").unwrap_err().to_string();
        assert!(err.starts_with("b.toml: "), "{err}");
        assert!(err.contains(want), "wanted {want:?} in {err:?}");
    }
}

fn estimate_with(users: u64, peak: f64, growth: f64, n: u32) -> input::Estimate {
    let mut e = input::parse(MINIMAL, "p.toml").unwrap();
    e.daily_active_users = users;
    e.peak_factor = peak;
    e.yearly_growth = growth;
    e.replication = n;
    e
}

proptest! {
    /// The peak is never below the average, the reads and writes add up to
    /// it, and storage grows with the growth and with N.
    #[test]
    fn figures_are_ordered(
        users in 1u64..10_000_000_000,
        peak in 1.0f64..100.0,
        growth in 0.0f64..10.0,
        more in 0.0f64..10.0,
        n in 1u32..7,
    ) {
        let f = Figures::of(&estimate_with(users, peak, growth, n));
        prop_assert!(f.peak >= f.avg);
        prop_assert!((f.peak_reads + f.peak_writes - f.peak).abs() <= 1e-9 * f.peak);
        prop_assert!(f.storage_year >= f.storage_replicated);
        prop_assert!(f.storage_replicated >= f.storage);
        let g = Figures::of(&estimate_with(users, peak, growth + more, n));
        prop_assert!(g.storage_year >= f.storage_year);
        let h = Figures::of(&estimate_with(users, peak, growth, n + 1));
        prop_assert!(h.storage_year > f.storage_year);
        prop_assert!(f.nodes_by_cpu >= u64::from(n) && f.nodes_by_memory >= u64::from(n));
    }
}

/// The first problem reported is the first key's, not a later missing one.
#[test]
fn negative_users_alone_are_named_first() {
    let err = input::parse("[estimate]\ndaily_active_users = -5\n", "b.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "b.toml: estimate.daily_active_users = -5: expected a whole number of users, at least 1"
    );
}
