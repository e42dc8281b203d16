//! Server commands whose replies depend on the machine, not on Redis:
//! TIME reads the model time it is given (no clock in core), WAIT answers
//! from the write quorum, CLIENT LIST/INFO show the open connections and
//! INFO has the client fields `redis-cli --stat` reads.

use bytes::Bytes;
use ringlab_core::config::NodeConfig;
use ringlab_core::machine::{ConnId, Effect, Machine};

/// Runs one command at `now` and returns its reply as text.
fn run(m: &mut Machine, now: u64, conn: ConnId, words: &[&str]) -> String {
    let args = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes()));
    m.handle_command(now, conn, args.collect());
    let mut out = String::new();
    while let Some(e) = m.poll_effect() {
        if let Effect::Reply { bytes, .. } = e {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[test]
fn time_is_the_model_time_given_to_the_machine() {
    let mut m = Machine::new(NodeConfig::default(), 6379, 0).expect("config");
    let c = m.open_client();
    let now = 1_700_000_000_123_456;
    assert_eq!(
        run(&mut m, now, c, &["TIME"]),
        "*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n"
    );
    assert_eq!(
        run(&mut m, 42, c, &["TIME"]),
        "*2\r\n$1\r\n0\r\n$2\r\n42\r\n"
    );
}

#[test]
fn wait_answers_the_write_quorum_less_the_coordinator() {
    let mut m = Machine::new(NodeConfig::default(), 6379, 0).expect("config");
    let c = m.open_client();
    // One node: W=1, and no replicas besides it, as Redis without replicas.
    assert_eq!(run(&mut m, 0, c, &["WAIT", "1", "100"]), ":0\r\n");
    assert_eq!(
        run(&mut m, 0, c, &["WAIT", "1", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        run(&mut m, 0, c, &["WAIT", "x", "0"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn client_list_shows_every_connection_and_client_info_this_one() {
    let mut m = Machine::new(NodeConfig::default(), 6379, 0).expect("config");
    let a = m.open_client();
    let b = m.open_client_from(Some("10.0.0.7".parse().unwrap()));
    assert_eq!(run(&mut m, 0, a, &["CLIENT", "SETNAME", "web"]), "+OK\r\n");
    let text =
        "id=1 name=web db=0 resp=2 lib-name=\nid=2 addr=10.0.0.7 name= db=0 resp=2 lib-name=\n";
    assert_eq!(
        run(&mut m, 0, b, &["CLIENT", "LIST"]),
        format!("${}\r\n{text}\r\n", text.len())
    );
    let mine = "id=2 addr=10.0.0.7 name= db=0 resp=2 lib-name=\n";
    assert_eq!(
        run(&mut m, 0, b, &["CLIENT", "INFO"]),
        format!("${}\r\n{mine}\r\n", mine.len())
    );
    // RESP3 gets Redis 7's verbatim string.
    run(&mut m, 0, b, &["HELLO", "3"]);
    let mine3 = mine.replace("resp=2", "resp=3");
    assert_eq!(
        run(&mut m, 0, b, &["CLIENT", "INFO"]),
        format!("={}\r\ntxt:{mine3}\r\n", mine3.len() + 4)
    );
    let help = run(&mut m, 0, a, &["CLIENT", "HELP"]);
    assert!(help.starts_with("*31\r\n+CLIENT <subcommand>"), "{help}");
    assert!(help.contains("+KILL <ip:port>\r\n"), "{help}");
    assert!(help.contains("+LIST\r\n"), "{help}");
    m.close_client(a);
    assert!(!run(&mut m, 0, b, &["CLIENT", "LIST"]).contains("id=1"));
}

#[test]
fn info_has_the_client_fields_redis_cli_stat_reads() {
    let mut m = Machine::new(NodeConfig::default(), 6379, 0).expect("config");
    let c = m.open_client();
    let info = run(&mut m, 0, c, &["INFO", "clients"]);
    for field in [
        "connected_clients:1\r\n",
        "blocked_clients:0\r\n",
        "maxclients:",
    ] {
        assert!(info.contains(field), "{field} missing: {info}");
    }
}
