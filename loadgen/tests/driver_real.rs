//! The driver and `ringlab-load` on the real network, against the fake RESP
//! server on 127.0.0.1:0.

#![cfg(not(madsim))]

mod driver_common;

use std::time::Duration;

use clap::Parser;
use driver_common::{Behaviour, phase, spawn_server};
use ringlab_loadgen::driver::cli::{Cli, execute, plan};
use ringlab_loadgen::driver::{DriverConfig, DriverError, run};
use ringlab_loadgen::recorder::RunMeta;
use ringlab_loadgen::workload::{Mix, OpKind, ValueSize};
use ringlab_node::clock::Clock;

fn meta() -> RunMeta {
    RunMeta {
        scenario: "real".into(),
        description: String::new(),
        seed: Some(3),
        source: "real".into(),
        window: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn a_short_phase_against_a_fake_server_is_counted_exactly() {
    let clock = Clock::real();
    let (addr, seen) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let mut p = phase("steady", Duration::from_secs(1), 500.0);
    p.mix = Mix {
        get: 0.4,
        set: 0.2,
        delete: 0.1,
        incr: 0.1,
        mget: 0.1,
        expire: 0.1,
    };
    p.ttl = Some(Duration::from_secs(30));
    let cfg = DriverConfig {
        targets: vec![addr],
        phases: vec![p],
        client_index: 0,
        client_count: 1,
        window: Duration::from_millis(250),
        pipeline: 1,
        seed: 3,
        key_prefix: "t:".into(),
        app: None,
        password: None,
    };
    let record = run(cfg, clock, meta(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(record.windows.len(), 4);
    assert_eq!(record.meta.window, Duration::from_millis(250));
    let all = record.aggregate_all(None);
    assert_eq!(all.counts.scheduled(), 500);
    assert_eq!(all.counts.ok, 500, "{:?}", all.counts);
    assert_eq!(all.hist.len(), 500);
    for w in &record.windows {
        assert_eq!(w.aggregate(None).counts.scheduled(), 125);
    }
    let by_kind: Vec<u64> = OpKind::ALL
        .iter()
        .map(|k| record.aggregate_all(Some(*k)).counts.ok)
        .collect();
    assert!(by_kind.iter().all(|n| *n > 20), "{by_kind:?}");
    // The server saw exactly what the record says was sent.
    let seen = seen.lock().unwrap();
    for (i, name) in ["GET", "SET", "DEL", "INCR", "MGET", "PEXPIRE"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(seen.commands.get(name), Some(&by_kind[i]), "{name}");
    }
    // Every SET carried the phase's TTL.
    assert_eq!(seen.commands.get("SET PX 30000"), Some(&by_kind[1]));
    let get = record.aggregate_all(Some(OpKind::Get)).counts;
    assert!(get.misses > 0 && get.misses < get.ok, "{get:?}");
}

#[tokio::test]
async fn the_cli_plan_runs_with_pipelining_and_counts_every_request() {
    let clock = Clock::real();
    let (addr, seen) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let cli = Cli::try_parse_from([
        "ringlab-load",
        "--target",
        &addr.to_string(),
        "--rate",
        "2000",
        "--duration",
        "500ms",
        "--arrival",
        "uniform",
        "--connections",
        "2",
        "--pipeline",
        "8",
        "--mix",
        "get=0.8,set=0.2",
        "--keys",
        "50",
        "--distribution",
        "zipf:0.99",
        "--value-size",
        "1KiB",
        "--window",
        "100ms",
        "--no-progress",
    ])
    .unwrap();
    let plan = plan(&cli.load).unwrap();
    assert_eq!(plan.out, std::path::PathBuf::from("out/load-adhoc"));
    let record = execute(&plan, clock, std::future::pending(), false)
        .await
        .unwrap();
    let all = record.aggregate_all(None);
    assert_eq!(all.counts.scheduled(), 1000);
    assert_eq!(all.counts.ok, 1000, "{:?}", all.counts);
    assert_eq!(record.windows.len(), 5);
    let seen = seen.lock().unwrap();
    let sent: u64 = seen.commands.values().sum();
    assert_eq!(sent, 1000);
}

#[tokio::test]
async fn stopping_early_still_accounts_for_every_scheduled_request() {
    let clock = Clock::real();
    let (addr, _) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let cfg = DriverConfig {
        targets: vec![addr],
        phases: vec![phase("long", Duration::from_secs(30), 1000.0)],
        client_index: 0,
        client_count: 1,
        window: Duration::from_secs(1),
        pipeline: 1,
        seed: 1,
        key_prefix: String::new(),
        app: None,
        password: None,
    };
    let started = clock.now();
    let stop = clock.sleep(Duration::from_millis(300));
    let record = run(cfg, clock, meta(), stop).await.unwrap();
    let elapsed_ms = (clock.now() - started) / 1000;
    let all = record.aggregate_all(None);
    // About 300 requests came due before the stop (one a millisecond), and
    // no more than the run's wall time allows (a busy machine may notice
    // the stop late); every one of them is accounted for, and ok.
    assert!(
        all.counts.scheduled() >= 250 && all.counts.scheduled() <= elapsed_ms + 1,
        "{:?} in {elapsed_ms} ms",
        all.counts
    );
    assert!(elapsed_ms < 30_000, "the stop ended the 30 s phase early");
    assert_eq!(all.counts.ok, all.counts.scheduled());
}

#[tokio::test]
async fn bad_configurations_are_errors() {
    let clock = Clock::real();
    let cfg = DriverConfig {
        targets: vec![],
        phases: vec![phase("p", Duration::from_secs(1), 1.0)],
        client_index: 0,
        client_count: 1,
        window: Duration::from_secs(1),
        pipeline: 1,
        seed: 1,
        key_prefix: String::new(),
        app: None,
        password: None,
    };
    let err = |cfg: DriverConfig| async move {
        run(cfg, clock, meta(), std::future::pending())
            .await
            .unwrap_err()
    };
    assert_eq!(err(cfg.clone()).await, DriverError::NoTargets);
    let mut c = cfg.clone();
    c.targets = vec!["127.0.0.1:1".parse().unwrap()];
    c.pipeline = 0;
    assert_eq!(err(c.clone()).await, DriverError::NoPipeline);
    c.pipeline = 1;
    c.phases[0].connections = 0;
    assert!(err(c.clone()).await.to_string().contains("connections = 0"));
    c.phases[0].connections = 1;
    c.client_index = 5;
    assert!(matches!(err(c).await, DriverError::Workload(_)));
}

/// The binary end to end: flags in, a summary out, exit 0; and Ctrl-C
/// (SIGINT) stops it early but still reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_and_stops_cleanly_on_sigint() {
    let clock = Clock::real();
    let (addr, _) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let exe = env!("CARGO_BIN_EXE_ringlab-load");
    let reports = tempfile::tempdir().unwrap();
    let (first, second) = (reports.path().join("a"), reports.path().join("b"));
    let target = addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args(["--target", &target, "--rate", "1000", "--duration", "400ms"])
            .arg("--out")
            .arg(first)
            .args([
                "--arrival",
                "uniform",
                "--connections",
                "4",
                "--no-progress",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let all = stdout
        .lines()
        .find(|l| l.starts_with("all "))
        .unwrap_or_else(|| panic!("no 'all' row in {stdout}"));
    let cols: Vec<&str> = all.split_whitespace().collect();
    assert_eq!(cols[1], "400", "{stdout}");
    assert_eq!(cols[3], "0", "errors in {stdout}");

    let target = addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(exe)
            .args(["--target", &target, "--rate", "1000", "--duration", "60s"])
            .arg("--no-progress")
            .arg("--out")
            .arg(second)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let all = stdout
        .lines()
        .find(|l| l.starts_with("all "))
        .unwrap_or_else(|| panic!("no 'all' row in {stdout}"));
    let scheduled: u64 = all.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(scheduled > 100 && scheduled < 5000, "{stdout}");
}

/// A scenario file supplies the phases, name and seed; its faults are
/// reported as ignored, not silently dropped.
#[test]
fn a_scenario_file_supplies_the_workload_and_its_faults_are_noted() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let file = format!("{dir}/../scenario/testdata/scenarios/good/design-example.toml");
    let cli = Cli::try_parse_from([
        "ringlab-load",
        "--target",
        "127.0.0.1:7000",
        "--scenario",
        &file,
    ])
    .unwrap();
    let plan = plan(&cli.load).unwrap();
    let sc = ringlab_loadgen::scenario::load(std::path::Path::new(&file)).unwrap();
    assert_eq!(plan.config.phases, sc.phases);
    assert_eq!(plan.meta.scenario, sc.name);
    assert_eq!(plan.config.seed, sc.seed);
    assert_eq!(
        plan.out,
        std::path::PathBuf::from(format!("out/load-{}", sc.name))
    );
    let ignored: Vec<&String> = plan
        .notes
        .iter()
        .filter(|n| n.starts_with("ignored fault"))
        .collect();
    assert_eq!(ignored.len(), sc.faults.len(), "{:?}", plan.notes);
    assert!(!sc.faults.is_empty());
    assert!(ignored[0].contains("kill node-3"), "{ignored:?}");
    // Workload flags conflict with a scenario file.
    assert!(Cli::try_parse_from(["ringlab-load", "--scenario", &file, "--rate", "5"]).is_err());
}

/// The binary writes the report directory, and `compare` of a run with
/// itself passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_a_report_that_compare_accepts() {
    let clock = Clock::real();
    let (addr, _) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let exe = env!("CARGO_BIN_EXE_ringlab-load");
    let out_dir = tempfile::tempdir().unwrap();
    let report = out_dir.path().join("run");
    let target = addr.to_string();
    let report_arg = report.clone();
    let (run, cmp) = tokio::task::spawn_blocking(move || {
        let run = std::process::Command::new(exe)
            .args(["--target", &target, "--rate", "500", "--duration", "1s"])
            .args(["--arrival", "uniform", "--no-progress", "--out"])
            .arg(&report_arg)
            .output()
            .unwrap();
        let cmp = std::process::Command::new(exe)
            .arg("compare")
            .arg(&report_arg)
            .arg(&report_arg)
            .output()
            .unwrap();
        (run, cmp)
    })
    .await
    .unwrap();
    assert!(run.status.success(), "{run:?}");
    for f in [
        "summary.json",
        "summary.md",
        "timeline.csv",
        "latency.hlog",
        "report.html",
    ] {
        let meta = std::fs::metadata(report.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let summary = ringlab_loadgen::report::Summary::load(&report.join("summary.json")).unwrap();
    assert_eq!(summary.scenario, "adhoc");
    assert_eq!(summary.source, "real");
    assert_eq!(summary.overall.all.requests, 500);
    assert_eq!(summary.overall.all.ok, 500);
    assert_eq!(summary.phases.len(), 1);
    assert_eq!(cmp.status.code(), Some(0), "{cmp:?}");

    // A real run writes the same set of files as a simulated one: compare
    // with the committed simulator report of the quickstart lesson (a single
    // phase and no extra series on either side).
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let simulated = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/quickstart");
    assert_eq!(
        names(&report),
        names(&simulated),
        "real vs simulated report files"
    );
}

/// A server that acknowledges writes without applying them for half a
/// second: gets then return values older than writes acknowledged before
/// they were sent, and the driver counts them as stale (ok, hits, stale).
/// While the server applies every write, no read is stale.
#[tokio::test]
async fn reads_that_miss_acknowledged_writes_are_counted_stale() {
    let clock = Clock::real();
    let start = clock.now();
    let behaviour = Behaviour {
        lose_writes: Some((start + 500_000, start + 1_000_000)),
        ..Behaviour::default()
    };
    let (addr, _) = spawn_server("127.0.0.1:0", clock, behaviour).await;
    let mut p = phase("steady", Duration::from_millis(1500), 1000.0);
    p.keys.count = 20;
    p.mix.get = 0.5;
    p.mix.set = 0.3;
    p.mix.delete = 0.2;
    p.value_size = ValueSize::Fixed(32);
    let cfg = DriverConfig {
        targets: vec![addr],
        phases: vec![p],
        client_index: 0,
        client_count: 1,
        window: Duration::from_millis(250),
        pipeline: 1,
        seed: 5,
        key_prefix: "stale:".into(),
        app: None,
        password: None,
    };
    let record = run(cfg, clock, meta(), std::future::pending())
        .await
        .unwrap();
    let get = |k: usize| record.windows[k].aggregate(Some(OpKind::Get)).counts;
    // Before the server loses writes it is a linearizable register.
    assert_eq!(get(0).stale, 0, "{:?}", get(0));
    // Wholly inside the loss (the run starts a little after `start`).
    let lossy = get(2);
    assert!(lossy.stale > 10, "{lossy:?}");
    assert!(
        lossy.stale <= lossy.ok - lossy.misses,
        "stale reads are hits: {lossy:?}"
    );
    let all = record.aggregate_all(None).counts;
    assert_eq!(all.ok, all.scheduled(), "stale reads are ok: {all:?}");
    assert_eq!(record.aggregate_all(Some(OpKind::Set)).counts.stale, 0);
}

/// `ringlab-load` with a cache-aside scenario: the database is simulated
/// in-process; misses read it and fill the cache, sets write it and delete
/// the cached copy, and its counters become the record's series.
#[tokio::test]
async fn a_cache_aside_scenario_drives_the_in_process_database() {
    let clock = Clock::real();
    let (addr, seen) = spawn_server("127.0.0.1:0", clock, Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aside.toml");
    std::fs::write(
        &file,
        r#"
name = "aside"
window = "100ms"
[app]
pattern = "cache-aside"
fill_ttl = "10s"
[database]
latency = "1ms"
concurrency = 4
queue_limit = 1000
[[phase]]
name = "load"
duration = "500ms"
rate = 1000
arrival = "uniform"
keys = { count = 20, distribution = "uniform" }
mix = { get = 0.5, set = 0.5 }
value_size = "10B"
timeout = "1s"
connections = 4
"#,
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let cli = Cli::try_parse_from([
        "ringlab-load",
        "--target",
        &addr.to_string(),
        "--scenario",
        &file,
        "--no-progress",
    ])
    .unwrap();
    let plan = plan(&cli.load).unwrap();
    assert!(plan.app.is_some());
    let record = execute(&plan, clock, std::future::pending(), false)
        .await
        .unwrap();
    let gets = record.aggregate_all(Some(OpKind::Get)).counts;
    let sets = record.aggregate_all(Some(OpKind::Set)).counts;
    assert_eq!(gets.ok + sets.ok, 500, "{gets:?} {sets:?}");
    let total = |name: &str| -> f64 {
        let s = record
            .series
            .get(name)
            .unwrap_or_else(|| panic!("no {name}: {:?}", record.series.keys()));
        assert_eq!(s.len(), record.windows.len());
        s.iter().sum::<f64>() * 0.1
    };
    assert_eq!(total("db.writes_per_s").round() as u64, sets.ok);
    assert_eq!(total("db.reads_per_s").round() as u64, gets.misses);
    assert!(gets.misses > 0);
    let seen = seen.lock().unwrap();
    // Every set deleted its cached copy; every read's fill is a SET.
    assert_eq!(seen.commands.get("DEL"), Some(&sets.ok));
    assert_eq!(seen.commands.get("GET"), Some(&gets.ok));
    let fills = seen.commands.get("SET").copied().unwrap_or(0);
    assert!(fills > 0 && fills <= gets.misses, "{fills} fills");
}

/// `--password` authenticates every connection before its first request;
/// without it a password-protected server refuses every request (what
/// ringlab-load did before the flag), and a wrong one stops the run at once
/// with the server's answer.
#[tokio::test]
async fn the_password_flag_authenticates_every_connection() {
    let clock = Clock::real();
    let behaviour = Behaviour {
        password: Some("sesame".into()),
        ..Behaviour::default()
    };
    let (addr, seen) = spawn_server("127.0.0.1:0", clock, behaviour).await;
    let run_with = |password: Option<&'static str>| {
        let addr = addr.to_string();
        async move {
            let mut args = vec![
                "ringlab-load",
                "--target",
                &addr,
                "--rate",
                "400",
                "--duration",
                "500ms",
                "--arrival",
                "uniform",
                "--connections",
                "3",
            ];
            if let Some(pw) = password {
                args.extend(["--password", pw]);
            }
            let cli = Cli::try_parse_from(args).expect("the flags parse");
            let plan = plan(&cli.load).expect("a plan");
            execute(&plan, clock, std::future::pending(), false)
                .await
                .map(|r| r.aggregate_all(None).counts)
        }
    };

    let with = run_with(Some("sesame")).await.expect("the run completes");
    assert_eq!(with.ok, 200, "{with:?}");
    // Three connections, and the pre-flight check's one.
    assert_eq!(seen.lock().unwrap().commands.get("AUTH"), Some(&4));

    let without = run_with(None).await.expect("the run completes");
    assert_eq!(without.ok, 0, "{without:?}");
    assert_eq!(without.errors.get("NOAUTH"), Some(&200), "{without:?}");

    let wrong = run_with(Some("open")).await.expect_err("a wrong password");
    let msg = format!("{wrong:#}");
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("AUTH refused: -WRONGPASS"), "{msg}");
}
