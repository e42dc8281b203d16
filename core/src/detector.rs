//! The phi-accrual failure detector (Hayashibara et al., 2004), as
//! Cassandra approximates it: pure arithmetic over arrival times.
//!
//! Instead of a yes/no "is it down?", the detector says how surprised it
//! would be by the silence so far: `phi = -log10(P(the next heartbeat comes
//! later than now))`, where the probability is read off the distribution of
//! the last [`PhiConfig::window`] inter-arrival times. phi 1 means a 10%
//! chance the peer is fine and just late, phi 8 one in 10^8. The caller picks
//! the threshold; a higher one suspects later but falsely less often.
//!
//! Inter-arrival times are modelled as exponential, as Cassandra does:
//! `P(later than t) = exp(-t / mean)`, so `phi(t) = t / (mean * ln 10)`. It
//! grows linearly with the silence and drops to 0 at each heartbeat.
//!
//! Two guards keep it honest when arrivals are not only heartbeats:
//! - the mean is never taken below [`PhiConfig::min_mean`] (the heartbeat
//!   period): answers to ordinary requests arrive microseconds apart under
//!   load, and a mean that small would suspect a peer after a millisecond's
//!   pause;
//! - a gap that ended while the peer was suspected is not recorded: it was
//!   an outage (or a false suspicion), not a sample of normal arrivals, and
//!   one such gap would blunt the detector for a whole window.
//!
//! Nothing here reads a clock: `now` comes in as an argument.

use std::collections::VecDeque;

use crate::clock::Micros;

/// How a detector judges silences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhiConfig {
    /// Inter-arrival times kept (the oldest drops out).
    pub window: usize,
    /// The mean inter-arrival time is never taken below this (micros).
    pub min_mean: Micros,
    /// phi above this means suspected.
    pub threshold: f64,
}

impl PhiConfig {
    /// A detector for heartbeats every `interval` micros, suspecting above
    /// `threshold`, with Cassandra's window of 1000 samples.
    pub fn for_interval(interval: Micros, threshold: f64) -> Self {
        Self {
            window: 1000,
            min_mean: interval.max(1),
            threshold,
        }
    }
}

/// One peer's arrival history.
#[derive(Debug, Clone)]
pub struct PhiDetector {
    /// How it judges.
    cfg: PhiConfig,
    /// The last `cfg.window` inter-arrival times, oldest first.
    intervals: VecDeque<Micros>,
    /// Their sum (for the mean without a pass over the window).
    sum: u64,
    /// When the last heartbeat arrived (or the detector started).
    last: Micros,
}

impl PhiDetector {
    /// A detector started at `now`, as if a heartbeat had just arrived and
    /// the usual interval were `min_mean` (so a peer that never answers is
    /// suspected too, after about `threshold * 2.3` periods).
    pub fn new(cfg: PhiConfig, now: Micros) -> Self {
        let mut intervals = VecDeque::with_capacity(cfg.window.clamp(1, 64));
        intervals.push_back(cfg.min_mean);
        Self {
            cfg,
            intervals,
            sum: cfg.min_mean,
            last: now,
        }
    }

    /// A heartbeat (any answer from the peer) arrived at `now`.
    pub fn heartbeat(&mut self, now: Micros) {
        let gap = now.saturating_sub(self.last);
        if !self.is_suspected(now) {
            if self.intervals.len() >= self.cfg.window.max(1) {
                let old = self.intervals.pop_front().unwrap_or(0);
                self.sum -= old;
            }
            self.intervals.push_back(gap);
            self.sum += gap;
        }
        self.last = self.last.max(now);
    }

    /// The mean inter-arrival time in use (at least `min_mean`).
    pub fn mean(&self) -> f64 {
        let n = self.intervals.len().max(1) as f64;
        (self.sum as f64 / n).max(self.cfg.min_mean.max(1) as f64)
    }

    /// The suspicion level at `now`: 0 right after a heartbeat, growing
    /// with the silence.
    pub fn phi(&self, now: Micros) -> f64 {
        let silence = now.saturating_sub(self.last) as f64;
        silence / (self.mean() * std::f64::consts::LN_10)
    }

    /// Whether phi at `now` is above the threshold.
    pub fn is_suspected(&self, now: Micros) -> bool {
        self.phi(now) > self.cfg.threshold
    }

    /// When the last heartbeat arrived.
    pub fn last_heartbeat(&self) -> Micros {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> PhiConfig {
        PhiConfig {
            window: 8,
            min_mean: 1_000,
            threshold: 8.0,
        }
    }

    #[test]
    fn a_fresh_detector_suspects_after_threshold_periods_of_silence() {
        let d = PhiDetector::new(cfg(), 0);
        assert_eq!(d.phi(0), 0.0);
        // phi = t / (1 ms * ln 10): 8 at about 18.4 ms.
        assert!(!d.is_suspected(18_000));
        assert!(d.is_suspected(19_000));
        assert!((d.phi(2_303) - 1.0).abs() < 0.01);
    }

    #[test]
    fn slower_arrivals_raise_the_mean_and_the_tolerance() {
        let mut d = PhiDetector::new(cfg(), 0);
        for i in 1..=8 {
            d.heartbeat(i * 10_000);
        }
        assert_eq!(d.mean(), 10_000.0, "the bootstrap sample dropped out");
        assert!(!d.is_suspected(80_000 + 150_000));
        assert!(d.is_suspected(80_000 + 190_000));
    }

    #[test]
    fn fast_arrivals_never_take_the_mean_below_the_floor() {
        let mut d = PhiDetector::new(cfg(), 0);
        for i in 1..=100 {
            d.heartbeat(i * 10);
        }
        assert_eq!(d.mean(), 1_000.0);
        assert!(!d.is_suspected(1_000 + 5_000));
    }

    #[test]
    fn a_gap_that_ended_a_suspicion_is_not_a_sample() {
        let mut d = PhiDetector::new(cfg(), 0);
        d.heartbeat(1_000_000);
        assert_eq!(d.mean(), 1_000.0);
        assert_eq!(d.phi(1_000_000), 0.0);
    }

    proptest! {
        /// phi never falls while the silence lasts, and a heartbeat takes
        /// it back to zero.
        #[test]
        fn phi_grows_with_silence_and_resets_on_a_heartbeat(
            arrivals in prop::collection::vec(1u64..50_000, 0..40),
            probes in prop::collection::vec(0u64..1_000_000, 1..20),
        ) {
            let mut d = PhiDetector::new(cfg(), 0);
            let mut now = 0;
            for a in arrivals {
                now += a;
                d.heartbeat(now);
                prop_assert_eq!(d.phi(now), 0.0);
            }
            let mut probes = probes;
            probes.sort_unstable();
            let mut prev = 0.0;
            for p in probes {
                let phi = d.phi(now + p);
                prop_assert!(phi >= prev, "phi fell from {} to {}", prev, phi);
                prev = phi;
            }
        }
    }
}
