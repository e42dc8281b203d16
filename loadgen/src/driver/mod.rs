//! The open-loop driver: the same code against real nodes and, under
//! `--cfg madsim`, against simulated ones.
//!
//! - The scheduler (`Run::schedule`, run by [`Driver::run`] itself, no
//!   task of its own) walks the phases' arrival schedules and, at each
//!   request's intended start, puts the request on a shared queue, however
//!   slowly answers come back. Beyond the phase's `max_in_flight` it records
//!   the request as held back instead.
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
//! With an [`AppConfig`] the clients act as application servers in front of
//! a database (cache-aside or write-through, `app`): a request then moves
//! through steps, re-entering the queue for its cache step, and
//! [`flight`] (singleflight) and [`near`] (the near-cache) hold the
//! per-machine state. Without one, every request is one cache command, as
//! before.

mod app;
pub mod cli;
pub mod closing;
mod conn;
mod flight;
mod near;

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_node::clock::{Clock, Micros};
use tokio::sync::{Barrier, Notify, watch};
use tokio::task::JoinHandle;

use crate::recorder::{Outcome, Recorder, RunMeta, RunRecord, new_histogram};
use crate::stale::WriteOracle;
use crate::workload::{ArrivalGen, OpKind, Phase, Request, RequestGen, Shape, WorkloadError};
pub use app::{AppConfig, Join, Step};
pub use flight::Flights;
pub use near::NearCache;

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
    /// Sent with `AUTH` on every connection before any request (a server
    /// started with `requirepass`).
    pub password: Option<String>,
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

/// Within [`SPIN`] of a request's intended start, the scheduler first sleeps
/// on the operating system's timer (precise to tens of microseconds) until
/// this long (model microseconds) before it, and yields in a loop only for
/// the rest. A scheduler that yields for the whole window keeps a core busy
/// at any rate above ~800 requests per second; on a shared machine the
/// kernel then runs it behind every other busy process, and requests go out
/// milliseconds late (measured: p50 1.4 ms at 1,000 req/s against
/// redis-server, load average 10 on 2 cores). A process that sleeps is
/// woken promptly instead.
const FINE: Micros = 150;

/// A request that came due and waits for a connection (the fast engine's
/// clients queue the same).
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// Intended start, model time.
    pub due: Micros,
    /// Past this model time the request is a timeout.
    pub deadline: Micros,
    pub op: OpKind,
    /// Key index.
    pub key: u64,
    /// Bytes of the value (SET only).
    pub value_len: u64,
    /// Where the request stands in the app's pattern.
    pub step: Step,
    /// Its phase's TTL and MGET width.
    pub shape: Shape,
}

impl Pending {
    /// The background SET that fills the cache with the key of `self`, a
    /// miss the database answered at `now`: `value_len` bytes, with the
    /// app's `fill_ttl` as its PX, and the miss's timeout.
    pub fn fill(&self, now: Micros, value_len: u64, fill_ttl: Option<Duration>) -> Pending {
        let px = fill_ttl.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        Pending {
            due: now,
            deadline: now + self.deadline.saturating_sub(self.due),
            op: OpKind::Set,
            key: self.key,
            value_len,
            step: Step::Fill(px),
            shape: self.shape,
        }
    }
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

/// Checks `cfg` and returns a request generator per phase.
fn validate(cfg: &DriverConfig) -> Result<Vec<RequestGen>, DriverError> {
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
    Ok(requests)
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
        let requests = validate(&cfg)?;
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
        let run = Run::new(cfg, clock, shared);
        let tasks = run.connect(&requests, oracle).await;
        let t0 = run.start();
        let mut stop = std::pin::pin!(stop);
        run.schedule(&mut requests, t0, &mut stop).await;
        run.drain().await;
        run.close(tasks).await;
        run.take_record()
    }
}

/// Whether the schedule goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The awaited time came.
    Go,
    /// `stop` completed: schedule nothing more.
    Stop,
}

/// What the steps of one [`Driver::run`] share. The steps, in order:
/// [`Run::connect`], [`Run::start`], [`Run::schedule`] (per phase
/// [`Run::begin_phase`], then per arrival [`Run::wait_until`] and
/// [`Run::submit`]), [`Run::drain`], [`Run::close`], [`Run::take_record`].
struct Run {
    cfg: DriverConfig,
    clock: Clock,
    /// Queue, recorder and counters, shared with the connection tasks.
    shared: Arc<Mutex<Shared>>,
    /// Signalled when a request is queued.
    work: Arc<Notify>,
    /// Signalled when nothing is in flight any more.
    drained: Arc<Notify>,
    /// The app's pattern, when the clients use a database.
    app: Option<Arc<app::AppCtx>>,
    /// Tells the connection tasks the phase's connection count and the end.
    control: watch::Sender<Control>,
    /// Cloned for each connection task (and kept, so the channel stays
    /// open until the run ends).
    control_rx: watch::Receiver<Control>,
}

impl Run {
    fn new(cfg: DriverConfig, clock: Clock, shared: Arc<Mutex<Shared>>) -> Self {
        let drained = Arc::new(Notify::new());
        let work = Arc::new(Notify::new());
        let app = cfg.app.clone().map(|a| {
            Arc::new(app::AppCtx {
                cfg: a,
                clock,
                shared: shared.clone(),
                work: work.clone(),
                drained: drained.clone(),
            })
        });
        let (control, control_rx) = watch::channel(Control {
            active: cfg.phases[0].connections as usize,
            closing: false,
        });
        Self {
            cfg,
            clock,
            shared,
            work,
            drained,
            app,
            control,
            control_rx,
        }
    }

    /// Starts the connection tasks (as many as the largest phase uses) and
    /// returns once every one has tried to connect: the first requests then
    /// do not carry the connection setup in their latency. They connect
    /// concurrently, so an unreachable target costs one connect timeout, not
    /// one per connection.
    async fn connect(&self, requests: &[RequestGen], oracle: WriteOracle) -> Vec<JoinHandle<()>> {
        let cfg = &self.cfg;
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
        let connected = Arc::new(Barrier::new(conns + 1));
        let mut tasks = Vec::with_capacity(conns);
        for i in 0..conns {
            let task = conn::Conn {
                index: i,
                target: cfg.targets[(i + cfg.client_index as usize) % cfg.targets.len()],
                stream: None,
                clock: self.clock,
                pipeline: cfg.pipeline,
                shared: self.shared.clone(),
                work: self.work.clone(),
                drained: self.drained.clone(),
                control: self.control_rx.clone(),
                prefix: prefix.clone(),
                value: value.clone(),
                oracle: oracle.clone(),
                app: self.app.clone(),
                password: cfg.password.as_deref().map(|p| p.as_bytes().into()),
            };
            tasks.push(tokio::spawn(
                task.run(connected.clone(), cfg.phases[0].timeout),
            ));
        }
        connected.wait().await;
        tasks
    }

    /// Starts the schedule's clock now and returns its start, model time.
    fn start(&self) -> Micros {
        let t0 = self.clock.now();
        lock(&self.shared).t0 = t0;
        if let Some(a) = &self.cfg.app {
            a.database.align(t0);
        }
        t0
    }

    /// Plays the phases back to back from `t0`, until the last one ends or
    /// `stop` completes.
    async fn schedule<S: Future<Output = ()>>(
        &self,
        requests: &mut [RequestGen],
        t0: Micros,
        stop: &mut Pin<&mut S>,
    ) {
        let cfg = &self.cfg;
        let mut arrival_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        arrival_rng.set_stream(2 * u64::from(cfg.client_index));
        let mut request_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        request_rng.set_stream(2 * u64::from(cfg.client_index) + 1);
        let mut phase_start = t0;
        for (phase, requests_of) in cfg.phases.iter().zip(requests.iter_mut()) {
            self.begin_phase(phase, requests_of);
            let mut arrivals =
                ArrivalGen::new(phase, cfg.client_index, cfg.client_count, &mut arrival_rng)
                    .expect("validated in Driver::new");
            while let Some(offset) = arrivals.next(&mut arrival_rng) {
                let due = phase_start + offset.as_micros() as Micros;
                if self.wait_until(due, stop).await == Flow::Stop {
                    return;
                }
                let req = requests_of.next(&mut request_rng);
                self.submit(phase, offset, due, req);
            }
            phase_start += phase.duration.as_micros() as Micros;
            // Hold the schedule to the phase boundary even if its last
            // arrival came early, so phases keep their place in time.
            while self.clock.now() < phase_start {
                tokio::select! {
                    biased;
                    () = stop.as_mut() => return,
                    () = self.clock.sleep_until(phase_start) => {}
                }
            }
        }
    }

    /// Tells the connections and the live view about a new phase.
    fn begin_phase(&self, phase: &Phase, requests_of: &RequestGen) {
        let _ = self.control.send(Control {
            active: phase.connections as usize,
            closing: false,
        });
        let mut sh = lock(&self.shared);
        if let Some(a) = &mut sh.app {
            a.fill_len = requests_of.max_value_len();
        }
        sh.live.snap.target_rate =
            phase.rate.at(Duration::ZERO, phase.duration) / f64::from(self.cfg.client_count);
    }

    /// Sleeps until model time `due`, waking meanwhile to time out queued
    /// requests whose deadline comes first.
    async fn wait_until<S: Future<Output = ()>>(
        &self,
        due: Micros,
        stop: &mut Pin<&mut S>,
    ) -> Flow {
        let mut settled = false;
        loop {
            let now = self.clock.now();
            let (front, queued) = {
                let mut sh = lock(&self.shared);
                sh.expire_queue(now, &self.drained);
                (sh.queue.front().map(|p| p.deadline), !sh.queue.is_empty())
            };
            if now >= due {
                return Flow::Go;
            }
            // The queue may hold only the request just queued, which a
            // connection was told of but cannot take before this task
            // yields. Judged then, the queue would always look busy and every
            // request would go out on the coarse timer, up to a millisecond
            // late. So let the connections have their turn first, then judge.
            let yield_first = queued && !settled && SPIN.is_some();
            // Precision only matters when the request would go out at once:
            // behind a queue that outlasted the connections' turn it waits
            // anyway, so the coarse timer does, and arrivals are queued in
            // batches per tick.
            let spin = SPIN.filter(|_| !queued).unwrap_or(0);
            if !yield_first && spin > 0 && due - now <= spin && due - now > FINE {
                tokio::select! {
                    biased;
                    () = stop.as_mut() => return Flow::Stop,
                    () = sleep_precisely(self.clock, due - FINE) => {}
                }
                continue;
            }
            if yield_first || (spin > 0 && due - now <= spin) {
                settled |= yield_first;
                tokio::select! {
                    biased;
                    () = stop.as_mut() => return Flow::Stop,
                    () = tokio::task::yield_now() => {}
                }
                continue;
            }
            let target = due - spin;
            let wake = front.map_or(target, |d| d.min(target));
            tokio::select! {
                biased;
                () = stop.as_mut() => return Flow::Stop,
                () = self.clock.sleep_until(wake) => {}
            }
        }
    }

    /// Queues (or, beyond the phase's `max_in_flight`, holds back) a request
    /// that came due at `due`, `offset` into `phase`.
    fn submit(&self, phase: &Phase, offset: Duration, due: Micros, req: Request) {
        let mut sh = lock(&self.shared);
        sh.live.snap.scheduled += 1;
        if matches!(phase.rate, crate::workload::Rate::Ramp { .. }) {
            sh.live.snap.target_rate =
                phase.rate.at(offset, phase.duration) / f64::from(self.cfg.client_count);
        }
        if sh.in_flight >= u64::from(phase.max_in_flight) {
            sh.resolve(due, req.op, Outcome::HeldBack, due);
            return;
        }
        let p = Pending {
            due,
            deadline: due + phase.timeout.as_micros() as Micros,
            op: req.op,
            key: req.key,
            value_len: req.value_len,
            step: Step::Direct,
            shape: Shape::of(phase),
        };
        if let Some(ctx) = &self.app {
            app::start(ctx, &mut sh, p, self.clock.now());
            return;
        }
        sh.in_flight += 1;
        sh.queue.push_back(p);
        drop(sh);
        self.work.notify_one();
    }

    /// Waits until nothing is in flight: every request ends by its deadline
    /// at the latest.
    async fn drain(&self) {
        loop {
            let front = {
                let mut sh = lock(&self.shared);
                sh.expire_queue(self.clock.now(), &self.drained);
                if sh.in_flight == 0 {
                    return;
                }
                sh.queue.front().map(|p| p.deadline)
            };
            match front {
                Some(deadline) => {
                    tokio::select! {
                        biased;
                        () = self.drained.notified() => {}
                        () = self.clock.sleep_until(deadline) => {}
                    }
                }
                None => self.drained.notified().await,
            }
        }
    }

    /// Tells the connection tasks to exit and waits for them.
    async fn close(&self, tasks: Vec<JoinHandle<()>>) {
        let _ = self.control.send(Control {
            active: 0,
            closing: true,
        });
        for t in tasks {
            // A connection task that panicked broke an invariant: surface it.
            if let Err(e) = t.await {
                panic!("a driver connection task failed: {e}");
            }
        }
    }

    /// Everything recorded, once the connection tasks are gone.
    fn take_record(&self) -> RunRecord {
        let empty = Recorder::new(
            RunMeta {
                scenario: String::new(),
                description: String::new(),
                seed: None,
                source: String::new(),
                window: self.cfg.window,
            },
            &[],
        );
        std::mem::replace(&mut lock(&self.shared).recorder, empty).finish()
    }
}

/// Sleeps until model time `at` on the operating system's timer: a thread
/// of the runtime's blocking pool sleeps, where tokio's own timer would round
/// up to the next millisecond. If the wait is abandoned (`stop`), that
/// thread finishes its short sleep alone.
#[cfg(not(madsim))]
async fn sleep_precisely(clock: Clock, at: Micros) {
    let until = clock.runtime_instant(at).into_std();
    let slept = tokio::task::spawn_blocking(move || {
        std::thread::sleep(until.saturating_duration_since(std::time::Instant::now()));
    });
    // A sleep cannot fail; a runtime shutting down ends the wait early,
    // which the scheduler's loop notices.
    let _ = slept.await;
}

/// The simulator's timer is exact: its own sleep is precise (and never
/// reached, since [`SPIN`] is `None` there).
#[cfg(madsim)]
async fn sleep_precisely(clock: Clock, at: Micros) {
    clock.sleep_until(at).await;
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
