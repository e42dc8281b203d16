//! Lost updates of concurrent INCRs: the counter half of the write oracle.
//!
//! INCR is a read-modify-write. A cluster that runs two INCRs of one
//! counter from the same old value (two coordinators reading before either
//! writes, a replica that missed the last write, last writer wins choosing
//! between two increments) loses one of them though both were answered.
//! Every INCR the workload sends adds 1, so two pieces of evidence show a
//! lost update without keeping the whole history:
//!
//! - **a repeated reply**: two acknowledged INCRs of a counter answered
//!   the same value. Applied one after the other they would have answered
//!   different values, so one of them was computed from a value that did
//!   not include the other. Each counter keeps its last [`RECENT`] replies
//!   (concurrent INCRs answer close together), so memory is bounded per
//!   counter whatever the run's length.
//! - **a short final value**: at the end of the run the counter holds less
//!   than the number of its acknowledged INCRs. INCRs that failed or timed
//!   out may still have landed, which can only raise the final value, so
//!   `acked - final` is a lower bound on the updates lost.
//!
//! A counter's lost updates are the larger of the two counts. Where
//! eviction or expiry may have removed counters (the same rule as for lost
//! writes), a counter that restarted from zero repeats values without any
//! lost update, so such runs judge no counter and count them apart.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Replies each counter keeps to find repeats.
pub const RECENT: usize = 64;

/// Counters a verdict lists as evidence; the count has them all.
pub const EXAMPLES: usize = 10;

/// One INCR, numbered from 0 in the order the INCRs were sent.
pub type IncrId = u64;

/// Two acknowledged INCRs of one counter that answered the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    /// The value both answered.
    pub value: i64,
    /// The INCR answered first.
    pub first: IncrId,
    /// The INCR answered later with the same value.
    pub second: IncrId,
}

/// What the oracle keeps of one counter.
#[derive(Debug, Clone, Default)]
struct History {
    /// INCRs acknowledged (an integer reply arrived).
    acked: u64,
    /// The last [`RECENT`] replies, oldest first: value and INCR.
    recent: VecDeque<(i64, IncrId)>,
    /// Replies that repeated one still in `recent`.
    repeats: u64,
    /// The first repeat, as evidence.
    witness: Option<Repeat>,
}

/// The INCR history of a run: per counter, what a verdict needs.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// INCRs sent so far.
    sent: u64,
    /// Per counter index. Ordered: the verdict lists counters in order.
    by_counter: BTreeMap<u64, History>,
}

/// A counter that lost updates, with what shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostUpdate {
    /// Counter index (`ctr:<index>`).
    pub counter: u64,
    /// Its acknowledged INCRs.
    pub acked: u64,
    /// What the cluster holds at the end (`None`: nothing, or not an
    /// integer).
    pub holds: Option<i64>,
    /// Updates lost, at least.
    pub lost: u64,
    /// Two INCRs that answered the same value, if the replies showed it.
    pub repeat: Option<Repeat>,
}

/// The verdict over every counter with an acknowledged INCR.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostUpdates {
    /// Counters with an acknowledged INCR.
    pub counters: u64,
    /// INCRs acknowledged.
    pub acked: u64,
    /// Updates lost, at least (summed over counters).
    pub lost: u64,
    /// Counters not judged because eviction or expiry may have reset them.
    pub evictable: u64,
    /// The first counters that lost updates, as evidence.
    pub examples: Vec<LostUpdate>,
}

impl Counters {
    /// INCRs sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// An INCR is being sent: its id.
    pub fn incr_sent(&mut self) -> IncrId {
        self.sent += 1;
        self.sent - 1
    }

    /// INCR `id` of counter `counter` answered `value`.
    pub fn incr_acked(&mut self, counter: u64, id: IncrId, value: i64) {
        let h = self.by_counter.entry(counter).or_default();
        h.acked += 1;
        if let Some(&(_, first)) = h.recent.iter().find(|&&(v, _)| v == value) {
            h.repeats += 1;
            h.witness.get_or_insert(Repeat {
                value,
                first,
                second: id,
            });
        }
        if h.recent.len() == RECENT {
            h.recent.pop_front();
        }
        h.recent.push_back((value, id));
    }

    /// Judges every counter with an acknowledged INCR, in counter order;
    /// `holds` says what the cluster holds for a counter index (`None`:
    /// nothing, or not an integer); `evictable`: eviction or expiry may
    /// have removed keys.
    pub fn check(&self, evictable: bool, mut holds: impl FnMut(u64) -> Option<i64>) -> LostUpdates {
        let mut v = LostUpdates::default();
        for (&counter, h) in &self.by_counter {
            v.counters += 1;
            v.acked += h.acked;
            if evictable {
                v.evictable += 1;
                continue;
            }
            let held = holds(counter);
            let short = h.acked.saturating_sub(held.unwrap_or(0).max(0) as u64);
            let lost = short.max(h.repeats);
            if lost == 0 {
                continue;
            }
            v.lost += lost;
            if v.examples.len() < EXAMPLES {
                v.examples.push(LostUpdate {
                    counter,
                    acked: h.acked,
                    holds: held,
                    lost,
                    repeat: h.witness,
                });
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends and acknowledges INCRs of counter 1 answering `replies`.
    fn history(replies: &[i64]) -> Counters {
        let mut c = Counters::default();
        for &r in replies {
            let id = c.incr_sent();
            c.incr_acked(1, id, r);
        }
        c
    }

    #[test]
    fn increments_applied_in_turn_lose_nothing() {
        let c = history(&[1, 2, 3, 4]);
        let v = c.check(false, |_| Some(4));
        assert_eq!((v.counters, v.acked, v.lost), (1, 4, 0));
        assert!(v.examples.is_empty());
        // Unacknowledged INCRs that landed raise the final value: fine.
        assert_eq!(c.check(false, |_| Some(6)).lost, 0);
    }

    #[test]
    fn a_repeated_reply_is_a_lost_update_with_its_two_incrs() {
        let c = history(&[1, 2, 2, 3]);
        let v = c.check(false, |_| Some(3));
        assert_eq!(v.lost, 1, "4 acknowledged, 3 held, and 2 answered twice");
        let e = &v.examples[0];
        assert_eq!(
            e.repeat,
            Some(Repeat {
                value: 2,
                first: 1,
                second: 2
            })
        );
        assert_eq!((e.counter, e.acked, e.holds), (1, 4, Some(3)));
    }

    #[test]
    fn a_short_final_value_counts_even_without_repeats() {
        let c = history(&[1, 2, 3]);
        let v = c.check(false, |_| Some(1));
        assert_eq!(v.lost, 2);
        assert_eq!(v.examples[0].repeat, None);
        assert_eq!(c.check(false, |_| None).lost, 3, "nothing held at all");
    }

    #[test]
    fn repeats_are_found_within_the_recent_window_only() {
        let far: Vec<i64> = (1..=RECENT as i64 + 1).chain([1]).collect();
        assert_eq!(history(&far).check(false, |_| Some(1000)).lost, 0);
        let near: Vec<i64> = (1..=RECENT as i64).chain([1]).collect();
        assert_eq!(history(&near).check(false, |_| Some(1000)).lost, 1);
    }

    #[test]
    fn evictable_runs_judge_no_counter() {
        let c = history(&[1, 1]);
        let v = c.check(true, |_| None);
        assert_eq!((v.counters, v.lost, v.evictable), (1, 0, 1));
    }
}
