//! The slow log (SLOWLOG): the commands that took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them, as Redis keeps it.
//!
//! A command's time is model time from its start to its reply, so on a
//! node with peers it is mostly the wait for replicas, the part of a
//! command that is slow here. A node alone answers every command within
//! the event that brought it (no model time passes), so there only a
//! threshold of 0 logs anything. Keeping each running command's arguments
//! costs an allocation, so they are kept only when a command could be
//! logged: with peers and a threshold of at least 0, or a threshold of 0.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use bytes::Bytes;

use super::IdHasher;
use super::conns::{ConnId, Session};
use crate::clock::Micros;

/// Redis's limits on what an entry keeps of a command.
const MAX_ARGS: usize = 32;
const MAX_ARG_BYTES: usize = 128;

/// One logged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    /// Increasing from 0 over the node's life (not reset by RESET).
    pub id: u64,
    /// When it started, Unix seconds (model time).
    pub at: i64,
    /// How long it took, microseconds.
    pub micros: u64,
    /// Its arguments, trimmed as Redis trims them.
    pub args: Vec<Bytes>,
    /// The client's `ip:port` (empty when unknown).
    pub addr: String,
    /// The client's name (empty when unset).
    pub name: Bytes,
}

/// Running commands that may be logged, by connection and slot: their
/// arguments and start.
type Running = HashMap<(ConnId, u64), (Vec<Bytes>, Micros), BuildHasherDefault<IdHasher>>;

/// The log, and the arguments of the commands that may join it.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first.
    entries: VecDeque<SlowEntry>,
    /// The next entry's id.
    next_id: u64,
    /// Commands running that may be logged: their arguments and start. A
    /// hash map keyed by the machine's own ids (never iterated): every
    /// command on a cluster passes through it, and as a B-tree it was 2% of
    /// the fast simulation engine.
    running: Running,
}

impl SlowLog {
    /// Whether a command starting now might be logged with `threshold`
    /// (microseconds; negative: logging is off).
    pub fn watches(threshold: i64, has_peers: bool) -> bool {
        threshold == 0 || (threshold > 0 && has_peers)
    }

    /// A command in slot `slot` of `conn` started at `now`.
    pub fn start(&mut self, conn: ConnId, slot: u64, args: Vec<Bytes>, now: Micros) {
        self.running.insert((conn, slot), (args, now));
    }

    /// Whether any running command may be logged.
    pub fn watching(&self) -> bool {
        !self.running.is_empty()
    }

    /// The command in slot `slot` of `conn` answered at `now`: logged if
    /// it was watched and took at least `threshold`.
    pub fn finish(
        &mut self,
        conn: ConnId,
        slot: u64,
        now: Micros,
        limits: (i64, u64),
        client: Option<&Session>,
    ) {
        let Some((args, started)) = self.running.remove(&(conn, slot)) else {
            return;
        };
        let (threshold, max_len) = limits;
        let micros = now.saturating_sub(started);
        if threshold < 0 || micros < threshold as u64 {
            return;
        }
        let addr = client
            .and_then(|s| Some(std::net::SocketAddr::new(s.remote?, s.port?).to_string()))
            .unwrap_or_default();
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            at: (started / 1_000_000) as i64,
            micros,
            args: trimmed(&args),
            addr,
            name: client.and_then(|s| s.name.clone()).unwrap_or_default(),
        });
        self.next_id += 1;
        self.entries
            .truncate(usize::try_from(max_len).unwrap_or(usize::MAX));
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter().take(count)
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// SLOWLOG RESET: the entries go, the ids keep counting.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// A command's arguments as a slow log entry keeps them: at most 32 (the
/// last saying how many more there were), each at most 128 bytes (saying
/// how many more), and the passwords of AUTH and HELLO ... AUTH redacted.
fn trimmed(args: &[Bytes]) -> Vec<Bytes> {
    let redacted = redactions(args);
    let keep = args.len().min(MAX_ARGS);
    (0..keep)
        .map(|j| {
            if keep != args.len() && j == keep - 1 {
                Bytes::from(format!("... ({} more arguments)", args.len() - keep + 1))
            } else if redacted.contains(&j) {
                Bytes::from_static(b"(redacted)")
            } else if args[j].len() > MAX_ARG_BYTES {
                let more = args[j].len() - MAX_ARG_BYTES;
                let mut s = args[j][..MAX_ARG_BYTES].to_vec();
                s.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                Bytes::from(s)
            } else {
                args[j].clone()
            }
        })
        .collect()
}

/// The positions Redis redacts: every argument of AUTH, and the user and
/// password after HELLO's AUTH.
fn redactions(args: &[Bytes]) -> Vec<usize> {
    let name = args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_default();
    match &name[..] {
        b"auth" => (1..args.len()).collect(),
        b"hello" => args
            .iter()
            .position(|a| a.eq_ignore_ascii_case(b"AUTH"))
            .map_or_else(Vec::new, |i| vec![i + 1, i + 2]),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn long_commands_are_trimmed_as_redis_trims_them() {
        let many: Vec<Bytes> = (0..40).map(|i| b(&i.to_string())).collect();
        let t = trimmed(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(t[31], b("... (9 more arguments)"));
        let long = vec![b("SET"), b("k"), b(&"x".repeat(130))];
        assert_eq!(
            trimmed(&long)[2],
            b(&format!("{}... (2 more bytes)", "x".repeat(128)))
        );
        let auth = trimmed(&[b("AUTH"), b("user"), b("pw")]);
        assert_eq!(auth, [b("AUTH"), b("(redacted)"), b("(redacted)")]);
        let hello = trimmed(&[b("HELLO"), b("3"), b("auth"), b("u"), b("p")]);
        assert_eq!(hello[3..], [b("(redacted)"), b("(redacted)")]);
    }

    #[test]
    fn only_slow_enough_commands_are_kept_newest_first_up_to_the_limit() {
        let mut log = SlowLog::default();
        for (slot, took) in [(0, 5), (1, 50), (2, 70), (3, 90)] {
            log.start(1, slot, vec![b("GET"), b("k")], 1_000_000);
            log.finish(1, slot, 1_000_000 + took, (10, 2), None);
        }
        let ids: Vec<u64> = log.newest(10).map(|e| e.id).collect();
        assert_eq!(ids, [2, 1], "the 5 us command is not logged; 2 kept");
        assert_eq!(log.newest(10).next().map(|e| e.micros), Some(90));
        log.reset();
        assert!(log.is_empty());
        // A negative threshold logs nothing, even a command already watched.
        log.start(1, 9, vec![b("GET")], 0);
        log.finish(1, 9, 100, (-1, 10), None);
        assert_eq!(log.len(), 0);
        assert!(SlowLog::watches(0, false));
        assert!(!SlowLog::watches(10, false));
        assert!(SlowLog::watches(10, true));
        assert!(!SlowLog::watches(-1, true));
    }
}
