//! A fake RESP server for the driver tests: a tiny key-value map that
//! answers GET/SET/DEL (and INCR, MGET, PEXPIRE trivially), can withhold its replies during a stall window of
//! model time, and can refuse SETs with an error reply. It runs on real tokio
//! and, under `--cfg madsim`, on the simulated network, through the same
//! `Clock` the driver uses.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ringlab_loadgen::workload::{Arrival, KeyDist, KeySpace, Mix, Phase, Rate, ValueSize};
use ringlab_node::clock::{Clock, Micros};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the fake server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Requests received in `[from, to)` (model time) are answered at `to`.
    pub stall: Option<(Micros, Micros)>,
    /// Answer every SET with this error line (without the leading '-').
    pub set_error: Option<String>,
    /// SETs and DELs received in `[from, to)` (model time) are acknowledged
    /// but not applied: a server that loses writes, so reads return older
    /// values (stale reads).
    pub lose_writes: Option<(Micros, Micros)>,
    /// Like `requirepass`: every command but a right `AUTH` gets NOAUTH
    /// until the connection authenticates.
    pub password: Option<String>,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests received, by command name.
    pub commands: HashMap<String, u64>,
}

/// Serves `listener` forever.
pub async fn serve(
    listener: TcpListener,
    clock: Clock,
    behaviour: Behaviour,
    seen: Arc<Mutex<Seen>>,
) {
    let store = Arc::new(Mutex::new(HashMap::<Vec<u8>, Vec<u8>>::new()));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let store = store.clone();
        let behaviour = behaviour.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let _ = connection(stream, clock, behaviour, store, seen).await;
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    clock: Clock,
    behaviour: Behaviour,
    store: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::new();
    let mut authed = behaviour.password.is_none();
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        let now = clock.now();
        let lose = behaviour
            .lose_writes
            .is_some_and(|(from, to)| (from..to).contains(&now));
        while let Some(args) = parse_request(&mut buf) {
            let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
            *seen
                .lock()
                .unwrap()
                .commands
                .entry(name.clone())
                .or_default() += 1;
            if name == "SET" && args.len() == 5 && args[3].eq_ignore_ascii_case(b"PX") {
                let ms = String::from_utf8_lossy(&args[4]);
                *seen
                    .lock()
                    .unwrap()
                    .commands
                    .entry(format!("SET PX {ms}"))
                    .or_default() += 1;
            }
            if name == "AUTH" {
                let right = behaviour.password.as_deref().map(str::as_bytes);
                authed = args.len() == 2 && right == Some(&args[1][..]);
                out.extend_from_slice(if authed {
                    b"+OK\r\n".as_slice()
                } else {
                    b"-WRONGPASS invalid username-password pair\r\n".as_slice()
                });
                continue;
            }
            if !authed {
                out.extend_from_slice(b"-NOAUTH Authentication required.\r\n");
                continue;
            }
            match (name.as_str(), &behaviour.set_error) {
                ("SET", Some(err)) => {
                    out.extend_from_slice(format!("-{err}\r\n").as_bytes());
                }
                ("SET", None) => {
                    if !lose {
                        store
                            .lock()
                            .unwrap()
                            .insert(args[1].clone(), args[2].clone());
                    }
                    out.extend_from_slice(b"+OK\r\n");
                }
                ("GET", _) => match store.lock().unwrap().get(&args[1]) {
                    Some(v) => {
                        out.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
                        out.extend_from_slice(v);
                        out.extend_from_slice(b"\r\n");
                    }
                    None => out.extend_from_slice(b"$-1\r\n"),
                },
                ("DEL", _) if lose => out.extend_from_slice(b":1\r\n"),
                ("DEL", _) => {
                    let n = u8::from(store.lock().unwrap().remove(&args[1]).is_some());
                    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
                }
                // Just enough for INCR, MGET and PEXPIRE requests to
                // succeed, with the shapes Redis replies in.
                ("INCR", _) => out.extend_from_slice(b":1\r\n"),
                ("MGET", _) => {
                    out.extend_from_slice(format!("*{}\r\n", args.len() - 1).as_bytes());
                    for _ in 1..args.len() {
                        out.extend_from_slice(b"$-1\r\n");
                    }
                }
                ("PEXPIRE", _) => out.extend_from_slice(b":0\r\n"),
                _ => out.extend_from_slice(b"-ERR unknown command\r\n"),
            }
        }
        if let Some((from, to)) = behaviour.stall
            && (from..to).contains(&now)
        {
            clock.sleep_until(to).await;
        }
        stream.write_all(&out).await?;
        stream.flush().await?;
        out.clear();
    }
}

/// One request (an array of bulk strings) off the front of `buf`, if whole.
fn parse_request(buf: &mut BytesMut) -> Option<Vec<Vec<u8>>> {
    fn line(b: &[u8], at: usize) -> Option<(usize, usize)> {
        let end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&b[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    let (n, mut at) = line(buf, 0)?;
    assert_eq!(buf[0], b'*', "the driver sends arrays");
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, start) = line(buf, at)?;
        if buf.len() < start + len + 2 {
            return None;
        }
        args.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    buf.advance(at);
    Some(args)
}

/// Binds `addr` and serves it in a new task; returns the bound address.
pub async fn spawn_server(
    addr: &str,
    clock: Clock,
    behaviour: Behaviour,
) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind(addr).await.expect("bind the fake server");
    let bound = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(serve(listener, clock, behaviour, seen.clone()));
    (bound, seen)
}

/// A phase with the given name, length and constant rate; evenly spaced
/// arrivals, GETs only over 100 uniform keys, generous limits.
pub fn phase(name: &str, duration: Duration, rate: f64) -> Phase {
    Phase {
        name: name.to_string(),
        duration,
        rate: Rate::Constant(rate),
        arrival: Arrival::Uniform,
        keys: KeySpace {
            count: 100,
            distribution: KeyDist::Uniform,
        },
        mix: Mix {
            get: 1.0,
            set: 0.0,
            ..Mix::default()
        },
        value_size: ValueSize::Fixed(16),
        timeout: Duration::from_secs(5),
        clients: 1,
        connections: 4,
        max_in_flight: 100_000,
        ttl: None,
        mget_keys: 10,
    }
}
