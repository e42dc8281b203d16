//! A node's configuration: the embedding API's [`NodeConfig`], the cluster
//! file (TOML) it can be read from, and the size and duration syntax shared
//! by the file, the command line and `CONFIG SET`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::protocol::resp::Limits;
use crate::replication::{Quorum, QuorumError};
use crate::ring::{DEFAULT_VNODES, NodeId, PlacementKind, validate_vnodes};
use crate::store::Policy;

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's node id (unique in the cluster).
    pub id: NodeId,
    /// Where it listens for clients and peers.
    pub addr: SocketAddr,
    /// Its virtual nodes on the ring (more takes a larger share of keys).
    pub vnodes: u32,
}

/// Everything a node needs to run. All durations are model time.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id; must be among `members` (when any are given).
    pub id: NodeId,
    /// The address to listen on (informational for `serve`, which takes a
    /// bound listener). Loopback by default.
    pub listen: SocketAddr,
    /// The cluster, this node included. Empty: a one-node cluster of itself.
    pub members: Vec<Member>,
    /// How keys are placed on members: the ring, or `hash mod N` (for the
    /// lesson on what a membership change moves).
    pub placement: PlacementKind,
    /// Replicas per key (clamped to the cluster's size).
    pub n: usize,
    /// Replicas that must answer a read (clamped to N).
    pub r: usize,
    /// Replicas that must acknowledge a write (clamped to N).
    pub w: usize,
    /// How long a coordinator waits for its quorum.
    pub replica_timeout: Duration,
    /// Memory limit in bytes for the whole node (0: none).
    pub maxmemory: u64,
    /// What to evict when over `maxmemory`.
    pub policy: Policy,
    /// When set, clients must AUTH first.
    pub requirepass: Option<String>,
    /// The secret peers present in RL.HELLO; without it a connection cannot
    /// become a peer's (see [`NodeConfig::peer_secret`]).
    pub cluster_secret: Option<String>,
    /// Client connections beyond this are refused.
    pub max_clients: usize,
    /// Close client connections idle for this long (None: never).
    pub idle_timeout: Option<Duration>,
    /// Seeds the node's RNGs (eviction and expiry sampling).
    pub seed: u64,
    /// Upper bound on one command's execution, quorum waits included.
    pub command_timeout: Duration,
    /// Connections to each peer; requests are spread over them.
    pub peer_connections: usize,
    /// First reconnect delay after a peer connection fails (doubles up to
    /// `peer_backoff_max`).
    pub peer_backoff_min: Duration,
    /// Longest reconnect delay.
    pub peer_backoff_max: Duration,
    /// With R=1 on a coordinator that is itself a replica, the read is
    /// answered locally; every this many such reads also ask the other
    /// replicas, for read repair (1: every read does).
    pub read_repair_every: u32,
    /// How long a delete's tombstone outlives the delete.
    pub tombstone_grace: Duration,
    /// Period of the active expiry task.
    pub expire_interval: Duration,
    /// Keys sampled per shard per active expiry tick.
    pub expire_work: usize,
    /// RESP parser limits for clients and peers.
    pub limits: Limits,
    /// Serve Prometheus metrics on this address (None: no metrics listener).
    pub metrics_addr: Option<SocketAddr>,
    /// How long a graceful shutdown waits for connections to take their
    /// replies; then the unread replies are dropped and the node stops.
    pub shutdown_timeout: Duration,
    /// Ping every peer this often and judge it with the phi-accrual
    /// detector (see [`crate::machine::liveness`]); None: no heartbeats,
    /// no suspicion.
    pub heartbeat_interval: Option<Duration>,
    /// phi above this suspects a peer (8: one chance in 10^8 that it is
    /// only late).
    pub phi_threshold: f64,
    /// Keep the writes a replica missed and deliver them when it is back
    /// (see [`crate::machine::handoff`]).
    pub hinted_handoff: bool,
    /// Sloppy quorum: a write whose replica is suspected or unreachable
    /// asks the next healthy node on the ring to hold it as a hint for
    /// that replica, and the stand-in's ack counts towards W (see
    /// [`crate::machine::sloppy`]). Needs `hinted_handoff`.
    pub sloppy_quorum: bool,
    /// Hints kept at most; beyond it the oldest is dropped (and counted).
    pub handoff_max_hints: usize,
    /// How often anti-entropy compares this node's keys with one peer's
    /// (round robin) and repairs the difference; None: never (the default).
    pub anti_entropy_interval: Option<Duration>,
    /// The most keys one anti-entropy round moves, both ways together.
    pub anti_entropy_keys: usize,
    /// At start (a join or a restart) and when a member is removed, pull
    /// the keys this node replicates from their previous owners, and
    /// forward reads of keys not pulled yet (see
    /// [`crate::machine::stream`]). Off by default.
    pub join_stream: bool,
    /// Keys one streaming batch carries at most.
    pub join_stream_keys: usize,
    /// The pause between two batches from one source.
    pub join_stream_interval: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            id: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 6379)),
            members: Vec::new(),
            placement: PlacementKind::Ring,
            n: 3,
            r: 2,
            w: 2,
            replica_timeout: Duration::from_millis(200),
            maxmemory: 0,
            policy: Policy::NoEviction,
            requirepass: None,
            cluster_secret: None,
            max_clients: 10_000,
            idle_timeout: None,
            seed: 0,
            command_timeout: Duration::from_secs(5),
            peer_connections: 2,
            peer_backoff_min: Duration::from_millis(10),
            peer_backoff_max: Duration::from_secs(1),
            read_repair_every: 10,
            tombstone_grace: Duration::from_secs(60),
            expire_interval: Duration::from_millis(100),
            expire_work: 20,
            limits: Limits::default(),
            metrics_addr: None,
            shutdown_timeout: Duration::from_secs(10),
            heartbeat_interval: None,
            phi_threshold: 8.0,
            hinted_handoff: false,
            sloppy_quorum: false,
            handoff_max_hints: 10_000,
            anti_entropy_interval: None,
            anti_entropy_keys: 1000,
            join_stream: false,
            join_stream_keys: 500,
            join_stream_interval: Duration::from_millis(10),
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The node's own id is not among the members.
    #[error("node id {id} is not in the member list (members: {members:?}); expected one of them")]
    NotAMember {
        /// This node's id.
        id: NodeId,
        /// The ids that are members.
        members: Vec<NodeId>,
    },
    /// Two members share an id.
    #[error("member id {0} appears twice in the member list; expected unique ids")]
    DuplicateMember(NodeId),
    /// A member has no virtual nodes.
    #[error("member {0} has 0 vnodes; expected at least 1")]
    ZeroVnodes(NodeId),
    /// N, R or W is unusable.
    #[error("{0}")]
    Quorum(#[from] QuorumError),
    /// A setting has a bad value.
    #[error("{name}: {msg}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What was wrong and what was expected.
        msg: String,
    },
    /// The cluster file could not be read.
    #[error("cluster file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The cluster file is not valid TOML for this schema.
    #[error("cluster file {path}: {msg}")]
    File {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        msg: String,
    },
}

impl NodeConfig {
    /// The secret peers must present in RL.HELLO (and this node presents to
    /// them): the cluster secret, or, when none is set, `requirepass`, so a
    /// password-protected cluster configured before the cluster secret
    /// existed keeps working and keeps requiring a secret. None: peers are
    /// admitted on membership and address alone.
    pub fn peer_secret(&self) -> Option<&str> {
        self.cluster_secret
            .as_deref()
            .or(self.requirepass.as_deref())
    }

    /// The member list in effect: `members`, or this node alone.
    pub fn effective_members(&self) -> Vec<Member> {
        if self.members.is_empty() {
            vec![Member {
                id: self.id,
                addr: self.listen,
                vnodes: DEFAULT_VNODES,
            }]
        } else {
            self.members.clone()
        }
    }

    /// Checks the configuration and returns the clamped quorum.
    pub fn validate(&self) -> Result<Quorum, ConfigError> {
        let members = self.effective_members();
        let mut ids: Vec<NodeId> = members.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateMember(w[0]));
        }
        if !ids.contains(&self.id) {
            return Err(ConfigError::NotAMember {
                id: self.id,
                members: ids,
            });
        }
        for m in &members {
            if m.vnodes == 0 {
                return Err(ConfigError::ZeroVnodes(m.id));
            }
            if let Err(e) = validate_vnodes(u64::from(m.vnodes)) {
                return Err(ConfigError::Invalid {
                    name: "vnodes",
                    msg: format!("member {}: {e}", m.id),
                });
            }
        }
        for (name, v) in [
            ("max_clients", self.max_clients),
            ("peer_connections", self.peer_connections),
            ("read_repair_every", self.read_repair_every as usize),
            ("anti_entropy_keys", self.anti_entropy_keys),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    msg: "must be at least 1, got 0".into(),
                });
            }
        }
        for (name, d) in [
            ("replica_timeout", self.replica_timeout),
            ("command_timeout", self.command_timeout),
            ("expire_interval", self.expire_interval),
            (
                "anti_entropy_interval",
                self.anti_entropy_interval.unwrap_or(Duration::MAX),
            ),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Invalid {
                    name,
                    msg: "must be longer than zero".into(),
                });
            }
        }
        self.validate_liveness()?;
        Ok(Quorum::clamped(self.n, self.r, self.w, members.len())?)
    }

    /// Checks the failure detector's and hinted handoff's settings.
    fn validate_liveness(&self) -> Result<(), ConfigError> {
        let bad = |name, msg: &str| ConfigError::Invalid {
            name,
            msg: msg.into(),
        };
        if self.heartbeat_interval.is_some_and(|d| d.is_zero()) {
            return Err(bad("heartbeat_interval", "must be longer than zero"));
        }
        if !(self.phi_threshold.is_finite() && self.phi_threshold > 0.0) {
            return Err(bad("phi_threshold", "must be a number above 0, like 8"));
        }
        if self.handoff_max_hints == 0 {
            return Err(bad("handoff_max_hints", "must be at least 1, got 0"));
        }
        if self.sloppy_quorum && !self.hinted_handoff {
            return Err(bad(
                "sloppy_quorum",
                "needs hinted_handoff: a stand-in keeps the write as a hint for its owner",
            ));
        }
        if self.join_stream_keys == 0 {
            return Err(bad("join_stream_keys", "must be at least 1, got 0"));
        }
        Ok(())
    }
}

/// Parses a memory size like Redis: a plain byte count, or a number with
/// `k`/`m`/`g` (powers of 1000) or `kb`/`mb`/`gb` (powers of 1024), any case.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    crate::units::parse_size(s).map_err(|e| format!("bad memory size: {e}"))
}

/// Parses a duration: a number with a unit, as [`crate::units::parse_duration`]
/// reads it (`us`, `ms`, `s`, `m`, `h`...).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s).map_err(|e| format!("bad duration: {e}"))
}

/// Parses a heartbeat period: a duration, or "off" (None: no heartbeats).
pub fn parse_heartbeat(s: &str) -> Result<Option<Duration>, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    parse_duration(s).map(Some)
}

/// A size in the cluster file: bytes, or a string like "256mb".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeField {
    Bytes(u64),
    Text(String),
}

/// One `[[members]]` table of the cluster file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberFile {
    /// The member's id.
    id: NodeId,
    /// Its address, "ip:port".
    addr: SocketAddr,
    /// Its virtual nodes (default: the ring's default).
    vnodes: Option<u32>,
}

/// The cluster file's schema: every field optional except the members.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    /// This node's id (or give it with --id, so one file serves every node).
    id: Option<NodeId>,
    /// Listen address.
    listen: Option<SocketAddr>,
    /// Placement: "ring" or "modn".
    placement: Option<String>,
    /// Replicas per key.
    n: Option<usize>,
    /// Read quorum.
    r: Option<usize>,
    /// Write quorum.
    w: Option<usize>,
    /// Quorum timeout, e.g. "200ms".
    replica_timeout: Option<String>,
    /// Memory limit.
    maxmemory: Option<SizeField>,
    /// Eviction policy, Redis's names.
    maxmemory_policy: Option<String>,
    /// Password.
    requirepass: Option<String>,
    /// The secret peers present in RL.HELLO.
    cluster_secret: Option<String>,
    /// Graceful shutdown's deadline, e.g. "10s".
    shutdown_timeout: Option<String>,
    /// Client connection limit.
    max_clients: Option<usize>,
    /// Idle client timeout, e.g. "300s".
    idle_timeout: Option<String>,
    /// RNG seed.
    seed: Option<u64>,
    /// Prometheus listener.
    metrics_addr: Option<SocketAddr>,
    /// Heartbeat period, e.g. "100ms", or "off".
    heartbeat_interval: Option<String>,
    /// phi above which a peer is suspected.
    phi_threshold: Option<f64>,
    /// Hinted handoff on or off.
    hinted_handoff: Option<bool>,
    /// Sloppy quorum on or off.
    sloppy_quorum: Option<bool>,
    /// Hints kept at most.
    handoff_max_hints: Option<usize>,
    /// Anti-entropy period, e.g. "1s" (absent: off).
    anti_entropy_interval: Option<String>,
    /// Keys one anti-entropy round may move.
    anti_entropy_keys: Option<usize>,
    /// Streaming on start and removal on or off.
    join_stream: Option<bool>,
    /// Keys per streaming batch.
    join_stream_keys: Option<usize>,
    /// Pause between streaming batches, e.g. "10ms".
    join_stream_interval: Option<String>,
    /// The cluster.
    members: Vec<MemberFile>,
}

impl NodeConfig {
    /// Applies a cluster file's settings on top of `self`.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: p.clone(),
            source,
        })?;
        self.apply_toml(&text, &p)
    }

    /// Applies cluster-file TOML text (`origin` names it in errors).
    pub fn apply_toml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let file_err = |msg: String| ConfigError::File {
            path: origin.to_string(),
            msg,
        };
        let f: ClusterFile = toml::from_str(text).map_err(|e| file_err(e.to_string()))?;
        if let Some(v) = f.id {
            self.id = v;
        }
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = f.placement {
            self.placement = v.parse().map_err(|e| file_err(format!("placement: {e}")))?;
        }
        if let Some(v) = f.n {
            self.n = v;
        }
        if let Some(v) = f.r {
            self.r = v;
        }
        if let Some(v) = f.w {
            self.w = v;
        }
        if let Some(v) = f.replica_timeout {
            self.replica_timeout =
                parse_duration(&v).map_err(|m| file_err(format!("replica_timeout: {m}")))?;
        }
        if let Some(v) = f.idle_timeout {
            self.idle_timeout =
                Some(parse_duration(&v).map_err(|m| file_err(format!("idle_timeout: {m}")))?);
        }
        match f.maxmemory {
            Some(SizeField::Bytes(b)) => self.maxmemory = b,
            Some(SizeField::Text(t)) => {
                self.maxmemory =
                    parse_memory(&t).map_err(|m| file_err(format!("maxmemory: {m}")))?
            }
            None => {}
        }
        if let Some(v) = f.maxmemory_policy {
            self.policy = v
                .parse()
                .map_err(|e| file_err(format!("maxmemory_policy: {e}")))?;
        }
        if f.requirepass.is_some() {
            self.requirepass = f.requirepass;
        }
        if f.cluster_secret.is_some() {
            self.cluster_secret = f.cluster_secret;
        }
        if let Some(v) = f.shutdown_timeout {
            self.shutdown_timeout =
                parse_duration(&v).map_err(|m| file_err(format!("shutdown_timeout: {m}")))?;
        }
        if let Some(v) = f.max_clients {
            self.max_clients = v;
        }
        if let Some(v) = f.anti_entropy_interval {
            self.anti_entropy_interval = Some(
                parse_duration(&v).map_err(|m| file_err(format!("anti_entropy_interval: {m}")))?,
            );
        }
        if let Some(v) = f.anti_entropy_keys {
            self.anti_entropy_keys = v;
        }
        if let Some(v) = f.seed {
            self.seed = v;
        }
        if f.metrics_addr.is_some() {
            self.metrics_addr = f.metrics_addr;
        }
        if let Some(v) = f.heartbeat_interval {
            self.heartbeat_interval =
                parse_heartbeat(&v).map_err(|m| file_err(format!("heartbeat_interval: {m}")))?;
        }
        self.phi_threshold = f.phi_threshold.unwrap_or(self.phi_threshold);
        self.hinted_handoff = f.hinted_handoff.unwrap_or(self.hinted_handoff);
        self.sloppy_quorum = f.sloppy_quorum.unwrap_or(self.sloppy_quorum);
        self.handoff_max_hints = f.handoff_max_hints.unwrap_or(self.handoff_max_hints);
        self.join_stream = f.join_stream.unwrap_or(self.join_stream);
        self.join_stream_keys = f.join_stream_keys.unwrap_or(self.join_stream_keys);
        if let Some(v) = f.join_stream_interval {
            self.join_stream_interval =
                parse_duration(&v).map_err(|m| file_err(format!("join_stream_interval: {m}")))?;
        }
        self.members = f
            .members
            .into_iter()
            .map(|m| Member {
                id: m.id,
                addr: m.addr,
                vnodes: m.vnodes.unwrap_or(DEFAULT_VNODES),
            })
            .collect();
        Ok(())
    }
}

/// Parses a `--member` flag: `ID=IP:PORT` or `ID=IP:PORT@VNODES`.
pub fn parse_member(s: &str) -> Result<Member, String> {
    let expected = "expected ID=IP:PORT or ID=IP:PORT@VNODES, e.g. 2=127.0.0.1:7002";
    let (id, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("bad member {s:?}: {expected}"))?;
    let (addr, vnodes) = match rest.split_once('@') {
        Some((a, v)) => (a, Some(v)),
        None => (rest, None),
    };
    Ok(Member {
        id: id
            .trim()
            .parse()
            .map_err(|_| format!("bad member id in {s:?}: {expected}"))?,
        addr: addr
            .trim()
            .parse()
            .map_err(|_| format!("bad member address in {s:?}: {expected}"))?,
        vnodes: match vnodes {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("bad vnodes in {s:?}: {expected}"))?,
            None => DEFAULT_VNODES,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_like_redis() {
        assert_eq!(parse_memory("100"), Ok(100));
        assert_eq!(parse_memory("1kb"), Ok(1024));
        assert_eq!(parse_memory("1K"), Ok(1000));
        assert_eq!(parse_memory("256mb"), Ok(256 << 20));
        assert_eq!(parse_memory("2gb"), Ok(2 << 30));
        assert!(parse_memory("12xb").is_err());
        assert!(parse_memory("-1").is_err());
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn member_flag_parses() {
        let m = parse_member("2=127.0.0.1:7002@64").unwrap();
        assert_eq!((m.id, m.addr.port(), m.vnodes), (2, 7002, 64));
        let m = parse_member("3=127.0.0.1:7003").unwrap();
        assert_eq!(m.vnodes, DEFAULT_VNODES);
        assert!(parse_member("x=127.0.0.1:1").is_err());
        assert!(parse_member("127.0.0.1:1").is_err());
    }

    #[test]
    fn cluster_file_applies_and_validates() {
        let mut c = NodeConfig::default();
        c.apply_toml(
            r#"
            id = 2
            n = 3
            r = 1
            w = 2
            placement = "modn"
            replica_timeout = "50ms"
            maxmemory = "1mb"
            maxmemory_policy = "allkeys-lru"
            cluster_secret = "c1uster"
            shutdown_timeout = "250ms"
            heartbeat_interval = "100ms"
            phi_threshold = 10.5
            hinted_handoff = true
            handoff_max_hints = 64
            anti_entropy_interval = "2s"
            anti_entropy_keys = 50
            [[members]]
            id = 1
            addr = "127.0.0.1:7001"
            [[members]]
            id = 2
            addr = "127.0.0.1:7002"
            vnodes = 32
            "#,
            "test.toml",
        )
        .unwrap();
        assert_eq!(c.id, 2);
        assert_eq!(c.placement, PlacementKind::ModN);
        assert_eq!(c.maxmemory, 1 << 20);
        assert_eq!(c.policy, Policy::AllKeysLru);
        assert_eq!(c.replica_timeout, Duration::from_millis(50));
        assert_eq!(c.members.len(), 2);
        assert_eq!(c.members[1].vnodes, 32);
        assert_eq!(c.cluster_secret.as_deref(), Some("c1uster"));
        assert_eq!(c.shutdown_timeout, Duration::from_millis(250));
        assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(100)));
        assert_eq!(c.phi_threshold, 10.5);
        assert!(c.hinted_handoff);
        assert_eq!(c.handoff_max_hints, 64);
        assert_eq!(c.anti_entropy_interval, Some(Duration::from_secs(2)));
        assert_eq!(c.anti_entropy_keys, 50);
        // N is clamped to the two members.
        assert_eq!(c.validate().unwrap(), Quorum { n: 2, r: 1, w: 2 });
        c.id = 9;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::NotAMember { id: 9, .. })
        ));
    }

    #[test]
    fn cluster_file_errors_name_the_file_and_field() {
        let mut c = NodeConfig::default();
        let e = c
            .apply_toml("members = []\nbogus = 1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cluster file c.toml:"), "{e}");
        assert!(e.contains("bogus"), "{e}");
        let e = c
            .apply_toml("members = []\nreplica_timeout = \"fast\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("replica_timeout"), "{e}");
        let e = c
            .apply_toml("members = []\nplacement = \"hash\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("placement: unknown placement \"hash\""), "{e}");
    }

    #[test]
    fn the_peer_secret_is_the_cluster_secret_else_the_password() {
        let mut c = NodeConfig::default();
        assert_eq!(c.peer_secret(), None);
        c.requirepass = Some("client".into());
        assert_eq!(c.peer_secret(), Some("client"));
        c.cluster_secret = Some("cluster".into());
        assert_eq!(c.peer_secret(), Some("cluster"));
        c.requirepass = None;
        assert_eq!(c.peer_secret(), Some("cluster"));
    }

    #[test]
    fn liveness_settings_are_validated_and_off_by_default() {
        let c = NodeConfig::default();
        assert_eq!((c.heartbeat_interval, c.hinted_handoff), (None, false));
        assert_eq!(parse_heartbeat("off"), Ok(None));
        assert_eq!(parse_heartbeat("10ms"), Ok(Some(Duration::from_millis(10))));
        assert!(parse_heartbeat("soon").is_err());
        let bad = [
            NodeConfig {
                heartbeat_interval: Some(Duration::ZERO),
                ..NodeConfig::default()
            },
            NodeConfig {
                phi_threshold: f64::NAN,
                ..NodeConfig::default()
            },
            NodeConfig {
                handoff_max_hints: 0,
                ..NodeConfig::default()
            },
            NodeConfig {
                sloppy_quorum: true,
                ..NodeConfig::default()
            },
        ];
        let names = [
            "heartbeat_interval",
            "phi_threshold",
            "handoff_max_hints",
            "sloppy_quorum",
        ];
        for (c, name) in bad.iter().zip(names) {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(name), "{e}");
        }
    }

    #[test]
    fn default_is_a_valid_single_node() {
        let c = NodeConfig::default();
        assert_eq!(c.validate().unwrap(), Quorum { n: 1, r: 1, w: 1 });
        assert!(c.listen.ip().is_loopback());
    }
}
