//! `ringlab-node`: one cache node speaking the Redis protocol.
//!
//! See docs/NODE.md for the flags, the cluster file and the commands.

#[cfg(not(madsim))]
mod real {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use anyhow::Context as _;
    use clap::Parser;
    use ringlab_core::store::Policy;
    use ringlab_node::config::{parse_duration, parse_heartbeat, parse_member, parse_memory};
    use ringlab_node::{Member, NodeConfig, NodeEnv, serve};

    /// A ringlab cache node (Redis protocol: RESP2, and RESP3 after HELLO 3).
    #[derive(Debug, Parser)]
    #[command(name = "ringlab-node", version)]
    struct Args {
        /// Cluster file (TOML); flags given here override its settings.
        #[arg(long)]
        cluster_file: Option<PathBuf>,
        /// This node's id (must be among the members).
        #[arg(long)]
        id: Option<u32>,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// A cluster member, ID=IP:PORT[@VNODES]; repeat for each, self included.
        #[arg(long = "member")]
        members: Vec<String>,
        /// Key placement: ring (consistent hashing) or modn (hash mod N).
        #[arg(long)]
        placement: Option<String>,
        /// Replicas per key (clamped to the cluster's size).
        #[arg(long)]
        n: Option<usize>,
        /// Replicas that must answer a read.
        #[arg(long)]
        r: Option<usize>,
        /// Replicas that must acknowledge a write.
        #[arg(long)]
        w: Option<usize>,
        /// How long to wait for a quorum, e.g. 200ms.
        #[arg(long)]
        replica_timeout: Option<String>,
        /// Run anti-entropy (Merkle-tree repair with one peer, round robin)
        /// this often, e.g. 1s; off unless given.
        #[arg(long)]
        anti_entropy_interval: Option<String>,
        /// The most keys one anti-entropy round moves (default 1000).
        #[arg(long)]
        anti_entropy_keys: Option<usize>,
        /// Memory limit, e.g. 256mb (0: none).
        #[arg(long)]
        maxmemory: Option<String>,
        /// Eviction policy: noeviction, allkeys-lru, allkeys-lfu, volatile-ttl,
        /// allkeys-random, volatile-lru.
        #[arg(long)]
        maxmemory_policy: Option<String>,
        /// Require AUTH with this password (peers present it too when no
        /// --cluster-secret is set).
        #[arg(long)]
        requirepass: Option<String>,
        /// The secret peers present to each other (the same on every node);
        /// without it, peers are admitted on member id and address alone.
        #[arg(long)]
        cluster_secret: Option<String>,
        /// On SIGTERM, how long to wait for clients to take their replies
        /// before dropping them and exiting, e.g. 10s.
        #[arg(long)]
        shutdown_timeout: Option<String>,
        /// Maximum client connections.
        #[arg(long)]
        max_clients: Option<usize>,
        /// Close idle client connections after this long, e.g. 300s.
        #[arg(long)]
        idle_timeout: Option<String>,
        /// Seed of the node's RNGs.
        #[arg(long)]
        seed: Option<u64>,
        /// Serve Prometheus metrics on this address.
        #[arg(long)]
        metrics_addr: Option<SocketAddr>,
        /// Ping every peer this often and suspect silent ones (phi accrual),
        /// e.g. 100ms; "off" (the default) disables it.
        #[arg(long)]
        heartbeat_interval: Option<String>,
        /// phi above which a peer is suspected (default 8).
        #[arg(long)]
        phi_threshold: Option<f64>,
        /// Keep writes a replica missed and deliver them when it is back.
        #[arg(long)]
        hinted_handoff: Option<bool>,
        /// Let a stand-in node hold a write for a suspected or unreachable
        /// replica and count towards W (needs --hinted-handoff true).
        #[arg(long)]
        sloppy_quorum: Option<bool>,
        /// Hints kept at most (the oldest drop first; default 10000).
        #[arg(long)]
        handoff_max_hints: Option<usize>,
        /// Pull the keys this node replicates from their holders when it
        /// starts and when a member is removed, forwarding reads of keys not
        /// pulled yet (default false).
        #[arg(long)]
        join_stream: Option<bool>,
        /// Keys per streaming or hand-off batch (default 500).
        #[arg(long)]
        join_stream_keys: Option<usize>,
        /// Pause between two batches from one source, e.g. 10ms (the default).
        #[arg(long)]
        join_stream_interval: Option<String>,
        /// Runtime worker threads. 1 (the default) runs the node on one
        /// thread, as redis-server does: the machine is behind one lock
        /// anyway, and more workers only add cross-thread wake-ups
        /// (docs/PERFORMANCE.md measures both).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    }

    fn config(a: Args) -> anyhow::Result<NodeConfig> {
        let mut c = NodeConfig::default();
        if let Some(p) = &a.cluster_file {
            c.apply_file(p)?;
        }
        if let Some(v) = a.id {
            c.id = v;
        }
        if let Some(v) = a.listen {
            c.listen = v;
        }
        if !a.members.is_empty() {
            c.members = a
                .members
                .iter()
                .map(|m| parse_member(m).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<Member>>>()?;
        }
        if let Some(m) = c.members.iter().find(|m| m.id == c.id)
            && a.listen.is_none()
        {
            // The member list says where this node listens.
            c.listen = m.addr;
        }
        if let Some(v) = &a.placement {
            c.placement = v.parse().context("--placement")?;
        }
        c.n = a.n.unwrap_or(c.n);
        c.r = a.r.unwrap_or(c.r);
        c.w = a.w.unwrap_or(c.w);
        if let Some(v) = &a.replica_timeout {
            c.replica_timeout = parse_duration(v)
                .map_err(anyhow::Error::msg)
                .context("--replica-timeout")?;
        }
        if let Some(v) = &a.anti_entropy_interval {
            c.anti_entropy_interval = Some(
                parse_duration(v)
                    .map_err(anyhow::Error::msg)
                    .context("--anti-entropy-interval")?,
            );
        }
        c.anti_entropy_keys = a.anti_entropy_keys.unwrap_or(c.anti_entropy_keys);
        if let Some(v) = &a.idle_timeout {
            c.idle_timeout = Some(
                parse_duration(v)
                    .map_err(anyhow::Error::msg)
                    .context("--idle-timeout")?,
            );
        }
        if let Some(v) = &a.maxmemory {
            c.maxmemory = parse_memory(v)
                .map_err(anyhow::Error::msg)
                .context("--maxmemory")?;
        }
        if let Some(v) = &a.maxmemory_policy {
            c.policy = v.parse::<Policy>().context("--maxmemory-policy")?;
        }
        if a.requirepass.is_some() {
            c.requirepass = a.requirepass;
        }
        if a.cluster_secret.is_some() {
            c.cluster_secret = a.cluster_secret;
        }
        if let Some(v) = &a.shutdown_timeout {
            c.shutdown_timeout = parse_duration(v)
                .map_err(anyhow::Error::msg)
                .context("--shutdown-timeout")?;
        }
        c.max_clients = a.max_clients.unwrap_or(c.max_clients);
        c.seed = a.seed.unwrap_or(c.seed);
        if a.metrics_addr.is_some() {
            c.metrics_addr = a.metrics_addr;
        }
        if let Some(v) = &a.heartbeat_interval {
            c.heartbeat_interval = parse_heartbeat(v)
                .map_err(anyhow::Error::msg)
                .context("--heartbeat-interval")?;
        }
        c.phi_threshold = a.phi_threshold.unwrap_or(c.phi_threshold);
        c.hinted_handoff = a.hinted_handoff.unwrap_or(c.hinted_handoff);
        c.sloppy_quorum = a.sloppy_quorum.unwrap_or(c.sloppy_quorum);
        c.handoff_max_hints = a.handoff_max_hints.unwrap_or(c.handoff_max_hints);
        c.join_stream = a.join_stream.unwrap_or(c.join_stream);
        c.join_stream_keys = a.join_stream_keys.unwrap_or(c.join_stream_keys);
        if let Some(v) = &a.join_stream_interval {
            c.join_stream_interval = parse_duration(v)
                .map_err(anyhow::Error::msg)
                .context("--join-stream-interval")?;
        }
        c.validate()?;
        Ok(c)
    }

    async fn shutdown_signal() {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        return;
                    }
                };
            tokio::select! {
                biased;
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }

    pub fn main() -> anyhow::Result<()> {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with_writer(std::io::stderr)
            .init();
        let args = Args::parse();
        let rt = match args.threads {
            0 => anyhow::bail!("--threads must be at least 1"),
            1 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            n => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build(),
        }
        .context("starting the runtime")?;
        let cfg = config(args)?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding {}", cfg.listen))?;
            tracing::info!(addr = %listener.local_addr()?, "listening");
            serve(cfg, listener, NodeEnv::real(), shutdown_signal()).await
        })
    }
}

#[cfg(not(madsim))]
fn main() -> anyhow::Result<()> {
    real::main()
}

#[cfg(madsim)]
fn main() {
    eprintln!(
        "ringlab-node runs on real tokio; under --cfg madsim the simulator embeds the node instead"
    );
    std::process::exit(2);
}
