//! Client libraries see ringlab as they see Redis: redis-py (its default
//! settings, which are RESP3 in redis-py 8, then `protocol=2` and
//! `protocol=3`) and ioredis (RESP2) make the calls of
//! `tests/clients/compat.py` and `tests/clients/compat.cjs` against a
//! `redis-server`, a single ringlab node and a 3-node cluster (N=3 R=2 W=2),
//! and each run's transcript of results must equal redis-server's but for
//! the few steps in [`MASKS`], which say why they differ.
//!
//! The scripts print one JSON line per call, the result tagged with its type
//! in the client's language (`["bytes", "v"]`, `["int", 3]`, `["error",
//! "ResponseError", "no such key"]`), so a reply that decodes to another
//! type fails as surely as another value. Unordered results (sets, and KEYS
//! or SCAN once the node has them) are sorted by the scripts, and INFO is
//! reduced there to what applications read from it (the fields they parse),
//! since its values are each server's own.
//!
//! The clients live in `target/clients` (a venv with redis-py, and
//! `node/node_modules` with ioredis), pinned by `tests/clients/`'s
//! requirements.txt and package-lock.json; `scripts/setup` installs them
//! and `RINGLAB_CLIENTS_DIR` points elsewhere. Without them, or without
//! `redis-server` or `node`, the test fails and says to run scripts/setup,
//! rather than passing without comparing.
#![cfg(not(madsim))]

mod node_support;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use node_support::{RedisServer, TestCluster};
use serde_json::{Value, json};

/// How a step's result is compared with redis-server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mask {
    /// A PTTL: the milliseconds left depend on when it ran (100000 or
    /// 99999); compared rounded to the second.
    Millis,
    /// CLIENT ID: each server numbers its connections itself; only the type
    /// must match.
    TypeOnly,
    /// CLIENT LIST: each entry's id, addresses, fd, ages, buffer sizes and
    /// memory are the server's own, and Redis lists fields ringlab does not
    /// keep (flags, events, cmd, user...). Compared: how many connections,
    /// and each one's `name`, `db` and `resp`.
    ClientList,
    /// CONFIG GET port: each server's own port; the parameter names and the
    /// reply's shape must match.
    ConfigValues,
}

/// Steps compared through a mask (by step name, in every client's
/// transcript); every other step must be equal as it is.
const MASKS: &[(&str, Mask)] = &[
    ("strings.pttl_after_set_px", Mask::Millis),
    ("strings.pttl_after_psetex", Mask::Millis),
    ("keys.pttl", Mask::Millis),
    ("server.client_id", Mask::TypeOnly),
    ("server.client_list", Mask::ClientList),
    ("server.config_get_port", Mask::ConfigValues),
];

/// One way of running a client.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// redis-py with the named settings (`default`, `resp2`, `resp3`).
    RedisPy(&'static str),
    /// ioredis with its defaults.
    IoRedis,
}

/// Every client run, in order.
const CLIENTS: &[Client] = &[
    Client::RedisPy("default"),
    Client::RedisPy("resp2"),
    Client::RedisPy("resp3"),
    Client::IoRedis,
];

impl Client {
    fn name(self) -> String {
        match self {
            Client::RedisPy(mode) => format!("redis-py ({mode})"),
            Client::IoRedis => "ioredis".into(),
        }
    }
}

/// Where the installed clients and the scripts are.
struct Installed {
    /// The venv's python, with redis-py.
    python: PathBuf,
    /// The node_modules holding ioredis.
    node_modules: PathBuf,
    /// `node/tests/clients`.
    scripts: PathBuf,
}

/// Finds the clients, or fails saying how to install them.
fn installed() -> Installed {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("RINGLAB_CLIENTS_DIR")
        .map_or_else(|| root.join("target/clients"), PathBuf::from);
    let python = dir.join("venv/bin/python");
    let node_modules = dir.join("node/node_modules");
    let setup =
        "run scripts/setup (it installs the client libraries from node/tests/clients' pins)";
    assert!(
        python.exists(),
        "no redis-py venv at {}: {setup}",
        python.display()
    );
    assert!(
        node_modules.join("ioredis").exists(),
        "no ioredis in {}: {setup}",
        node_modules.display()
    );
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        node.is_ok_and(|s| s.success()),
        "cannot run `node` (Node.js): {setup} (apt-get install nodejs)"
    );
    Installed {
        python,
        node_modules,
        scripts: root.join("node/tests/clients"),
    }
}

/// How long one client run may take before it is killed (a run takes
/// about a second).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `client` against `addr`; returns its transcript, (step, value) in
/// order.
fn run(inst: &Installed, client: Client, addr: SocketAddr) -> Vec<(String, Value)> {
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let mut cmd = match client {
        Client::RedisPy(mode) => {
            let mut c = Command::new(&inst.python);
            c.arg(inst.scripts.join("compat.py"))
                .args([&host, &port])
                .arg(mode);
            c
        }
        Client::IoRedis => {
            let mut c = Command::new("node");
            c.env("NODE_PATH", &inst.node_modules)
                .arg(inst.scripts.join("compat.cjs"))
                .args([&host, &port]);
            c
        }
    };
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", client.name()));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.expect("the client's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{} against {addr} ran over {RUN_LIMIT:?}", client.name());
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} against {addr} failed ({}):\n{}\n{stdout}",
        client.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<(String, Value)> = stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", client.name()));
            let step = v["step"].as_str().expect("a step name").to_string();
            (step, v["value"].clone())
        })
        .collect();
    assert!(!steps.is_empty(), "{} printed no steps", client.name());
    steps
}

/// `value` (a tagged result of `step`) reduced to what is compared.
fn comparable(step: &str, value: &Value) -> Value {
    let Some(&(_, mask)) = MASKS.iter().find(|(s, _)| *s == step) else {
        return value.clone();
    };
    let tag = &value[0];
    if tag == "error" {
        return value.clone();
    }
    match mask {
        Mask::Millis => match value[1].as_i64() {
            Some(ms) if ms >= 0 => json!([tag, "seconds", (ms + 500) / 1000]),
            _ => value.clone(),
        },
        Mask::TypeOnly => json!([tag, "<masked>"]),
        Mask::ClientList => {
            // A list of dicts of [[tag, key], [tag, value]] pairs.
            let entries = value[1].as_array().cloned().unwrap_or_default();
            let kept: Vec<Value> = entries
                .iter()
                .map(|entry| {
                    let pairs = entry[1].as_array().cloned().unwrap_or_default();
                    let fields: Vec<&Value> = pairs
                        .iter()
                        .filter(|p| matches!(p[0][1].as_str(), Some("name" | "db" | "resp")))
                        .collect();
                    json!([entry[0], fields])
                })
                .collect();
            json!([tag, kept])
        }
        Mask::ConfigValues => match value[0].as_str() {
            // redis-py: a dict of [key, value] pairs.
            Some("dict") => {
                let pairs = value[1].as_array().cloned().unwrap_or_default();
                let keys: Vec<&Value> = pairs.iter().map(|p| &p[0]).collect();
                json!(["dict", keys, "<values masked>"])
            }
            // ioredis: RESP2's flat [key, value, ...] list.
            _ => {
                let items = value[1].as_array().cloned().unwrap_or_default();
                let keys: Vec<&Value> = items.iter().step_by(2).collect();
                json!([tag, keys, "<values masked>"])
            }
        },
    }
}

/// The differences between `ours` and `redis` (transcripts of the same
/// client), one paragraph each with its step; empty when they agree.
fn differences(redis: &[(String, Value)], ours: &[(String, Value)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let steps = |t: &[(String, Value)]| t.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    if steps(redis) != steps(ours) {
        out.push((
            String::new(),
            format!(
                "  the steps differ:\n    redis-server: {:?}\n    ringlab:      {:?}",
                steps(redis),
                steps(ours)
            ),
        ));
        return out;
    }
    for ((step, want), (_, got)) in redis.iter().zip(ours) {
        let (want, got) = (comparable(step, want), comparable(step, got));
        if want != got {
            out.push((
                step.clone(),
                format!("  {step}:\n    redis-server: {want}\n    ringlab:      {got}"),
            ));
        }
    }
    out
}

/// Runs every client against redis-server and against `ours` (the client
/// run i goes to `ours[i % ours.len()]`, so that on a cluster the runs
/// enter through different nodes) and fails listing every difference.
fn compare_clients(what: &str, ours: &[SocketAddr]) {
    let inst = installed();
    let redis = RedisServer::start();
    let started = Instant::now();
    let mut report = String::new();
    for (i, &client) in CLIENTS.iter().enumerate() {
        let node = ours[i % ours.len()];
        let want = run(&inst, client, redis.addr);
        let got = run(&inst, client, node);
        let diffs: Vec<String> = differences(&want, &got)
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        if !diffs.is_empty() {
            let _ = writeln!(
                report,
                "{} against {what} (node at {node}): {} of {} steps differ from redis-server:\n{}",
                client.name(),
                diffs.len(),
                want.len(),
                diffs.join("\n")
            );
        }
    }
    eprintln!(
        "{what}: {} client runs compared in {:.1?}",
        CLIENTS.len(),
        started.elapsed()
    );
    assert!(report.is_empty(), "\n{report}");
}

#[test]
fn client_libraries_see_a_single_node_as_redis_server() {
    let c = TestCluster::start(1, |_| {});
    compare_clients("one node", &[c.addr(0)]);
}

#[test]
fn client_libraries_see_a_three_node_cluster_as_redis_server() {
    let c = TestCluster::start(3, |cfg| {
        cfg.n = 3;
        cfg.r = 2;
        cfg.w = 2;
    });
    compare_clients("3-node cluster", &[c.addr(0), c.addr(1), c.addr(2)]);
}

#[test]
fn masks_hide_only_what_they_name() {
    let tagged = |v: Value| vec![("keys.pttl".to_string(), v)];
    // 100000 and 99999 ms are the same second; 98000 is not.
    assert!(
        differences(
            &tagged(json!(["int", 100000])),
            &tagged(json!(["int", 99999]))
        )
        .is_empty()
    );
    assert_eq!(
        differences(
            &tagged(json!(["int", 100000])),
            &tagged(json!(["int", 98000]))
        )
        .len(),
        1
    );
    // A step without a mask is compared as it is, type tag included.
    let strlen = |v: Value| vec![("strings.strlen".to_string(), v)];
    assert_eq!(
        differences(&strlen(json!(["int", 11])), &strlen(json!(["str", "11"]))).len(),
        1
    );
    // CLIENT LIST compares names and dbs, not ids.
    let list = |id: &str, name: &str| {
        vec![(
            "server.client_list".to_string(),
            json!([
                "list",
                [[
                    "dict",
                    [
                        [["str", "db"], ["str", "0"]],
                        [["str", "id"], ["str", id]],
                        [["str", "name"], ["str", name]],
                    ]
                ]]
            ]),
        )]
    };
    assert!(differences(&list("3", "compat"), &list("9", "compat")).is_empty());
    assert_eq!(
        differences(&list("3", "compat"), &list("3", "other")).len(),
        1
    );
}
