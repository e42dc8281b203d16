//! The workload a scenario's phases describe: plain, validated types with no
//! spans and no serde. The reader builds them from a file; `ringlab-load`
//! also builds them from flags; `ringlab_loadgen::workload` turns them into
//! seeded generators. Every duration here is *model* time (see
//! `ringlab_core::clock`).

use std::time::Duration;

/// One phase of load: a rate shape held for a duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Shown in reports ("steady", "spike").
    pub name: String,
    /// How long the phase lasts.
    pub duration: Duration,
    /// Requests per second over all clients together.
    pub rate: Rate,
    /// How arrivals are spaced.
    pub arrival: Arrival,
    /// Which keys requests touch.
    pub keys: KeySpace,
    /// Shares of each operation; they sum to 1.
    pub mix: Mix,
    /// Size of the values that sets write.
    pub value_size: ValueSize,
    /// A request unanswered after this long counts as a timeout.
    pub timeout: Duration,
    /// Client machines the load is spread over (simulator), each with its own
    /// connections; `ringlab-load` is one client.
    pub clients: u32,
    /// Connections per client machine; each carries one request at a time.
    pub connections: u32,
    /// Requests in flight per client beyond which new arrivals are held back
    /// (counted as `held_back`, never silently skipped).
    pub max_in_flight: u32,
    /// When set, every SET carries `PX` this long and every EXPIRE sets it.
    pub ttl: Option<Duration>,
    /// Keys one MGET reads: the drawn key and the ones after it.
    pub mget_keys: u32,
}

/// The request rate over a phase, in requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// The same rate throughout.
    Constant(f64),
    /// Linear from `from` at the phase's start to `to` at its end.
    Ramp { from: f64, to: f64 },
}

impl Rate {
    /// The rate at `t` into a phase of length `len`.
    pub fn at(&self, t: Duration, len: Duration) -> f64 {
        match *self {
            Rate::Constant(r) => r,
            Rate::Ramp { from, to } => {
                let f = if len.is_zero() {
                    1.0
                } else {
                    (t.as_secs_f64() / len.as_secs_f64()).clamp(0.0, 1.0)
                };
                from + (to - from) * f
            }
        }
    }

    /// The rate at the phase's end (what a following `"x10"` multiplies).
    pub fn end(&self) -> f64 {
        match *self {
            Rate::Constant(r) => r,
            Rate::Ramp { to, .. } => to,
        }
    }
}

/// How arrivals are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Exponential gaps (a Poisson process): what independent users produce.
    #[default]
    Poisson,
    /// Evenly spaced, like wrk2 and redis-benchmark's rate limiting.
    Uniform,
}

/// The key space and how requests pick from it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySpace {
    /// Number of distinct keys; keys are `key:<index>` with index in 0..count.
    pub count: u64,
    pub distribution: KeyDist,
}

/// How a request picks its key index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent `s`: key rank k has weight 1/k^s (rank 1 is index 0).
    Zipf { s: f64 },
    /// `hot_share` of requests go to the first `hot_fraction` of the keys.
    Hotspot { hot_fraction: f64, hot_share: f64 },
    /// Recently written keys are most likely (YCSB's "latest"): a zipf over
    /// distance from the newest key written.
    Latest { s: f64 },
}

/// Shares of each operation kind; each in 0..=1, summing to 1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Mix {
    pub get: f64,
    pub set: f64,
    pub delete: f64,
    /// INCR of a counter key (`ctr:` keys, apart from the values SETs write).
    pub incr: f64,
    /// MGET of [`Phase::mget_keys`] keys.
    pub mget: f64,
    /// PEXPIRE of a key by the phase's `ttl`.
    pub expire: f64,
}

impl Mix {
    /// Each kind with its share, in [`OpKind::ALL`]'s order.
    pub fn shares(&self) -> [(OpKind, f64); 6] {
        [
            (OpKind::Get, self.get),
            (OpKind::Set, self.set),
            (OpKind::Delete, self.delete),
            (OpKind::Incr, self.incr),
            (OpKind::Mget, self.mget),
            (OpKind::Expire, self.expire),
        ]
    }

    /// Sets the share of `kind`.
    pub fn set_share(&mut self, kind: OpKind, share: f64) {
        *match kind {
            OpKind::Get => &mut self.get,
            OpKind::Set => &mut self.set,
            OpKind::Delete => &mut self.delete,
            OpKind::Incr => &mut self.incr,
            OpKind::Mget => &mut self.mget,
            OpKind::Expire => &mut self.expire,
        } = share;
    }

    /// The shares' sum (1 when valid).
    pub fn sum(&self) -> f64 {
        self.shares().iter().map(|(_, s)| s).sum()
    }
}

/// Size in bytes of values written by sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueSize {
    Fixed(u64),
    /// Uniform in `min..=max`.
    Uniform {
        min: u64,
        max: u64,
    },
    /// Lognormal with the given median and sigma, clamped to `1..=max`.
    LogNormal {
        median: u64,
        sigma: f64,
        max: u64,
    },
}

/// The kinds of operation a workload issues; the recorder keeps one
/// histogram per kind. Ordered so that iteration order is stable in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    Get,
    Set,
    Delete,
    Incr,
    Mget,
    Expire,
}

impl OpKind {
    pub const ALL: [OpKind; 6] = [
        OpKind::Get,
        OpKind::Set,
        OpKind::Delete,
        OpKind::Incr,
        OpKind::Mget,
        OpKind::Expire,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Set => "set",
            OpKind::Delete => "delete",
            OpKind::Incr => "incr",
            OpKind::Mget => "mget",
            OpKind::Expire => "expire",
        }
    }

    /// The kind named `name` (as [`OpKind::as_str`] spells it).
    pub fn named(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}
