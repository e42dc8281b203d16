//! The application-server patterns: what a request does besides its cache
//! command when the clients use a database (`[app]` in a scenario).
//!
//! A request carries a [`Step`] saying where it stands. The scheduler starts
//! it ([`start`]): a near-cache hit is answered on the spot; a GET goes to
//! the queue for its cache GET; a write first runs its database query in a
//! task of its own, then re-enters the queue (in deadline order: ahead of
//! the requests that came after it) for its cache step. A connection hands every cache reply to
//! [`after_cache`], which answers the request or, for a GET that missed,
//! starts the database read (shared through singleflight when `coalesce`),
//! then answers and queues the background fill.
//!
//! Every request keeps its intended start and its deadline through all of
//! its steps, so latencies stay free of coordinated omission and the
//! request's timeout covers the whole of it. The one bend: a request whose
//! deadline passes while its database query runs is recorded (as a timeout)
//! when the query returns, at most one timeout later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringlab_node::clock::{Clock, Micros};
use tokio::sync::Notify;

use super::{Pending, Shared, lock};
use crate::database::{Database, DbError, QueryKind};
use crate::recorder::Outcome;
use crate::scenario::{App, OnWrite, Pattern};
use crate::workload::OpKind;

/// How the clients use the cache and the database: given to the driver.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The pattern, fills, singleflight and near-cache settings.
    pub app: App,
    /// The database, shared by every client machine of the run.
    pub database: Database,
}

/// Where a request stands in its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// No pattern: one cache command, its reply is the answer.
    Direct,
    /// A cache-aside GET's cache lookup; a miss goes on to the database.
    Lookup,
    /// The cache step after a write's database query; its reply answers.
    AfterDb,
    /// As `AfterDb`, but the cache command is a DEL whatever the op.
    Invalidate,
    /// A write-through SET's cache half, joined with its database half.
    Joined(u64),
    /// The background SET that fills the cache after a database read, with
    /// its PX in milliseconds; nobody waits for it and it is not recorded.
    Fill(Option<u64>),
}

impl Step {
    /// The command to send for a request of kind `op` at this step.
    pub fn command(self, op: OpKind) -> OpKind {
        match self {
            Step::Invalidate => OpKind::Delete,
            Step::Fill(_) => OpKind::Set,
            _ => op,
        }
    }

    /// Whether this is a background fill.
    pub fn is_fill(self) -> bool {
        matches!(self, Step::Fill(_))
    }

    /// The PX of a fill.
    pub fn px_ms(self) -> Option<u64> {
        match self {
            Step::Fill(px) => px,
            _ => None,
        }
    }
}

/// The two halves of a write-through SET, `P` the request as scheduled
/// (the fast engine keeps its own): the request ends when both halves
/// have, as a timeout if either timed out, else with the first error.
#[derive(Debug, Clone)]
pub struct Join<P> {
    /// The request, as scheduled.
    pub p: P,
    /// Halves still out.
    left: u8,
    /// The kind of the first error a half ended with.
    error: Option<String>,
    /// Whether a half timed out.
    timed_out: bool,
}

impl<P> Join<P> {
    /// Both halves of `p` out.
    pub fn new(p: P) -> Self {
        Self {
            p,
            left: 2,
            error: None,
            timed_out: false,
        }
    }

    /// One half ended with `o`: whether that was the second.
    pub fn half_ended(&mut self, o: Outcome<'_>) -> bool {
        match o {
            Outcome::Error(kind) if self.error.is_none() => self.error = Some(kind.to_string()),
            Outcome::Timeout => self.timed_out = true,
            _ => {}
        }
        self.left -= 1;
        self.left == 0
    }

    /// How the request ends, once both halves have.
    pub fn outcome(&self) -> Outcome<'_> {
        match (self.timed_out, &self.error) {
            (true, _) => Outcome::Timeout,
            (false, Some(kind)) => Outcome::Error(kind),
            (false, None) => Outcome::Ok,
        }
    }
}

/// The per-client-machine state of the pattern, kept in [`Shared`].
#[derive(Debug, Default)]
pub(super) struct AppState {
    /// The near-cache, when configured.
    pub near: Option<super::near::NearCache>,
    /// GETs waiting for a database read of their key (coalescing).
    pub flights: super::flight::Flights<Pending>,
    /// Write-through SETs with halves still out, by id.
    pub joins: std::collections::BTreeMap<u64, Join<Pending>>,
    /// The next join id.
    pub next_join: u64,
    /// Bytes of the value a fill writes (the current phase's largest).
    pub fill_len: u64,
}

impl AppState {
    pub(super) fn new(app: &App) -> Self {
        Self {
            near: app.near_cache.map(|n| {
                let ttl = Micros::try_from(n.ttl.as_micros()).unwrap_or(Micros::MAX);
                super::near::NearCache::new(n.keys, ttl)
            }),
            ..Self::default()
        }
    }
}

/// What a request's step needs to go on: shared by the scheduler, the
/// connections and the database tasks of one driver.
#[derive(Debug)]
pub(super) struct AppCtx {
    pub cfg: AppConfig,
    pub clock: Clock,
    pub shared: Arc<Mutex<Shared>>,
    /// Signalled when a request is queued.
    pub work: Arc<Notify>,
    /// Signalled when nothing is in flight any more.
    pub drained: Arc<Notify>,
}

impl Shared {
    /// Records how a request ended at its current step: a fill is not
    /// recorded, a write-through half waits for its other half.
    pub(super) fn end(&mut self, p: &Pending, outcome: Outcome<'_>, now: Micros, drained: &Notify) {
        match p.step {
            Step::Fill(_) => {}
            Step::Joined(id) => self.join_half(id, outcome, now, drained),
            _ => self.finish(p.due, p.op, outcome, now, drained),
        }
    }

    /// One half of write-through SET `id` ended.
    fn join_half(&mut self, id: u64, outcome: Outcome<'_>, now: Micros, drained: &Notify) {
        let app = self
            .app
            .as_mut()
            .expect("joined requests exist only with an app");
        let Some(j) = app.joins.get_mut(&id) else {
            panic!("write-through SET {id} ended a half it did not have");
        };
        if !j.half_ended(outcome) {
            return;
        }
        let j = app.joins.remove(&id).expect("looked up above");
        self.finish(j.p.due, j.p.op, j.outcome(), now, drained);
    }
}

/// Starts request `p` (its step still `Direct`) at `now` under the lock,
/// the in-flight cap already checked by the caller: a near-cache hit is
/// answered at once, anything else becomes in flight.
pub(super) fn start(ctx: &Arc<AppCtx>, sh: &mut Shared, mut p: Pending, now: Micros) {
    let app = sh.app.as_mut().expect("an app driver has app state");
    match p.op {
        OpKind::Get => {
            if let Some(near) = &mut app.near
                && near.get(p.key, now)
            {
                ctx.cfg.database.note_near_hit(p.due);
                sh.resolve(p.due, p.op, Outcome::Ok, now);
                return;
            }
            p.step = Step::Lookup;
            sh.in_flight += 1;
            sh.queue.push_back(p);
            ctx.work.notify_one();
        }
        OpKind::Set | OpKind::Delete => {
            if let Some(near) = &mut app.near {
                near.invalidate(p.key);
            }
            sh.in_flight += 1;
            let write_through = ctx.cfg.app.pattern == Pattern::WriteThrough;
            if write_through && p.op == OpKind::Set {
                let id = app.next_join;
                app.next_join += 1;
                let mut cache_half = p;
                cache_half.step = Step::Joined(id);
                app.joins.insert(id, Join::new(p));
                sh.queue.push_back(cache_half);
                ctx.work.notify_one();
                tokio::spawn(write(ctx.clone(), cache_half, None));
            } else {
                let step = if p.op == OpKind::Delete || ctx.cfg.app.on_write == OnWrite::Delete {
                    Step::Invalidate
                } else {
                    Step::AfterDb
                };
                tokio::spawn(write(ctx.clone(), p, Some(step)));
            }
        }
        // Counters, multi-key reads and expiries go to the cache alone:
        // the database model has no counters, pages or TTLs.
        OpKind::Incr | OpKind::Mget | OpKind::Expire => {
            sh.in_flight += 1;
            sh.queue.push_back(p);
            ctx.work.notify_one();
        }
    }
}

/// A write's database query; then its cache step `then` goes to the queue
/// (or, for a write-through half, the half ends).
async fn write(ctx: Arc<AppCtx>, p: Pending, then: Option<Step>) {
    let start = ctx.clock.now();
    if start >= p.deadline {
        // Already out of time (it waited for a connection): the app gives
        // up before it queries, so the database never sees it.
        lock(&ctx.shared).end(&p, Outcome::Timeout, start, &ctx.drained);
        return;
    }
    let patience = Duration::from_micros(p.deadline - start);
    let r = ctx
        .cfg
        .database
        .query(QueryKind::Write, patience, p.due)
        .await;
    let now = ctx.clock.now();
    let mut sh = lock(&ctx.shared);
    match (r, then) {
        (Ok(()), Some(step)) => {
            // Back in the queue in deadline order (it has waited for the
            // database since it was due, so it goes ahead of later
            // arrivals, and the queue's front stays its earliest deadline,
            // which `expire_queue` relies on).
            let at = sh.queue.partition_point(|q| q.deadline <= p.deadline);
            sh.queue.insert(at, Pending { step, ..p });
            drop(sh);
            ctx.work.notify_one();
        }
        (Ok(()), None) => sh.end(&p, Outcome::Ok, now, &ctx.drained),
        (Err(e), _) => sh.end(&p, failed(e, &p, now), now, &ctx.drained),
    }
}

/// How a request whose database query failed with `e` at `now` ends.
fn failed(e: DbError, p: &Pending, now: Micros) -> Outcome<'static> {
    e.outcome(p.deadline, now)
}

/// A cache reply for request `p` arrived at `now` with `outcome`: answer
/// it, or go on to the database.
pub(super) fn after_cache(ctx: &Arc<AppCtx>, p: Pending, outcome: Outcome<'_>, now: Micros) {
    let mut sh = lock(&ctx.shared);
    if p.step != Step::Lookup {
        sh.end(&p, outcome, now, &ctx.drained);
        return;
    }
    match outcome {
        Outcome::Ok | Outcome::Stale => {
            if let Some(near) = sh.app.as_mut().and_then(|a| a.near.as_mut()) {
                near.fill(p.key, now);
            }
            sh.end(&p, outcome, now, &ctx.drained);
        }
        Outcome::Timeout | Outcome::HeldBack => sh.end(&p, outcome, now, &ctx.drained),
        // A miss, or a cache that failed (a dead node, no quorum): the
        // database has the value, as in any cache-aside application that
        // treats its cache as optional.
        Outcome::Miss | Outcome::Error(_) => {
            if ctx.cfg.app.coalesce {
                let app = sh.app.as_mut().expect("an app driver has app state");
                if !app.flights.join(p.key, p) {
                    drop(sh);
                    ctx.cfg.database.note_coalesced(p.due);
                    return;
                }
            }
            drop(sh);
            tokio::spawn(read(ctx.clone(), p));
        }
    }
}

/// The database read after a miss of `p`'s key; answers `p` (and, when
/// coalescing, every miss of the key that waited for it) and queues the
/// fill.
async fn read(ctx: Arc<AppCtx>, p: Pending) {
    // What is left of `p`'s timeout; when coalescing, the whole timeout
    // from now instead, as the read also answers misses that came later
    // than `p` and have later deadlines.
    let started = ctx.clock.now();
    let patience = Duration::from_micros(if ctx.cfg.app.coalesce {
        p.deadline.saturating_sub(p.due)
    } else {
        p.deadline.saturating_sub(started)
    });
    let r = ctx
        .cfg
        .database
        .query(QueryKind::Read, patience, p.due)
        .await;
    let now = ctx.clock.now();
    let mut sh = lock(&ctx.shared);
    let answered = if ctx.cfg.app.coalesce {
        sh.app
            .as_mut()
            .expect("an app driver has app state")
            .flights
            .land(p.key)
    } else {
        vec![p]
    };
    for w in &answered {
        let outcome = match r {
            _ if now >= w.deadline => Outcome::Timeout,
            Ok(()) => Outcome::Miss,
            Err(e) => failed(e, w, now),
        };
        sh.end(w, outcome, now, &ctx.drained);
    }
    if r.is_err() {
        return;
    }
    let app = sh.app.as_mut().expect("an app driver has app state");
    if let Some(near) = &mut app.near {
        near.fill(p.key, now);
    }
    let fill = p.fill(now, app.fill_len, ctx.cfg.app.fill_ttl);
    sh.queue.push_back(fill);
    drop(sh);
    ctx.work.notify_one();
}
