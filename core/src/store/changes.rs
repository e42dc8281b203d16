//! What changed in a store since it was last asked, for anti-entropy's
//! Merkle trees (see [`crate::merkle`]).
//!
//! Every change of a stored entry goes through three places in the store
//! (`insert`, `replace_at`, `remove_at`) and a flush drops everything; each
//! notes here the [`entry_digest`] of what came or went. Client and replica
//! writes, deletes (tombstones), overwrites, evictions and expiries (lazy,
//! sampled or met by eviction) are all covered that way, so the trees stay
//! exact without a rebuild. The store cannot keep the trees itself: which
//! peers share a key is the membership's business, so the machine drains
//! this log and applies it. Off (the default) it costs one branch per change.

use bytes::Bytes;

use crate::merkle::entry_digest;
use crate::store::Entry;

/// Changes noted since the last [`Changes`] was taken.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The store was flushed (emptied) before the `deltas`: the trees start
    /// over from empty.
    pub reset: bool,
    /// The log grew past its bound before it was drained; the deltas were
    /// dropped and the trees must be rebuilt from the store.
    pub overflow: bool,
    /// Per change, the key and the digest to XOR into its leaf (an entry
    /// that came or went; an overwrite notes both).
    pub deltas: Vec<(Bytes, u64)>,
}

/// Deltas kept before the log gives up and asks for a rebuild: the machine
/// drains it after every write, so only changes no write follows (reads
/// that expire keys) pile up, and a rebuild then costs one pass over the
/// store.
const BOUND: usize = 1 << 16;

impl Changes {
    /// Notes that `entry` came into or went out of the store under `key`.
    pub(crate) fn note(&mut self, key: &[u8], entry: &Entry) {
        if self.overflow {
            return;
        }
        if self.deltas.len() >= BOUND {
            self.overflow = true;
            self.deltas = Vec::new();
            return;
        }
        self.deltas
            .push((Bytes::copy_from_slice(key), entry_digest(key, entry)));
    }

    /// Notes a flush: earlier deltas no longer matter.
    pub(crate) fn flushed(&mut self) {
        *self = Changes {
            reset: true,
            ..Changes::default()
        };
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        !self.reset && !self.overflow && self.deltas.is_empty()
    }
}
