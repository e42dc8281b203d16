//! `ringlab-load`'s command line: flags (or a scenario file) into a
//! [`DriverConfig`], the run with a live progress line, and the closing
//! summary. The binary is a thin `main` around [`main_with_args`]; tests
//! call [`plan`] and [`execute`] directly against an in-process server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ringlab_node::clock::Clock;

use super::closing::format_us;
use super::{Driver, DriverConfig, LiveSnapshot};
use crate::recorder::{RunMeta, RunRecord};
use crate::workload::{Arrival, KeyDist, KeySpace, Mix, OpKind, Phase, Rate, ValueSize};

const EXAMPLES: &str = "\
Examples:
  # 10k req/s for 30 s against one node, 90% GET / 10% SET, zipf keys
  ringlab-load --target 127.0.0.1:7000 --rate 10000 --duration 30s \\
      --mix get=0.9,set=0.1 --keys 1000000 --distribution zipf:0.99

  # a three-node cluster from a file (one host:port per line), a ramp
  ringlab-load --cluster cluster.txt --rate 1000..50000 --duration 60s

  # hot keys: 1% of the keys take 90% of the requests; 1 KiB values
  ringlab-load --target 127.0.0.1:7000 --distribution hotspot:0.01:0.9 --value-size 1KiB

  # pipelining 16 deep on 4 connections, evenly spaced arrivals
  ringlab-load --target 127.0.0.1:7000 --connections 4 --pipeline 16 --arrival uniform

  # compare two runs' reports (exit 1 on a latency regression)
  ringlab-load compare out/load-base out/load-new
";

/// Open-loop load against Redis-protocol servers, recorded in HdrHistograms.
#[derive(Debug, Parser)]
#[command(name = "ringlab-load", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two report directories; exits 1 on a regression.
    Compare(crate::compare::CompareArgs),
}

/// The flags that describe the workload, which a scenario file replaces.
const WORKLOAD_FLAGS: [&str; 12] = [
    "rate",
    "duration",
    "mix",
    "keys",
    "distribution",
    "value_size",
    "arrival",
    "connections",
    "timeout",
    "max_in_flight",
    "ttl",
    "mget_keys",
];

/// One load run's flags.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// A server to load (host:port); repeat for several. Connections are
    /// spread over the targets round-robin.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// A file of targets: one host:port per line; blank lines and lines
    /// starting with '#' are skipped.
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Take the workload (phases, name, seed, window) from a scenario file;
    /// its faults are listed as ignored (only the simulator plays them).
    #[arg(long, value_name = "FILE", conflicts_with_all = WORKLOAD_FLAGS)]
    pub scenario: Option<PathBuf>,
    /// This process's share when several machines drive one run together:
    /// INDEX/COUNT (0-based), e.g. 1/4 drives a quarter of the rate with
    /// its own arrival stream.
    #[arg(long, default_value = "0/1", value_parser = parse_client)]
    pub client: (u32, u32),
    /// Requests per second: a number, or FROM..TO for a linear ramp.
    #[arg(long, default_value = "10000", value_parser = parse_rate)]
    pub rate: Rate,
    /// How long to run: 30s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Op shares, e.g. get=0.9,set=0.1 (missing kinds are 0; must sum to 1).
    #[arg(long, default_value = "get=0.9,set=0.1", value_parser = parse_mix)]
    pub mix: Mix,
    /// Number of distinct keys (key:000000000000 ...).
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// uniform | zipf:S | hotspot:HOT_FRACTION:HOT_SHARE | latest:S
    #[arg(long, default_value = "uniform", value_parser = parse_distribution)]
    pub distribution: KeyDist,
    /// Value size of SETs: 100B, 4KiB, MIN-MAX (uniform), or
    /// lognormal:MEDIAN:SIGMA:MAX.
    #[arg(long, default_value = "100B", value_parser = parse_value_size)]
    pub value_size: ValueSize,
    /// Arrival spacing: poisson or uniform (evenly spaced).
    #[arg(long, default_value = "poisson", value_parser = parse_arrival)]
    pub arrival: Arrival,
    /// Connections (each carries one request at a time, or --pipeline).
    #[arg(long, default_value_t = 50)]
    pub connections: u32,
    /// Requests each connection may have outstanding.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// A request unanswered this long after its intended start is a timeout.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Requests in flight (sent or waiting for a connection) beyond which
    /// new arrivals are held back and counted.
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: u32,
    /// A TTL: every SET carries PX this long, and EXPIRE (`--mix
    /// expire=...`) sets it.
    #[arg(long, value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// Keys one MGET reads (the drawn key and the ones after it).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub mget_keys: u32,
    /// Recorder window [default: 1s, or the scenario's].
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// Seed of the arrival and request generators [default: 1, or the
    /// scenario's].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Prefix for every key name (to keep runs apart on a shared server).
    #[arg(long, default_value = "")]
    pub key_prefix: String,
    /// Authenticate every connection with `AUTH PASSWORD` (a server started
    /// with `requirepass`); also read from RINGLAB_PASSWORD, which keeps it
    /// out of the process list.
    #[arg(long, env = "RINGLAB_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Report directory (default out/load-<scenario>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not draw the live progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Also write the closing table as JSON to FILE (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the closing table as CSV to FILE (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Print the latency percentile spectrum of the successful requests
    /// (as wrk2's "Detailed Percentile spectrum").
    #[arg(long)]
    pub spectrum: bool,
}

/// What a run will do, resolved from the flags.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub config: DriverConfig,
    pub meta: RunMeta,
    /// Where the report goes.
    pub out: PathBuf,
    /// Lines about what of the input was not used (a scenario's faults).
    pub notes: Vec<String>,
    /// The scenario's `[expect]` lines (none for a flags-only run).
    pub expect: Vec<crate::scenario::Expectation>,
    /// The scenario's app pattern and database, when it has one: the
    /// database is simulated in this process, with the same model as in the
    /// simulator.
    pub app: Option<(crate::scenario::App, crate::scenario::DatabaseSpec)>,
}

/// Mixed into the run's seed for the database's service times, so they do
/// not repeat the arrivals' random stream.
pub const DATABASE_SEED: u64 = 0xDA7A_BA5E_0000_0001;

/// Resolves flags (and the cluster file) into a plan.
pub fn plan(args: &LoadArgs) -> anyhow::Result<LoadPlan> {
    let mut targets = Vec::new();
    for t in &args.targets {
        targets.push(resolve(t).map_err(|e| anyhow::anyhow!("--target {t:?}: {e}"))?);
    }
    if let Some(path) = &args.cluster {
        targets.extend(read_cluster(path)?);
    }
    if targets.is_empty() {
        anyhow::bail!("no targets: give --target HOST:PORT (repeatable) or --cluster FILE");
    }
    let (client_index, client_count) = args.client;
    let mut notes = Vec::new();
    let mut expect = Vec::new();
    let mut app = None;
    let (phases, scenario, description, seed, window) = match &args.scenario {
        Some(path) => {
            let sc = crate::scenario::load(path)?;
            for f in &sc.faults {
                notes.push(format!(
                    "ignored fault at {:?}: {} (faults are played by ringlab-sim only)",
                    f.at, f.action
                ));
            }
            for p in sc.phases.iter().filter(|p| p.clients > 1) {
                notes.push(format!(
                    "phase {:?} is spread over {} client machines in the scenario; this process \
                     drives 1/{} of its rate over its own {} connections (--client INDEX/COUNT \
                     splits it over machines)",
                    p.name, p.clients, client_count, p.connections
                ));
            }
            expect = sc.expect;
            app = sc.database.map(|db| (sc.app, db));
            (
                sc.phases,
                sc.name,
                sc.description,
                args.seed.unwrap_or(sc.seed),
                args.window.unwrap_or(sc.window),
            )
        }
        None => {
            if args.mix.expire > 0.0 && args.ttl.is_none() {
                anyhow::bail!("--mix has expire but no --ttl: give the TTL that EXPIRE sets");
            }
            let phase = Phase {
                name: "load".into(),
                duration: args.duration,
                rate: args.rate,
                arrival: args.arrival,
                keys: KeySpace {
                    count: args.keys,
                    distribution: args.distribution,
                },
                mix: args.mix,
                value_size: args.value_size,
                timeout: args.timeout,
                clients: 1,
                connections: args.connections,
                max_in_flight: args.max_in_flight,
                ttl: args.ttl,
                mget_keys: args.mget_keys,
            };
            (
                vec![phase],
                "adhoc".to_string(),
                String::new(),
                args.seed.unwrap_or(1),
                args.window.unwrap_or(Duration::from_secs(1)),
            )
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("out/load-{scenario}")));
    Ok(LoadPlan {
        config: DriverConfig {
            targets,
            phases,
            client_index,
            client_count,
            window,
            pipeline: args.pipeline,
            seed,
            key_prefix: args.key_prefix.clone(),
            app: None,
            password: args.password.clone(),
        },
        meta: RunMeta {
            scenario,
            description,
            seed: Some(seed),
            source: "real".into(),
            window,
        },
        out,
        notes,
        expect,
        app,
    })
}

/// Fails at once, naming the server and quoting it, when a target refuses
/// the password: a run would otherwise only show connection errors. Other
/// connect failures are left to the run, which records them.
async fn check_password(config: &DriverConfig, clock: Clock) -> anyhow::Result<()> {
    let Some(pw) = &config.password else {
        return Ok(());
    };
    for &target in &config.targets {
        let timeout = Duration::from_secs(5);
        match super::conn::connect(target, &clock, timeout, Some(pw.as_bytes())).await {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                anyhow::bail!("{target}: {e}")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs a plan to its end or until `stop`, drawing a progress line on a
/// terminal when `progress` is set.
pub async fn execute(
    plan: &LoadPlan,
    clock: Clock,
    stop: impl std::future::Future<Output = ()>,
    progress: bool,
) -> anyhow::Result<RunRecord> {
    check_password(&plan.config, clock).await?;
    let mut config = plan.config.clone();
    let database = plan.app.as_ref().map(|(app, spec)| {
        let db = crate::database::Database::new(
            spec.clone(),
            config.seed ^ DATABASE_SEED,
            clock,
            config.window,
        );
        config.app = Some(super::AppConfig {
            app: app.clone(),
            database: db.clone(),
        });
        (app.clone(), db)
    });
    let driver = Driver::new(config, clock, plan.meta.clone())?;
    let live = driver.live();
    let total = plan
        .config
        .phases
        .iter()
        .map(|p| p.duration)
        .sum::<Duration>();
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            None,
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"),
        );
        bar
    });
    let watcher = bar.clone().map(|bar| {
        tokio::spawn(async move {
            let mut tick = clock.interval(Duration::from_millis(250));
            let mut last = LiveSnapshot::default();
            loop {
                tick.tick().await;
                let now = live.snapshot();
                bar.set_message(progress_line(&last, &now, total));
                bar.tick();
                last = now;
            }
        })
    });
    let mut record = driver.run(stop).await;
    if let Some((app, db)) = database {
        record.series.extend(db.series(
            record.windows.len(),
            app.coalesce,
            app.near_cache.is_some(),
        ));
    }
    if let Some(w) = watcher {
        w.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(record)
}

/// `elapsed 3.2s/10s  rps 9,987 of 10,000  p99 412us  errors 0 ...`
pub fn progress_line(last: &LiveSnapshot, now: &LiveSnapshot, total: Duration) -> String {
    let dt = now.elapsed.saturating_sub(last.elapsed).as_secs_f64();
    let done = |s: &LiveSnapshot| s.ok + s.errors + s.timeouts;
    let rps = if dt > 0.0 {
        done(now).saturating_sub(done(last)) as f64 / dt
    } else {
        0.0
    };
    format!(
        "elapsed {:.1}s/{:.0}s  rps {:.0} of {:.0}  p99 {}  ok {}  errors {}  timeouts {}  held back {}",
        now.elapsed.as_secs_f64(),
        total.as_secs_f64(),
        rps,
        now.target_rate,
        format_us(now.p99_us),
        now.ok,
        now.errors,
        now.timeouts,
        now.held_back
    )
}

/// The binary: parse, run (Ctrl-C stops scheduling and still reports),
/// write the report. Returns the process exit code.
#[cfg(not(madsim))]
pub fn main_with_args(args: Vec<String>) -> anyhow::Result<i32> {
    use std::io::IsTerminal;

    use super::closing;
    use crate::scenario::check;

    let cli = Cli::parse_from(args);
    if let Some(Command::Compare(args)) = cli.command {
        // true: no regression.
        return Ok(if crate::compare::run(args)? { 0 } else { 1 });
    }
    let plan = plan(&cli.load)?;
    for note in &plan.notes {
        eprintln!("ringlab-load: {note}");
    }
    eprintln!(
        "ringlab-load: scenario {}, {} target(s), seed {}, report to {}",
        plan.meta.scenario,
        plan.config.targets.len(),
        plan.config.seed,
        plan.out.display()
    );
    let progress = !cli.load.no_progress && std::io::stderr().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let record = runtime.block_on(async {
        let stop = async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling: run to the end.
                std::future::pending::<()>().await;
            }
            eprintln!("ringlab-load: interrupted; finishing requests in flight");
        };
        execute(&plan, Clock::real(), stop, progress).await
    })?;
    print!("{}", closing::text(&record));
    if cli.load.spectrum {
        print!("{}", closing::spectrum(&record));
    }
    for (path, body) in [
        (&cli.load.json, closing::json as fn(&RunRecord) -> String),
        (&cli.load.csv, closing::csv),
    ] {
        if let Some(path) = path {
            write_output(path, &body(&record))?;
        }
    }
    let files = crate::report::write_all(&record, &plan.out)?;
    // The same verdicts file as the simulator's, so both runs give the same
    // set of report files (an empty list for a flags-only run).
    let verdicts = check::evaluate(&plan.meta.scenario, &plan.expect, &record);
    check::write_verdicts(&plan.out, &verdicts)?;
    if !verdicts.is_empty() {
        print!("{}", check::verdict_table(&verdicts));
    }
    eprintln!(
        "ringlab-load: wrote {} report files to {}",
        files.len() + 1,
        plan.out.display()
    );
    Ok(0)
}

/// Writes `body` to `path`, or to standard output for `-`.
#[cfg(not(madsim))]
fn write_output(path: &Path, body: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if path == Path::new("-") {
        print!("{body}");
        return Ok(());
    }
    std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))
}

/// A host:port, resolved (first address).
fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}; expected HOST:PORT"))?
        .next()
        .ok_or_else(|| "resolves to no address; expected HOST:PORT".to_string())
}

/// The targets listed in a cluster file.
fn read_cluster(path: &Path) -> anyhow::Result<Vec<SocketAddr>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--cluster {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(
            resolve(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {line:?} {e}", path.display(), i + 1))?,
        );
    }
    if out.is_empty() {
        anyhow::bail!(
            "{}: no targets; expected one HOST:PORT per line",
            path.display()
        );
    }
    Ok(out)
}

/// `30s`, `1.5ms`, `250us`, `2m`, `1h`: `ringlab_core::units`' syntax, the
/// node's and the scenario file's.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    ringlab_core::units::parse_duration(s).map_err(|e| e.to_string())
}

/// `10000` or `1000..50000`.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let num = |x: &str| -> Result<f64, String> {
        let v: f64 = x
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{s:?} is not a rate; expected N or FROM..TO requests/s"))?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(format!("{s:?}: rates must be finite and >= 0"))
        }
    };
    let rate = match s.split_once("..") {
        Some((a, b)) => Rate::Ramp {
            from: num(a)?,
            to: num(b)?,
        },
        None => Rate::Constant(num(s)?),
    };
    if rate.at(Duration::ZERO, Duration::from_secs(1)) == 0.0 && rate.end() == 0.0 {
        return Err(format!(
            "{s:?}: a rate of 0 sends nothing; expected a positive rate"
        ));
    }
    Ok(rate)
}

/// `get=0.9,set=0.1` (kinds: get, set, del/delete, incr, mget, expire).
pub fn parse_mix(s: &str) -> Result<Mix, String> {
    let mut mix = Mix::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} in --mix: expected KIND=SHARE, e.g. get=0.9"))?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} in --mix: the share is not a number"))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{part:?} in --mix: expected a share in 0..=1"));
        }
        let name = match k.trim() {
            "del" => "delete",
            other => other,
        };
        let kind = OpKind::named(name).ok_or_else(|| {
            format!(
                "{name:?} in --mix: unknown op; expected one of get, set, delete (or del), \
                 incr, mget, expire"
            )
        })?;
        mix.set_share(kind, v);
    }
    let sum = mix.sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(format!(
            "--mix {s:?} sums to {sum}; expected the shares to sum to 1"
        ));
    }
    Ok(mix)
}

/// `uniform`, `zipf:0.99`, `hotspot:0.01:0.9`, `latest:0.99`.
pub fn parse_distribution(s: &str) -> Result<KeyDist, String> {
    let parts: Vec<&str> = s.split(':').map(str::trim).collect();
    let num = |x: &str, what: &str, lo: f64, hi: f64| -> Result<f64, String> {
        let v: f64 = x
            .parse()
            .map_err(|_| format!("{s:?}: {what} {x:?} is not a number"))?;
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{s:?}: {what} = {v}; expected {lo} to {hi}"))
        }
    };
    match parts.as_slice() {
        ["uniform"] => Ok(KeyDist::Uniform),
        ["zipf"] => Ok(KeyDist::Zipf { s: 0.99 }),
        ["zipf", e] => Ok(KeyDist::Zipf {
            s: num(e, "exponent", 0.0, 10.0)?,
        }),
        ["latest"] => Ok(KeyDist::Latest { s: 0.99 }),
        ["latest", e] => Ok(KeyDist::Latest {
            s: num(e, "exponent", 0.0, 10.0)?,
        }),
        ["hotspot", f, h] => Ok(KeyDist::Hotspot {
            hot_fraction: num(f, "hot fraction", 0.0, 1.0)?,
            hot_share: num(h, "hot share", 0.0, 1.0)?,
        }),
        _ => Err(format!(
            "{s:?}: expected uniform, zipf:S, hotspot:HOT_FRACTION:HOT_SHARE or latest:S"
        )),
    }
}

/// `100B`, `4KiB`, `1kb`, `10-1000`, `lognormal:1000:1.0:65536`.
pub fn parse_value_size(s: &str) -> Result<ValueSize, String> {
    if let Some(rest) = s.strip_prefix("lognormal:") {
        let p: Vec<&str> = rest.split(':').collect();
        let [median, sigma, max] = p.as_slice() else {
            return Err(format!("{s:?}: expected lognormal:MEDIAN:SIGMA:MAX"));
        };
        let sigma: f64 = sigma
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("{s:?}: sigma must be a number >= 0"))?;
        return Ok(ValueSize::LogNormal {
            median: parse_bytes(median)?,
            sigma,
            max: parse_bytes(max)?,
        });
    }
    if let Some((a, b)) = s.split_once('-') {
        let (min, max) = (parse_bytes(a)?, parse_bytes(b)?);
        if min > max {
            return Err(format!("{s:?}: MIN-MAX with MIN > MAX"));
        }
        return Ok(ValueSize::Uniform { min, max });
    }
    Ok(ValueSize::Fixed(parse_bytes(s)?))
}

/// `100`, `100B`, `4KiB`, `1k`, `1kb`, `2MiB`: `ringlab_core::units`'
/// syntax, Redis's meaning (`1k` = 1000, `1kb` = 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    ringlab_core::units::parse_size(s).map_err(|e| e.to_string())
}

/// `INDEX/COUNT` with INDEX < COUNT.
pub fn parse_client(s: &str) -> Result<(u32, u32), String> {
    let parsed = s
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n >= 1 && i < n => Ok((i, n)),
        _ => Err(format!(
            "{s:?}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/1 or 2/4"
        )),
    }
}

/// `poisson` or `uniform`.
pub fn parse_arrival(s: &str) -> Result<Arrival, String> {
    match s {
        "poisson" => Ok(Arrival::Poisson),
        "uniform" | "even" => Ok(Arrival::Uniform),
        _ => Err(format!("{s:?}: expected poisson or uniform")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_parse_and_bad_ones_say_what_was_expected() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(parse_rate("1_000"), Ok(Rate::Constant(1000.0)));
        assert_eq!(
            parse_rate("10..20"),
            Ok(Rate::Ramp {
                from: 10.0,
                to: 20.0
            })
        );
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5").is_err());
        let m = parse_mix("get=0.5, set=0.25,del=0.25").unwrap();
        assert_eq!((m.get, m.set, m.delete), (0.5, 0.25, 0.25));
        assert!(parse_mix("get=0.5").unwrap_err().contains("sum to 1"));
        assert!(parse_mix("put=1").unwrap_err().contains("unknown op"));
        assert_eq!(parse_distribution("zipf:1.1"), Ok(KeyDist::Zipf { s: 1.1 }));
        assert_eq!(
            parse_distribution("hotspot:0.01:0.9"),
            Ok(KeyDist::Hotspot {
                hot_fraction: 0.01,
                hot_share: 0.9
            })
        );
        assert!(
            parse_distribution("hotspot:2:0.9")
                .unwrap_err()
                .contains("expected 0 to 1")
        );
        assert_eq!(parse_value_size("4KiB"), Ok(ValueSize::Fixed(4096)));
        assert_eq!(
            parse_value_size("10-1000"),
            Ok(ValueSize::Uniform { min: 10, max: 1000 })
        );
        assert!(matches!(
            parse_value_size("lognormal:1KiB:1.0:64KiB"),
            Ok(ValueSize::LogNormal {
                median: 1024,
                max: 65536,
                ..
            })
        ));
        assert!(parse_value_size("12 apples").is_err());
        assert_eq!(parse_client("2/4"), Ok((2, 4)));
        assert!(parse_client("4/4").is_err());
        assert!(parse_client("0/0").is_err());
    }

    #[test]
    fn targets_are_required() {
        let cli = Cli::try_parse_from(["ringlab-load"]).unwrap();
        let e = plan(&cli.load).unwrap_err();
        assert!(e.to_string().contains("--target"), "{e}");
    }
}
