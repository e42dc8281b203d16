//! The command table and the commands, by family (as mini-redis splits
//! them): the single source of truth for names, arities, flags, key
//! positions, what kind of work a command is and whether it may overlap
//! other commands of its pipeline.
//!
//! - [`strings`]: GET, SET (and SETEX, PSETEX, SETNX, GETSET), GETDEL,
//!   GETEX, INCR..., INCRBYFLOAT, MGET, MSET, MSETNX, APPEND, STRLEN,
//!   GETRANGE, SETRANGE, PING, ECHO.
//! - [`keys`]: DEL, UNLINK, EXISTS, TOUCH, EXPIRE..., TTL..., EXPIRETIME...,
//!   PERSIST, TYPE, RENAME, RENAMENX, COPY.
//! - [`hashes`], [`lists`], [`sets`], [`zsets`]: the collection
//!   families (HSET..., LPUSH..., SADD..., ZADD...), all run by the one
//!   plan of [`coll`], which also holds their encoding and how they
//!   replicate.
//! - [`server`]: connection and server commands (AUTH, HELLO, CLIENT,
//!   CONFIG, COMMAND, INFO, DBSIZE, FLUSHALL, FLUSHDB, SELECT, TIME, WAIT,
//!   QUIT).
//! - [`kill`]: CLIENT KILL.
//! - [`slowlog`]: SLOWLOG GET, LEN, RESET, HELP.
//! - [`cluster`]: CLUSTER and the peer hello `RL.HELLO`.
//! - [`scan`]: KEYS and SCAN, across the cluster.
//! - [`setops`]: set algebra over several keys (SINTER, SUNION, SDIFF,
//!   SINTERCARD and the STORE forms).
//! - [`introspect`]: MEMORY USAGE and OBJECT (what a key costs, how
//!   Redis would encode it).
//! - [`multi`]: transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH).
//! - [`plan`]: commands on keys as pure plans of quorum reads and writes.
//! - [`reply`]: reply and error encoding shared by the families.

pub mod cluster;
pub mod coll;
pub mod hashes;
pub mod introspect;
pub mod keys;
pub mod kill;
pub mod lists;
pub mod multi;
pub mod plan;
pub mod reply;
pub mod scan;
pub mod server;
pub mod setops;
pub mod sets;
pub mod slowlog;
pub mod strings;
pub mod zsets;

use bytes::Bytes;

use crate::clock::Micros;
use crate::machine::quorum::CmdRef;
use crate::machine::{ConnId, Machine};
use crate::protocol::resp::Proto;
use plan::Input;

/// Every command the node knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Get,
    Set,
    Ping,
    Echo,
    GetDel,
    Del,
    Exists,
    Expire,
    PExpire,
    Ttl,
    PTtl,
    Persist,
    Incr,
    Decr,
    IncrBy,
    DecrBy,
    MGet,
    MSet,
    DbSize,
    FlushAll,
    Info,
    Config,
    Client,
    Hello,
    Command,
    Auth,
    Quit,
    Select,
    Cluster,
    SetEx,
    PSetEx,
    SetNx,
    GetSet,
    GetEx,
    MSetNx,
    Append,
    StrLen,
    GetRange,
    SetRange,
    IncrByFloat,
    Unlink,
    Type,
    Touch,
    ExpireAt,
    PExpireAt,
    ExpireTime,
    PExpireTime,
    Rename,
    RenameNx,
    Copy,
    FlushDb,
    Time,
    Wait,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    HSet,
    HSetNx,
    HGet,
    HMSet,
    HMGet,
    HGetAll,
    HDel,
    HExists,
    HLen,
    HKeys,
    HVals,
    HIncrBy,
    HIncrByFloat,
    HStrLen,
    LPush,
    RPush,
    LPushX,
    RPushX,
    LPop,
    RPop,
    LLen,
    LRange,
    LIndex,
    LSet,
    LRem,
    LTrim,
    SAdd,
    SRem,
    SMembers,
    SIsMember,
    SMIsMember,
    SCard,
    SPop,
    SRandMember,
    ZAdd,
    ZIncrBy,
    ZScore,
    ZMScore,
    ZRem,
    ZCard,
    ZRange,
    ZRangeByScore,
    ZRevRangeByScore,
    ZRevRange,
    ZRank,
    ZRevRank,
    ZCount,
    ZPopMin,
    ZPopMax,
    Keys,
    Scan,
    SInter,
    SUnion,
    SDiff,
    SInterCard,
    SInterStore,
    SUnionStore,
    SDiffStore,
    Object,
    Memory,
    SlowLog,
    /// The internal command that opens a peer connection.
    PeerHello,
}

/// What kind of work a command is: data commands are charged to the node's
/// capacity and run through the quorum; server commands are neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads keys (or none: PING, ECHO).
    Read,
    /// Writes keys without reading them.
    Write,
    /// Reads, computes, writes with a new version.
    ReadModifyWrite,
    /// Connection, server and cluster commands.
    Server,
}

impl Kind {
    /// Whether the command is charged and replicated.
    pub fn is_data(self) -> bool {
        self != Kind::Server
    }
}

/// One command's entry.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name, as Redis spells it in errors and COMMAND.
    pub name: &'static str,
    /// What to run.
    pub cmd: Cmd,
    /// Redis's arity: N means exactly N arguments (name included), -N at
    /// least N.
    pub arity: i32,
    /// Redis's command flags.
    pub flags: &'static [&'static str],
    /// Position of the first key (0: none).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// What kind of work it is.
    pub kind: Kind,
    /// A single-key command that may run while other commands of its
    /// pipeline on other keys are still waiting for replicas.
    pub concurrent: bool,
}

const fn spec(
    name: &'static str,
    cmd: Cmd,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    kind: Kind,
) -> CommandSpec {
    CommandSpec {
        name,
        cmd,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        kind,
        // One key at position 1, and not a multi-key command.
        concurrent: kind as u8 != Kind::Server as u8 && keys.0 == 1 && keys.1 == 1,
    }
}

const R: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "fast"];
const WDF: &[&str] = &["write", "denyoom", "fast"];
const RS: &[&str] = &["readonly"];
const WS: &[&str] = &["write"];
const NK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const KS: (i32, i32, i32) = (1, -1, 1);
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const NO_AUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth"];
const TX: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

use Kind::{Read as Rd, ReadModifyWrite as Rmw, Server as Srv, Write as Wr};

/// The table, hottest commands first (lookup is a linear scan).
pub static COMMANDS: &[CommandSpec] = &[
    spec("get", Cmd::Get, 2, R, K1, Rd),
    spec("set", Cmd::Set, -3, W, K1, Rmw),
    spec("ping", Cmd::Ping, -1, &["fast", "stale"], NK, Rd),
    spec("echo", Cmd::Echo, 2, &["fast"], NK, Rd),
    spec("getdel", Cmd::GetDel, 2, WF, K1, Rmw),
    spec("del", Cmd::Del, -2, &["write"], KS, Rmw),
    spec("exists", Cmd::Exists, -2, R, KS, Rd),
    spec("expire", Cmd::Expire, -3, WF, K1, Rmw),
    spec("pexpire", Cmd::PExpire, -3, WF, K1, Rmw),
    spec("ttl", Cmd::Ttl, 2, R, K1, Rd),
    spec("pttl", Cmd::PTtl, 2, R, K1, Rd),
    spec("persist", Cmd::Persist, 2, WF, K1, Rmw),
    spec("incr", Cmd::Incr, 2, WDF, K1, Rmw),
    spec("decr", Cmd::Decr, 2, WDF, K1, Rmw),
    spec("incrby", Cmd::IncrBy, 3, WDF, K1, Rmw),
    spec("decrby", Cmd::DecrBy, 3, WDF, K1, Rmw),
    spec("mget", Cmd::MGet, -2, &["readonly"], KS, Rd),
    spec("mset", Cmd::MSet, -3, W, (1, -1, 2), Wr),
    spec("dbsize", Cmd::DbSize, 1, &["readonly", "fast"], NK, Srv),
    spec("flushall", Cmd::FlushAll, -1, &["write"], NK, Srv),
    spec("info", Cmd::Info, -1, &["loading", "stale"], NK, Srv),
    spec("config", Cmd::Config, -2, ADMIN, NK, Srv),
    spec(
        "client",
        Cmd::Client,
        -2,
        &["noscript", "loading", "stale"],
        NK,
        Srv,
    ),
    spec("hello", Cmd::Hello, -1, NO_AUTH, NK, Srv),
    spec("command", Cmd::Command, -1, &["loading", "stale"], NK, Srv),
    spec("auth", Cmd::Auth, -2, NO_AUTH, NK, Srv),
    spec("quit", Cmd::Quit, -1, NO_AUTH, NK, Srv),
    spec(
        "select",
        Cmd::Select,
        2,
        &["loading", "stale", "fast"],
        NK,
        Srv,
    ),
    spec("cluster", Cmd::Cluster, -2, &["stale"], NK, Srv),
    // Flags, arities and key positions as Redis 7.0's COMMAND INFO has them.
    spec("setex", Cmd::SetEx, 4, W, K1, Wr),
    spec("psetex", Cmd::PSetEx, 4, W, K1, Wr),
    spec("setnx", Cmd::SetNx, 3, WDF, K1, Rmw),
    spec("getset", Cmd::GetSet, 3, WDF, K1, Rmw),
    spec("getex", Cmd::GetEx, -2, WF, K1, Rmw),
    spec("msetnx", Cmd::MSetNx, -3, W, (1, -1, 2), Rmw),
    spec("append", Cmd::Append, 3, WDF, K1, Rmw),
    spec("strlen", Cmd::StrLen, 2, R, K1, Rd),
    spec("getrange", Cmd::GetRange, 4, &["readonly"], K1, Rd),
    spec("setrange", Cmd::SetRange, 4, W, K1, Rmw),
    spec("incrbyfloat", Cmd::IncrByFloat, 3, WDF, K1, Rmw),
    spec("unlink", Cmd::Unlink, -2, WF, KS, Rmw),
    spec("type", Cmd::Type, 2, R, K1, Rd),
    spec("touch", Cmd::Touch, -2, R, KS, Rd),
    spec("expireat", Cmd::ExpireAt, -3, WF, K1, Rmw),
    spec("pexpireat", Cmd::PExpireAt, -3, WF, K1, Rmw),
    spec("expiretime", Cmd::ExpireTime, 2, R, K1, Rd),
    spec("pexpiretime", Cmd::PExpireTime, 2, R, K1, Rd),
    spec("rename", Cmd::Rename, 3, &["write"], (1, 2, 1), Rmw),
    spec("renamenx", Cmd::RenameNx, 3, WF, (1, 2, 1), Rmw),
    spec("copy", Cmd::Copy, -3, W, (1, 2, 1), Rmw),
    spec("flushdb", Cmd::FlushDb, -1, &["write"], NK, Srv),
    spec("time", Cmd::Time, 1, &["loading", "stale", "fast"], NK, Srv),
    spec("wait", Cmd::Wait, 3, &["noscript"], NK, Srv),
    spec("multi", Cmd::Multi, 1, TX, NK, Srv),
    spec(
        "exec",
        Cmd::Exec,
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        NK,
        Srv,
    ),
    spec("discard", Cmd::Discard, 1, TX, NK, Srv),
    spec("watch", Cmd::Watch, -2, TX, KS, Srv),
    spec("unwatch", Cmd::Unwatch, 1, TX, NK, Srv),
    // Collections: flags and arities as Redis 7.0's COMMAND INFO has them.
    spec("hset", Cmd::HSet, -4, WDF, K1, Rmw),
    spec("hsetnx", Cmd::HSetNx, 4, WDF, K1, Rmw),
    spec("hget", Cmd::HGet, 3, R, K1, Rd),
    spec("hmset", Cmd::HMSet, -4, WDF, K1, Rmw),
    spec("hmget", Cmd::HMGet, -3, R, K1, Rd),
    spec("hgetall", Cmd::HGetAll, 2, RS, K1, Rd),
    spec("hdel", Cmd::HDel, -3, WF, K1, Rmw),
    spec("hexists", Cmd::HExists, 3, R, K1, Rd),
    spec("hlen", Cmd::HLen, 2, R, K1, Rd),
    spec("hkeys", Cmd::HKeys, 2, RS, K1, Rd),
    spec("hvals", Cmd::HVals, 2, RS, K1, Rd),
    spec("hincrby", Cmd::HIncrBy, 4, WDF, K1, Rmw),
    spec("hincrbyfloat", Cmd::HIncrByFloat, 4, WDF, K1, Rmw),
    spec("hstrlen", Cmd::HStrLen, 3, R, K1, Rd),
    spec("lpush", Cmd::LPush, -3, WDF, K1, Rmw),
    spec("rpush", Cmd::RPush, -3, WDF, K1, Rmw),
    spec("lpushx", Cmd::LPushX, -3, WDF, K1, Rmw),
    spec("rpushx", Cmd::RPushX, -3, WDF, K1, Rmw),
    spec("lpop", Cmd::LPop, -2, WF, K1, Rmw),
    spec("rpop", Cmd::RPop, -2, WF, K1, Rmw),
    spec("llen", Cmd::LLen, 2, R, K1, Rd),
    spec("lrange", Cmd::LRange, 4, RS, K1, Rd),
    spec("lindex", Cmd::LIndex, 3, RS, K1, Rd),
    spec("lset", Cmd::LSet, 4, W, K1, Rmw),
    spec("lrem", Cmd::LRem, 4, WS, K1, Rmw),
    spec("ltrim", Cmd::LTrim, 4, WS, K1, Rmw),
    spec("sadd", Cmd::SAdd, -3, WDF, K1, Rmw),
    spec("srem", Cmd::SRem, -3, WF, K1, Rmw),
    spec("smembers", Cmd::SMembers, 2, RS, K1, Rd),
    spec("sismember", Cmd::SIsMember, 3, R, K1, Rd),
    spec("smismember", Cmd::SMIsMember, -3, R, K1, Rd),
    spec("scard", Cmd::SCard, 2, R, K1, Rd),
    spec("spop", Cmd::SPop, -2, WF, K1, Rmw),
    spec("srandmember", Cmd::SRandMember, -2, RS, K1, Rd),
    spec("zadd", Cmd::ZAdd, -4, WDF, K1, Rmw),
    spec("zincrby", Cmd::ZIncrBy, 4, WDF, K1, Rmw),
    spec("zscore", Cmd::ZScore, 3, R, K1, Rd),
    spec("zmscore", Cmd::ZMScore, -3, R, K1, Rd),
    spec("zrem", Cmd::ZRem, -3, WF, K1, Rmw),
    spec("zcard", Cmd::ZCard, 2, R, K1, Rd),
    spec("zrange", Cmd::ZRange, -4, RS, K1, Rd),
    spec("zrangebyscore", Cmd::ZRangeByScore, -4, RS, K1, Rd),
    spec("zrevrangebyscore", Cmd::ZRevRangeByScore, -4, RS, K1, Rd),
    spec("zrevrange", Cmd::ZRevRange, -4, RS, K1, Rd),
    spec("zrank", Cmd::ZRank, 3, R, K1, Rd),
    spec("zrevrank", Cmd::ZRevRank, 3, R, K1, Rd),
    spec("zcount", Cmd::ZCount, 4, R, K1, Rd),
    spec("zpopmin", Cmd::ZPopMin, -2, WF, K1, Rmw),
    spec("zpopmax", Cmd::ZPopMax, -2, WF, K1, Rmw),
    // Iteration across the cluster (see `scan`).
    spec("keys", Cmd::Keys, 2, RS, NK, Rd),
    spec("scan", Cmd::Scan, -2, RS, NK, Rd),
    // Set algebra (see `setops`): flags and arities as Redis 7.0 has them.
    spec("sinter", Cmd::SInter, -2, RS, KS, Rd),
    spec("sunion", Cmd::SUnion, -2, RS, KS, Rd),
    spec("sdiff", Cmd::SDiff, -2, RS, KS, Rd),
    spec(
        "sintercard",
        Cmd::SInterCard,
        -3,
        &["readonly", "movablekeys"],
        NK,
        Rd,
    ),
    spec("sinterstore", Cmd::SInterStore, -3, W, KS, Rmw),
    spec("sunionstore", Cmd::SUnionStore, -3, W, KS, Rmw),
    spec("sdiffstore", Cmd::SDiffStore, -3, W, KS, Rmw),
    // Containers, as Redis 7.0 lists them (the key is the subcommand's).
    spec("object", Cmd::Object, -2, &[], NK, Rd),
    spec("memory", Cmd::Memory, -2, &[], NK, Rd),
    spec("slowlog", Cmd::SlowLog, -2, &[], NK, Srv),
    // A peer's handshake, not a client's command: it carries the cluster
    // secret, so it never enters the slow log.
    spec(
        "rl.hello",
        Cmd::PeerHello,
        -2,
        &["no_auth", "skip_slowlog"],
        NK,
        Srv,
    ),
];

/// Finds a command by name, any case; returns its index and entry.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    COMMANDS
        .iter()
        .enumerate()
        .find(|(_, c)| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether `argc` arguments (name included) fit the arity.
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// The names, in table order (metrics).
pub fn names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

/// The key of a well-formed command that may overlap other commands of its
/// pipeline on other keys (see [`CommandSpec::concurrent`]).
pub fn concurrent_key(args: &[Bytes]) -> Option<Bytes> {
    let (_, spec) = lookup(args.first()?)?;
    key_if_concurrent(spec, args)
}

/// The key of `args`, a call of `spec`, if it may overlap others.
fn key_if_concurrent(spec: &CommandSpec, args: &[Bytes]) -> Option<Bytes> {
    (spec.concurrent && arity_ok(spec.arity, args.len())).then(|| args[1].clone())
}

/// Queues a client command on its connection, starting it now if the
/// connection's earlier commands allow (see [`crate::machine::conns`]).
pub(crate) fn dispatch(m: &mut Machine, now: Micros, conn: ConnId, args: Vec<Bytes>) {
    if args.is_empty() || !m.conns.accepts(conn) {
        return;
    }
    let authed = m.conns.session_mut(conn).is_some_and(|s| s.authed);
    // Looked up once here for both the overlap rule and the start.
    let found = lookup(&args[0]);
    let key = found
        .filter(|_| authed)
        .and_then(|(_, spec)| key_if_concurrent(spec, &args));
    if let Some((slot, args)) = m.conns.admit(conn, key.as_ref(), args) {
        start_found(m, now, conn, slot, args, found);
    }
    m.touch(conn);
}

/// Starts the command in slot `slot` of `conn`.
pub(crate) fn start(m: &mut Machine, now: Micros, conn: ConnId, slot: u64, args: Vec<Bytes>) {
    let found = lookup(&args[0]);
    start_found(m, now, conn, slot, args, found);
}

/// [`start`], with the command already looked up.
fn start_found(
    m: &mut Machine,
    now: Micros,
    conn: ConnId,
    slot: u64,
    args: Vec<Bytes>,
    found: Option<(usize, &'static CommandSpec)>,
) {
    m.touch(conn);
    let Some((idx, spec)) = found else {
        multi::refused(m, conn);
        m.metrics.record(COMMANDS.len(), 0);
        let reply = cluster::peer_only(&args[0]).unwrap_or_else(|| reply::unknown(&args));
        return m.finish_slot(conn, slot, reply);
    };
    let done = |m: &mut Machine, bytes| {
        m.metrics.record(idx, 0);
        m.slowlog_finish(conn, slot, now);
        m.finish_slot(conn, slot, bytes)
    };
    if !arity_ok(spec.arity, args.len()) {
        multi::refused(m, conn);
        return done(m, reply::wrong_args(spec.name));
    }
    let (authed, proto, in_multi) = m
        .conns
        .session(conn)
        .map_or((false, Proto::Resp2, false), |s| {
            (s.authed, s.proto, s.multi.is_some())
        });
    if !authed
        && !matches!(
            spec.cmd,
            Cmd::Auth | Cmd::Hello | Cmd::Quit | Cmd::PeerHello
        )
    {
        multi::refused(m, conn);
        return done(m, reply::error("NOAUTH Authentication required."));
    }
    if in_multi
        || matches!(
            spec.cmd,
            Cmd::Multi | Cmd::Exec | Cmd::Discard | Cmd::Watch | Cmd::Unwatch
        )
    {
        match multi::intercept(m, now, conn, slot, spec, &args) {
            multi::Flow::Run => {}
            multi::Flow::Reply(bytes) => return done(m, bytes),
            multi::Flow::Later => return m.metrics.record(idx, 0),
        }
    }
    let built = match spec.cmd {
        Cmd::Get | Cmd::Set | Cmd::GetDel | Cmd::Incr | Cmd::Decr | Cmd::IncrBy | Cmd::DecrBy => {
            strings::build(spec.cmd, &args, now)
        }
        Cmd::Ping | Cmd::Echo | Cmd::MGet | Cmd::MSet => strings::build(spec.cmd, &args, now),
        Cmd::SetEx
        | Cmd::PSetEx
        | Cmd::SetNx
        | Cmd::GetSet
        | Cmd::GetEx
        | Cmd::MSetNx
        | Cmd::Append
        | Cmd::StrLen
        | Cmd::GetRange
        | Cmd::SetRange
        | Cmd::IncrByFloat => strings::build(spec.cmd, &args, now),
        Cmd::Del
        | Cmd::Exists
        | Cmd::Expire
        | Cmd::PExpire
        | Cmd::Ttl
        | Cmd::PTtl
        | Cmd::Persist
        | Cmd::Unlink
        | Cmd::Type
        | Cmd::Touch
        | Cmd::ExpireAt
        | Cmd::PExpireAt
        | Cmd::ExpireTime
        | Cmd::PExpireTime
        | Cmd::Rename
        | Cmd::RenameNx
        | Cmd::Copy => keys::build(spec.cmd, &args, now),
        Cmd::HSet
        | Cmd::HSetNx
        | Cmd::HGet
        | Cmd::HMSet
        | Cmd::HMGet
        | Cmd::HGetAll
        | Cmd::HDel
        | Cmd::HExists
        | Cmd::HLen
        | Cmd::HKeys
        | Cmd::HVals
        | Cmd::HIncrBy
        | Cmd::HIncrByFloat
        | Cmd::HStrLen => hashes::build(spec.cmd, &args),
        Cmd::LPush
        | Cmd::RPush
        | Cmd::LPushX
        | Cmd::RPushX
        | Cmd::LPop
        | Cmd::RPop
        | Cmd::LLen
        | Cmd::LRange
        | Cmd::LIndex
        | Cmd::LSet
        | Cmd::LRem
        | Cmd::LTrim => lists::build(spec.cmd, &args),
        Cmd::SAdd
        | Cmd::SRem
        | Cmd::SMembers
        | Cmd::SIsMember
        | Cmd::SMIsMember
        | Cmd::SCard
        | Cmd::SPop
        | Cmd::SRandMember => sets::build(spec.cmd, &args),
        Cmd::ZAdd
        | Cmd::ZIncrBy
        | Cmd::ZScore
        | Cmd::ZMScore
        | Cmd::ZRem
        | Cmd::ZCard
        | Cmd::ZRange
        | Cmd::ZRangeByScore
        | Cmd::ZRevRangeByScore
        | Cmd::ZRevRange
        | Cmd::ZRank
        | Cmd::ZRevRank
        | Cmd::ZCount
        | Cmd::ZPopMin
        | Cmd::ZPopMax => zsets::build(spec.cmd, &args),
        Cmd::FlushAll | Cmd::FlushDb => server::flushall(&args),
        Cmd::Keys | Cmd::Scan => scan::build(spec.cmd, &args),
        Cmd::SInter
        | Cmd::SUnion
        | Cmd::SDiff
        | Cmd::SInterCard
        | Cmd::SInterStore
        | Cmd::SUnionStore
        | Cmd::SDiffStore => setops::build(spec.cmd, &args),
        Cmd::Object | Cmd::Memory => introspect::build(spec.cmd, &args),
        Cmd::Cluster | Cmd::PeerHello => Err(cluster::execute(m, now, conn, slot, spec, &args)),
        Cmd::SlowLog => Err(slowlog::execute(m, proto, &args)),
        _ => Err(server::execute(m, now, conn, slot, spec, &args)),
    };
    // Ran (or started): kept for the slow log if it may turn out slow
    // (EXEC's commands are logged one by one instead, as in Redis).
    if m.slowlog_watches() && !spec.flags.contains(&"skip_slowlog") {
        m.slowlog.start(conn, slot, args, now);
    }
    match built {
        Err(bytes) => done(m, bytes),
        Ok(plan) => {
            let deadline = if m.quorum.n > 1 {
                now.saturating_add(m.cfg.command_timeout.as_micros() as Micros)
            } else {
                Micros::MAX
            };
            let cmd = CmdRef {
                conn,
                slot,
                idx,
                started: now,
                deadline,
                proto,
            };
            m.run_plan(now, cmd, plan, Input::Start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_names_are_unique() {
        assert_eq!(lookup(b"GeT").map(|(_, c)| c.cmd), Some(Cmd::Get));
        assert!(lookup(b"nope").is_none());
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn arity_follows_redis() {
        assert!(arity_ok(2, 2));
        assert!(!arity_ok(2, 3));
        assert!(arity_ok(-3, 5));
        assert!(!arity_ok(-3, 2));
    }

    #[test]
    fn only_single_key_data_commands_overlap() {
        let overlapping: Vec<&str> = COMMANDS
            .iter()
            .filter(|c| c.concurrent)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            overlapping,
            [
                "get",
                "set",
                "getdel",
                "expire",
                "pexpire",
                "ttl",
                "pttl",
                "persist",
                "incr",
                "decr",
                "incrby",
                "decrby",
                "setex",
                "psetex",
                "setnx",
                "getset",
                "getex",
                "append",
                "strlen",
                "getrange",
                "setrange",
                "incrbyfloat",
                "type",
                "expireat",
                "pexpireat",
                "expiretime",
                "pexpiretime",
                "hset",
                "hsetnx",
                "hget",
                "hmset",
                "hmget",
                "hgetall",
                "hdel",
                "hexists",
                "hlen",
                "hkeys",
                "hvals",
                "hincrby",
                "hincrbyfloat",
                "hstrlen",
                "lpush",
                "rpush",
                "lpushx",
                "rpushx",
                "lpop",
                "rpop",
                "llen",
                "lrange",
                "lindex",
                "lset",
                "lrem",
                "ltrim",
                "sadd",
                "srem",
                "smembers",
                "sismember",
                "smismember",
                "scard",
                "spop",
                "srandmember",
                "zadd",
                "zincrby",
                "zscore",
                "zmscore",
                "zrem",
                "zcard",
                "zrange",
                "zrangebyscore",
                "zrevrangebyscore",
                "zrevrange",
                "zrank",
                "zrevrank",
                "zcount",
                "zpopmin",
                "zpopmax",
            ]
        );
    }
}
