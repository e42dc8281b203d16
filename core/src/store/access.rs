//! Recency and frequency in one `u32` per entry, as Redis keeps them.
//!
//! Under every policy but `allkeys-lfu` the field is an LRU stamp: the value
//! of a store-wide access counter at the entry's last access. A logical
//! counter rather than a time keeps the order of accesses exact (Redis's
//! clock has a one-second resolution) and needs no clock.
//!
//! Under `allkeys-lfu` the field is Redis's LFU record: the last decrement
//! time in minutes (16 bits, wrapping) and a logarithmic counter (8 bits). The
//! counter starts at [`LFU_INIT`], grows with probability
//! `1 / ((c - LFU_INIT) * LFU_LOG_FACTOR + 1)` on each access, so 255 takes
//! about a million accesses, and loses one per [`LFU_DECAY_MINUTES`] minutes
//! without access. Time comes from the `now` of each call.

use crate::clock::Micros;

/// The counter of a new entry: high enough that a fresh key is not the first
/// evicted before it had a chance to be read.
pub(crate) const LFU_INIT: u8 = 5;
/// How steeply the counter's growth slows down (Redis's `lfu-log-factor`).
pub(crate) const LFU_LOG_FACTOR: f64 = 10.0;
/// Minutes without access that cost one count (Redis's `lfu-decay-time`).
pub(crate) const LFU_DECAY_MINUTES: u16 = 1;

/// Model time in minutes, wrapped to 16 bits.
fn minutes(now: Micros) -> u16 {
    (now / 60_000_000) as u16
}

/// Packs an LFU record.
pub(crate) fn lfu_pack(now: Micros, counter: u8) -> u32 {
    (u32::from(minutes(now)) << 8) | u32::from(counter)
}

/// The counter of an LFU record after the decay due at `now`.
pub(crate) fn lfu_decayed(record: u32, now: Micros) -> u8 {
    let counter = (record & 0xff) as u8;
    let last = (record >> 8) as u16;
    let periods = minutes(now).wrapping_sub(last) / LFU_DECAY_MINUTES;
    counter.saturating_sub(periods.min(255) as u8)
}

/// The LFU record after an access at `now`; `coin` is uniform in [0, 1).
pub(crate) fn lfu_touch(record: u32, now: Micros, coin: f64) -> u32 {
    let mut counter = lfu_decayed(record, now);
    if counter < u8::MAX {
        let base = f64::from(counter.saturating_sub(LFU_INIT));
        if coin < 1.0 / (base * LFU_LOG_FACTOR + 1.0) {
            counter += 1;
        }
    }
    lfu_pack(now, counter)
}

/// A small deterministic generator for the LFU coin. `get` takes no RNG (a
/// read has no business consuming the caller's random stream), yet the LFU
/// counter needs a coin per access; a fixed-seed xorshift gives the same
/// sequence in every run.
#[derive(Debug, Clone)]
pub(crate) struct Coin {
    /// The xorshift64 state; never zero.
    state: u64,
}

impl Coin {
    pub(crate) fn new() -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// A uniform draw in [0, 1).
    pub(crate) fn flip(&mut self) -> f64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Micros = 60_000_000;

    #[test]
    fn counter_decays_one_per_minute_and_saturates_at_zero() {
        let t0 = 1_700_000_000_000_000;
        let r = lfu_pack(t0, 10);
        assert_eq!(lfu_decayed(r, t0), 10);
        assert_eq!(lfu_decayed(r, t0 + 3 * MIN), 7);
        assert_eq!(lfu_decayed(r, t0 + 300 * MIN), 0);
    }

    #[test]
    fn counter_grows_logarithmically() {
        let mut coin = Coin::new();
        let t0 = 1_700_000_000_000_000;
        let mut r = lfu_pack(t0, LFU_INIT);
        for _ in 0..100 {
            r = lfu_touch(r, t0, coin.flip());
        }
        let after_100 = lfu_decayed(r, t0);
        for _ in 0..10_000 {
            r = lfu_touch(r, t0, coin.flip());
        }
        let after_10k = lfu_decayed(r, t0);
        // The expected counter after n hits solves sum (b*10+1) = n: about
        // sqrt(n/5) above LFU_INIT; a factor of 100 in hits is about 10x.
        assert!(
            (LFU_INIT + 2..LFU_INIT + 10).contains(&after_100),
            "{after_100}"
        );
        assert!(
            (LFU_INIT + 30..LFU_INIT + 60).contains(&after_10k),
            "{after_10k}"
        );
    }

    #[test]
    fn counter_never_overflows() {
        let t0 = 0;
        let r = lfu_pack(t0, u8::MAX);
        assert_eq!(lfu_decayed(lfu_touch(r, t0, 0.0), t0), u8::MAX);
    }

    #[test]
    fn coin_is_in_unit_interval() {
        let mut c = Coin::new();
        for _ in 0..10_000 {
            let x = c.flip();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
