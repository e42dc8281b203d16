//! The network: ordered channels, one per direction of each connection,
//! that delay every message by the scenario's latency and hold back what a
//! cut link or a lost packet stops.
//!
//! Two ways a message can fail to go, as the madsim engine shows them:
//!
//! - **A cut (clogged) link**, madsim's own TCP model: the message is
//!   retried after a backoff that doubles from [`RETRY_FIRST`] to
//!   [`RETRY_MAX`] (madsim's 1 ms to 10 s at the default time scale of
//!   1000), starting when the message before it has arrived.
//! - **A lost packet**, TCP's retransmission: the message is sent again
//!   after the retransmission timeout (`network.rto`), then after twice
//!   that, and so on up to [`RTO_MAX`], counted from when it was sent. The
//!   madsim engine models this itself (`ringlab_node::lossy`), because
//!   madsim retries a lost packet like a clogged one, after 1 ms of its
//!   time: 1 µs of model time, which hid loss from every percentile.
//!
//! Either way the message blocks those behind it (head-of-line), and a
//! message is never delivered before the one sent before it on the
//! channel. A send decides loss first and then whether the link is cut (the
//! order the madsim engine meets them); a retry after a cut does not draw
//! loss again (madsim's retry does not).
//!
//! **A write is one unit on a cut link.** A node writes everything it owes
//! a connection at one instant in one write, and madsim retries a write
//! (not a message) while the link is cut; after a heal the held writes go
//! one latency apart. So messages a cut link holds that were sent at the
//! same instant are retried and delivered together, as one write. (On a
//! link that is up each message keeps its own latency draw: the channel
//! never lets one overtake another, so a write's messages arrive within a
//! jitter of each other either way, and the random stream of every run
//! without cuts stays as it was.)

use std::collections::VecDeque;

use rand::Rng;
use ringlab_core::clock::Micros;
use ringlab_loadgen::scenario::LatencyDist;

/// First retry of a message a cut link stopped (model µs).
pub const RETRY_FIRST: Micros = 1;
/// Longest pause between retries of a cut link (model µs).
pub const RETRY_MAX: Micros = 10_000;
/// Longest pause between retransmissions of a lost message (model µs).
pub const RTO_MAX: Micros = ringlab_loadgen::scenario::RTO_MAX.as_micros() as Micros;

/// What the network settings decide for one message sent now.
pub struct Link {
    /// One-way latency.
    pub latency: LatencyDist,
    /// Probability a send attempt is lost.
    pub loss: f64,
    /// First retransmission timeout of a lost message (model µs).
    pub rto: Micros,
}

/// What one send attempt met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The message arrives at this time.
    Arrive(Micros),
    /// The packet was lost: retransmit after the RTO.
    Lost,
    /// The link is cut: retry after madsim's backoff.
    Clogged,
}

impl Link {
    /// A first attempt (or a retransmission) at `now` over a link that is
    /// `clogged` or not: loss is drawn only when there is loss, so a
    /// lossless run draws exactly what it drew before loss had an RTO.
    pub fn attempt(&self, now: Micros, clogged: bool, rng: &mut impl Rng) -> Attempt {
        if self.loss > 0.0 && rng.random_bool(self.loss.min(1.0)) {
            return Attempt::Lost;
        }
        self.resend(now, clogged, rng)
    }

    /// A retry after a cut: madsim's retry, which draws no loss.
    pub fn resend(&self, now: Micros, clogged: bool, rng: &mut impl Rng) -> Attempt {
        if clogged {
            return Attempt::Clogged;
        }
        Attempt::Arrive(now + self.latency.sample_micros(rng))
    }

    /// Whether a connection attempt at `now` gets through. A connect is
    /// not lost (TCP would retransmit the SYN after a second; not
    /// modelled); the latency draw keeps the random stream as it was.
    pub fn connects(&self, now: Micros, clogged: bool, rng: &mut impl Rng) -> bool {
        matches!(self.resend(now, clogged, rng), Attempt::Arrive(_))
    }
}

/// What the caller must schedule after a channel operation.
#[derive(Debug)]
pub enum Step<M> {
    /// Deliver this message at this time.
    Deliver(Micros, M),
    /// Retry the channel's first held message at this time (the event must
    /// carry the channel's generation).
    Retry(Micros),
}

/// A message held behind one that could not go.
struct Held<M> {
    msg: M,
    /// What its send decided.
    attempt: Attempt,
    /// Sent at the same instant as the held message before it, both on a
    /// cut link: the same write, so it goes when that one goes.
    same_write: bool,
}

/// One direction of one connection.
pub struct Channel<M> {
    /// When the last scheduled message is delivered.
    last: Micros,
    /// Messages behind one that could not go.
    held: VecDeque<Held<M>>,
    /// When the last held message was sent, if the link was cut then.
    cut_send: Option<Micros>,
    /// The current pause of the first held message.
    backoff: Micros,
    /// Whether the first held message waits for a retransmission (a loss)
    /// rather than for a cut link: its retry draws loss again.
    head_lost: bool,
    /// Bumped when the connection is replaced, so stale retries are dropped.
    pub generation: u64,
}

impl<M> Default for Channel<M> {
    fn default() -> Self {
        Self {
            last: 0,
            held: VecDeque::new(),
            cut_send: None,
            backoff: RETRY_FIRST,
            head_lost: false,
            generation: 0,
        }
    }
}

impl<M> Channel<M> {
    /// When the channel's last scheduled message arrives (now if none).
    pub fn drained_at(&self, now: Micros) -> Micros {
        self.last.max(now)
    }

    /// Whether messages are held back waiting for a retry.
    pub fn is_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// Whether the first held message waits for a retransmission, so its
    /// retry is a new [`Link::attempt`] rather than a [`Link::resend`].
    pub fn head_lost(&self) -> bool {
        self.head_lost
    }

    /// Sends `msg` at `at`; `attempt` is what the link decided, `rto` the
    /// network's retransmission timeout.
    pub fn send(&mut self, at: Micros, attempt: Attempt, rto: Micros, msg: M) -> Option<Step<M>> {
        if self.held.is_empty()
            && let Attempt::Arrive(a) = attempt
        {
            self.last = self.last.max(a);
            return Some(Step::Deliver(self.last, msg));
        }
        let first = self.held.is_empty();
        let cut = attempt == Attempt::Clogged;
        let same_write = !first && cut && self.cut_send == Some(at);
        self.cut_send = cut.then_some(at);
        self.held.push_back(Held {
            msg,
            attempt,
            same_write,
        });
        first.then(|| self.hold_head(attempt, at, rto))
    }

    /// The first held message met `attempt` (lost or clogged) at `at`,
    /// first time: when to try it again.
    fn hold_head(&mut self, attempt: Attempt, at: Micros, rto: Micros) -> Step<M> {
        self.head_lost = attempt == Attempt::Lost;
        if self.head_lost {
            // TCP's timer runs from the send.
            self.backoff = rto;
            Step::Retry(at + rto)
        } else {
            // madsim's retry starts once the message before has arrived.
            self.backoff = RETRY_FIRST;
            Step::Retry(self.last.max(at) + RETRY_FIRST)
        }
    }

    /// The first held message was retried at `now` and met `attempt`: the
    /// steps that follow, in order.
    pub fn retry(&mut self, now: Micros, attempt: Attempt, rto: Micros, out: &mut Vec<Step<M>>) {
        let a = match attempt {
            Attempt::Arrive(a) => a,
            Attempt::Lost if self.head_lost => {
                self.backoff = (self.backoff * 2).min(RTO_MAX);
                out.push(Step::Retry(now + self.backoff));
                return;
            }
            Attempt::Clogged if !self.head_lost => {
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
                out.push(Step::Retry(now + self.backoff));
                return;
            }
            // The retransmission found the link cut (or, not drawn today,
            // a cut's retry lost): the other wait starts afresh.
            other => {
                out.push(self.hold_head(other, now, rto));
                return;
            }
        };
        let Some(head) = self.held.pop_front() else {
            return;
        };
        self.last = self.last.max(a);
        out.push(Step::Deliver(self.last, head.msg));
        while let Some(next) = self.held.front() {
            match (next.same_write, next.attempt) {
                // The rest of the write that just went arrives with it.
                (true, _) => {
                    let next = self.held.pop_front().expect("front exists");
                    out.push(Step::Deliver(self.last, next.msg));
                }
                (false, Attempt::Arrive(a)) => {
                    let next = self.held.pop_front().expect("front exists");
                    self.last = self.last.max(a);
                    out.push(Step::Deliver(self.last, next.msg));
                }
                (false, other) => {
                    // A lost message behind goes out when the one before
                    // it has: its timer starts now.
                    out.push(self.hold_head(other, now, rto));
                    return;
                }
            }
        }
    }

    /// The connection is gone: forget what it held; stale events are
    /// recognised by the new generation.
    pub fn reset(&mut self) {
        self.held.clear();
        self.cut_send = None;
        self.last = 0;
        self.backoff = RETRY_FIRST;
        self.head_lost = false;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::time::Duration;

    use Attempt::{Arrive, Clogged, Lost};

    /// A retransmission timeout far from madsim's microsecond retry.
    const RTO: Micros = 5_000;

    fn times(steps: &[Step<u32>]) -> Vec<(Micros, Option<u32>)> {
        steps
            .iter()
            .map(|s| match s {
                Step::Deliver(t, m) => (*t, Some(*m)),
                Step::Retry(t) => (*t, None),
            })
            .collect()
    }

    #[test]
    fn never_overtakes() {
        let mut c = Channel::default();
        let a = c.send(0, Arrive(100), RTO, 1).unwrap();
        let b = c.send(1, Arrive(50), RTO, 2).unwrap();
        assert_eq!(times(&[a, b]), vec![(100, Some(1)), (100, Some(2))]);
    }

    #[test]
    fn a_held_message_blocks_those_behind_it() {
        let mut c = Channel::default();
        let first = c.send(10, Clogged, RTO, 1).unwrap();
        assert_eq!(times(&[first]), vec![(10 + RETRY_FIRST, None)]);
        assert!(c.send(11, Arrive(20), RTO, 2).is_none());
        let mut out = Vec::new();
        c.retry(11, Clogged, RTO, &mut out);
        assert_eq!(times(&out), vec![(11 + 2 * RETRY_FIRST, None)]);
        out.clear();
        c.retry(13, Arrive(40), RTO, &mut out);
        assert_eq!(times(&out), vec![(40, Some(1)), (40, Some(2))]);
        assert!(!c.is_held());
    }

    #[test]
    fn a_cut_link_holds_one_write_as_one_unit() {
        let mut c = Channel::default();
        // Two writes while the link is cut: messages 1 and 2 at 10, 3 at 11.
        let first = c.send(10, Clogged, RTO, 1).unwrap();
        assert_eq!(times(&[first]), vec![(10 + RETRY_FIRST, None)]);
        assert!(c.send(10, Clogged, RTO, 2).is_none());
        assert!(c.send(11, Clogged, RTO, 3).is_none());
        // The link heals: the first write arrives whole, and the second
        // is retried once it has arrived.
        let mut out = Vec::new();
        c.retry(20, Arrive(120), RTO, &mut out);
        assert_eq!(
            times(&out),
            vec![(120, Some(1)), (120, Some(2)), (120 + RETRY_FIRST, None)]
        );
        assert!(c.is_held());
        out.clear();
        c.retry(121, Arrive(240), RTO, &mut out);
        assert_eq!(times(&out), vec![(240, Some(3))]);
        assert!(!c.is_held());
    }

    #[test]
    fn messages_of_one_instant_on_a_link_that_is_up_are_not_grouped() {
        let mut c = Channel::default();
        c.send(0, Clogged, RTO, 1).unwrap();
        // Sent while the link was up, behind a held message: each keeps
        // its own draw, and a cut one of the same instant is a new write.
        assert!(c.send(5, Arrive(105), RTO, 2).is_none());
        assert!(c.send(5, Clogged, RTO, 3).is_none());
        let mut out = Vec::new();
        c.retry(10, Arrive(110), RTO, &mut out);
        assert_eq!(
            times(&out),
            vec![(110, Some(1)), (110, Some(2)), (110 + RETRY_FIRST, None)]
        );
    }

    #[test]
    fn a_lost_message_waits_the_rto_doubling_and_blocks_the_channel() {
        let mut c = Channel::default();
        let first = c.send(10, Lost, RTO, 1).unwrap();
        assert_eq!(
            times(&[first]),
            vec![(10 + RTO, None)],
            "TCP's timer runs from the send"
        );
        assert!(c.head_lost());
        assert!(
            c.send(11, Arrive(111), RTO, 2).is_none(),
            "behind the lost one"
        );
        let mut out = Vec::new();
        c.retry(10 + RTO, Lost, RTO, &mut out);
        assert_eq!(times(&out), vec![(10 + 3 * RTO, None)], "the RTO doubles");
        out.clear();
        c.retry(10 + 3 * RTO, Arrive(10 + 3 * RTO + 100), RTO, &mut out);
        let at = 10 + 3 * RTO + 100;
        assert_eq!(times(&out), vec![(at, Some(1)), (at, Some(2))]);
        assert!(!c.is_held() && c.head_lost());
        // The next loss starts again from the RTO, not the doubled wait.
        let next = c.send(at, Lost, RTO, 3).unwrap();
        assert_eq!(times(&[next]), vec![(at + RTO, None)]);
    }

    #[test]
    fn a_lost_message_behind_a_held_one_starts_its_timer_when_that_goes() {
        let mut c = Channel::default();
        c.send(0, Lost, RTO, 1).unwrap();
        assert!(c.send(1, Lost, RTO, 2).is_none());
        let mut out = Vec::new();
        c.retry(RTO, Arrive(RTO + 100), RTO, &mut out);
        assert_eq!(times(&out), vec![(RTO + 100, Some(1)), (2 * RTO, None)]);
    }

    #[test]
    fn the_rto_doubles_up_to_its_cap() {
        let mut c = Channel::default();
        c.send(0, Lost, RTO, 1).unwrap();
        let mut out = Vec::new();
        let mut now = RTO;
        for _ in 0..40 {
            out.clear();
            c.retry(now, Lost, RTO, &mut out);
            let Step::Retry(t) = out[0] else {
                panic!("a retry")
            };
            assert!(t - now <= RTO_MAX);
            now = t;
        }
        out.clear();
        c.retry(now, Lost, RTO, &mut out);
        assert_eq!(times(&out), vec![(now + RTO_MAX, None)]);
    }

    #[test]
    fn a_retransmission_that_finds_the_link_cut_waits_like_a_cut() {
        let mut c = Channel::default();
        c.send(0, Lost, RTO, 1).unwrap();
        let mut out = Vec::new();
        c.retry(RTO, Clogged, RTO, &mut out);
        assert_eq!(times(&out), vec![(RTO + RETRY_FIRST, None)]);
        assert!(
            !c.head_lost(),
            "the next retry is madsim's, without a loss draw"
        );
    }

    #[test]
    fn a_lossless_link_draws_no_loss() {
        let link = Link {
            latency: LatencyDist::BaseJitter {
                base: Duration::from_micros(100),
                jitter: Duration::from_micros(50),
            },
            loss: 0.0,
            rto: RTO,
        };
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(7), ChaCha8Rng::seed_from_u64(7));
        for now in 0..100 {
            assert_eq!(
                link.attempt(now, false, &mut a),
                link.resend(now, false, &mut b)
            );
        }
        assert_eq!(link.attempt(0, true, &mut a), Clogged);
    }
}
