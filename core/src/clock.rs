//! Model time as pure code sees it: a number, passed in.
//!
//! Pure code never reads a clock: it takes `now` ([`Micros`]) as an
//! argument. The clock that produces `now` (the real one, or the
//! simulation's scaled one) lives with the async code, in
//! `ringlab_node::clock`.
//!
//! Model time is microseconds since the Unix epoch so that absolute expiry
//! times and last-writer-wins versions mean the same on every node.

/// A point in model time: microseconds since the Unix epoch.
pub type Micros = u64;

/// Parts per million: the unit of a clock's drift.
const PPM: i128 = 1_000_000;

/// A node's clock against model time: from `since` on it reads model time
/// plus `offset` µs, plus `drift_ppm` µs per second of model time elapsed
/// since `since`. Last-writer-wins versions come from the coordinator's
/// clock, so a skewed node's writes are ordered by its clock, not by when
/// they happened; the simulator applies this to one node to show it.
///
/// Drift is kept above -100% (a clock that stops or runs backwards is not a
/// clock), so the local time never decreases while model time advances and
/// [`Skew::global`] has an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skew {
    /// Offset at `since`, µs (negative: the clock is behind).
    pub offset_us: i64,
    /// Drift, parts per million (negative: the clock runs slow).
    pub drift_ppm: i32,
    /// Model time the offset holds at (the drift's origin).
    pub since: Micros,
}

impl Skew {
    /// The node's clock reading at model time `t` (never below zero).
    pub fn local(&self, t: Micros) -> Micros {
        if self.drift_ppm == 0 {
            // No drift (every node without a `skew` fault, on every event
            // of a simulation): the same sum, without the 128-bit division.
            let l = i128::from(t) + i128::from(self.offset_us);
            return l.clamp(0, i128::from(Micros::MAX)) as Micros;
        }
        let dt = i128::from(t) - i128::from(self.since);
        let drift = (dt * i128::from(self.drift_ppm)).div_euclid(PPM);
        let l = i128::from(t) + i128::from(self.offset_us) + drift;
        l.clamp(0, i128::from(Micros::MAX)) as Micros
    }

    /// The earliest model time at which the node's clock reads at least
    /// `local`: when a timer the node set for `local` fires. A simulator
    /// keeps its events in model time and its nodes' timers in their own.
    pub fn global(&self, local: Micros) -> Micros {
        if *self == Skew::default() {
            return local;
        }
        // Solve t + offset + drift(t) = local, approximately, then step to
        // the earliest t that reaches it (`local` is non-decreasing in t;
        // rounding leaves the estimate a step or two off at most).
        let rate = PPM + i128::from(self.drift_ppm.clamp(-999_999, i32::MAX));
        let want = i128::from(local) - i128::from(self.offset_us) - i128::from(self.since);
        let est = i128::from(self.since) + (want * PPM).div_euclid(rate);
        let mut t = est.clamp(0, i128::from(Micros::MAX)) as Micros;
        while t < Micros::MAX && self.local(t) < local {
            t += 1;
        }
        while t > 0 && self.local(t - 1) >= local {
            t -= 1;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_drift_read_and_invert() {
        let none = Skew::default();
        assert_eq!((none.local(1234), none.global(1234)), (1234, 1234));
        let behind = Skew {
            offset_us: -50_000,
            drift_ppm: 0,
            since: 1_000_000,
        };
        assert_eq!(behind.local(1_000_000), 950_000);
        assert_eq!(behind.global(950_000), 1_000_000);
        // A clock 500 ppm slow loses 500 µs per model second.
        let slow = Skew {
            offset_us: 0,
            drift_ppm: -500,
            since: 1_000_000,
        };
        assert_eq!(slow.local(2_000_000), 1_999_500);
        for l in [1_000_000, 1_999_499, 1_999_500, 1_999_501, 7_777_777] {
            let t = slow.global(l);
            assert!(slow.local(t) >= l && slow.local(t - 1) < l, "{l} -> {t}");
        }
        let fast = Skew {
            offset_us: 20,
            drift_ppm: 250_000,
            since: 0,
        };
        for l in [0, 19, 20, 21, 1_000_000, 1_250_020] {
            let t = fast.global(l);
            assert!(fast.local(t) >= l, "{l} -> {t}");
            assert!(t == 0 || fast.local(t - 1) < l, "{l} -> {t}");
        }
    }
}
