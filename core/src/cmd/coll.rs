//! What the collection families (hashes, lists, sets, sorted sets) share:
//! the compact encoding of a collection in an entry's bytes, the one plan
//! every collection command runs, and the helpers of their replies.
//!
//! # Encoding
//! A collection is a sequence of byte strings, encoded as a `u32`
//! little-endian count and then each item as a LEB128 length and its bytes.
//! The families give the items their meaning: a hash is field, value,
//! field, value... sorted by field; a list is its elements in order; a set
//! is its members sorted; a sorted set is member, score (8 bytes, an `f64`
//! little-endian), member, score... sorted by member. The entry's
//! [`Kind`] says which. Keeping collections as bytes means the store,
//! eviction, memory accounting and the peer protocol see one value like any
//! string: a collection is charged, evicted, expired and replicated whole.
//! Decoding slices the entry's `Bytes` (no copy of the items).
//!
//! # Replication
//! Every collection command is one plan: a quorum read of the key, the
//! change computed on the decoded collection, and, if it changed, a quorum
//! write of the whole new value under a new version (an empty collection
//! writes a tombstone, as Redis deletes the key). Commands that only read
//! never write. Like INCR, two updates of one key racing through different
//! coordinators are last-writer-wins on the whole value, not merged: one
//! HSET, LPUSH or SADD of the two can be lost.

use bytes::{BufMut, Bytes, BytesMut};

use super::plan::{Cx, Input, Step, read_live};
use super::reply::{self, E_INT};
use super::{hashes, lists, sets, zsets};
use crate::protocol::resp::{Proto, write_bulk, write_nil};
use crate::store::Kind;

/// What a collection command does to the value it read.
#[derive(Debug, Clone)]
pub enum Op {
    Hash(hashes::Op),
    List(lists::Op),
    Set(sets::Op),
    ZSet(zsets::Op),
}

impl Op {
    /// The kind of value the command works on.
    fn kind(&self) -> Kind {
        match self {
            Op::Hash(_) => Kind::Hash,
            Op::List(_) => Kind::List,
            Op::Set(_) => Kind::Set,
            Op::ZSet(_) => Kind::ZSet,
        }
    }

    /// The reply and the change, given the key's encoded value (None: no
    /// such key).
    fn apply(&self, cur: Option<&Bytes>, cx: &mut Cx<'_>) -> Outcome {
        match self {
            Op::Hash(op) => hashes::apply(op, cur, cx.proto),
            Op::List(op) => lists::apply(op, cur, cx.proto),
            Op::Set(op) => sets::apply(op, cur, cx),
            Op::ZSet(op) => zsets::apply(op, cur, cx.proto),
        }
    }
}

/// What to store after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Nothing changed.
    Keep,
    /// The new encoded value.
    Put(Bytes),
    /// The collection is empty: the key goes.
    Delete,
}

/// A command's reply and what it stores.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reply: Bytes,
    pub write: Write,
}

impl Outcome {
    /// A reply that changes nothing.
    pub fn read(reply: Bytes) -> Self {
        Self {
            reply,
            write: Write::Keep,
        }
    }

    /// The reply to a value that does not decode (a bug or a corrupt peer;
    /// never a panic).
    pub fn corrupt() -> Self {
        Self::read(reply::error("ERR corrupt collection value"))
    }
}

/// The plan of every collection command: read, check the type, compute,
/// write if changed (keeping the key's expiry), reply.
#[derive(Debug, Clone)]
pub struct Coll {
    key: Bytes,
    op: Op,
    /// The reply, kept while the write is on its way.
    reply: Bytes,
}

impl Coll {
    pub fn new(key: Bytes, op: Op) -> Self {
        Self {
            key,
            op,
            reply: Bytes::new(),
        }
    }

    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        match input {
            Input::Start => return Step::Read(self.key.clone()),
            Input::Wrote => return Step::Reply(std::mem::take(&mut self.reply)),
            _ => {}
        }
        let cur = read_live(input, cx.now);
        let kind = self.op.kind();
        if cur.as_ref().is_some_and(|e| e.kind != kind) {
            return Step::Reply(reply::wrongtype());
        }
        let out = self
            .op
            .apply(cur.as_ref().and_then(|e| e.value.as_ref()), cx);
        let entry = match out.write {
            Write::Keep => return Step::Reply(out.reply),
            Write::Delete if cur.is_none() => return Step::Reply(out.reply),
            Write::Delete => cx.tombstone(),
            Write::Put(bytes) => {
                let mut e = cx.value(bytes, cur.and_then(|e| e.expires_at));
                e.kind = kind;
                e
            }
        };
        self.reply = out.reply;
        Step::Write(self.key.clone(), entry)
    }
}

/// Encodes `items` (see the module doc).
pub fn encode<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Bytes {
    let count = u32::try_from(items.len()).expect("a collection holds fewer than 2^32 items");
    let mut out = BytesMut::with_capacity(4 + items.len() * 8);
    out.put_u32_le(count);
    for item in items {
        let mut n = item.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.put_u8(byte);
                break;
            }
            out.put_u8(byte | 0x80);
        }
        out.put_slice(item);
    }
    out.freeze()
}

/// Decodes an encoding made by [`encode`] into slices of `b`; None if it is
/// not one.
pub fn decode(b: &Bytes) -> Option<Vec<Bytes>> {
    let count = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
    // Every item takes at least a byte: a bogus count cannot allocate much.
    if count > b.len() {
        return None;
    }
    let mut items = Vec::with_capacity(count);
    let mut at = 4;
    for _ in 0..count {
        let mut len = 0u64;
        let mut shift = 0;
        loop {
            let byte = *b.get(at)?;
            at += 1;
            len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        if end > b.len() {
            return None;
        }
        items.push(b.slice(at..end));
        at = end;
    }
    (at == b.len()).then_some(items)
}

/// The items of the key's value, or none for a missing key.
pub fn items(cur: Option<&Bytes>) -> Option<Vec<Bytes>> {
    match cur {
        Some(b) => decode(b),
        None => Some(Vec::new()),
    }
}

/// What to store for a collection of `len` items encoded by `enc`.
pub fn put<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Write {
    if items.len() == 0 {
        Write::Delete
    } else {
        Write::Put(encode(items))
    }
}

/// A count argument that must be positive (LPOP, SPOP, ZPOPMIN...), with
/// Redis's error (the same for a negative count and for no integer).
pub fn positive_count(arg: &[u8]) -> Result<u64, Bytes> {
    match reply::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(reply::error("ERR value is out of range, must be positive")),
    }
}

/// An integer argument, or Redis's error.
pub fn int_arg(arg: &[u8]) -> Result<i64, Bytes> {
    reply::parse_i64(arg).ok_or_else(|| reply::error_bytes(E_INT))
}

/// Redis's inclusive index range `start..=stop` (negative from the end)
/// over `len` items, clamped; None when it selects nothing.
pub fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// A score or float argument as Redis's `strtod` reads one: no leading
/// space, the whole text, not NaN; `inf` allowed.
pub fn parse_double(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A double as Redis 7.0 prints one (`%.17g`; `inf`, `-inf`).
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific notation");
    let exp: i32 = exp.parse().expect("an exponent");
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    } else {
        strip(&format!("{v:.*}", (16 - exp) as usize))
    }
}

/// A double reply: a bulk string in RESP2, `,` in RESP3.
pub fn write_double(out: &mut BytesMut, proto: Proto, v: f64) {
    let text = format_double(v);
    match proto {
        Proto::Resp2 => write_bulk(out, text.as_bytes()),
        Proto::Resp3 => {
            out.put_u8(b',');
            out.put_slice(text.as_bytes());
            out.put_slice(b"\r\n");
        }
    }
}

/// A double or nil reply.
pub fn write_double_or_nil(out: &mut BytesMut, proto: Proto, v: Option<f64>) {
    match v {
        Some(v) => write_double(out, proto, v),
        None => write_nil(out, proto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the items, decoding an encoding gives them back.
        #[test]
        fn encoding_round_trips(items in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let enc = encode(items.iter().map(|v| &v[..]));
            let back = decode(&enc).expect("decodes");
            let back: Vec<Vec<u8>> = back.iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(back, items);
        }

        /// Arbitrary bytes decode to something or nothing, never a panic,
        /// and what decodes re-encodes to the same bytes.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let b = Bytes::from(bytes);
            if let Some(items) = decode(&b) {
                prop_assert_eq!(encode(items.iter().map(|i| &i[..])), b);
            }
        }
    }

    #[test]
    fn doubles_print_like_redis_7_0() {
        for (v, want) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
            (123456789.0, "123456789"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(format_double(v), want, "{v}");
        }
    }

    #[test]
    fn index_ranges_follow_redis() {
        assert_eq!(index_range(0, -1, 3), Some((0, 2)));
        assert_eq!(index_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(index_range(2, 1, 3), None);
        assert_eq!(index_range(3, 5, 3), None);
        assert_eq!(index_range(0, -1, 0), None);
        assert_eq!(index_range(-2, -1, 3), Some((1, 2)));
    }
}
