//! The end of a run: what the cluster still holds of every key with an
//! acknowledged write, judged by the write oracle (see
//! `ringlab_loadgen::durability`), and of every counter with an
//! acknowledged INCR (`ringlab_loadgen::counters`). Both engines look at the live nodes'
//! stores directly, without a request: the fast engine holds the machines,
//! and the madsim engine keeps a handle on each running node.

use ringlab_core::store::Entry;
use ringlab_loadgen::durability::{self, Durability, Held, Holding};
use ringlab_loadgen::scenario::Scenario;
use ringlab_loadgen::stale::WriteOracle;
use ringlab_loadgen::workload::{write_counter_key, write_key};

/// Whether expiry may remove keys in `sc`: a TTL on writes, EXPIREs, or
/// cache fills with a TTL.
pub fn expires(sc: &Scenario) -> bool {
    sc.app.fill_ttl.is_some()
        || sc
            .phases
            .iter()
            .any(|p| p.ttl.is_some() || p.mix.expire > 0.0)
}

/// The verdict over every key with an acknowledged write. `entries` gives
/// a key's entry on every live node that has one (tombstones included);
/// `evicted`: a live node evicted keys. A key held nowhere is not judged
/// when keys expire in `sc` or a node evicted (a memory limit alone, never
/// reached, removes nothing; a dead incarnation's evictions are not seen,
/// but the live nodes held the same load).
pub fn verdict(
    sc: &Scenario,
    oracle: &WriteOracle,
    evicted: bool,
    mut entries: impl FnMut(&[u8]) -> Vec<Entry>,
) -> Durability {
    let evictable = evicted || expires(sc);
    let mut name = Vec::new();
    oracle.with(|o| {
        let mut d = durability::check(o, evictable, |key| {
            name.clear();
            write_key(&mut name, b"", key);
            // The newest entry wins, as last writer wins would repair it;
            // the values it outranks tell a loss to clock order apart.
            let mut all = entries(&name);
            all.sort_by_key(|e| std::cmp::Reverse(e.version));
            let mut all = all.into_iter();
            let newest = match all.next() {
                None => Held::Nothing,
                Some(e) => e.value.map_or(Held::Tombstone, Held::Value),
            };
            Holding {
                newest,
                outranked: all.filter_map(|e| e.value).collect(),
            }
        });
        if o.counters().sent() > 0 {
            d.updates = Some(o.counters().check(evictable, |counter| {
                name.clear();
                write_counter_key(&mut name, b"", counter);
                let newest = entries(&name).into_iter().max_by_key(|e| e.version);
                let value = newest?.value?;
                std::str::from_utf8(&value).ok()?.parse().ok()
            }));
        }
        d
    })
}
