//! Whether the cluster kept every acknowledged write: the end-of-run verdict
//! of the write oracle's history (see [`crate::stale`]).
//!
//! A stale read shows a replica that is behind; a **lost** write shows that
//! no replica has it any more. After the run the driver looks, for every
//! key with an acknowledged write, at the newest entry any live node holds
//! (what a read of every replica would return once repaired: last writer
//! wins) and hands it to [`judge`]. With `m` the key's newest acknowledged
//! write, the cluster kept it when it holds
//! - a value stamped by a write that may follow `m` (`m` itself, one
//!   concurrent with it or later: [`Oracle::may_follow`]);
//! - a tombstone, or nothing, and some delete of the key may follow `m`
//!   (nothing: the tombstone's grace ran out).
//!
//! Anything else is a lost write: an older value (an acknowledged overwrite
//! or delete vanished), a tombstone no delete explains, or nothing at all.
//! Two cases cannot be judged and are counted apart: values without the
//! oracle's stamp (cache fills, values shorter than a stamp), and nothing
//! held where eviction or expiry may have removed the key.
//!
//! A lost set whose own value is still on a live node, outranked by the
//! kept entry, was lost to clock order: the kept write was acknowledged
//! before the lost one was sent, yet carries the larger stamp, which only
//! a coordinator's clock behind the others' gives (last writer wins trusts
//! it). Such losses carry `cause: "clock"`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::counters::LostUpdates;
use crate::stale::{Oracle, WriteId};

/// Lost writes a verdict lists as evidence; the count has them all.
pub const EXAMPLES: usize = 10;

/// The newest entry the cluster holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// No live node has the key, not even a tombstone.
    Nothing,
    /// The newest entry is a delete's tombstone.
    Tombstone,
    /// The newest entry is this value.
    Value(Bytes),
}

/// An acknowledged write the cluster no longer has, with what it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWrite {
    /// Key index (`key:<index>`).
    pub key: u64,
    /// The newest acknowledged write of the key (ids number the run's
    /// writes in send order).
    pub write: WriteId,
    /// What that write was: `set` or `delete`.
    pub op: String,
    /// What the cluster holds instead: `nothing`, `a tombstone`, or
    /// `write <id>` (a write acknowledged before `write` was sent).
    pub held: String,
    /// Why, when known: `clock` (the write is still on a replica, outranked
    /// by an older write's larger stamp). Absent otherwise, so verdicts
    /// without one read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What the live nodes hold of a key: the newest entry (last writer wins),
/// and the values of the other entries, which it outranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub newest: Held,
    pub outranked: Vec<Bytes>,
}

impl From<Held> for Holding {
    fn from(newest: Held) -> Self {
        Holding {
            newest,
            outranked: Vec::new(),
        }
    }
}

/// The verdict over every key with an acknowledged write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    /// Keys with an acknowledged write.
    pub keys: u64,
    /// Keys whose newest acknowledged write is lost.
    pub lost: u64,
    /// Keys holding a value without the oracle's stamp (not judged).
    pub unjudged: u64,
    /// Keys held by no node where eviction or expiry may explain it (not
    /// judged).
    pub evictable: u64,
    /// The first lost writes by key, as evidence.
    pub examples: Vec<LostWrite>,
    /// Lost updates of concurrent INCRs, in runs that sent INCRs (see
    /// [`crate::counters`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<LostUpdates>,
}

/// What [`judge`] finds for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Kept,
    Lost(LostWrite),
    Unjudged,
    Evictable,
}

/// Judges key `key`, whose newest acknowledged write is `m`, by what the
/// cluster holds; `evictable`: eviction or expiry may have removed keys.
pub fn judge(o: &Oracle, key: u64, m: WriteId, held: &Held, evictable: bool) -> Verdict {
    let deleted = o.deletes_of(key).iter().any(|&d| o.may_follow(d, m));
    let op = if o.deletes_of(key).contains(&m) {
        "delete"
    } else {
        "set"
    };
    let lost = |held: String| {
        Verdict::Lost(LostWrite {
            key,
            write: m,
            op: op.into(),
            held,
            cause: None,
        })
    };
    match held {
        Held::Value(v) => match o.read_stamp(key, v) {
            None => Verdict::Unjudged,
            Some(s) if o.may_follow(s, m) => Verdict::Kept,
            Some(s) => lost(format!("write {s}")),
        },
        Held::Tombstone if deleted => Verdict::Kept,
        Held::Tombstone => lost("a tombstone".into()),
        Held::Nothing if deleted => Verdict::Kept,
        Held::Nothing if evictable => Verdict::Evictable,
        Held::Nothing => lost("nothing".into()),
    }
}

/// Judges every key with an acknowledged write, in key order; `held` says
/// what the cluster holds for a key index. Counters are judged apart
/// ([`crate::counters::Counters::check`]).
pub fn check(o: &Oracle, evictable: bool, mut held: impl FnMut(u64) -> Holding) -> Durability {
    let mut d = Durability::default();
    for (key, m) in o.newest_acked() {
        d.keys += 1;
        let holding = held(key);
        match judge(o, key, m, &holding.newest, evictable) {
            Verdict::Kept => {}
            Verdict::Unjudged => d.unjudged += 1,
            Verdict::Evictable => d.evictable += 1,
            Verdict::Lost(mut w) => {
                let outranked = |v: &Bytes| o.read_stamp(key, v) == Some(m);
                if holding.outranked.iter().any(outranked) {
                    w.cause = Some("clock".into());
                }
                d.lost += 1;
                if d.examples.len() < EXAMPLES {
                    d.examples.push(w);
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An oracle with one key's history: writes sent and acknowledged in
    /// the order of `steps` (`S`: send a set, `D`: send a delete, `A<n>`:
    /// acknowledge the n-th write sent).
    fn history(steps: &[&str]) -> (Oracle, Vec<Bytes>) {
        let mut o = Oracle::new(3);
        let mut values = Vec::new();
        for s in steps {
            match *s {
                "S" => {
                    let id = o.write_sent();
                    let mut v = vec![0u8; 32];
                    o.stamp(1, id, &mut v);
                    values.push(Bytes::from(v));
                }
                "D" => {
                    o.delete_sent(1);
                    values.push(Bytes::new());
                }
                a => o.write_acked(1, a[1..].parse().unwrap()),
            }
        }
        (o, values)
    }

    fn verdict(o: &Oracle, held: Held, evictable: bool) -> Verdict {
        let (key, m) = o.newest_acked()[0];
        judge(o, key, m, &held, evictable)
    }

    #[test]
    fn the_newest_acknowledged_value_is_kept_and_an_older_one_is_lost() {
        let (o, v) = history(&["S", "A0", "S", "A1"]);
        assert_eq!(verdict(&o, Held::Value(v[1].clone()), false), Verdict::Kept);
        let Verdict::Lost(w) = verdict(&o, Held::Value(v[0].clone()), false) else {
            panic!("write 0 was acknowledged before write 1 was sent");
        };
        assert_eq!((w.write, w.held.as_str()), (1, "write 0"));
        assert!(matches!(
            verdict(&o, Held::Nothing, false),
            Verdict::Lost(_)
        ));
        assert!(matches!(
            verdict(&o, Held::Tombstone, false),
            Verdict::Lost(_)
        ));
        assert_eq!(verdict(&o, Held::Nothing, true), Verdict::Evictable);
    }

    #[test]
    fn concurrent_and_unacknowledged_writes_may_win() {
        // 0 and 1 overlap; 2 is never acknowledged (it may land any time).
        let (o, v) = history(&["S", "S", "A1", "A0", "S"]);
        assert_eq!(verdict(&o, Held::Value(v[0].clone()), false), Verdict::Kept);
        assert_eq!(verdict(&o, Held::Value(v[2].clone()), false), Verdict::Kept);
    }

    #[test]
    fn a_delete_explains_a_tombstone_or_nothing_but_not_an_older_value() {
        let (o, v) = history(&["S", "A0", "D", "A1"]);
        assert_eq!(verdict(&o, Held::Tombstone, false), Verdict::Kept);
        assert_eq!(verdict(&o, Held::Nothing, false), Verdict::Kept);
        assert!(
            matches!(
                verdict(&o, Held::Value(v[0].clone()), false),
                Verdict::Lost(_)
            ),
            "the deleted value came back"
        );
        // A delete acknowledged before the newest set was sent explains
        // nothing; one still in flight does.
        let (o, _) = history(&["D", "A0", "S", "A1"]);
        assert!(matches!(
            verdict(&o, Held::Tombstone, false),
            Verdict::Lost(_)
        ));
        let (o, _) = history(&["S", "A0", "D"]);
        assert_eq!(verdict(&o, Held::Nothing, false), Verdict::Kept);
    }

    #[test]
    fn unstamped_values_are_not_judged_and_the_check_counts_by_key() {
        let (o, v) = history(&["S", "A0"]);
        assert_eq!(
            verdict(&o, Held::Value(Bytes::from_static(b"fill")), false),
            Verdict::Unjudged
        );
        let d = check(&o, false, |_| Held::Nothing.into());
        assert_eq!((d.keys, d.lost, d.examples.len()), (1, 1, 1));
        let d = check(&o, false, |_| Held::Value(v[0].clone()).into());
        assert_eq!((d.keys, d.lost), (1, 0));
    }

    #[test]
    fn a_lost_write_still_held_under_an_older_stamp_is_lost_to_the_clock() {
        let (o, v) = history(&["S", "A0", "S", "A1"]);
        // Write 1 is on a replica, but write 0 (acknowledged before 1 was
        // sent) outranks it: the stamps disagree with the order.
        let d = check(&o, false, |_| Holding {
            newest: Held::Value(v[0].clone()),
            outranked: vec![v[1].clone()],
        });
        assert_eq!(d.lost, 1);
        assert_eq!(d.examples[0].cause.as_deref(), Some("clock"));
        // Gone from every replica: lost, cause unknown.
        let d = check(&o, false, |_| Held::Value(v[0].clone()).into());
        assert_eq!((d.lost, d.examples[0].cause.as_deref()), (1, None));
        let json = serde_json::to_string(&d.examples[0]).expect("serialises");
        assert!(!json.contains("cause"), "{json}");
    }
}
