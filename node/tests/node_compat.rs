//! Byte-for-byte compatibility with a real `redis-server`: the same raw
//! commands go to Redis and to a single ringlab node, a 3-node cluster
//! (every node a replica of every key) and a 5-node cluster with N=3 (keys
//! spread over different replica sets, the coordinator not a replica of
//! every key), in RESP2 and, after `HELLO 3`, in RESP3, and the raw replies
//! must be equal. The few fields that legitimately differ are listed in
//! [`Check`] with the reason.
//!
//! `redis-server` must be on PATH (`scripts/setup` installs it); without it
//! the test fails and says so, rather than passing without comparing.
#![cfg(not(madsim))]

mod node_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use node_support::{RedisServer, TestCluster};

/// How a reply is compared with Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Byte for byte.
    Exact,
    /// HELLO: equal once the `version` (ringlab reports the Redis version
    /// it imitates, the installed Redis its own) and `id` (connection ids
    /// are each server's own counter) values are masked.
    Hello,
    /// INFO: the text is each server's own; only the reply's type must
    /// match (a bulk string in RESP2, a `txt` verbatim string in RESP3).
    InfoType,
    /// TIME: each server's clock; the shape must match (two bulk strings
    /// of digits) and the seconds agree within a minute.
    Time,
    /// WAIT: ringlab answers W-1 at once (see `cmd::server::wait`), which
    /// is Redis's 0 only on a single node; on a cluster only the type
    /// must match.
    Wait,
    /// DBSIZE: ringlab counts the node's local keys, which are all keys
    /// only when every node holds every key (one node, or N = members);
    /// otherwise only the type must match.
    DbSize,
    /// HKEYS, HVALS, SMEMBERS, whole-set SPOP/SRANDMEMBER: Redis's order
    /// is unspecified (a hash table's) and ringlab's is sorted, so the
    /// reply's header (type and length) must match and its elements must
    /// be the same multiset.
    Unordered,
    /// HGETALL: as [`Check::Unordered`], with the elements taken as
    /// field-value pairs (a RESP3 map's entries, or a RESP2 array's
    /// consecutive elements), so a value under the wrong field fails.
    UnorderedPairs,
    /// SCAN with a COUNT that covers the keyspace: the cursor must be
    /// equal (`0`: done in one call) and the keys the same multiset
    /// (Redis's order is its hash table's, ringlab's its own positions').
    ScanAll,
    /// MEMORY USAGE, OBJECT IDLETIME, OBJECT FREQ: each server's own bytes,
    /// clock and counter; only the reply's type must match.
    TypeOnly,
}

use Check::{
    DbSize, Exact, Hello, InfoType, ScanAll, Time, TypeOnly, Unordered, UnorderedPairs, Wait,
};

/// The ringlab side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ours {
    /// One node.
    Single,
    /// A cluster whose every node holds every key (N = members).
    Replicated,
    /// A cluster with more members than N.
    Partitioned,
}

/// The commands of one run, sent on one connection in this order. The run
/// starts from an empty keyspace. Avoided on purpose: anything whose reply
/// depends on the millisecond it runs at (PTTL), the servers' own counters
/// (CLIENT ID, DBSIZE of other tests), and the command table (COMMAND
/// INFO/COUNT: ringlab describes fewer commands and no key specs).
const SCRIPT: &[(&[&str], Check)] = &[
    (&["HELLO"], Hello),
    (&["PING"], Exact),
    (&["PING", "hi"], Exact),
    (&["ECHO", "x y"], Exact),
    (&["GET", "nope"], Exact),
    (&["SET", "k", "v"], Exact),
    (&["GET", "k"], Exact),
    (&["SET", "k", "w", "NX"], Exact),
    (&["SET", "k", "w", "XX", "GET"], Exact),
    (&["SET", "k2", "w", "XX", "GET"], Exact),
    (&["SET", "k2", "w", "NX", "GET"], Exact),
    (&["SET", "k", "v", "EX", "0"], Exact),
    (&["SET", "k", "v", "BOGUS"], Exact),
    (&["GETDEL", "k2"], Exact),
    (&["GETDEL", "k2"], Exact),
    (&["MSET", "a", "1", "b", "2"], Exact),
    (&["MGET", "a", "nope", "b"], Exact),
    (&["INCR", "a"], Exact),
    (&["INCRBY", "a", "10"], Exact),
    (&["DECR", "a"], Exact),
    (&["DECRBY", "a", "x"], Exact),
    (&["INCR", "k"], Exact),
    (&["EXISTS", "a", "b", "nope", "a"], Exact),
    (&["EXPIRE", "a", "100"], Exact),
    (&["TTL", "a"], Exact),
    (&["EXPIRE", "a", "50", "GT"], Exact),
    (&["EXPIRE", "a", "50", "NX", "XX"], Exact),
    (&["TTL", "nope"], Exact),
    (&["TTL", "b"], Exact),
    (&["PERSIST", "a"], Exact),
    (&["PERSIST", "a"], Exact),
    (&["DEL", "a", "b", "nope"], Exact),
    (&["CLIENT", "GETNAME"], Exact),
    (&["CLIENT", "SETNAME", "me"], Exact),
    (&["CLIENT", "GETNAME"], Exact),
    (&["CLIENT", "KILL", "10.9.9.9:1"], Exact),
    (&["CLIENT", "KILL", "ID", "999999"], Exact),
    (
        &["CLIENT", "KILL", "ADDR", "10.9.9.9:1", "SKIPME", "no"],
        Exact,
    ),
    (&["CLIENT", "KILL", "ID", "0"], Exact),
    (&["CLIENT", "KILL", "ID", "x"], Exact),
    (&["CLIENT", "KILL", "TYPE", "bogus"], Exact),
    (&["CLIENT", "KILL", "TYPE", "master"], Exact),
    (&["CLIENT", "KILL", "USER", "nobody"], Exact),
    (&["CLIENT", "KILL", "SKIPME", "maybe"], Exact),
    (&["CLIENT", "KILL", "ID", "1", "BOGUS"], Exact),
    (&["CLIENT", "KILL", "ID"], Exact),
    (&["CLIENT", "KILL"], Exact),
    (&["CONFIG", "GET", "slowlog*"], UnorderedPairs),
    (&["CONFIG", "SET", "slowlog-log-slower-than", "-2"], Exact),
    (&["CONFIG", "SET", "slowlog-log-slower-than", "1.5"], Exact),
    (&["CONFIG", "SET", "slowlog-max-len", "-1"], Exact),
    (&["SLOWLOG", "GET", "1", "2"], Exact),
    (&["SLOWLOG", "LEN", "1"], Exact),
    (&["SLOWLOG", "RESET", "1"], Exact),
    (&["SLOWLOG", "GET", "x"], Exact),
    (&["SLOWLOG", "GET", "-2"], Exact),
    (&["SLOWLOG", "foo"], Exact),
    (&["SLOWLOG"], Exact),
    (&["SLOWLOG", "HELP"], Exact),
    (&["SLOWLOG", "RESET"], Exact),
    (&["CONFIG", "GET", "appendonly"], Exact),
    (&["CONFIG", "GET", "maxmemory"], Exact),
    (&["SELECT", "0"], Exact),
    // redis-server runs with `--databases 1`, as ringlab has one database.
    (&["SELECT", "1"], Exact),
    (&["INFO", "server"], InfoType),
    // Strings.
    (&["SETEX", "se", "100", "v"], Exact),
    (&["TTL", "se"], Exact),
    (&["SETEX", "se", "0", "v"], Exact),
    (&["SETEX", "se", "x", "v"], Exact),
    (&["PSETEX", "pse", "100000", "v"], Exact),
    (&["PSETEX", "pse", "-1", "v"], Exact),
    (&["SETNX", "nx", "1"], Exact),
    (&["SETNX", "nx", "2"], Exact),
    (&["GET", "nx"], Exact),
    (&["GETSET", "nx", "3"], Exact),
    (&["GETSET", "gs-new", "1"], Exact),
    (&["GETEX", "nope"], Exact),
    (&["GETEX", "nx"], Exact),
    (&["GETEX", "nx", "EX", "100"], Exact),
    (&["TTL", "nx"], Exact),
    (&["GETEX", "nx", "PERSIST"], Exact),
    (&["TTL", "nx"], Exact),
    (&["GETEX", "nx", "EXAT", "4000000000"], Exact),
    (&["EXPIRETIME", "nx"], Exact),
    (&["GETEX", "nx", "PXAT", "4000000000123"], Exact),
    (&["PEXPIRETIME", "nx"], Exact),
    (&["GETEX", "nx", "EX", "0"], Exact),
    (&["GETEX", "nx", "EX", "1", "PX", "1"], Exact),
    (&["GETEX", "nx", "FOO"], Exact),
    (&["GETEX", "nx", "PXAT", "1"], Exact),
    (&["EXISTS", "nx"], Exact),
    (&["MSETNX", "m1", "1", "m2", "2"], Exact),
    (&["MSETNX", "m2", "x", "m3", "3"], Exact),
    (&["MGET", "m1", "m2", "m3"], Exact),
    (&["MSETNX", "m1", "1", "m2"], Exact),
    (&["APPEND", "ap", "Hello"], Exact),
    (&["APPEND", "ap", " World"], Exact),
    (&["STRLEN", "ap"], Exact),
    (&["STRLEN", "nope"], Exact),
    (&["GETRANGE", "ap", "0", "4"], Exact),
    (&["GETRANGE", "ap", "-3", "-1"], Exact),
    (&["GETRANGE", "ap", "0", "-1"], Exact),
    (&["GETRANGE", "ap", "10", "100"], Exact),
    (&["GETRANGE", "ap", "5", "3"], Exact),
    (&["GETRANGE", "ap", "-1", "-5"], Exact),
    (&["GETRANGE", "nope", "0", "-1"], Exact),
    (&["GETRANGE", "ap", "x", "1"], Exact),
    (&["SETRANGE", "ap", "6", "Redis"], Exact),
    (&["GET", "ap"], Exact),
    (&["SETRANGE", "sr", "3", "ab"], Exact),
    (&["GET", "sr"], Exact),
    (&["SETRANGE", "sr-none", "3", ""], Exact),
    (&["EXISTS", "sr-none"], Exact),
    (&["SETRANGE", "sr", "-1", "x"], Exact),
    (&["SETRANGE", "sr", "536870912", "x"], Exact),
    (&["INCRBYFLOAT", "fl", "10.5"], Exact),
    (&["INCRBYFLOAT", "fl", "0.1"], Exact),
    (&["INCRBYFLOAT", "fl", "-5"], Exact),
    (&["INCRBYFLOAT", "fl", "abc"], Exact),
    (&["INCRBYFLOAT", "ap", "1"], Exact),
    (&["SET", "fl-int", "3"], Exact),
    (&["INCRBYFLOAT", "fl-int", "1.5"], Exact),
    // Redis adds in long double and prints 17 decimals: sums that are not
    // exact in binary can differ in the last digits from ringlab's f64
    // (10.6 + 5000 is "5005.60000000000000009" in Redis, "5005.6" here),
    // so the script keeps to sums both represent alike.
    (&["INCRBYFLOAT", "fl-int", "2.0e3"], Exact),
    // Keys.
    (&["SET", "u1", "1"], Exact),
    (&["UNLINK", "u1", "u2"], Exact),
    (&["TYPE", "ap"], Exact),
    (&["TYPE", "nope"], Exact),
    (&["TOUCH", "ap", "nope", "ap"], Exact),
    (&["EXPIREAT", "ap", "4000000000"], Exact),
    (&["EXPIRETIME", "ap"], Exact),
    (&["PEXPIRETIME", "ap"], Exact),
    (&["EXPIREAT", "ap", "3000000000", "GT"], Exact),
    (&["PEXPIREAT", "ap", "3000000000000", "LT"], Exact),
    (&["EXPIRETIME", "ap"], Exact),
    (&["EXPIRETIME", "sr"], Exact),
    (&["EXPIRETIME", "nope"], Exact),
    (&["PEXPIREAT", "sr", "1"], Exact),
    (&["EXISTS", "sr"], Exact),
    (&["EXPIREAT", "ap", "x"], Exact),
    (&["RENAME", "nope", "x"], Exact),
    (&["RENAME", "ap", "ap2"], Exact),
    (&["EXISTS", "ap"], Exact),
    (&["GET", "ap2"], Exact),
    (&["EXPIRETIME", "ap2"], Exact),
    (&["RENAME", "ap2", "ap2"], Exact),
    (&["SET", "rn", "x"], Exact),
    (&["RENAMENX", "ap2", "rn"], Exact),
    (&["RENAMENX", "ap2", "ap2"], Exact),
    (&["RENAMENX", "ap2", "ap3"], Exact),
    (&["RENAMENX", "nope", "ap3"], Exact),
    (&["COPY", "ap3", "cp"], Exact),
    (&["COPY", "ap3", "cp"], Exact),
    (&["COPY", "rn", "cp", "REPLACE"], Exact),
    (&["GET", "cp"], Exact),
    (&["COPY", "nope", "cp"], Exact),
    (&["COPY", "cp", "cp"], Exact),
    (&["COPY", "cp", "cp2", "DB", "0"], Exact),
    (&["COPY", "cp", "cp3", "DB", "1"], Exact),
    (&["COPY", "cp", "cp3", "BOGUS"], Exact),
    // Hashes (HGETALL, HKEYS, HVALS: Redis's order is unspecified).
    (&["HSET", "h", "f1", "v1", "f2", "v2"], Exact),
    (&["HSET", "h", "f1", "x", "f3", "v3"], Exact),
    (&["HSET", "h", "f1"], Exact),
    (&["HMSET", "h", "a", "1", "b", "2"], Exact),
    (&["HMSET", "h", "a"], Exact),
    (&["HSETNX", "h", "a", "9"], Exact),
    (&["HSETNX", "h", "n", "9"], Exact),
    (&["HGET", "h", "f1"], Exact),
    (&["HGET", "h", "nope"], Exact),
    (&["HGET", "nokey", "f"], Exact),
    (&["HMGET", "h", "f1", "nope", "a"], Exact),
    (&["HMGET", "nokey", "a", "b"], Exact),
    (&["HGETALL", "h"], UnorderedPairs),
    (&["HGETALL", "nokey"], Exact),
    (&["HKEYS", "h"], Unordered),
    (&["HVALS", "h"], Unordered),
    (&["HLEN", "h"], Exact),
    (&["HLEN", "nokey"], Exact),
    (&["HEXISTS", "h", "a"], Exact),
    (&["HEXISTS", "h", "zz"], Exact),
    (&["HSTRLEN", "h", "f3"], Exact),
    (&["HSTRLEN", "h", "zz"], Exact),
    (&["HDEL", "h", "a", "zz", "b"], Exact),
    (&["HDEL", "h", "zz"], Exact),
    (&["HINCRBY", "h", "cnt", "5"], Exact),
    (&["HINCRBY", "h", "cnt", "-2"], Exact),
    (&["HINCRBY", "h", "f1", "1"], Exact),
    (&["HINCRBY", "h", "cnt", "x"], Exact),
    (&["HINCRBY", "h", "cnt", "9223372036854775807"], Exact),
    (&["HINCRBYFLOAT", "h", "fl", "10.5"], Exact),
    (&["HINCRBYFLOAT", "h", "fl", "0.25"], Exact),
    (&["HINCRBYFLOAT", "h", "f1", "1"], Exact),
    (&["HINCRBYFLOAT", "h", "fl", "abc"], Exact),
    (&["HDEL", "h", "f1", "f2", "f3", "n", "cnt", "fl"], Exact),
    (&["EXISTS", "h"], Exact),
    (&["SET", "str", "v"], Exact),
    (&["HGET", "str", "f"], Exact),
    (&["HSET", "str", "f", "v"], Exact),
    (&["TYPE", "str"], Exact),
    (&["HSET", "h2", "x", "1"], Exact),
    (&["TYPE", "h2"], Exact),
    (&["GET", "h2"], Exact),
    (&["INCR", "h2"], Exact),
    (&["APPEND", "h2", "x"], Exact),
    (&["STRLEN", "h2"], Exact),
    (&["MGET", "h2", "str"], Exact),
    (&["SET", "h2", "plain"], Exact),
    (&["TYPE", "h2"], Exact),
    // Lists.
    (&["LPUSH", "l", "a", "b", "c"], Exact),
    (&["RPUSH", "l", "d", "e"], Exact),
    (&["LPUSHX", "l", "z"], Exact),
    (&["RPUSHX", "nol", "z"], Exact),
    (&["LPUSHX", "nol", "z"], Exact),
    (&["LLEN", "l"], Exact),
    (&["LLEN", "nol"], Exact),
    (&["LRANGE", "l", "0", "-1"], Exact),
    (&["LRANGE", "l", "1", "2"], Exact),
    (&["LRANGE", "l", "-2", "-1"], Exact),
    (&["LRANGE", "l", "5", "10"], Exact),
    (&["LRANGE", "l", "x", "1"], Exact),
    (&["LRANGE", "nol", "0", "-1"], Exact),
    (&["LINDEX", "l", "0"], Exact),
    (&["LINDEX", "l", "-1"], Exact),
    (&["LINDEX", "l", "99"], Exact),
    (&["LINDEX", "l", "x"], Exact),
    (&["LSET", "l", "0", "Z"], Exact),
    (&["LSET", "l", "99", "Z"], Exact),
    (&["LSET", "nol", "0", "Z"], Exact),
    (&["LRANGE", "l", "0", "-1"], Exact),
    (&["RPUSH", "l", "a", "a", "b", "a"], Exact),
    (&["LREM", "l", "2", "a"], Exact),
    (&["LRANGE", "l", "0", "-1"], Exact),
    (&["LREM", "l", "-1", "a"], Exact),
    (&["LREM", "l", "0", "zz"], Exact),
    (&["LRANGE", "l", "0", "-1"], Exact),
    (&["LTRIM", "l", "1", "-2"], Exact),
    (&["LRANGE", "l", "0", "-1"], Exact),
    (&["LPOP", "l"], Exact),
    (&["RPOP", "l"], Exact),
    (&["LPOP", "l", "2"], Exact),
    (&["RPOP", "l", "0"], Exact),
    (&["LPOP", "l", "-1"], Exact),
    (&["LPOP", "l", "x"], Exact),
    (&["LPOP", "l", "1", "2"], Exact),
    (&["LPOP", "nol"], Exact),
    (&["LPOP", "nol", "2"], Exact),
    (&["RPOP", "l", "10"], Exact),
    (&["EXISTS", "l"], Exact),
    (&["LTRIM", "nol", "0", "1"], Exact),
    (&["TYPE", "l"], Exact),
    (&["RPUSH", "l2", "x"], Exact),
    (&["TYPE", "l2"], Exact),
    (&["LPUSH", "str", "x"], Exact),
    (&["LRANGE", "str", "0", "1"], Exact),
    // Sets (SMEMBERS and whole-set SPOP/SRANDMEMBER: order unspecified).
    (&["SADD", "s", "a", "b", "c"], Exact),
    (&["SADD", "s", "a", "d"], Exact),
    (&["SREM", "s", "d", "zz"], Exact),
    (&["SREM", "s", "zz"], Exact),
    (&["SCARD", "s"], Exact),
    (&["SCARD", "nos"], Exact),
    (&["SMEMBERS", "s"], Unordered),
    (&["SMEMBERS", "nos"], Exact),
    (&["SISMEMBER", "s", "a"], Exact),
    (&["SISMEMBER", "s", "zz"], Exact),
    (&["SMISMEMBER", "s", "a", "zz", "b"], Exact),
    (&["SMISMEMBER", "nos", "a"], Exact),
    (&["SRANDMEMBER", "nos"], Exact),
    (&["SRANDMEMBER", "nos", "2"], Exact),
    (&["SRANDMEMBER", "s", "10"], Unordered),
    (&["SRANDMEMBER", "s", "0"], Exact),
    (&["SRANDMEMBER", "s", "x"], Exact),
    (&["SRANDMEMBER", "s", "1", "2"], Exact),
    (&["SPOP", "nos"], Exact),
    (&["SPOP", "nos", "2"], Exact),
    (&["SPOP", "s", "0"], Exact),
    (&["SPOP", "s", "-1"], Exact),
    (&["SPOP", "s", "1", "2"], Exact),
    (&["SPOP", "s", "10"], Unordered),
    (&["EXISTS", "s"], Exact),
    (&["SADD", "s1", "only"], Exact),
    (&["SPOP", "s1"], Exact),
    (&["EXISTS", "s1"], Exact),
    (&["SADD", "s2", "q"], Exact),
    (&["TYPE", "s2"], Exact),
    (&["SADD", "str", "x"], Exact),
    (&["SMEMBERS", "str"], Exact),
    // Set algebra: each source read through its own replicas (Redis's
    // member order is unspecified: compared as sets).
    (&["SADD", "sa", "a", "b", "c", "d"], Exact),
    (&["SADD", "sb", "c", "d", "e"], Exact),
    (&["SADD", "sc", "d", "x"], Exact),
    (&["SINTER", "sa", "sb"], Unordered),
    (&["SINTER", "sa", "sb", "sc"], Unordered),
    (&["SINTER", "sa"], Unordered),
    (&["SINTER", "sa", "nos"], Exact),
    (&["SINTER", "nos", "str"], Exact),
    (&["SUNION", "sa", "sb", "nos"], Unordered),
    (&["SUNION", "nos"], Exact),
    (&["SUNION", "sa", "str"], Exact),
    (&["SDIFF", "sa", "sb"], Unordered),
    (&["SDIFF", "sa", "sb", "sc"], Unordered),
    (&["SDIFF", "sa", "nos"], Unordered),
    (&["SDIFF", "nos", "sa"], Exact),
    (&["SDIFF", "str", "sa"], Exact),
    (&["SINTERCARD", "2", "sa", "sb"], Exact),
    (&["SINTERCARD", "2", "sa", "sb", "LIMIT", "1"], Exact),
    (&["SINTERCARD", "2", "sa", "sb", "limit", "0"], Exact),
    (&["SINTERCARD", "1", "nos"], Exact),
    (&["SINTERCARD", "0", "sa"], Exact),
    (&["SINTERCARD", "x", "sa"], Exact),
    (&["SINTERCARD", "3", "sa", "sb"], Exact),
    (&["SINTERCARD", "1", "sa", "LIMIT"], Exact),
    (&["SINTERCARD", "1", "sa", "LIMIT", "-1"], Exact),
    (&["SINTERCARD", "1", "sa", "LIMIT", "x"], Exact),
    (&["SINTERCARD", "1", "sa", "BOGUS", "1"], Exact),
    (&["SINTERCARD", "2", "sa", "str"], Exact),
    (&["SINTERCARD", "1"], Exact),
    (&["SINTERSTORE", "sd", "sa", "sb"], Exact),
    (&["SMEMBERS", "sd"], Unordered),
    (&["SUNIONSTORE", "sd", "sa", "sc"], Exact),
    (&["SCARD", "sd"], Exact),
    (&["SDIFFSTORE", "sd", "sa", "sb", "sc"], Exact),
    (&["SMEMBERS", "sd"], Unordered),
    (&["SET", "sstr", "v"], Exact),
    (&["EXPIRE", "sstr", "100"], Exact),
    (&["SINTERSTORE", "sstr", "sa", "sb"], Exact),
    (&["TYPE", "sstr"], Exact),
    (&["TTL", "sstr"], Exact),
    (&["SINTERSTORE", "sd", "sa", "nos"], Exact),
    (&["EXISTS", "sd"], Exact),
    (&["SUNIONSTORE", "sd", "nos"], Exact),
    (&["SDIFFSTORE", "sa", "sa", "sb"], Exact),
    (&["SMEMBERS", "sa"], Unordered),
    (&["SUNIONSTORE", "x1", "str"], Exact),
    (&["EXISTS", "x1"], Exact),
    (&["SINTER"], Exact),
    (&["SINTERSTORE", "d"], Exact),
    // Sorted sets.
    (&["ZADD", "z", "1", "a", "2", "b", "3", "c"], Exact),
    (&["ZADD", "z", "0.1", "d", "1e20", "e", "inf", "f"], Exact),
    (&["ZADD", "z", "-inf", "g"], Exact),
    (&["ZADD", "z", "1", "a"], Exact),
    (&["ZADD", "z", "CH", "5", "a", "2", "b"], Exact),
    (&["ZADD", "z", "NX", "9", "a", "9", "h"], Exact),
    (&["ZADD", "z", "XX", "10", "a", "10", "zz"], Exact),
    (&["ZADD", "z", "GT", "1", "a"], Exact),
    (&["ZADD", "z", "LT", "1", "a"], Exact),
    (&["ZADD", "z", "GT", "CH", "20", "a"], Exact),
    (&["ZADD", "z", "NX", "XX", "1", "a"], Exact),
    (&["ZADD", "z", "GT", "LT", "1", "a"], Exact),
    (&["ZADD", "z", "NX", "GT", "1", "a"], Exact),
    (&["ZADD", "z", "INCR", "1", "a", "2", "b"], Exact),
    (&["ZADD", "z", "INCR", "2.5", "a"], Exact),
    (&["ZADD", "z", "NX", "INCR", "1", "a"], Exact),
    (&["ZADD", "z", "XX", "INCR", "1", "nope"], Exact),
    (&["ZADD", "z", "x", "a"], Exact),
    (&["ZADD", "z", "1"], Exact),
    (&["ZADD", "z", "1", "a", "2"], Exact),
    (&["ZADD", "z", "nan", "a"], Exact),
    (&["ZINCRBY", "z", "1.5", "b"], Exact),
    (&["ZINCRBY", "z", "x", "b"], Exact),
    (&["ZINCRBY", "z", "1", "newm"], Exact),
    (&["ZSCORE", "z", "a"], Exact),
    (&["ZSCORE", "z", "nope"], Exact),
    (&["ZSCORE", "noz", "a"], Exact),
    (&["ZMSCORE", "z", "a", "nope", "d"], Exact),
    (&["ZMSCORE", "noz", "a"], Exact),
    (&["ZCARD", "z"], Exact),
    (&["ZCARD", "noz"], Exact),
    (&["ZRANGE", "z", "0", "-1"], Exact),
    (&["ZRANGE", "z", "0", "-1", "WITHSCORES"], Exact),
    (&["ZRANGE", "z", "0", "1", "REV", "WITHSCORES"], Exact),
    (&["ZRANGE", "z", "-2", "-1"], Exact),
    (&["ZRANGE", "z", "1", "0"], Exact),
    (&["ZRANGE", "z", "0", "1", "WITHSCORES", "BOGUS"], Exact),
    (&["ZRANGE", "z", "x", "1"], Exact),
    (&["ZRANGE", "z", "1", "3", "BYSCORE"], Exact),
    (
        &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "WITHSCORES"],
        Exact,
    ),
    (&["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV"], Exact),
    (
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
        Exact,
    ),
    (
        &[
            "ZRANGE",
            "z",
            "-inf",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "-1",
            "WITHSCORES",
        ],
        Exact,
    ),
    (&["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"], Exact),
    (&["ZRANGE", "z", "x", "y", "BYSCORE"], Exact),
    (&["ZRANGE", "noz", "0", "-1"], Exact),
    (&["ZRANGEBYSCORE", "z", "-inf", "+inf"], Exact),
    (&["ZRANGEBYSCORE", "z", "1", "(3", "WITHSCORES"], Exact),
    (
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "2"],
        Exact,
    ),
    (&["ZRANGEBYSCORE", "z", "a", "b"], Exact),
    (&["ZRANGEBYSCORE", "z", "0", "1", "REV"], Exact),
    (&["ZREVRANGEBYSCORE", "z", "+inf", "1"], Exact),
    (&["ZREVRANGE", "z", "0", "2"], Exact),
    (&["ZREVRANGE", "z", "0", "-1", "WITHSCORES"], Exact),
    (&["ZRANK", "z", "a"], Exact),
    (&["ZRANK", "z", "nope"], Exact),
    (&["ZREVRANK", "z", "a"], Exact),
    (&["ZRANK", "noz", "a"], Exact),
    (&["ZCOUNT", "z", "-inf", "+inf"], Exact),
    (&["ZCOUNT", "z", "(1", "3"], Exact),
    (&["ZCOUNT", "z", "x", "1"], Exact),
    (&["ZCOUNT", "noz", "0", "1"], Exact),
    (&["ZREM", "z", "a", "nope"], Exact),
    (&["ZREM", "z", "nope"], Exact),
    (&["ZPOPMIN", "z"], Exact),
    (&["ZPOPMAX", "z"], Exact),
    (&["ZPOPMIN", "z", "2"], Exact),
    (&["ZPOPMAX", "z", "0"], Exact),
    (&["ZPOPMIN", "z", "-1"], Exact),
    (&["ZPOPMIN", "z", "1", "2"], Exact),
    (&["ZPOPMIN", "noz"], Exact),
    (&["ZPOPMIN", "noz", "3"], Exact),
    (&["ZPOPMAX", "z", "100"], Exact),
    (&["EXISTS", "z"], Exact),
    (&["ZADD", "z2", "1", "m"], Exact),
    (&["TYPE", "z2"], Exact),
    (&["ZADD", "str", "1", "m"], Exact),
    (&["ZSCORE", "str", "m"], Exact),
    (
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
        Exact,
    ),
    (&["ZRANGE", "lex", "[b", "(d", "BYLEX"], Exact),
    (
        &["ZRANGE", "lex", "-", "+", "BYLEX", "LIMIT", "1", "2"],
        Exact,
    ),
    (&["ZRANGE", "lex", "+", "-", "BYLEX", "REV"], Exact),
    (&["ZRANGE", "lex", "b", "d", "BYLEX"], Exact),
    (&["ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"], Exact),
    // Collections under the key commands.
    (&["RENAME", "h2", "h3"], Exact),
    (&["TYPE", "h3"], Exact),
    (&["COPY", "z2", "z3"], Exact),
    (&["ZSCORE", "z3", "m"], Exact),
    (&["DBSIZE"], DbSize),
    // Introspection, on values whose Redis encoding their contents decide.
    (&["SET", "oi", "123"], Exact),
    (&["SET", "oe", "hello"], Exact),
    (
        &[
            "SET",
            "or",
            "0123456789012345678901234567890123456789012345",
        ],
        Exact,
    ),
    (&["SADD", "si", "1", "2", "3"], Exact),
    (&["HSET", "ho", "f", "v"], Exact),
    (&["OBJECT", "ENCODING", "oi"], Exact),
    (&["OBJECT", "ENCODING", "oe"], Exact),
    (&["OBJECT", "ENCODING", "or"], Exact),
    (&["OBJECT", "ENCODING", "si"], Exact),
    (&["OBJECT", "ENCODING", "s2"], Exact),
    (&["OBJECT", "ENCODING", "ho"], Exact),
    (&["OBJECT", "ENCODING", "l2"], Exact),
    (&["OBJECT", "ENCODING", "lex"], Exact),
    (&["OBJECT", "encoding", "nope"], Exact),
    (&["OBJECT", "REFCOUNT", "oi"], Exact),
    (&["OBJECT", "REFCOUNT", "oe"], Exact),
    (&["OBJECT", "REFCOUNT", "nope"], Exact),
    (&["OBJECT", "FREQ", "oe"], Exact),
    (&["OBJECT", "FREQ", "nope"], Exact),
    (&["OBJECT", "IDLETIME", "oe"], TypeOnly),
    (&["OBJECT", "IDLETIME", "nope"], Exact),
    (&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], Exact),
    (&["OBJECT", "FREQ", "oe"], TypeOnly),
    (&["OBJECT", "IDLETIME", "oe"], Exact),
    (&["CONFIG", "SET", "maxmemory-policy", "noeviction"], Exact),
    (&["OBJECT", "HELP"], Exact),
    (&["OBJECT", "help", "x"], Exact),
    (&["OBJECT", "ENCODING"], Exact),
    (&["OBJECT", "ENCODING", "a", "b"], Exact),
    (&["OBJECT", "BOGUS"], Exact),
    (&["OBJECT"], Exact),
    (&["MEMORY", "USAGE", "oe"], TypeOnly),
    (&["MEMORY", "USAGE", "ho", "SAMPLES", "0"], TypeOnly),
    (&["MEMORY", "usage", "nope"], Exact),
    (&["MEMORY", "USAGE", "oe", "SAMPLES", "-1"], Exact),
    (&["MEMORY", "USAGE", "oe", "SAMPLES", "x"], Exact),
    (&["MEMORY", "USAGE", "oe", "SAMPLES"], Exact),
    (&["MEMORY", "USAGE", "oe", "BOGUS"], Exact),
    (&["MEMORY", "USAGE"], Exact),
    (&["MEMORY", "BOGUS"], Exact),
    // Iteration: every key once, whichever replicas hold it; none of the
    // deleted (u1, k2, a, b...) or expired (sr) keys above.
    (&["KEYS", "*"], Unordered),
    (&["KEYS", "z*"], Unordered),
    (&["KEYS", "?p*"], Unordered),
    (&["KEYS", "[hl]?"], Unordered),
    (&["KEYS", "[^a-m]*"], Unordered),
    (&["KEYS", "[z-a]?"], Unordered),
    (&["KEYS", "*[0-9]"], Unordered),
    (&["KEYS", "s\\tr"], Unordered),
    (&["KEYS", "s[\\]]*"], Unordered),
    (&["KEYS", "h[3"], Unordered),
    (&["KEYS", "nomatch*"], Exact),
    (&["KEYS"], Exact),
    (&["SCAN", "0", "COUNT", "1000"], ScanAll),
    (&["SCAN", "0", "MATCH", "s*", "COUNT", "1000"], ScanAll),
    (&["SCAN", "0", "match", "**", "count", "1000"], ScanAll),
    (&["SCAN", "0", "TYPE", "zset", "COUNT", "1000"], ScanAll),
    (&["SCAN", "0", "TYPE", "STRING", "COUNT", "1000"], ScanAll),
    (
        &["SCAN", "0", "TYPE", "nosuchtype", "COUNT", "1000"],
        ScanAll,
    ),
    (
        &["SCAN", "0", "COUNT", "1000", "MATCH", "*", "TYPE", "hash"],
        ScanAll,
    ),
    (&["SCAN", "x"], Exact),
    (&["SCAN", "1x"], Exact),
    (&["SCAN", " 1"], Exact),
    (&["SCAN", "99999999999999999999"], Exact),
    (&["SCAN", "0", "COUNT", "0"], Exact),
    (&["SCAN", "0", "COUNT", "-1"], Exact),
    (&["SCAN", "0", "COUNT", "x"], Exact),
    (&["SCAN", "0", "MATCH"], Exact),
    (&["SCAN", "0", "BOGUS", "x"], Exact),
    (&["SCAN", "0", "COUNT", "0", "BOGUS"], Exact),
    (&["SCAN"], Exact),
    // Server.
    (&["TIME"], Time),
    (&["TIME", "x"], Exact),
    (&["WAIT", "0", "0"], Wait),
    (&["WAIT", "x", "0"], Exact),
    (&["WAIT", "0", "-1"], Exact),
    (&["FLUSHDB", "BOGUS"], Exact),
    (&["FLUSHDB"], Exact),
    (&["DBSIZE"], DbSize),
    (&["GET"], Exact),
    (&["NOSUCHCMD", "a"], Exact),
    (&["HELLO", "4"], Exact),
    (&["HELLO", "3", "BOGUS"], Exact),
];

/// A blocking connection that sends raw commands and reads raw replies.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `words` as a RESP array and returns the whole reply's bytes.
    fn call(&mut self, words: &[&str]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", words.len()).into_bytes();
        for w in words {
            req.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
        }
        self.stream.write_all(&req).expect("send");
        loop {
            if let Some(n) = reply_len(&self.buf, 0) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read a reply");
            assert!(n > 0, "the server closed the connection after {words:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The length of the RESP2/RESP3 reply starting at `at`, once complete.
fn reply_len(buf: &[u8], at: usize) -> Option<usize> {
    let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&buf[at + 1..end]).ok()?;
    let after = end + 2;
    let count = |per: usize| -> Option<usize> {
        let n: i64 = head.parse().ok()?;
        let mut pos = after;
        for _ in 0..n.max(0) as usize * per {
            pos += reply_len(buf, pos)?;
        }
        Some(pos - at)
    };
    match buf[at] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after - at),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after - at);
            }
            let total = after + n as usize + 2;
            (buf.len() >= total).then_some(total - at)
        }
        b'*' | b'~' | b'>' => count(1),
        b'%' | b'|' => count(2),
        other => panic!("not a RESP reply type: {:?}", other as char),
    }
}

/// HELLO's reply with the `version` and `id` values masked.
fn mask_hello(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let mut out = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(line) = lines.next() {
        out.push(line.to_string());
        if line == "version" {
            lines.next();
            lines.next();
            out.push("<version>".into());
        } else if line == "id" {
            lines.next();
            out.push("<id>".into());
        }
    }
    out.join("\r\n")
}

/// An aggregate reply as its header line and its elements (each element's
/// raw bytes, `per` consecutive elements joined), the elements sorted.
fn sorted_elements(reply: &[u8], per: usize) -> String {
    let Some(head_end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return String::from_utf8_lossy(reply).into_owned();
    };
    let mut at = head_end + 2;
    let mut elems = Vec::new();
    while at < reply.len() {
        let n = reply_len(reply, at).expect("a whole reply");
        elems.push(&reply[at..at + n]);
        at += n;
    }
    let mut groups: Vec<Vec<u8>> = elems.chunks(per).map(|c| c.concat()).collect();
    groups.sort();
    let mut out = String::from_utf8_lossy(&reply[..head_end]).into_owned();
    for g in groups {
        out.push_str(" | ");
        out.push_str(&String::from_utf8_lossy(&g));
    }
    out
}

/// A SCAN reply as its cursor and its keys, sorted.
fn scan_page(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    if !reply.starts_with(b"*2\r\n") {
        return text;
    }
    let cursor = reply_len(reply, 4).expect("a whole cursor");
    format!(
        "cursor {} keys {}",
        String::from_utf8_lossy(&reply[4..4 + cursor]),
        sorted_elements(&reply[4 + cursor..], 1)
    )
}

/// The reply reduced to what [`Check`] compares against `ours`.
fn comparable(check: Check, reply: &[u8], ours: Ours) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let type_only = format!("type {}", text.chars().next().unwrap_or(' '));
    match check {
        Exact => text,
        Unordered => sorted_elements(reply, 1),
        ScanAll => scan_page(reply),
        UnorderedPairs => sorted_elements(reply, 2),
        Wait if ours == Ours::Single => text,
        DbSize if ours != Ours::Partitioned => text,
        Wait | DbSize | TypeOnly => type_only,
        Time => {
            let parts: Vec<&str> = text.split("\r\n").collect();
            let numeric = parts.len() == 6
                && [2, 4]
                    .iter()
                    .all(|&i| parts[i].bytes().all(|b| b.is_ascii_digit()));
            let minute = parts
                .get(2)
                .and_then(|s| s.parse::<u64>().ok())
                .map(|s| s / 60);
            format!("{} numeric={numeric} minute={minute:?}", parts[0])
        }
        Hello => mask_hello(reply),
        InfoType => match reply.first() {
            Some(b'=') => {
                let body = reply.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                format!(
                    "verbatim {}",
                    String::from_utf8_lossy(&reply[body..body + 4])
                )
            }
            Some(&t) => format!("type {}", t as char),
            None => "nothing".into(),
        },
    }
}

/// Runs the script on both connections and asserts equal replies; `what`
/// names the ringlab side in failures.
fn compare(redis: &mut Raw, ours: &mut Raw, what: &str, side: Ours) {
    for (words, check) in SCRIPT {
        let want = comparable(*check, &redis.call(words), side);
        let got = comparable(*check, &ours.call(words), side);
        assert_eq!(got, want, "{what}: {words:?} (Redis's reply on the right)");
    }
}

/// The whole comparison against one ringlab node: RESP2, then RESP3.
fn compare_both_protocols(redis: SocketAddr, ours: SocketAddr, what: &str, side: Ours) {
    let (mut r, mut o) = (Raw::connect(redis), Raw::connect(ours));
    for c in [&mut r, &mut o] {
        assert_eq!(c.call(&["FLUSHALL"]), b"+OK\r\n");
    }
    compare(&mut r, &mut o, &format!("{what}, RESP2"), side);
    let (hello_r, hello_o) = (r.call(&["HELLO", "3"]), o.call(&["HELLO", "3"]));
    assert_eq!(
        mask_hello(&hello_o),
        mask_hello(&hello_r),
        "{what}: HELLO 3"
    );
    for c in [&mut r, &mut o] {
        assert_eq!(c.call(&["FLUSHALL"]), b"+OK\r\n");
    }
    compare(&mut r, &mut o, &format!("{what}, RESP3"), side);
}

#[test]
fn a_single_node_replies_like_redis_server_in_resp2_and_resp3() {
    let redis = RedisServer::start();
    let c = TestCluster::start(1, |_| {});
    compare_both_protocols(redis.addr, c.addr(0), "one node", Ours::Single);
}

#[test]
fn a_three_node_cluster_replies_like_redis_server_in_resp2_and_resp3() {
    let redis = RedisServer::start();
    let c = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    compare_both_protocols(redis.addr, c.addr(1), "3-node cluster", Ours::Replicated);
}

#[test]
fn a_five_node_cluster_with_keys_on_different_replicas_replies_like_redis_server() {
    let redis = RedisServer::start();
    let c = TestCluster::start(5, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    compare_both_protocols(
        redis.addr,
        c.addr(4),
        "5-node cluster, N=3",
        Ours::Partitioned,
    );
}

/// A SCAN reply's cursor and keys.
fn scan_reply(reply: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(reply).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(
        lines[0] == "*2" && lines[1].starts_with('$'),
        "SCAN answered {text:?}"
    );
    // *2, $len, cursor, *n, then $len and key per key.
    let keys = lines[4..].iter().skip(1).step_by(2).map(|k| k.to_string());
    (lines[2].to_string(), keys.collect())
}

/// SCAN from cursor 0 until it is 0 again, each call through the next of
/// `conns` in turn (any node continues any cursor); the keys in the order
/// they came.
fn scan_to_the_end(conns: &mut [Raw], extra: &[&str]) -> Vec<String> {
    let (mut cursor, mut keys) = ("0".to_string(), Vec::new());
    for turn in 0.. {
        let mut words = vec!["SCAN", cursor.as_str()];
        words.extend_from_slice(extra);
        let (next, page) = scan_reply(&conns[turn % conns.len()].call(&words));
        keys.extend(page);
        if next == "0" {
            break;
        }
        assert!(turn < 100_000, "SCAN {extra:?} never ended");
        cursor = next;
    }
    keys
}

/// The same keys, some deleted and some expired, in Redis and in ringlab:
/// scans run to the end return the same set, and ours each key once.
fn compare_full_scans(redis: SocketAddr, ours: &[SocketAddr], what: &str) {
    let mut r = [Raw::connect(redis)];
    let mut o: Vec<Raw> = ours.iter().map(|&a| Raw::connect(a)).collect();
    for c in r.iter_mut().chain(o.iter_mut().take(1)) {
        assert_eq!(c.call(&["FLUSHALL"]), b"+OK\r\n");
        for i in 0..300 {
            c.call(&["SET", &format!("key:{i}"), "v"]);
        }
        for i in 0..20 {
            c.call(&["HSET", &format!("h:{i}"), "f", "v"]);
            c.call(&["SADD", &format!("s:{i}"), "m"]);
            c.call(&["SET", &format!("exp:{i}"), "v", "PX", "1"]);
        }
        for i in (0..300).step_by(7) {
            c.call(&["DEL", &format!("key:{i}")]);
        }
    }
    // The PX 1 keys expire: poll both servers until none exists (by time,
    // not by a fixed sleep).
    let expiring: Vec<String> = (0..20).map(|i| format!("exp:{i}")).collect();
    let mut exists = vec!["EXISTS"];
    exists.extend(expiring.iter().map(String::as_str));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for c in r.iter_mut().chain(o.iter_mut().take(1)) {
        while c.call(&exists) != b":0\r\n" {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: the PX 1 keys never expired"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let options: [&[&str]; 5] = [
        &[],
        &["COUNT", "7"],
        &["MATCH", "key:1*", "COUNT", "3"],
        &["TYPE", "hash"],
        &["MATCH", "*:1?", "TYPE", "string", "COUNT", "50"],
    ];
    for extra in options {
        let mut want = scan_to_the_end(&mut r, extra);
        want.sort();
        // Redis may repeat a key if its table resized meanwhile; not here.
        want.dedup();
        let mut got = scan_to_the_end(&mut o, extra);
        let returned = got.len();
        got.sort();
        got.dedup();
        assert_eq!(returned, got.len(), "{what}: SCAN {extra:?} repeated a key");
        assert_eq!(
            got, want,
            "{what}: SCAN {extra:?} (Redis's keys on the right)"
        );
    }
}

#[test]
fn scanning_to_cursor_0_returns_each_key_once_as_redis_server_does() {
    let redis = RedisServer::start();
    let one = TestCluster::start(1, |_| {});
    compare_full_scans(redis.addr, &[one.addr(0)], "one node");
    let three = TestCluster::start(3, |cfg| {
        cfg.n = 2;
        cfg.r = 1;
        cfg.w = 2;
    });
    let addrs: Vec<SocketAddr> = (0..3).map(|i| three.addr(i)).collect();
    compare_full_scans(redis.addr, &addrs, "3-node cluster, N=2");
}

/// Whether the server closed the connection (it answers nothing more).
fn closed(c: &mut Raw) -> bool {
    let _ = c.stream.write_all(b"PING\r\n");
    let mut buf = [0u8; 64];
    c.stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    match c.stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// CLIENT KILL by ID, by the legacy address form, by ADDR, and of the
/// caller itself with SKIPME no: each reply, and whether the killed
/// connection (and no other) was closed.
fn kill_transcript(addr: SocketAddr) -> Vec<String> {
    let id = |c: &mut Raw| {
        String::from_utf8_lossy(&c.call(&["CLIENT", "ID"]))[1..]
            .trim()
            .to_string()
    };
    let peer = |c: &Raw| c.stream.local_addr().expect("local addr").to_string();
    let mut killer = Raw::connect(addr);
    let mut out = Vec::new();
    let mut say = |what: &str, reply: Vec<u8>| {
        out.push(format!("{what}: {}", String::from_utf8_lossy(&reply)));
    };
    let mut v1 = Raw::connect(addr);
    let v1_id = id(&mut v1);
    say("by id", killer.call(&["CLIENT", "KILL", "ID", &v1_id]));
    let mut v2 = Raw::connect(addr);
    v2.call(&["PING"]);
    say("legacy", killer.call(&["CLIENT", "KILL", &peer(&v2)]));
    let mut v3 = Raw::connect(addr);
    v3.call(&["PING"]);
    let v3_addr = peer(&v3);
    say(
        "by addr",
        killer.call(&["CLIENT", "KILL", "ADDR", &v3_addr, "TYPE", "normal"]),
    );
    say("again", killer.call(&["CLIENT", "KILL", "ADDR", &v3_addr]));
    let killer_id = id(&mut killer);
    say("skipme", killer.call(&["CLIENT", "KILL", "ID", &killer_id]));
    let mut bystander = Raw::connect(addr);
    say(
        "self",
        killer.call(&["CLIENT", "KILL", "ID", &killer_id, "SKIPME", "no"]),
    );
    out.push(format!(
        "closed: v1 {} v2 {} v3 {} killer {} bystander {}",
        closed(&mut v1),
        closed(&mut v2),
        closed(&mut v3),
        closed(&mut killer),
        closed(&mut bystander)
    ));
    out
}

#[test]
fn client_kill_closes_what_redis_server_closes() {
    let redis = RedisServer::start();
    let want = kill_transcript(redis.addr);
    assert!(
        want.last().is_some_and(|l| l.contains("v1 true")),
        "{want:?}"
    );
    let one = TestCluster::start(1, |_| {});
    assert_eq!(kill_transcript(one.addr(0)), want, "one node");
    let three = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    assert_eq!(kill_transcript(three.addr(1)), want, "3-node cluster");
}

/// A SLOWLOG GET reply with what is each server's own masked: integers
/// (ids, times, durations) and the client's port.
fn mask_slowlog(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply)
        .split("\r\n")
        .map(|l| match l {
            _ if l.starts_with(':') => ":N".to_string(),
            _ if l.starts_with("127.0.0.1:") => "127.0.0.1:PORT".to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// With every command logged (threshold 0) and room for three: what
/// SLOWLOG LEN and GET answer after a few commands, then with the log off.
fn slowlog_transcript(addr: SocketAddr) -> Vec<String> {
    let mut c = Raw::connect(addr);
    let long = "x".repeat(200);
    let mut out = Vec::new();
    let steps: &[&[&str]] = &[
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        &["CONFIG", "SET", "slowlog-max-len", "3"],
        &["SLOWLOG", "RESET"],
        &["SLOWLOG", "LEN"],
        &["SET", "sk", "v"],
        &["CLIENT", "SETNAME", "slow"],
        &["GET", "sk"],
        &["SET", "sk", &long],
        &["AUTH", "secret"],
        &["SLOWLOG", "LEN"],
        &["SLOWLOG", "GET"],
        &["SLOWLOG", "GET", "1"],
        &["CONFIG", "SET", "slowlog-max-len", "128"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        &["SLOWLOG", "RESET"],
        &["GET", "sk"],
        &["SLOWLOG", "GET", "-1"],
    ];
    for words in steps {
        let reply = c.call(words);
        let shown = if words[..2] == ["SLOWLOG", "GET"] {
            mask_slowlog(&reply)
        } else {
            String::from_utf8_lossy(&reply).into_owned()
        };
        out.push(format!("{:?}: {shown}", &words[..words.len().min(2)]));
    }
    out
}

#[test]
fn slowlog_logs_what_redis_server_logs() {
    let redis = RedisServer::start();
    let want = slowlog_transcript(redis.addr);
    assert!(want.iter().any(|l| l.contains("(redacted)")), "{want:?}");
    let one = TestCluster::start(1, |_| {});
    let got = slowlog_transcript(one.addr(0));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "one node");
    }
    let three = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    let got = slowlog_transcript(three.addr(2));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "3-node cluster");
    }
}

#[test]
fn the_reply_scanner_finds_whole_resp3_replies_only() {
    assert_eq!(reply_len(b"%1\r\n$1\r\na\r\n_\r\n", 0), Some(14));
    assert_eq!(reply_len(b"%1\r\n$1\r\na\r\n", 0), None);
    assert_eq!(reply_len(b"=8\r\ntxt:abcd\r\n", 0), Some(14));
    assert_eq!(reply_len(b"*-1\r\n", 0), Some(5));
    assert_eq!(reply_len(b"$3\r\nab", 0), None);
}

#[test]
fn unordered_checks_ignore_order_but_not_content_or_pairing() {
    let a = b"*3\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n";
    let b = b"*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n";
    let c = b"*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n";
    assert_eq!(sorted_elements(a, 1), sorted_elements(b, 1));
    assert_ne!(sorted_elements(a, 1), sorted_elements(c, 1));
    let m1 = b"%2\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n";
    let m2 = b"%2\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nf\r\n$1\r\n1\r\n";
    let swapped = b"%2\r\n$1\r\nf\r\n$1\r\n2\r\n$1\r\ng\r\n$1\r\n1\r\n";
    assert_eq!(sorted_elements(m1, 2), sorted_elements(m2, 2));
    assert_ne!(sorted_elements(m1, 2), sorted_elements(swapped, 2));
    // RESP2 and RESP3 headers differ.
    assert_ne!(sorted_elements(b"*0\r\n", 1), sorted_elements(b"~0\r\n", 1));
}

/// The `redis` crate over RESP3 (`?protocol=resp3`, which opens with
/// `HELLO 3`) against a cluster.
#[test]
fn redis_crate_works_over_resp3() {
    use redis::Commands;
    let c = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    let mut conn = redis::Client::open(format!("redis://{}/?protocol=resp3", c.addr(0)))
        .expect("client")
        .get_connection()
        .expect("a RESP3 connection (HELLO 3 accepted)");
    let () = conn.set("k", "v").unwrap();
    let got: String = conn.get("k").unwrap();
    assert_eq!(got, "v");
    let missing: Option<String> = conn.get("nope").unwrap();
    assert_eq!(missing, None);
    let raw: redis::Value = redis::cmd("GET").arg("nope").query(&mut conn).unwrap();
    assert_eq!(raw, redis::Value::Nil);
    let vals: Vec<Option<String>> = conn.mget(&["k", "nope"]).unwrap();
    assert_eq!(vals, vec![Some("v".into()), None]);
    let cfg: redis::Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut conn)
        .unwrap();
    assert!(matches!(cfg, redis::Value::Map(_)), "{cfg:?}");
    let info: redis::Value = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    assert!(
        matches!(&info, redis::Value::VerbatimString { text, .. } if text.contains("redis_version")),
        "{info:?}"
    );
}
