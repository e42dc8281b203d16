//! The application-server patterns of `[app]` in the fast engine: what a
//! request does besides its cache command when the clients use a database.
//!
//! The same steps as the load generator's driver (`driver::app`, whose
//! [`Step`] a request carries here too), as events instead of tasks: a
//! near-cache hit is answered on the spot; a cache-aside GET looks up the
//! cache and, on a miss or a cache error, reads the database (once per key
//! at a time with `coalesce`), answers, and queues a background fill; a
//! write queries the database first, then re-enters the queue in deadline
//! order for its cache step (a DEL, or the SET with `on_write = "update"`);
//! a write-through SET runs its database and cache halves at once and ends
//! when both have. The database is the load generator's pure [`DbModel`],
//! one per run as one database serves every application server, seeded as
//! the madsim engine seeds it.

use std::collections::BTreeMap;

use ringlab_core::clock::Micros;
use ringlab_loadgen::database::{DbError, DbModel, QueryKind, series_of};
use ringlab_loadgen::driver::cli::DATABASE_SEED;
use ringlab_loadgen::driver::{Flights, Join, NearCache, Step};
use ringlab_loadgen::scenario::{OnWrite, Pattern, Scenario};
use ringlab_loadgen::workload::OpKind;

use super::Outcome;
use super::run::{Ev, World};
use ringlab_loadgen::driver::Pending;

/// The run's database and the database queries out.
pub struct AppWorld {
    pub db: DbModel,
    /// Queries out, by id (the event that ends one carries its id).
    queries: BTreeMap<u64, Query>,
    next_query: u64,
}

/// A database query out for request `p` of client `client`.
struct Query {
    client: u32,
    p: Pending,
    /// A write's cache step once the query is done (`None`: a write-through
    /// half, which ends with the query); `Read` for a read.
    then: Then,
    result: Result<(), DbError>,
}

#[derive(Clone, Copy)]
enum Then {
    Read,
    Write(Option<Step>),
}

/// One client machine's pattern state.
#[derive(Default)]
pub struct ClientApp {
    near: Option<NearCache>,
    /// GETs waiting for a database read of their key (coalescing).
    flights: Flights<Pending>,
    /// Write-through SETs with halves still out, by id.
    joins: BTreeMap<u64, Join<Pending>>,
    next_join: u64,
    /// Bytes of the value a fill writes (the current phase's largest).
    pub fill_len: u64,
}

impl AppWorld {
    /// The database of a run of `sc` with `seed`, its windows from `t0`;
    /// None without one.
    pub fn new(sc: &Scenario, seed: u64, t0: Micros) -> Option<Self> {
        let spec = sc.database.clone()?;
        Some(Self {
            db: DbModel::new(spec, seed ^ DATABASE_SEED, t0, sc.window),
            queries: BTreeMap::new(),
            next_query: 0,
        })
    }

    /// The database's per-window series, as the madsim harness adds them.
    pub fn series(&self, sc: &Scenario, windows: usize) -> BTreeMap<String, Vec<f64>> {
        series_of(
            &self.db.stats,
            windows,
            sc.app.coalesce,
            sc.app.near_cache.is_some(),
        )
    }
}

impl ClientApp {
    pub fn new(sc: &Scenario) -> Self {
        Self {
            near: sc.app.near_cache.map(|n| {
                let ttl = Micros::try_from(n.ttl.as_micros()).unwrap_or(Micros::MAX);
                NearCache::new(n.keys, ttl)
            }),
            ..Self::default()
        }
    }
}

impl World<'_> {
    fn client_app(&mut self, k: u32) -> &mut ClientApp {
        self.clients[k as usize]
            .app
            .as_mut()
            .expect("a client of a run with a database has app state")
    }

    fn app_world(&mut self) -> &mut AppWorld {
        self.app.as_mut().expect("a run with a database")
    }

    /// Starts request `p` of client `k` (its step `Direct`), the in-flight
    /// cap already checked: a near-cache hit is answered now, anything else
    /// becomes in flight.
    pub fn app_start(&mut self, k: u32, mut p: Pending) {
        let now = self.now;
        let pattern = &self.sc.app;
        match p.op {
            OpKind::Get => {
                if let Some(near) = &mut self.client_app(k).near
                    && near.get(p.key, now)
                {
                    self.app_world().db.stats.at(p.due).near_hits += 1;
                    self.record(p.due, p.op, Outcome::Ok);
                    return;
                }
                p.step = Step::Lookup;
                self.enqueue(k, p);
            }
            OpKind::Set | OpKind::Delete => {
                let write_through = pattern.pattern == Pattern::WriteThrough;
                let update = pattern.on_write == OnWrite::Update;
                let app = self.client_app(k);
                if let Some(near) = &mut app.near {
                    near.invalidate(p.key);
                }
                self.clients[k as usize].in_flight += 1;
                if write_through && p.op == OpKind::Set {
                    let app = self.client_app(k);
                    let id = app.next_join;
                    app.next_join += 1;
                    app.joins.insert(id, Join::new(p));
                    let half = Pending {
                        step: Step::Joined(id),
                        ..p
                    };
                    self.clients[k as usize].queue.push_back(half);
                    self.dispatch(k);
                    self.query(k, half, Then::Write(None));
                } else {
                    let step = if p.op == OpKind::Set && update {
                        Step::AfterDb
                    } else {
                        Step::Invalidate
                    };
                    self.query(k, p, Then::Write(Some(step)));
                }
            }
            // Counters, multi-key reads and expiries go to the cache alone:
            // the database model has no counters, pages or TTLs.
            OpKind::Incr | OpKind::Mget | OpKind::Expire => self.enqueue(k, p),
        }
    }

    /// `p` becomes in flight and waits for a connection.
    fn enqueue(&mut self, k: u32, p: Pending) {
        let cl = &mut self.clients[k as usize];
        cl.in_flight += 1;
        cl.queue.push_back(p);
        self.dispatch(k);
    }

    /// Starts a database query for `p`: a write, or the read after a miss.
    fn query(&mut self, k: u32, p: Pending, then: Then) {
        let now = self.now;
        let kind = match then {
            Then::Read => QueryKind::Read,
            Then::Write(_) => QueryKind::Write,
        };
        let patience = match then {
            // Already out of time (it waited for a connection): the app
            // gives up before it queries, so the database never sees it.
            Then::Write(_) if now >= p.deadline => {
                return self.end(k, &p, Outcome::Timeout);
            }
            Then::Write(_) => p.deadline - now,
            // A coalesced read also answers misses that came after `p`,
            // with later deadlines: it waits a whole timeout from now.
            Then::Read if self.sc.app.coalesce => p.deadline.saturating_sub(p.due),
            Then::Read => p.deadline.saturating_sub(now),
        };
        let app = self.app_world();
        let (at, result) = match app.db.query(kind, now, p.due, patience) {
            Ok(done) => (done, Ok(())),
            Err((e, at)) => (at, Err(e)),
        };
        let id = app.next_query;
        app.next_query += 1;
        let q = Query {
            client: k,
            p,
            then,
            result,
        };
        if at <= now {
            // Refused (or a zero-time answer): the app learns so at once.
            return self.query_done(q);
        }
        self.app_world().queries.insert(id, q);
        self.q.push(at, Ev::DbDone(id));
    }

    /// The database query `id` answered or was given up on.
    pub fn db_done(&mut self, id: u64) {
        let q = self
            .app_world()
            .queries
            .remove(&id)
            .expect("a query ends once");
        self.query_done(q);
    }

    fn query_done(&mut self, q: Query) {
        let (k, p, now) = (q.client, q.p, self.now);
        match (q.then, q.result) {
            (Then::Read, r) => self.read_done(k, p, r),
            (Then::Write(Some(step)), Ok(())) => {
                // Back in the queue in deadline order: it has waited for the
                // database since it was due, so it goes ahead of later
                // arrivals, and the queue's front stays its earliest
                // deadline, which `expire_queue` relies on.
                let queue = &mut self.clients[k as usize].queue;
                let at = queue.partition_point(|w| w.deadline <= p.deadline);
                queue.insert(at, Pending { step, ..p });
                self.dispatch(k);
                self.arm(k);
            }
            (Then::Write(None), Ok(())) => self.end(k, &p, Outcome::Ok),
            (Then::Write(_), Err(e)) => self.end(k, &p, e.outcome(p.deadline, now)),
        }
    }

    /// The cache step of `p` ended with `o`: the request ends, or a
    /// cache-aside lookup that missed (or failed) goes on to the database.
    pub fn settle(&mut self, k: u32, p: Pending, o: Outcome<'_>) {
        if p.step != Step::Lookup {
            return self.end(k, &p, o);
        }
        match o {
            Outcome::Ok | Outcome::Stale => {
                let now = self.now;
                if let Some(near) = &mut self.client_app(k).near {
                    near.fill(p.key, now);
                }
                self.end(k, &p, o);
            }
            Outcome::Timeout | Outcome::HeldBack => self.end(k, &p, o),
            // A miss, or a cache that failed (a dead node, no quorum): the
            // database has the value, as in any cache-aside application
            // that treats its cache as optional.
            Outcome::Miss | Outcome::Error(_) => {
                if self.sc.app.coalesce && !self.client_app(k).flights.join(p.key, p) {
                    self.app_world().db.stats.at(p.due).coalesced += 1;
                    return;
                }
                self.query(k, p, Then::Read);
            }
        }
    }

    /// The database read for `p`'s miss is back with `r`: it answers `p`
    /// (and the misses that waited for it) and queues the fill.
    fn read_done(&mut self, k: u32, p: Pending, r: Result<(), DbError>) {
        let now = self.now;
        let answered = if self.sc.app.coalesce {
            self.client_app(k).flights.land(p.key)
        } else {
            vec![p]
        };
        for w in &answered {
            let o = match r {
                _ if now >= w.deadline => Outcome::Timeout,
                Ok(()) => Outcome::Miss,
                Err(e) => e.outcome(w.deadline, now),
            };
            self.end(k, w, o);
        }
        if r.is_err() {
            return;
        }
        let fill_ttl = self.sc.app.fill_ttl;
        let app = self.client_app(k);
        if let Some(near) = &mut app.near {
            near.fill(p.key, now);
        }
        let fill = p.fill(now, app.fill_len, fill_ttl);
        self.clients[k as usize].queue.push_back(fill);
        self.dispatch(k);
        self.arm(k);
    }

    /// One half of write-through SET `id` of client `k` ended with `o`;
    /// the request ends with its second half.
    pub fn join_half(&mut self, k: u32, id: u64, o: Outcome<'_>) {
        let app = self.client_app(k);
        let j = app
            .joins
            .get_mut(&id)
            .expect("a write-through SET's halves end once each");
        if !j.half_ended(o) {
            return;
        }
        let j = app.joins.remove(&id).expect("looked up above");
        self.finish(k, &j.p, j.outcome());
    }
}
