//! Packet loss shows in the tail, as TCP's retransmission timeout puts it
//! there: with 5% of messages lost and a 5 ms RTO, p99 rises by at least
//! about the RTO (a request meets a loss on one of its legs about one time
//! in ten); with 1%, p99.9 does; with an RTO of a microsecond (madsim's own
//! retry, which the simulator used before the RTO) loss costs nothing
//! visible. Checked on the fast engine in both builds, and on the madsim
//! engine under `--cfg madsim` (`cargo msim-test -p ringlab-sim --test
//! loss`), over `benches/loss.toml` shortened to 3 s.

use std::path::Path;
use std::time::Duration;

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::scenario::{self, Scenario};
use ringlab_sim::fast;

/// The bench's RTO.
const RTO_US: f64 = 5_000.0;

fn bench() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/loss.toml");
    let mut sc = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    sc.phases[0].duration = Duration::from_secs(3);
    sc.expect.clear();
    assert_eq!(
        sc.network.rto,
        Duration::from_micros(RTO_US as u64),
        "the bench's RTO"
    );
    sc
}

fn with(loss: f64, rto: Duration) -> Scenario {
    let mut sc = bench();
    sc.network.loss = loss;
    sc.network.rto = rto;
    sc
}

/// p99 and p99.9 of the whole run, in µs.
fn tail(rec: &RunRecord) -> (f64, f64) {
    let all = rec.aggregate_all(None);
    assert_eq!(all.counts.availability(), Some(1.0), "TCP loses nothing");
    let q = |x| all.hist.value_at_quantile(x) as f64;
    (q(0.99), q(0.999))
}

/// Runs the four networks on one engine and checks what loss costs.
fn loss_shows_in_the_tail(run: impl Fn(&Scenario) -> RunRecord) {
    let rto = Duration::from_micros(RTO_US as u64);
    let (p99, p999) = tail(&run(&with(0.0, rto)));
    let (p99_5, _) = tail(&run(&with(0.05, rto)));
    let (_, p999_1) = tail(&run(&with(0.01, rto)));
    let (p99_tiny, p999_tiny) = tail(&run(&with(0.05, Duration::from_micros(1))));
    eprintln!(
        "lossless p99 {p99} p99.9 {p999}; 5%: p99 {p99_5}; 1%: p99.9 {p999_1}; \
         5% at 1 µs RTO: p99 {p99_tiny} p99.9 {p999_tiny}"
    );
    let rise = p99_5 - p99;
    assert!(
        (0.8 * RTO_US..=4.0 * RTO_US).contains(&rise),
        "5% loss moved p99 by {rise} µs, not about the RTO ({RTO_US} µs)"
    );
    let rise = p999_1 - p999;
    assert!(
        (0.8 * RTO_US..=4.0 * RTO_US).contains(&rise),
        "1% loss moved p99.9 by {rise} µs, not about the RTO ({RTO_US} µs)"
    );
    assert!(
        p99_tiny - p99 < 50.0 && p999_tiny - p999 < 100.0,
        "with a 1 µs RTO loss should not show: p99 {p99} -> {p99_tiny}, \
         p99.9 {p999} -> {p999_tiny}"
    );
}

#[test]
fn loss_shows_in_the_tail_on_the_fast_engine() {
    loss_shows_in_the_tail(|sc| fast::simulate(sc, 1, None).expect("fast runs").record);
}

#[cfg(madsim)]
#[test]
fn loss_shows_in_the_tail_on_the_madsim_engine() {
    loss_shows_in_the_tail(|sc| {
        ringlab_sim::harness::run(sc, 1, None)
            .expect("madsim runs")
            .record
    });
}
