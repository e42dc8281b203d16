//! Reading `[[phase]]`: the load, phase by phase. A key a phase does not
//! give is inherited from the previous phase (the first phase takes the
//! defaults below), so a spike is one line: `rate = "x10"`.

use std::time::Duration;

use super::cluster::sigma;
use super::reader::{
    Ctx, Field, Table, Value, closest, number, positive_duration, probability, size, string, uint32,
};
use super::units::format_size;
use crate::workload::{Arrival, KeyDist, KeySpace, Mix, OpKind, Phase, Rate, ValueSize};

/// Defaults of the first phase, for keys it does not give.
pub(super) mod defaults {
    pub const KEY_COUNT: u64 = 100_000;
    pub const GET: f64 = 0.9;
    pub const SET: f64 = 0.1;
    pub const VALUE_SIZE: u64 = 100;
    pub const TIMEOUT_MS: u64 = 100;
    pub const CLIENTS: u32 = 4;
    pub const CONNECTIONS: u32 = 64;
    pub const MAX_IN_FLIGHT: u32 = 1024;
    pub const MGET_KEYS: u32 = 10;
    pub const ZIPF_S: f64 = 0.99;
    pub const HOT_FRACTION: f64 = 0.2;
    pub const HOT_SHARE: f64 = 0.8;
}

/// Largest value a set may write: Redis's limit for a string.
const MAX_VALUE_SIZE: u64 = 512 << 20;

const KNOWN: [&str; 13] = [
    "name",
    "duration",
    "rate",
    "arrival",
    "keys",
    "mix",
    "value_size",
    "timeout",
    "clients",
    "connections",
    "max_in_flight",
    "ttl",
    "mget_keys",
];

/// The settings a phase starts from before its own keys apply.
fn first_phase_defaults() -> Phase {
    Phase {
        name: String::new(),
        duration: Duration::ZERO,
        rate: Rate::Constant(0.0),
        arrival: Arrival::Poisson,
        keys: KeySpace {
            count: defaults::KEY_COUNT,
            distribution: KeyDist::Uniform,
        },
        mix: Mix {
            get: defaults::GET,
            set: defaults::SET,
            ..Mix::default()
        },
        value_size: ValueSize::Fixed(defaults::VALUE_SIZE),
        timeout: Duration::from_millis(defaults::TIMEOUT_MS),
        clients: defaults::CLIENTS,
        connections: defaults::CONNECTIONS,
        max_in_flight: defaults::MAX_IN_FLIGHT,
        ttl: None,
        mget_keys: defaults::MGET_KEYS,
    }
}

/// Reads every `[[phase]]`, and whether every phase's duration is known
/// (so that the run's length can be trusted by later checks).
pub(super) fn read_phases(ctx: &mut Ctx<'_>, v: Option<&Value<'_>>) -> (Vec<Phase>, bool) {
    let Some(v) = v else {
        ctx.error(
            &(0..0),
            "the scenario has no [[phase]]: add at least one, like\n  [[phase]]\n  name = \"steady\"\n  duration = \"30s\"\n  rate = 10000",
        );
        return (Vec::new(), false);
    };
    let Some(items) = v.get_ref().as_array() else {
        ctx.wrong_type("phase", v, "an array of tables, written [[phase]]");
        return (Vec::new(), false);
    };
    let mut phases: Vec<Phase> = Vec::new();
    let mut complete = !items.is_empty();
    for (i, item) in items.iter().enumerate() {
        let path = format!("phase[{}]", i + 1);
        let Some(t) = Table::open(ctx, &path, item, &KNOWN, "a table, written [[phase]]") else {
            complete = false;
            continue;
        };
        let prev = phases.last();
        let phase = read_phase(ctx, &t, i, prev, &phases, &mut complete);
        phases.push(phase);
    }
    if items.is_empty() {
        ctx.error(
            &v.span(),
            "`phase` is empty: a scenario needs at least one [[phase]]",
        );
    }
    (phases, complete)
}

fn read_phase(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    index: usize,
    prev: Option<&Phase>,
    earlier: &[Phase],
    complete: &mut bool,
) -> Phase {
    let base = prev.cloned().unwrap_or_else(first_phase_defaults);
    let name = match t.field(ctx, "name", |c, p, v| {
        let name = string(c, p, v)?;
        let bare = |ch: char| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_';
        if name.is_empty() || !name.chars().all(bare) {
            c.invalid(p, v, "is not a usable phase name: expected letters, digits, '-' or '_' (expectations name phases as phase.<name>.<metric>)");
            return None;
        }
        if let Some(j) = earlier.iter().position(|ph| ph.name == name) {
            c.invalid(p, v, format!("is already the name of phase[{}]: phase names must be unique", j + 1));
            return None;
        }
        Some(name.to_string())
    }) {
        Field::Valid(n) => n,
        _ => format!("phase-{}", index + 1),
    };
    let duration = match t.field(ctx, "duration", positive_duration) {
        Field::Absent if prev.is_none() => {
            t.missing(ctx, "duration", "how long the phase lasts, like \"30s\"");
            *complete = false;
            Duration::ZERO
        }
        Field::Invalid => {
            *complete = false;
            base.duration
        }
        f => f.or(base.duration),
    };
    let rate = match t.get("rate") {
        Some(v) => read_rate(ctx, &t.path_of("rate"), v, prev).unwrap_or(base.rate),
        None => match prev {
            // A ramp is not repeated: the next phase holds where it ended.
            Some(p) => Rate::Constant(p.rate.end()),
            None => {
                t.missing(
                    ctx,
                    "rate",
                    "requests per second over all clients, like 10000",
                );
                base.rate
            }
        },
    };
    let arrival = t
        .field(ctx, "arrival", |c, p, v| match string(c, p, v)? {
            "poisson" => Some(Arrival::Poisson),
            "uniform" => Some(Arrival::Uniform),
            _ => {
                c.invalid(
                    p,
                    v,
                    "is not an arrival process: expected \"poisson\" or \"uniform\"",
                );
                None
            }
        })
        .or(base.arrival);
    let keys = match t.get("keys") {
        Some(v) => read_keys(ctx, &t.path_of("keys"), v, &base.keys).unwrap_or(base.keys.clone()),
        None => base.keys.clone(),
    };
    let mix = t.field(ctx, "mix", read_mix).or(base.mix);
    let value_size = t
        .field(ctx, "value_size", read_value_size)
        .or(base.value_size);
    let timeout = t.field(ctx, "timeout", positive_duration).or(base.timeout);
    let clients = t
        .field(ctx, "clients", |c, p, v| uint32(c, p, v, 1, 1024))
        .or(base.clients);
    let connections = t
        .field(ctx, "connections", |c, p, v| uint32(c, p, v, 1, 100_000))
        .or(base.connections);
    let max_in_flight = t
        .field(ctx, "max_in_flight", |c, p, v| {
            uint32(c, p, v, 1, 10_000_000)
        })
        .or(base.max_in_flight);
    let ttl = match t.field(ctx, "ttl", positive_duration) {
        Field::Valid(d) => Some(d),
        _ => base.ttl,
    };
    let mget_keys = t
        .field(ctx, "mget_keys", |c, p, v| uint32(c, p, v, 1, 1000))
        .or(base.mget_keys);
    if mix.expire > 0.0 && ttl.is_none() {
        let span = t.get("mix").map_or(t.span.clone(), |v| v.span());
        ctx.error(
            &span,
            format!(
                "{}: the mix has expire {} but the phase has no `ttl`: give the TTL that \
                 EXPIRE sets, like ttl = \"30s\"",
                t.path, mix.expire
            ),
        );
    }
    Phase {
        name,
        duration,
        rate,
        arrival,
        keys,
        mix,
        value_size,
        timeout,
        clients,
        connections,
        max_in_flight,
        ttl,
        mget_keys,
    }
}

const RATE_SHAPES: &str = "a number of requests per second (10000), a ramp { from = 1000, to = 5000 }, or a multiple of the previous phase's rate (\"x10\" or { multiply = 10 })";

/// A rate: a constant, `{ from, to }`, `"x10"` or `{ multiply = 10 }`.
fn read_rate(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>, prev: Option<&Phase>) -> Option<Rate> {
    let multiply = |ctx: &mut Ctx<'_>, factor: f64| -> Option<Rate> {
        if !(factor.is_finite() && factor > 0.0) {
            ctx.invalid(path, v, "is impossible: a rate multiplier must be above 0");
            return None;
        }
        match prev {
            Some(p) => Some(Rate::Constant(p.rate.end() * factor)),
            None => {
                ctx.invalid(path, v, "multiplies the previous phase's rate, but this is the first phase: give a number of requests per second");
                None
            }
        }
    };
    match v.get_ref() {
        toml::de::DeValue::String(s) => {
            let t = s.trim();
            let digits = t
                .strip_prefix(['x', 'X'])
                .or_else(|| t.strip_suffix(['x', 'X']))
                .map(|d| d.trim().replace('_', ""));
            match digits.and_then(|d| d.parse::<f64>().ok()) {
                Some(f) => multiply(ctx, f),
                None => {
                    ctx.invalid(path, v, format!("is not a rate: expected {RATE_SHAPES}"));
                    None
                }
            }
        }
        toml::de::DeValue::Table(_) => {
            let t = Table::open(ctx, path, v, &["from", "to", "multiply"], RATE_SHAPES)?;
            if t.has("multiply") {
                if t.has("from") || t.has("to") {
                    ctx.error(
                        &t.span,
                        format!("{path}: give either {{ from, to }} or {{ multiply }}, not both"),
                    );
                    return None;
                }
                let f = t
                    .field(ctx, "multiply", |c, p, v| {
                        number(c, p, v, "a factor above 0, like 10")
                    })
                    .valid()?;
                return multiply(ctx, f);
            }
            let end = |ctx: &mut Ctx<'_>, key: &str| match t.field(ctx, key, |c, p, v| {
                let r = number(c, p, v, "requests per second, like 10000")?;
                if r < 0.0 {
                    c.invalid(p, v, "is impossible: a rate cannot be negative");
                    return None;
                }
                Some(r)
            }) {
                Field::Absent => {
                    t.missing(
                        ctx,
                        key,
                        "requests per second: a ramp is { from = 1000, to = 5000 }",
                    );
                    None
                }
                f => f.valid(),
            };
            let from = end(ctx, "from");
            let to = end(ctx, "to");
            let (from, to) = (from?, to?);
            if from == 0.0 && to == 0.0 {
                ctx.invalid(path, v, "is impossible: a ramp from 0 to 0 sends nothing");
                return None;
            }
            Some(Rate::Ramp { from, to })
        }
        _ => {
            let r = number(ctx, path, v, RATE_SHAPES)?;
            if r <= 0.0 {
                ctx.invalid(
                    path,
                    v,
                    "is impossible: a rate must be above 0 requests per second",
                );
                return None;
            }
            Some(Rate::Constant(r))
        }
    }
}

/// `keys = { count, distribution, s, hot_fraction, hot_share }`, each key
/// inherited from `base` when not given.
fn read_keys(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>, base: &KeySpace) -> Option<KeySpace> {
    let known = ["count", "distribution", "s", "hot_fraction", "hot_share"];
    let t = Table::open(
        ctx,
        path,
        v,
        &known,
        "{ count = 100_000, distribution = \"zipf\", s = 0.99 }",
    )?;
    let count = t
        .field(ctx, "count", |c, p, v| {
            super::reader::uint(c, p, v, 1, u64::MAX)
        })
        .or(base.count);
    let names = ["uniform", "zipf", "hotspot", "latest"];
    let kind = match t.field(ctx, "distribution", |c, p, v| {
        let name = string(c, p, v)?;
        if names.contains(&name) {
            return Some(name.to_string());
        }
        let hint = closest(name, names.iter().copied())
            .map(|b| format!("did you mean \"{b}\"? "))
            .unwrap_or_default();
        c.invalid(
            p,
            v,
            format!(
                "is not a key distribution: {hint}expected one of {}",
                names.join(", ")
            ),
        );
        None
    }) {
        Field::Valid(k) => k,
        Field::Invalid => return None,
        Field::Absent => match base.distribution {
            KeyDist::Uniform => "uniform",
            KeyDist::Zipf { .. } => "zipf",
            KeyDist::Hotspot { .. } => "hotspot",
            KeyDist::Latest { .. } => "latest",
        }
        .to_string(),
    };
    // Parameters given must belong to the distribution.
    let wants: &[&str] = match kind.as_str() {
        "zipf" | "latest" => &["s"],
        "hotspot" => &["hot_fraction", "hot_share"],
        _ => &[],
    };
    let mut ok = true;
    for param in ["s", "hot_fraction", "hot_share"] {
        if t.has(param) && !wants.contains(&param) {
            let key_span = t.get(param).map_or(t.span.clone(), |v| v.span());
            ctx.error(
                &key_span,
                format!("{}: `{param}` does not apply to the {kind} distribution (zipf and latest take s; hotspot takes hot_fraction and hot_share)", t.path_of(param)),
            );
            ok = false;
        }
    }
    // Inherit parameters only from the same kind of distribution.
    let (prev_s, prev_hot) = match base.distribution {
        KeyDist::Zipf { s } if kind == "zipf" => (s, None),
        KeyDist::Latest { s } if kind == "latest" => (s, None),
        KeyDist::Hotspot {
            hot_fraction,
            hot_share,
        } if kind == "hotspot" => (defaults::ZIPF_S, Some((hot_fraction, hot_share))),
        _ => (defaults::ZIPF_S, None),
    };
    let s_of = |ctx: &mut Ctx<'_>| {
        t.field(ctx, "s", |c, p, v| {
            let s = number(c, p, v, "an exponent above 0, like 0.99")?;
            if !(s > 0.0 && s <= 10.0) {
                c.invalid(
                    p,
                    v,
                    "is out of range: a zipf exponent is in (0, 10]; 0.99 is YCSB's default",
                );
                return None;
            }
            Some(s)
        })
        .or(prev_s)
    };
    let distribution = match kind.as_str() {
        "uniform" => KeyDist::Uniform,
        "zipf" => KeyDist::Zipf { s: s_of(ctx) },
        "latest" => KeyDist::Latest { s: s_of(ctx) },
        _ => {
            let (pf, ps) = prev_hot.unwrap_or((defaults::HOT_FRACTION, defaults::HOT_SHARE));
            let hot_fraction = t
                .field(ctx, "hot_fraction", |c, p, v| {
                    let f = probability(c, p, v)?;
                    if f == 0.0 {
                        c.invalid(p, v, "is impossible: the hot set needs at least one key");
                        return None;
                    }
                    if f * (count as f64) < 1.0 {
                        c.invalid(
                            p,
                            v,
                            format!("is less than one key of {count}: raise it or keys.count"),
                        );
                        return None;
                    }
                    Some(f)
                })
                .or(pf);
            let hot_share = t.field(ctx, "hot_share", probability).or(ps);
            KeyDist::Hotspot {
                hot_fraction,
                hot_share,
            }
        }
    };
    ok.then_some(KeySpace {
        count,
        distribution,
    })
}

/// `mix = { get, set, delete, incr, mget, expire }`: shares summing to 1;
/// missing ones are 0.
fn read_mix(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<Mix> {
    let names = OpKind::ALL.map(|k| k.as_str());
    let t = Table::open(ctx, path, v, &names, "{ get = 0.9, set = 0.1 }")?;
    let mut m = Mix::default();
    let mut valid = true;
    for kind in OpKind::ALL {
        match t.field(ctx, kind.as_str(), probability) {
            Field::Valid(share) => m.set_share(kind, share),
            Field::Invalid => valid = false,
            _ => {}
        }
    }
    if !valid {
        return None;
    }
    let sum = m.sum();
    if (sum - 1.0).abs() > 1e-6 {
        let terms: Vec<String> = m
            .shares()
            .iter()
            .filter(|(_, share)| *share > 0.0)
            .map(|(kind, share)| format!("{} {share}", kind.as_str()))
            .collect();
        ctx.invalid(
            path,
            v,
            format!(
                "sums to {sum} ({}): the shares must sum to 1",
                terms.join(" + ")
            ),
        );
        return None;
    }
    Some(m)
}

const VALUE_SHAPES: &str =
    "a size (\"100B\"), { min, max } (uniform) or { median, sigma, max } (lognormal)";

/// `value_size`: a size, `{ min, max }` or `{ median, sigma, max }`.
fn read_value_size(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<ValueSize> {
    let bounded = |ctx: &mut Ctx<'_>, p: &str, v: &Value<'_>| {
        let b = size(ctx, p, v)?;
        if b > MAX_VALUE_SIZE {
            ctx.invalid(
                p,
                v,
                format!(
                    "is too large: a value is at most {} (Redis's limit)",
                    format_size(MAX_VALUE_SIZE)
                ),
            );
            return None;
        }
        Some(b)
    };
    if !v.get_ref().is_table() {
        return bounded(ctx, path, v).map(ValueSize::Fixed);
    }
    let t = Table::open(
        ctx,
        path,
        v,
        &["min", "max", "median", "sigma"],
        VALUE_SHAPES,
    )?;
    let max = match t.field(ctx, "max", bounded) {
        Field::Absent => {
            t.missing(ctx, "max", "the largest value size, like \"4KiB\"");
            return None;
        }
        f => f.valid()?,
    };
    if t.has("median") {
        if t.has("min") {
            ctx.error(
                &t.span,
                format!("{path}: expected {VALUE_SHAPES}; found both min and median"),
            );
            return None;
        }
        let median = t.field(ctx, "median", bounded).valid()?;
        let sig = match t.field(ctx, "sigma", sigma) {
            Field::Absent => {
                t.missing(ctx, "sigma", "the lognormal's shape, a number like 0.5");
                return None;
            }
            f => f.valid()?,
        };
        if median == 0 || median > max {
            let mv = t.get("median").expect("checked above");
            ctx.invalid(
                &t.path_of("median"),
                mv,
                format!("is impossible: expected 1B..=max ({})", format_size(max)),
            );
            return None;
        }
        return Some(ValueSize::LogNormal {
            median,
            sigma: sig,
            max,
        });
    }
    let min = match t.field(ctx, "min", bounded) {
        Field::Absent => {
            t.missing(ctx, "min", "the smallest value size, like \"64B\"");
            return None;
        }
        f => f.valid()?,
    };
    if min > max {
        let mv = t.get("min").expect("checked above");
        ctx.invalid(
            &t.path_of("min"),
            mv,
            format!("is impossible: min must be <= max ({})", format_size(max)),
        );
        return None;
    }
    Some(ValueSize::Uniform { min, max })
}
