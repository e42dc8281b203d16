//! The network: ordered channels, one per direction of each connection,
//! that delay every message by the scenario's latency and hold back what a
//! cut link or a lost packet stops.
//!
//! This is madsim's TCP model, which the madsim engine shows: whether a
//! message can go is decided when it is sent (a clogged link or a lost
//! packet says no); a message that cannot go is retried after a backoff
//! that doubles from [`RETRY_FIRST`] to [`RETRY_MAX`] (madsim's 1 ms to 10 s
//! at the default time scale of 1000) and blocks the messages behind it; a
//! message is never delivered before the one sent before it on the channel.

use std::collections::VecDeque;

use rand::Rng;
use ringlab_core::clock::Micros;
use ringlab_loadgen::scenario::LatencyDist;

/// First retry of a message that could not go (model µs).
pub const RETRY_FIRST: Micros = 1;
/// Longest pause between retries (model µs).
pub const RETRY_MAX: Micros = 10_000;

/// What the network settings decide for one message sent now.
pub struct Link {
    /// One-way latency.
    pub latency: LatencyDist,
    /// Probability a send attempt is lost.
    pub loss: f64,
}

impl Link {
    /// The arrival time of a message sent at `now` over a link that is
    /// `clogged` or not, or None when this attempt does not go through.
    pub fn attempt(&self, now: Micros, clogged: bool, rng: &mut impl Rng) -> Option<Micros> {
        if clogged || (self.loss > 0.0 && rng.random_bool(self.loss.min(1.0))) {
            return None;
        }
        Some(now + self.latency.sample(rng).as_micros() as Micros)
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

/// One direction of one connection.
pub struct Channel<M> {
    /// When the last scheduled message is delivered.
    last: Micros,
    /// Messages behind one that could not go, with what their send decided.
    held: VecDeque<(M, Option<Micros>)>,
    /// The current retry pause of the first held message.
    backoff: Micros,
    /// Bumped when the connection is replaced, so stale retries are dropped.
    pub generation: u64,
}

impl<M> Default for Channel<M> {
    fn default() -> Self {
        Self {
            last: 0,
            held: VecDeque::new(),
            backoff: RETRY_FIRST,
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

    /// Sends `msg` at `at`; `arrive` is what the link decided.
    pub fn send(&mut self, at: Micros, arrive: Option<Micros>, msg: M) -> Option<Step<M>> {
        if !self.held.is_empty() {
            self.held.push_back((msg, arrive));
            return None;
        }
        match arrive {
            Some(a) => {
                self.last = self.last.max(a);
                Some(Step::Deliver(self.last, msg))
            }
            None => {
                let start = self.last.max(at);
                self.held.push_back((msg, None));
                self.backoff = RETRY_FIRST;
                Some(Step::Retry(start + RETRY_FIRST))
            }
        }
    }

    /// The first held message was retried at `now` with the link's
    /// decision `arrive`: the steps that follow, in order.
    pub fn retry(&mut self, now: Micros, arrive: Option<Micros>, out: &mut Vec<Step<M>>) {
        let Some(a) = arrive else {
            self.backoff = (self.backoff * 2).min(RETRY_MAX);
            out.push(Step::Retry(now + self.backoff));
            return;
        };
        let Some((msg, _)) = self.held.pop_front() else {
            return;
        };
        self.last = self.last.max(a);
        out.push(Step::Deliver(self.last, msg));
        while let Some((_, state)) = self.held.front() {
            match *state {
                Some(a) => {
                    let (msg, _) = self.held.pop_front().expect("front exists");
                    self.last = self.last.max(a);
                    out.push(Step::Deliver(self.last, msg));
                }
                None => {
                    self.backoff = RETRY_FIRST;
                    out.push(Step::Retry(self.last + RETRY_FIRST));
                    return;
                }
            }
        }
    }

    /// The connection is gone: forget what it held; stale events are
    /// recognised by the new generation.
    pub fn reset(&mut self) {
        self.held.clear();
        self.last = 0;
        self.backoff = RETRY_FIRST;
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let a = c.send(0, Some(100), 1).unwrap();
        let b = c.send(1, Some(50), 2).unwrap();
        assert_eq!(times(&[a, b]), vec![(100, Some(1)), (100, Some(2))]);
    }

    #[test]
    fn a_held_message_blocks_those_behind_it() {
        let mut c = Channel::default();
        let first = c.send(10, None, 1).unwrap();
        assert_eq!(times(&[first]), vec![(10 + RETRY_FIRST, None)]);
        assert!(c.send(11, Some(20), 2).is_none());
        let mut out = Vec::new();
        c.retry(11, None, &mut out);
        assert_eq!(times(&out), vec![(11 + 2 * RETRY_FIRST, None)]);
        out.clear();
        c.retry(13, Some(40), &mut out);
        assert_eq!(times(&out), vec![(40, Some(1)), (40, Some(2))]);
        assert!(!c.is_held());
    }
}
