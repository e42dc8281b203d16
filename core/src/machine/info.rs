//! The INFO command's text: Redis's sections plus a `cluster` section with
//! the ring and the state of every peer. Fields are written in a fixed
//! order; peers in id order.

use super::Machine;
use crate::clock::Micros;
use std::fmt::Write as _;

/// The Redis version reported to clients (the reply shapes follow 7.0).
pub const REDIS_VERSION: &str = "7.0.15";

/// The sections INFO prints by default, in order.
const SECTIONS: &[&str] = &[
    "server", "clients", "memory", "stats", "keyspace", "cluster",
];

/// Renders the asked sections (empty, "all", "default" or "everything":
/// every section). Unknown section names are ignored, as Redis does.
pub fn render(node: &Machine, now: Micros, asked: &[String]) -> String {
    let all = asked.is_empty()
        || asked
            .iter()
            .any(|s| matches!(s.as_str(), "all" | "default" | "everything"));
    let mut out = String::with_capacity(2048);
    for &section in SECTIONS {
        if !all && !asked.iter().any(|s| s == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(node, now, section, &mut out);
    }
    out
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    let _ = write!(out, "{k}:{v}\r\n");
}

fn section_text(node: &Machine, now: Micros, section: &str, out: &mut String) {
    match section {
        "server" => {
            out.push_str("# Server\r\n");
            line(out, "redis_version", REDIS_VERSION);
            line(out, "ringlab_version", env!("CARGO_PKG_VERSION"));
            line(out, "redis_mode", "standalone");
            line(out, "process_id", std::process::id());
            line(out, "tcp_port", node.port);
            line(
                out,
                "uptime_in_seconds",
                now.saturating_sub(node.started_at) / 1_000_000,
            );
            line(out, "node_id", node.id);
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            line(out, "connected_clients", node.conns.len());
            line(out, "maxclients", node.cfg.max_clients);
            // No command blocks and none tracks keys; redis-cli --stat
            // reads these two.
            line(out, "blocked_clients", 0);
            line(out, "tracking_clients", 0);
        }
        "memory" => {
            let t = &node.tunables;
            let used = node.store.stats().used_bytes;
            out.push_str("# Memory\r\n");
            line(out, "used_memory", used);
            line(out, "used_memory_human", human(used));
            line(out, "maxmemory", t.maxmemory);
            line(out, "maxmemory_human", human(t.maxmemory));
            line(out, "maxmemory_policy", t.policy.as_str());
        }
        "stats" => {
            let s = node.store.stats();
            let m = &node.metrics;
            out.push_str("# Stats\r\n");
            line(out, "total_connections_received", m.connections_received);
            line(out, "total_commands_processed", m.total_commands());
            line(out, "rejected_connections", m.rejected_connections);
            line(out, "expired_keys", s.expirations);
            line(out, "evicted_keys", s.evictions);
            line(out, "keyspace_hits", s.hits);
            line(out, "keyspace_misses", s.misses);
            line(out, "protocol_errors", m.protocol_errors);
            line(out, "overloaded_ops", m.overloaded);
        }
        "keyspace" => {
            let s = node.store.stats();
            out.push_str("# Keyspace\r\n");
            if s.keys > 0 {
                // Redis's fields first, as clients parse them (redis-py
                // reads every `k=v`). avg_ttl is Redis's sampled estimate,
                // 0 until its expiry cycle has sampled; ringlab keeps none.
                let _ = write!(
                    out,
                    "db0:keys={},expires={},avg_ttl=0,tombstones={}\r\n",
                    s.keys, s.expires, s.tombstones
                );
            }
        }
        "cluster" => {
            let m = &node.metrics;
            out.push_str("# Cluster\r\n");
            line(out, "cluster_node_id", node.id);
            // One snapshot, so the count and the list agree mid-join.
            let members = &node.membership.members;
            line(out, "cluster_members", members.len());
            line(out, "cluster_placement", node.cfg.placement);
            line(out, "replication_n", node.quorum.n);
            line(out, "replication_r", node.quorum.r);
            line(out, "replication_w", node.quorum.w);
            line(
                out,
                "replica_timeout_ms",
                node.cfg.replica_timeout.as_millis(),
            );
            for mb in members {
                let _ = write!(
                    out,
                    "ring_member_{}:addr={},vnodes={}\r\n",
                    mb.id, mb.addr, mb.vnodes
                );
            }
            for mb in members.iter().filter(|mb| mb.id != node.id) {
                let p = node.peer_views.get(&mb.id).copied().unwrap_or_default();
                let state = if p.up > 0 { "up" } else { "down" };
                let _ = write!(
                    out,
                    "peer_{}:addr={},state={},connections={}/{},errors={}\r\n",
                    mb.id, mb.addr, state, p.up, p.conns, p.errors
                );
            }
            line(out, "peer_errors", m.peer_errors);
            line(out, "quorum_failures", m.quorum_failures);
            line(out, "read_repairs", m.read_repairs);
            line(out, "replica_requests", m.replica_requests);
            node.liveness_info(now, out);
            for (name, _, v) in m.ae.rows() {
                let _ = write!(out, "anti_entropy_{name}:{v}\r\n");
            }
            // Only where membership changes move data, so INFO elsewhere
            // reads as it did.
            if node.cfg.join_stream || m.stream.handoff_keys > 0 || m.stream.left > 0 {
                let _ = write!(
                    out,
                    "membership_streaming:{}\r\n",
                    u8::from(node.streaming())
                );
                let _ = write!(out, "membership_leaving:{}\r\n", u8::from(node.leaving()));
                for (name, v) in m.stream.rows() {
                    let _ = write!(out, "membership_{name}:{v}\r\n");
                }
            }
        }
        _ => unreachable!("only SECTIONS are rendered"),
    }
}

fn human(b: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (u, size) in UNITS {
        if b >= size {
            return format!("{:.2}{u}", b as f64 / size as f64);
        }
    }
    format!("{b}B")
}
