//! The validated scenario: plain types with no spans, every value checked.
//!
//! Nodes are named `"node-1"` to `"node-N"` (1-based, N = `cluster.nodes`);
//! every name that reaches these types is one of those. Durations are model
//! time; sizes are bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp1, LogNormal};

pub use ringlab_core::ring::PlacementKind;

use super::units::format_duration;

/// The name of node `i` (1-based): `node_name(3) == "node-3"`.
pub fn node_name(i: u32) -> String {
    format!("node-{i}")
}

/// The cluster's shape and the cache's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Number of nodes, named `node-1` .. `node-<nodes>`.
    pub nodes: u32,
    /// Virtual nodes per node on the ring, unless overridden per node.
    pub vnodes: u32,
    /// N, R and W.
    pub replication: Replication,
    /// How long a coordinator waits for a replica's answer before counting it
    /// as failed.
    pub replica_timeout: Duration,
    /// Memory limit per node, in bytes.
    pub maxmemory: u64,
    /// What a node evicts when it reaches `maxmemory`.
    pub eviction: Eviction,
    /// Per-node virtual node counts that differ from `vnodes` (a node's
    /// weight on the ring), by node name.
    pub node_vnodes: BTreeMap<String, u32>,
    /// How keys are placed on nodes: the ring (default) or `hash mod N`.
    pub placement: PlacementKind,
    /// Heartbeat period of the failure detector (None: off, the default).
    pub heartbeat_interval: Option<Duration>,
    /// phi above which a node suspects a peer.
    pub phi_threshold: f64,
    /// Coordinators keep the writes a replica missed and deliver them
    /// when it is back.
    pub hinted_handoff: bool,
    /// A stand-in node may hold a write for a down replica and count
    /// towards W (needs `hinted_handoff`).
    pub sloppy_quorum: bool,
    /// Hints a node keeps at most (the oldest drop first).
    pub handoff_max_hints: usize,
    /// Nodes pull the keys they replicate when they start (a join, a
    /// restart) and after a removal, and forward reads of keys not pulled
    /// yet (off by default).
    pub join_stream: bool,
    /// Keys per streaming batch.
    pub join_stream_keys: usize,
    /// Pause between two batches from one source.
    pub join_stream_interval: Duration,
    /// How often each node runs an anti-entropy round (None: off, the
    /// default).
    pub anti_entropy_interval: Option<Duration>,
    /// The most keys one anti-entropy round moves.
    pub anti_entropy_keys: usize,
}

impl Cluster {
    /// Every node's name, in order.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(node_name).collect()
    }

    /// Virtual nodes of `node` (its override, else `vnodes`).
    pub fn vnodes_of(&self, node: &str) -> u32 {
        self.node_vnodes.get(node).copied().unwrap_or(self.vnodes)
    }
}

/// Replication: each key lives on `n` nodes; a read waits for `r` answers,
/// a write for `w`. Validated: `1 <= r, w <= n <= nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    /// Replicas of each key.
    pub n: u32,
    /// Replies a read waits for.
    pub r: u32,
    /// Acknowledgements a write waits for.
    pub w: u32,
}

/// Eviction policies, named as Redis names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Eviction {
    /// Refuse writes that need memory (an OOM error) instead of evicting.
    NoEviction,
    /// Evict the least recently used key.
    AllKeysLru,
    /// Evict the least frequently used key.
    AllKeysLfu,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// The key with the nearest expiry first.
    VolatileTtl,
}

impl Eviction {
    /// Every policy, in the order documented.
    pub const ALL: [Eviction; 6] = [
        Eviction::NoEviction,
        Eviction::AllKeysLru,
        Eviction::AllKeysLfu,
        Eviction::VolatileLru,
        Eviction::VolatileLfu,
        Eviction::VolatileTtl,
    ];

    /// The name in a scenario file (Redis's `maxmemory-policy` value).
    pub fn as_str(&self) -> &'static str {
        match self {
            Eviction::NoEviction => "noeviction",
            Eviction::AllKeysLru => "allkeys-lru",
            Eviction::AllKeysLfu => "allkeys-lfu",
            Eviction::VolatileLru => "volatile-lru",
            Eviction::VolatileLfu => "volatile-lfu",
            Eviction::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy named `name`, if any.
    pub fn from_name(name: &str) -> Option<Eviction> {
        Eviction::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// What one simulated node can do: `cores` servers, each operation costing
/// `op_cost` plus `per_kb_cost` per KiB of the request it received (see
/// [`Capacity::per_kb_cost`]), with at most `queue_limit`
/// operations waiting (more are rejected as overload).
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// Operations served at once.
    pub cores: u32,
    /// Service time of one operation, before the per-KiB part.
    pub op_cost: CostDist,
    /// Extra service time per KiB (1024 bytes) of the request the node
    /// received: a client command's arguments as sent (name, keys, values:
    /// a SET's value counts, a GET's reply does not), or a replica request's
    /// key plus the value it writes (a replica read: the key only).
    pub per_kb_cost: Duration,
    /// Operations that may wait for a core; one more is rejected.
    pub queue_limit: u32,
}

/// The distribution of one operation's base service time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CostDist {
    /// Always the same.
    Constant(Duration),
    /// Exponential with this mean (an M/M/c queue's service).
    Exponential { mean: Duration },
    /// Lognormal with this median and shape `sigma` (a long right tail).
    LogNormal { median: Duration, sigma: f64 },
}

impl CostDist {
    /// The mean service time, for capacity estimates (cores / mean = ops/s).
    pub fn mean(&self) -> Duration {
        match *self {
            CostDist::Constant(d) => d,
            CostDist::Exponential { mean } => mean,
            CostDist::LogNormal { median, sigma } => scale(median, (sigma * sigma / 2.0).exp()),
        }
    }

    /// One service time drawn from `rng`.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            CostDist::Constant(d) => d,
            CostDist::Exponential { mean } => sample_exp(mean, rng),
            CostDist::LogNormal { median, sigma } => sample_lognormal(median, sigma, rng),
        }
    }
}

/// Longest wait between retransmissions of one lost message: Linux's
/// `TCP_RTO_MAX` (120 s). Also the largest `network.rto` a scenario may set.
pub const RTO_MAX: Duration = Duration::from_secs(120);

/// The network between machines.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// One-way latency of every message.
    pub latency: LatencyDist,
    /// Probability that a message is lost (on TCP: delayed by a
    /// retransmission), in 0..=1.
    pub loss: f64,
    /// Retransmission timeout of a lost message (model time, above zero):
    /// a lost message is sent again after it, then after twice it, and so
    /// on up to [`RTO_MAX`], and the messages behind it on its connection
    /// wait (TCP's head-of-line blocking).
    pub rto: Duration,
    /// Extra one-way latency on every message to or from a node, by name.
    pub node_extra: BTreeMap<String, Duration>,
    /// Extra one-way latency on messages from one node to another, keyed by
    /// `(from, to)`.
    pub link_extra: BTreeMap<(String, String), Duration>,
}

impl Network {
    /// Extra latency from `from` to `to` beyond [`Network::latency`]: both
    /// nodes' extras plus the link's.
    pub fn extra(&self, from: &str, to: &str) -> Duration {
        let node = |n: &str| self.node_extra.get(n).copied().unwrap_or_default();
        let link = self
            .link_extra
            .get(&(from.to_string(), to.to_string()))
            .copied()
            .unwrap_or_default();
        node(from).saturating_add(node(to)).saturating_add(link)
    }

    /// Extra latency of a message between `node` and a client, either way:
    /// the node's own (clients have none, and links join nodes only).
    pub fn client_extra(&self, node: &str) -> Duration {
        self.node_extra.get(node).copied().unwrap_or_default()
    }
}

/// The distribution of one-way message latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyDist {
    /// Always the same.
    Fixed(Duration),
    /// `base` plus a uniform extra in `0..=jitter`.
    BaseJitter { base: Duration, jitter: Duration },
    /// Uniform in `min..=max`.
    Uniform { min: Duration, max: Duration },
    /// Lognormal with this median and shape `sigma`.
    LogNormal { median: Duration, sigma: f64 },
}

impl LatencyDist {
    /// The mean latency.
    pub fn mean(&self) -> Duration {
        match *self {
            LatencyDist::Fixed(d) => d,
            LatencyDist::BaseJitter { base, jitter } => base.saturating_add(jitter / 2),
            LatencyDist::Uniform { min, max } => min + (max.saturating_sub(min)) / 2,
            LatencyDist::LogNormal { median, sigma } => scale(median, (sigma * sigma / 2.0).exp()),
        }
    }

    /// One latency drawn from `rng`.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            LatencyDist::Fixed(d) => d,
            LatencyDist::BaseJitter { base, jitter } => {
                base.saturating_add(uniform_up_to(jitter, rng))
            }
            LatencyDist::Uniform { min, max } => min + uniform_up_to(max.saturating_sub(min), rng),
            LatencyDist::LogNormal { median, sigma } => sample_lognormal(median, sigma, rng),
        }
    }

    /// One latency drawn from `rng`, in whole µs: exactly
    /// `self.sample(rng).as_micros()`, from the same draws, without the
    /// `Duration` arithmetic (the fast engine draws one per message).
    pub fn sample_micros(&self, rng: &mut impl Rng) -> u64 {
        if let LatencyDist::BaseJitter { base, jitter } = *self
            && let (Ok(base), Ok(jitter)) = (
                u64::try_from(base.as_nanos()),
                u64::try_from(jitter.as_nanos()),
            )
            && base.checked_add(jitter).is_some()
        {
            return (base + rng.random_range(0..=jitter)) / 1000;
        }
        u64::try_from(self.sample(rng).as_micros()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for LatencyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LatencyDist::Fixed(d) => write!(f, "{}", format_duration(d)),
            LatencyDist::BaseJitter { base, jitter } => write!(
                f,
                "{} + up to {}",
                format_duration(base),
                format_duration(jitter)
            ),
            LatencyDist::Uniform { min, max } => {
                write!(f, "{}..{}", format_duration(min), format_duration(max))
            }
            LatencyDist::LogNormal { median, sigma } => write!(
                f,
                "lognormal(median {}, sigma {sigma})",
                format_duration(median)
            ),
        }
    }
}

/// Uniform in `0..=max`, to the nanosecond.
fn uniform_up_to(max: Duration, rng: &mut impl Rng) -> Duration {
    let ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=ns))
}

/// `d * factor`, saturating instead of panicking (a lognormal's mean with
/// a large sigma can exceed any `Duration`).
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Longest single sample: a day. Far beyond any timeout, and it keeps one
/// freak draw from a heavy tail from stalling a simulation for years.
const SAMPLE_CAP: Duration = Duration::from_secs(86_400);

fn sample_exp(mean: Duration, rng: &mut impl Rng) -> Duration {
    let x: f64 = Exp1.sample(rng);
    scale(mean, x).min(SAMPLE_CAP)
}

fn sample_lognormal(median: Duration, sigma: f64, rng: &mut impl Rng) -> Duration {
    // A sigma the file could not have given (negative, NaN) means no spread.
    if !(sigma.is_finite() && sigma >= 0.0) {
        return median;
    }
    match LogNormal::new(0.0, sigma) {
        Ok(dist) => scale(median, dist.sample(rng)).min(SAMPLE_CAP),
        Err(_) => median,
    }
}

/// How the client machines (the application servers) use the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Cache only, cache-aside or write-through.
    pub pattern: Pattern,
    /// What a cache-aside write does to the cached copy.
    pub on_write: OnWrite,
    /// TTL of the value the app writes into the cache after a miss (none:
    /// it stays until evicted or overwritten).
    pub fill_ttl: Option<Duration>,
    /// Singleflight: one database read per key at a time per client machine;
    /// other misses of that key wait for it.
    pub coalesce: bool,
    /// A small per-client-machine cache in front of the cluster.
    pub near_cache: Option<NearCacheSpec>,
}

impl Default for App {
    /// Today's behaviour: requests go to the cache and nowhere else.
    fn default() -> Self {
        App {
            pattern: Pattern::Direct,
            on_write: OnWrite::Delete,
            fill_ttl: None,
            coalesce: false,
            near_cache: None,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// The cache only; a miss is just a miss.
    Direct,
    /// Reads try the cache, then the database, then fill the cache; writes
    /// go to the database, then delete or update the cached copy.
    CacheAside,
    /// Writes go to the database and the cache at once and are answered
    /// when both are done; reads as cache-aside.
    WriteThrough,
}

impl Pattern {
    /// The name in a scenario file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Pattern::Direct => "direct",
            Pattern::CacheAside => "cache-aside",
            Pattern::WriteThrough => "write-through",
        }
    }

    /// The pattern named `name`, if any.
    pub fn from_name(name: &str) -> Option<Pattern> {
        [Pattern::Direct, Pattern::CacheAside, Pattern::WriteThrough]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// What a cache-aside write does to the cache after the database write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnWrite {
    /// DEL the key: the next read misses and fills it.
    Delete,
    /// SET the new value.
    Update,
}

impl OnWrite {
    /// The name in a scenario file.
    pub fn as_str(&self) -> &'static str {
        match self {
            OnWrite::Delete => "delete",
            OnWrite::Update => "update",
        }
    }

    /// The policy named `name`, if any.
    pub fn from_name(name: &str) -> Option<OnWrite> {
        [OnWrite::Delete, OnWrite::Update]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// A client machine's near-cache: LRU over `keys` entries, each served for
/// at most `ttl` after it was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearCacheSpec {
    /// Entries kept; the least recently used goes first.
    pub keys: u64,
    /// How long an entry may be served after it was filled.
    pub ttl: Duration,
}

/// The simulated database behind the cache: `concurrency` queries served at
/// once, FIFO, each taking a `latency` sample; at most `queue_limit` wait.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSpec {
    /// Service time of one query.
    pub latency: CostDist,
    /// Queries served at once.
    pub concurrency: u32,
    /// Queries that may wait; one more is refused.
    pub queue_limit: u32,
    /// How long the app waits for a query before giving up (none: as long
    /// as the request's own timeout allows).
    pub timeout: Option<Duration>,
}

/// One event of the fault timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Model time since the run started (the first phase's start).
    pub at: Duration,
    /// What happens.
    pub action: FaultAction,
}

/// What happens at a fault's time. Node names are validated.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// The node's process dies (its memory is lost).
    Kill(String),
    /// A killed node starts again, empty.
    Restart(String),
    /// The nodes split into groups that reach only their own group. Every
    /// node is in exactly one group (nodes the file did not name form one
    /// more group together).
    Partition(Vec<Vec<String>>),
    /// The partition ends and every cut link is restored.
    Heal,
    /// Messages from `from` to `to` are dropped (one direction).
    CutLink { from: String, to: String },
    /// A cut link carries messages again.
    RestoreLink { from: String, to: String },
    /// The node's operations cost `factor` times as much; 1 restores it.
    Slow { node: String, factor: f64 },
    /// The network's base latency changes.
    SetLatency(LatencyDist),
    /// The network's loss probability changes.
    SetLoss(f64),
    /// A node declared in `[cluster]` starts and joins the running cluster
    /// (it is not a member before; with `join_stream` it pulls its keys,
    /// else nothing migrates to it).
    Join(String),
    /// The node's clock reads model time + `offset_us` from now on, and
    /// gains `drift_ppm` µs per model second after (both 0 undoes it).
    Skew {
        node: String,
        offset_us: i64,
        drift_ppm: i32,
    },
    /// A running member leaves gracefully (`CLUSTER LEAVE`): it hands its
    /// keys to their owners without it, then every member removes it. It
    /// keeps serving its clients as a proxy.
    Leave(String),
    /// A dead member is forgotten for good (`CLUSTER FORGET` on every
    /// member): its keys are not handed off.
    Remove(String),
    /// The node's process stops (a stop-the-world GC pause, SIGSTOP, a
    /// VM's stun): it runs nothing, so it neither reads, answers nor fires
    /// its timers, and what reaches it waits, as bytes in a socket buffer
    /// do. Its memory and connections stay.
    Pause(String),
    /// A paused node runs again: everything that waited for it happens at
    /// once, in the order it arrived.
    Resume(String),
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Kill(n) => write!(f, "kill {n}"),
            FaultAction::Restart(n) => write!(f, "restart {n}"),
            FaultAction::Partition(groups) => {
                let groups: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
                write!(f, "partition {}", groups.join(" | "))
            }
            FaultAction::Heal => write!(f, "heal"),
            FaultAction::CutLink { from, to } => write!(f, "cut {from} -> {to}"),
            FaultAction::RestoreLink { from, to } => write!(f, "restore {from} -> {to}"),
            FaultAction::Slow { node, factor } => write!(f, "slow {node} x{factor}"),
            FaultAction::SetLatency(l) => write!(f, "latency {l}"),
            FaultAction::SetLoss(p) => write!(f, "loss {p}"),
            FaultAction::Join(n) => write!(f, "join {n}"),
            FaultAction::Skew {
                node,
                offset_us,
                drift_ppm,
            } => {
                let sign = if *offset_us < 0 { "-" } else { "+" };
                let size = Duration::from_micros(offset_us.unsigned_abs());
                write!(
                    f,
                    "skew {node} {sign}{}",
                    crate::units::format_duration(size)
                )?;
                if *drift_ppm != 0 {
                    write!(f, " drift {drift_ppm:+}ppm")?;
                }
                Ok(())
            }
            FaultAction::Leave(n) => write!(f, "leave {n}"),
            FaultAction::Remove(n) => write!(f, "remove {n}"),
            FaultAction::Pause(n) => write!(f, "pause {n}"),
            FaultAction::Resume(n) => write!(f, "resume {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn samples_stay_in_their_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let us = Duration::from_micros;
        let bj = LatencyDist::BaseJitter {
            base: us(200),
            jitter: us(100),
        };
        let un = LatencyDist::Uniform {
            min: us(50),
            max: us(60),
        };
        for _ in 0..1000 {
            let s = bj.sample(&mut rng);
            assert!(s >= us(200) && s <= us(300), "{s:?}");
            let s = un.sample(&mut rng);
            assert!(s >= us(50) && s <= us(60), "{s:?}");
        }
        assert_eq!(LatencyDist::Fixed(us(7)).sample(&mut rng), us(7));
        assert_eq!(bj.mean(), us(250));
        // Extreme but valid parameters saturate instead of panicking.
        let wild = CostDist::LogNormal {
            median: Duration::from_secs(3600),
            sigma: 10.0,
        };
        assert_eq!(wild.mean(), Duration::MAX);
        assert!(wild.sample(&mut rng) <= SAMPLE_CAP);
        let broken = CostDist::LogNormal {
            median: us(5),
            sigma: -1.0,
        };
        assert_eq!(broken.sample(&mut rng), us(5));
    }

    proptest::proptest! {
        /// The fast engine's integer draw is the `Duration` draw, truncated
        /// to µs, from the same random stream, for every distribution.
        #[test]
        fn micros_draw_is_the_duration_draw(
            seed: u64,
            a in 0u64..5_000_000_000,
            b in 0u64..5_000_000_000,
            size in 0u8..3,
        ) {
            let ns = Duration::from_nanos;
            // Small, near the end of u64 nanoseconds (where the integer
            // path must give way), and beyond it.
            let base = match size {
                0 => ns(a),
                1 => ns(u64::MAX - a),
                _ => Duration::MAX - ns(a),
            };
            for dist in [
                LatencyDist::Fixed(ns(a)),
                LatencyDist::BaseJitter { base, jitter: ns(b) },
                LatencyDist::Uniform { min: ns(a.min(b)), max: ns(a.max(b)) },
                LatencyDist::LogNormal { median: ns(a), sigma: 0.5 },
            ] {
                let mut r1 = ChaCha8Rng::seed_from_u64(seed);
                let mut r2 = r1.clone();
                for _ in 0..64 {
                    let want = u64::try_from(dist.sample(&mut r1).as_micros()).unwrap_or(u64::MAX);
                    proptest::prop_assert_eq!(dist.sample_micros(&mut r2), want, "{:?}", dist);
                }
            }
        }
    }

    #[test]
    fn sampled_means_approach_the_stated_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let us = Duration::from_micros;
        for dist in [
            CostDist::Exponential { mean: us(20) },
            CostDist::LogNormal {
                median: us(20),
                sigma: 0.5,
            },
        ] {
            let n = 20_000u32;
            let total: Duration = (0..n).map(|_| dist.sample(&mut rng)).sum();
            let got = (total / n).as_secs_f64();
            let want = dist.mean().as_secs_f64();
            assert!(
                (got - want).abs() / want < 0.05,
                "{dist:?}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn extra_latency_adds_node_and_link_parts() {
        let mut net = Network {
            latency: LatencyDist::Fixed(Duration::ZERO),
            loss: 0.0,
            rto: Duration::from_millis(200),
            node_extra: BTreeMap::new(),
            link_extra: BTreeMap::new(),
        };
        net.node_extra
            .insert("node-1".into(), Duration::from_micros(10));
        net.link_extra
            .insert(("node-1".into(), "node-2".into()), Duration::from_micros(5));
        assert_eq!(net.extra("node-1", "node-2"), Duration::from_micros(15));
        assert_eq!(net.extra("node-2", "node-1"), Duration::from_micros(10));
        assert_eq!(net.extra("node-2", "node-3"), Duration::ZERO);
    }
}
