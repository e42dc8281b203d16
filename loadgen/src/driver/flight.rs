//! Singleflight: at most one database read per key at a time on a client
//! machine. The first miss of a key leads (it reads); misses of the same key
//! while that read is out wait for it and share its answer.

use std::collections::BTreeMap;

/// Reads in flight, by key, each with the requests waiting for it (the
/// leader first).
#[derive(Debug)]
pub struct Flights<W> {
    /// Key -> the requests its read answers, in arrival order.
    waiting: BTreeMap<u64, Vec<W>>,
}

impl<W> Default for Flights<W> {
    fn default() -> Self {
        Self {
            waiting: BTreeMap::new(),
        }
    }
}

impl<W> Flights<W> {
    /// `w` missed `key`. True if it leads (no read of `key` is out, so the
    /// caller must start one); false if it waits for the read already out.
    pub fn join(&mut self, key: u64, w: W) -> bool {
        let list = self.waiting.entry(key).or_default();
        list.push(w);
        list.len() == 1
    }

    /// The read of `key` is back: every request it answers, leader first.
    /// The next miss of `key` leads a new read.
    pub fn land(&mut self, key: u64) -> Vec<W> {
        self.waiting.remove(&key).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Misses of a few keys, interleaved with reads coming back in any
        /// order: exactly one read per key per flight, and every miss is
        /// answered by exactly one read.
        #[test]
        fn one_read_per_key_and_every_waiter_answered(
            events in proptest::collection::vec((0..4u64, any::<bool>()), 1..300),
        ) {
            let mut f = Flights::default();
            let mut reads_out: BTreeMap<u64, usize> = BTreeMap::new();
            let mut answered = Vec::new();
            let mut misses = 0usize;
            for (key, is_miss) in events {
                if is_miss {
                    let lead = f.join(key, misses);
                    misses += 1;
                    let out = reads_out.entry(key).or_default();
                    prop_assert_eq!(lead, *out == 0, "lead iff no read of the key is out");
                    if lead {
                        *out += 1;
                    }
                    prop_assert!(*out <= 1);
                } else if reads_out.get(&key).copied().unwrap_or(0) == 1 {
                    let got = f.land(key);
                    prop_assert!(!got.is_empty());
                    answered.extend(got);
                    reads_out.insert(key, 0);
                }
            }
            for key in 0..4 {
                answered.extend(f.land(key));
            }
            answered.sort_unstable();
            prop_assert_eq!(answered, (0..misses).collect::<Vec<_>>());
        }

        /// n concurrent misses of one key: one read, n answers.
        #[test]
        fn n_concurrent_misses_make_one_read(n in 1..100usize) {
            let mut f = Flights::default();
            let leaders = (0..n).filter(|&i| f.join(7, i)).count();
            prop_assert_eq!(leaders, 1);
            prop_assert_eq!(f.land(7), (0..n).collect::<Vec<_>>());
            prop_assert!(f.land(7).is_empty());
        }
    }
}
