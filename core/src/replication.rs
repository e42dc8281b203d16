//! The coordinator of one replicated operation, as a sans-IO state machine.
//!
//! Any node coordinates any key. For one client operation it builds a
//! [`ReadOp`] or a [`WriteOp`] from the key's preference list (the N replicas,
//! which may include the coordinator itself) and the quorum (R or W). The
//! caller owns all I/O and timers; the state machine only decides, in the
//! manner of quinn-proto:
//!
//! 1. `poll_transmit()` until `None`: each replica the request must go to
//!    (the caller applies it locally when the replica is itself);
//! 2. `handle_reply(from, result)` / `handle_ack(from, result)` as answers
//!    come in, in any order; `handle_timeout(now)` when `poll_timeout()`
//!    passes;
//! 3. `decision()`: `Some` as soon as the quorum is met, cannot be met any
//!    more, or the deadline passed. For reads, the caller may keep feeding
//!    late replies until `is_finished()` and then send `repairs()`: the
//!    newest version to every replica that answered with an older one.
//!
//! Nothing here reads a clock: `now` comes in as an argument.

use std::fmt;
use std::time::Duration;

use smallvec::SmallVec;

use crate::clock::Micros;
use crate::ring::NodeId;

/// Replication factor and quorums, already clamped to the cluster's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// Replicas per key.
    pub n: usize,
    /// Replicas that must answer a read.
    pub r: usize,
    /// Replicas that must acknowledge a write.
    pub w: usize,
}

/// A quorum setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// N, R or W was zero.
    #[error("replication setting {name} must be at least 1, got 0")]
    Zero {
        /// Which setting: "n", "r" or "w".
        name: &'static str,
    },
    /// The cluster has no members.
    #[error("the cluster has no members: expected at least one")]
    NoMembers,
}

impl Quorum {
    /// Clamps N to the cluster's size and R, W to N, so that a single node
    /// started with the defaults (N=3, R=2, W=2) runs with N=R=W=1.
    pub fn clamped(n: usize, r: usize, w: usize, members: usize) -> Result<Self, QuorumError> {
        for (name, v) in [("n", n), ("r", r), ("w", w)] {
            if v == 0 {
                return Err(QuorumError::Zero { name });
            }
        }
        if members == 0 {
            return Err(QuorumError::NoMembers);
        }
        let n = n.min(members);
        Ok(Self {
            n,
            r: r.min(n),
            w: w.min(n),
        })
    }
}

/// Why one replica did not answer usefully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaFailure {
    /// No connection, the connection broke, or the replica timed out.
    Unreachable,
    /// The replica refused the work: its queue was full.
    Overloaded,
    /// The replica could not store the write (maxmemory with noeviction).
    OutOfMemory,
    /// The replica has just taken over the key's range and has not
    /// received its keys yet (`machine::stream`): ask the previous owner.
    Moving,
    /// Anything else the replica reported.
    Other(String),
}

impl fmt::Display for ReplicaFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable => f.write_str("unreachable"),
            Self::Overloaded => f.write_str("overloaded"),
            Self::OutOfMemory => f.write_str("out of memory"),
            Self::Moving => f.write_str("moving"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

/// A quorum that was not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumFailure {
    /// Replicas that answered successfully.
    pub got: usize,
    /// Replicas that had to.
    pub needed: usize,
    /// The deadline passed (as opposed to too many replicas failing).
    pub timed_out: bool,
    /// The replicas that failed and why, in arrival order.
    pub failures: Vec<(NodeId, ReplicaFailure)>,
}

impl QuorumFailure {
    /// Whether any replica failed for lack of memory (the node then answers
    /// with Redis's OOM error rather than UNAVAILABLE).
    pub fn out_of_memory(&self) -> bool {
        self.failures
            .iter()
            .any(|(_, f)| *f == ReplicaFailure::OutOfMemory)
    }

    /// Whether any replica was overloaded.
    pub fn overloaded(&self) -> bool {
        self.failures
            .iter()
            .any(|(_, f)| *f == ReplicaFailure::Overloaded)
    }
}

/// Something with a last-writer-wins version: newest wins on reads.
pub trait Versioned {
    /// The version type, ordered oldest to newest.
    type Version: Ord + Copy + fmt::Debug;
    /// This value's version.
    fn version(&self) -> Self::Version;
}

/// A preference list, inline: N replicas and a stand-in or two fit, so a
/// replicated operation allocates nothing for its targets (a `Vec` here
/// was an allocation and a free per operation).
pub type Targets = SmallVec<[NodeId; 4]>;

/// The state shared by reads and writes: who to ask, who answered, when to
/// give up.
#[derive(Debug, Clone)]
struct Tally {
    /// The preference list: every replica the request goes to.
    targets: Targets,
    /// How many must succeed.
    needed: usize,
    /// Model time after which the op gives up.
    deadline: Micros,
    /// The next index of `targets` that `poll_transmit` hands out.
    next_tx: usize,
    /// Whether each target has answered (success or failure), by index.
    answered: Answered,
    /// Successful answers so far.
    ok: usize,
    /// Failures so far, in arrival order.
    failures: Vec<(NodeId, ReplicaFailure)>,
    /// The deadline passed.
    timed_out: bool,
}

/// Which targets of a [`Tally`] answered, by index: a bit each. A
/// `Vec<bool>` was one allocation (and one free) per replicated operation;
/// a preference list is N replicas plus a few stand-ins, so the first 64
/// bits hold them all, and any beyond (more than 64 targets) spill into a
/// vector that is otherwise empty.
#[derive(Debug, Clone)]
struct Answered {
    /// Targets 0..64.
    bits: u64,
    /// Targets 64.. (empty with 64 targets or fewer).
    more: Vec<bool>,
}

impl Answered {
    /// None of `targets` targets answered yet.
    fn new(targets: usize) -> Self {
        Self {
            bits: 0,
            more: vec![false; targets.saturating_sub(64)],
        }
    }

    fn get(&self, i: usize) -> bool {
        match i.checked_sub(64) {
            None => self.bits & (1 << i) != 0,
            Some(j) => self.more[j],
        }
    }

    fn set(&mut self, i: usize) {
        match i.checked_sub(64) {
            None => self.bits |= 1 << i,
            Some(j) => self.more[j] = true,
        }
    }

    /// Room for `targets` targets (one was just added).
    fn grow(&mut self, targets: usize) {
        self.more.resize(targets.saturating_sub(64), false);
    }

    /// Whether all of `targets` targets answered.
    fn all(&self, targets: usize) -> bool {
        let low = if targets >= 64 {
            u64::MAX
        } else {
            (1 << targets) - 1
        };
        self.bits & low == low && self.more.iter().all(|&a| a)
    }
}

impl Tally {
    fn new(targets: Targets, needed: usize, now: Micros, timeout: Duration) -> Self {
        let needed = needed.min(targets.len());
        let answered = Answered::new(targets.len());
        Self {
            targets,
            needed,
            deadline: now.saturating_add(timeout.as_micros() as Micros),
            next_tx: 0,
            answered,
            ok: 0,
            failures: Vec::new(),
            timed_out: false,
        }
    }

    fn poll_transmit(&mut self) -> Option<NodeId> {
        let t = self.targets.get(self.next_tx).copied();
        if t.is_some() {
            self.next_tx += 1;
        }
        t
    }

    /// Marks `from` answered; false if it is not a target or already
    /// answered (duplicates and strangers are ignored).
    fn mark(&mut self, from: NodeId) -> bool {
        if self.timed_out {
            return false;
        }
        match self.targets.iter().position(|&t| t == from) {
            Some(i) if !self.answered.get(i) => {
                self.answered.set(i);
                true
            }
            _ => false,
        }
    }

    /// Adds `node` as one more target, already sent to (the caller sends
    /// it its own request); false if it is a target already or the op
    /// timed out.
    fn add_sent(&mut self, node: NodeId) -> bool {
        if self.timed_out || self.targets.contains(&node) {
            return false;
        }
        self.targets.push(node);
        self.answered.grow(self.targets.len());
        self.next_tx = self.next_tx.max(self.targets.len());
        true
    }

    fn all_answered(&self) -> bool {
        self.answered.all(self.targets.len())
    }

    fn outcome(&self) -> Option<Result<(), QuorumFailure>> {
        if self.ok >= self.needed {
            return Some(Ok(()));
        }
        let possible = self.targets.len() - self.failures.len();
        if possible < self.needed || self.timed_out {
            return Some(Err(QuorumFailure {
                got: self.ok,
                needed: self.needed,
                timed_out: self.timed_out && possible >= self.needed,
                failures: self.failures.clone(),
            }));
        }
        None
    }

    fn handle_timeout(&mut self, now: Micros) {
        if now >= self.deadline {
            self.timed_out = true;
        }
    }
}

/// The result of a quorum write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteDecision {
    /// W replicas acknowledged.
    Committed,
    /// The quorum was not met.
    Failed(QuorumFailure),
}

/// One replicated write (a value or a tombstone) waiting for W acks.
#[derive(Debug, Clone)]
pub struct WriteOp {
    /// Who was asked and who answered.
    tally: Tally,
    /// Set once, when the quorum is met or cannot be.
    decision: Option<WriteDecision>,
}

impl WriteOp {
    /// A write to `targets` (the preference list) that needs `w` acks within
    /// `timeout` of `now`. `w` is clamped to the number of targets.
    pub fn new(targets: impl Into<Targets>, w: usize, now: Micros, timeout: Duration) -> Self {
        let mut op = Self {
            tally: Tally::new(targets.into(), w, now, timeout),
            decision: None,
        };
        op.decide();
        op
    }

    /// The next replica to send the write to, each target once.
    pub fn poll_transmit(&mut self) -> Option<NodeId> {
        self.tally.poll_transmit()
    }

    /// When the caller must call `handle_timeout`; `None` once decided.
    pub fn poll_timeout(&self) -> Option<Micros> {
        self.decision.is_none().then_some(self.tally.deadline)
    }

    /// Whether `node` is a target (a replica, or a stand-in added later).
    pub fn is_target(&self, node: NodeId) -> bool {
        self.tally.targets.contains(&node)
    }

    /// Adds a stand-in for a failed replica (sloppy quorum): its ack counts
    /// towards W like a replica's. The caller sends it the write itself,
    /// after `poll_transmit` ran dry, and adds the stand-in *before*
    /// reporting the replica's failure, so the op is not already decided
    /// as failed. False (nothing added) once decided, or if `node` is a
    /// target already.
    pub fn add_stand_in(&mut self, node: NodeId) -> bool {
        self.decision.is_none() && self.tally.add_sent(node)
    }

    /// A replica's answer. Duplicates and non-targets are ignored.
    pub fn handle_ack(&mut self, from: NodeId, result: Result<(), ReplicaFailure>) {
        if !self.tally.mark(from) {
            return;
        }
        match result {
            Ok(()) => self.tally.ok += 1,
            Err(f) => self.tally.failures.push((from, f)),
        }
        self.decide();
    }

    /// Time passed; gives up if `now` is at or past the deadline.
    pub fn handle_timeout(&mut self, now: Micros) {
        self.tally.handle_timeout(now);
        self.decide();
    }

    /// The decision, once there is one.
    pub fn decision(&self) -> Option<&WriteDecision> {
        self.decision.as_ref()
    }

    /// Successful acks so far.
    pub fn acks(&self) -> usize {
        self.tally.ok
    }

    fn decide(&mut self) {
        if self.decision.is_none() {
            self.decision = self.tally.outcome().map(|o| match o {
                Ok(()) => WriteDecision::Committed,
                Err(f) => WriteDecision::Failed(f),
            });
        }
    }
}

/// The result of a quorum read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadDecision<T> {
    /// R replicas answered; the newest of their values (None: no replica
    /// that answered had the key).
    Value(Option<T>),
    /// The quorum was not met.
    Failed(QuorumFailure),
}

/// One replicated read waiting for R answers, then (optionally) for the
/// rest, to repair stale replicas.
#[derive(Debug, Clone)]
pub struct ReadOp<T> {
    /// Who was asked and who answered.
    tally: Tally,
    /// Each successful answer: who, and what it had.
    replies: Vec<(NodeId, Option<T>)>,
    /// Set once, when the quorum is met or cannot be.
    decision: Option<ReadDecision<T>>,
}

impl<T: Versioned + Clone> ReadOp<T> {
    /// A read from `targets` (the preference list) that needs `r` answers
    /// within `timeout` of `now`. `r` is clamped to the number of targets.
    pub fn new(targets: impl Into<Targets>, r: usize, now: Micros, timeout: Duration) -> Self {
        let mut op = Self {
            tally: Tally::new(targets.into(), r, now, timeout),
            replies: Vec::new(),
            decision: None,
        };
        op.decide();
        op
    }

    /// The next replica to send the read to, each target once.
    pub fn poll_transmit(&mut self) -> Option<NodeId> {
        self.tally.poll_transmit()
    }

    /// When the caller must call `handle_timeout`: the deadline, until every
    /// replica answered or the deadline passed (late replies still serve
    /// read repair after the decision).
    pub fn poll_timeout(&self) -> Option<Micros> {
        (!self.is_finished()).then_some(self.tally.deadline)
    }

    /// A replica's answer: what it holds for the key (tombstones included),
    /// or why it failed. Duplicates and non-targets are ignored.
    pub fn handle_reply(&mut self, from: NodeId, result: Result<Option<T>, ReplicaFailure>) {
        if !self.tally.mark(from) {
            return;
        }
        match result {
            Ok(v) => {
                self.tally.ok += 1;
                self.replies.push((from, v));
            }
            Err(f) => self.tally.failures.push((from, f)),
        }
        self.decide();
    }

    /// Time passed; gives up if `now` is at or past the deadline.
    pub fn handle_timeout(&mut self, now: Micros) {
        self.tally.handle_timeout(now);
        self.decide();
    }

    /// Adds `node` to the targets while the read is undecided (a replica
    /// answered `Moving`: its range's previous owner answers in its
    /// stead); `poll_transmit` hands it out next. R is not raised: the
    /// extra target replaces one that cannot answer. False when the read
    /// is decided or `node` is a target already.
    pub fn add_target(&mut self, node: NodeId) -> bool {
        if self.decision.is_some() || self.tally.targets.contains(&node) {
            return false;
        }
        self.tally.targets.push(node);
        self.tally.answered.grow(self.tally.targets.len());
        true
    }

    /// The decision, once there is one. Fixed when made: replies that come
    /// later only affect `repairs`.
    pub fn decision(&self) -> Option<&ReadDecision<T>> {
        self.decision.as_ref()
    }

    /// Every replica answered, or the deadline passed: nothing more to wait
    /// for.
    pub fn is_finished(&self) -> bool {
        self.tally.timed_out || self.tally.all_answered()
    }

    /// Every successful reply so far: who, and what it had.
    pub fn replies(&self) -> &[(NodeId, Option<T>)] {
        &self.replies
    }

    /// The newest value among all successful replies so far.
    pub fn newest(&self) -> Option<&T> {
        self.replies
            .iter()
            .filter_map(|(_, v)| v.as_ref())
            .max_by_key(|v| v.version())
    }

    /// Replicas that answered with something older than the newest value
    /// (or nothing): they should be sent the newest. Sorted by node id.
    pub fn repairs(&self) -> Vec<NodeId> {
        let Some(newest) = self.newest().map(|v| v.version()) else {
            return Vec::new();
        };
        let mut out: Vec<NodeId> = self
            .replies
            .iter()
            .filter(|(_, v)| v.as_ref().is_none_or(|v| v.version() < newest))
            .map(|(n, _)| *n)
            .collect();
        out.sort_unstable();
        out
    }

    fn decide(&mut self) {
        if self.decision.is_none() {
            self.decision = self.tally.outcome().map(|o| match o {
                Ok(()) => ReadDecision::Value(self.newest().cloned()),
                Err(f) => ReadDecision::Failed(f),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct V(u64, &'static str);
    impl Versioned for V {
        type Version = u64;
        fn version(&self) -> u64 {
            self.0
        }
    }

    const T: Duration = Duration::from_millis(100);

    fn drain(mut f: impl FnMut() -> Option<NodeId>) -> Vec<NodeId> {
        std::iter::from_fn(&mut f).collect()
    }

    #[test]
    fn quorum_clamps_to_cluster_size() {
        assert_eq!(Quorum::clamped(3, 2, 2, 1), Ok(Quorum { n: 1, r: 1, w: 1 }));
        assert_eq!(Quorum::clamped(3, 2, 2, 5), Ok(Quorum { n: 3, r: 2, w: 2 }));
        assert_eq!(
            Quorum::clamped(3, 0, 2, 5),
            Err(QuorumError::Zero { name: "r" })
        );
        assert_eq!(Quorum::clamped(3, 2, 2, 0), Err(QuorumError::NoMembers));
    }

    /// Past 64 targets the answered marks spill out of their bit set: a
    /// read of 70 waits for the 70th, ignores duplicates beyond the 64th,
    /// and a stand-in added as the 71st is waited for too.
    #[test]
    fn more_than_64_targets_are_each_waited_for_once() {
        let targets: Vec<NodeId> = (1..=70).collect();
        let mut op: ReadOp<V> = ReadOp::new(targets.clone(), 70, 0, T);
        assert_eq!(drain(|| op.poll_transmit()), targets);
        for &t in &targets[..69] {
            op.handle_reply(t, Ok(None));
            op.handle_reply(t, Ok(Some(V(9, "dup")))); // duplicate: ignored
        }
        assert!(op.decision().is_none() && !op.is_finished());
        assert!(op.add_target(71));
        op.handle_reply(70, Ok(Some(V(1, "a"))));
        assert_eq!(op.decision(), Some(&ReadDecision::Value(Some(V(1, "a")))));
        assert!(!op.is_finished(), "target 71 has not answered");
        op.handle_reply(71, Ok(None));
        assert!(op.is_finished());
    }

    #[test]
    fn write_transmits_to_each_target_once_and_commits_at_w() {
        let mut op = WriteOp::new(vec![1, 2, 3], 2, 0, T);
        assert_eq!(drain(|| op.poll_transmit()), vec![1, 2, 3]);
        assert_eq!(op.poll_transmit(), None);
        assert_eq!(op.poll_timeout(), Some(100_000));
        op.handle_ack(2, Ok(()));
        assert_eq!(op.decision(), None);
        op.handle_ack(2, Ok(())); // duplicate: ignored
        op.handle_ack(9, Ok(())); // stranger: ignored
        assert_eq!(op.decision(), None);
        op.handle_ack(3, Ok(()));
        assert_eq!(op.decision(), Some(&WriteDecision::Committed));
        assert_eq!(op.poll_timeout(), None);
        assert_eq!(op.acks(), 2);
    }

    #[test]
    fn a_stand_in_added_before_the_failure_keeps_the_quorum_possible() {
        let mut op = WriteOp::new(vec![1, 2, 3], 2, 0, T);
        assert_eq!(drain(|| op.poll_transmit()), vec![1, 2, 3]);
        op.handle_ack(1, Ok(()));
        op.handle_ack(2, Err(ReplicaFailure::Unreachable));
        assert!(op.add_stand_in(4));
        assert!(!op.add_stand_in(4), "a target already");
        assert!(!op.add_stand_in(3), "a replica already");
        assert_eq!(op.poll_transmit(), None, "the caller sends to a stand-in");
        op.handle_ack(3, Err(ReplicaFailure::Unreachable));
        assert_eq!(op.decision(), None, "the stand-in may still answer");
        op.handle_ack(4, Ok(()));
        assert_eq!(op.decision(), Some(&WriteDecision::Committed));
        assert!(!op.add_stand_in(5), "decided");
    }

    #[test]
    fn write_fails_fast_when_quorum_is_impossible() {
        let mut op = WriteOp::new(vec![1, 2, 3], 2, 0, T);
        op.handle_ack(1, Err(ReplicaFailure::Unreachable));
        assert_eq!(op.decision(), None);
        op.handle_ack(3, Err(ReplicaFailure::OutOfMemory));
        let Some(WriteDecision::Failed(f)) = op.decision() else {
            panic!("expected a failure, got {:?}", op.decision());
        };
        assert_eq!((f.got, f.needed, f.timed_out), (0, 2, false));
        assert!(f.out_of_memory());
        assert!(!f.overloaded());
    }

    #[test]
    fn write_times_out_at_the_deadline_not_before() {
        let mut op = WriteOp::new(vec![1, 2, 3], 2, 1_000, T);
        op.handle_ack(1, Ok(()));
        op.handle_timeout(100_999);
        assert_eq!(op.decision(), None);
        op.handle_timeout(101_000);
        assert_eq!(
            op.decision(),
            Some(&WriteDecision::Failed(QuorumFailure {
                got: 1,
                needed: 2,
                timed_out: true,
                failures: vec![],
            }))
        );
        // A late ack changes nothing.
        op.handle_ack(2, Ok(()));
        assert!(matches!(op.decision(), Some(WriteDecision::Failed(_))));
    }

    #[test]
    fn w_is_clamped_to_the_targets() {
        let mut op = WriteOp::new(vec![7], 2, 0, T);
        op.handle_ack(7, Ok(()));
        assert_eq!(op.decision(), Some(&WriteDecision::Committed));
    }

    #[test]
    fn read_newest_wins_among_the_quorum() {
        let mut op = ReadOp::new(vec![1, 2, 3], 2, 0, T);
        assert_eq!(drain(|| op.poll_transmit()), vec![1, 2, 3]);
        op.handle_reply(1, Ok(Some(V(5, "old"))));
        op.handle_reply(3, Ok(Some(V(9, "new"))));
        assert_eq!(op.decision(), Some(&ReadDecision::Value(Some(V(9, "new")))));
        assert!(!op.is_finished());
        assert_eq!(op.repairs(), vec![1]);
        op.handle_reply(2, Ok(None));
        assert!(op.is_finished());
        assert_eq!(op.poll_timeout(), None);
        assert_eq!(op.repairs(), vec![1, 2]);
    }

    #[test]
    fn read_of_a_missing_key_is_none_and_needs_no_repair() {
        let mut op: ReadOp<V> = ReadOp::new(vec![1, 2, 3], 2, 0, T);
        op.handle_reply(1, Ok(None));
        op.handle_reply(2, Ok(None));
        assert_eq!(op.decision(), Some(&ReadDecision::Value(None)));
        assert!(op.repairs().is_empty());
    }

    #[test]
    fn late_newer_reply_changes_repairs_not_the_decision() {
        let mut op = ReadOp::new(vec![1, 2, 3], 2, 0, T);
        op.handle_reply(1, Ok(Some(V(1, "a"))));
        op.handle_reply(2, Ok(Some(V(1, "a"))));
        assert_eq!(op.decision(), Some(&ReadDecision::Value(Some(V(1, "a")))));
        op.handle_reply(3, Ok(Some(V(2, "b"))));
        assert_eq!(op.decision(), Some(&ReadDecision::Value(Some(V(1, "a")))));
        assert_eq!(op.repairs(), vec![1, 2]);
    }

    #[test]
    fn read_fails_on_timeout_and_failures_are_kept() {
        let mut op: ReadOp<V> = ReadOp::new(vec![1, 2, 3], 2, 0, T);
        op.handle_reply(1, Ok(Some(V(1, "a"))));
        op.handle_reply(2, Err(ReplicaFailure::Overloaded));
        op.handle_timeout(100_000);
        let Some(ReadDecision::Failed(f)) = op.decision() else {
            panic!("expected a failure, got {:?}", op.decision());
        };
        assert_eq!((f.got, f.needed, f.timed_out), (1, 2, true));
        assert!(f.overloaded());
        assert!(op.is_finished());
    }

    #[test]
    fn read_fails_fast_when_too_many_replicas_fail() {
        let mut op: ReadOp<V> = ReadOp::new(vec![1, 2, 3], 3, 0, T);
        op.handle_reply(3, Err(ReplicaFailure::Other("boom".into())));
        let Some(ReadDecision::Failed(f)) = op.decision() else {
            panic!("expected a failure");
        };
        assert_eq!((f.got, f.needed, f.timed_out), (0, 3, false));
        assert_eq!(f.failures[0].1.to_string(), "boom");
    }

    /// What a replica does with a request in the property test.
    #[derive(Debug, Clone)]
    enum Answer {
        Ok(Option<u64>),
        Fail,
        Silent,
    }

    fn answer() -> impl Strategy<Value = Answer> {
        prop_oneof![
            (proptest::option::of(0u64..5)).prop_map(Answer::Ok),
            Just(Answer::Fail),
            Just(Answer::Silent),
        ]
    }

    proptest! {
        /// Whatever the answers and their order, the read decides exactly
        /// when the counts say it must, and a success returns the newest of
        /// the first `r` successful answers.
        #[test]
        fn read_decision_matches_a_model(
            answers in proptest::collection::vec(answer(), 1..6),
            r in 1usize..6,
            order in proptest::collection::vec(any::<prop::sample::Index>(), 6),
        ) {
            let n = answers.len();
            let targets: Vec<NodeId> = (0..n as NodeId).collect();
            let mut perm: Vec<usize> = (0..n).collect();
            for (i, ix) in order.iter().enumerate().take(n) {
                let j = ix.index(n);
                perm.swap(i, j);
            }
            let mut op: ReadOp<V> = ReadOp::new(targets.clone(), r, 0, T);
            let r = r.min(n);
            let (mut ok, mut failed) = (0, 0);
            let mut seen: Vec<u64> = Vec::new();
            let mut decided_at_ok = None;
            for &i in &perm {
                match &answers[i] {
                    Answer::Ok(v) => {
                        op.handle_reply(i as NodeId, Ok(v.map(|x| V(x, "v"))));
                        ok += 1;
                        if let (true, Some(x)) = (ok <= r, v) {
                            seen.push(*x);
                        }
                    }
                    Answer::Fail => {
                        op.handle_reply(i as NodeId, Err(ReplicaFailure::Unreachable));
                        failed += 1;
                    }
                    Answer::Silent => continue,
                }
                let must = ok >= r || n - failed < r;
                prop_assert_eq!(op.decision().is_some(), must || decided_at_ok.is_some());
                if must && decided_at_ok.is_none() {
                    decided_at_ok = Some(ok >= r);
                }
            }
            op.handle_timeout(T.as_micros() as Micros);
            prop_assert!(op.is_finished());
            match op.decision() {
                Some(ReadDecision::Value(v)) => {
                    prop_assert_eq!(decided_at_ok, Some(true));
                    prop_assert_eq!(v.as_ref().map(|v| v.0), seen.iter().copied().max());
                }
                Some(ReadDecision::Failed(f)) => {
                    prop_assert_ne!(decided_at_ok, Some(true));
                    prop_assert!(f.got < r);
                }
                None => prop_assert!(false, "no decision after the deadline"),
            }
            // Every repair target answered with something older than the newest.
            let newest = op.newest().map(|v| v.0);
            for t in op.repairs() {
                let Answer::Ok(v) = &answers[t as usize] else {
                    return Err(TestCaseError::fail("repair target did not answer"));
                };
                prop_assert!(v.is_none() || *v < newest);
            }
        }
    }
}
