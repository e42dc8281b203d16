//! A sweep split into shards and merged is the sweep run whole, byte for
//! byte; merge refuses shards of different sweeps and names missing seeds;
//! the aggregate shows merged histograms with intervals and what each
//! failing expectation measured. Built on synthetic per-seed reports, so it
//! runs in both builds without simulating (the madsim test in `gate.rs`
//! does the same through the real `sweep --shard`).

use std::path::Path;

use ringlab_loadgen::report::{self, sample};
use ringlab_loadgen::scenario::check::{self, Verdict};
use ringlab_sim::sweep::{self, MANIFEST, Manifest};

mod common;
use common::tree as files;

/// Writes seed `seed`'s report (a synthetic run) into `dir/seed-<seed>/`,
/// with one expectation that fails for odd seeds.
fn seed_report(dir: &Path, seed: u64) {
    let d = dir.join(format!("seed-{seed}"));
    report::write_all(&sample::record(seed), &d).unwrap();
    let verdicts = vec![
        Verdict {
            scenario: "sample".into(),
            expectation: "availability >= 50%".into(),
            measured: "99%".into(),
            pass: true,
        },
        Verdict {
            scenario: "sample".into(),
            expectation: "p99 <= 5ms".into(),
            measured: format!("{}ms", 5 + seed % 2 * seed),
            pass: seed.is_multiple_of(2),
        },
    ];
    check::write_verdicts(&d, &verdicts).unwrap();
}

fn manifest(dir: &Path, seeds: &[u64], shard: Option<&str>) {
    let m = Manifest {
        format: "ringlab-sweep/1".into(),
        scenario: "sample".into(),
        seeds: seeds.to_vec(),
        shard: shard.map(String::from),
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(MANIFEST),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn four_shards_merged_equal_the_whole_sweep_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds: Vec<u64> = (1..=6).collect();
    // The whole sweep: every seed in one directory.
    let whole_src = tmp.path().join("whole-src");
    for &s in &seeds {
        seed_report(&whole_src, s);
    }
    manifest(&whole_src, &seeds, None);
    let whole = tmp.path().join("whole");
    let ok = sweep::merge_cmd(&[whole_src], &whole).unwrap();
    assert!(!ok, "odd seeds broke an expectation");
    // Four shards, each with its seeds.
    let mut shards = Vec::new();
    for k in 1..=4 {
        let d = tmp.path().join(format!("shard-{k}"));
        for s in sweep::shard_seeds(&seeds, (k, 4)) {
            seed_report(&d, s);
        }
        manifest(&d, &seeds, Some(&format!("{k}/4")));
        shards.push(d);
    }
    let merged = tmp.path().join("merged");
    sweep::merge_cmd(&shards, &merged).unwrap();

    let (a, b) = (files(&whole), files(&merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(*bytes == b[path], "{} differs", path.display());
    }
    let md = String::from_utf8(a[Path::new(sweep::AGGREGATE)].clone()).unwrap();
    assert!(md.contains("# sample: 6 seeds (1-6)"), "{md}");
    // Each failing seed with what it measured.
    assert!(
        md.contains("| `p99 <= 5ms` | 3/6 | 1 (6ms), 3 (8ms), 5 (10ms) |"),
        "{md}"
    );
    // Merged histograms with bootstrap intervals (6 seeds >= 5).
    assert!(
        md.contains("## Latency, every seed's histograms merged"),
        "{md}"
    );
    let steady = md
        .lines()
        .find(|l| l.starts_with("| steady |"))
        .expect("a steady row");
    assert!(
        steady.contains('(') && steady.contains('–'),
        "an interval: {steady}"
    );
}

#[test]
fn merge_names_missing_seeds_and_refuses_other_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds = [1, 2, 3, 4];
    let one = tmp.path().join("one");
    seed_report(&one, 1);
    seed_report(&one, 3);
    manifest(&one, &seeds, Some("1/2"));
    let e = format!(
        "{:#}",
        sweep::merge_cmd(std::slice::from_ref(&one), &tmp.path().join("m")).unwrap_err()
    );
    assert!(
        e.contains("seeds 2, 4 of scenario sample are in none of the shards"),
        "{e}"
    );

    let other = tmp.path().join("other");
    seed_report(&other, 2);
    manifest(&other, &[1, 2, 3], Some("2/2"));
    let e = format!(
        "{:#}",
        sweep::merge_cmd(&[one, other], &tmp.path().join("m2")).unwrap_err()
    );
    assert!(e.contains("does not belong with"), "{e}");
}
