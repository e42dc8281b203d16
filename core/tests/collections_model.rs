//! Model-based tests of the collection families: a random sequence of
//! operations runs on the real code (each command's `apply` on the encoded
//! value, the value threaded from one to the next as the plan stores it)
//! and on a plain model (`VecDeque`, `BTreeMap`, `BTreeSet`); after every
//! step the replies and the decoded values must agree.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use proptest::prelude::*;
use rand::SeedableRng;
use ringlab_core::cmd::coll::{self, Outcome, Write};
use ringlab_core::cmd::plan::Cx;
use ringlab_core::cmd::reply;
use ringlab_core::cmd::{hashes, lists, sets};
use ringlab_core::protocol::resp::Proto;

/// Stores an outcome's write as the plan would: the new value, or none.
fn stored(cur: Option<Bytes>, out: &Outcome) -> Option<Bytes> {
    match &out.write {
        Write::Keep => cur,
        Write::Put(b) => Some(b.clone()),
        Write::Delete => None,
    }
}

fn decoded(v: &Option<Bytes>) -> Vec<Bytes> {
    v.as_ref()
        .map(|b| coll::decode(b).expect("a valid encoding"))
        .unwrap_or_default()
}

fn elem() -> impl Strategy<Value = Bytes> {
    prop_oneof![Just("a"), Just("b"), Just("c"), Just("")]
        .prop_map(|s: &'static str| Bytes::from_static(s.as_bytes()))
}

#[derive(Debug, Clone)]
enum ListOp {
    Push(bool, Vec<Bytes>),
    Pop(bool, Option<u64>),
    Rem(i64, Bytes),
    Trim(i64, i64),
    Set(i64, Bytes),
}

fn list_op() -> impl Strategy<Value = ListOp> {
    prop_oneof![
        (any::<bool>(), proptest::collection::vec(elem(), 1..4))
            .prop_map(|(l, v)| ListOp::Push(l, v)),
        (any::<bool>(), proptest::option::of(0u64..4)).prop_map(|(l, c)| ListOp::Pop(l, c)),
        (-3i64..3, elem()).prop_map(|(c, v)| ListOp::Rem(c, v)),
        (-5i64..5, -5i64..5).prop_map(|(a, b)| ListOp::Trim(a, b)),
        (-5i64..5, elem()).prop_map(|(i, v)| ListOp::Set(i, v)),
    ]
}

/// The model's LTRIM/LRANGE window, written out from Redis's rules.
fn window(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
    let len = len as i64;
    let s = if start < 0 { len + start } else { start }.max(0);
    let e = if stop < 0 { len + stop } else { stop }.min(len - 1);
    if s > e || s >= len {
        0..0
    } else {
        s as usize..e as usize + 1
    }
}

proptest! {
    #[test]
    fn lists_match_a_vecdeque(ops in proptest::collection::vec(list_op(), 1..40)) {
        let mut value: Option<Bytes> = None;
        let mut model: VecDeque<Bytes> = VecDeque::new();
        for op in ops {
            let (real, want) = match &op {
                ListOp::Push(left, items) => {
                    for i in items {
                        if *left { model.push_front(i.clone()) } else { model.push_back(i.clone()) }
                    }
                    let end = if *left { lists::End::Left } else { lists::End::Right };
                    (lists::Op::Push { end, items: items.clone(), only_existing: false },
                     Some(reply::integer(model.len() as i64)))
                }
                ListOp::Pop(left, count) => {
                    let n = count.unwrap_or(1).min(model.len() as u64);
                    for _ in 0..n {
                        if *left { model.pop_front(); } else { model.pop_back(); }
                    }
                    let end = if *left { lists::End::Left } else { lists::End::Right };
                    (lists::Op::Pop { end, count: *count }, None)
                }
                ListOp::Rem(count, v) => {
                    let before = model.len();
                    let limit = if *count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                    let mut removed = 0;
                    let mut idx: Vec<usize> = (0..model.len()).collect();
                    if *count < 0 { idx.reverse(); }
                    let mut drop = BTreeSet::new();
                    for i in idx {
                        if removed < limit && model[i] == *v { drop.insert(i); removed += 1; }
                    }
                    model = model.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, b)| b.clone()).collect();
                    (lists::Op::Rem(*count, v.clone()), Some(reply::integer((before - model.len()) as i64)))
                }
                ListOp::Trim(a, b) => {
                    let w = window(*a, *b, model.len());
                    model = model.range(w).cloned().collect();
                    (lists::Op::Trim(*a, *b), Some(reply::ok()))
                }
                ListOp::Set(i, v) => {
                    let len = model.len() as i64;
                    let p = if *i < 0 { len + i } else { *i };
                    let want = if value.is_none() {
                        reply::error("ERR no such key")
                    } else if (0..len).contains(&p) {
                        model[p as usize] = v.clone();
                        reply::ok()
                    } else {
                        reply::error("ERR index out of range")
                    };
                    (lists::Op::Set(*i, v.clone()), Some(want))
                }
            };
            let out = lists::apply(&real, value.as_ref(), Proto::Resp2);
            if let Some(want) = want {
                prop_assert_eq!(&out.reply, &want, "{:?}", op);
            }
            value = stored(value, &out);
            prop_assert_eq!(decoded(&value), Vec::from(model.clone()), "after {:?}", op);
            // An empty list is no key, as in Redis.
            prop_assert_eq!(value.is_none(), model.is_empty());
        }
    }

    #[test]
    fn hashes_match_a_btreemap(ops in proptest::collection::vec(
        (0u8..3, elem(), elem(), -3i64..3), 1..40)) {
        let mut value: Option<Bytes> = None;
        let mut model: BTreeMap<Bytes, Bytes> = BTreeMap::new();
        for (kind, f, v, n) in ops {
            let (op, want) = match kind {
                0 => {
                    let new = model.insert(f.clone(), v.clone()).is_none();
                    (hashes::Op::Set { pairs: vec![f, v], ok: false }, reply::integer(i64::from(new)))
                }
                1 => {
                    let gone = model.remove(&f).is_some();
                    (hashes::Op::Del(vec![f]), reply::integer(i64::from(gone)))
                }
                _ => {
                    let old = model.get(&f).map(|b| std::str::from_utf8(b).ok().and_then(|s| s.parse::<i64>().ok()));
                    let want = match old {
                        Some(None) => reply::error("ERR hash value is not an integer"),
                        Some(Some(o)) => { model.insert(f.clone(), Bytes::from((o + n).to_string())); reply::integer(o + n) }
                        None => { model.insert(f.clone(), Bytes::from(n.to_string())); reply::integer(n) }
                    };
                    (hashes::Op::IncrBy { field: f, by: n }, want)
                }
            };
            let out = hashes::apply(&op, value.as_ref(), Proto::Resp3);
            prop_assert_eq!(&out.reply, &want, "{:?}", op);
            value = stored(value, &out);
            let flat: Vec<Bytes> = model.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect();
            prop_assert_eq!(decoded(&value), flat, "after {:?}", op);
        }
    }

    #[test]
    fn sets_match_a_btreeset(ops in proptest::collection::vec(
        (0u8..3, proptest::collection::vec(elem(), 1..3), 0u64..3), 1..40), seed in any::<u64>()) {
        let mut value: Option<Bytes> = None;
        let mut model: BTreeSet<Bytes> = BTreeSet::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut last = 0;
        let store = ringlab_core::store::Store::new(Default::default());
        for (kind, ms, count) in ops {
            let mut cx = Cx {
                now: 1,
                node: 1,
                last_version: &mut last,
                tombstone_grace: 1,
                proto: Proto::Resp2,
                rng: &mut rng,
                store: &store,
            };
            let op = match kind {
                0 => sets::Op::Add(ms.clone()),
                1 => sets::Op::Rem(ms.clone()),
                _ => sets::Op::Pop(Some(count)),
            };
            let out = sets::apply(&op, value.as_ref(), &mut cx);
            value = stored(value, &out);
            let want = match kind {
                0 => { let n = ms.iter().filter(|m| model.insert((*m).clone())).count(); Some(n) }
                1 => { let n = ms.iter().filter(|m| model.remove(*m)).count(); Some(n) }
                _ => None,
            };
            match want {
                Some(n) => prop_assert_eq!(&out.reply, &reply::integer(n as i64)),
                None => {
                    // SPOP: whatever it chose left the set, and only that.
                    let now: BTreeSet<Bytes> = decoded(&value).into_iter().collect();
                    prop_assert!(now.is_subset(&model));
                    prop_assert_eq!(model.len() - now.len(), count.min(model.len() as u64) as usize);
                    model = now;
                }
            }
            let got: Vec<Bytes> = decoded(&value);
            prop_assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
        }
    }
}
