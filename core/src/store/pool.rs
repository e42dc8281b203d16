//! Redis's eviction pool: the best eviction candidates seen so far.
//!
//! Sampling five entries per eviction and taking the best of those five is a
//! rough LRU: a sample of only recently used entries evicts one of them. The
//! pool keeps the [`POOL_SIZE`] best candidates across evictions, so each
//! eviction chooses among everything sampled lately, not only this time's
//! samples. Candidates hold a snapshot of what ranked them (the LRU stamp,
//! the LFU record or the expiry); the store evicts a candidate only if its
//! entry still has that snapshot, so an entry read or rewritten since it was
//! pooled is dropped from the pool instead of evicted.
//!
//! The pool's keys are copies; 16 short keys are not charged to `maxmemory`.

use super::key::Key;

/// How many candidates the pool keeps (Redis's `EVPOOL_SIZE`).
pub(crate) const POOL_SIZE: usize = 16;

/// An eviction candidate.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// The candidate's key.
    pub(crate) key: Key,
    /// Its map index when sampled: a hint that saves a hash lookup while no
    /// removal has moved it.
    pub(crate) index: u32,
    /// What ranked it, as read when it was sampled.
    pub(crate) snapshot: u64,
}

/// The pool. `score` functions map a snapshot to "evict first" order: the
/// higher, the sooner.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pool {
    /// At most [`POOL_SIZE`] candidates, in no order.
    candidates: Vec<Candidate>,
}

impl Pool {
    /// Offers a sampled entry. A full pool takes it only if it beats the
    /// worst candidate; a key already pooled at the same index gets the new
    /// snapshot. (A key pooled twice under different indices is harmless: the
    /// stale copy fails the store's check and is dropped.)
    pub(crate) fn offer(
        &mut self,
        key: &Key,
        index: u32,
        snapshot: u64,
        score: impl Fn(u64) -> u64,
    ) {
        let worst = if self.candidates.len() < POOL_SIZE {
            None
        } else {
            let (i, worst_score) = self
                .candidates
                .iter()
                .enumerate()
                .map(|(i, c)| (i, score(c.snapshot)))
                .min_by_key(|&(_, s)| s)
                .expect("a full pool is not empty");
            if score(snapshot) <= worst_score {
                return;
            }
            Some(i)
        };
        // The index compare first: it spares a key compare for almost all.
        if let Some(c) = self
            .candidates
            .iter_mut()
            .find(|c| c.index == index && c.key == *key)
        {
            c.snapshot = snapshot;
            return;
        }
        let candidate = Candidate {
            key: key.clone(),
            index,
            snapshot,
        };
        match worst {
            Some(i) => self.candidates[i] = candidate,
            None => self.candidates.push(candidate),
        }
    }

    /// Takes the best candidate out of the pool.
    pub(crate) fn take_best(&mut self, score: impl Fn(u64) -> u64) -> Option<Candidate> {
        // max_by_key keeps the last of equals; ties go to the earliest pooled.
        let (best, _) = self
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (i, score(c.snapshot)))
            .rev()
            .max_by_key(|&(_, s)| s)?;
        Some(self.candidates.swap_remove(best))
    }

    /// Forgets every candidate (the policy changed or the store was flushed).
    pub(crate) fn clear(&mut self) {
        self.candidates.clear();
    }

    /// How many candidates the pool holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.candidates.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u64) -> Key {
        Key::new(&i.to_be_bytes())
    }

    #[test]
    fn keeps_the_best_and_hands_them_out_best_first() {
        let mut p = Pool::default();
        let id = |s: u64| s;
        for i in 0..100 {
            p.offer(&k(i), 0, i, id);
        }
        assert_eq!(p.len(), POOL_SIZE);
        let taken: Vec<u64> = std::iter::from_fn(|| p.take_best(id).map(|c| c.snapshot)).collect();
        assert_eq!(taken, (84..100).rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_pooled_key_is_updated_not_duplicated() {
        let mut p = Pool::default();
        let id = |s: u64| s;
        p.offer(&k(1), 0, 5, id);
        p.offer(&k(1), 0, 9, id);
        assert_eq!(p.len(), 1);
        assert_eq!(p.take_best(id).map(|c| c.snapshot), Some(9));
        assert!(p.take_best(id).is_none());
    }

    #[test]
    fn ties_go_to_the_earliest_pooled() {
        let mut p = Pool::default();
        let flat = |_: u64| 0;
        p.offer(&k(1), 0, 1, flat);
        p.offer(&k(2), 0, 2, flat);
        assert_eq!(p.take_best(flat).map(|c| c.snapshot), Some(1));
    }
}
