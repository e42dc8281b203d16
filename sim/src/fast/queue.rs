//! The event queue: every future happening of a run, ordered by model time
//! and then by the order it was scheduled in (a sequence number), so that
//! events at the same microsecond run in a fixed, seed-independent order.
//!
//! Most events fall within a few hundred µs of now (a message's latency, an
//! operation's service time), so the queue is a calendar: a ring of
//! [`NEAR`] one-µs buckets starting at the time of the last event popped,
//! each a FIFO list, with a bitmap of the non-empty ones; events further
//! out (timeouts, client deadlines, phase starts, faults) wait in a binary
//! heap. A bucket holds one model time, and its FIFO order is the
//! scheduling order, so the earliest event is the first of the first
//! non-empty bucket or the top of the heap, whichever has the smaller
//! (time, sequence number). The order is exactly a heap's of (time,
//! sequence number): a run pops the same events in the same order as with
//! one heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ringlab_core::clock::Micros;

/// Buckets in the ring: events less than this many µs after the last one
/// popped go into a bucket (4 ms covers latencies and service times; the
/// ring's 32 KiB of list ends stay in the cache).
const NEAR: usize = 1 << 12;
const MASK: u64 = NEAR as u64 - 1;
/// The end of a bucket's list.
const NIL: u32 = u32::MAX;

/// A far event's ordering key and where its payload sits (24 bytes, so that
/// sifting the heap moves little).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Micros,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed: the heap's top is the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One event's payload in the slab, with its sequence number and, in a
/// bucket, the next event of the bucket.
struct Node<E> {
    ev: Option<E>,
    seq: u64,
    next: u32,
}

/// A min-queue of events by (time, sequence number). Payloads live in a
/// slab whose free slots are reused.
pub struct Queue<E> {
    /// First and last slot of each bucket's list (NIL when empty), side by
    /// side; bucket `t % NEAR` holds the events at time `t`.
    ends: Vec<[u32; 2]>,
    /// One bit per bucket: set when it holds events.
    bits: Vec<u64>,
    /// No bucketed event is earlier than this (the last time popped).
    cursor: Micros,
    /// Events in buckets.
    near: usize,
    /// Events at or after `cursor + NEAR` when they were scheduled.
    far: BinaryHeap<Entry>,
    slab: Vec<Node<E>>,
    free: Vec<u32>,
    seq: u64,
    /// Events popped so far.
    pub popped: u64,
}

impl<E> Queue<E> {
    pub fn new() -> Self {
        Self {
            ends: vec![[NIL; 2]; NEAR],
            bits: vec![0; NEAR / 64],
            cursor: 0,
            near: 0,
            far: BinaryHeap::with_capacity(1024),
            slab: Vec::with_capacity(4096),
            free: Vec::new(),
            seq: 0,
            popped: 0,
        }
    }

    /// Schedules `ev` at model time `at`.
    pub fn push(&mut self, at: Micros, ev: E) {
        self.seq += 1;
        let seq = self.seq;
        let node = Node {
            ev: Some(ev),
            seq,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = node;
                s
            }
            None => {
                self.slab.push(node);
                u32::try_from(self.slab.len() - 1).expect("fewer than 4 billion events pending")
            }
        };
        if at >= self.cursor && at - self.cursor < NEAR as u64 {
            let b = (at & MASK) as usize;
            match self.ends[b][1] {
                NIL => {
                    self.ends[b][0] = slot;
                    self.bits[b / 64] |= 1 << (b % 64);
                }
                t => self.slab[t as usize].next = slot,
            }
            self.ends[b][1] = slot;
            self.near += 1;
        } else {
            self.far.push(Entry { at, seq, slot });
        }
    }

    /// The time of the first non-empty bucket (there is one).
    fn first_near(&self) -> Micros {
        let start = (self.cursor & MASK) as usize;
        // Bits from the cursor's bucket to the end of the ring, then from the
        // ring's start: the first set one is the earliest time.
        let mut word = start / 64;
        let mut w = self.bits[word] & (!0u64 << (start % 64));
        let mut steps = 0;
        while w == 0 {
            word = (word + 1) % (NEAR / 64);
            w = self.bits[word];
            steps += 1;
            debug_assert!(steps <= NEAR / 64 + 1, "a bucketed event exists");
        }
        let b = word * 64 + w.trailing_zeros() as usize;
        let ahead = (b as u64).wrapping_sub(self.cursor & MASK) & MASK;
        self.cursor + ahead
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let near_at = (self.near > 0).then(|| self.first_near());
        let from_far = match (near_at, self.far.peek()) {
            (None, None) => return None,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(t), Some(f)) => {
                let head = self.ends[(t & MASK) as usize][0];
                (f.at, f.seq) < (t, self.slab[head as usize].seq)
            }
        };
        self.popped += 1;
        let (at, slot) = if from_far {
            let e = self.far.pop().expect("peeked");
            (e.at, e.slot)
        } else {
            let t = near_at.expect("a bucketed event");
            let b = (t & MASK) as usize;
            let slot = self.ends[b][0];
            let next = self.slab[slot as usize].next;
            self.ends[b][0] = next;
            if next == NIL {
                self.ends[b][1] = NIL;
                self.bits[b / 64] &= !(1 << (b % 64));
            }
            self.near -= 1;
            (t, slot)
        };
        // A far event can be earlier than the cursor only if it was
        // scheduled in the past; the cursor never moves back.
        self.cursor = self.cursor.max(at);
        let ev = self.slab[slot as usize]
            .ev
            .take()
            .expect("every queued entry has its payload");
        self.free.push(slot);
        Some((at, ev))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.near + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_then_schedule_order() {
        let mut q = Queue::new();
        q.push(5, "b");
        q.push(3, "a");
        q.push(5, "c");
        q.push(1, "z");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "z"), (3, "a"), (5, "b"), (5, "c")]);
    }

    /// The calendar pops exactly what a heap of (time, sequence number)
    /// pops, with events near and far, at equal times, across the ring's
    /// wrap and scheduled while popping.
    #[test]
    fn same_order_as_a_heap() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut q = Queue::new();
        let mut reference = BinaryHeap::new();
        let mut now = 0;
        let mut id = 0u64;
        for round in 0..200_000 {
            let pushes = rng.random_range(0..3);
            for _ in 0..pushes {
                let delay = match rng.random_range(0..10) {
                    0 => rng.random_range(0..200_000),
                    1 => 0,
                    2 => NEAR as u64 - 1 + rng.random_range(0..3),
                    _ => rng.random_range(0..500),
                };
                id += 1;
                q.push(now + delay, id);
                reference.push(Entry {
                    at: now + delay,
                    seq: id,
                    slot: 0,
                });
            }
            if round % 7 != 0 {
                let got = q.pop();
                let want = reference.pop().map(|e| (e.at, e.seq));
                assert_eq!(got, want);
                if let Some((t, _)) = got {
                    now = t;
                }
            }
        }
        while let Some(e) = reference.pop() {
            assert_eq!(q.pop(), Some((e.at, e.seq)));
        }
        assert!(q.pop().is_none() && q.is_empty());
    }
}
