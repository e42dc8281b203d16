//! The event queue: every future happening of a run, ordered by model time
//! and then by the order it was scheduled in (a sequence number), so that
//! events at the same microsecond run in a fixed, seed-independent order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ringlab_core::clock::Micros;

/// One scheduled event's ordering key and where its payload sits. Kept
/// small so that sifting the heap moves 24 bytes, not the event.
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

/// A min-queue of events by (time, sequence number). Payloads live in a
/// slab whose free slots are reused.
pub struct Queue<E> {
    heap: BinaryHeap<Entry>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
    /// Events popped so far.
    pub popped: u64,
}

impl<E> Queue<E> {
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::with_capacity(4096),
            slab: Vec::with_capacity(4096),
            free: Vec::new(),
            seq: 0,
            popped: 0,
        }
    }

    /// Schedules `ev` at model time `at`.
    pub fn push(&mut self, at: Micros, ev: E) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(ev);
                s
            }
            None => {
                self.slab.push(Some(ev));
                u32::try_from(self.slab.len() - 1).expect("fewer than 4 billion events pending")
            }
        };
        self.heap.push(Entry {
            at,
            seq: self.seq,
            slot,
        });
    }

    /// The earliest event, if any.
    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let e = self.heap.pop()?;
        self.popped += 1;
        let ev = self.slab[e.slot as usize]
            .take()
            .expect("every queued entry has its payload");
        self.free.push(e.slot);
        Some((e.at, ev))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
