//! `sweep` (many seeds, one process each, optionally one shard of them) and
//! `merge` (the shards' reports into one sweep).
//!
//! A sweep writes `seed-<N>/` per seed, a manifest (`sweep.json`: the
//! scenario, the whole seed list, the shard) and, once every seed is there,
//! the aggregate `sweep.md`. The aggregate is a function of the per-seed
//! report directories and the seed list only (no wall time, no order of
//! completion), so `sweep --shard K/N` on N machines followed by `merge`
//! gives the same bytes as the sweep run whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_loadgen::report::{Summary, format, hlog};
use ringlab_loadgen::scenario::check::{self, Verdict};
use ringlab_loadgen::scenario::{self, Override};
use serde::{Deserialize, Serialize};

use crate::expect;
use crate::runner::{Engine, default_jobs, parse_seeds, run_children};

/// The manifest's file name.
pub const MANIFEST: &str = "sweep.json";
/// The aggregate's file name.
pub const AGGREGATE: &str = "sweep.md";
/// Bootstrap resamples per confidence interval.
const RESAMPLES: usize = 400;
/// Seeds below which no interval is given: a bootstrap over fewer seeds
/// says more about the resampling than about the spread.
const MIN_SEEDS_FOR_CI: usize = 5;

/// What a sweep directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub scenario: String,
    /// Every seed of the sweep, all shards together, ascending.
    pub seeds: Vec<u64>,
    /// `K/N` for one shard's directory; `None` for a whole (or merged) sweep.
    pub shard: Option<String>,
}

const MANIFEST_FORMAT: &str = "ringlab-sweep/1";

/// `K/N` (1 <= K <= N): which seeds shard K of N runs.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let parsed = s.split_once('/').and_then(|(k, n)| {
        Some((
            k.trim().parse::<usize>().ok()?,
            n.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((k, n)) if n >= 1 && (1..=n).contains(&k) => Ok((k, n)),
        _ => bail!("--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4"),
    }
}

/// The seeds of shard `k` of `n`: every n-th seed from the k-th, so shards
/// get similar counts.
pub fn shard_seeds(seeds: &[u64], (k, n): (usize, usize)) -> Vec<u64> {
    seeds.iter().skip(k - 1).step_by(n).copied().collect()
}

/// How each seed of a sweep runs.
#[derive(Debug, Clone, Copy)]
pub struct Each<'a> {
    /// The `--set`s.
    pub sets: &'a [Override],
    /// The engine (None: the scenario's, else the default).
    pub engine: Option<Engine>,
    /// Under the nemesis (`--nemesis`, `--nemesis-skew`), or not.
    pub nemesis: crate::nemesis::Mode,
}

/// `ringlab-sim sweep`.
pub fn sweep_cmd(
    path: &Path,
    seeds: &str,
    shard: Option<&str>,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    how: Each<'_>,
) -> Result<bool> {
    let Each {
        sets,
        engine,
        nemesis,
    } = how;
    let sc = scenario::load_with(path, sets)?;
    let all = parse_seeds(seeds)?;
    let shard = shard.map(parse_shard).transpose()?;
    let mine = shard.map_or_else(|| all.clone(), |s| shard_seeds(&all, s));
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(format!("sweep-{}", sc.name)));
    let runs: Vec<(PathBuf, u64, PathBuf)> = mine
        .iter()
        .map(|&s| (path.to_path_buf(), s, out.join(seed_dir(s))))
        .collect();
    let wall = std::time::Instant::now();
    let ran = run_children(default_jobs(jobs), &runs, sets, engine, nemesis)?;
    let wall = wall.elapsed();
    std::fs::create_dir_all(&out)?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        scenario: sc.name.clone(),
        seeds: all.clone(),
        shard: shard.map(|(k, n)| format!("{k}/{n}")),
    };
    write_manifest(&out, &manifest)?;
    eprintln!(
        "{} seeds in {:.1} s wall ({:.2} seeds/s)",
        mine.len(),
        wall.as_secs_f64(),
        mine.len() as f64 / wall.as_secs_f64().max(1e-9)
    );
    if let Some((k, n)) = shard {
        let failed = ran.iter().filter(|ok| !**ok).count();
        println!(
            "shard {k}/{n}: seeds {} into {} ({failed} simulations failed); when every shard is \
             done: ringlab-sim merge --out DIR <the shards' directories>",
            compact(&mine),
            out.display()
        );
        return Ok(failed == 0 && broken_seeds(&out, &mine)?.is_empty());
    }
    finish(&out, &manifest, path)
}

/// Writes the aggregate of a complete sweep in `dir`, prints it and the
/// seeds that broke an expectation; returns whether none did.
/// A seed that ran under the nemesis has its schedule in its directory:
/// the replay line then says `--nemesis` and the schedule follows it.
fn finish(dir: &Path, manifest: &Manifest, scenario_path: &Path) -> Result<bool> {
    let text = aggregate(dir, &manifest.seeds)?;
    std::fs::write(dir.join(AGGREGATE), &text)
        .with_context(|| format!("writing {}", dir.join(AGGREGATE).display()))?;
    print!("{text}");
    let broken = broken_seeds(dir, &manifest.seeds)?;
    for (seed, _) in &broken {
        let schedule = dir.join(seed_dir(*seed)).join(crate::nemesis::FILE);
        let schedule = std::fs::read_to_string(&schedule).ok();
        let flag = match &schedule {
            Some(s) if s.contains(" skew ") => " --nemesis --nemesis-skew",
            Some(_) => " --nemesis",
            None => "",
        };
        println!(
            "replay seed {seed}: ringlab-sim run {} --seed {seed}{flag}",
            scenario_path.display()
        );
        print!("{}", schedule.unwrap_or_default());
    }
    Ok(broken.is_empty())
}

/// `ringlab-sim merge`: the shards' seed directories into `out`, then the
/// aggregate, as if the sweep had run whole.
pub fn merge_cmd(shards: &[PathBuf], out: &Path) -> Result<bool> {
    if shards.is_empty() {
        bail!("merge needs the shards' directories");
    }
    let mut manifest: Option<Manifest> = None;
    for dir in shards {
        let m = read_manifest(dir)?;
        match &manifest {
            None => manifest = Some(m),
            Some(first) if first.scenario != m.scenario || first.seeds != m.seeds => bail!(
                "{}: scenario {} with seeds {} does not belong with {} (scenario {}, seeds {})",
                dir.display(),
                m.scenario,
                compact(&m.seeds),
                shards[0].display(),
                first.scenario,
                compact(&first.seeds)
            ),
            Some(_) => {}
        }
    }
    let mut manifest = manifest.expect("at least one shard");
    manifest.shard = None;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut missing = Vec::new();
    for &seed in &manifest.seeds {
        let name = seed_dir(seed);
        let from = shards.iter().map(|d| d.join(&name)).find(|d| d.is_dir());
        match from {
            Some(from) if from != out.join(&name) => copy_dir(&from, &out.join(&name))?,
            Some(_) => {}
            None => missing.push(seed),
        }
    }
    if !missing.is_empty() {
        bail!(
            "seeds {} of scenario {} are in none of the shards given (a shard not finished, or \
             not passed to merge?)",
            compact(&missing),
            manifest.scenario
        );
    }
    write_manifest(out, &manifest)?;
    finish(
        out,
        &manifest,
        Path::new(&format!("<{}.toml>", manifest.scenario)),
    )
}

fn seed_dir(seed: u64) -> String {
    format!("seed-{seed}")
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(m)? + "\n";
    std::fs::write(dir.join(MANIFEST), text)
        .with_context(|| format!("writing {}", dir.join(MANIFEST).display()))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: not a sweep directory (no {MANIFEST})", dir.display()))?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sweep manifest", path.display()))?;
    if m.format != MANIFEST_FORMAT {
        bail!(
            "{}: format {:?}, expected {MANIFEST_FORMAT:?}",
            path.display(),
            m.format
        );
    }
    Ok(m)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).with_context(|| {
                format!("copying {} to {}", e.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

/// Seeds as ranges: 1-4, 7, 9-10.
fn compact(seeds: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", seeds[i], seeds[j])
        } else {
            seeds[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// The seeds whose run failed or broke an expectation, with why.
fn broken_seeds(dir: &Path, seeds: &[u64]) -> Result<Vec<(u64, String)>> {
    let mut out = Vec::new();
    for &seed in seeds {
        let d = dir.join(seed_dir(seed));
        if !d.join("summary.json").is_file() {
            out.push((seed, "the simulation failed".into()));
            continue;
        }
        let failed: Vec<String> = check::read_verdicts(&d)?
            .into_iter()
            .filter(|v| !v.pass)
            .map(|v| format!("{} (measured {})", v.expectation, v.measured))
            .collect();
        if !failed.is_empty() {
            out.push((seed, failed.join("; ")));
        }
    }
    Ok(out)
}

/// The aggregate of the seeds' reports in `dir`: the expectations (with
/// each failing seed's measured value), each phase's latency with all
/// seeds' histograms merged and bootstrap intervals over seeds, and the
/// per-seed spread.
pub fn aggregate(dir: &Path, seeds: &[u64]) -> Result<String> {
    let mut t = String::new();
    let mut runs: Vec<(u64, Summary)> = Vec::new();
    let mut verdicts: Vec<(u64, Vec<Verdict>)> = Vec::new();
    let mut failed_runs = Vec::new();
    for &seed in seeds {
        let d = dir.join(seed_dir(seed));
        if !d.join("summary.json").is_file() {
            failed_runs.push(seed);
            continue;
        }
        runs.push((seed, Summary::load(&d)?));
        verdicts.push((seed, check::read_verdicts(&d)?));
    }
    let name = runs.first().map_or("?", |(_, s)| s.scenario.as_str());
    let _ = writeln!(t, "# {name}: {} seeds ({})\n", seeds.len(), compact(seeds));
    if !failed_runs.is_empty() {
        let _ = writeln!(
            t,
            "Simulation failed for seeds {}.\n",
            compact(&failed_runs)
        );
    }
    expectations(&mut t, &verdicts);
    merged_latency(&mut t, dir, &runs)?;
    t.push_str("## Per-seed spread\n\n");
    t.push_str(&expect::sweep_table(&runs));
    Ok(t)
}

/// Per expectation: how many seeds it held in, and each failing seed with
/// what it measured.
fn expectations(t: &mut String, verdicts: &[(u64, Vec<Verdict>)]) {
    let mut by_exp: BTreeMap<usize, (String, usize, Vec<String>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (seed, vs) in verdicts {
        for v in vs {
            let i = order
                .iter()
                .position(|e| *e == v.expectation)
                .unwrap_or_else(|| {
                    order.push(v.expectation.clone());
                    order.len() - 1
                });
            let e = by_exp
                .entry(i)
                .or_insert_with(|| (v.expectation.clone(), 0, Vec::new()));
            if v.pass {
                e.1 += 1;
            } else {
                e.2.push(format!("{seed} ({})", v.measured));
            }
        }
    }
    if by_exp.is_empty() {
        return;
    }
    t.push_str("## Expectations\n\n| expectation | held in | failed in seed (measured) |\n|---|---:|---|\n");
    for (exp, held, failed) in by_exp.values() {
        let _ = writeln!(
            t,
            "| `{exp}` | {held}/{} | {} |",
            held + failed.len(),
            if failed.is_empty() {
                "–".to_string()
            } else {
                failed.join(", ")
            }
        );
    }
    t.push('\n');
}

/// Percentiles of the merged histograms.
const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)];

/// Each phase's (and the whole run's) histograms of every seed merged.
fn merged_latency(t: &mut String, dir: &Path, runs: &[(u64, Summary)]) -> Result<()> {
    let Some((_, first)) = runs.first() else {
        return Ok(());
    };
    // Per seed, per span: the untagged intervals whose start is in the span.
    let mut spans: Vec<(String, u64, u64)> = first
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.start_us, p.end_us))
        .collect();
    spans.push(("overall".into(), 0, u64::MAX));
    let mut per_seed: Vec<Vec<Histogram<u64>>> = Vec::new();
    for (seed, _) in runs {
        let path = dir.join(seed_dir(*seed)).join(hlog::FILE);
        let intervals = hlog::read(&path)?;
        let mut hs: Vec<Histogram<u64>> = Vec::new();
        for (_, start, end) in &spans {
            let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
            for i in intervals.iter().filter(|i| i.tag.is_none()) {
                let at = i.start.as_micros() as u64;
                if (*start..*end).contains(&at) {
                    h.add(&i.hist).context("adding histograms")?;
                }
            }
            hs.push(h);
        }
        per_seed.push(hs);
    }
    let _ = writeln!(
        t,
        "## Latency, every seed's histograms merged\n\n\
         95% intervals: bootstrap over seeds ({RESAMPLES} resamples, fixed RNG seed), from {MIN_SEEDS_FOR_CI} seeds; \
         a percentile needs 10 requests above it.\n\n\
         | phase | ok requests | p50 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for (i, (name, _, _)) in spans.iter().enumerate() {
        let hs: Vec<&Histogram<u64>> = per_seed.iter().map(|s| &s[i]).collect();
        let merged = merge(&hs);
        let intervals = bootstrap(&hs, i as u64);
        let mut cells = vec![name.clone(), format::grouped(merged.len())];
        for (k, (_, q)) in QUANTILES.iter().enumerate() {
            cells.push(percentile_cell(
                &merged,
                *q,
                intervals.as_ref().map(|iv| iv[k]),
            ));
        }
        cells.push(if merged.is_empty() {
            "–".into()
        } else {
            format::latency_us(merged.max() as f64)
        });
        let _ = writeln!(t, "| {} |", cells.join(" | "));
    }
    t.push('\n');
    Ok(())
}

fn merge(hs: &[&Histogram<u64>]) -> Histogram<u64> {
    let mut m = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    for h in hs {
        m.add(*h).expect("histograms of one precision add");
    }
    m
}

/// 95% bootstrap intervals over seeds of each of [`QUANTILES`] of the
/// merged histogram: resample the seeds with replacement, merge, read the
/// percentiles; `None` with fewer than [`MIN_SEEDS_FOR_CI`] seeds. The RNG
/// is seeded by the span's index, so the result depends on nothing else.
fn bootstrap(hs: &[&Histogram<u64>], span: u64) -> Option<[(u64, u64); 4]> {
    if hs.len() < MIN_SEEDS_FOR_CI {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0000 + span);
    let mut draws: [Vec<u64>; 4] = Default::default();
    for _ in 0..RESAMPLES {
        let pick: Vec<&Histogram<u64>> = (0..hs.len())
            .map(|_| hs[rng.random_range(0..hs.len())])
            .collect();
        let m = merge(&pick);
        for (d, (_, q)) in draws.iter_mut().zip(QUANTILES) {
            d.push(m.value_at_quantile(q));
        }
    }
    Some(draws.map(|mut d| {
        d.sort_unstable();
        (d[RESAMPLES * 25 / 1000], d[RESAMPLES * 975 / 1000 - 1])
    }))
}

/// Quantile `q` of the merged histogram, with its interval; "–" when fewer
/// than 10 requests lie above it.
fn percentile_cell(merged: &Histogram<u64>, q: f64, interval: Option<(u64, u64)>) -> String {
    if (merged.len() as f64) * (1.0 - q) < 10.0 {
        return "–".into();
    }
    let v = format::latency_us(merged.value_at_quantile(q) as f64);
    match interval {
        Some((lo, hi)) => format!(
            "{v} ({}–{})",
            format::latency_us(lo as f64),
            format::latency_us(hi as f64)
        ),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_seeds_evenly_and_completely() {
        let seeds: Vec<u64> = (1..=10).collect();
        let parts: Vec<Vec<u64>> = (1..=4).map(|k| shard_seeds(&seeds, (k, 4))).collect();
        assert_eq!(parts[0], vec![1, 5, 9]);
        assert_eq!(parts[3], vec![4, 8]);
        let mut all: Vec<u64> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, seeds);
    }

    #[test]
    fn bad_shards_are_refused() {
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0"] {
            let e = format!("{:#}", parse_shard(bad).unwrap_err());
            assert!(e.contains("expected K/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn seeds_print_as_ranges() {
        assert_eq!(compact(&[1, 2, 3, 4, 7, 9, 10]), "1-4, 7, 9-10");
        assert_eq!(compact(&[5]), "5");
    }
}
