//! Server commands whose replies depend on the machine, not on Redis:
//! TIME reads the model time it is given (no clock in core), WAIT answers
//! from the write quorum.

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
