//! One node's cores as a FIFO: the fast engine's version of
//! [`crate::capacity`], with the same semantics. An operation takes a free
//! core at once or waits in arrival order; when every core is busy and
//! `queue_limit` operations already wait, it is refused. Its service time is
//! a sampled base cost plus the per-KiB cost, times the slow factor, and it
//! runs (the machine sees it) when its service ends.

use std::collections::VecDeque;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_core::clock::Micros;
use ringlab_loadgen::scenario::CostDist;

use crate::capacity::{CapacitySpec, NodeStats};

/// Sizes below this many bytes have their per-KiB cost kept in a table.
const MEMO: usize = 4096;
/// A table entry not computed yet.
const NONE: u32 = u32::MAX;

/// What became of an operation offered to the cores.
#[derive(Debug, PartialEq)]
pub enum Admit<J> {
    /// It holds a core until this time.
    Started(Micros),
    /// It waits for a core.
    Queued,
    /// The queue is full: refused at once.
    Refused(J),
}

/// An operation waiting for a core.
struct Waiting<J> {
    job: J,
    bytes: usize,
    /// When it arrived.
    entered: Micros,
}

/// A node's cores and its queue.
pub struct Cores<J> {
    spec: CapacitySpec,
    /// Cores serving now.
    busy: usize,
    /// Operations waiting, oldest first.
    waiting: VecDeque<Waiting<J>>,
    /// Service-time multiplier (1 = normal speed).
    pub slow: f64,
    /// Samples service times.
    rng: ChaCha8Rng,
    /// The nanoseconds of service time not yet given: the engine counts
    /// whole microseconds, so each operation gets its time rounded down and
    /// the remainder carries to the next (an 8.3 us cost is 8 us seven
    /// times in ten and 9 us three), so the mean is the scenario's.
    carry_ns: u64,
    /// The per-KiB part of the service time by size, in ns, for sizes
    /// below [`MEMO`] (`NONE` where not computed yet): the float product
    /// and its conversion back to a `Duration` on every operation were 1%
    /// of the engine's instructions, and a run sees a few dozen sizes.
    /// Filled from that same product, so service times are unchanged.
    per_kb: Vec<u32>,
    /// Per-window time at the node and core time, when the scenario asks
    /// for node series (kept across restarts, as the madsim engine's).
    pub stats: Option<NodeStats>,
}

impl<J> Cores<J> {
    pub fn new(spec: CapacitySpec, seed: u64) -> Self {
        Self {
            spec,
            busy: 0,
            waiting: VecDeque::new(),
            slow: 1.0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            carry_ns: 0,
            per_kb: Vec::new(),
            stats: None,
        }
    }

    /// `per_kb_cost` for `bytes` bytes.
    fn per_kb(&mut self, bytes: usize) -> Duration {
        if self.spec.per_kb_cost.is_zero() {
            return Duration::ZERO;
        }
        let product = || self.spec.per_kb_for(bytes);
        if bytes >= MEMO {
            return product();
        }
        if self.per_kb.is_empty() {
            self.per_kb = vec![NONE; MEMO];
        }
        match self.per_kb[bytes] {
            NONE => {
                let d = product();
                // A product too large for the table (µs per KiB in the
                // seconds) is computed every time.
                if let Ok(ns) = u32::try_from(d.as_nanos())
                    && ns != NONE
                {
                    self.per_kb[bytes] = ns;
                }
                d
            }
            ns => Duration::from_nanos(u64::from(ns)),
        }
    }

    /// The service time of an operation moving `bytes`, in model µs.
    fn service(&mut self, bytes: usize) -> Micros {
        let base = match self.spec.op_cost {
            CostDist::Constant(d) => d,
            other => other.sample(&mut self.rng),
        };
        let total = base + self.per_kb(bytes);
        let total = if self.slow == 1.0 {
            total
        } else {
            total.mul_f64(self.slow)
        };
        let ns = total.as_nanos() as u64 + self.carry_ns;
        self.carry_ns = ns % 1000;
        ns / 1000
    }

    /// Offers `job` (moving `bytes`) at `now`. A started job's service time
    /// is returned as its end; a queued one starts from [`Cores::done`].
    pub fn admit(&mut self, now: Micros, bytes: usize, job: J) -> (Admit<J>, Option<J>) {
        if self.busy < self.spec.cores {
            self.busy += 1;
            let end = now + self.service(bytes);
            self.note(now, now, end);
            return (Admit::Started(end), Some(job));
        }
        if self.waiting.len() >= self.spec.queue_limit {
            return (Admit::Refused(job), None);
        }
        self.waiting.push_back(Waiting {
            job,
            bytes,
            entered: now,
        });
        (Admit::Queued, None)
    }

    /// A core finished at `now`: the next waiting job takes it, with the
    /// time its service ends.
    pub fn done(&mut self, now: Micros) -> Option<(Micros, J)> {
        match self.waiting.pop_front() {
            Some(w) => {
                let end = now + self.service(w.bytes);
                self.note(w.entered, now, end);
                Some((end, w.job))
            }
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// An operation that arrived at `entered` is served from `start` to
    /// `end` (counted in its arrival's window, as the madsim engine does).
    fn note(&mut self, entered: Micros, start: Micros, end: Micros) {
        if let Some(stats) = &mut self.stats {
            stats.record(entered, end - entered, end - start);
        }
    }

    /// The node died: nothing is served or waits any more.
    pub fn reset(&mut self) {
        self.busy = 0;
        self.waiting.clear();
    }

    /// Operations waiting now.
    pub fn queued(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cores: usize, queue_limit: usize) -> CapacitySpec {
        CapacitySpec {
            cores,
            op_cost: CostDist::Constant(Duration::from_micros(10)),
            per_kb_cost: Duration::from_micros(1),
            queue_limit,
        }
    }

    #[test]
    fn fifo_over_cores_with_a_bounded_queue() {
        let mut c = Cores::new(spec(1, 1), 1);
        assert_eq!(c.admit(0, 0, 'a').0, Admit::Started(10));
        assert_eq!(c.admit(1, 2048, 'b').0, Admit::Queued);
        assert_eq!(c.admit(2, 0, 'c').0, Admit::Refused('c'));
        // b starts when a ends: 10 µs base + 2 KiB at 1 µs per KiB.
        assert_eq!(c.done(10), Some((22, 'b')));
        assert_eq!(c.done(22), None);
        assert_eq!(c.admit(30, 0, 'd').0, Admit::Started(40));
    }

    #[test]
    fn sub_microsecond_costs_carry_so_the_mean_is_exact() {
        let mut c: Cores<()> = Cores::new(
            CapacitySpec {
                cores: 1,
                op_cost: CostDist::Constant(Duration::from_nanos(8_300)),
                per_kb_cost: Duration::ZERO,
                queue_limit: 1,
            },
            1,
        );
        let times: Vec<Micros> = (0..10).map(|_| c.service(0)).collect();
        assert_eq!(times.iter().sum::<Micros>(), 83, "{times:?}");
        assert!(times.iter().all(|&t| t == 8 || t == 9), "{times:?}");
    }

    proptest::proptest! {
        /// The table gives exactly the float product it replaces, the
        /// first time a size is seen and every time after, whatever the
        /// per-KiB cost (up to ones too large for the table).
        #[test]
        fn per_kb_table_is_the_product(
            cost_ns in proptest::prop_oneof![0u64..20_000, 0u64..2_000_000_000],
            sizes in proptest::collection::vec(0usize..2 * MEMO, 1..64),
        ) {
            let mut c: Cores<()> = Cores::new(
                CapacitySpec {
                    cores: 1,
                    op_cost: CostDist::Constant(Duration::ZERO),
                    per_kb_cost: Duration::from_nanos(cost_ns),
                    queue_limit: 1,
                },
                1,
            );
            for &bytes in sizes.iter().chain(&sizes) {
                let want = c.spec.per_kb_for(bytes);
                proptest::prop_assert_eq!(c.per_kb(bytes), want, "{} bytes", bytes);
            }
        }
    }

    #[test]
    fn slow_factor_multiplies_service() {
        let mut c = Cores::new(spec(2, 0), 1);
        c.slow = 3.0;
        assert_eq!(c.admit(0, 0, ()).0, Admit::Started(30));
        assert_eq!(c.admit(0, 0, ()).0, Admit::Started(30));
        assert_eq!(c.admit(0, 0, ()).0, Admit::Refused(()));
    }
}
