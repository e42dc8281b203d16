//! What `ringlab-load` itself adds to the latency it reports: against a
//! server that answers at once, a request at a low rate should cost about a
//! loopback round trip, not a timer tick.
//!
//! Regression: the scheduler judged whether to wait precisely (spinning near
//! a request's intended start) or on tokio's millisecond timer from the
//! queue's state just after queuing a request, before any connection had run
//! to take it. The queue therefore always looked busy, every request went
//! out on the coarse timer, up to a millisecond or more late, and the
//! lateness showed as server latency (p50 about 1.1 ms against one node at
//! 200 to 5,000 req/s, where a round trip is under 0.1 ms).

#![cfg(not(madsim))]

mod driver_common;

use clap::Parser;
use driver_common::{Behaviour, spawn_server};
use ringlab_loadgen::driver::cli::{Cli, execute, plan};
use ringlab_node::clock::Clock;

/// What the test holds the quartiles to. A request sent on tokio's timer
/// goes out about a millisecond late (on the old code: p25 about 0.9 ms,
/// p50 about 1.2 ms, every request late), while a loopback round trip takes
/// tens of microseconds. The bounds leave room for a busy machine, which
/// delays some requests by whole scheduler slices (seen at a load average of
/// 10 on 2 cores: p25 65 to 230 us, p50 75 to 480 us).
const P25_LIMIT_US: u64 = 500;
const P50_LIMIT_US: u64 = 750;

/// Runs `ringlab-load` as the binary does (a current-thread runtime, the
/// CLI's plan) at `rate` requests per second for `duration`, over one
/// connection, and returns the ok requests' count, p25 and p50 in
/// microseconds.
async fn quartiles_at(rate: &str, duration: &str) -> (u64, u64, u64) {
    let clock = Clock::real();
    let (addr, _) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let cli = Cli::try_parse_from([
        "ringlab-load",
        "--target",
        &addr.to_string(),
        "--rate",
        rate,
        "--duration",
        duration,
        "--arrival",
        "uniform",
        "--connections",
        "1",
        "--mix",
        "get=1",
        "--keys",
        "100",
        "--no-progress",
    ])
    .unwrap();
    let plan = plan(&cli.load).unwrap();
    let record = execute(&plan, clock, std::future::pending(), false)
        .await
        .unwrap();
    let all = record.aggregate_all(None);
    assert_eq!(all.counts.ok, all.counts.scheduled(), "{:?}", all.counts);
    let h = &all.hist;
    let (p25, p50) = (h.value_at_quantile(0.25), h.value_at_quantile(0.5));
    let p99 = h.value_at_quantile(0.99);
    eprintln!("{rate} req/s: p25 {p25} us, p50 {p50} us, p99 {p99} us");
    (all.counts.ok, p25, p50)
}

/// Attempts before the test gives up. The bug it catches is systematic
/// (every request late by the timer's rounding, on an idle machine too), so
/// one attempt within the bounds clears the code; only a machine busy
/// enough to delay most requests by whole milliseconds needs a second.
const ATTEMPTS: usize = 3;

/// The machine's 1-minute load average per core, if the system says.
///
/// A wall-clock latency test can only judge a millisecond of lateness on a
/// machine that runs it promptly. Seen on the shared 2-core build machine at
/// a load average of 20 (ten runnable processes per core): every request
/// 2 to 10 ms late, for the scheduler that yields through the last 1.2 ms
/// and for the one that sleeps on the OS timer alike, while a thread that
/// merely sleeps once was still woken within 0.1 ms.
fn load_per_core() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let one: f64 = text.split_whitespace().next()?.parse().ok()?;
    let cores = std::thread::available_parallelism().ok()?.get();
    Some(one / cores as f64)
}

/// Above this load per core the test reports what it saw instead of
/// failing. At a load average of about 10 on 2 cores it still told the two
/// apart (old code: p25 1.0 ms, p50 1.2 ms; fixed: p25 65 to 230 us, p50 75
/// to 480 us); from about 14 on, neither met the bounds reliably.
const TOO_BUSY: f64 = 6.0;

#[tokio::test]
async fn at_200_requests_per_second_requests_cost_a_round_trip_not_a_timer_tick() {
    let mut seen = Vec::new();
    for _ in 0..ATTEMPTS {
        let (ok, p25, p50) = quartiles_at("200", "2s").await;
        assert_eq!(ok, 400);
        if p25 < P25_LIMIT_US && p50 < P50_LIMIT_US {
            return;
        }
        seen.push(format!("p25 {p25} us, p50 {p50} us"));
    }
    if let Some(load) = load_per_core().filter(|l| *l > TOO_BUSY) {
        eprintln!(
            "NOT JUDGED: load average {load:.1} per core, too busy to tell a \
             millisecond of lateness from noise; measured {}",
            seen.join("; then ")
        );
        return;
    }
    panic!(
        "at 200 req/s against a server that answers at once: {}; expected \
         p25 under {P25_LIMIT_US} us and p50 under {P50_LIMIT_US} us \
         (requests sent late on the coarse timer?)",
        seen.join("; then ")
    );
}
