//! `compare` across seeds: the rank test flags a shifted distribution and
//! not an identical one (property tests on synthetic per-seed figures);
//! on whole synthetic runs it catches a 10% latency shift, passes at least
//! 19 of 20 comparisons of an unchanged scenario's seeds, refuses to judge
//! from too few seeds or requests, and writes JSON, JUnit and Markdown.

use std::path::{Path, PathBuf};

use clap::Parser;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_loadgen::compare::seeds::{
    self, Figure, SeedComparison, SeedRun, SeedSettings, SeedVerdict,
};
use ringlab_loadgen::compare::{self, CompareArgs};
use ringlab_loadgen::report::{Summary, sample};
use ringlab_loadgen::stats;

proptest! {
    // The exact test counts subsets per rank sum: cheap, but not at 256
    // cases of 60 values in a debug build.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every new value above every base value: the smallest p there is,
    /// whatever the values.
    #[test]
    fn a_complete_shift_gives_the_smallest_p(
        base in prop::collection::vec(0.0f64..1000.0, 2..12),
        new_offsets in prop::collection::vec(0.0f64..1000.0, 2..12),
    ) {
        let top = base.iter().copied().fold(f64::MIN, f64::max);
        let new: Vec<f64> = new_offsets.iter().map(|o| top + 1.0 + o).collect();
        let p = stats::mann_whitney_greater(&base, &new).unwrap();
        let floor = stats::smallest_p(base.len(), new.len());
        prop_assert!((p - floor).abs() < 1e-12 * floor.max(1e-300) + 1e-15, "p {p} floor {floor}");
    }

    /// The same values on both sides are never evidence of a shift.
    #[test]
    fn identical_samples_are_not_flagged(v in prop::collection::vec(0.0f64..1e6, 2..20)) {
        let p = stats::mann_whitney_greater(&v, &v).unwrap();
        prop_assert!(p >= 0.5, "p {p}");
    }

    /// Shifting the new side up never makes the p-value larger.
    #[test]
    fn a_larger_shift_is_more_significant(
        base in prop::collection::vec(0.0f64..100.0, 3..10),
        new in prop::collection::vec(0.0f64..100.0, 3..10),
        shift in 0.0f64..200.0,
    ) {
        let moved: Vec<f64> = new.iter().map(|x| x + shift).collect();
        let p0 = stats::mann_whitney_greater(&base, &new).unwrap();
        let p1 = stats::mann_whitney_greater(&base, &moved).unwrap();
        prop_assert!(p1 <= p0 + 1e-12, "p {p0} -> {p1}");
    }

    /// One value on a side is too few to judge.
    #[test]
    fn one_seed_is_too_few(x in 0.0f64..1e6, v in prop::collection::vec(0.0f64..1e6, 1..10)) {
        prop_assert_eq!(stats::mann_whitney_greater(&[x], &v), None);
        prop_assert_eq!(stats::mann_whitney_greater(&v, &[x]), None);
    }
}

/// Under the null (both sides from one distribution), the test flags at
/// most its alpha: 2,000 seeded trials of 6 against 6 values.
#[test]
fn false_alarms_stay_at_alpha() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let trials = 2000;
    let mut flagged = 0;
    for _ in 0..trials {
        let mut draw = || {
            (0..6)
                .map(|_| rng.random_range(100.0..110.0))
                .collect::<Vec<f64>>()
        };
        let (b, n) = (draw(), draw());
        if stats::mann_whitney_greater(&b, &n).unwrap() <= 0.05 {
            flagged += 1;
        }
    }
    let rate = f64::from(flagged) / f64::from(trials);
    assert!(rate <= 0.06, "false-alarm rate {rate}");
    assert!(
        rate >= 0.03,
        "the test should not be far more cautious than alpha: {rate}"
    );
}

/// Synthetic runs of seeds 1 to 16, made once (a sample record takes a
/// while in a debug build) and shared by the tests.
fn pool() -> &'static [SeedRun] {
    static POOL: std::sync::OnceLock<Vec<SeedRun>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        (1..=16)
            .map(|seed| SeedRun {
                dir: PathBuf::from(format!("seed-{seed}")),
                summary: Summary::from_record(&sample::record(seed)).unwrap(),
                db_reads: Default::default(),
            })
            .collect()
    })
}

/// The pool's runs of `seeds`, every latency percentile times `factor`.
fn side(seeds: impl Iterator<Item = u64>, factor: f64) -> Vec<SeedRun> {
    seeds
        .map(|s| {
            let mut run = pool()[s as usize - 1].clone();
            let summary = &mut run.summary;
            let spans = std::iter::once(&mut summary.overall).chain(summary.phases.iter_mut());
            for span in spans {
                for st in std::iter::once(&mut span.all).chain(span.ops.values_mut()) {
                    let l = &mut st.latency_us;
                    for v in [&mut l.p50, &mut l.p95, &mut l.p99, &mut l.p999] {
                        *v = v.map(|x| (x as f64 * factor).round() as u64);
                    }
                }
            }
            run
        })
        .collect()
}

fn flagged(c: &SeedComparison) -> Vec<(String, Figure)> {
    c.regressions()
        .map(|r| (r.span.clone(), r.figure))
        .collect()
}

#[test]
fn a_ten_percent_latency_shift_is_caught() {
    let base = side(1..=8, 1.0);
    let slowed = side(9..=16, 1.10);
    let c = seeds::compare_seeds(&base, &slowed, SeedSettings::default());
    assert_eq!(c.could_not_judge, None);
    let f = flagged(&c);
    assert!(
        f.contains(&("overall".to_string(), Figure::P50)),
        "{}",
        c.render(false)
    );
    // Faster is never a regression.
    let c = seeds::compare_seeds(&slowed, &base, SeedSettings::default());
    assert!(flagged(&c).is_empty(), "{}", c.render(false));
}

/// 20 splits of `pool` into two sets of 8, by a fixed LCG shuffle.
fn splits(pool: &[SeedRun]) -> Vec<(Vec<SeedRun>, Vec<SeedRun>)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..20)
        .map(|_| {
            let mut idx: Vec<usize> = (0..pool.len()).collect();
            for i in (1..idx.len()).rev() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                idx.swap(i, (state >> 33) as usize % (i + 1));
            }
            let pick = |ix: &[usize]| ix.iter().map(|&i| pool[i].clone()).collect::<Vec<_>>();
            (pick(&idx[..8]), pick(&idx[8..16]))
        })
        .collect()
}

#[test]
fn an_unchanged_scenario_passes_at_least_19_of_20_seed_pairs() {
    let mut failed = Vec::new();
    for (trial, (base, new)) in splits(pool()).into_iter().enumerate() {
        let c = seeds::compare_seeds(&base, &new, SeedSettings::default());
        assert_eq!(c.could_not_judge, None);
        if !flagged(&c).is_empty() {
            failed.push((trial, flagged(&c)));
        }
    }
    assert!(failed.len() <= 1, "flagged: {failed:?}");
}

#[test]
fn too_few_requests_for_a_percentile_is_not_judged() {
    let c = seeds::compare_seeds(
        &side(1..=8, 1.0),
        &side(9..=16, 1.0),
        SeedSettings::default(),
    );
    // The sample's warm-up phase has a few thousand requests: p99.9 needs
    // 10,000 per seed.
    let row = c
        .rows
        .iter()
        .find(|r| r.span == "warmup" && r.figure == Figure::P999)
        .expect("a p99.9 row for the warm-up");
    match &row.verdict {
        SeedVerdict::NotJudged(why) => assert!(why.contains("needs 10000 ok requests"), "{why}"),
        other => panic!("judged from too few requests: {other:?}"),
    }
}

#[test]
fn too_few_seeds_could_not_judge_and_says_how_many() {
    let c = seeds::compare_seeds(
        &side(1..=3, 1.0),
        &side(11..=13, 2.0),
        SeedSettings::default(),
    );
    let why = c.could_not_judge.clone().expect("3 seeds cannot be judged");
    assert!(why.contains("run at least"), "{why}");
    assert!(
        flagged(&c).is_empty(),
        "nothing is flagged without a verdict"
    );
    assert!(c.verdict_line().starts_with("COULD NOT JUDGE"));
}

/// Writes each run's summary.json into `dir/seed-N/`.
fn write_side(dir: &Path, runs: &[SeedRun]) {
    for r in runs {
        let d = dir.join(&r.dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("summary.json"), r.summary.to_json()).unwrap();
    }
}

fn args(base: &Path, new: &Path, out: &Path) -> CompareArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }
    let s = |p: &Path| p.display().to_string();
    Cli::parse_from([
        "compare".to_string(),
        s(base),
        s(new),
        "--json".into(),
        s(&out.join("c.json")),
        "--junit".into(),
        s(&out.join("c.xml")),
        "--markdown".into(),
        s(&out.join("c.md")),
        "--quiet".into(),
    ])
    .args
}

#[test]
fn the_cli_judges_sweep_directories_and_writes_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let (b, n, s) = (
        dir.path().join("b"),
        dir.path().join("n"),
        dir.path().join("s"),
    );
    write_side(&b, &side(1..=8, 1.0));
    write_side(&n, &side(9..=16, 1.0));
    write_side(&s, &side(9..=16, 1.10));
    let out = dir.path();
    assert!(compare::run(args(&b, &n, out)).unwrap(), "unchanged passes");
    assert!(!compare::run(args(&b, &s, out)).unwrap(), "slowed fails");

    let xml = std::fs::read_to_string(out.join("c.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let failures: usize = suite.attribute("failures").unwrap().parse().unwrap();
    assert!(failures >= 1, "{xml}");
    assert!(
        suite.attribute("skipped").unwrap() != "0",
        "p99.9 skipped: {xml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("c.json")).unwrap()).unwrap();
    assert!(
        json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["verdict"] == "regression")
    );
    let md = std::fs::read_to_string(out.join("c.md")).unwrap();
    assert!(
        md.contains("| phase | figure |") && md.contains("**FAIL"),
        "{md}"
    );

    // One seed against several cannot be judged: an error (exit 2).
    let e = compare::run(args(&b.join("seed-1"), &n, out)).unwrap_err();
    assert!(format!("{e:#}").contains("could not judge"), "{e:#}");
}
