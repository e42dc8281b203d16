//! The command table: names, arities, flags and key positions, as Redis
//! reports them in `COMMAND` (so redis-cli and client libraries can read it).

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
    /// The internal command that opens a peer connection.
    PeerHello,
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
}

const fn spec(
    name: &'static str,
    cmd: Cmd,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
) -> CommandSpec {
    CommandSpec {
        name,
        cmd,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
    }
}

const R: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "fast"];
const NK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const KS: (i32, i32, i32) = (1, -1, 1);

/// The table, hottest commands first (lookup is a linear scan).
pub static COMMANDS: &[CommandSpec] = &[
    spec("get", Cmd::Get, 2, R, K1),
    spec("set", Cmd::Set, -3, W, K1),
    spec("ping", Cmd::Ping, -1, &["fast", "stale"], NK),
    spec("echo", Cmd::Echo, 2, &["fast"], NK),
    spec("getdel", Cmd::GetDel, 2, WF, K1),
    spec("del", Cmd::Del, -2, &["write"], KS),
    spec("exists", Cmd::Exists, -2, R, KS),
    spec("expire", Cmd::Expire, -3, WF, K1),
    spec("pexpire", Cmd::PExpire, -3, WF, K1),
    spec("ttl", Cmd::Ttl, 2, R, K1),
    spec("pttl", Cmd::PTtl, 2, R, K1),
    spec("persist", Cmd::Persist, 2, WF, K1),
    spec("incr", Cmd::Incr, 2, &["write", "denyoom", "fast"], K1),
    spec("decr", Cmd::Decr, 2, &["write", "denyoom", "fast"], K1),
    spec("incrby", Cmd::IncrBy, 3, &["write", "denyoom", "fast"], K1),
    spec("decrby", Cmd::DecrBy, 3, &["write", "denyoom", "fast"], K1),
    spec("mget", Cmd::MGet, -2, &["readonly"], KS),
    spec("mset", Cmd::MSet, -3, W, (1, -1, 2)),
    spec("dbsize", Cmd::DbSize, 1, &["readonly", "fast"], NK),
    spec("flushall", Cmd::FlushAll, -1, &["write"], NK),
    spec("info", Cmd::Info, -1, &["loading", "stale"], NK),
    spec(
        "config",
        Cmd::Config,
        -2,
        &["admin", "noscript", "loading", "stale"],
        NK,
    ),
    spec(
        "client",
        Cmd::Client,
        -2,
        &["noscript", "loading", "stale"],
        NK,
    ),
    spec(
        "hello",
        Cmd::Hello,
        -1,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NK,
    ),
    spec("command", Cmd::Command, -1, &["loading", "stale"], NK),
    spec(
        "auth",
        Cmd::Auth,
        -2,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NK,
    ),
    spec(
        "quit",
        Cmd::Quit,
        -1,
        &["noscript", "loading", "stale", "fast", "no_auth"],
        NK,
    ),
    spec("select", Cmd::Select, 2, &["loading", "stale", "fast"], NK),
    spec("cluster", Cmd::Cluster, -2, &["stale"], NK),
    spec("rl.hello", Cmd::PeerHello, -2, &["no_auth"], NK),
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
}
