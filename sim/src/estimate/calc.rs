//! The back-of-the-envelope arithmetic, pure: the figures, and each
//! table row with its calculation written out.

use ringlab_loadgen::report::format::grouped;

use super::input::Estimate;

/// Seconds in a day.
pub const DAY: f64 = 86_400.0;

/// A node of the generated scenario (`scenarios/capacity-plan.toml`'s):
/// 2 cores at 20 us per operation, so 100,000 operations per second.
pub const NODE_OPS_PER_S: f64 = 100_000.0;

/// The figures an estimate gives; rates per second, sizes in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub requests_per_day: f64,
    pub avg: f64,
    pub peak: f64,
    pub peak_reads: f64,
    pub peak_writes: f64,
    pub spike: f64,
    /// One copy of every object, today.
    pub storage: f64,
    /// Every copy (x N), today.
    pub storage_replicated: f64,
    /// Every copy, in a year.
    pub storage_year: f64,
    /// Client writes into the cluster at the peak, bytes per second.
    pub bandwidth_in: f64,
    /// Client reads out of the cluster at the peak.
    pub bandwidth_out: f64,
    /// Copies sent between nodes at the peak (each write to N - 1 others).
    pub bandwidth_replicas: f64,
    /// The hot keys' bytes, one copy.
    pub working_set: f64,
    /// The hot keys' bytes, every copy: the memory the cluster needs.
    pub memory: f64,
    /// Operations per request on `nodes_by_cpu` nodes: the coordinator's
    /// plus one per replica other than itself (reads and writes go to all
    /// N; docs: scenarios/README.md, `[capacity]`).
    pub ops_per_request: f64,
    /// The fewest nodes (at least N) whose cores carry the spike at 100%
    /// busy: plan's start, and a lower bound (queues need headroom).
    pub nodes_by_cpu: u64,
    /// Nodes the memory needs (at least N): plan's `--min`.
    pub nodes_by_memory: u64,
}

impl Figures {
    pub fn of(e: &Estimate) -> Figures {
        let requests_per_day = e.daily_active_users as f64 * e.requests_per_user_per_day;
        let avg = requests_per_day / DAY;
        let peak = avg * e.peak_factor;
        let read_share = e.reads / (e.reads + e.writes);
        let size = e.object_size as f64;
        let n = f64::from(e.replication);
        let storage = e.keys as f64 * size;
        let spike = avg * e.spike_factor;
        let nodes_by_cpu = nodes_by_cpu(spike, e.replication);
        let ops_per_request = ops_per_request(n, nodes_by_cpu as f64);
        let working_set = storage * e.working_set;
        Figures {
            requests_per_day,
            avg,
            peak,
            peak_reads: peak * read_share,
            peak_writes: peak * (1.0 - read_share),
            spike,
            storage,
            storage_replicated: storage * n,
            storage_year: storage * n * (1.0 + e.yearly_growth),
            bandwidth_in: peak * (1.0 - read_share) * size,
            bandwidth_out: peak * read_share * size,
            bandwidth_replicas: peak * (1.0 - read_share) * size * (n - 1.0),
            working_set,
            memory: working_set * n,
            ops_per_request,
            nodes_by_cpu,
            nodes_by_memory: ((working_set * n / e.node_memory as f64).ceil() as u64)
                .max(u64::from(e.replication)),
        }
    }
}

/// Operations a request costs on an `n`-node cluster with `n_rep`
/// replicas: 1 + N - N/n (the coordinator is one of the key's replicas
/// N/n of the time, and then does that replica's work in its own).
pub fn ops_per_request(n_rep: f64, n: f64) -> f64 {
    1.0 + n_rep - n_rep / n
}

/// The fewest nodes, from N up, whose operations per second cover
/// `rate`'s.
fn nodes_by_cpu(rate: f64, n_rep: u32) -> u64 {
    let mut n = u64::from(n_rep);
    while rate * ops_per_request(f64::from(n_rep), n as f64) > n as f64 * NODE_OPS_PER_S
        && n < 1_000_000
    {
        n += 1;
    }
    n
}

/// One row of the table: what, how, how much.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub what: &'static str,
    pub calc: String,
    pub result: String,
}

/// The table's rows, each with its calculation.
pub fn rows(e: &Estimate, f: &Figures) -> Vec<Row> {
    let n = e.replication;
    let size = ringlab_loadgen::scenario::units::format_size(e.object_size);
    let mix = format!("{}:{}", num(e.reads), num(e.writes));
    let read_share = e.reads / (e.reads + e.writes);
    let row = |what, calc: String, result: String| Row { what, calc, result };
    vec![
        row(
            "average QPS",
            format!(
                "{} users x {} req/day / 86,400 s",
                grouped(e.daily_active_users),
                num(e.requests_per_user_per_day)
            ),
            rate(f.avg),
        ),
        row(
            "peak QPS",
            format!("{} x peak factor {}", rate(f.avg), num(e.peak_factor)),
            rate(f.peak),
        ),
        row(
            "  peak reads",
            format!("{} x {mix} reads ({})", rate(f.peak), pct(read_share)),
            rate(f.peak_reads),
        ),
        row(
            "  peak writes",
            format!(
                "{} x {mix} writes ({})",
                rate(f.peak),
                pct(1.0 - read_share)
            ),
            rate(f.peak_writes),
        ),
        row(
            "spike QPS",
            format!("{} x spike factor {}", rate(f.avg), num(e.spike_factor)),
            rate(f.spike),
        ),
        row(
            "storage now",
            format!(
                "{} keys x {size} = {} x N={n} replicas",
                grouped(e.keys),
                bytes(f.storage)
            ),
            bytes(f.storage_replicated),
        ),
        row(
            "storage in a year",
            format!(
                "{} x (1 + {} growth)",
                bytes(f.storage_replicated),
                pct(e.yearly_growth)
            ),
            bytes(f.storage_year),
        ),
        row(
            "bandwidth in (peak)",
            format!("{} writes x {size}", rate(f.peak_writes)),
            bytes_per_s(f.bandwidth_in),
        ),
        row(
            "bandwidth out (peak)",
            format!("{} reads x {size}", rate(f.peak_reads)),
            bytes_per_s(f.bandwidth_out),
        ),
        row(
            "replication (peak)",
            format!(
                "{} in x (N - 1 = {}) other replicas",
                bytes_per_s(f.bandwidth_in),
                n - 1
            ),
            bytes_per_s(f.bandwidth_replicas),
        ),
        row(
            "working set",
            format!(
                "{} keys x {} hot x {size}",
                grouped(e.keys),
                pct(e.working_set)
            ),
            bytes(f.working_set),
        ),
        row(
            "memory needed",
            format!("{} x N={n} replicas", bytes(f.working_set)),
            bytes(f.memory),
        ),
        row(
            "nodes by memory",
            format!(
                "{} / {} per node, at least N={n}",
                bytes(f.memory),
                bytes(e.node_memory as f64)
            ),
            format!("{} nodes", grouped(f.nodes_by_memory)),
        ),
        row(
            "nodes by CPU (spike)",
            format!(
                "{} x (1 + N - N/n = {}) ops / 100,000 ops/s a node <= n",
                rate(f.spike),
                num((f.ops_per_request * 100.0).round() / 100.0)
            ),
            format!("{} nodes", grouped(f.nodes_by_cpu)),
        ),
    ]
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| figure | calculation | result |\n|---|---|---:|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            r.what.trim(),
            r.calc,
            r.result
        ));
    }
    out
}

/// The rows as aligned text for a terminal.
pub fn text(rows: &[Row]) -> String {
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.calc.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "{:<w0$}  {}{} = {}\n",
            r.what,
            r.calc,
            " ".repeat(w1 - r.calc.chars().count()),
            r.result
        ));
    }
    out
}

/// A rate for people: whole requests with separators.
pub fn rate(per_s: f64) -> String {
    format!("{} req/s", grouped(per_s.round().max(0.0) as u64))
}

/// A number as given: whole numbers with separators, else up to 3 decimals.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        grouped(x as u64)
    } else {
        ringlab_loadgen::report::format::trim_float(x, 3)
    }
}

fn pct(share: f64) -> String {
    format!(
        "{}%",
        ringlab_loadgen::report::format::trim_float(share * 100.0, 2)
    )
}

/// Bytes in binary units, three significant digits: "95.4 GiB". Binary,
/// because the project's sizes read "GB" as 2^30 (Redis's convention).
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        return format!("{} B", grouped(b.round() as u64));
    }
    let s = if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    format!("{s} {}", UNITS[u])
}

/// Bytes per second, and the bits per second a network link is sold in.
fn bytes_per_s(b: f64) -> String {
    let mbit = b * 8.0 / 1e6;
    format!("{}/s ({} Mbit/s)", bytes(b), grouped(mbit.round() as u64))
}
