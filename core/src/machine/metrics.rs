//! Counters and a latency histogram, and their Prometheus text exposition
//! (served by a tiny HTTP/1.0 responder on `--metrics-addr`).
//!
//! The machine owns the counters and updates them as plain integers; the
//! driver renders them (under whatever lock guards the machine) in a fixed
//! order, so the output's order never depends on a hash map.

use std::fmt::Write as _;

use crate::store::Stats;

/// Upper bounds of the latency histogram's buckets, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000,
];

/// The node's counters.
pub struct Metrics {
    /// Calls per command, indexed like the command table (last: unknown).
    pub commands: Box<[u64]>,
    /// Command latencies per bucket of [`LATENCY_BUCKETS_US`] (last: +Inf).
    latency: [u64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of command latencies, microseconds.
    latency_sum_us: u64,
    /// Client connections accepted.
    pub connections_received: u64,
    /// Client connections refused for max_clients.
    pub rejected_connections: u64,
    /// Protocol errors that closed a client connection.
    pub protocol_errors: u64,
    /// Peer failures: connects that failed, connections lost, requests that
    /// failed or timed out.
    pub peer_errors: u64,
    /// Client operations that failed their read or write quorum.
    pub quorum_failures: u64,
    /// Repair writes sent to stale replicas after reads.
    pub read_repairs: u64,
    /// Operations refused by the capacity hook.
    pub overloaded: u64,
    /// Replica requests served for peers.
    pub replica_requests: u64,
    /// Times the failure detector came to suspect a peer.
    pub suspicions: u64,
    /// Hints kept for replicas that missed a write.
    pub hints_stored: u64,
    /// Hints their replica acknowledged.
    pub hints_delivered: u64,
    /// Hints dropped, oldest first, because the store was full.
    pub hints_dropped: u64,
    /// Writes this node sent to a stand-in for a replica that was down
    /// (sloppy quorum).
    pub stand_ins: u64,
    /// Hints waiting for delivery now (a gauge).
    pub hints_pending: u64,
    /// Anti-entropy's counters.
    pub ae: AntiEntropyCounters,
    /// Streaming's and leaving's counters.
    pub stream: StreamCounters,
}

/// What streaming (`machine::stream`) and a leave (`machine::leave`) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Pulls started (at start, and after each removal).
    pub pulls: u64,
    /// Pulls that finished.
    pub pulls_done: u64,
    /// Batches received.
    pub batches: u64,
    /// Batch requests that failed or timed out.
    pub batches_failed: u64,
    /// Sources given up on.
    pub sources_skipped: u64,
    /// Keys received in batches.
    pub keys_received: u64,
    /// Keys sent to pulling peers.
    pub keys_sent: u64,
    /// Reads this node coordinated for a moving key, sent elsewhere.
    pub forwarded: u64,
    /// Replica reads answered `-MOVING`.
    pub moving: u64,
    /// Reads that added a previous owner after a `-MOVING`.
    pub redirects: u64,
    /// Puts sent while handing off (one per key and gaining node).
    pub handoff_keys: u64,
    /// Writes passed on while leaving.
    pub handoff_forwarded: u64,
    /// Hand-off batches given up on.
    pub handoff_batches_failed: u64,
    /// 1 once this node left the cluster.
    pub left: u64,
}

impl StreamCounters {
    /// Name and value of each counter, in a fixed order (INFO names
    /// without the `membership_` prefix).
    pub fn rows(&self) -> [(&'static str, u64); 14] {
        [
            ("pulls", self.pulls),
            ("pulls_done", self.pulls_done),
            ("batches", self.batches),
            ("batches_failed", self.batches_failed),
            ("sources_skipped", self.sources_skipped),
            ("keys_received", self.keys_received),
            ("keys_sent", self.keys_sent),
            ("forwarded", self.forwarded),
            ("moving", self.moving),
            ("redirects", self.redirects),
            ("handoff_keys", self.handoff_keys),
            ("handoff_forwarded", self.handoff_forwarded),
            ("handoff_batches_failed", self.handoff_batches_failed),
            ("left", self.left),
        ]
    }
}

/// What anti-entropy did (see `machine::antientropy`), both as the node
/// that starts a round and as the peer that answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AntiEntropyCounters {
    /// Rounds started.
    pub rounds: u64,
    /// Rounds that ended without an answer (unreachable, timed out, refused).
    pub rounds_failed: u64,
    /// Leaves compared (those under differing buckets).
    pub leaves_compared: u64,
    /// Leaves whose hashes differed.
    pub leaves_differing: u64,
    /// Keys sent to a peer (pushed, or in an answer's entries).
    pub keys_sent: u64,
    /// Keys received from a peer and applied (newer than what was here).
    pub keys_received: u64,
    /// Key and value bytes sent.
    pub bytes_sent: u64,
    /// Key and value bytes received.
    pub bytes_received: u64,
}

impl AntiEntropyCounters {
    /// Name, help and value of each counter, in a fixed order (Prometheus
    /// names without the `ringlab_anti_entropy_` prefix and `_total`).
    pub fn rows(&self) -> [(&'static str, &'static str, u64); 8] {
        [
            ("rounds", "Anti-entropy rounds started.", self.rounds),
            (
                "rounds_failed",
                "Anti-entropy rounds that got no answer.",
                self.rounds_failed,
            ),
            (
                "leaves_compared",
                "Merkle leaves compared with a peer.",
                self.leaves_compared,
            ),
            (
                "leaves_differing",
                "Merkle leaves that differed from a peer's.",
                self.leaves_differing,
            ),
            ("keys_sent", "Keys anti-entropy sent.", self.keys_sent),
            (
                "keys_received",
                "Keys anti-entropy received and applied.",
                self.keys_received,
            ),
            (
                "bytes_sent",
                "Key and value bytes anti-entropy sent.",
                self.bytes_sent,
            ),
            (
                "bytes_received",
                "Key and value bytes anti-entropy received.",
                self.bytes_received,
            ),
        ]
    }
}

impl Metrics {
    /// Zeroed counters for a command table of `commands` entries.
    pub fn new(commands: usize) -> Self {
        Self {
            commands: vec![0; commands + 1].into_boxed_slice(),
            latency: [0; LATENCY_BUCKETS_US.len() + 1],
            latency_sum_us: 0,
            connections_received: 0,
            rejected_connections: 0,
            protocol_errors: 0,
            peer_errors: 0,
            quorum_failures: 0,
            read_repairs: 0,
            overloaded: 0,
            replica_requests: 0,
            suspicions: 0,
            hints_stored: 0,
            hints_delivered: 0,
            hints_dropped: 0,
            stand_ins: 0,
            hints_pending: 0,
            ae: AntiEntropyCounters::default(),
            stream: StreamCounters::default(),
        }
    }

    /// Counts one command (index into the command table, or the table's
    /// length for unknown commands) that took `us` microseconds.
    pub fn record(&mut self, command: usize, us: u64) {
        let i = command.min(self.commands.len() - 1);
        self.commands[i] += 1;
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|&ub| us <= ub)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[b] += 1;
        self.latency_sum_us += us;
    }

    /// Commands processed in total.
    pub fn total_commands(&self) -> u64 {
        self.commands.iter().sum()
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
    commands(&mut out, m, snap.names);
    latency(&mut out, m);
    let s = &snap.stats;
    let gauges = [
        (
            "ringlab_used_memory_bytes",
            "Bytes charged to stored entries.",
            s.used_bytes,
        ),
        ("ringlab_keys", "Live keys on this node.", s.keys),
        (
            "ringlab_connected_clients",
            "Client connections open now.",
            snap.connected_clients,
        ),
        (
            "ringlab_hints_pending",
            "Hinted-handoff writes waiting for their replica.",
            m.hints_pending,
        ),
    ];
    let counters = [
        (
            "ringlab_keyspace_hits_total",
            "Reads that found a value.",
            s.hits,
        ),
        (
            "ringlab_keyspace_misses_total",
            "Reads that found nothing.",
            s.misses,
        ),
        (
            "ringlab_evicted_keys_total",
            "Keys evicted for maxmemory.",
            s.evictions,
        ),
        ("ringlab_expired_keys_total", "Keys expired.", s.expirations),
        (
            "ringlab_connections_received_total",
            "Client connections accepted.",
            m.connections_received,
        ),
        (
            "ringlab_rejected_connections_total",
            "Client connections refused (max clients).",
            m.rejected_connections,
        ),
        (
            "ringlab_protocol_errors_total",
            "Client connections closed for a protocol error.",
            m.protocol_errors,
        ),
        (
            "ringlab_peer_errors_total",
            "Peer requests that failed.",
            m.peer_errors,
        ),
        (
            "ringlab_quorum_failures_total",
            "Operations whose quorum was not met.",
            m.quorum_failures,
        ),
        (
            "ringlab_read_repairs_total",
            "Repair writes sent to stale replicas.",
            m.read_repairs,
        ),
        (
            "ringlab_overloaded_total",
            "Operations refused by the capacity hook.",
            m.overloaded,
        ),
        (
            "ringlab_replica_requests_total",
            "Replica requests served for peers.",
            m.replica_requests,
        ),
        (
            "ringlab_suspicions_total",
            "Times the failure detector came to suspect a peer.",
            m.suspicions,
        ),
        (
            "ringlab_hints_stored_total",
            "Hints kept for replicas that missed a write.",
            m.hints_stored,
        ),
        (
            "ringlab_hints_delivered_total",
            "Hints their replica acknowledged.",
            m.hints_delivered,
        ),
        (
            "ringlab_hints_dropped_total",
            "Hints dropped (oldest first) because the store was full.",
            m.hints_dropped,
        ),
        (
            "ringlab_stand_ins_total",
            "Writes sent to a stand-in for a replica that was down (sloppy quorum).",
            m.stand_ins,
        ),
    ];
    for (name, help, v) in counters {
        counter(&mut out, name, help, v);
    }
    for (name, help, v) in m.ae.rows() {
        let name = format!("ringlab_anti_entropy_{name}_total");
        counter(&mut out, &name, help, v);
    }
    for (name, help, v) in gauges {
        gauge(&mut out, name, help, v);
    }
    out
}

/// Calls per command, sorted by name.
fn commands(out: &mut String, m: &Metrics, names: &[&str]) {
    out.push_str("# HELP ringlab_commands_total Commands processed, by command.\n");
    out.push_str("# TYPE ringlab_commands_total counter\n");
    let mut rows: Vec<(&str, u64)> = names
        .iter()
        .copied()
        .chain(std::iter::once("unknown"))
        .zip(m.commands.iter().copied())
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (name, v) in rows {
        let _ = writeln!(out, "ringlab_commands_total{{command=\"{name}\"}} {v}");
    }
}

/// The command latency histogram.
fn latency(out: &mut String, m: &Metrics) {
    out.push_str("# HELP ringlab_command_duration_seconds Command latency, server side.\n");
    out.push_str("# TYPE ringlab_command_duration_seconds histogram\n");
    let mut cum = 0;
    for (i, ub) in LATENCY_BUCKETS_US.iter().enumerate() {
        cum += m.latency[i];
        let _ = writeln!(
            out,
            "ringlab_command_duration_seconds_bucket{{le=\"{}\"}} {cum}",
            *ub as f64 / 1e6
        );
    }
    cum += m.latency[LATENCY_BUCKETS_US.len()];
    let _ = writeln!(
        out,
        "ringlab_command_duration_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let _ = writeln!(
        out,
        "ringlab_command_duration_seconds_sum {}",
        m.latency_sum_us as f64 / 1e6
    );
    let _ = writeln!(out, "ringlab_command_duration_seconds_count {cum}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_match() {
        let mut m = Metrics::new(2);
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
