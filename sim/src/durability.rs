//! The end of a fast run: what the cluster still holds of every key with an
//! acknowledged write, judged by the write oracle (see
//! `ringlab_loadgen::durability`). Only this engine can look: it holds the
//! node machines, so it reads their stores directly, without a request.

use ringlab_loadgen::durability::{self, Durability, Held};
use ringlab_loadgen::scenario::Scenario;
use ringlab_loadgen::workload::write_key;

use super::run::World;

/// Whether expiry may remove keys in `sc`: a TTL on writes, EXPIREs, or
/// cache fills with a TTL. Then a key held nowhere is not judged.
pub fn expires(sc: &Scenario) -> bool {
    sc.app.fill_ttl.is_some()
        || sc
            .phases
            .iter()
            .any(|p| p.ttl.is_some() || p.mix.expire > 0.0)
}

impl World<'_> {
    /// Whether eviction or expiry may have removed keys: keys expire in
    /// this scenario, or a live node evicted (a memory limit alone, never
    /// reached, removes nothing; a dead incarnation's evictions are not
    /// seen, but the live nodes held the same load).
    fn evictable(&self) -> bool {
        expires(self.sc)
            || self
                .nodes
                .iter()
                .filter_map(|n| n.machine.as_ref())
                .any(|m| m.store().stats().evictions > 0)
    }

    /// The verdict over every key with an acknowledged write: the newest
    /// entry (last writer wins) any live node holds now.
    pub fn durability(&self) -> Durability {
        let mut name = Vec::new();
        let held = |key: u64| {
            name.clear();
            write_key(&mut name, b"", key);
            let newest = self
                .nodes
                .iter()
                .filter_map(|n| n.machine.as_ref())
                .filter_map(|m| m.store().peek_versioned(&name, self.now))
                .max_by_key(|e| e.version);
            match newest {
                None => Held::Nothing,
                Some(e) => e.value.clone().map_or(Held::Tombstone, Held::Value),
            }
        };
        self.oracle
            .with(|o| durability::check(o, self.evictable(), held))
    }
}
