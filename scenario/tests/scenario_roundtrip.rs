//! Model-based property test of the reader: generate a valid scenario as
//! plain values, write it as TOML (omitting keys at random, to exercise
//! defaults and inheritance), parse it, and compare with what a simple model
//! of the rules predicts.

use std::fmt::Write as _;
use std::time::Duration;

use proptest::prelude::*;
use ringlab_scenario::units::{format_duration, format_size};
use ringlab_scenario::workload::{Arrival, KeyDist, KeySpace, Mix, Phase, Rate, ValueSize};
use ringlab_scenario::{self as scenario, CostDist, Eviction, LatencyDist};

fn dur() -> impl Strategy<Value = Duration> {
    // Whole nanoseconds up to an hour, biased to cache-like scales.
    prop_oneof![
        (1u64..1_000_000).prop_map(Duration::from_nanos),
        (1u64..60_000_000).prop_map(Duration::from_micros),
        (1u64..3_600_000).prop_map(Duration::from_millis),
    ]
}

fn latency() -> impl Strategy<Value = LatencyDist> {
    prop_oneof![
        dur().prop_map(LatencyDist::Fixed),
        (dur(), dur()).prop_map(|(base, jitter)| LatencyDist::BaseJitter { base, jitter }),
        (dur(), dur()).prop_map(|(a, b)| LatencyDist::Uniform {
            min: a.min(b),
            max: a.max(b)
        }),
        (dur(), 0u32..1000).prop_map(|(median, s)| LatencyDist::LogNormal {
            median,
            sigma: f64::from(s) / 100.0
        }),
    ]
}

fn latency_toml(l: &LatencyDist) -> String {
    let d = |d: &Duration| format!("\"{}\"", format_duration(*d));
    match l {
        LatencyDist::Fixed(x) => d(x),
        LatencyDist::BaseJitter { base, jitter } => {
            format!("{{ base = {}, jitter = {} }}", d(base), d(jitter))
        }
        LatencyDist::Uniform { min, max } => format!("{{ min = {}, max = {} }}", d(min), d(max)),
        LatencyDist::LogNormal { median, sigma } => {
            format!("{{ median = {}, sigma = {sigma:?} }}", d(median))
        }
    }
}

fn cost() -> impl Strategy<Value = CostDist> {
    prop_oneof![
        dur().prop_map(CostDist::Constant),
        dur().prop_map(|mean| CostDist::Exponential { mean }),
        (dur(), 0u32..1000).prop_map(|(median, s)| CostDist::LogNormal {
            median,
            sigma: f64::from(s) / 100.0
        }),
    ]
}

fn cost_toml(c: &CostDist) -> String {
    let d = |d: &Duration| format!("\"{}\"", format_duration(*d));
    match c {
        CostDist::Constant(x) => d(x),
        CostDist::Exponential { mean } => format!("{{ mean = {} }}", d(mean)),
        CostDist::LogNormal { median, sigma } => {
            format!("{{ median = {}, sigma = {sigma:?} }}", d(median))
        }
    }
}

/// One phase as the file gives it: `None` means "not written".
#[derive(Debug, Clone)]
struct PhaseSpec {
    duration: Option<Duration>,
    rate: Option<RateSpec>,
    arrival: Option<Arrival>,
    key_count: Option<u64>,
    dist: Option<KeyDist>,
    mix: Option<Mix>,
    value_size: Option<ValueSize>,
    timeout: Option<Duration>,
    clients: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
enum RateSpec {
    Constant(u32),
    Ramp(u32, u32),
    Times(u32),
}

fn phase_spec() -> impl Strategy<Value = PhaseSpec> {
    let rate = prop_oneof![
        (1u32..1_000_000).prop_map(RateSpec::Constant),
        (0u32..1_000_000, 1u32..1_000_000).prop_map(|(a, b)| RateSpec::Ramp(a, b)),
        (1u32..100).prop_map(RateSpec::Times),
    ];
    let dist = prop_oneof![
        Just(KeyDist::Uniform),
        (1u32..300).prop_map(|s| KeyDist::Zipf {
            s: f64::from(s) / 100.0
        }),
        (1u32..300).prop_map(|s| KeyDist::Latest {
            s: f64::from(s) / 100.0
        }),
        (1u32..=100, 0u32..=100).prop_map(|(f, s)| KeyDist::Hotspot {
            hot_fraction: f64::from(f) / 100.0,
            hot_share: f64::from(s) / 100.0
        }),
    ];
    // Five kinds in whole percent (cut points of 0..=100); expire needs a
    // ttl, which the specs do not generate.
    let mix = proptest::collection::vec(0u32..=100, 4).prop_map(|mut cuts| {
        cuts.sort_unstable();
        let pct = |i: usize| {
            let lo = if i == 0 { 0 } else { cuts[i - 1] };
            let hi = if i == 4 { 100 } else { cuts[i] };
            f64::from(hi - lo) / 100.0
        };
        Mix {
            get: pct(0),
            set: pct(1),
            delete: pct(2),
            incr: pct(3),
            mget: pct(4),
            expire: 0.0,
        }
    });
    let value = prop_oneof![
        (0u64..1 << 20).prop_map(ValueSize::Fixed),
        (0u64..1 << 20, 0u64..1 << 20).prop_map(|(a, b)| ValueSize::Uniform {
            min: a.min(b),
            max: a.max(b)
        }),
        (1u64..1 << 20, 0u32..300).prop_map(|(m, s)| ValueSize::LogNormal {
            median: m,
            sigma: f64::from(s) / 100.0,
            max: m * 4
        }),
    ];
    (
        prop::option::of(dur()),
        prop::option::of(rate),
        prop::option::of(prop_oneof![Just(Arrival::Poisson), Just(Arrival::Uniform)]),
        prop::option::of(100u64..10_000_000),
        prop::option::of(dist),
        prop::option::of(mix),
        prop::option::of(value),
        prop::option::of(dur()),
        prop::option::of(1u32..64),
    )
        .prop_map(
            |(duration, rate, arrival, key_count, dist, mix, value_size, timeout, clients)| {
                PhaseSpec {
                    duration,
                    rate,
                    arrival,
                    key_count,
                    dist,
                    mix,
                    value_size,
                    timeout,
                    clients,
                }
            },
        )
}

fn dist_toml(d: &KeyDist) -> String {
    match d {
        KeyDist::Uniform => "distribution = \"uniform\"".into(),
        KeyDist::Zipf { s } => format!("distribution = \"zipf\", s = {s:?}"),
        KeyDist::Latest { s } => format!("distribution = \"latest\", s = {s:?}"),
        KeyDist::Hotspot {
            hot_fraction,
            hot_share,
        } => format!(
            "distribution = \"hotspot\", hot_fraction = {hot_fraction:?}, hot_share = {hot_share:?}"
        ),
    }
}

fn value_toml(v: &ValueSize) -> String {
    let s = |b: &u64| format!("\"{}\"", format_size(*b));
    match v {
        ValueSize::Fixed(b) => s(b),
        ValueSize::Uniform { min, max } => format!("{{ min = {}, max = {} }}", s(min), s(max)),
        ValueSize::LogNormal { median, sigma, max } => {
            format!(
                "{{ median = {}, sigma = {sigma:?}, max = {} }}",
                s(median),
                s(max)
            )
        }
    }
}

/// The model of inheritance: what the phases should read as.
fn expected_phases(specs: &[PhaseSpec]) -> Vec<Phase> {
    let mut out: Vec<Phase> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let prev = out.last().cloned().unwrap_or(Phase {
            name: String::new(),
            duration: Duration::ZERO,
            rate: Rate::Constant(0.0),
            arrival: Arrival::Poisson,
            keys: KeySpace {
                count: 100_000,
                distribution: KeyDist::Uniform,
            },
            mix: Mix {
                get: 0.9,
                set: 0.1,
                ..Mix::default()
            },
            value_size: ValueSize::Fixed(100),
            timeout: Duration::from_millis(100),
            clients: 4,
            connections: 64,
            max_in_flight: 1024,
            ttl: None,
            mget_keys: 10,
        });
        let rate = match spec.rate {
            Some(RateSpec::Constant(r)) => Rate::Constant(f64::from(r)),
            Some(RateSpec::Ramp(a, b)) => Rate::Ramp {
                from: f64::from(a),
                to: f64::from(b),
            },
            Some(RateSpec::Times(k)) => Rate::Constant(prev.rate.end() * f64::from(k)),
            None => Rate::Constant(prev.rate.end()),
        };
        out.push(Phase {
            name: format!("p{i}"),
            duration: spec.duration.unwrap_or(prev.duration),
            rate,
            arrival: spec.arrival.unwrap_or(prev.arrival),
            keys: KeySpace {
                count: spec.key_count.unwrap_or(prev.keys.count),
                distribution: spec.dist.unwrap_or(prev.keys.distribution),
            },
            mix: spec.mix.unwrap_or(prev.mix),
            value_size: spec.value_size.unwrap_or(prev.value_size),
            timeout: spec.timeout.unwrap_or(prev.timeout),
            clients: spec.clients.unwrap_or(prev.clients),
            ..prev
        });
    }
    out
}

fn phases_toml(specs: &[PhaseSpec]) -> String {
    let mut t = String::new();
    for (i, s) in specs.iter().enumerate() {
        let _ = writeln!(t, "\n[[phase]]\nname = \"p{i}\"");
        if let Some(d) = s.duration {
            let _ = writeln!(t, "duration = \"{}\"", format_duration(d));
        }
        match s.rate {
            Some(RateSpec::Constant(r)) => {
                let _ = writeln!(t, "rate = {r}");
            }
            Some(RateSpec::Ramp(a, b)) => {
                let _ = writeln!(t, "rate = {{ from = {a}, to = {b} }}");
            }
            Some(RateSpec::Times(k)) => {
                let _ = writeln!(t, "rate = \"x{k}\"");
            }
            None => {}
        }
        if let Some(a) = s.arrival {
            let name = if a == Arrival::Poisson {
                "poisson"
            } else {
                "uniform"
            };
            let _ = writeln!(t, "arrival = \"{name}\"");
        }
        let mut keys = Vec::new();
        if let Some(c) = s.key_count {
            keys.push(format!("count = {c}"));
        }
        if let Some(d) = &s.dist {
            keys.push(dist_toml(d));
        }
        if !keys.is_empty() {
            let _ = writeln!(t, "keys = {{ {} }}", keys.join(", "));
        }
        if let Some(m) = s.mix {
            let _ = writeln!(
                t,
                "mix = {{ get = {:?}, set = {:?}, delete = {:?}, incr = {:?}, mget = {:?} }}",
                m.get, m.set, m.delete, m.incr, m.mget
            );
        }
        if let Some(v) = &s.value_size {
            let _ = writeln!(t, "value_size = {}", value_toml(v));
        }
        if let Some(d) = s.timeout {
            let _ = writeln!(t, "timeout = \"{}\"", format_duration(d));
        }
        if let Some(c) = s.clients {
            let _ = writeln!(t, "clients = {c}");
        }
    }
    t
}

/// A first phase must give its duration and a rate that is not a
/// multiplier; later phases may omit anything.
fn valid_specs() -> impl Strategy<Value = Vec<PhaseSpec>> {
    (
        dur(),
        1u32..1_000_000,
        phase_spec(),
        prop::collection::vec(phase_spec(), 0..4),
    )
        .prop_map(|(d, r, mut first, rest)| {
            first.duration = Some(d);
            if !matches!(first.rate, Some(RateSpec::Constant(_) | RateSpec::Ramp(..))) {
                first.rate = Some(RateSpec::Constant(r));
            }
            let mut all = vec![first];
            all.extend(rest);
            all
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn written_scenarios_read_back_as_the_model_predicts(
        nodes in 1u32..9,
        nrw in (1u32..9, 1u32..9, 1u32..9),
        vnodes in 1u32..1000,
        maxmemory in 1u64..1 << 40,
        eviction in prop::sample::select(Eviction::ALL.to_vec()),
        timeout in dur(),
        cores in 1u32..64,
        op_cost in cost(),
        per_kb in dur(),
        queue in 1u32..100_000,
        lat in latency(),
        loss in 0u32..=1000,
        specs in valid_specs(),
    ) {
        let n = nrw.0.min(nodes);
        let (r, w) = (nrw.1.min(n), nrw.2.min(n));
        let loss = f64::from(loss) / 1000.0;
        let mut text = format!(
            "seed = 9\n\n[cluster]\nnodes = {nodes}\nvnodes = {vnodes}\n\
             replication = {{ n = {n}, r = {r}, w = {w} }}\nreplica_timeout = \"{}\"\n\
             maxmemory = \"{}\"\neviction = \"{}\"\n\n\
             [capacity]\ncores = {cores}\nop_cost = {}\nper_kb_cost = \"{}\"\nqueue_limit = {queue}\n\n\
             [network]\nlatency = {}\nloss = {loss:?}\n",
            format_duration(timeout),
            format_size(maxmemory),
            eviction.as_str(),
            cost_toml(&op_cost),
            format_duration(per_kb),
            latency_toml(&lat),
        );
        text.push_str(&phases_toml(&specs));

        let s = scenario::parse(&text, "generated.toml")
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- text ---\n{text}")))?;
        prop_assert_eq!(s.cluster.nodes, nodes);
        prop_assert_eq!(s.cluster.vnodes, vnodes);
        prop_assert_eq!((s.cluster.replication.n, s.cluster.replication.r, s.cluster.replication.w), (n, r, w));
        prop_assert_eq!(s.cluster.replica_timeout, timeout);
        prop_assert_eq!(s.cluster.maxmemory, maxmemory);
        prop_assert_eq!(s.cluster.eviction, eviction);
        prop_assert_eq!(s.capacity.cores, cores);
        prop_assert_eq!(s.capacity.op_cost, op_cost);
        prop_assert_eq!(s.capacity.per_kb_cost, per_kb);
        prop_assert_eq!(s.capacity.queue_limit, queue);
        prop_assert_eq!(s.network.latency, lat);
        prop_assert_eq!(s.network.loss, loss);
        let want = expected_phases(&specs);
        prop_assert_eq!(&s.phases, &want, "--- text ---\n{}", text);
    }
}

/// `[app]` and `[database]` as written, keys omitted at random: what the
/// reader makes of them, by the documented defaults.
#[derive(Debug, Clone)]
struct AppSpec {
    write_through: bool,
    on_write_update: Option<bool>,
    fill_ttl: Option<Duration>,
    coalesce: Option<bool>,
    near: Option<(u64, Duration)>,
    latency: CostDist,
    concurrency: u32,
    queue_limit: u32,
    timeout: Option<Duration>,
}

fn app_spec() -> impl Strategy<Value = AppSpec> {
    (
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(dur()),
        proptest::option::of(any::<bool>()),
        proptest::option::of((1u64..1_000_000, dur())),
        cost(),
        1u32..1_000_000,
        0u32..1_000_000,
        proptest::option::of(dur()),
    )
        .prop_map(
            |(write_through, on_write, fill_ttl, coalesce, near, latency, c, q, timeout)| {
                AppSpec {
                    write_through,
                    // on_write is for cache-aside only.
                    on_write_update: on_write.filter(|_| !write_through),
                    fill_ttl,
                    coalesce,
                    near,
                    latency,
                    concurrency: c,
                    queue_limit: q,
                    timeout,
                }
            },
        )
}

fn app_toml(a: &AppSpec) -> String {
    let mut t = String::from("[app]\n");
    let pattern = if a.write_through {
        "write-through"
    } else {
        "cache-aside"
    };
    let _ = writeln!(t, "pattern = \"{pattern}\"");
    if let Some(u) = a.on_write_update {
        let _ = writeln!(t, "on_write = \"{}\"", if u { "update" } else { "delete" });
    }
    if let Some(d) = a.fill_ttl {
        let _ = writeln!(t, "fill_ttl = \"{}\"", format_duration(d));
    }
    if let Some(c) = a.coalesce {
        let _ = writeln!(t, "coalesce = {c}");
    }
    if let Some((keys, ttl)) = a.near {
        let _ = writeln!(
            t,
            "near_cache = {{ keys = {keys}, ttl = \"{}\" }}",
            format_duration(ttl)
        );
    }
    let _ = write!(
        t,
        "\n[database]\nlatency = {}\nconcurrency = {}\nqueue_limit = {}\n",
        cost_toml(&a.latency),
        a.concurrency,
        a.queue_limit
    );
    if let Some(d) = a.timeout {
        let _ = writeln!(t, "timeout = \"{}\"", format_duration(d));
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn app_and_database_read_back_as_written(a in app_spec()) {
        let text = format!(
            "{}\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 10\n",
            app_toml(&a)
        );
        let s = scenario::parse(&text, "generated.toml")
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- text ---\n{text}")))?;
        let want_pattern = if a.write_through {
            scenario::Pattern::WriteThrough
        } else {
            scenario::Pattern::CacheAside
        };
        prop_assert_eq!(s.app.pattern, want_pattern);
        let want_on_write = match a.on_write_update {
            Some(true) => scenario::OnWrite::Update,
            _ => scenario::OnWrite::Delete,
        };
        prop_assert_eq!(s.app.on_write, want_on_write);
        prop_assert_eq!(s.app.fill_ttl, a.fill_ttl);
        prop_assert_eq!(s.app.coalesce, a.coalesce.unwrap_or(false));
        prop_assert_eq!(
            s.app.near_cache,
            a.near.map(|(keys, ttl)| scenario::NearCacheSpec { keys, ttl })
        );
        let db = s.database.expect("a database");
        prop_assert_eq!(db.latency, a.latency);
        prop_assert_eq!(db.concurrency, a.concurrency);
        prop_assert_eq!(db.queue_limit, a.queue_limit);
        prop_assert_eq!(db.timeout, a.timeout);
    }
}
