//! The real side of a calibration: a `ringlab-node` process on loopback,
//! `ringlab-load` runs against it, and the node's CPU time around each run
//! (utime + stime from `/proc/PID/stat`, Linux only).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ringlab_loadgen::report::Summary;

/// The two binaries a calibration runs: by default the ones beside this
/// executable (a `cargo build --release --workspace` puts all three in
/// `target/release/`).
#[derive(Debug, Clone)]
pub struct Binaries {
    pub node: PathBuf,
    pub load: PathBuf,
    /// CPU lists (`taskset -c`) for the node and the load generator, when
    /// they are kept apart.
    pub pin: Option<(String, String)>,
}

impl Binaries {
    /// `node` and `load` when given, else `ringlab-node` and `ringlab-load`
    /// beside the running executable; an error names any that is missing.
    pub fn find(node: Option<PathBuf>, load: Option<PathBuf>) -> Result<Self> {
        let beside = |name: &str| -> Result<PathBuf> {
            let exe = std::env::current_exe().context("locating ringlab-sim")?;
            Ok(exe.with_file_name(name))
        };
        let b = Binaries {
            node: node.map_or_else(|| beside("ringlab-node"), Ok)?,
            load: load.map_or_else(|| beside("ringlab-load"), Ok)?,
            pin: None,
        };
        for (flag, p) in [("--node-bin", &b.node), ("--load-bin", &b.load)] {
            if !p.is_file() {
                bail!(
                    "{} not found: build it (`cargo build --release --workspace`) or give {flag}",
                    p.display()
                );
            }
        }
        Ok(b)
    }

    /// Keeps the node on the last CPU and the load generator on the
    /// others, with `taskset`. Left to the scheduler, the two often share a
    /// core, and on a small machine the load generator then runs out before
    /// the node is busy. Returns why not, when they cannot be kept apart.
    pub fn pin_apart(&mut self) -> Result<(), String> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return Err("one CPU: the node and the load generator share it".into());
        }
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !taskset.is_ok_and(|s| s.success()) {
            return Err("no `taskset` (util-linux): the scheduler places both".into());
        }
        let last = cpus - 1;
        let rest = if last == 1 {
            "0".to_string()
        } else {
            format!("0-{}", last - 1)
        };
        self.pin = Some((last.to_string(), rest));
        Ok(())
    }

    /// A command running `bin`, under `taskset -c CPUS` when pinned.
    fn command(&self, bin: &Path, cpus: Option<&str>) -> Command {
        match cpus {
            Some(list) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(list).arg(bin);
                c
            }
            None => Command::new(bin),
        }
    }
}

/// A `ringlab-node` process, killed when dropped.
pub struct Node {
    child: Child,
    pub addr: SocketAddr,
}

impl Node {
    /// Starts a single node on `addr` (loopback), logging
    /// to `log`, and waits until it accepts connections (at most 10 s).
    pub fn start(bins: &Binaries, addr: SocketAddr, log: &Path) -> Result<Self> {
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        // taskset execs the node, so the child's pid is the node's.
        let child = bins
            .command(&bins.node, bins.pin.as_ref().map(|p| p.0.as_str()))
            .args(["--id", "1", "--listen", &addr.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bins.node.display()))?;
        let mut node = Node { child, addr };
        node.wait_ready(log)?;
        Ok(node)
    }

    /// Polls the port until it accepts a connection; fails early if the
    /// process exits (the log says why: a port in use, a bad flag).
    fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "ringlab-node on {} exited at start ({status}); see {}",
                    self.addr,
                    log.display()
                );
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "ringlab-node on {} did not accept connections within 10 s",
                    self.addr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU time the process has used so far, seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {path} (calibration needs Linux's /proc)"))?;
        cpu_of_stat(&stat).with_context(|| format!("parsing {path}"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a `/proc/PID/stat` line, in seconds. The command name
/// (field 2) may hold spaces, so fields are counted after its last `)`.
fn cpu_of_stat(stat: &str) -> Result<f64> {
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("no ')' after the command name")?;
    // After ")": state is field 3, so utime (14) and stime (15) are the
    // 12th and 13th fields of the rest.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        f.get(i)
            .context("too few fields")?
            .parse::<u64>()
            .context("a CPU time that is not a number")
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / clock_ticks_per_second())
}

/// The kernel's clock tick (USER_HZ), which is 100 on every Linux
/// architecture ringlab builds for.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// One `ringlab-load` run of `scenario` against `node`, with the node's CPU
/// time over it: the run's summary and that CPU time.
pub fn drive(bins: &Binaries, node: &Node, scenario: &Path, out: &Path) -> Result<(Summary, f64)> {
    let before = node.cpu_seconds()?;
    let output = bins
        .command(&bins.load, bins.pin.as_ref().map(|p| p.1.as_str()))
        .arg("--target")
        .arg(node.addr.to_string())
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--no-progress")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bins.load.display()))?;
    let cpu = node.cpu_seconds()? - before;
    // ringlab-load exits 1 when an expectation fails; calibration
    // scenarios have none, so anything but 0 is a failed run.
    if !output.status.success() {
        bail!(
            "ringlab-load --scenario {} failed ({}): {}",
            scenario.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let path = out.join("summary.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let summary: Summary =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok((summary, cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat = "42 (ringlab node) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_of_stat(stat).unwrap(), 3.0);
        assert!(cpu_of_stat("42 (x) S 1").is_err());
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(cpu_of_stat(&stat).unwrap() >= 0.0);
    }
}
