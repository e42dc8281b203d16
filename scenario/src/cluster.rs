//! Reading `[cluster]`, `[capacity]` and `[network]`, with their per-node
//! overrides (`[cluster.node.node-3]`, `[capacity.node.node-3]`,
//! `[network.node.node-3]`) and `[[network.link]]`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{
    Capacity, Cluster, CostDist, Eviction, LatencyDist, Network, PlacementKind, RTO_MAX,
    Replication, node_name,
};
use super::reader::{
    Ctx, Field, Table, Value, boolean, closest, duration, number, probability, size, string, uint32,
};

/// Largest cluster a scenario may describe.
pub(super) const MAX_NODES: u32 = 1024;

/// Default cluster settings, used when `[cluster]` omits a key.
pub(super) mod defaults {
    pub const NODES: u32 = 3;
    pub const VNODES: u32 = 128;
    pub const REPLICA_TIMEOUT_MS: u64 = 10;
    pub const MAXMEMORY: u64 = 256_000_000;
    pub const CORES: u32 = 2;
    pub const OP_COST_US: u64 = 20;
    pub const PER_KB_COST_US: u64 = 2;
    pub const QUEUE_LIMIT: u32 = 2000;
    pub const LATENCY_US: u64 = 100;
    /// Linux's minimum retransmission timeout (`TCP_RTO_MIN`, 200 ms). In
    /// a data centre the round trip is far below it, so Linux's RTO
    /// (max(rto_min, srtt + 4 rttvar)) is this floor unless the route is
    /// tuned (`ip route change ... rto_min 5ms`); an untuned host is the
    /// honest default for a capacity plan.
    pub const RTO_MS: u64 = 200;
    pub const ANTI_ENTROPY_KEYS: u32 = 1000;
    pub const PHI_THRESHOLD: f64 = 8.0;
    pub const HANDOFF_MAX_HINTS: u64 = 10_000;
    pub const JOIN_STREAM_KEYS: u32 = 500;
    pub const JOIN_STREAM_INTERVAL_MS: u64 = 10;
}

/// Reads the failure detector's and hinted handoff's keys of `[cluster]`.
fn read_liveness(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, cluster: &mut Cluster) {
    cluster.heartbeat_interval = t
        .field(ctx, "heartbeat_interval", super::reader::positive_duration)
        .valid();
    cluster.phi_threshold = t
        .field(ctx, "phi_threshold", |c, p, v| {
            let x = number(c, p, v, "a number above 0, like 8")?;
            if x <= 0.0 {
                c.invalid(p, v, "is impossible: expected a number above 0, like 8");
                return None;
            }
            Some(x)
        })
        .or(defaults::PHI_THRESHOLD);
    cluster.hinted_handoff = t.field(ctx, "hinted_handoff", boolean).or(false);
    let handoff = cluster.hinted_handoff;
    cluster.sloppy_quorum = t
        .field(ctx, "sloppy_quorum", |c, p, v| {
            let on = boolean(c, p, v)?;
            if on && !handoff {
                c.invalid(
                    p,
                    v,
                    "needs hinted_handoff = true: a stand-in keeps the write as a hint for its owner",
                );
                return None;
            }
            Some(on)
        })
        .or(false);
    cluster.handoff_max_hints = t
        .field(ctx, "handoff_max_hints", |c, p, v| {
            super::reader::uint(c, p, v, 1, u64::from(u32::MAX))
        })
        .or(defaults::HANDOFF_MAX_HINTS) as usize;
    cluster.join_stream = t.field(ctx, "join_stream", boolean).or(false);
    cluster.join_stream_keys = t
        .field(ctx, "join_stream_keys", |c, p, v| {
            uint32(c, p, v, 1, 1_000_000)
        })
        .or(defaults::JOIN_STREAM_KEYS) as usize;
    cluster.join_stream_interval = t
        .field(
            ctx,
            "join_stream_interval",
            super::reader::positive_duration,
        )
        .or(cluster.join_stream_interval);
}

/// Checks that `v` names a node of the cluster (`"node-3"`) and returns the
/// name. `nodes` is `None` when `cluster.nodes` was itself invalid: then
/// only the form is checked.
pub(super) fn node_ref(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Value<'_>,
    nodes: Option<u32>,
) -> Option<String> {
    let name = string(ctx, path, v)?;
    check_node_name(ctx, path, v, name, nodes)
}

/// As [`node_ref`] for a name already read (a table key).
pub(super) fn check_node_name(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Value<'_>,
    name: &str,
    nodes: Option<u32>,
) -> Option<String> {
    let range = match nodes {
        Some(1) => "the cluster has one node, node-1 (cluster.nodes = 1)".to_string(),
        Some(n) => format!("the cluster has node-1..node-{n} (cluster.nodes = {n})"),
        None => "nodes are named node-1, node-2, ...".to_string(),
    };
    let index = name
        .strip_prefix("node-")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
        .and_then(|d| d.parse::<u32>().ok());
    match (index, nodes) {
        (None, _) => {
            ctx.error(
                &v.span(),
                format!("{path}: {name:?} is not a node name: {range}"),
            );
            None
        }
        (Some(i), Some(n)) if i > n => {
            ctx.error(
                &v.span(),
                format!("{path}: {name:?} names a missing node: {range}"),
            );
            None
        }
        (Some(i), _) => Some(node_name(i)),
    }
}

/// Reads `[cluster]` (all optional). Returns the cluster and whether its
/// node count is trustworthy for checking node names elsewhere.
pub(super) fn read_cluster(ctx: &mut Ctx<'_>, v: Option<&Value<'_>>) -> (Cluster, Option<u32>) {
    let mut cluster = Cluster {
        nodes: defaults::NODES,
        vnodes: defaults::VNODES,
        replication: default_replication(defaults::NODES),
        replica_timeout: Duration::from_millis(defaults::REPLICA_TIMEOUT_MS),
        maxmemory: defaults::MAXMEMORY,
        eviction: Eviction::AllKeysLru,
        node_vnodes: BTreeMap::new(),
        placement: PlacementKind::Ring,
        heartbeat_interval: None,
        phi_threshold: defaults::PHI_THRESHOLD,
        hinted_handoff: false,
        sloppy_quorum: false,
        handoff_max_hints: defaults::HANDOFF_MAX_HINTS as usize,
        join_stream: false,
        join_stream_keys: defaults::JOIN_STREAM_KEYS as usize,
        join_stream_interval: Duration::from_millis(defaults::JOIN_STREAM_INTERVAL_MS),
        anti_entropy_interval: None,
        anti_entropy_keys: defaults::ANTI_ENTROPY_KEYS as usize,
    };
    let Some(v) = v else {
        return (cluster, Some(defaults::NODES));
    };
    let known = [
        "nodes",
        "vnodes",
        "replication",
        "replica_timeout",
        "maxmemory",
        "eviction",
        "placement",
        "anti_entropy_interval",
        "anti_entropy_keys",
        "node",
        "heartbeat_interval",
        "phi_threshold",
        "hinted_handoff",
        "sloppy_quorum",
        "handoff_max_hints",
        "join_stream",
        "join_stream_keys",
        "join_stream_interval",
    ];
    let Some(t) = Table::open(ctx, "cluster", v, &known, "a table [cluster]") else {
        return (cluster, None);
    };
    let nodes = match t.field(ctx, "nodes", |c, p, v| uint32(c, p, v, 1, MAX_NODES)) {
        Field::Valid(n) => Some(n),
        Field::Absent => Some(defaults::NODES),
        Field::Invalid => None,
    };
    cluster.nodes = nodes.unwrap_or(defaults::NODES);
    cluster.vnodes = t
        .field(ctx, "vnodes", |c, p, v| uint32(c, p, v, 1, 65_536))
        .or(defaults::VNODES);
    cluster.replication = match t.get("replication") {
        None => default_replication(cluster.nodes),
        Some(v) => read_replication(ctx, v, nodes).unwrap_or(default_replication(cluster.nodes)),
    };
    cluster.replica_timeout = t
        .field(ctx, "replica_timeout", super::reader::positive_duration)
        .or(cluster.replica_timeout);
    if let Field::Valid(d) = t.field(
        ctx,
        "anti_entropy_interval",
        super::reader::positive_duration,
    ) {
        cluster.anti_entropy_interval = Some(d);
    }
    cluster.anti_entropy_keys = t
        .field(ctx, "anti_entropy_keys", |c, p, v| {
            uint32(c, p, v, 1, 1_000_000)
        })
        .or(defaults::ANTI_ENTROPY_KEYS) as usize;
    cluster.maxmemory = t
        .field(ctx, "maxmemory", |c, p, v| {
            let b = size(c, p, v)?;
            if b == 0 {
                c.invalid(
                    p,
                    v,
                    "is impossible: a node needs some memory, like \"256MB\"",
                );
                return None;
            }
            Some(b)
        })
        .or(cluster.maxmemory);
    cluster.eviction = t
        .field(ctx, "eviction", |c, p, v| {
            let name = string(c, p, v)?;
            let e = Eviction::from_name(name);
            if e.is_none() {
                let names: Vec<&str> = Eviction::ALL.iter().map(|e| e.as_str()).collect();
                let hint = closest(name, names.iter().copied())
                    .map(|b| format!("did you mean \"{b}\"? "))
                    .unwrap_or_default();
                c.invalid(
                    p,
                    v,
                    format!(
                        "is not an eviction policy: {hint}expected one of {}",
                        names.join(", ")
                    ),
                );
            }
            e
        })
        .or(cluster.eviction);
    cluster.placement = t
        .field(ctx, "placement", |c, p, v| {
            let name = string(c, p, v)?;
            let kind = name.parse::<PlacementKind>().ok();
            if kind.is_none() {
                c.invalid(
                    p,
                    v,
                    "is not a placement: expected \"ring\" (consistent hashing, the default) or \"modn\" (hash mod N)",
                );
            }
            kind
        })
        .or(cluster.placement);
    read_liveness(ctx, &t, &mut cluster);
    per_node(ctx, &t, nodes, &["vnodes"], |ctx, name, one| {
        if let Field::Valid(n) = one.field(ctx, "vnodes", |c, p, v| uint32(c, p, v, 1, 65_536)) {
            cluster.node_vnodes.insert(name.to_string(), n);
        }
    });
    (cluster, nodes)
}

/// Reads the per-node overrides `[<section>.node.<name>]` of section `t`:
/// checks each name, opens its table with `known` keys, and hands it to `f`.
fn per_node<'a, 'i>(
    ctx: &mut Ctx<'_>,
    t: &Table<'a, 'i>,
    nodes: Option<u32>,
    known: &[&str],
    mut f: impl FnMut(&mut Ctx<'_>, &str, &Table<'a, 'i>),
) {
    let Some(nv) = t.get("node") else {
        return;
    };
    let path = t.path_of("node");
    let shape = format!("a table of nodes, like [{path}.node-3]");
    let Some(nt) = Table::open_any(ctx, &path, nv, &shape) else {
        return;
    };
    for (name, _, value) in nt.entries() {
        let path = nt.path_of(name);
        if check_node_name(ctx, &path, value, name, nodes).is_none() {
            continue;
        }
        let shape = format!("a table with {}", known.join(", "));
        if let Some(one) = Table::open(ctx, &path, value, known, &shape) {
            f(ctx, name, &one);
        }
    }
}

/// N = min(3, nodes), R = W = a majority of N.
fn default_replication(nodes: u32) -> Replication {
    let n = nodes.min(3);
    Replication {
        n,
        r: n / 2 + 1,
        w: n / 2 + 1,
    }
}

fn read_replication(ctx: &mut Ctx<'_>, v: &Value<'_>, nodes: Option<u32>) -> Option<Replication> {
    let t = Table::open(
        ctx,
        "cluster.replication",
        v,
        &["n", "r", "w"],
        "{ n = 3, r = 2, w = 2 }",
    )?;
    let n = match t.field(ctx, "n", |c, p, v| {
        let n = uint32(c, p, v, 1, MAX_NODES)?;
        if let Some(nodes) = nodes.filter(|&nodes| n > nodes) {
            c.invalid(
                p,
                v,
                format!("is impossible: N must be <= cluster.nodes ({nodes}): a key cannot have more replicas than there are nodes"),
            );
            return None;
        }
        Some(n)
    }) {
        Field::Valid(n) => n,
        Field::Absent => nodes.unwrap_or(defaults::NODES).min(3),
        Field::Invalid => return None,
    };
    let quorum = |ctx: &mut Ctx<'_>, key: &str, letter: &str| {
        t.field(ctx, key, |c, p, v| {
            let x = uint32(c, p, v, 1, MAX_NODES)?;
            if x > n {
                c.invalid(p, v, format!("is impossible: {letter} must be <= N ({n})"));
                return None;
            }
            Some(x)
        })
    };
    let r = quorum(ctx, "r", "R").or(n / 2 + 1);
    let w = quorum(ctx, "w", "W").or(n / 2 + 1);
    Some(Replication { n, r, w })
}

/// Reads `[capacity]` and its per-node overrides.
pub(super) fn read_capacity(
    ctx: &mut Ctx<'_>,
    v: Option<&Value<'_>>,
    nodes: Option<u32>,
) -> (Capacity, BTreeMap<String, Capacity>) {
    let base = Capacity {
        cores: defaults::CORES,
        op_cost: CostDist::Constant(Duration::from_micros(defaults::OP_COST_US)),
        per_kb_cost: Duration::from_micros(defaults::PER_KB_COST_US),
        queue_limit: defaults::QUEUE_LIMIT,
    };
    let mut overrides = BTreeMap::new();
    let Some(v) = v else {
        return (base, overrides);
    };
    let known = ["cores", "op_cost", "per_kb_cost", "queue_limit", "node"];
    let Some(t) = Table::open(ctx, "capacity", v, &known, "a table [capacity]") else {
        return (base, overrides);
    };
    let cap = capacity_fields(ctx, &t, &base);
    per_node(ctx, &t, nodes, &known[..4], |ctx, name, one| {
        overrides.insert(name.to_string(), capacity_fields(ctx, one, &cap));
    });
    (cap, overrides)
}

/// The capacity keys of `t`, each defaulting to `base`'s.
fn capacity_fields(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, base: &Capacity) -> Capacity {
    Capacity {
        cores: t
            .field(ctx, "cores", |c, p, v| uint32(c, p, v, 1, 1024))
            .or(base.cores),
        op_cost: t.field(ctx, "op_cost", cost_dist).or(base.op_cost),
        per_kb_cost: t.field(ctx, "per_kb_cost", duration).or(base.per_kb_cost),
        queue_limit: t
            .field(ctx, "queue_limit", |c, p, v| {
                uint32(c, p, v, 1, 100_000_000)
            })
            .or(base.queue_limit),
    }
}

const COST_SHAPES: &str = "a duration (\"20us\"), { mean = \"20us\" } (exponential) or { median = \"20us\", sigma = 0.5 } (lognormal)";

/// An operation's cost: a constant, `{ mean }` or `{ median, sigma }`.
pub(super) fn cost_dist(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<CostDist> {
    if v.get_ref().is_str() {
        return duration(ctx, path, v).map(CostDist::Constant);
    }
    let t = Table::open(ctx, path, v, &["mean", "median", "sigma"], COST_SHAPES)?;
    match (t.has("mean"), t.has("median")) {
        (true, false) if !t.has("sigma") => {
            let mean = t.field(ctx, "mean", duration).valid()?;
            Some(CostDist::Exponential { mean })
        }
        (false, true) => {
            let (median, sigma) = lognormal(ctx, &t)?;
            Some(CostDist::LogNormal { median, sigma })
        }
        _ => {
            ctx.error(&t.span, format!("{path}: expected {COST_SHAPES}"));
            None
        }
    }
}

/// `median` (a duration above zero) and `sigma` (0..=10) of a lognormal.
fn lognormal(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<(Duration, f64)> {
    let median = t.field(ctx, "median", super::reader::positive_duration);
    let sigma = match t.field(ctx, "sigma", sigma) {
        Field::Absent => {
            t.missing(ctx, "sigma", "the lognormal's shape, a number like 0.5");
            None
        }
        f => f.valid(),
    };
    Some((median.valid()?, sigma?))
}

/// A lognormal's sigma: finite, in 0..=10.
pub(super) fn sigma(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<f64> {
    let s = number(ctx, path, v, "a number in 0..=10, like 0.5")?;
    if !(0.0..=10.0).contains(&s) {
        ctx.invalid(
            path,
            v,
            "is out of range: expected a sigma in 0..=10 (0.5 is a moderate tail)",
        );
        return None;
    }
    Some(s)
}

const LATENCY_SHAPES: &str =
    "a duration (\"200us\"), { base, jitter }, { min, max } or { median, sigma }";

/// A latency distribution: a fixed duration, `{ base, jitter }`,
/// `{ min, max }` or `{ median, sigma }`.
pub(super) fn latency_dist(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<LatencyDist> {
    if v.get_ref().is_str() {
        return duration(ctx, path, v).map(LatencyDist::Fixed);
    }
    let known = ["base", "jitter", "min", "max", "median", "sigma"];
    let t = Table::open(ctx, path, v, &known, LATENCY_SHAPES)?;
    let given: Vec<&str> = known.iter().copied().filter(|k| t.has(k)).collect();
    match given.as_slice() {
        ["base"] => t
            .field(ctx, "base", duration)
            .valid()
            .map(LatencyDist::Fixed),
        ["base", "jitter"] => {
            let base = t.field(ctx, "base", duration).valid();
            let jitter = t.field(ctx, "jitter", duration).valid();
            Some(LatencyDist::BaseJitter {
                base: base?,
                jitter: jitter?,
            })
        }
        ["min", "max"] => {
            let min = t.field(ctx, "min", duration).valid()?;
            let max = t.field(ctx, "max", duration).valid()?;
            if max < min {
                if let Some(mv) = t.get("max") {
                    ctx.invalid(
                        &t.path_of("max"),
                        mv,
                        format!(
                            "is impossible: max must be >= min ({})",
                            super::units::format_duration(min)
                        ),
                    );
                }
                return None;
            }
            Some(LatencyDist::Uniform { min, max })
        }
        ["median", "sigma"] | ["median"] => {
            let (median, sigma) = lognormal(ctx, &t)?;
            Some(LatencyDist::LogNormal { median, sigma })
        }
        _ => {
            ctx.error(
                &t.span,
                format!(
                    "{path}: expected {LATENCY_SHAPES}; found keys {}",
                    given.join(", ")
                ),
            );
            None
        }
    }
}

/// A retransmission timeout: above zero and at most [`RTO_MAX`].
fn rto(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<Duration> {
    let d = super::reader::positive_duration(ctx, path, v)?;
    if d > RTO_MAX {
        ctx.invalid(
            path,
            v,
            "is impossible: expected at most 120s (Linux's TCP_RTO_MAX)",
        );
        return None;
    }
    Some(d)
}

/// Reads `[network]`, `[network.node.*]` and `[[network.link]]`.
pub(super) fn read_network(
    ctx: &mut Ctx<'_>,
    v: Option<&Value<'_>>,
    nodes: Option<u32>,
) -> Network {
    let mut net = Network {
        latency: LatencyDist::Fixed(Duration::from_micros(defaults::LATENCY_US)),
        loss: 0.0,
        rto: Duration::from_millis(defaults::RTO_MS),
        node_extra: BTreeMap::new(),
        link_extra: BTreeMap::new(),
    };
    let Some(v) = v else {
        return net;
    };
    let known = ["latency", "loss", "rto", "node", "link"];
    let Some(t) = Table::open(ctx, "network", v, &known, "a table [network]") else {
        return net;
    };
    net.latency = t.field(ctx, "latency", latency_dist).or(net.latency);
    net.loss = t.field(ctx, "loss", probability).or(0.0);
    net.rto = t.field(ctx, "rto", rto).or(net.rto);
    per_node(ctx, &t, nodes, &["extra_latency"], |ctx, name, one| {
        if let Field::Valid(d) = one.field(ctx, "extra_latency", duration) {
            net.node_extra.insert(name.to_string(), d);
        }
    });
    if let Some(lv) = t.get("link") {
        let Some(links) = lv.get_ref().as_array() else {
            ctx.wrong_type(
                "network.link",
                lv,
                "an array of tables, written [[network.link]]",
            );
            return net;
        };
        for (i, item) in links.iter().enumerate() {
            let path = format!("network.link[{}]", i + 1);
            let known = ["from", "to", "extra_latency", "both_ways"];
            let Some(lt) = Table::open(ctx, &path, item, &known, "{ from, to, extra_latency }")
            else {
                continue;
            };
            let from = endpoint(ctx, &lt, "from", nodes);
            let to = endpoint(ctx, &lt, "to", nodes);
            let extra = match lt.field(ctx, "extra_latency", duration) {
                Field::Absent => {
                    lt.missing(ctx, "extra_latency", "a duration, like \"2ms\"");
                    None
                }
                f => f.valid(),
            };
            let both = lt.field(ctx, "both_ways", boolean).or(false);
            let (Some(from), Some(to), Some(extra)) = (from, to, extra) else {
                continue;
            };
            if from == to {
                ctx.error(
                    &lt.span,
                    format!(
                        "{path}: from and to are both {from}: a link joins two different nodes"
                    ),
                );
                continue;
            }
            if both {
                net.link_extra.insert((to.clone(), from.clone()), extra);
            }
            net.link_extra.insert((from, to), extra);
        }
    }
    net
}

/// A required node name at `key` of `t`.
pub(super) fn endpoint(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    key: &str,
    nodes: Option<u32>,
) -> Option<String> {
    match t.field(ctx, key, |c, p, v| node_ref(c, p, v, nodes)) {
        Field::Absent => {
            t.missing(ctx, key, "a node name, like \"node-1\"");
            None
        }
        f => f.valid(),
    }
}
