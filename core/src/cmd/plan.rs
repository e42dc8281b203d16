//! Commands on keys as pure plans.
//!
//! A plan is a small state machine: given the result of its last step, it
//! says what to do next: read a key through the quorum, write an entry, or
//! reply. It never waits, reads a clock or touches the store itself, so
//! read-modify-write commands (SET with NX/XX/GET, INCR, EXPIRE...) are the
//! same decisions whichever engine drives the node. The machine's drive loop
//! ([`crate::machine::quorum`]) carries the steps out; a failed step ends
//! the command with the operation's error before the plan sees it.
//!
//! Read-modify-write commands are a quorum read, a computation and a quorum
//! write with a new version. Two of them racing on one key through
//! different coordinators are last-writer-wins, not atomic: one increment
//! can be lost.

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;

use super::{coll, introspect, keys, scan, setops, strings};
use crate::clock::Micros;
use crate::keyspace::{Page, PageRequest};
use crate::protocol::resp::Proto;
use crate::ring::NodeId;
use crate::store::{Entry, Kind, Store, Version};

/// What the last step gave the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The command starts.
    Start,
    /// The newest entry the quorum read saw (tombstones included).
    Read(Option<Entry>),
    /// The write reached its quorum.
    Wrote,
    /// FLUSHALL reached every peer that answered.
    Flushed,
    /// The pages of keys a [`Step::Gather`] got: this node's and those of
    /// the peers that answered (enough of them that every key has a
    /// replica among them).
    Pages(Vec<Page>),
}

/// What the plan asks for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A quorum read of the key.
    Read(Bytes),
    /// A read of the key whose reply is its live value as a bulk string,
    /// or null (GET). When this node's store alone answers the read, the
    /// drive loop writes the reply straight from the store, with no copy
    /// of the entry; otherwise it reads through the quorum and resumes the
    /// plan with [`Input::Read`], as for [`Step::Read`].
    ReadValue(Bytes),
    /// A quorum write of the entry under the key.
    Write(Bytes, Entry),
    /// Drop every key here and on every peer, as a delete of each at this
    /// version: a write older than it that lands later is refused, so
    /// neither a late replica write nor a read repair brings a key back.
    FlushAll(Version),
    /// Ask every node (this one included) for its page of keys (KEYS,
    /// SCAN; see [`crate::keyspace`]).
    Gather(PageRequest),
    /// Done: the reply.
    Reply(Bytes),
    /// Done: the reply is this value as a bulk string, or null (GET after a
    /// quorum read). The drive loop writes it straight into the
    /// connection's replies: no reply buffer of its own to allocate and copy.
    Value(Option<Bytes>),
}

/// What a plan may use besides its input: the time, new versions and the
/// machine's RNG.
pub struct Cx<'a> {
    /// Model time now.
    pub now: Micros,
    /// The coordinator (versions name it).
    pub node: NodeId,
    /// The last version timestamp handed out.
    pub last_version: &'a mut Micros,
    /// How long a delete's tombstone outlives the delete.
    pub tombstone_grace: Micros,
    /// The protocol the reply is written in.
    pub proto: Proto,
    /// The machine's seeded RNG (SPOP, SRANDMEMBER): never a thread RNG,
    /// so every engine makes the same choices.
    pub rng: &'a mut ChaCha8Rng,
    /// This node's store, read-only: OBJECT and MEMORY report on this
    /// node's copy and its settings (policy, maxmemory).
    pub store: &'a Store,
}

impl Cx<'_> {
    /// A version newer than any this node handed out before.
    pub fn next_version(&mut self) -> Version {
        let ts = self.now.max(*self.last_version + 1);
        *self.last_version = ts;
        Version {
            ts,
            node: self.node,
        }
    }

    /// A tombstone for a delete now.
    pub fn tombstone(&mut self) -> Entry {
        Entry {
            value: None,
            version: self.next_version(),
            expires_at: Some(self.now + self.tombstone_grace),
            kind: Kind::String,
        }
    }

    /// A value written now.
    pub fn value(&mut self, value: Bytes, expires_at: Option<Micros>) -> Entry {
        Entry {
            value: Some(value),
            version: self.next_version(),
            expires_at,
            kind: Kind::String,
        }
    }
}

/// An entry that is live at `now`: a value, not a tombstone, not expired.
pub fn live(e: Option<Entry>, now: Micros) -> Option<Entry> {
    e.filter(|e| e.value.is_some() && e.expires_at.is_none_or(|t| t > now))
}

/// Every command on keys, with the state it keeps between steps.
#[derive(Debug, Clone, Default)]
pub enum Plan {
    /// Nothing left to do (a plan that replied).
    #[default]
    Done,
    Get(strings::Get),
    Set(strings::Set),
    GetDel(strings::GetDel),
    Incr(strings::Incr),
    MGet(strings::MGet),
    MSet(strings::MSet),
    Count(keys::Count),
    Expire(keys::Expire),
    Ttl(keys::Ttl),
    Persist(keys::Persist),
    GetEx(strings::GetEx),
    MSetNx(strings::MSetNx),
    Edit(strings::Edit),
    Measure(strings::Measure),
    IncrFloat(strings::IncrFloat),
    Type(keys::Type),
    Move(keys::Move),
    /// Every hash, list, set and sorted set command.
    Coll(coll::Coll),
    FlushAll,
    /// KEYS and SCAN.
    Scan(scan::Scan),
    /// SINTER, SUNION, SDIFF, SINTERCARD and the STORE forms.
    SetOps(setops::SetOps),
    /// MEMORY USAGE and OBJECT's subcommands on a key.
    Introspect(introspect::Introspect),
}

impl Plan {
    /// The next step, given the last one's result.
    pub fn step(&mut self, input: Input, cx: &mut Cx<'_>) -> Step {
        let step = match self {
            Plan::Done => unreachable!("a plan that replied is not stepped again"),
            Plan::Get(p) => p.step(input, cx),
            Plan::Set(p) => p.step(input, cx),
            Plan::GetDel(p) => p.step(input, cx),
            Plan::Incr(p) => p.step(input, cx),
            Plan::MGet(p) => p.step(input, cx),
            Plan::MSet(p) => p.step(input, cx),
            Plan::Count(p) => p.step(input, cx),
            Plan::Expire(p) => p.step(input, cx),
            Plan::Ttl(p) => p.step(input, cx),
            Plan::Persist(p) => p.step(input, cx),
            Plan::GetEx(p) => p.step(input, cx),
            Plan::MSetNx(p) => p.step(input, cx),
            Plan::Edit(p) => p.step(input, cx),
            Plan::Measure(p) => p.step(input, cx),
            Plan::IncrFloat(p) => p.step(input, cx),
            Plan::Type(p) => p.step(input, cx),
            Plan::Move(p) => p.step(input, cx),
            Plan::Coll(p) => p.step(input, cx),
            Plan::Scan(p) => p.step(input, cx),
            Plan::SetOps(p) => p.step(input, cx),
            Plan::Introspect(p) => p.step(input, cx),
            Plan::FlushAll => match input {
                Input::Start => Step::FlushAll(cx.next_version()),
                _ => Step::Reply(super::reply::ok()),
            },
        };
        if matches!(step, Step::Reply(_)) {
            *self = Plan::Done;
        }
        step
    }
}

/// The entry a plan's read gave it, live at `now`, if it is a string;
/// `Err` holds the WRONGTYPE reply to end the plan with when the key holds
/// another type.
pub(crate) fn read_string(input: Input, now: Micros) -> Result<Option<Entry>, Step> {
    match read_live(input, now) {
        Some(e) if e.kind != Kind::String => Err(Step::Reply(super::reply::wrongtype())),
        e => Ok(e),
    }
}

/// The entry a plan's read gave it, live at `now`. A plan only reads where
/// its state says it did; anything else is a bug in the drive loop.
pub(crate) fn read_live(input: Input, now: Micros) -> Option<Entry> {
    match input {
        Input::Read(e) => live(e, now),
        other => unreachable!("a plan waiting for a read got {other:?}"),
    }
}
