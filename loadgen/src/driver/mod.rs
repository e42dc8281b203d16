//! The open-loop driver: the same code against real nodes and, under
//! `--cfg madsim`, against simulated ones.
//!
//! - The scheduler (inside [`Driver::run`], no task of its own) walks the
//!   phases' arrival schedules and, at each request's intended start, puts
//!   the request on a shared queue, however slowly answers come back.
//!   Beyond the phase's `max_in_flight` it records the request as held
//!   back instead.
//! - Connection tasks ([`conn`]) take requests from the queue while they have
//!   room (one request at a time, or `pipeline` when pipelining), send them,
//!   and record each outcome with its latency measured from the request's
//!   intended start: a stalled server shows as latency and timeouts, never
//!   as missing samples (coordinated omission, handled as wrk2 does).
//! - Every sleep, deadline and timestamp goes through [`Clock`], so model
//!   time is the same in a real run (scale 1) and in the simulator.
//!
//! Requests waiting in the queue keep their intended start; one that waits
//! past its timeout is a timeout, whether or not a connection ever took it.
//!
//! A per-request client-side delay (a hook for the simulator) belongs in
//! [`conn`], between taking a request and writing it.
//!
//! With an [`AppConfig`] the clients act as application servers in front of
//! a database (cache-aside or write-through, `app`): a request then moves
//! through steps, re-entering the queue for its cache step, and
//! [`flight`] (singleflight) and [`near`] (the near-cache) hold the
//! per-machine state. Without one, every request is one cache command, as
//! before.

mod app;
pub mod cli;
mod conn;
mod flight;
mod near;

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_node::clock::{Clock, Micros};
use tokio::sync::{Barrier, Notify, watch};

use crate::recorder::{Outcome, Recorder, RunMeta, RunRecord, new_histogram};
use crate::stale::WriteOracle;
use crate::workload::{ArrivalGen, OpKind, Phase, RequestGen, WorkloadError};
pub use app::AppConfig;
use app::Step;

/// Largest value a SET may write; the driver holds one buffer this big.
pub const MAX_VALUE_LEN: u64 = 512 * 1024 * 1024;

/// What to drive, from where, and how it is split between client machines.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Servers to connect to; connections are spread over them round-robin.
    pub targets: Vec<SocketAddr>,
    /// Played back to back.
    pub phases: Vec<Phase>,
    /// This client's index among `client_count`; it drives
    /// `1 / client_count` of each phase's rate.
    pub client_index: u32,
    /// Client machines sharing the rate.
    pub client_count: u32,
    /// Recorder window length.
    pub window: Duration,
    /// Requests a connection may have outstanding (1 = no pipelining).
    pub pipeline: usize,
    /// Seed of the arrival and request generators.
    pub seed: u64,
    /// Prepended to every key name (`<prefix>key:000000000042`).
    pub key_prefix: String,
    /// The application pattern and its database; `None` drives the cache
    /// alone.
    pub app: Option<AppConfig>,
}

/// A configuration the driver cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    #[error("no targets; expected at least one server address")]
    NoTargets,
    #[error("no phases; expected at least one phase to run")]
    NoPhases,
    #[error("pipeline = 0; expected 1 (no pipelining) or more")]
    NoPipeline,
    #[error("phase {phase:?}: {field} = 0; expected at least 1")]
    Zero { phase: String, field: &'static str },
    #[error("phase {phase:?}: value size up to {max} bytes; expected at most {MAX_VALUE_LEN}")]
    ValueTooLarge { phase: String, max: u64 },
    #[error("window = 0; expected a positive window length such as 1s")]
    NoWindow,
    #[error(transparent)]
    Workload(#[from] WorkloadError),
}

/// How close to a request's intended start (model microseconds) the
/// scheduler stops sleeping and yields in a loop instead. tokio's timer
/// rounds every sleep up to the next millisecond, which would send requests
/// up to a millisecond late and, latency being measured from the intended
/// start, show that lateness as server latency. The simulator's timer is
/// exact in model time, so there it never spins (and must not: simulated
/// time does not pass while a task keeps yielding).
#[cfg(not(madsim))]
const SPIN: Option<Micros> = Some(1200);
#[cfg(madsim)]
const SPIN: Option<Micros> = None;

/// A request that came due and waits for a connection.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Intended start, model time.
    due: Micros,
    /// Past this model time the request is a timeout.
    deadline: Micros,
    op: OpKind,
    /// Key index.
    key: u64,
    /// Bytes of the value (SET only).
    value_len: u64,
    /// Where the request stands in the app's pattern.
    step: Step,
}

/// Cumulative figures for a live progress display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSnapshot {
    /// Model time since the schedule started.
    pub elapsed: Duration,
    /// Requests that came due so far.
    pub scheduled: u64,
    /// Requests answered ok (misses included).
    pub ok: u64,
    /// Error replies and connection failures.
    pub errors: u64,
    pub timeouts: u64,
    pub held_back: u64,
    /// p99 latency of ok requests so far, microseconds (0 before any).
    pub p99_us: u64,
    /// The current phase's target rate for this client, requests per second.
    pub target_rate: f64,
}

/// Cumulative counters behind [`LiveSnapshot`].
#[derive(Debug)]
struct Live {
    /// Figures so far (`elapsed` and `p99_us` are filled in on read).
    snap: LiveSnapshot,
    /// Latencies of every ok request so far.
    hist: Histogram<u64>,
}

/// The state the scheduler and the connection tasks share.
#[derive(Debug)]
struct Shared {
    /// Requests that came due and wait for a free connection, in due order.
    queue: VecDeque<Pending>,
    /// Requests scheduled (queued or sent) and not yet recorded.
    in_flight: u64,
    /// Connections that hold an open socket.
    connected: usize,
    /// Model time of the schedule's start: intended starts are offsets from it.
    t0: Micros,
    /// Everything recorded so far.
    recorder: Recorder,
    /// Figures for a progress display.
    live: Live,
    /// The pattern's per-machine state, with an app.
    app: Option<app::AppState>,
}

impl Shared {
    /// Records how a scheduled request ended, `now` being model time.
    fn resolve(&mut self, due: Micros, op: OpKind, outcome: Outcome<'_>, now: Micros) {
        let latency = Duration::from_micros(now.saturating_sub(due));
        let offset = Duration::from_micros(due.saturating_sub(self.t0));
        self.recorder.record(offset, op, outcome, latency);
        let s = &mut self.live.snap;
        match outcome {
            Outcome::Ok | Outcome::Miss | Outcome::Stale => {
                s.ok += 1;
                self.live
                    .hist
                    .saturating_record((latency.as_micros() as u64).max(1));
            }
            Outcome::Error(_) => s.errors += 1,
            Outcome::Timeout => s.timeouts += 1,
            Outcome::HeldBack => s.held_back += 1,
        }
    }

    /// Records the end of a request that was in flight; wakes the drain when
    /// none are left.
    fn finish(
        &mut self,
        due: Micros,
        op: OpKind,
        outcome: Outcome<'_>,
        now: Micros,
        drained: &Notify,
    ) {
        self.resolve(due, op, outcome, now);
        self.in_flight -= 1;
        if self.in_flight == 0 {
            drained.notify_one();
        }
    }

    /// Records queued requests whose deadline has passed as timeouts.
    fn expire_queue(&mut self, now: Micros, drained: &Notify) {
        while let Some(p) = self.queue.front().copied() {
            if p.deadline > now {
                break;
            }
            self.queue.pop_front();
            self.end(&p, Outcome::Timeout, now, drained);
        }
    }
}

/// What the connection tasks are told by the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Control {
    /// Connections `0..active` take work (the current phase's count).
    active: usize,
    /// The run is over: exit once nothing is in flight.
    closing: bool,
}

/// A handle on a running driver's cumulative figures.
#[derive(Debug, Clone)]
pub struct LiveView {
    /// The driver's shared state.
    shared: Arc<Mutex<Shared>>,
    /// For `elapsed`.
    clock: Clock,
}

impl LiveView {
    /// The figures so far.
    pub fn snapshot(&self) -> LiveSnapshot {
        let sh = lock(&self.shared);
        let mut s = sh.live.snap.clone();
        s.elapsed = self.clock.since(sh.t0);
        s.p99_us = if sh.live.hist.is_empty() {
            0
        } else {
            sh.live.hist.value_at_quantile(0.99)
        };
        s
    }
}

/// Locks the shared state. A poisoned lock means a connection task panicked
/// while recording: a broken invariant, so the panic propagates.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .expect("a driver task panicked while recording")
}

/// A validated configuration, ready to run.
#[derive(Debug)]
pub struct Driver {
    cfg: DriverConfig,
    clock: Clock,
    /// Request generators, one per phase, validated up front.
    requests: Vec<RequestGen>,
    /// Shared with the connection tasks and live views.
    shared: Arc<Mutex<Shared>>,
    /// Numbers writes and checks reads for stale reads; this driver's own
    /// unless [`Driver::with_oracle`] shares one between clients.
    oracle: WriteOracle,
}

impl Driver {
    /// Checks `cfg` and prepares the run; nothing is connected yet.
    pub fn new(cfg: DriverConfig, clock: Clock, mut meta: RunMeta) -> Result<Self, DriverError> {
        if cfg.targets.is_empty() {
            return Err(DriverError::NoTargets);
        }
        if cfg.phases.is_empty() {
            return Err(DriverError::NoPhases);
        }
        if cfg.pipeline == 0 {
            return Err(DriverError::NoPipeline);
        }
        if cfg.window.is_zero() {
            return Err(DriverError::NoWindow);
        }
        let mut requests = Vec::with_capacity(cfg.phases.len());
        let mut scratch = ChaCha8Rng::seed_from_u64(0);
        for p in &cfg.phases {
            let zero = |field| DriverError::Zero {
                phase: p.name.clone(),
                field,
            };
            if p.connections == 0 {
                return Err(zero("connections"));
            }
            if p.max_in_flight == 0 {
                return Err(zero("max_in_flight"));
            }
            // Validates the rate and the client split.
            ArrivalGen::new(p, cfg.client_index, cfg.client_count, &mut scratch)?;
            let requests_of = RequestGen::new(p)?;
            if requests_of.max_value_len() > MAX_VALUE_LEN {
                return Err(DriverError::ValueTooLarge {
                    phase: p.name.clone(),
                    max: requests_of.max_value_len(),
                });
            }
            requests.push(requests_of);
        }
        meta.window = cfg.window;
        let recorder = Recorder::new(meta, &cfg.phases);
        let shared = Arc::new(Mutex::new(Shared {
            queue: VecDeque::new(),
            in_flight: 0,
            connected: 0,
            t0: clock.now(),
            recorder,
            live: Live {
                snap: LiveSnapshot::default(),
                hist: new_histogram(),
            },
            app: cfg.app.as_ref().map(|a| app::AppState::new(&a.app)),
        }));
        // Distinct per client machine: clients of one run in separate
        // processes must not take each other's stamps for their own.
        let nonce = cfg.seed ^ u64::from(cfg.client_index).rotate_left(32) ^ 0x5354_414c_4552_4541;
        Ok(Self {
            oracle: WriteOracle::new(nonce),
            cfg,
            clock,
            requests,
            shared,
        })
    }

    /// Uses `oracle` to count stale reads, so that several drivers (the
    /// client machines of one simulated run) check reads against each
    /// other's writes.
    pub fn with_oracle(mut self, oracle: WriteOracle) -> Self {
        self.oracle = oracle;
        self
    }

    /// A handle for watching progress while [`Driver::run`] goes on.
    pub fn live(&self) -> LiveView {
        LiveView {
            shared: self.shared.clone(),
            clock: self.clock,
        }
    }

    /// Connects, plays every phase, waits for the requests in flight (each
    /// ends by its timeout at the latest) and returns the record. When `stop`
    /// completes, no further request is scheduled; those in flight still
    /// finish, so the record stays whole.
    pub async fn run(self, stop: impl Future<Output = ()>) -> RunRecord {
        let Driver {
            cfg,
            clock,
            mut requests,
            shared,
            oracle,
        } = self;
        let conns = cfg
            .phases
            .iter()
            .map(|p| p.connections as usize)
            .max()
            .unwrap_or(1);
        let max_value = requests
            .iter()
            .map(RequestGen::max_value_len)
            .max()
            .unwrap_or(0) as usize;
        // One value buffer for every SET: sets write a prefix of it.
        let value: Arc<[u8]> = (0..max_value).map(|i| b'a' + (i % 26) as u8).collect();
        let prefix: Arc<[u8]> = cfg.key_prefix.as_bytes().into();
        let drained = Arc::new(Notify::new());
        let work = Arc::new(Notify::new());
        let app_ctx = cfg.app.clone().map(|a| {
            Arc::new(app::AppCtx {
                cfg: a,
                clock,
                shared: shared.clone(),
                work: work.clone(),
                drained: drained.clone(),
            })
        });
        let (control_tx, control_rx) = watch::channel(Control {
            active: cfg.phases[0].connections as usize,
            closing: false,
        });

        // Connect before the schedule starts, so that the first requests do
        // not carry the connection setup in their latency. The connections
        // connect concurrently: an unreachable target costs one connect
        // timeout, not one per connection.
        let connected = Arc::new(Barrier::new(conns + 1));
        let mut tasks = Vec::with_capacity(conns);
        for i in 0..conns {
            let task = conn::Conn {
                index: i,
                target: cfg.targets[(i + cfg.client_index as usize) % cfg.targets.len()],
                stream: None,
                clock,
                pipeline: cfg.pipeline,
                shared: shared.clone(),
                work: work.clone(),
                drained: drained.clone(),
                control: control_rx.clone(),
                prefix: prefix.clone(),
                value: value.clone(),
                oracle: oracle.clone(),
                app: app_ctx.clone(),
            };
            tasks.push(tokio::spawn(
                task.run(connected.clone(), cfg.phases[0].timeout),
            ));
        }
        connected.wait().await;

        let t0 = clock.now();
        lock(&shared).t0 = t0;
        if let Some(a) = &cfg.app {
            a.database.align(t0);
        }
        let mut arrival_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        arrival_rng.set_stream(2 * u64::from(cfg.client_index));
        let mut request_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        request_rng.set_stream(2 * u64::from(cfg.client_index) + 1);

        let mut stop = std::pin::pin!(stop);
        let mut phase_start = t0;
        'phases: for (phase, requests_of) in cfg.phases.iter().zip(requests.iter_mut()) {
            let _ = control_tx.send(Control {
                active: phase.connections as usize,
                closing: false,
            });
            let mut arrivals =
                ArrivalGen::new(phase, cfg.client_index, cfg.client_count, &mut arrival_rng)
                    .expect("validated in Driver::new");
            {
                let mut sh = lock(&shared);
                if let Some(a) = &mut sh.app {
                    a.fill_len = requests_of.max_value_len();
                }
                sh.live.snap.target_rate =
                    phase.rate.at(Duration::ZERO, phase.duration) / f64::from(cfg.client_count);
            }
            let timeout = phase.timeout.as_micros() as Micros;
            while let Some(offset) = arrivals.next(&mut arrival_rng) {
                let due = phase_start + offset.as_micros() as Micros;
                // Sleep until the request is due, waking meanwhile to time out
                // queued requests whose deadline comes first.
                loop {
                    let now = clock.now();
                    let (front, queued) = {
                        let mut sh = lock(&shared);
                        sh.expire_queue(now, &drained);
                        (sh.queue.front().map(|p| p.deadline), !sh.queue.is_empty())
                    };
                    if now >= due {
                        break;
                    }
                    // Precision only matters when the request would go out at
                    // once: behind a queue it waits anyway, so the coarse timer
                    // does, and arrivals are queued in batches per tick.
                    let spin = SPIN.filter(|_| !queued).unwrap_or(0);
                    if spin > 0 && due - now <= spin {
                        tokio::select! {
                            biased;
                            () = &mut stop => break 'phases,
                            () = tokio::task::yield_now() => {}
                        }
                        continue;
                    }
                    let target = due - spin;
                    let wake = front.map_or(target, |d| d.min(target));
                    tokio::select! {
                        biased;
                        () = &mut stop => break 'phases,
                        () = clock.sleep_until(wake) => {}
                    }
                }
                let req = requests_of.next(&mut request_rng);
                let mut sh = lock(&shared);
                sh.live.snap.scheduled += 1;
                if matches!(phase.rate, crate::workload::Rate::Ramp { .. }) {
                    sh.live.snap.target_rate =
                        phase.rate.at(offset, phase.duration) / f64::from(cfg.client_count);
                }
                if sh.in_flight >= u64::from(phase.max_in_flight) {
                    sh.resolve(due, req.op, Outcome::HeldBack, due);
                    continue;
                }
                let p = Pending {
                    due,
                    deadline: due + timeout,
                    op: req.op,
                    key: req.key,
                    value_len: req.value_len,
                    step: Step::Direct,
                };
                if let Some(ctx) = &app_ctx {
                    app::start(ctx, &mut sh, p, clock.now());
                    continue;
                }
                sh.in_flight += 1;
                sh.queue.push_back(p);
                drop(sh);
                work.notify_one();
            }
            phase_start += phase.duration.as_micros() as Micros;
            // Hold the schedule to the phase boundary even if its last
            // arrival came early, so phases keep their place in time.
            loop {
                let now = clock.now();
                if now >= phase_start {
                    break;
                }
                tokio::select! {
                    biased;
                    () = &mut stop => break 'phases,
                    () = clock.sleep_until(phase_start) => {}
                }
            }
        }

        // Drain: every request in flight ends by its deadline at the latest.
        loop {
            let front = {
                let mut sh = lock(&shared);
                sh.expire_queue(clock.now(), &drained);
                if sh.in_flight == 0 {
                    break;
                }
                sh.queue.front().map(|p| p.deadline)
            };
            match front {
                Some(deadline) => {
                    tokio::select! {
                        biased;
                        () = drained.notified() => {}
                        () = clock.sleep_until(deadline) => {}
                    }
                }
                None => drained.notified().await,
            }
        }
        let _ = control_tx.send(Control {
            active: 0,
            closing: true,
        });
        for t in tasks {
            // A connection task that panicked broke an invariant: surface it.
            if let Err(e) = t.await {
                panic!("a driver connection task failed: {e}");
            }
        }
        let recorder = std::mem::replace(
            &mut lock(&shared).recorder,
            Recorder::new(
                RunMeta {
                    scenario: String::new(),
                    description: String::new(),
                    seed: None,
                    source: String::new(),
                    window: cfg.window,
                },
                &[],
            ),
        );
        recorder.finish()
    }
}

/// Validates `cfg`, runs it to the end (or until `stop`), and returns the
/// record. See [`Driver`] for a run with a live progress view.
pub async fn run(
    cfg: DriverConfig,
    clock: Clock,
    meta: RunMeta,
    stop: impl Future<Output = ()>,
) -> Result<RunRecord, DriverError> {
    Ok(Driver::new(cfg, clock, meta)?.run(stop).await)
}
