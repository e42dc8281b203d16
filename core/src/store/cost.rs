//! What one entry is charged against `maxmemory`, and why.
//!
//! The charge is the memory an entry really holds, measured from the types
//! with `std::mem::size_of`, not a guess:
//!
//! ```text
//! entry_cost(k, v) = BUCKET                    the map's bucket: hash, key, slot
//!                  + INDEX                     its share of the hash index
//!                  + VOLATILE                  its place in the expiry list
//!                  + heap(k)      if k > 22    a long key's own allocation
//!                  + heap(v) + heap(24) if v > 0   the value, and the `bytes`
//!                                              header its first clone allocates
//! heap(n) = max(32, round_up(n + 8, 16))       glibc malloc's chunk for n bytes
//! ```
//!
//! With the layout of this build (see [`BUCKET`]) a 16-byte key and a 100-byte
//! value cost 104 + 11 + 4 + 0 + 112 + 32 = 263 bytes: 147 bytes above the 116
//! bytes of payload. Where those 147 go: the [`Entry`](super::Entry) handed out
//! by reference is 64 bytes (a 32-byte `Bytes`, a 16-byte `Version`, a 16-byte
//! `Option<Micros>`); the bucket adds the hash (8), the recency and expiry-list
//! fields (8) and the inline key's 8 spare bytes; the index adds 11 and the
//! expiry list 4; the value's malloc chunk adds 12 and the `bytes` crate's
//! shared header 32.
//!
//! What is not charged, deliberately: the slack of the map's capacity. The
//! bucket vector and the index grow by doubling, so just after a growth the
//! table holds up to twice the buckets charged here (the charge assumes a full
//! table). Charging the slack would make a write's cost depend on where the
//! table happens to be in its growth, and eviction could not keep a bound
//! that jumps by half the table at once. [`Store::table_bytes`](super::Store::table_bytes)
//! reports the real allocation so the slack can be seen.
//!
//! The malloc formula is glibc's; jemalloc and mimalloc round to other size
//! classes, within a few bytes of it for small values.

use std::mem::size_of;

use super::Slot;
use super::key::{INLINE_CAP, Key};

/// One bucket of the `IndexMap`: its cached hash, the key and the slot. The
/// bucket type is private to indexmap; a tuple of the same fields has its size.
pub const BUCKET: u64 = size_of::<(u64, Key, Slot)>() as u64;

/// One entry's share of the hash index: a `usize` index and a control byte per
/// bucket, at hashbrown's maximum load of 7/8, rounded up.
pub const INDEX: u64 = ((size_of::<usize>() + 1) * 8).div_ceil(7) as u64;

/// One `u32` in the list of keys with an expiry. Charged to every entry, with
/// or without an expiry, because the cost must not depend on the expiry.
pub const VOLATILE: u64 = size_of::<u32>() as u64;

/// The `bytes` crate's shared header (a pointer, a capacity and a reference
/// count), allocated the first time a stored value is cloned, as a reader
/// does to send it.
pub const SHARED_HEADER: u64 = 3 * size_of::<usize>() as u64;

/// The malloc chunk that holds `n` bytes: glibc adds an 8-byte size field,
/// rounds up to 16 and never hands out less than 32. Nothing is allocated for
/// zero bytes.
pub const fn heap(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let chunk = (n + 8 + 15) & !15;
    if chunk < 32 { 32 } else { chunk }
}

/// The bytes charged for an entry with a `key_len`-byte key and a
/// `value_len`-byte value (0 for a tombstone). See the module doc.
pub const fn entry_cost(key_len: usize, value_len: usize) -> u64 {
    let key_heap = if key_len > INLINE_CAP {
        heap(key_len as u64)
    } else {
        0
    };
    let value_heap = if value_len > 0 {
        heap(value_len as u64) + heap(SHARED_HEADER)
    } else {
        0
    };
    BUCKET + INDEX + VOLATILE + key_heap + value_heap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_chunk_sizes() {
        assert_eq!(heap(0), 0);
        assert_eq!(heap(1), 32);
        assert_eq!(heap(24), 32);
        assert_eq!(heap(25), 48);
        assert_eq!(heap(100), 112);
        assert_eq!(heap(104), 112);
        assert_eq!(heap(105), 128);
    }

    #[test]
    fn documented_example_holds_on_64_bit() {
        if size_of::<usize>() == 8 {
            assert_eq!(BUCKET, 104);
            assert_eq!(INDEX, 11);
            assert_eq!(entry_cost(16, 100), 263);
        }
    }

    #[test]
    fn cost_grows_with_sizes() {
        assert!(entry_cost(16, 101) >= entry_cost(16, 100));
        assert!(entry_cost(23, 0) > entry_cost(22, 0));
        assert_eq!(entry_cost(0, 0), entry_cost(22, 0));
        assert!(entry_cost(16, 1) > entry_cost(16, 0));
    }
}
