//! Validated workload phases: what the driver runs.
//!
//! The phase types themselves live in `ringlab_scenario::workload` (the
//! schema) and are re-exported here; this module holds the seeded generators
//! that turn a [`Phase`] into arrivals and requests. Every duration here is
//! *model* time (see `ringlab_node::clock`).

use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp1, LogNormal, Zipf};

pub use ringlab_scenario::workload::{
    Arrival, KeyDist, KeySpace, Mix, OpKind, Phase, Rate, ValueSize,
};

// ---------------------------------------------------------------------------
// Generators: the seeded, pure machinery that turns a Phase into arrivals and
// requests. Both the driver (real or simulated) and the tests use these; none
// of them reads a clock or owns an RNG: the caller hands in `&mut impl Rng`.
// ---------------------------------------------------------------------------

/// A workload phase that cannot be turned into generators; names the field
/// and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("phase {phase:?}: keys.count = 0; expected at least 1 key")]
    NoKeys { phase: String },
    #[error("phase {phase:?}: {field} = {value} is invalid; expected {expected}")]
    BadParameter {
        phase: String,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The intended start times of one client's requests over one phase.
///
/// Arrivals are generated in "expected-count space": the cumulative rate
/// `L(t) = integral of rate(u) du` over the phase. Evenly spaced arrivals sit
/// at `L = k + offset` (so a phase of integral `N` yields exactly `N`
/// arrivals across all clients); Poisson arrivals are a unit-rate Poisson
/// process in that space, mapped back through `L^-1`. For a ramp this is an
/// exact inhomogeneous Poisson process, not an approximation.
#[derive(Debug, Clone)]
pub struct ArrivalGen {
    /// Rate at the phase start for this client, requests per second.
    from: f64,
    /// Rate change per second for this client (0 for a constant rate).
    slope: f64,
    /// Phase length in seconds.
    len: f64,
    /// Expected arrivals of this client over the whole phase, `L(len)`.
    total: f64,
    /// How arrivals are spaced.
    arrival: Arrival,
    /// Position in expected-count space of the next arrival.
    next_l: f64,
}

impl ArrivalGen {
    /// The arrivals of client `client_index` of `client_count` over `phase`:
    /// each client gets `1 / client_count` of the rate; evenly spaced clients
    /// are staggered so that together they are evenly spaced too.
    pub fn new(
        phase: &Phase,
        client_index: u32,
        client_count: u32,
        rng: &mut impl Rng,
    ) -> Result<Self, WorkloadError> {
        let bad = |field, value: String, expected| WorkloadError::BadParameter {
            phase: phase.name.clone(),
            field,
            value,
            expected,
        };
        if client_count == 0 || client_index >= client_count {
            return Err(bad(
                "client_index",
                format!("{client_index} of {client_count}"),
                "client_index < client_count and client_count >= 1",
            ));
        }
        let (from, to) = match phase.rate {
            Rate::Constant(r) => (r, r),
            Rate::Ramp { from, to } => (from, to),
        };
        if !(from.is_finite() && to.is_finite() && from >= 0.0 && to >= 0.0) {
            return Err(bad(
                "rate",
                format!("{:?}", phase.rate),
                "finite, non-negative requests per second",
            ));
        }
        let share = f64::from(client_count);
        let (from, to) = (from / share, to / share);
        let len = phase.duration.as_secs_f64();
        let slope = if len > 0.0 { (to - from) / len } else { 0.0 };
        let total = from * len + slope * len * len / 2.0;
        let next_l = match phase.arrival {
            Arrival::Uniform => f64::from(client_index) / share,
            Arrival::Poisson => Exp1.sample(rng),
        };
        Ok(Self {
            from,
            slope,
            len,
            total,
            arrival: phase.arrival,
            next_l,
        })
    }

    /// Expected number of arrivals of this client over the phase.
    pub fn expected(&self) -> f64 {
        self.total
    }

    /// The next arrival as an offset from the phase's start, or `None` when
    /// the phase has no more.
    pub fn next(&mut self, rng: &mut impl Rng) -> Option<Duration> {
        let l = self.next_l;
        if l >= self.total {
            return None;
        }
        self.next_l += match self.arrival {
            Arrival::Uniform => 1.0,
            Arrival::Poisson => Exp1.sample(rng),
        };
        // Solve from*t + slope*t^2/2 = l for t >= 0 in the form that stays
        // accurate when slope is 0 or tiny (no cancellation).
        let disc = (self.from * self.from + 2.0 * self.slope * l).max(0.0);
        let denom = self.from + disc.sqrt();
        let t = if denom > 0.0 { 2.0 * l / denom } else { 0.0 };
        Some(Duration::from_secs_f64(t.clamp(0.0, self.len)))
    }
}

/// Picks key indexes in `0..count` by a phase's [`KeyDist`].
#[derive(Debug, Clone)]
pub struct KeyGen {
    /// Number of keys.
    count: u64,
    /// The distribution, prepared.
    kind: KeyGenKind,
}

/// A [`KeyDist`] with its sampler built.
#[derive(Debug, Clone)]
enum KeyGenKind {
    Uniform,
    Zipf(Zipf<f64>),
    Hotspot {
        /// Keys `0..hot` are hot.
        hot: u64,
        /// Probability that a request goes to a hot key.
        share: f64,
    },
    Latest {
        /// Distance from the newest key, plus one.
        zipf: Zipf<f64>,
        /// Index of the newest key written.
        newest: u64,
    },
}

impl KeyGen {
    /// The key picker of `keys`; `phase` names the phase in errors.
    pub fn new(keys: &KeySpace, phase: &str) -> Result<Self, WorkloadError> {
        if keys.count == 0 {
            return Err(WorkloadError::NoKeys {
                phase: phase.to_string(),
            });
        }
        let bad = |field, value: String, expected| WorkloadError::BadParameter {
            phase: phase.to_string(),
            field,
            value,
            expected,
        };
        let zipf = |s: f64| {
            Zipf::new(keys.count as f64, s).map_err(|_| {
                bad(
                    "keys.s",
                    s.to_string(),
                    "a zipf exponent s >= 0 (0.99 is typical)",
                )
            })
        };
        let kind = match keys.distribution {
            KeyDist::Uniform => KeyGenKind::Uniform,
            KeyDist::Zipf { s } => KeyGenKind::Zipf(zipf(s)?),
            KeyDist::Latest { s } => KeyGenKind::Latest {
                zipf: zipf(s)?,
                newest: 0,
            },
            KeyDist::Hotspot {
                hot_fraction,
                hot_share,
            } => {
                if !(0.0..=1.0).contains(&hot_fraction) {
                    return Err(bad(
                        "keys.hot_fraction",
                        hot_fraction.to_string(),
                        "a fraction of the keys in 0..=1",
                    ));
                }
                if !(0.0..=1.0).contains(&hot_share) {
                    return Err(bad(
                        "keys.hot_share",
                        hot_share.to_string(),
                        "a share of the requests in 0..=1",
                    ));
                }
                KeyGenKind::Hotspot {
                    hot: Self::hot_keys(keys.count, hot_fraction),
                    share: hot_share,
                }
            }
        };
        Ok(Self {
            count: keys.count,
            kind,
        })
    }

    /// How many keys a hotspot treats as hot: `hot_fraction` of `count`,
    /// rounded up so that a non-zero fraction always has a hot key.
    pub fn hot_keys(count: u64, hot_fraction: f64) -> u64 {
        ((count as f64 * hot_fraction).ceil() as u64).min(count)
    }

    /// Number of keys.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The key a request of kind `op` touches.
    ///
    /// Under `latest`, a SET writes the next key after the newest one (the
    /// newest advances, wrapping at `count`), and GETs and DELETEs pick at a
    /// zipf-distributed distance behind the newest key, as YCSB's "latest"
    /// does with its inserts and reads.
    pub fn next(&mut self, op: OpKind, rng: &mut impl Rng) -> u64 {
        let n = self.count;
        match &mut self.kind {
            KeyGenKind::Uniform => rng.random_range(0..n),
            KeyGenKind::Zipf(z) => Self::rank(z.sample(rng), n),
            KeyGenKind::Hotspot { hot, share } => {
                let hot = *hot;
                let to_hot = rng.random::<f64>() < *share;
                if hot == n || (to_hot && hot > 0) {
                    rng.random_range(0..hot)
                } else if hot == 0 {
                    rng.random_range(0..n)
                } else {
                    rng.random_range(hot..n)
                }
            }
            KeyGenKind::Latest { zipf, newest } => {
                if op == OpKind::Set {
                    *newest = (*newest + 1) % n;
                    *newest
                } else {
                    let back = Self::rank(zipf.sample(rng), n);
                    (*newest + n - back) % n
                }
            }
        }
    }

    /// A zipf sample (a float rank in `1..=n`) as a 0-based index.
    fn rank(sample: f64, n: u64) -> u64 {
        (sample as u64).clamp(1, n) - 1
    }
}

/// Picks each request's op kind by a [`Mix`].
#[derive(Debug, Clone, Copy)]
pub struct OpGen {
    /// Each kind with the cumulative share up to and including it.
    upto: [(OpKind, f64); 6],
    /// The last kind with a share: what a draw past every cumulative share
    /// (a rounding gap below 1) falls to.
    last: OpKind,
}

impl OpGen {
    pub fn new(mix: &Mix) -> Self {
        let mut upto = mix.shares();
        let mut sum = 0.0;
        for (_, share) in &mut upto {
            sum += *share;
            *share = sum;
        }
        let last = mix
            .shares()
            .iter()
            .rev()
            .find(|(_, share)| *share > 0.0)
            .map_or(OpKind::Get, |(kind, _)| *kind);
        Self { upto, last }
    }

    /// One uniform draw per request, whatever the mix (so adding a kind
    /// to the mix language changed no existing scenario's requests).
    pub fn next(&self, rng: &mut impl Rng) -> OpKind {
        let u: f64 = rng.random();
        self.upto
            .iter()
            .find(|(_, upto)| u < *upto)
            .map_or(self.last, |(kind, _)| *kind)
    }
}

/// Draws the sizes of written values by a [`ValueSize`].
#[derive(Debug, Clone, Copy)]
pub struct SizeGen {
    /// The distribution, prepared.
    kind: SizeGenKind,
}

/// A [`ValueSize`] with its sampler built.
#[derive(Debug, Clone, Copy)]
enum SizeGenKind {
    Fixed(u64),
    Uniform(u64, u64),
    LogNormal(LogNormal<f64>, u64),
}

impl SizeGen {
    /// The size sampler of `size`; `phase` names the phase in errors.
    pub fn new(size: &ValueSize, phase: &str) -> Result<Self, WorkloadError> {
        let bad = |value: String, expected| WorkloadError::BadParameter {
            phase: phase.to_string(),
            field: "value_size",
            value,
            expected,
        };
        let kind = match *size {
            ValueSize::Fixed(n) => SizeGenKind::Fixed(n),
            ValueSize::Uniform { min, max } if min <= max => SizeGenKind::Uniform(min, max),
            ValueSize::Uniform { min, max } => {
                return Err(bad(format!("{min}..={max}"), "min <= max"));
            }
            ValueSize::LogNormal { median, sigma, max } => {
                let d = LogNormal::new((median.max(1) as f64).ln(), sigma).map_err(|_| {
                    bad(
                        format!("lognormal median {median} sigma {sigma}"),
                        "a finite sigma >= 0",
                    )
                })?;
                SizeGenKind::LogNormal(d, max.max(1))
            }
        };
        Ok(Self { kind })
    }

    /// The largest size this can draw (what a value buffer must hold).
    pub fn max(&self) -> u64 {
        match self.kind {
            SizeGenKind::Fixed(n) => n,
            SizeGenKind::Uniform(_, max) | SizeGenKind::LogNormal(_, max) => max,
        }
    }

    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        match self.kind {
            SizeGenKind::Fixed(n) => n,
            SizeGenKind::Uniform(min, max) => rng.random_range(min..=max),
            SizeGenKind::LogNormal(d, max) => (d.sample(rng).round() as u64).clamp(1, max),
        }
    }
}

/// One request drawn from a phase: what to do, to which key, how big.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub op: OpKind,
    /// Key index in `0..keys.count`.
    pub key: u64,
    /// Bytes of the value a SET writes (0 for GET and DELETE).
    pub value_len: u64,
}

/// Draws a phase's requests: op by the mix, key by the distribution, value
/// size by the phase's `value_size`.
#[derive(Debug, Clone)]
pub struct RequestGen {
    /// Op kind sampler.
    ops: OpGen,
    /// Key sampler (stateful under `latest`).
    keys: KeyGen,
    /// Value size sampler.
    sizes: SizeGen,
}

impl RequestGen {
    pub fn new(phase: &Phase) -> Result<Self, WorkloadError> {
        Ok(Self {
            ops: OpGen::new(&phase.mix),
            keys: KeyGen::new(&phase.keys, &phase.name)?,
            sizes: SizeGen::new(&phase.value_size, &phase.name)?,
        })
    }

    /// The largest value this can ask for.
    pub fn max_value_len(&self) -> u64 {
        self.sizes.max()
    }

    pub fn next(&mut self, rng: &mut impl Rng) -> Request {
        let op = self.ops.next(rng);
        let key = self.keys.next(op, rng);
        let value_len = if op == OpKind::Set {
            self.sizes.next(rng)
        } else {
            0
        };
        Request { op, key, value_len }
    }
}

/// Digits of the zero-padded key index, as redis-benchmark pads
/// `key:__rand_int__` (`key:000000012345`, 16 bytes).
pub const KEY_DIGITS: usize = 12;

/// Appends the name of key `index` to `out`: `prefix` + `key:` + the index
/// padded to [`KEY_DIGITS`] digits (longer indexes keep all their digits).
pub fn write_key(out: &mut Vec<u8>, prefix: &[u8], index: u64) {
    write_named(out, prefix, b"key:", index);
}

/// Appends the name of counter `index` (what INCR increments): `prefix` +
/// `ctr:` + the padded index. Counters are apart from the keys SETs write,
/// whose values are not integers.
pub fn write_counter_key(out: &mut Vec<u8>, prefix: &[u8], index: u64) {
    write_named(out, prefix, b"ctr:", index);
}

fn write_named(out: &mut Vec<u8>, prefix: &[u8], name: &[u8], index: u64) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(name);
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut n = index;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len() - KEY_DIGITS);
    out.extend_from_slice(&digits[start..]);
}

/// What a request takes from its phase besides its kind, key and value
/// size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// `PX` of SETs and the TTL of EXPIREs, milliseconds.
    pub ttl_ms: Option<u64>,
    /// Keys one MGET reads.
    pub mget_keys: u32,
    /// Keys in the phase's key space: an MGET's keys wrap around it.
    pub key_count: u64,
}

impl Shape {
    pub fn of(phase: &Phase) -> Self {
        Shape {
            ttl_ms: phase
                .ttl
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)),
            mget_keys: phase.mget_keys,
            key_count: phase.keys.count,
        }
    }
}

/// The words of a request's command, for every driver (the real one
/// writes them as RESP, the fast engine hands them to the node machine):
/// `GET key`, `SET key value [PX ms]`, `DEL key`, `INCR ctr:…`, `MGET key
/// …` (the drawn key and the `mget_keys - 1` after it, wrapping) and
/// `PEXPIRE key ms`. `value` is a SET's (already stamped). The drivers
/// keep their own paths for GET, DEL and SET (the real driver stamps a SET's
/// value in its output buffer; the fast engine cuts keys from an arena),
/// with the same words, and call this for the rest.
pub fn command_words(
    op: OpKind,
    key: u64,
    prefix: &[u8],
    shape: &Shape,
    value: &[u8],
) -> Vec<Vec<u8>> {
    let name = |index: u64| {
        let mut k = Vec::with_capacity(prefix.len() + 4 + KEY_DIGITS);
        write_key(&mut k, prefix, index);
        k
    };
    match op {
        OpKind::Get => vec![b"GET".to_vec(), name(key)],
        OpKind::Delete => vec![b"DEL".to_vec(), name(key)],
        OpKind::Incr => {
            let mut k = Vec::with_capacity(prefix.len() + 4 + KEY_DIGITS);
            write_counter_key(&mut k, prefix, key);
            vec![b"INCR".to_vec(), k]
        }
        OpKind::Mget => {
            let count = shape.key_count.max(1);
            std::iter::once(b"MGET".to_vec())
                .chain((0..u64::from(shape.mget_keys.max(1))).map(|i| name((key + i) % count)))
                .collect()
        }
        OpKind::Expire => {
            let ms = shape.ttl_ms.unwrap_or(1).to_string().into_bytes();
            vec![b"PEXPIRE".to_vec(), name(key), ms]
        }
        OpKind::Set => {
            let mut w = vec![b"SET".to_vec(), name(key), value.to_vec()];
            if let Some(ms) = shape.ttl_ms {
                w.extend([b"PX".to_vec(), ms.to_string().into_bytes()]);
            }
            w
        }
    }
}
