//! The busiest node's utilization at a point, estimated from the scenario:
//! the offered rate, the operations a request costs on each node (the
//! table in `scenarios/README.md`), the nodes' shares of the keys on the
//! ring, and the mean service time.
//!
//! An estimate, not a measurement: the fast engine does not report core
//! time per node. It counts a GET and a SET as one operation on the
//! coordinator (spread evenly over the live nodes) plus one on each other
//! live replica of the key, keys uniform over the first phase's key
//! count; read repair, R = 1's local reads and multi-key commands are left
//! out. A dead node costs nothing (its replica requests fail at once).

use ringlab_core::ring::{NodeId, Placement};
use ringlab_loadgen::scenario::{CostDist, Scenario, node_name};
use ringlab_loadgen::workload::write_key;

/// Keys sampled for the ring shares (evenly over the key space).
const SAMPLE_KEYS: u64 = 20_000;

/// The load on the busiest live node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLoad {
    /// Its name.
    pub busiest: String,
    /// Its core time needed per core's time at the offered rate (above 1:
    /// more work than it can do).
    pub utilization: f64,
    /// The mean over the live nodes.
    pub mean: f64,
    /// Operations per second offered to the busiest node.
    pub ops_per_s: f64,
    /// Its cores.
    pub cores: u32,
    /// Its base service time per operation (`per_kb_cost` is not counted,
    /// as in the utilization).
    pub op_cost: CostDist,
}

/// Each node's share of the sampled keys' preference lists (a node in
/// every list has 1.0), by node index (node-1 first).
pub fn key_shares(sc: &Scenario) -> Vec<f64> {
    let nodes: Vec<(NodeId, u32)> = (1..=sc.cluster.nodes)
        .map(|i| {
            let vn = sc.cluster.node_vnodes.get(&node_name(i));
            (i as NodeId, vn.copied().unwrap_or(sc.cluster.vnodes))
        })
        .collect();
    let placement = sc.cluster.placement.build(&nodes);
    let n = sc.cluster.replication.n as usize;
    let count = sc.phases.first().map_or(1, |p| p.keys.count).max(1);
    let step = (count / SAMPLE_KEYS).max(1);
    let mut hits = vec![0u64; nodes.len()];
    let (mut key, mut list, mut sampled) = (Vec::new(), Vec::new(), 0u64);
    let mut i = 0;
    while i < count {
        key.clear();
        write_key(&mut key, b"", i);
        placement.preference_list_into(&key, n, &mut list);
        for id in &list {
            hits[*id as usize - 1] += 1;
        }
        sampled += 1;
        i += step;
    }
    hits.iter().map(|h| *h as f64 / sampled as f64).collect()
}

/// The node (1-based index) with the largest key share; the lowest index
/// on a tie.
pub fn busiest_node(sc: &Scenario) -> u32 {
    let shares = key_shares(sc);
    let mut best = 0;
    for (i, s) in shares.iter().enumerate() {
        if *s > shares[best] {
            best = i;
        }
    }
    best as u32 + 1
}

/// The load at `offered` requests per second with the nodes in `dead`
/// (1-based) gone.
pub fn estimate(sc: &Scenario, offered: f64, dead: &[u32]) -> NodeLoad {
    let shares = key_shares(sc);
    let live: Vec<usize> = (0..shares.len())
        .filter(|i| !dead.contains(&(*i as u32 + 1)))
        .collect();
    let l = live.len().max(1) as f64;
    let mut busiest = (String::new(), -1.0);
    let mut at_busiest = (0.0, 1, sc.capacity.op_cost);
    let mut sum = 0.0;
    for &i in &live {
        let name = node_name(i as u32 + 1);
        let cap = sc.capacity_of(&name);
        let ops = offered * (1.0 / l + shares[i] * (1.0 - 1.0 / l));
        let u = ops * cap.op_cost.mean().as_secs_f64() / f64::from(cap.cores.max(1));
        sum += u;
        if u > busiest.1 {
            at_busiest = (ops, cap.cores, cap.op_cost);
            busiest = (name, u);
        }
    }
    NodeLoad {
        busiest: busiest.0,
        utilization: busiest.1.max(0.0),
        mean: sum / l,
        ops_per_s: at_busiest.0,
        cores: at_busiest.1,
        op_cost: at_busiest.2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(nodes: u32, n: u32) -> Scenario {
        let text = format!(
            "[cluster]\nnodes = {nodes}\nreplication = {{ n = {n} }}\n\
             [capacity]\ncores = 2\nop_cost = \"20us\"\n\
             [[phase]]\nduration = \"1s\"\nrate = 1000\n"
        );
        ringlab_loadgen::scenario::parse(&text, "t.toml").unwrap()
    }

    #[test]
    fn three_nodes_with_n3_each_do_one_operation_per_request() {
        let sc = scenario(3, 3);
        for s in key_shares(&sc) {
            assert!((s - 1.0).abs() < 1e-9);
        }
        // 100k requests/s, one 20 us operation each on 2 cores: 100%.
        let l = estimate(&sc, 100_000.0, &[]);
        assert!((l.utilization - 1.0).abs() < 1e-9, "{l:?}");
        // One dead: each survivor coordinates half and serves its replica.
        let l = estimate(&sc, 100_000.0, &[2]);
        assert!((l.utilization - 1.0).abs() < 1e-9, "{l:?}");
    }

    #[test]
    fn shares_sum_to_n_and_the_busiest_is_above_the_mean() {
        let sc = scenario(8, 3);
        let shares = key_shares(&sc);
        assert!((shares.iter().sum::<f64>() - 3.0).abs() < 1e-9);
        let l = estimate(&sc, 200_000.0, &[]);
        assert!(l.utilization >= l.mean);
        assert_eq!(l.busiest, node_name(busiest_node(&sc)));
    }
}
