//! RESP3 on one pure node machine: `HELLO 3` switches the connection, and
//! its replies use RESP3's types where Redis 7 does; other connections and
//! `HELLO 2` keep RESP2's bytes.

use bytes::Bytes;
use ringlab_core::config::NodeConfig;
use ringlab_core::machine::{ConnId, Effect, Machine};

fn node() -> Machine {
    Machine::new(NodeConfig::default(), 6379, 1_000_000).expect("a one-node config")
}

/// Runs one command and returns its reply as text.
fn run(m: &mut Machine, conn: ConnId, words: &[&str]) -> String {
    let args = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes()));
    m.handle_command(1_000_000, conn, args.collect());
    let mut out = String::new();
    while let Some(e) = m.poll_effect() {
        if let Effect::Reply {
            conn: c,
            bytes,
            replies,
        } = e
        {
            assert_eq!((c, replies), (conn, 1));
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[test]
fn hello_3_switches_the_connection_to_resp3() {
    let mut m = node();
    let c = m.open_client();
    let other = m.open_client();
    let hello = run(&mut m, c, &["HELLO", "3"]);
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    assert!(hello.ends_with("$7\r\nmodules\r\n*0\r\n"), "{hello}");
    assert_eq!(run(&mut m, c, &["GET", "nope"]), "_\r\n");
    run(&mut m, c, &["SET", "a", "1"]);
    assert_eq!(
        run(&mut m, c, &["MGET", "a", "nope"]),
        "*2\r\n$1\r\n1\r\n_\r\n"
    );
    assert_eq!(run(&mut m, c, &["SET", "a", "2", "NX"]), "_\r\n");
    assert_eq!(run(&mut m, c, &["CLIENT", "GETNAME"]), "_\r\n");
    assert_eq!(
        run(&mut m, c, &["CONFIG", "GET", "appendonly"]),
        "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert_eq!(run(&mut m, c, &["COMMAND", "DOCS"]), "%0\r\n");
    assert_eq!(
        run(&mut m, c, &["COMMAND", "INFO", "get", "nope"]),
        "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~0\r\n~0\r\n~0\r\n~0\r\n_\r\n"
    );
    let info = run(&mut m, c, &["INFO", "server"]);
    assert!(info.starts_with('='), "{info}");
    assert!(info[info.find("\r\n").unwrap() + 2..].starts_with("txt:# Server\r\n"));
    // The other connection still speaks RESP2.
    assert_eq!(run(&mut m, other, &["GET", "nope"]), "$-1\r\n");
    // And HELLO 2 switches back.
    assert!(run(&mut m, c, &["HELLO", "2"]).starts_with("*14\r\n"));
    assert_eq!(run(&mut m, c, &["GET", "nope"]), "$-1\r\n");
}

#[test]
fn hello_checks_its_arguments_before_switching() {
    let mut m = node();
    let c = m.open_client();
    for (words, want) in [
        (
            &["HELLO", "4"][..],
            "-NOPROTO unsupported protocol version\r\n",
        ),
        (&["HELLO", "1"], "-NOPROTO unsupported protocol version\r\n"),
        (
            &["HELLO", "three"],
            "-ERR Protocol version is not an integer or out of range\r\n",
        ),
        (
            &["HELLO", "3", "FOO"],
            "-ERR Syntax error in HELLO option 'FOO'\r\n",
        ),
        (
            &["HELLO", "3", "AUTH", "bob", "x"],
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        ),
    ] {
        assert_eq!(run(&mut m, c, words), want, "{words:?}");
    }
    assert_eq!(run(&mut m, c, &["GET", "nope"]), "$-1\r\n", "still RESP2");
    // With no password set, the default user takes any password (nopass).
    let hello = run(
        &mut m,
        c,
        &["HELLO", "3", "AUTH", "default", "x", "SETNAME", "me"],
    );
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    assert_eq!(run(&mut m, c, &["CLIENT", "GETNAME"]), "$2\r\nme\r\n");
}

#[test]
fn hello_3_needs_authentication_when_a_password_is_set() {
    let mut m = Machine::new(
        NodeConfig {
            requirepass: Some("sesame".into()),
            ..NodeConfig::default()
        },
        6379,
        0,
    )
    .expect("config");
    let c = m.open_client();
    assert!(run(&mut m, c, &["HELLO", "3"]).starts_with("-NOAUTH HELLO must be called"));
    assert!(run(&mut m, c, &["HELLO", "3", "AUTH", "default", "nope"]).starts_with("-WRONGPASS"));
    assert_eq!(
        run(&mut m, c, &["GET", "x"]),
        "-NOAUTH Authentication required.\r\n"
    );
    let hello = run(&mut m, c, &["HELLO", "3", "AUTH", "default", "sesame"]);
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    assert_eq!(run(&mut m, c, &["GET", "x"]), "_\r\n");
}
