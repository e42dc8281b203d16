//! Counters and a latency histogram, and their Prometheus text exposition
//! (served by a tiny HTTP/1.0 responder on `--metrics-addr`).
//!
//! Everything is an atomic updated on the request path; rendering reads them
//! in a fixed order, so the output's order never depends on a hash map.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::Stats;

/// Upper bounds of the latency histogram's buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000,
];

/// The node's counters.
pub struct Metrics {
    /// Calls per command, indexed like the command table (last: unknown).
    pub commands: Box<[AtomicU64]>,
    /// Command latencies per bucket of [`LATENCY_BUCKETS_US`] (last: +Inf).
    latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of command latencies, microseconds.
    latency_sum_us: AtomicU64,
    /// Client connections accepted.
    pub connections_received: AtomicU64,
    /// Client connections refused for max_clients.
    pub rejected_connections: AtomicU64,
    /// Protocol errors that closed a client connection.
    pub protocol_errors: AtomicU64,
    /// Peer failures: connects that failed, connections lost, requests that
    /// failed or timed out.
    pub peer_errors: AtomicU64,
    /// Client operations that failed their read or write quorum.
    pub quorum_failures: AtomicU64,
    /// Repair writes sent to stale replicas after reads.
    pub read_repairs: AtomicU64,
    /// Operations refused by the capacity hook.
    pub overloaded: AtomicU64,
    /// Replica requests served for peers.
    pub replica_requests: AtomicU64,
}

impl Metrics {
    /// Zeroed counters for a command table of `commands` entries.
    pub fn new(commands: usize) -> Self {
        Self {
            commands: (0..=commands).map(|_| AtomicU64::new(0)).collect(),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_us: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            peer_errors: AtomicU64::new(0),
            quorum_failures: AtomicU64::new(0),
            read_repairs: AtomicU64::new(0),
            overloaded: AtomicU64::new(0),
            replica_requests: AtomicU64::new(0),
        }
    }

    /// Counts one command (index into the command table, or the table's
    /// length for unknown commands) that took `us` microseconds.
    pub fn record(&self, command: usize, us: u64) {
        let i = command.min(self.commands.len() - 1);
        self.commands[i].fetch_add(1, Relaxed);
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|&ub| us <= ub)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[b].fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(us, Relaxed);
    }

    /// Commands processed in total.
    pub fn total_commands(&self) -> u64 {
        self.commands.iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// What the renderer needs besides the counters.
pub struct Snapshot<'a> {
    /// Command names, in the command table's order.
    pub names: &'a [&'a str],
    /// The store's statistics.
    pub stats: Stats,
    /// Connected clients now.
    pub connected_clients: u64,
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

/// Renders the Prometheus text exposition format (version 0.0.4).
pub fn render(m: &Metrics, snap: &Snapshot<'_>) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("# HELP ringlab_commands_total Commands processed, by command.\n");
    out.push_str("# TYPE ringlab_commands_total counter\n");
    let mut rows: Vec<(&str, u64)> = snap
        .names
        .iter()
        .copied()
        .chain(std::iter::once("unknown"))
        .zip(m.commands.iter().map(|c| c.load(Relaxed)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (name, v) in rows {
        let _ = writeln!(out, "ringlab_commands_total{{command=\"{name}\"}} {v}");
    }
    out.push_str("# HELP ringlab_command_duration_seconds Command latency, server side.\n");
    out.push_str("# TYPE ringlab_command_duration_seconds histogram\n");
    let mut cum = 0;
    for (i, ub) in LATENCY_BUCKETS_US.iter().enumerate() {
        cum += m.latency[i].load(Relaxed);
        let _ = writeln!(
            out,
            "ringlab_command_duration_seconds_bucket{{le=\"{}\"}} {cum}",
            *ub as f64 / 1e6
        );
    }
    cum += m.latency[LATENCY_BUCKETS_US.len()].load(Relaxed);
    let _ = writeln!(
        out,
        "ringlab_command_duration_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let _ = writeln!(
        out,
        "ringlab_command_duration_seconds_sum {}",
        m.latency_sum_us.load(Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "ringlab_command_duration_seconds_count {cum}");
    let s = &snap.stats;
    counter(
        &mut out,
        "ringlab_keyspace_hits_total",
        "Reads that found a value.",
        s.hits,
    );
    counter(
        &mut out,
        "ringlab_keyspace_misses_total",
        "Reads that found nothing.",
        s.misses,
    );
    counter(
        &mut out,
        "ringlab_evicted_keys_total",
        "Keys evicted for maxmemory.",
        s.evictions,
    );
    counter(
        &mut out,
        "ringlab_expired_keys_total",
        "Keys expired.",
        s.expirations,
    );
    gauge(
        &mut out,
        "ringlab_used_memory_bytes",
        "Bytes charged to stored entries.",
        s.used_bytes,
    );
    gauge(&mut out, "ringlab_keys", "Live keys on this node.", s.keys);
    gauge(
        &mut out,
        "ringlab_connected_clients",
        "Client connections open now.",
        snap.connected_clients,
    );
    counter(
        &mut out,
        "ringlab_connections_received_total",
        "Client connections accepted.",
        m.connections_received.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_rejected_connections_total",
        "Client connections refused (max clients).",
        m.rejected_connections.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_protocol_errors_total",
        "Client connections closed for a protocol error.",
        m.protocol_errors.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_peer_errors_total",
        "Peer connection and request failures.",
        m.peer_errors.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_quorum_failures_total",
        "Operations whose quorum was not met.",
        m.quorum_failures.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_read_repairs_total",
        "Repair writes sent to stale replicas.",
        m.read_repairs.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_overloaded_total",
        "Operations refused by the capacity hook.",
        m.overloaded.load(Relaxed),
    );
    counter(
        &mut out,
        "ringlab_replica_requests_total",
        "Replica requests served for peers.",
        m.replica_requests.load(Relaxed),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_match() {
        let m = Metrics::new(2);
        m.record(0, 5);
        m.record(0, 30);
        m.record(1, 2_000_000);
        m.record(99, 1); // unknown command
        let text = render(
            &m,
            &Snapshot {
                names: &["get", "set"],
                stats: Stats::default(),
                connected_clients: 3,
            },
        );
        assert!(
            text.contains("ringlab_commands_total{command=\"get\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("ringlab_commands_total{command=\"set\"} 1\n"));
        assert!(text.contains("ringlab_commands_total{command=\"unknown\"} 1\n"));
        assert!(
            text.contains("ringlab_command_duration_seconds_bucket{le=\"0.00001\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("ringlab_command_duration_seconds_bucket{le=\"0.00005\"} 3\n"));
        assert!(text.contains("ringlab_command_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("ringlab_command_duration_seconds_count 4\n"));
        assert!(text.contains("ringlab_connected_clients 3\n"));
        assert_eq!(m.total_commands(), 4);
    }
}
