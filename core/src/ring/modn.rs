//! `hash mod N`: the naive placement, kept to show what consistent hashing
//! buys. Changing N re-deals nearly every key.

use std::collections::BTreeMap;

use super::{NodeId, Placement, SPACE};

/// `hash mod N` over the sorted node list: the primary of hash `h` is
/// `nodes[h % N]`, its replicas the next nodes of the list, wrapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModN {
    /// Member nodes, ascending, without repeats.
    nodes: Vec<NodeId>,
}

impl ModN {
    /// No nodes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Over these nodes (order and repeats do not matter).
    pub fn with_nodes(nodes: &[NodeId]) -> Self {
        let mut nodes = nodes.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        Self { nodes }
    }

    /// The sorted member list the modulus indexes.
    pub fn members(&self) -> &[NodeId] {
        &self.nodes
    }
}

/// How many points of `[0, space)` are `≡ residue (mod modulus)`, for
/// `residue < modulus`.
pub(super) fn residue_count(residue: u128, modulus: u128, space: u128) -> u128 {
    if residue >= space {
        0
    } else {
        (space - 1 - residue) / modulus + 1
    }
}

impl Placement for ModN {
    fn preference_list_for_hash_into(&self, hash: u64, n: usize, out: &mut Vec<NodeId>) {
        out.clear();
        let len = self.nodes.len();
        if len == 0 {
            return;
        }
        let first = (hash % len as u64) as usize;
        out.extend(
            self.nodes[first..]
                .iter()
                .chain(&self.nodes[..first])
                .take(n),
        );
    }

    fn primary_for_hash(&self, hash: u64) -> Option<NodeId> {
        let len = self.nodes.len() as u64;
        (len > 0).then(|| self.nodes[(hash % len) as usize])
    }

    fn add_node(&mut self, id: NodeId, _vnodes: u32) {
        if let Err(pos) = self.nodes.binary_search(&id) {
            self.nodes.insert(pos, id);
        }
    }

    fn remove_node(&mut self, id: NodeId) {
        if let Ok(pos) = self.nodes.binary_search(&id) {
            self.nodes.remove(pos);
        }
    }

    fn nodes(&self) -> Vec<NodeId> {
        self.nodes.clone()
    }

    fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn ownership(&self) -> BTreeMap<NodeId, f64> {
        let modulus = self.nodes.len() as u128;
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let owned = residue_count(i as u128, modulus, 1 << 64);
                (id, owned as f64 / SPACE)
            })
            .collect()
    }
}
