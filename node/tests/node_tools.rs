//! The stock Redis tools against a node: redis-cli (its output compared
//! with redis-server's, on a node and a 3-node cluster), redis-benchmark's
//! default run, and the real binary's graceful exit on SIGTERM. A missing
//! tool fails the test with a message (scripts/setup installs redis-tools),
//! rather than passing without checking.
#![cfg(not(madsim))]

mod node_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use node_support::{RedisServer, TestCluster};

/// A 3-node cluster with N=3, R=W=2, as the tools' cluster runs use.
fn quorum_cluster() -> TestCluster {
    TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    })
}

fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} not found: install redis-tools (scripts/setup does)"
    );
    found
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_talks_to_a_node() {
    if !have("redis-cli") {
        return;
    }
    let c = TestCluster::start(1, |_| {});
    let port = c.addr(0).port();
    assert_eq!(cli(port, &["PING"]), "PONG\n");
    assert_eq!(cli(port, &["SET", "k", "hello world"]), "OK\n");
    assert_eq!(cli(port, &["GET", "k"]), "hello world\n");
    assert_eq!(cli(port, &["INCR", "n"]), "1\n");
    assert_eq!(cli(port, &["MGET", "k", "n", "x"]), "hello world\n1\n\n");
    assert!(cli(port, &["INFO", "keyspace"]).contains("db0:keys=2"));
    assert!(cli(port, &["NOSUCH"]).starts_with("ERR unknown command 'NOSUCH'"));
    // Commands on stdin, as redis-cli sends in pipe mode.
    assert_eq!(cli_stdin(port, "SET a 1\nGET a\nDBSIZE\n"), "OK\n1\n3\n");
}

#[test]
fn redis_benchmark_runs_set_get_ping() {
    if !have("redis-benchmark") {
        return;
    }
    let c = TestCluster::start(1, |_| {});
    let port = c.addr(0).port().to_string();
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "set,get,ping",
            "-n",
            "2000",
            "-c",
            "10",
        ])
        .args(["-r", "1000", "--csv"])
        .output()
        .expect("run redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for test in ["\"PING_INLINE\"", "\"PING_MBULK\"", "\"SET\"", "\"GET\""] {
        let line = text
            .lines()
            .find(|l| l.starts_with(test))
            .unwrap_or_else(|| panic!("no {test} row in {text}"));
        let rps: f64 = line
            .split(',')
            .nth(1)
            .expect("rps column")
            .trim_matches('"')
            .parse()
            .expect("a number");
        assert!(rps > 0.0, "{line}");
    }
    // SETs reached the store: -r 1000 spreads them over at most 1000 keys.
    let mut conn = c.client(0);
    let size = conn.raw(&["DBSIZE"]);
    let keys: u64 = size.trim_start_matches(':').trim().parse().expect("count");
    assert!((1..=1000).contains(&keys), "{size}");
}

#[test]
fn the_binary_serves_and_exits_0_on_sigterm() {
    if !have("redis-cli") {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringlab-node"))
        .args(["--id", "1", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .expect("start ringlab-node");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the node never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(cli(port, &["SET", "k", "v"]), "OK\n");
    assert_eq!(cli(port, &["GET", "k"]), "v\n");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn the_binary_rejects_bad_flags_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringlab-node"))
        .args(["--id", "9", "--member", "1=127.0.0.1:1"])
        .output()
        .expect("run ringlab-node");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node id 9 is not in the member list"), "{err}");
}

/// The tests of redis-benchmark 7.0's default run (no `-t`), in its order.
const DEFAULT_BENCHMARK: &[&str] = &[
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];

/// Runs redis-benchmark's default test list (`-n 500 -q`) against `port`
/// and asserts that every test completed and no reply was an error
/// (redis-benchmark prints "Error from server" and stops at the first).
fn default_benchmark_completes(port: u16, what: &str) {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-n", "500", "-q"])
        .output()
        .expect("run redis-benchmark");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {out:?}");
    assert!(
        !stdout.contains("Error") && !stderr.contains("Error"),
        "{what}: an error reply:\n{stdout}\n{stderr}"
    );
    // -q rewrites a progress line with \r, then ends each test's line with
    // its result.
    let done: Vec<&str> = stdout
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .filter_map(|l| l.split(": ").next())
        .collect();
    assert_eq!(done, DEFAULT_BENCHMARK, "{what}:\n{stdout}");
}

#[test]
fn redis_benchmark_default_run_completes_on_a_node_and_a_cluster() {
    if !have("redis-benchmark") {
        return;
    }
    let single = TestCluster::start(1, |_| {});
    default_benchmark_completes(single.addr(0).port(), "one node");
    let cluster = quorum_cluster();
    default_benchmark_completes(cluster.addr(1).port(), "3-node cluster");
    // The collections reached the cluster: the list holds what LPUSH and
    // RPUSH left after the pops (last writer wins between racing
    // clients, so only its type is certain).
    let mut conn = cluster.client(0);
    assert_eq!(conn.raw(&["TYPE", "mylist"]).trim(), "+list");
}

/// What redis-cli prints for each command, one process per command (as a
/// user types them), against the server on `port`: its output and exit
/// status (an error reply exits 1).
fn cli_transcript(port: u16, cmds: &[&[&str]]) -> Vec<String> {
    cmds.iter()
        .map(|c| {
            let out = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(*c)
                .output()
                .expect("run redis-cli");
            format!(
                "{}{}exit {:?}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                out.status.code()
            )
        })
        .collect()
}

/// redis-cli prints the same for ringlab as for redis-server: strings,
/// keys, collections, a transaction piped on one connection, errors.
#[test]
fn redis_cli_prints_what_it_prints_for_redis_server() {
    assert!(have("redis-cli"));
    let cmds: &[&[&str]] = &[
        &["FLUSHALL"],
        &["SET", "k", "v", "EX", "100"],
        &["GET", "k"],
        &["TTL", "k"],
        &["INCR", "n"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "b", "nope"],
        &["APPEND", "a", "x"],
        &["TYPE", "a"],
        &["DEL", "a", "nope"],
        &["EXISTS", "a", "b"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HGET", "h", "f"],
        &["HLEN", "h"],
        &["RPUSH", "l", "x", "y", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["LPOP", "l"],
        &["SADD", "s", "m"],
        &["SISMEMBER", "s", "m"],
        &["ZADD", "z", "1", "a", "2.5", "b"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZSCORE", "z", "b"],
        &["HGET", "l", "f"],
        &["GET", "h"],
        &["NOSUCHCOMMAND"],
        &["GET"],
        &["PING"],
        &["ECHO", "hi there"],
        &["DBSIZE"],
    ];
    let redis = RedisServer::start();
    let want = cli_transcript(redis.addr.port(), cmds);
    // A transaction needs one connection: redis-cli reads it from stdin.
    let tx = "MULTI\nSET t 1\nINCR t\nGET t\nEXEC\n";
    let want_tx = cli_stdin(redis.addr.port(), tx);
    let single = TestCluster::start(1, |_| {});
    let cluster = quorum_cluster();
    for (what, port) in [
        ("one node", single.addr(0).port()),
        ("3-node cluster", cluster.addr(2).port()),
    ] {
        let got = cli_transcript(port, cmds);
        for ((cmd, w), g) in cmds.iter().zip(&want).zip(&got) {
            assert_eq!(g, w, "{what}: redis-cli {cmd:?}");
        }
        assert_eq!(cli_stdin(port, tx), want_tx, "{what}: a transaction");
    }
}

/// redis-cli reading commands from stdin on one connection.
fn cli_stdin(port: u16, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write to redis-cli");
    let out = child.wait_with_output().expect("redis-cli output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines after redis-cli's `-------- summary -------`, sorted (its
/// type table's order is a hash table's).
fn summary(out: &str) -> Vec<String> {
    let mut lines: Vec<String> = out
        .lines()
        .skip_while(|l| !l.contains("summary"))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// `redis-cli --scan` (with `--pattern`), `--bigkeys` and `--memkeys`,
/// which walk the keyspace with SCAN and then ask each key's type and size
/// (`--memkeys`: MEMORY USAGE), print for a node and a 3-node cluster what
/// they print for redis-server (`--memkeys`: the same biggest keys).
#[test]
fn redis_cli_scan_and_bigkeys_walk_the_cluster_as_redis_server() {
    assert!(have("redis-cli"));
    // "big" is far the biggest string by any measure (--memkeys sizes
    // are each server's own).
    let load = format!(
        "FLUSHALL\nSET big {}\nSET small x\nDEL small\n\
         RPUSH l a b c\nHSET h f v\nSADD s a b\nZADD z 1 a\n",
        "x".repeat(200)
    );
    let load: String = load
        + &(0..40)
            .map(|i| format!("SET key:{i} v{i}\n"))
            .collect::<String>();
    let runs: [&[&str]; 4] = [
        &["--scan"],
        &["--scan", "--pattern", "key:1*"],
        &["--bigkeys"],
        &["--memkeys"],
    ];
    let outputs = |port: u16| -> Vec<Vec<String>> {
        cli_stdin(port, &load);
        runs.iter()
            .map(|args| {
                let text = cli(port, args);
                if args[0] == "--bigkeys" {
                    summary(&text)
                } else if args[0] == "--memkeys" {
                    // MEMORY USAGE's bytes are each server's own: which
                    // key is biggest of each type, and how many were seen.
                    summary(&text)
                        .into_iter()
                        .filter(|l| l.starts_with("Biggest") || l.starts_with("Sampled"))
                        .map(|l| l.split(" has ").next().unwrap_or_default().to_string())
                        .collect()
                } else {
                    let mut keys: Vec<String> = text.lines().map(str::to_string).collect();
                    keys.sort();
                    keys
                }
            })
            .collect()
    };
    let redis = RedisServer::start();
    let want = outputs(redis.addr.port());
    let biggest = "Biggest string found '\"big\"' has 200 bytes";
    assert!(want[2].iter().any(|l| l == biggest), "{want:?}");
    let single = TestCluster::start(1, |_| {});
    let cluster = quorum_cluster();
    for (what, port) in [
        ("one node", single.addr(0).port()),
        ("3-node cluster", cluster.addr(1).port()),
    ] {
        let got = outputs(port);
        for ((args, w), g) in runs.iter().zip(&want).zip(&got) {
            assert_eq!(g, w, "{what}: redis-cli {args:?}");
        }
    }
}
