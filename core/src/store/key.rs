//! The stored form of a key: short keys inline, long keys in one exact heap
//! allocation.
//!
//! Most cache keys are short (a 16-byte key is typical), and a separate heap
//! allocation for each costs a malloc chunk (32 bytes for a 16-byte key on
//! glibc) on top of the pointer that refers to it. Keeping keys of up to
//! [`INLINE_CAP`] bytes inside the map's bucket costs 8 bytes more per bucket
//! than a boxed slice and saves that whole chunk.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// The longest key kept inline; with the length byte and the enum's tag it
/// makes the key exactly 24 bytes, the size of three words.
pub(crate) const INLINE_CAP: usize = 22;

/// A key owned by the store. Hashes and compares as its bytes, so the map can
/// be searched with a plain `&[u8]`.
#[derive(Clone)]
pub(crate) enum Key {
    /// A key of at most [`INLINE_CAP`] bytes.
    Inline {
        /// How many of `bytes` are the key.
        len: u8,
        /// The key, then zero padding.
        bytes: [u8; INLINE_CAP],
    },
    /// A longer key, in an allocation of exactly its length.
    Heap(Box<[u8]>),
}

impl Key {
    /// Copies `key` into its stored form.
    pub(crate) fn new(key: &[u8]) -> Self {
        if key.len() <= INLINE_CAP {
            let mut bytes = [0u8; INLINE_CAP];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(key.into())
        }
    }

    /// The key's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and Eq must agree with `[u8]`'s, which `Borrow<[u8]>` promises.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_bytes().escape_ascii().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn key_is_three_words() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
    }

    #[test]
    fn round_trips_at_every_length_around_the_inline_limit() {
        for len in 0..=INLINE_CAP + 2 {
            let raw: Vec<u8> = (0..len as u8).collect();
            let k = Key::new(&raw);
            assert_eq!(k.as_bytes(), &raw[..]);
            assert_eq!(matches!(k, Key::Inline { .. }), len <= INLINE_CAP);
        }
    }

    #[test]
    fn hashes_like_its_bytes() {
        let s = std::hash::RandomState::new();
        for raw in [&b""[..], b"k", &[7u8; 22], &[9u8; 40]] {
            assert_eq!(s.hash_one(Key::new(raw)), s.hash_one(raw));
        }
    }
}
