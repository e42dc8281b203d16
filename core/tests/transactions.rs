//! MULTI/EXEC/DISCARD/WATCH on the pure machine: Redis's replies and
//! errors, EXEC's array equal to the same commands sent alone (a property),
//! no other client's command inside a one-node EXEC, and the order of a
//! transaction's commands kept on a replicated cluster.

use bytes::Bytes;
use proptest::prelude::*;
use ringlab_core::config::NodeConfig;
use ringlab_core::harness::{Cluster, NetConfig};
use ringlab_core::machine::{ConnId, Effect, Machine};

fn node() -> Machine {
    Machine::new(NodeConfig::default(), 6379, 0).expect("config")
}

/// Hands every command to the machine at `now`, then returns the replies
/// written for `conn`, as text.
fn send_all(m: &mut Machine, now: u64, cmds: &[(ConnId, &[&str])], conn: ConnId) -> String {
    for (c, words) in cmds {
        let args = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes()));
        m.handle_command(now, *c, args.collect());
    }
    let mut out = String::new();
    while let Some(e) = m.poll_effect() {
        if let Effect::Reply { conn: c, bytes, .. } = e
            && c == conn
        {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

fn run(m: &mut Machine, conn: ConnId, words: &[&str]) -> String {
    send_all(m, 0, &[(conn, words)], conn)
}

#[test]
fn exec_answers_the_array_of_the_queued_commands_replies() {
    let mut m = node();
    let c = m.open_client();
    assert_eq!(run(&mut m, c, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, c, &["SET", "k", "1"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, c, &["INCR", "k"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, c, &["GET", "k"]), "+QUEUED\r\n");
    // A command that fails when it runs fails alone, inside the array.
    assert_eq!(run(&mut m, c, &["APPEND", "k", "x"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, c, &["INCR", "k"]), "+QUEUED\r\n");
    assert_eq!(
        run(&mut m, c, &["EXEC"]),
        "*5\r\n+OK\r\n:2\r\n$1\r\n2\r\n:2\r\n\
         -ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn the_errors_are_redis_s() {
    let mut m = node();
    let c = m.open_client();
    assert_eq!(run(&mut m, c, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(
        run(&mut m, c, &["DISCARD"]),
        "-ERR DISCARD without MULTI\r\n"
    );
    assert_eq!(run(&mut m, c, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        run(&mut m, c, &["MULTI"]),
        "-ERR MULTI calls can not be nested\r\n"
    );
    assert_eq!(
        run(&mut m, c, &["WATCH", "k"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(run(&mut m, c, &["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, c, &["DISCARD"]), "+OK\r\n");
    assert_eq!(run(&mut m, c, &["GET", "k"]), "$-1\r\n", "discarded");
    // A command refused while queuing fails the whole transaction.
    assert_eq!(run(&mut m, c, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, c, &["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(
        run(&mut m, c, &["NOSUCH"]),
        "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
    );
    assert_eq!(
        run(&mut m, c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(run(&mut m, c, &["GET", "k"]), "$-1\r\n", "nothing ran");
    assert_eq!(run(&mut m, c, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, c, &["EXEC"]), "*0\r\n");
}

#[test]
fn watch_aborts_exec_when_another_client_wrote_the_key() {
    let mut m = node();
    let (a, b) = (m.open_client(), m.open_client());
    assert_eq!(run(&mut m, a, &["WATCH", "k", "other"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["SET", "k", "mine"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, b, &["SET", "k", "theirs"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["EXEC"]), "*-1\r\n");
    assert_eq!(run(&mut m, a, &["GET", "k"]), "$6\r\ntheirs\r\n");
    // EXEC ends the watch: the next transaction runs.
    assert_eq!(run(&mut m, a, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["SET", "k", "mine"]), "+QUEUED\r\n");
    assert_eq!(run(&mut m, a, &["EXEC"]), "*1\r\n+OK\r\n");
    // Untouched watched keys let it run; UNWATCH forgets them; RESP3's
    // null for an aborted EXEC.
    assert!(run(&mut m, a, &["HELLO", "3"]).starts_with("%"));
    assert_eq!(run(&mut m, a, &["WATCH", "k"]), "+OK\r\n");
    assert_eq!(run(&mut m, b, &["DEL", "k"]), ":1\r\n");
    assert_eq!(run(&mut m, a, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["EXEC"]), "_\r\n");
    assert_eq!(run(&mut m, a, &["WATCH", "k"]), "+OK\r\n");
    assert_eq!(run(&mut m, b, &["SET", "k", "x"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["UNWATCH"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["MULTI"]), "+OK\r\n");
    assert_eq!(run(&mut m, a, &["EXEC"]), "*0\r\n");
}

#[test]
fn no_other_clients_command_runs_inside_a_one_node_exec() {
    let mut m = node();
    let (a, b) = (m.open_client(), m.open_client());
    for w in [
        &["MULTI"][..],
        &["INCR", "n"],
        &["INCR", "n"],
        &["INCR", "n"],
    ] {
        run(&mut m, a, w);
    }
    // B's INCR reaches the machine in the same turn, right after EXEC.
    let out = send_all(&mut m, 0, &[(a, &["EXEC"]), (b, &["INCR", "n"])], a);
    assert_eq!(out, "*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_eq!(run(&mut m, b, &["GET", "n"]), "$1\r\n4\r\n");
}

#[test]
fn a_pipeline_after_exec_waits_for_it_and_sees_its_writes() {
    let mut m = node();
    let c = m.open_client();
    let cmds: [(ConnId, &[&str]); 4] = [
        (c, &["MULTI"]),
        (c, &["SET", "k", "v"]),
        (c, &["EXEC"]),
        (c, &["GET", "k"]),
    ];
    assert_eq!(
        send_all(&mut m, 0, &cmds, c),
        "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$1\r\nv\r\n"
    );
}

#[test]
fn a_cluster_runs_a_transactions_commands_in_order() {
    // Every key on all three nodes, two of them for each read and write:
    // each command waits for replicas, so a part finishes in a later step.
    let cfg = NodeConfig {
        n: 3,
        r: 2,
        w: 2,
        ..NodeConfig::default()
    };
    let mut h = Cluster::new(3, &cfg, NetConfig::default(), 7);
    let c = h.connect(1);
    for w in [
        &[&b"MULTI"[..]][..],
        &[b"SET", b"k", b"1"],
        &[b"INCR", b"k"],
        &[b"APPEND", b"k", b"0"],
        &[b"GET", b"k"],
        &[b"EXEC"],
    ] {
        h.send(1, c, w);
    }
    h.run();
    let replies: Vec<String> = h
        .take_replies(1, c)
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(replies.len(), 6, "{replies:?}");
    assert!(
        replies[1..5].iter().all(|r| r.contains("QUEUED")),
        "{replies:?}"
    );
    // OK, 2, 2 (APPEND's length), "20", in that order.
    let exec = &replies[5];
    let at = |s: &str| exec.find(s).unwrap_or_else(|| panic!("{s} in {exec}"));
    assert!(at("OK") < at("Integer(2)"), "{exec}");
    assert_eq!(exec.matches("Integer(2)").count(), 2, "{exec}");
    assert!(at("Integer(2)") < at("20"), "{exec}");
}

/// Commands on a few keys, as words.
fn commands() -> impl Strategy<Value = Vec<Vec<String>>> {
    let key = prop::sample::select(vec!["a", "b", "c"]);
    let cmd = (0u8..7, key, 0u8..20).prop_map(|(op, k, v)| {
        let (k, v) = (k.to_string(), v.to_string());
        match op {
            0 => vec!["SET".into(), k, v],
            1 => vec!["GET".into(), k],
            2 => vec!["INCR".into(), k],
            3 => vec!["DEL".into(), k],
            4 => vec!["APPEND".into(), k, v],
            5 => vec!["EXISTS".into(), k, "a".into()],
            _ => vec!["GETSET".into(), k, v],
        }
    });
    prop::collection::vec(cmd, 1..12)
}

proptest! {
    /// On a fresh node, EXEC's array holds exactly the replies the same
    /// commands get when sent one by one.
    #[test]
    fn exec_replies_are_the_commands_replies(cmds in commands()) {
        let (mut plain, mut tx) = (node(), node());
        let (p, t) = (plain.open_client(), tx.open_client());
        let mut alone = String::new();
        for w in &cmds {
            let words: Vec<&str> = w.iter().map(String::as_str).collect();
            alone.push_str(&run(&mut plain, p, &words));
        }
        run(&mut tx, t, &["MULTI"]);
        for w in &cmds {
            let words: Vec<&str> = w.iter().map(String::as_str).collect();
            prop_assert_eq!(run(&mut tx, t, &words), "+QUEUED\r\n");
        }
        let exec = run(&mut tx, t, &["EXEC"]);
        prop_assert_eq!(exec, format!("*{}\r\n{alone}", cmds.len()));
    }
}
