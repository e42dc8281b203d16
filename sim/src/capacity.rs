//! The capacity model: what makes a simulated node finite.
//!
//! madsim's clock does not move while code computes, so without this a
//! simulated node would serve any load instantly. Each node instead charges
//! simulated time per operation: an operation waits for one of the node's
//! `cores` (FIFO), holds it for its service time (a sampled base cost plus a
//! per-KB cost, times the node's slow-down factor), then runs. When more than
//! `queue_limit` operations are already waiting, a new one is refused at once
//! with `Overloaded`, which the node answers as `-OVERLOADED`. Throughput then
//! saturates at `cores / service time` and queueing delay grows near
//! saturation, as on a real machine (an M/G/c queue with a bounded buffer).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_core::ring::NodeId;
use ringlab_loadgen::recorder::new_histogram;
use ringlab_loadgen::scenario::CostDist;
use ringlab_node::clock::{Clock, Micros, SkewHandle};
use ringlab_node::{Hooks, OpCost, Overloaded};
use tokio::sync::Semaphore;

/// A node's capacity settings, as the scenario gives them.
#[derive(Debug, Clone)]
pub struct CapacitySpec {
    pub cores: usize,
    pub op_cost: CostDist,
    pub per_kb_cost: Duration,
    pub queue_limit: usize,
}

impl CapacitySpec {
    /// The size-dependent part of an operation's service time:
    /// `per_kb_cost` for every KiB of its `bytes` (both engines charge it).
    pub fn per_kb_for(&self, bytes: usize) -> Duration {
        self.per_kb_cost.mul_f64(bytes as f64 / 1024.0)
    }
}

/// What one node's operations did, per report window: how long each spent
/// at the node (waiting for a core, then served) and how much core time
/// they used. Kept only when the scenario asks for node series.
#[derive(Debug, Clone)]
pub struct NodeStats {
    /// Model time of the run's start: window 0 begins here.
    origin: Micros,
    /// Window length, model microseconds.
    window_us: u64,
    /// Per window: time at the node of each operation (µs), and the core
    /// time served (µs).
    windows: Vec<(Histogram<u64>, u64)>,
}

impl NodeStats {
    pub fn new(origin: Micros, window: Duration) -> Self {
        Self {
            origin,
            window_us: (window.as_micros() as u64).max(1),
            windows: Vec::new(),
        }
    }

    /// An operation that arrived at `entered` spent `at_node` µs at the node,
    /// `served` µs of it on a core. Counted in the window it arrived in.
    pub fn record(&mut self, entered: Micros, at_node: u64, served: u64) {
        let Some(offset) = entered.checked_sub(self.origin) else {
            return;
        };
        let i = usize::try_from(offset / self.window_us).unwrap_or(usize::MAX);
        if i >= self.windows.len() {
            if i > 1 << 20 {
                return; // far past any run: not worth the memory
            }
            self.windows.resize_with(i + 1, || (new_histogram(), 0));
        }
        let (hist, busy) = &mut self.windows[i];
        hist.saturating_record(at_node.max(1));
        *busy += served;
    }

    /// Per window: the histogram of time at the node and the core time.
    pub fn windows(&self) -> &[(Histogram<u64>, u64)] {
        &self.windows
    }
}

/// State that outlives a node's restarts: the harness changes it when the
/// fault timeline says so.
#[derive(Debug)]
pub struct Knobs {
    /// Service-time multiplier in thousandths (1000 = normal speed).
    slow_permille: AtomicU64,
    /// Extra one-way delay (model microseconds) on messages this node sends
    /// to each peer, indexed by peer id; per-link and per-node latency.
    peer_delay_us: Vec<AtomicU64>,
    /// Extra one-way latency of each message to or from a client, us.
    client_delay_us: AtomicU64,
    /// Per-window figures of the node's operations, when kept.
    pub stats: Option<Mutex<NodeStats>>,
    /// The running incarnation (None while killed): the end-of-run
    /// durability verdict reads its store.
    live: Live,
    /// The node's clock skew, when the scenario skews this node: its clock
    /// reads through it, and the fault timeline sets it.
    pub skew: Option<&'static SkewHandle>,
}

/// A node's running incarnation, if any (a node has no `Debug`).
#[derive(Default)]
struct Live(Mutex<Option<Arc<ringlab_node::state::Node>>>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.0.lock().is_ok_and(|l| l.is_some());
        write!(f, "Live {{ running: {running} }}")
    }
}

impl Knobs {
    pub fn new(max_node_id: NodeId) -> Self {
        Self {
            slow_permille: AtomicU64::new(1000),
            peer_delay_us: (0..=max_node_id).map(|_| AtomicU64::new(0)).collect(),
            client_delay_us: AtomicU64::new(0),
            stats: None,
            live: Live::default(),
            skew: None,
        }
    }

    /// These knobs, with a clock skew the timeline can set (only for a node
    /// the scenario skews: the others read model time directly).
    pub fn with_skew(mut self) -> Self {
        self.skew = Some(SkewHandle::leak());
        self
    }

    /// These knobs, also keeping per-window figures of the node's operations.
    pub fn with_stats(mut self, stats: NodeStats) -> Self {
        self.stats = Some(Mutex::new(stats));
        self
    }

    /// Slows (factor > 1) or restores (factor = 1) the node.
    pub fn set_slow_factor(&self, factor: f64) {
        self.slow_permille
            .store((factor * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub fn set_peer_delay(&self, peer: NodeId, delay: Duration) {
        if let Some(d) = self.peer_delay_us.get(peer as usize) {
            d.store(delay.as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// Sets the extra one-way latency between this node and every client.
    pub fn set_client_delay(&self, delay: Duration) {
        self.client_delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// The node's incarnation `node` started (None: it was killed).
    pub fn set_live(&self, node: Option<Arc<ringlab_node::state::Node>>) {
        *self.live.0.lock().unwrap_or_else(|e| e.into_inner()) = node;
    }

    /// The running incarnation, if any.
    pub fn live(&self) -> Option<Arc<ringlab_node::state::Node>> {
        self.live
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn slow_factor(&self) -> f64 {
        self.slow_permille.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// The simulator's [`Hooks`]: one per node incarnation (a restart builds a
/// new one: the queue of a killed process is gone).
pub struct SimHooks {
    clock: Clock,
    spec: CapacitySpec,
    knobs: Arc<Knobs>,
    /// One permit per core; tokio's semaphore is FIFO, so waiting ops are
    /// served in arrival order.
    cores: Semaphore,
    /// Operations waiting for a core right now.
    waiting: AtomicUsize,
    /// Samples service times; seeded per node and incarnation by the harness.
    rng: Mutex<ChaCha8Rng>,
}

impl SimHooks {
    pub fn new(clock: Clock, spec: CapacitySpec, knobs: Arc<Knobs>, seed: u64) -> Self {
        Self {
            cores: Semaphore::new(spec.cores),
            clock,
            spec,
            knobs,
            waiting: AtomicUsize::new(0),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The service time of one operation whose request was `bytes` long
    /// (what the node charges: a client command's arguments, or a replica
    /// request's key and written value; never the value a read returns).
    fn service_time(&self, bytes: usize) -> Duration {
        let base = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            self.spec.op_cost.sample(&mut *rng)
        };
        (base + self.spec.per_kb_for(bytes)).mul_f64(self.knobs.slow_factor())
    }
}

impl Hooks for SimHooks {
    fn charge(
        &self,
        cost: OpCost,
    ) -> Pin<Box<dyn Future<Output = Result<(), Overloaded>> + Send + '_>> {
        Box::pin(async move {
            // Admission: the queue holds at most queue_limit waiting ops.
            // An op that finds a free core does not count as waiting.
            if self.cores.available_permits() == 0
                && self.waiting.load(Ordering::Relaxed) >= self.spec.queue_limit
            {
                return Err(Overloaded);
            }
            let entered = self.clock.now();
            self.waiting.fetch_add(1, Ordering::Relaxed);
            let permit = self.cores.acquire().await;
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            let _permit = permit.map_err(|_| Overloaded)?;
            let service = self.service_time(cost.bytes);
            self.clock.sleep(service).await;
            if let Some(stats) = &self.knobs.stats {
                let at_node = self.clock.now().saturating_sub(entered);
                stats.lock().unwrap_or_else(|e| e.into_inner()).record(
                    entered,
                    at_node,
                    service.as_micros() as u64,
                );
            }
            Ok(())
        })
    }

    fn peer_delay(&self, peer: NodeId) -> Duration {
        self.knobs
            .peer_delay_us
            .get(peer as usize)
            .map(|d| Duration::from_micros(d.load(Ordering::Relaxed)))
            .unwrap_or_default()
    }

    fn client_delay(&self) -> Duration {
        Duration::from_micros(self.knobs.client_delay_us.load(Ordering::Relaxed))
    }
}
