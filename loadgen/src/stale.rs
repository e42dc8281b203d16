//! Counting stale reads: a write oracle shared by the clients of a run.
//!
//! Every write the driver sends (a SET or a DEL) gets a [`WriteId`] from the
//! oracle, in the order the writes are sent. A SET value carries its id in a
//! [`STAMP_LEN`]-byte stamp at its start, so a GET reply says which write it
//! returns. When a write's success reply arrives the oracle notes how many
//! writes had been sent by then; when a read is sent it notes the newest
//! (highest id) write of its key acknowledged so far.
//!
//! # When a read is stale
//!
//! A GET that returns the value of write `s` is **stale** when some write
//! `w` of the same key was acknowledged before the read was sent, and `s`
//! had been acknowledged before `w` was sent: `s` then strictly precedes `w`
//! in real time, `w` completed before the read began, and no linearizable
//! register may return `s`. Writes acknowledged only after the read was sent
//! are concurrent with it and never required; so are writes that were in
//! flight, failed or timed out (their effect may land at any later time), so
//! returning one of those is never counted. Of the acknowledged writes, the
//! one sent last (the highest id `m`) decides: every write acknowledged before
//! an earlier one was sent was also acknowledged before `m` was sent. The
//! check is therefore `ack_pos(s) <= m`, where `ack_pos(s)` is the number of
//! writes sent when `s`'s acknowledgement arrived.
//!
//! Reference times, and why they are sound: a write counts as acknowledged
//! when the client reads its reply (after the server completed it), and a
//! read's requirement is taken when the connection takes the request to send
//! (before any server sees it). Using the read's intended start (its due time)
//! instead would ignore writes acknowledged while the read waited in the
//! client's queue, which the read must see since no server had it yet; using
//! the time its answer arrives would require writes concurrent with it.
//! Latency is still measured from the intended start; only the consistency
//! check uses the send time.
//!
//! What is not counted, by design:
//! - misses: a miss may be an eviction or an expiry, which a cache is allowed;
//!   a miss after an acknowledged write is therefore never stale;
//! - values shorter than [`STAMP_LEN`] (their writes still count as
//!   acknowledged writes: a later read returning an older stamped value is
//!   stale), and values without this oracle's stamp (written by another
//!   process, or before the run), which cannot be placed in its history.
//!
//! Deletes are writes like SETs: a DEL gets an id, and once acknowledged a
//! read returning a value written before the DEL was sent is stale (it is a
//! tombstone; a miss after it is of course fine).
//!
//! INCRs are not writes here: a counter holds no stamp. Their replies go
//! to [`crate::counters`], which judges lost updates at the end of the run.
//!
//! Cost: one `u64` per write sent, one more per delete, and one map entry
//! per key written, kept for the whole run (about 8 bytes per write: a run
//! of a million writes holds 8 MB); per counter, its last
//! [`crate::counters::RECENT`] replies.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex, MutexGuard};

use ringlab_core::protocol::resp::Frame;

use crate::counters::{Counters, IncrId};
use crate::workload::OpKind;

/// Bytes of the stamp at the start of a SET value: the write id, then a
/// check word tying it to this oracle and this key (both little-endian).
pub const STAMP_LEN: usize = 16;

/// One write (SET or DEL), numbered from 0 in the order the writes were sent.
pub type WriteId = u64;

/// `ack_pos` of a write that has not been acknowledged (yet, or ever).
const NOT_ACKED: u64 = u64::MAX;

/// The oracle's state, pure: no clock, no lock (see [`WriteOracle`] for the
/// shared handle the driver uses).
#[derive(Debug, Clone, Default)]
pub struct Oracle {
    /// Mixed into every stamp's check word so that values stamped by another
    /// oracle (another process, an earlier run) are not mistaken for ours.
    nonce: u64,
    /// Per write id: the number of writes sent when its acknowledgement
    /// arrived, or [`NOT_ACKED`].
    ack_pos: Vec<u64>,
    /// Per key index: the id of its newest (highest id) acknowledged write.
    /// Never iterated, so its order reaches no output. Its hasher has fixed
    /// keys: the default one seeds itself from the system RNG, which madsim
    /// simulates, and nothing here should draw on a simulation's randomness.
    newest: HashMap<u64, WriteId, BuildHasherDefault<DefaultHasher>>,
    /// Per key index: the ids of its deletes, in send order. Only the
    /// end-of-run durability verdict reads them (a tombstone carries no
    /// stamp, so only this says which deletes may have made it).
    dels: HashMap<u64, Vec<WriteId>, BuildHasherDefault<DefaultHasher>>,
    /// The INCRs' history, for the lost-update verdict.
    counters: Counters,
}

/// What a read must be checked against: its key, and the newest write of
/// that key acknowledged before the read was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCheck {
    /// Key index.
    pub key: u64,
    /// `None` when no write of the key was acknowledged yet: nothing is
    /// required, the read cannot be stale.
    pub newest: Option<WriteId>,
}

impl Oracle {
    /// An oracle whose stamps carry `nonce`.
    pub fn new(nonce: u64) -> Self {
        Self {
            nonce,
            ..Self::default()
        }
    }

    /// Writes sent so far.
    pub fn writes_sent(&self) -> u64 {
        self.ack_pos.len() as u64
    }

    /// A write is being sent: its id.
    pub fn write_sent(&mut self) -> WriteId {
        self.ack_pos.push(NOT_ACKED);
        self.ack_pos.len() as u64 - 1
    }

    /// A delete of `key` is being sent: its write id.
    pub fn delete_sent(&mut self, key: u64) -> WriteId {
        let id = self.write_sent();
        self.dels.entry(key).or_default().push(id);
        id
    }

    /// Write `id` of key `key` was acknowledged (a success reply arrived).
    /// A second acknowledgement of the same write changes nothing; an id
    /// never handed out is ignored.
    pub fn write_acked(&mut self, key: u64, id: WriteId) {
        let sent = self.ack_pos.len() as u64;
        let Some(pos) = self.ack_pos.get_mut(id as usize) else {
            return;
        };
        if *pos == NOT_ACKED {
            *pos = sent;
        }
        let newest = self.newest.entry(key).or_insert(id);
        *newest = (*newest).max(id);
    }

    /// A read of `key` is being sent: what its answer must not predate.
    pub fn read_sent(&self, key: u64) -> ReadCheck {
        ReadCheck {
            key,
            newest: self.newest.get(&key).copied(),
        }
    }

    /// Whether a read sent with `check` that returned write `returned` is
    /// stale (see the module doc).
    pub fn is_stale(&self, check: &ReadCheck, returned: WriteId) -> bool {
        let Some(m) = check.newest else {
            return false;
        };
        self.precedes(returned, m) == Some(true)
    }

    /// Whether write `w` was acknowledged before write `m` was sent (an
    /// unacknowledged write never was); None for an id never handed out.
    fn precedes(&self, w: WriteId, m: WriteId) -> Option<bool> {
        // NOT_ACKED is above every position, so it never precedes.
        self.ack_pos.get(w as usize).map(|&pos| pos <= m)
    }

    /// Whether write `w` may follow write `m` in a linearizable history:
    /// it was not acknowledged before `m` was sent (it is `m`, was
    /// concurrent with it, came after it, or never acknowledged): the
    /// complement of `is_stale`'s rule.
    pub fn may_follow(&self, w: WriteId, m: WriteId) -> bool {
        self.precedes(w, m) == Some(false)
    }

    /// Every key with an acknowledged write, and its newest one, in key
    /// order.
    pub fn newest_acked(&self) -> Vec<(u64, WriteId)> {
        let mut keys: Vec<_> = self.newest.iter().map(|(&k, &m)| (k, m)).collect();
        keys.sort_unstable();
        keys
    }

    /// The INCR history (the end-of-run lost-update verdict reads it).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The deletes of `key` sent so far, in send order.
    pub fn deletes_of(&self, key: u64) -> &[WriteId] {
        self.dels.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The check word of a stamp for `key`.
    fn check_word(&self, key: u64) -> u64 {
        // Multiplying by an odd constant spreads consecutive keys over the
        // word, so a value of one key never passes for another's.
        self.nonce ^ key.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Writes the stamp of write `id` of `key` over the start of `value`;
    /// a value shorter than [`STAMP_LEN`] is left as it is.
    pub fn stamp(&self, key: u64, id: WriteId, value: &mut [u8]) {
        if let Some(head) = value.get_mut(..STAMP_LEN) {
            head[..8].copy_from_slice(&id.to_le_bytes());
            head[8..].copy_from_slice(&self.check_word(key).to_le_bytes());
        }
    }

    /// The write a value of `key` comes from, if it carries this oracle's
    /// stamp for that key.
    pub fn read_stamp(&self, key: u64, value: &[u8]) -> Option<WriteId> {
        let head = value.get(..STAMP_LEN)?;
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        (word(&head[8..]) == self.check_word(key)).then(|| word(&head[..8]))
    }
}

/// What the driver keeps with a sent request to settle it with the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticket {
    /// A SET or a DEL: acknowledged by any reply but an error.
    Write {
        /// Key index.
        key: u64,
        id: WriteId,
    },
    /// A GET: its reply is checked.
    Read(ReadCheck),
    /// An INCR: its integer reply goes into the counter's history.
    Incr {
        /// Counter index.
        counter: u64,
        id: IncrId,
    },
    /// MGET or EXPIRE: not judged (an expiry only turns later reads into
    /// misses, which are never stale).
    Unjudged,
}

/// The oracle shared by every connection of every client of a run (in the
/// simulator all client machines share one; in `ringlab-load`, one process's
/// connections do).
#[derive(Debug, Clone, Default)]
pub struct WriteOracle {
    /// A `std::sync::Mutex`: it is held only for a few map operations, never
    /// across an await.
    inner: Arc<Mutex<Oracle>>,
}

impl WriteOracle {
    /// A fresh oracle whose stamps carry `nonce` (use different nonces for
    /// oracles whose writes may meet in one cluster).
    pub fn new(nonce: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Oracle::new(nonce))),
        }
    }

    /// Locks the state. A poisoned lock means a connection task panicked
    /// inside the oracle: a broken invariant, so the panic propagates.
    fn lock(&self) -> MutexGuard<'_, Oracle> {
        self.inner
            .lock()
            .expect("a driver task panicked inside the write oracle")
    }

    /// Request `op` of `key` is being sent; `value` is the SET value about
    /// to be written (stamped here). The ticket settles its reply.
    pub fn sent(&self, op: OpKind, key: u64, value: Option<&mut [u8]>) -> Ticket {
        let mut o = self.lock();
        match op {
            OpKind::Get => Ticket::Read(o.read_sent(key)),
            OpKind::Delete => Ticket::Write {
                key,
                id: o.delete_sent(key),
            },
            OpKind::Set => {
                let id = o.write_sent();
                if let Some(v) = value {
                    o.stamp(key, id, v);
                }
                Ticket::Write { key, id }
            }
            OpKind::Incr => Ticket::Incr {
                counter: key,
                id: o.counters.incr_sent(),
            },
            OpKind::Mget | OpKind::Expire => Ticket::Unjudged,
        }
    }

    /// The reply to the request of `ticket` arrived (in time or late): a
    /// write not refused is acknowledged; a read returns whether its value is
    /// stale.
    pub fn replied(&self, ticket: &Ticket, reply: &Frame) -> bool {
        let mut o = self.lock();
        match (ticket, reply) {
            (_, Frame::Error(_)) => false,
            (Ticket::Write { key, id }, _) => {
                o.write_acked(*key, *id);
                false
            }
            (Ticket::Read(check), Frame::Bulk(value)) => o
                .read_stamp(check.key, value)
                .is_some_and(|s| o.is_stale(check, s)),
            (Ticket::Incr { counter, id }, Frame::Integer(v)) => {
                o.counters.incr_acked(*counter, *id, *v);
                false
            }
            (Ticket::Read(_) | Ticket::Incr { .. } | Ticket::Unjudged, _) => false,
        }
    }

    /// Writes sent so far (for tests and reports).
    pub fn writes_sent(&self) -> u64 {
        self.lock().writes_sent()
    }

    /// Runs `f` on the oracle's state (the end-of-run durability check).
    pub fn with<T>(&self, f: impl FnOnce(&Oracle) -> T) -> T {
        f(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_after_an_acknowledged_write_must_see_it() {
        let mut o = Oracle::new(7);
        let a = o.write_sent();
        o.write_acked(1, a);
        let b = o.write_sent();
        o.write_acked(1, b);
        let r = o.read_sent(1);
        assert!(o.is_stale(&r, a), "a was acked before b was sent");
        assert!(!o.is_stale(&r, b));
    }

    #[test]
    fn concurrent_writes_may_be_returned_in_either_order() {
        let mut o = Oracle::new(7);
        let a = o.write_sent();
        let b = o.write_sent();
        o.write_acked(1, b);
        o.write_acked(1, a);
        let r = o.read_sent(1);
        assert_eq!(r.newest, Some(b));
        assert!(!o.is_stale(&r, a), "a was in flight when b was sent");
        assert!(!o.is_stale(&r, b));
    }

    #[test]
    fn writes_acknowledged_after_the_read_was_sent_are_not_required() {
        let mut o = Oracle::new(7);
        let a = o.write_sent();
        o.write_acked(1, a);
        let b = o.write_sent();
        let r = o.read_sent(1);
        o.write_acked(1, b);
        assert!(!o.is_stale(&r, a));
        let later = o.read_sent(1);
        assert!(o.is_stale(&later, a));
    }

    #[test]
    fn failed_writes_and_other_keys_never_make_a_read_stale() {
        let mut o = Oracle::new(7);
        let failed = o.write_sent();
        let a = o.write_sent();
        o.write_acked(1, a);
        let other = o.write_sent();
        o.write_acked(2, other);
        let r = o.read_sent(1);
        assert!(!o.is_stale(&r, failed));
        assert_eq!(o.read_sent(3).newest, None);
        assert!(!o.is_stale(&o.read_sent(3), a));
    }

    #[test]
    fn stamps_round_trip_and_reject_other_keys_oracles_and_short_values() {
        let o = Oracle::new(7);
        let mut v = vec![b'a'; 100];
        o.stamp(42, 12345, &mut v);
        assert_eq!(o.read_stamp(42, &v), Some(12345));
        assert_eq!(o.read_stamp(43, &v), None);
        assert_eq!(Oracle::new(8).read_stamp(42, &v), None);
        assert!(v[STAMP_LEN..].iter().all(|&b| b == b'a'));
        let mut short = vec![b'a'; STAMP_LEN - 1];
        o.stamp(42, 1, &mut short);
        assert_eq!(short, vec![b'a'; STAMP_LEN - 1]);
        assert_eq!(o.read_stamp(42, &short), None);
        assert_eq!(o.read_stamp(42, &[b'a'; 64]), None);
    }

    #[test]
    fn the_shared_handle_settles_replies() {
        let w = WriteOracle::new(1);
        let mut old = vec![0u8; 32];
        let t_old = w.sent(OpKind::Set, 5, Some(&mut old));
        assert!(!w.replied(&t_old, &Frame::Simple(bytes::Bytes::from_static(b"OK"))));
        let t_del = w.sent(OpKind::Delete, 5, None);
        // A refused delete is not acknowledged: the old value is still fine.
        let r = w.sent(OpKind::Get, 5, None);
        assert!(!w.replied(
            &t_del,
            &Frame::Error(bytes::Bytes::from_static(b"UNAVAILABLE"))
        ));
        assert!(!w.replied(&r, &Frame::Bulk(old.clone().into())));
        let t_del = w.sent(OpKind::Delete, 5, None);
        assert!(!w.replied(&t_del, &Frame::Integer(1)));
        let r = w.sent(OpKind::Get, 5, None);
        assert!(w.replied(&r, &Frame::Bulk(old.clone().into())));
        assert!(!w.replied(&r, &Frame::Null), "a miss is never stale");
        assert_eq!(w.writes_sent(), 3);
    }
}
