//! The harness: one madsim runtime per seed, running the real node code on
//! simulated machines, the load generator's driver on simulated client
//! machines, and the scenario's fault timeline at its times.
//!
//! Only compiled with `--cfg madsim`.
//!
//! Addresses: cluster node `node-i` (1-based) is `10.0.0.i:6379`; client
//! machine `client-k` is `10.1.0.k`. Clients reach every node; partitions and
//! cut links apply between cluster nodes only (the clients stand for the
//! application servers, which in the classic layout sit beside the cache).
//!
//! With an `[app]` pattern other than direct, the harness creates one
//! [`Database`] (seeded from the run's seed) and hands it to every client's
//! driver, as one database serves every application server; its per-window
//! counters become the record's `db.*` / `near.*` series.
//!
//! Joins: a node named by a `join` fault is not started, not a member and
//! not a client target until its time. Then the harness publishes the new
//! member list on a watch channel and starts the node with that full list;
//! every running node's watcher task (spawned only in scenarios with joins,
//! so others schedule exactly as before) adds it with `Node::add_member` at
//! that same model instant. Clients keep targeting the nodes of the start.
//! A node that is down at a join learns the list when it restarts.
//!
//! Time: everything runs on one [`Clock`] scaled by the scenario's
//! `time_scale` (see `ringlab_node::clock`), created once inside the runtime
//! and copied to every node and client, so all agree on model time.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use ringlab_core::ring::NodeId;
use ringlab_core::store::Policy;
use ringlab_loadgen::database::Database;
use ringlab_loadgen::driver::cli::DATABASE_SEED;
use ringlab_loadgen::driver::{self, AppConfig, Driver, DriverConfig};
use ringlab_loadgen::recorder::{RunMeta, RunRecord};
use ringlab_loadgen::scenario::{FaultAction, LatencyDist, Scenario, node_name};
use ringlab_loadgen::stale::WriteOracle;
use ringlab_node::clock::{Clock, Micros, Skew};
use ringlab_node::{Member, NodeConfig, NodeEnv};
use tokio::sync::{Notify, watch};

use crate::capacity::{CapacitySpec, Knobs, NodeStats, SimHooks};
use crate::events::{events_of, join_labels};
use hdrhistogram::Histogram;

use crate::node_series::node_series;

/// Model time at the start of every simulation: 2026-01-01T00:00:00Z. Fixed,
/// so that report files do not depend on madsim's seed-dependent start date.
pub const ORIGIN_US: Micros = 1_767_225_600_000_000;

/// The port every simulated node listens on.
pub const NODE_PORT: u16 = 6379;

/// Model time the cluster gets to start listening before clients start.
const SETTLE: Duration = Duration::from_millis(1);

pub fn node_ip(i: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8))
}

pub fn client_ip(k: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (k >> 8) as u8, k as u8))
}

/// What the harness reports besides the record: the run's size and cost.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    pub record: RunRecord,
    /// Client requests scheduled in the whole run.
    pub requests: u64,
}

/// Runs `scenario` with `seed` on a fresh thread (madsim seeds std's
/// HashMap hashing per thread; a fresh thread keeps that deterministic) and
/// returns what the clients recorded. `progress` receives the model seconds
/// elapsed, about once per model second.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    progress: Option<std::sync::mpsc::Sender<f64>>,
) -> Result<SimOutcome> {
    let scenario = scenario.clone();
    std::thread::Builder::new()
        .name(format!("sim-seed-{seed}"))
        .spawn(move || run_here(scenario, seed, progress))
        .context("spawning the simulation thread")?
        .join()
        .map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            anyhow::anyhow!("the simulation panicked: {msg}")
        })?
}

fn run_here(
    scenario: Scenario,
    seed: u64,
    progress: Option<std::sync::mpsc::Sender<f64>>,
) -> Result<SimOutcome> {
    let scale = scenario.time_scale;
    let mut config = madsim::Config::default();
    config.net.send_latency = madsim_latency(&scenario.network.latency, scale);
    // madsim would retry a lost packet after 1 ms of its time, like one on
    // a clogged link; the streams model TCP's retransmission instead
    // (ringlab_node::lossy). Clogged links keep madsim's retry.
    config.net.packet_loss_rate = 0.0;
    ringlab_node::lossy::install(
        scenario.network.loss,
        scenario.network.rto.saturating_mul(scale),
        ringlab_loadgen::scenario::RTO_MAX.saturating_mul(scale),
        seed,
    );
    let mut rt = Runtime::with_seed_and_config(seed, config);
    // A safety net against a hung simulation: twice the scripted run, in the
    // runtime's (scaled) time, plus a margin.
    let total = scenario.phases.iter().map(|p| p.duration).sum::<Duration>();
    rt.set_time_limit((total * 2 + Duration::from_secs(10)).saturating_mul(scale));
    let outcome = rt.block_on(supervise(scenario, seed, progress));
    ringlab_node::lossy::uninstall();
    Ok(outcome)
}

/// madsim's global latency is a uniform range; distributions it cannot
/// express are approximated by their central range (documented in the
/// scenario reference).
fn madsim_latency(lat: &LatencyDist, scale: u32) -> std::ops::Range<Duration> {
    let (lo, hi) = match *lat {
        LatencyDist::Fixed(d) => (d, d),
        LatencyDist::BaseJitter { base, jitter } => (base, base + jitter),
        LatencyDist::Uniform { min, max } => (min, max),
        LatencyDist::LogNormal { median, sigma } => {
            let spread = sigma.exp();
            (median.div_f64(spread), median.mul_f64(spread))
        }
    };
    // madsim samples from a half-open range: keep it non-empty.
    let lo = lo.saturating_mul(scale);
    let hi = hi.saturating_mul(scale).max(lo + Duration::from_nanos(1));
    lo..hi
}

/// What every simulated cluster node is started from, at the start or when
/// it joins.
struct NodeFactory<'a> {
    /// The runtime, to create machines.
    handle: &'a Handle,
    /// The scenario (capacity, network, cluster settings).
    scenario: &'a Scenario,
    /// The run's seed, mixed into each node's.
    seed: u64,
    /// The one model clock.
    clock: Clock,
    /// The eviction policy.
    policy: Policy,
    /// The members now: a restarted node starts with them, and (when the
    /// scenario has joins) every node watches them to add newcomers.
    members: watch::Receiver<Vec<Member>>,
    /// Whether members change during the run. Without joins no watcher
    /// task is spawned, so scenarios without joins schedule exactly as
    /// before joins existed.
    dynamic: bool,
    /// When the scenario asks for node series: the model time the report's
    /// windows start from (each node's knobs then keep per-window figures).
    stats_origin: Option<Micros>,
}

impl NodeFactory<'_> {
    /// Creates and starts the machine of `member`. `init` runs again on
    /// every restart: each incarnation gets fresh hooks (an empty queue), a
    /// seed of its own and the member list of that moment.
    fn start(&self, member: &Member) -> (NodeHandle, Arc<Knobs>) {
        self.start_signalled(member).0
    }

    /// Starts `member` as [`start`](Self::start) does; the `Notify` gets a
    /// permit each time the node has bound its listening socket (so a
    /// joining node can be announced only once peers can connect to it).
    fn start_signalled(&self, member: &Member) -> ((NodeHandle, Arc<Knobs>), Arc<Notify>) {
        let bound = Arc::new(Notify::new());
        let node_bound = bound.clone();
        let me = member.clone();
        let scenario = self.scenario;
        let cluster = &scenario.cluster;
        let node_count = cluster.nodes;
        let id = member.id;
        let name = node_name(id);
        let mut knobs = Knobs::new(node_count);
        if let Some(origin) = self.stats_origin {
            knobs = knobs.with_stats(NodeStats::new(origin, scenario.window));
        }
        let skewed = scenario
            .faults
            .iter()
            .any(|f| matches!(&f.action, FaultAction::Skew { node, .. } if *node == name));
        if skewed {
            knobs = knobs.with_skew();
        }
        let knobs = Arc::new(knobs);
        for peer in 1..=node_count {
            knobs.set_peer_delay(peer, scenario.network.extra(&name, &node_name(peer)));
        }
        knobs.set_client_delay(scenario.network.client_extra(&name));
        let capacity = scenario.capacity_of(&name);
        let spec = CapacitySpec {
            cores: capacity.cores as usize,
            op_cost: capacity.op_cost,
            per_kb_cost: capacity.per_kb_cost,
            queue_limit: capacity.queue_limit as usize,
        };
        let cfg = NodeConfig {
            id,
            listen: member.addr,
            members: Vec::new(),
            placement: cluster.placement,
            n: cluster.replication.n as usize,
            r: cluster.replication.r as usize,
            w: cluster.replication.w as usize,
            replica_timeout: cluster.replica_timeout,
            anti_entropy_interval: cluster.anti_entropy_interval,
            anti_entropy_keys: cluster.anti_entropy_keys,
            maxmemory: cluster.maxmemory,
            policy: self.policy,
            heartbeat_interval: cluster.heartbeat_interval,
            phi_threshold: cluster.phi_threshold,
            hinted_handoff: cluster.hinted_handoff,
            sloppy_quorum: cluster.sloppy_quorum,
            handoff_max_hints: cluster.handoff_max_hints,
            join_stream: cluster.join_stream,
            join_stream_keys: cluster.join_stream_keys,
            join_stream_interval: cluster.join_stream_interval,
            seed: self.seed ^ u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ..NodeConfig::default()
        };
        let incarnation = Arc::new(AtomicU64::new(0));
        let node_knobs = knobs.clone();
        let clock = self.clock;
        // The node reads its own clock (skewed or not); its hooks (cores,
        // network delays) run on model time.
        let node_clock = knobs.skew.map_or(clock, |s| clock.skewed(s));
        let members = self.members.clone();
        let dynamic = self.dynamic;
        let machine = self
            .handle
            .create_node()
            .name(name.clone())
            .ip(member.addr.ip())
            .cores(spec.cores)
            .init(move || {
                let inc = incarnation.fetch_add(1, Ordering::Relaxed);
                let mut cfg = cfg.clone();
                cfg.seed = cfg.seed.wrapping_add(inc);
                cfg.members = members.borrow().clone();
                // A joining node starts before it is announced: it is in
                // its own list from the start.
                if !cfg.members.iter().any(|m| m.id == me.id) {
                    cfg.members.push(me.clone());
                }
                let node_bound = node_bound.clone();
                let hooks = Arc::new(SimHooks::new(
                    clock,
                    spec.clone(),
                    node_knobs.clone(),
                    cfg.seed ^ 0xC0FF_EE00,
                ));
                let members = members.clone();
                let live_knobs = node_knobs.clone();
                async move {
                    let listener = tokio::net::TcpListener::bind(cfg.listen)
                        .await
                        .expect("a simulated node's address is free");
                    node_bound.notify_one();
                    let env = NodeEnv {
                        clock: node_clock,
                        hooks,
                    };
                    let started = move |node: Arc<ringlab_node::state::Node>| {
                        live_knobs.set_live(Some(node.clone()));
                        if dynamic {
                            tokio::spawn(watch_members(node, members));
                        }
                    };
                    if let Err(e) = ringlab_node::serve_with(
                        cfg,
                        listener,
                        env,
                        std::future::pending(),
                        started,
                    )
                    .await
                    {
                        tracing::error!("simulated node stopped: {e:#}");
                    }
                }
            })
            .build();
        ((machine, knobs), bound)
    }
}

/// One node's per-window histogram of time at the node and core time
/// (`node_series::NodeWindows`).
type Windows = Vec<(Histogram<u64>, u64)>;

/// Each started node's per-window stats (nodes that never ran have none).
fn node_windows(nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>) -> Vec<(String, Windows)> {
    nodes
        .iter()
        .filter_map(|(name, (_, knobs))| {
            let stats = knobs.stats.as_ref()?;
            let stats = stats.lock().unwrap_or_else(|e| e.into_inner());
            Some((name.clone(), stats.windows().to_vec()))
        })
        .collect()
}

/// Adds every member the harness announces that the node does not have yet
/// (runs on the node's machine, so its peer connections do too).
async fn watch_members(
    node: Arc<ringlab_node::state::Node>,
    mut members: watch::Receiver<Vec<Member>>,
) {
    loop {
        let list = members.borrow_and_update().clone();
        for m in list {
            if !node.is_member(m.id)
                && let Err(e) = node.add_member(m)
            {
                panic!("the harness announced an impossible member: {e}");
            }
        }
        if members.changed().await.is_err() {
            return;
        }
    }
}

/// The cluster's machines: every node the scenario names, and which of them
/// are members from the start.
struct Cast {
    /// Every node, joining ones included, by id.
    all: Vec<Member>,
    /// The members of the start: `all` minus the joining nodes.
    members: Vec<Member>,
    /// Nodes that join later: not members (nor started, nor targeted by
    /// clients) until their `join` fault.
    joining: Vec<String>,
}

impl Cast {
    fn of(scenario: &Scenario) -> Self {
        let cluster = &scenario.cluster;
        let all: Vec<Member> = (1..=cluster.nodes)
            .map(|i| Member {
                id: i,
                addr: SocketAddr::new(node_ip(i), NODE_PORT),
                vnodes: cluster.vnodes_of(&node_name(i)),
            })
            .collect();
        let joining = scenario.joining_nodes();
        let members = all
            .iter()
            .filter(|m| !joining.contains(&node_name(m.id)))
            .cloned()
            .collect();
        Self {
            all,
            members,
            joining,
        }
    }
}

/// A client machine's driver task: its record, or why its phases were
/// refused.
type ClientTask = madsim::task::JoinHandle<Result<RunRecord, driver::DriverError>>;

/// Starts one machine per client of the busiest phase, each driving its
/// share of the load against the members of the start.
fn start_clients(
    handle: &Handle,
    scenario: &Scenario,
    seed: u64,
    clock: Clock,
    members: &[Member],
    app: &Option<AppConfig>,
    oracle: &WriteOracle,
) -> Vec<ClientTask> {
    let phases = scenario.phases.clone();
    let clients = phases.iter().map(|p| p.clients).max().unwrap_or(1).max(1);
    let meta = RunMeta {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        seed: Some(seed),
        source: "sim".into(),
        window: scenario.window,
    };
    // Clients keep the members of the start (an application's list of cache
    // servers is static); a node that joins gets its keys by forwarding.
    let targets: Vec<SocketAddr> = members.iter().map(|m| m.addr).collect();
    let mut joins = Vec::new();
    for k in 0..clients {
        let cfg = DriverConfig {
            targets: targets.clone(),
            phases: phases.clone(),
            client_index: k,
            client_count: clients,
            window: scenario.window,
            pipeline: 1,
            seed: seed.wrapping_mul(31).wrapping_add(u64::from(k) + 1),
            key_prefix: String::new(),
            app: app.clone(),
            password: None,
        };
        let node = handle
            .create_node()
            .name(format!("client-{k}"))
            .ip(client_ip(k + 1))
            .build();
        let meta = meta.clone();
        let oracle = oracle.clone();
        joins.push(node.spawn(async move {
            let driver = Driver::new(cfg, clock, meta)?.with_oracle(oracle);
            Ok::<_, driver::DriverError>(driver.run(std::future::pending()).await)
        }));
    }
    joins
}

/// The fault timeline of a run that started at `start`.
struct Timeline<'a> {
    handle: &'a Handle,
    scenario: &'a Scenario,
    clock: Clock,
    /// Model time of the run's start (the clients' first instant).
    start: Micros,
    /// Receives the model seconds elapsed, about once per model second.
    progress: Option<&'a std::sync::mpsc::Sender<f64>>,
}

impl Timeline<'_> {
    /// Applies `faults` (sorted by time) at their times, with progress
    /// reports in between, until the run's end.
    async fn play(
        &self,
        faults: &[ringlab_loadgen::scenario::Fault],
        factory: &NodeFactory<'_>,
        nodes: &mut BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
        all: &[Member],
        members_tx: &watch::Sender<Vec<Member>>,
    ) {
        let net = NetSim::current();
        let total = self.scenario.duration();
        let mut fi = 0;
        let mut tick = Duration::ZERO;
        loop {
            match faults.get(fi) {
                Some(fault) if fault.at <= tick => {
                    self.clock.sleep_until(self.start + micros(fault.at)).await;
                    if let FaultAction::Join(name) = &fault.action {
                        let member = all
                            .iter()
                            .find(|m| node_name(m.id) == *name)
                            .expect("a join names a node of the cluster");
                        join(factory, nodes, member, members_tx).await;
                    } else if let FaultAction::Skew {
                        node,
                        offset_us,
                        drift_ppm,
                    } = &fault.action
                    {
                        // From the fault's model instant, as the fast engine.
                        let skew = Skew {
                            offset_us: *offset_us,
                            drift_ppm: *drift_ppm,
                            since: self.start + micros(fault.at),
                        };
                        if let Some(h) = nodes.get(node).and_then(|(_, k)| k.skew) {
                            h.set(skew);
                        }
                    } else if let FaultAction::Leave(name) | FaultAction::Remove(name) =
                        &fault.action
                    {
                        depart(nodes, name, &fault.action, members_tx);
                    } else {
                        apply_fault(self.handle, &net, nodes, &fault.action, self.scenario);
                    }
                    fi += 1;
                }
                _ if tick <= total => {
                    self.clock.sleep_until(self.start + micros(tick)).await;
                    if let Some(tx) = self.progress {
                        let _ = tx.send(tick.as_secs_f64());
                    }
                    tick += Duration::from_secs(1);
                }
                _ => break,
            }
        }
    }
}

/// Starts a joining node. The newcomer starts with the full list; once it
/// listens (at this same model instant), every running node learns of it
/// (their watchers wake without a delay), so no peer connects before it can
/// accept.
async fn join(
    factory: &NodeFactory<'_>,
    nodes: &mut BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
    member: &Member,
    members_tx: &watch::Sender<Vec<Member>>,
) {
    let (node, bound) = factory.start_signalled(member);
    nodes.insert(node_name(member.id), node);
    bound.notified().await;
    members_tx.send_modify(|list| list.push(member.clone()));
}

/// A leave or a removal of `name`. The member list restarted nodes start
/// from loses it at once (watchers only add members, so this moves no
/// running node). A leave runs `CLUSTER LEAVE` on the node: its hand-off
/// and its `RL.FORGET`s travel the simulated network. A removal makes every
/// running node forget it at this instant.
fn depart(
    nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
    name: &str,
    action: &FaultAction,
    members_tx: &watch::Sender<Vec<Member>>,
) {
    members_tx.send_modify(|list| list.retain(|m| node_name(m.id) != name));
    let Some(id) = nodes.get(name).and_then(|(_, k)| k.live()).map(|n| n.id) else {
        if let FaultAction::Remove(_) = action {
            // The usual case: the removed node is dead.
            let id = name
                .strip_prefix("node-")
                .and_then(|s| s.parse::<NodeId>().ok())
                .expect("the scenario reader checks node names");
            forget_everywhere(nodes, name, id);
        }
        return;
    };
    match action {
        FaultAction::Leave(_) => {
            if let Some(node) = nodes.get(name).and_then(|(_, k)| k.live()) {
                // Refused only when it already leaves or is alone.
                let _ = node.with_machine(|m, now| m.leave(now));
            }
        }
        _ => forget_everywhere(nodes, name, id),
    }
}

/// Every running node but `name` forgets member `id`.
fn forget_everywhere(nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>, name: &str, id: NodeId) {
    for (other, (_, knobs)) in nodes {
        if other != name
            && let Some(node) = knobs.live()
        {
            // Not a member there any more: nothing to do.
            let _ = node.with_machine(|m, now| m.remove_member(now, id));
        }
    }
}

/// The end-of-run verdict on lost acknowledged writes, from the running
/// nodes' stores at `now`.
fn durability(
    sc: &Scenario,
    oracle: &WriteOracle,
    nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
    now: Micros,
) -> ringlab_loadgen::durability::Durability {
    let live: Vec<_> = nodes.values().filter_map(|(_, k)| k.live()).collect();
    let evicted = live
        .iter()
        .any(|n| n.inspect(|m| m.store().stats().evictions > 0));
    crate::durability::verdict(sc, oracle, evicted, |key| {
        live.iter()
            .filter_map(|n| n.inspect(|m| m.store().peek_versioned(key, now).cloned()))
            .collect()
    })
}

/// The clients' records merged into the run's.
async fn merge_records(clients: Vec<ClientTask>) -> RunRecord {
    let mut record: Option<RunRecord> = None;
    for j in clients {
        let r = j
            .await
            .expect("a client task ran to completion")
            .expect("the scenario's phases are valid for the driver");
        match &mut record {
            None => record = Some(r),
            Some(acc) => acc
                .merge(&r)
                .expect("client records of one run share windows and phases"),
        }
    }
    record.expect("at least one client")
}

/// One run: starts the nodes, lets them settle, starts the clients, plays
/// the fault timeline, then gathers the clients' records. The steps below
/// keep the order of every spawn and every seeded choice: that order is the
/// run's determinism.
async fn supervise(
    scenario: Scenario,
    seed: u64,
    progress: Option<std::sync::mpsc::Sender<f64>>,
) -> SimOutcome {
    let handle = Handle::current();
    let clock = Clock::scaled(scenario.time_scale, ORIGIN_US);
    let cast = Cast::of(&scenario);
    let policy: Policy = scenario
        .cluster
        .eviction
        .as_str()
        .parse()
        .expect("the scenario's eviction names are the store's policies");
    let (members_tx, members_rx) = watch::channel(cast.members.clone());
    let factory = NodeFactory {
        handle: &handle,
        scenario: &scenario,
        seed,
        clock,
        policy,
        members: members_rx,
        dynamic: !cast.joining.is_empty(),
        // The clients start once the nodes have settled (see `start` below).
        stats_origin: scenario.node_series.then(|| clock.now() + micros(SETTLE)),
    };

    let mut nodes: BTreeMap<String, (NodeHandle, Arc<Knobs>)> = BTreeMap::new();
    for member in &cast.members {
        nodes.insert(node_name(member.id), factory.start(member));
    }
    clock.sleep(SETTLE).await;

    // Client machines, all starting at the same model instant.
    let start = clock.now();
    debug_assert!(factory.stats_origin.is_none_or(|o| o == start));
    // One database for every client machine, as one database serves every
    // application server.
    let app = scenario.database.clone().map(|spec| AppConfig {
        app: scenario.app.clone(),
        database: Database::new(spec, seed ^ DATABASE_SEED, clock, scenario.window),
    });
    // One oracle for every client machine: a read on one client must see a
    // write another acknowledged before (the clients stand for application
    // servers of one service). The simulation runs on one thread, so the
    // oracle's lock is never contended.
    let oracle = WriteOracle::new(seed);
    let clients = start_clients(
        &handle,
        &scenario,
        seed,
        clock,
        &cast.members,
        &app,
        &oracle,
    );

    let mut faults = scenario.faults.clone();
    faults.sort_by_key(|f| f.at); // stable: same-time faults keep file order
    let timeline = Timeline {
        handle: &handle,
        scenario: &scenario,
        clock,
        start,
        progress: progress.as_ref(),
    };
    timeline
        .play(&faults, &factory, &mut nodes, &cast.all, &members_tx)
        .await;

    let mut record = merge_records(clients).await;
    record.durability = Some(durability(&scenario, &oracle, &nodes, clock.now()));
    record.events = events_of(&faults, &join_labels(&scenario, &faults));
    if scenario.node_series {
        record.series.extend(node_series(
            &scenario,
            node_windows(&nodes),
            record.windows.len(),
        ));
    }
    if let Some(a) = &app {
        record.series.extend(a.database.series(
            record.windows.len(),
            a.app.coalesce,
            a.app.near_cache.is_some(),
        ));
    }
    let requests = record
        .windows
        .iter()
        .flat_map(|w| w.ops.values())
        .map(|o| o.counts.scheduled())
        .sum();
    SimOutcome { record, requests }
}

fn node_id(nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>, name: &str) -> madsim::task::NodeId {
    nodes[name].0.id()
}

/// Clogs or unclogs every link between two groups, skipping nodes not
/// started yet (a node that joins later sits in a partition's implied rest
/// group; validation keeps partitions from naming it before it joins).
fn set_links(
    net: &NetSim,
    nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
    a_group: &[String],
    b_group: &[String],
    clog: bool,
) {
    for a in a_group.iter().filter(|a| nodes.contains_key(*a)) {
        for b in b_group.iter().filter(|b| nodes.contains_key(*b)) {
            if clog {
                net.clog_link(node_id(nodes, a), node_id(nodes, b));
            } else {
                net.unclog_link(node_id(nodes, a), node_id(nodes, b));
            }
        }
    }
}

fn apply_fault(
    handle: &Handle,
    net: &NetSim,
    nodes: &BTreeMap<String, (NodeHandle, Arc<Knobs>)>,
    action: &FaultAction,
    scenario: &Scenario,
) {
    match action {
        FaultAction::Kill(n) => {
            handle.kill(node_id(nodes, n));
            nodes[n].1.set_live(None);
        }
        FaultAction::Restart(n) => {
            // Kill first, or the old incarnation's listener stays bound.
            handle.kill(node_id(nodes, n));
            nodes[n].1.set_live(None);
            handle.restart(node_id(nodes, n));
        }
        FaultAction::Partition(groups) => {
            for (gi, a_group) in groups.iter().enumerate() {
                for (gj, b_group) in groups.iter().enumerate() {
                    if gi == gj {
                        continue;
                    }
                    set_links(net, nodes, a_group, b_group, true);
                }
            }
        }
        FaultAction::Heal => {
            let all: Vec<String> = nodes.keys().cloned().collect();
            for a in &all {
                let others: Vec<String> = all.iter().filter(|b| *b != a).cloned().collect();
                set_links(net, nodes, std::slice::from_ref(a), &others, false);
            }
        }
        FaultAction::CutLink { from, to } => {
            net.clog_link(node_id(nodes, from), node_id(nodes, to))
        }
        FaultAction::RestoreLink { from, to } => {
            net.unclog_link(node_id(nodes, from), node_id(nodes, to))
        }
        FaultAction::Slow { node, factor } => nodes[node].1.set_slow_factor(*factor),
        FaultAction::SetLatency(lat) => {
            let range = madsim_latency(lat, scenario.time_scale);
            net.update_config(|c| c.send_latency = range);
        }
        FaultAction::SetLoss(p) => ringlab_node::lossy::set_loss(*p),
        // madsim holds a paused node's tasks (its reads, cores and timers)
        // and runs them on resume; the network keeps delivering to it.
        FaultAction::Pause(n) => handle.pause(node_id(nodes, n)),
        FaultAction::Resume(n) => handle.resume(node_id(nodes, n)),
        FaultAction::Join(_) | FaultAction::Leave(_) | FaultAction::Remove(_) => {
            unreachable!("the supervisor changes the membership itself")
        }
        FaultAction::Skew { .. } => unreachable!("the timeline sets skews itself"),
    }
}

fn micros(d: Duration) -> Micros {
    d.as_micros() as Micros
}
