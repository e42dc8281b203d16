//! `compare`: identical runs pass; a made-up regression in a copy fails;
//! tolerances come from defaults, a TOML file and flags; phases or op kinds
//! missing on one side fail.

use std::path::{Path, PathBuf};

use clap::Parser;
use ringlab_loadgen::compare::{self, CompareArgs, CompareError, Tolerances, Verdict};
use ringlab_loadgen::report::{Metric, Summary, sample};

fn base() -> Summary {
    Summary::from_record(&sample::record(7)).unwrap()
}

/// Multiplies one percentile of every span and op kind by `factor`.
fn scale(summary: &mut Summary, metric: Metric, factor: f64) {
    let bump = |v: &mut Option<u64>| {
        if let Some(x) = v {
            *x = (*x as f64 * factor).round() as u64;
        }
    };
    for span in std::iter::once(&mut summary.overall).chain(summary.phases.iter_mut()) {
        for stats in std::iter::once(&mut span.all).chain(span.ops.values_mut()) {
            let l = &mut stats.latency_us;
            match metric {
                Metric::P50 => bump(&mut l.p50),
                Metric::P95 => bump(&mut l.p95),
                Metric::P99 => bump(&mut l.p99),
                Metric::P999 => bump(&mut l.p999),
                Metric::Max => bump(&mut l.max),
                other => panic!("not a percentile: {other:?}"),
            }
        }
    }
}

fn regressions(c: &compare::Comparison) -> Vec<(String, String, Option<Metric>)> {
    c.regressions()
        .map(|r| (r.span.clone(), r.op.clone(), r.metric))
        .collect()
}

#[test]
fn identical_runs_pass() {
    let c = compare::compare(&base(), &base(), &Tolerances::default());
    assert!(c.passed(), "{}", c.render(false));
    // 4 spans x 4 op rows x 7 figures, less the hit ratio of sets and
    // deletes, undefined on both sides.
    assert_eq!(c.rows.len(), 4 * 4 * 7 - 4 * 2);
    let ops: Vec<&str> = c.rows[..26].iter().map(|r| r.op.as_str()).collect();
    assert_eq!(
        ops.iter().collect::<std::collections::BTreeSet<_>>().len(),
        4
    );
    assert_eq!(
        (ops[0], ops[7], ops[14], ops[20]),
        ("all", "get", "set", "delete")
    );
    assert!(c.render(false).ends_with("PASS: no regression\n"));
}

#[test]
fn p99_up_20_percent_is_a_regression() {
    let mut new = base();
    scale(&mut new, Metric::P99, 1.2);
    let c = compare::compare(&base(), &new, &Tolerances::default());
    assert!(!c.passed());
    let regs = regressions(&c);
    // Every span and op row's p99 regressed, and nothing else.
    assert_eq!(regs.len(), 4 * 4);
    assert!(regs.iter().all(|r| r.2 == Some(Metric::P99)));
    let table = c.render(false);
    assert!(table.contains("REGRESSION: above limit"), "{table}");
    assert!(table.contains("+20.0%"), "{table}");
    assert!(table.ends_with("FAIL: 16 regressions\n"), "{table}");
    // The quiet table lists only the regressions.
    let quiet = c.render(true);
    assert_eq!(
        quiet.lines().filter(|l| l.contains("REGRESSION")).count(),
        16
    );
    assert!(!quiet.contains(" ok"), "{quiet}");
}

#[test]
fn growth_within_tolerance_passes() {
    let mut new = base();
    scale(&mut new, Metric::P99, 1.04);
    scale(&mut new, Metric::P999, 1.049);
    // Percentiles that are not gated by default may move freely.
    scale(&mut new, Metric::P50, 3.0);
    scale(&mut new, Metric::Max, 10.0);
    let c = compare::compare(&base(), &new, &Tolerances::default());
    assert!(c.passed(), "{}", c.render(true));
    let p50 = c
        .rows
        .iter()
        .find(|r| r.metric == Some(Metric::P50))
        .unwrap();
    assert_eq!(p50.verdict, Verdict::NotGated);
}

#[test]
fn slack_keeps_tiny_latencies_from_flapping() {
    let mut b = base();
    b.overall.all.latency_us.p99 = Some(12);
    let mut n = b.clone();
    n.overall.all.latency_us.p99 = Some(14); // +17%, but only 2 µs
    let tol = Tolerances::default();
    assert!(compare::compare(&b, &n, &tol).passed());
    n.overall.all.latency_us.p99 = Some(12 + 1 + 20); // beyond 12 * 1.05 + 20
    assert!(!compare::compare(&b, &n, &tol).passed());
    let no_slack = Tolerances {
        slack_us: 0.0,
        ..Tolerances::default()
    };
    n.overall.all.latency_us.p99 = Some(14);
    assert!(!compare::compare(&b, &n, &no_slack).passed());
}

#[test]
fn availability_and_hit_ratio_drops() {
    let tol = Tolerances::default();
    let mut n = base();
    let a = n.overall.all.availability.unwrap();
    n.overall.all.availability = Some(a - 0.00005); // 0.005 points: allowed
    assert!(compare::compare(&base(), &n, &tol).passed());
    n.overall.all.availability = Some(a - 0.0002); // 0.02 points: too much
    let c = compare::compare(&base(), &n, &tol);
    assert_eq!(
        regressions(&c),
        vec![("overall".into(), "all".into(), Some(Metric::Availability))]
    );
    assert!(c.render(false).contains("below limit"));

    let mut n = base();
    let get = n.phases[1].ops.get_mut("get").unwrap();
    get.hit_ratio = get.hit_ratio.map(|h| h - 0.02);
    let c = compare::compare(&base(), &n, &tol);
    assert_eq!(
        regressions(&c),
        vec![("steady".into(), "get".into(), Some(Metric::HitRatio))]
    );
    // Better is never a regression.
    let mut n = base();
    n.overall.all.availability = Some(1.0);
    scale(&mut n, Metric::P99, 0.5);
    assert!(compare::compare(&base(), &n, &tol).passed());
}

#[test]
fn missing_phases_and_ops_are_regressions_on_either_side() {
    let tol = Tolerances::default();
    let mut n = base();
    n.phases.retain(|p| p.name != "spike");
    let c = compare::compare(&base(), &n, &tol);
    assert_eq!(regressions(&c), vec![("spike".into(), "all".into(), None)]);
    assert!(c.render(false).contains("phase missing in new"));

    let c = compare::compare(&n, &base(), &tol);
    assert_eq!(regressions(&c), vec![("spike".into(), "all".into(), None)]);
    assert!(c.render(false).contains("phase missing in base"));

    let mut n = base();
    n.phases[0].ops.remove("delete");
    let c = compare::compare(&base(), &n, &tol);
    assert_eq!(
        regressions(&c),
        vec![("warmup".into(), "delete".into(), None)]
    );
    assert!(c.render(false).contains("op kind missing in new"));
}

#[test]
fn latency_that_vanishes_is_a_regression() {
    let mut n = base();
    n.phases[2].all.latency_us.p99 = None;
    let c = compare::compare(&base(), &n, &Tolerances::default());
    assert_eq!(
        regressions(&c),
        vec![("spike".into(), "all".into(), Some(Metric::P99))]
    );
    assert!(c.render(false).contains("no ok request in new"));
}

#[test]
fn repeated_phase_names_are_matched_in_order() {
    let mut b = base();
    let mut again = b.phases[1].clone();
    again.all.latency_us.p99 = Some(100_000);
    b.phases.push(again);
    let c = compare::compare(&b, &b, &Tolerances::default());
    assert!(c.passed());
    assert!(c.rows.iter().any(|r| r.span == "steady#2"));
}

fn write_toml(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tolerances.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn args(extra: &[&str]) -> CompareArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }
    let mut argv = vec!["compare", "base-dir", "new-dir"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().args
}

#[test]
fn tolerance_file_sets_every_knob() {
    let (_dir, path) = write_toml(
        r#"
slack_us = 5
availability_drop_points = 0.5
hit_ratio_drop = 0.1

[latency_growth_percent]
p50 = 10
"p99.9" = 2.5
p99 = "off"
max = 50
"#,
    );
    let tol = Tolerances::from_args(&args(&["--tolerances", path.to_str().unwrap()])).unwrap();
    assert_eq!(tol.slack_us, 5.0);
    assert_eq!(tol.availability_drop_pts, 0.5);
    assert_eq!(tol.hit_ratio_drop, 0.1);
    assert_eq!(
        tol.growth_pct.into_iter().collect::<Vec<_>>(),
        vec![
            (Metric::P50, 10.0),
            (Metric::P999, 2.5),
            (Metric::Max, 50.0)
        ]
    );
}

#[test]
fn flags_override_the_file() {
    let (_dir, path) = write_toml("slack_us = 5\n[latency_growth_percent]\np99 = 1\n");
    let tol = Tolerances::from_args(&args(&[
        "--tolerances",
        path.to_str().unwrap(),
        "--slack-us",
        "0",
        "--growth",
        "p99=7.5",
        "--growth",
        "p99.9=off",
        "--availability-drop",
        "1",
        "--hit-ratio-drop",
        "0.05",
    ]))
    .unwrap();
    assert_eq!(tol.slack_us, 0.0);
    assert_eq!(tol.growth_pct.get(&Metric::P99), Some(&7.5));
    assert_eq!(tol.growth_pct.get(&Metric::P999), None);
    assert_eq!(tol.availability_drop_pts, 1.0);
    assert_eq!(tol.hit_ratio_drop, 0.05);
}

#[test]
fn bad_tolerances_are_errors_that_name_the_problem() {
    let (_dir, path) = write_toml("slack_us = 5\nsurprise = 1\n");
    let err = Tolerances::from_args(&args(&["--tolerances", path.to_str().unwrap()])).unwrap_err();
    assert!(matches!(err, CompareError::Toml { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("tolerances.toml") && msg.contains("surprise"),
        "{msg}"
    );
    assert!(msg.contains("line 2"), "{msg}");

    let (_dir, path) = write_toml("[latency_growth_percent]\np98 = 5\n");
    let err = Tolerances::from_args(&args(&["--tolerances", path.to_str().unwrap()])).unwrap_err();
    assert!(
        matches!(err, CompareError::UnknownPercentile { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("p98"), "{err}");

    let (_dir, path) = write_toml("[latency_growth_percent]\np99 = \"lots\"\n");
    let err = Tolerances::from_args(&args(&["--tolerances", path.to_str().unwrap()])).unwrap_err();
    assert!(err.to_string().contains("lots"), "{err}");

    let (_dir, path) = write_toml("slack_us = -1\n");
    let err = Tolerances::from_args(&args(&["--tolerances", path.to_str().unwrap()])).unwrap_err();
    assert!(err.to_string().contains("slack_us"), "{err}");

    for bad in [
        ["--growth", "p99"],
        ["--growth", "p99=fast"],
        ["--growth", "hit_ratio=1"],
    ] {
        let err = Tolerances::from_args(&args(&bad)).unwrap_err();
        assert!(err.to_string().contains("--growth"), "{err}");
    }

    let err = Tolerances::from_args(&args(&["--tolerances", "/nonexistent/t.toml"])).unwrap_err();
    assert!(matches!(err, CompareError::Read { .. }), "{err}");
}

fn report_dir(summary: &Summary) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("summary.json"), summary.to_json()).unwrap();
    dir
}

fn run(base: &Path, new: &Path, extra: &[&str]) -> anyhow::Result<bool> {
    let mut a = args(extra);
    a.base = base.to_path_buf();
    a.new = new.to_path_buf();
    compare::run(a)
}

#[test]
fn run_reads_report_directories_and_returns_the_verdict() {
    let b = report_dir(&base());
    let mut regressed = base();
    scale(&mut regressed, Metric::P999, 1.2);
    let n = report_dir(&regressed);
    assert!(run(b.path(), b.path(), &[]).unwrap());
    assert!(!run(b.path(), n.path(), &["--quiet"]).unwrap());
    // A looser tolerance lets the same change through.
    assert!(run(b.path(), n.path(), &["--growth", "p99.9=25"]).unwrap());
    // A missing report is an error, not a verdict.
    let err = run(b.path(), Path::new("/nonexistent/report"), &[]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/report"), "{err}");
}

#[test]
fn full_report_directories_compare_too() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ringlab_loadgen::report::write_all(&sample::record(7), &a).unwrap();
    ringlab_loadgen::report::write_all(&sample::record(7), &b).unwrap();
    assert!(run(&a, &b, &[]).unwrap());
    // Rewriting the regressed run's summary.json in place is what CI sees.
    let mut regressed = Summary::load(&b).unwrap();
    scale(&mut regressed, Metric::P99, 1.5);
    std::fs::write(b.join("summary.json"), regressed.to_json()).unwrap();
    assert!(!run(&a, &b, &[]).unwrap());
}
