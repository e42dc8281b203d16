//! The simulated database behind the cache: one shared by every client
//! machine of a run, so that a miss costs what it costs in production.
//!
//! [`DbModel`] is the pure part: a FIFO queue in front of `concurrency`
//! servers, each query's service time drawn from the spec's distribution
//! with a seeded RNG, `now` passed in. Because service times are drawn at
//! arrival, admission alone fixes when a query ends: the earliest-free
//! server takes it at `max(now, free)`, which is FIFO order. A query that
//! would have to wait while `queue_limit` others already wait is refused.
//!
//! [`Database`] wraps the model for the driver: a clonable handle whose
//! [`Database::query`] admits a query and sleeps (on the [`Clock`]) until it
//! is done or the app stops waiting. In the simulator every client runs on
//! one thread, so a `Mutex` shared by all of them costs nothing and keeps
//! the run deterministic.
//!
//! The model keeps per-window counters ([`DbWindow`]): queries, refusals,
//! the deepest queue, and the app's own events that are only meaningful with
//! a database (coalesced waits, near-cache hits). [`Database::series`] turns
//! them into the record's extra time series. An event is counted in the
//! window of the intended start of the request that caused it, as the
//! recorder counts requests: a window's database reads are then exactly the
//! reads its requests caused, and the drain at the end of a run cannot push
//! events past the last window. The windows start at the driver's start
//! ([`Database::align`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_node::clock::{Clock, Micros};

use crate::recorder::Outcome;
use crate::scenario::DatabaseSpec;

/// What a query does to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// A read after a cache miss.
    Read,
    /// A write (a SET's new value, or a DEL).
    Write,
}

/// Why a query gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The wait queue was full.
    #[error("the database refused the query: its wait queue is full")]
    Refused,
    /// The app stopped waiting before the query was done.
    #[error("the database did not answer in time")]
    TimedOut,
}

impl DbError {
    /// How a request with `deadline` whose query failed this way ends at
    /// `now`: a timeout once its deadline has passed, else this error.
    pub fn outcome(self, deadline: Micros, now: Micros) -> Outcome<'static> {
        if now >= deadline {
            Outcome::Timeout
        } else {
            Outcome::Error(self.kind())
        }
    }

    /// The error kind a request that failed this way is recorded with.
    pub fn kind(&self) -> &'static str {
        match self {
            DbError::Refused => "DBREFUSED",
            DbError::TimedOut => "DBTIMEOUT",
        }
    }
}

/// One window's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbWindow {
    /// Read queries admitted.
    pub reads: u64,
    /// Write queries admitted.
    pub writes: u64,
    /// Queries refused (queue full).
    pub refused: u64,
    /// Queries the app gave up waiting for.
    pub timeouts: u64,
    /// The most queries waiting at once, seen at an arrival.
    pub queue_max: u64,
    /// Cache misses that waited for another request's read of the same key
    /// instead of reading themselves (singleflight).
    pub coalesced: u64,
    /// Reads answered from a client's near-cache.
    pub near_hits: u64,
}

/// Per-window counters from `t0` on, `window` wide.
#[derive(Debug, Clone)]
pub struct DbStats {
    /// Model time of window 0's start.
    t0: Micros,
    /// Window width, microseconds (at least 1).
    window: Micros,
    /// Counters by window index; windows with no event are absent.
    windows: BTreeMap<u64, DbWindow>,
}

impl DbStats {
    pub fn new(t0: Micros, window: Duration) -> Self {
        Self {
            t0,
            window: (window.as_micros() as Micros).max(1),
            windows: BTreeMap::new(),
        }
    }

    /// The counters of the window holding `now` (events before `t0` count in
    /// window 0).
    pub fn at(&mut self, now: Micros) -> &mut DbWindow {
        let i = now.saturating_sub(self.t0) / self.window;
        self.windows.entry(i).or_default()
    }

    /// The counters of window `i` (zero if nothing happened in it).
    pub fn window(&self, i: u64) -> DbWindow {
        self.windows.get(&i).copied().unwrap_or_default()
    }
}

/// The database's queue and servers, as pure state.
#[derive(Debug, Clone)]
pub struct DbModel {
    /// What it can do.
    spec: DatabaseSpec,
    /// When each server is next free (model time); a min-heap.
    free_at: BinaryHeap<Reverse<Micros>>,
    /// Start times of admitted queries still waiting, in order (FIFO makes
    /// them non-decreasing).
    waiting: VecDeque<Micros>,
    /// Draws service times.
    rng: ChaCha8Rng,
    /// Whether [`Database::align`] has set the windows' start.
    aligned: bool,
    /// What happened, per window.
    pub stats: DbStats,
}

impl DbModel {
    /// An idle database; `seed` drives its service times, `t0` and `window`
    /// its counters.
    pub fn new(spec: DatabaseSpec, seed: u64, t0: Micros, window: Duration) -> Self {
        let free_at = (0..spec.concurrency.max(1)).map(|_| Reverse(0)).collect();
        Self {
            spec,
            free_at,
            waiting: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            aligned: false,
            stats: DbStats::new(t0, window),
        }
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &DatabaseSpec {
        &self.spec
    }

    /// Queries waiting for a server at `now`.
    pub fn queue_depth(&mut self, now: Micros) -> usize {
        while self.waiting.front().is_some_and(|&s| s <= now) {
            self.waiting.pop_front();
        }
        self.waiting.len()
    }

    /// A query arrives at `now` for a request that came due at `due` (the
    /// window it is counted in): when it will be done, or refused when it
    /// would wait behind `queue_limit` others.
    pub fn admit(&mut self, kind: QueryKind, now: Micros, due: Micros) -> Result<Micros, DbError> {
        let depth = self.queue_depth(now);
        let Reverse(free) = *self
            .free_at
            .peek()
            .expect("a database has at least one server");
        let start = free.max(now);
        let w = self.stats.at(due);
        if start > now && depth >= self.spec.queue_limit as usize {
            w.refused += 1;
            return Err(DbError::Refused);
        }
        match kind {
            QueryKind::Read => w.reads += 1,
            QueryKind::Write => w.writes += 1,
        }
        let service = self.spec.latency.sample(&mut self.rng).as_micros() as Micros;
        let done = start + service;
        self.free_at.pop();
        self.free_at.push(Reverse(done));
        if start > now {
            self.waiting.push_back(start);
        }
        let w = self.stats.at(due);
        w.queue_max = w.queue_max.max(self.waiting.len() as u64);
        Ok(done)
    }
}

impl DbModel {
    /// A query of `kind` at `now` for a request due at `due`, whose app
    /// waits at most `patience` µs (further capped by the spec's `timeout`):
    /// when it answers, or why it does not and when the app learns so (at
    /// once when refused; when it gives up otherwise, the timeout counted
    /// now in `due`'s window). A query given up on still occupies its
    /// server to the end, as a real database would keep working on it.
    pub fn query(
        &mut self,
        kind: QueryKind,
        now: Micros,
        due: Micros,
        patience: Micros,
    ) -> Result<Micros, (DbError, Micros)> {
        let done = self.admit(kind, now, due).map_err(|e| (e, now))?;
        let cap = self
            .spec
            .timeout
            .map_or(Micros::MAX, |t| t.as_micros() as Micros);
        let give_up = now.saturating_add(patience.min(cap));
        if done <= give_up {
            Ok(done)
        } else {
            self.stats.at(due).timeouts += 1;
            Err((DbError::TimedOut, give_up))
        }
    }
}

/// The shared database of a run: a handle every client machine holds.
#[derive(Debug, Clone)]
pub struct Database {
    /// The model, shared by all handles.
    model: Arc<Mutex<DbModel>>,
    /// Model time for sleeping until a query is done.
    clock: Clock,
}

impl Database {
    /// A database whose counters start at `clock.now()`.
    pub fn new(spec: DatabaseSpec, seed: u64, clock: Clock, window: Duration) -> Self {
        let model = DbModel::new(spec, seed, clock.now(), window);
        Self {
            model: Arc::new(Mutex::new(model)),
            clock,
        }
    }

    /// The model. A poisoned lock means a task panicked while holding it: a
    /// broken invariant, so the panic propagates.
    pub fn lock(&self) -> MutexGuard<'_, DbModel> {
        self.model
            .lock()
            .expect("a task panicked holding the database")
    }

    /// Starts the counters' windows at `t0`, the driver's start, the first
    /// time it is called (every client machine of a run starts at the same
    /// model instant, within a connect's time).
    pub fn align(&self, t0: Micros) {
        let mut m = self.lock();
        if !m.aligned {
            m.aligned = true;
            m.stats.t0 = t0;
        }
    }

    /// Runs one query for a request that came due at `due`, waiting at most
    /// `patience` (see [`DbModel::query`]).
    pub async fn query(
        &self,
        kind: QueryKind,
        patience: Duration,
        due: Micros,
    ) -> Result<(), DbError> {
        let now = self.clock.now();
        let patience = patience.as_micros() as Micros;
        let answer = self.lock().query(kind, now, due, patience);
        match answer {
            Ok(done) => {
                self.clock.sleep_until(done).await;
                Ok(())
            }
            Err((e, at)) => {
                self.clock.sleep_until(at).await;
                Err(e)
            }
        }
    }

    /// Counts a miss (of a request due at `due`) that waited for another
    /// request's read.
    pub fn note_coalesced(&self, due: Micros) {
        self.lock().stats.at(due).coalesced += 1;
    }

    /// Counts a read (due at `due`) answered by a near-cache.
    pub fn note_near_hit(&self, due: Micros) {
        self.lock().stats.at(due).near_hits += 1;
    }

    /// The counters as per-window series for `windows` windows, by name
    /// (units in the name): `db.reads_per_s`, `db.writes_per_s`,
    /// `db.refused_per_s`, `db.timeouts_per_s`, `db.queue_max`, and, when
    /// asked for, `db.coalesced_per_s` and `near.hits_per_s`.
    pub fn series(&self, windows: usize, coalesce: bool, near: bool) -> BTreeMap<String, Vec<f64>> {
        let m = self.lock();
        series_of(&m.stats, windows, coalesce, near)
    }
}

/// See [`Database::series`].
pub fn series_of(
    stats: &DbStats,
    windows: usize,
    coalesce: bool,
    near: bool,
) -> BTreeMap<String, Vec<f64>> {
    let secs = stats.window as f64 / 1e6;
    let rate = |f: fn(&DbWindow) -> u64| -> Vec<f64> {
        (0..windows as u64)
            .map(|i| f(&stats.window(i)) as f64 / secs)
            .collect()
    };
    let mut out = BTreeMap::new();
    out.insert("db.reads_per_s".to_string(), rate(|w| w.reads));
    out.insert("db.writes_per_s".to_string(), rate(|w| w.writes));
    out.insert("db.refused_per_s".to_string(), rate(|w| w.refused));
    out.insert("db.timeouts_per_s".to_string(), rate(|w| w.timeouts));
    out.insert(
        "db.queue_max".to_string(),
        (0..windows as u64)
            .map(|i| stats.window(i).queue_max as f64)
            .collect(),
    );
    if coalesce {
        out.insert("db.coalesced_per_s".to_string(), rate(|w| w.coalesced));
    }
    if near {
        out.insert("near.hits_per_s".to_string(), rate(|w| w.near_hits));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::CostDist;

    fn spec(concurrency: u32, queue_limit: u32, cost_us: u64) -> DatabaseSpec {
        DatabaseSpec {
            latency: CostDist::Constant(Duration::from_micros(cost_us)),
            concurrency,
            queue_limit,
            timeout: None,
        }
    }

    #[test]
    fn idle_servers_answer_after_one_service_time() {
        let mut m = DbModel::new(spec(2, 0, 100), 1, 0, Duration::from_secs(1));
        assert_eq!(m.admit(QueryKind::Read, 10, 10), Ok(110));
        assert_eq!(m.admit(QueryKind::Read, 20, 20), Ok(120));
        // Both servers busy and no room to wait: refused.
        assert_eq!(m.admit(QueryKind::Write, 30, 30), Err(DbError::Refused));
        // One is free again at 110.
        assert_eq!(m.admit(QueryKind::Write, 110, 110), Ok(210));
        let w = m.stats.window(0);
        assert_eq!((w.reads, w.writes, w.refused), (2, 1, 1));
    }

    #[test]
    fn the_queue_is_fifo_behind_busy_servers() {
        let mut m = DbModel::new(spec(1, 2, 100), 1, 0, Duration::from_secs(1));
        assert_eq!(m.admit(QueryKind::Read, 0, 0), Ok(100));
        assert_eq!(m.admit(QueryKind::Read, 1, 1), Ok(200));
        assert_eq!(m.admit(QueryKind::Read, 2, 2), Ok(300));
        assert_eq!(m.queue_depth(2), 2);
        assert_eq!(m.admit(QueryKind::Read, 3, 3), Err(DbError::Refused));
        // The first waiter started at 100: one waits, so one more fits.
        assert_eq!(m.queue_depth(150), 1);
        assert_eq!(m.admit(QueryKind::Read, 150, 150), Ok(400));
        assert_eq!(m.stats.window(0).queue_max, 2);
    }

    #[test]
    fn concurrency_bounds_queries_in_service() {
        // 4 servers, 10 simultaneous queries of 100us: done in waves.
        let mut m = DbModel::new(spec(4, 100, 100), 1, 0, Duration::from_secs(1));
        let done: Vec<Micros> = (0..10)
            .map(|_| m.admit(QueryKind::Read, 0, 0).unwrap())
            .collect();
        assert_eq!(done, vec![100, 100, 100, 100, 200, 200, 200, 200, 300, 300]);
        assert_eq!(m.stats.window(0).queue_max, 6);
    }

    #[test]
    fn counters_fall_in_their_windows_and_become_rates() {
        let mut m = DbModel::new(spec(8, 8, 10), 1, 1_000, Duration::from_millis(500));
        m.admit(QueryKind::Read, 1_000, 1_000).unwrap();
        m.admit(QueryKind::Read, 400_000, 400_000).unwrap();
        m.admit(QueryKind::Write, 600_000, 600_000).unwrap();
        m.stats.at(1_200_000).near_hits += 3;
        // Counted by the request's intended start, not the query's time.
        m.admit(QueryKind::Read, 1_400_000, 900_000).unwrap();
        let s = series_of(&m.stats, 4, false, true);
        assert_eq!(s["db.reads_per_s"], vec![4.0, 2.0, 0.0, 0.0]);
        assert_eq!(s["db.writes_per_s"], vec![0.0, 2.0, 0.0, 0.0]);
        assert_eq!(s["near.hits_per_s"], vec![0.0, 0.0, 6.0, 0.0]);
        assert!(!s.contains_key("db.coalesced_per_s"));
    }

    #[test]
    fn service_times_follow_the_seed() {
        let lognormal = DatabaseSpec {
            latency: CostDist::LogNormal {
                median: Duration::from_millis(2),
                sigma: 0.5,
            },
            ..spec(1000, 0, 0)
        };
        let run = |seed| {
            let mut m = DbModel::new(lognormal.clone(), seed, 0, Duration::from_secs(1));
            (0..50)
                .map(|i| m.admit(QueryKind::Read, i, i).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
