//! `ringlab-sim plan` on the real binary: a plan whose answer theory
//! gives, and the errors of broken arguments.
#![cfg(not(madsim))]

use std::path::Path;

mod common;

use common::{run_sim as sim, stderr};

const MM1: &str = "sim/tests/data/plan-mm1.toml";

/// M/M/1 with mean service 100 us (mu = 10,000/s): the p99 of the time in
/// the system is ln(100) / (mu - lambda), at most 2 ms up to
/// lambda = 10,000 - ln(100) / 0.002 = 7,697 requests per second.
///
/// Tolerance: at 5 seeds of 20 model seconds (about 150k requests each),
/// the seeds' p99 spread about +-6% around theory near that load. p99 is
/// 1 / (mu - lambda), so a 6% error in p99 moves the rate at which it
/// crosses 2 ms by 6% of mu - lambda (2,303), about 140/s; a point passes
/// only when its worst seed does, which biases the answer low by about that
/// much; the search stops within its resolution (1% of the start, 70/s). So
/// the answer must lie in 7,697 - 250 ..= 7,697 + 70, and theory's p99 at the
/// answer must lie within the seeds' measured p99 there (the "seed spread"),
/// give or take 3%: even unbiased, five seeds' range misses the true value
/// one time in sixteen (2 x 2^-5), by a fraction of the seed-to-seed spread.
#[test]
fn plan_finds_the_mm1_rate_theory_gives() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let o = sim(&[
        "plan", MM1, "--find", "rate", "--slo", "p99<=2ms", "--seeds", "5", "--out", dir,
        // A bracket around the answer (mu = 10,000 is the ceiling) keeps
        // the points few: the unoptimized test build runs each in seconds.
        "--start", "7000", "--max", "9000",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("plan.json")).unwrap())
            .unwrap();
    let answer = plan["answer"].as_u64().expect("an answer");
    let theory = 10_000.0 - 100f64.ln() / 0.002;
    assert!(
        (theory - 250.0..=theory + 70.0).contains(&(answer as f64)),
        "answer {answer} against theory {theory:.0}"
    );
    assert_eq!(plan["monotone"], true);
    let point = plan["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["x"].as_u64() == Some(answer))
        .unwrap();
    let p99s: Vec<f64> = point["variants"][0]["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seed| seed[0].as_f64().unwrap())
        .collect();
    let (lo, hi) = p99s
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let p99_theory_us = 1e6 * 100f64.ln() / (10_000.0 - answer as f64);
    assert!(
        lo * 0.97 <= p99_theory_us && p99_theory_us <= hi * 1.03,
        "theory's p99 at {answer}/s is {p99_theory_us:.0} us; the seeds measured {p99s:?}"
    );
    // plan.json's own theory column is M/M/1 at the node's estimated load
    // (one node at N = 1 takes every request), on the closed form.
    let t = &point["variants"][0]["theory"];
    assert_eq!(t["model"], "M/M/c", "{t}");
    let lambda = t["busiest_ops_per_s"].as_f64().unwrap();
    assert!((lambda / answer as f64 - 1.0).abs() < 0.01, "{t}");
    let p99_json = t["p99_at_node_us"].as_f64().unwrap();
    let closed = 1e6 * 100f64.ln() / (10_000.0 - lambda);
    assert!(
        (p99_json / closed - 1.0).abs() < 1e-6,
        "plan.json's theory p99 {p99_json} against {closed}"
    );
    assert!(plan["usl"].is_null(), "--find rate has no USL fit");
    for f in ["plan.md", "plan.html", "slo-1.svg", "answer.toml"] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    let answer_toml = std::fs::read_to_string(out.path().join("answer.toml")).unwrap();
    assert!(
        answer_toml.contains(&format!("rate = {answer}")),
        "{answer_toml}"
    );
    // The answer's file is a valid scenario.
    ringlab_loadgen::scenario::parse(&answer_toml, "answer.toml").unwrap();
    let md = std::fs::read_to_string(out.path().join("plan.md")).unwrap();
    assert!(md.contains("Limited by node CPU"), "{md}");
    assert!(md.contains("## Theory beside the experiment"), "{md}");
}

#[test]
fn broken_arguments_are_refused_with_what_was_expected() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--find", "rate", "--slo", "p99=5ms"],
            "--slo \"p99=5ms\": no comparison",
        ),
        (
            &["--find", "rate", "--slo", "latency<=5ms"],
            "not a figure plan can read",
        ),
        (
            &["--find", "rate", "--slo", "phase.nope.p99<=5ms"],
            "no phase \"nope\"",
        ),
        (
            &["--find", "disks", "--slo", "p99<=5ms"],
            "invalid value 'disks' for '--find",
        ),
        (
            &[
                "--find",
                "nodes",
                "--slo",
                "p99<=5ms",
                "--survive",
                "kill it",
            ],
            "expected 'kill N'",
        ),
        (&["--find", "rate"], "--slo <SLO>"),
        (
            &["--find", "rate", "--slo", "p99<=5ms", "--resolution", "0"],
            "--resolution 0: expected a step of at least 1",
        ),
        (
            &["--find", "nodes", "--slo", "p99<=5ms", "--resolution", "5"],
            "--resolution applies to --find rate",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["plan", MM1];
        all.extend(args);
        let o = sim(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/plan-mm1.toml"
        ))
        .is_file()
    );
}

#[test]
fn a_set_error_names_the_set() {
    let o = sim(&[
        "plan",
        MM1,
        "--find",
        "rate",
        "--slo",
        "p99<=2ms",
        "--set",
        "cluster.nodez=2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--set cluster.nodez=2: unknown key"),
        "{}",
        stderr(&o)
    );
}

/// `--survive 'kill busiest'` runs every point again with a `[[fault]]`
/// appended to the file: the node it kills is named, the kill happens, and
/// `--min` bounds the search.
#[test]
fn survive_reruns_each_point_with_the_busiest_node_killed() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("small.toml");
    std::fs::write(
        &file,
        "name = \"small\"\n[cluster]\nnodes = 4\nreplication = { n = 3, r = 2, w = 2 }\n\
         [[phase]]\nname = \"steady\"\nduration = \"2s\"\nrate = 500\nkeys = { count = 1000 }\n",
    )
    .unwrap();
    let dir = out.path().join("plan");
    let o = sim(&[
        "plan",
        file.to_str().unwrap(),
        "--find",
        "nodes",
        "--slo",
        "p99<=50ms",
        "--survive",
        "kill busiest",
        "--seeds",
        "2",
        "--min",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    // 4 passes, so does 3 (the --min, as N = 3 needs): the answer is the bound.
    assert_eq!(plan["answer"], 3, "{plan}");
    assert_eq!(plan["edge"], serde_json::Value::Null);
    let point = &plan["points"][0];
    let label = point["variants"][1]["label"].as_str().unwrap();
    assert!(label.starts_with("kill node-"), "{label}");
    let events =
        std::fs::read_to_string(dir.join("nodes-3/survive-1/seed-1/summary.json")).unwrap();
    assert!(
        events.contains(&format!("\"label\": \"{label}\"")),
        "{events}"
    );
    let md = std::fs::read_to_string(dir.join("plan.md")).unwrap();
    assert!(md.contains("at the search's bound"), "{md}");
}
