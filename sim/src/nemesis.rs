//! The nemesis: a random fault schedule drawn per seed (`run --nemesis`,
//! `sweep --nemesis`), with the verdict that matters under it: no lost
//! acknowledged write (`lost_writes <= 0`, see
//! `ringlab_loadgen::durability`).
//!
//! A schedule is a pure function of the scenario and the seed, so a failing
//! seed replays by its number. It replaces the scenario's own faults and
//! mixes episodes, each a fault and its undoing some seconds later:
//! - **down** episodes: a kill and its restart (the node comes back empty),
//!   a partition that cuts one node off, or a one-way cut between two
//!   nodes. At most `N - W` are under way at once, so every write has W
//!   live, reachable replicas: what the checker may then demand. A
//!   restarted node counts as down for [`REFILL`] more: it answers, but
//!   empty, and a cache without disks cannot keep a key whose replicas all
//!   restart before any is refilled (the first 1,000-seed sweep found
//!   exactly that: a kill 7 ms after the previous node's restart);
//! - **weather** episodes, which never take a replica away: a slow node, a
//!   slower network, message loss.
//!
//! Episodes start in the first 70% of the run and end before 80% of it, so
//! the last fifth runs with every node up and every link whole.

use std::fmt::Write as _;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_loadgen::scenario::{
    Cmp, Expectation, Fault, FaultAction, LatencyDist, Metric, Scenario, Scope, node_name,
};

/// The schedule's file in a run's report directory.
pub const FILE: &str = "nemesis.txt";

/// How long a restarted node still counts as down: the time repair (hinted
/// handoff, anti-entropy) is given to refill it before another replica may
/// go down.
pub const REFILL: Duration = Duration::from_secs(2);

/// Mixed into the seed, so the schedule's draws are apart from the run's.
const NEMESIS_SEED: u64 = 0x4E45_4D45_5349_5300;

/// Mixed into the seed for the opt-in skew episodes: drawn apart from the
/// base schedule, which stays the same for a seed with or without them.
const SKEW_SEED: u64 = 0x534B_4557_0000_0001;

/// Whether a run is under the nemesis, and with clock skew.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// The scenario's own faults.
    #[default]
    Off,
    /// The schedule, clocks in step (`--nemesis`): the guarantee holds.
    On,
    /// The schedule plus clock-skew episodes (`--nemesis-skew`): last
    /// writer wins trusts the coordinators' clocks, so writes may be lost
    /// by design; this shows how many.
    Skew,
}

impl Mode {
    /// From the two flags (`--nemesis-skew` implies `--nemesis`).
    pub fn from_flags(nemesis: bool, skew: bool) -> Self {
        match (nemesis, skew) {
            (_, true) => Mode::Skew,
            (true, false) => Mode::On,
            (false, false) => Mode::Off,
        }
    }

    /// The flags that select this mode, for a child's command line.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Mode::Off => &[],
            Mode::On => &["--nemesis"],
            Mode::Skew => &["--nemesis", "--nemesis-skew"],
        }
    }
}

/// The kinds of episode, drawn with equal odds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Kill,
    Isolate,
    Cut,
    Slow,
    Latency,
    Loss,
}

const KINDS: [Kind; 6] = [
    Kind::Kill,
    Kind::Isolate,
    Kind::Cut,
    Kind::Slow,
    Kind::Latency,
    Kind::Loss,
];

impl Kind {
    /// Whether the episode takes a replica away from some coordinator.
    fn is_down(self) -> bool {
        matches!(self, Kind::Kill | Kind::Isolate | Kind::Cut)
    }

    /// Episodes of one group may not overlap: a heal ends every partition
    /// and cut, and a latency or loss episode restores the scenario's own
    /// setting.
    fn group(self) -> usize {
        match self {
            Kind::Kill => 0,
            Kind::Isolate | Kind::Cut => 1,
            Kind::Slow => 2,
            Kind::Latency => 3,
            Kind::Loss => 4,
        }
    }
}

/// The schedule for `sc` at `seed`, sorted by time (ties keep draw order).
pub fn schedule(sc: &Scenario, seed: u64) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ NEMESIS_SEED);
    let run = sc.duration();
    let (first, last) = (run.mul_f64(0.1), run.mul_f64(0.7));
    let end_by = run.mul_f64(0.8);
    let rep = sc.cluster.replication;
    let budget = (rep.n - rep.w) as usize;
    let nodes = sc.cluster.nodes;
    // Per group: when its last episode ends. Down episodes: their ends.
    let mut free_at = [Duration::ZERO; 5];
    let mut downs: Vec<(Duration, Vec<u32>)> = Vec::new();
    let mut faults = Vec::new();
    let mut t = first;
    while t < last {
        let kind = KINDS[rng.random_range(0..KINDS.len())];
        let len = Duration::from_millis(rng.random_range(300..=3_000)).min(end_by - t);
        downs.retain(|(end, _)| *end > t);
        let busy: Vec<u32> = downs.iter().flat_map(|(_, n)| n.clone()).collect();
        let open = free_at[kind.group()] <= t && (!kind.is_down() || downs.len() < budget);
        if open && let Some((on, off, names)) = episode(kind, sc, nodes, &busy, &mut rng) {
            faults.push(Fault { at: t, action: on });
            faults.push(Fault {
                at: t + len,
                action: off,
            });
            // A restarted node is empty: down until it is refilled.
            let refill = if matches!(kind, Kind::Kill) {
                REFILL
            } else {
                Duration::ZERO
            };
            free_at[kind.group()] = t + len + refill;
            if kind.is_down() {
                downs.push((t + len + refill, names));
            }
        }
        t += Duration::from_millis(rng.random_range(200..=2_000));
    }
    faults.sort_by_key(|f| f.at);
    faults
}

/// One episode of `kind`: its fault, its undoing, and the nodes it takes
/// down; None when every node it could pick is down already.
fn episode(
    kind: Kind,
    sc: &Scenario,
    nodes: u32,
    busy: &[u32],
    rng: &mut ChaCha8Rng,
) -> Option<(FaultAction, FaultAction, Vec<u32>)> {
    let free: Vec<u32> = (1..=nodes).filter(|n| !busy.contains(n)).collect();
    let pick = |rng: &mut ChaCha8Rng| free[rng.random_range(0..free.len())];
    if free.is_empty() {
        return None;
    }
    let a = pick(rng);
    let name = node_name(a);
    Some(match kind {
        Kind::Kill => (
            FaultAction::Kill(name.clone()),
            FaultAction::Restart(name),
            vec![a],
        ),
        Kind::Isolate => {
            let rest = (1..=nodes).filter(|&n| n != a).map(node_name).collect();
            (
                FaultAction::Partition(vec![vec![name], rest]),
                FaultAction::Heal,
                vec![a],
            )
        }
        Kind::Cut => {
            let b = (1..=nodes)
                .filter(|&n| n != a)
                .nth(rng.random_range(0..nodes as usize - 1))?;
            let (from, to) = (node_name(b), name);
            let cut = FaultAction::CutLink {
                from: from.clone(),
                to: to.clone(),
            };
            (cut, FaultAction::RestoreLink { from, to }, vec![a])
        }
        Kind::Slow => {
            let factor = f64::from(rng.random_range(2..=10u32));
            let slow = FaultAction::Slow {
                node: name.clone(),
                factor,
            };
            (
                slow,
                FaultAction::Slow {
                    node: name,
                    factor: 1.0,
                },
                vec![],
            )
        }
        Kind::Latency => {
            let base = Duration::from_micros(rng.random_range(500..=5_000));
            let jitter = base / 2;
            let on = FaultAction::SetLatency(LatencyDist::BaseJitter { base, jitter });
            (on, FaultAction::SetLatency(sc.network.latency), vec![])
        }
        Kind::Loss => {
            let p = f64::from(rng.random_range(1..=5u32)) / 100.0;
            (
                FaultAction::SetLoss(p),
                FaultAction::SetLoss(sc.network.loss),
                vec![],
            )
        }
    })
}

/// Clock-skew episodes for `sc` at `seed` (`--nemesis-skew`): one node at
/// a time gets its clock 5-100 ms behind or ahead for 0.3-3 s, then back in
/// step, within the same 10%-80% of the run as the other episodes.
pub fn skew_schedule(sc: &Scenario, seed: u64) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SKEW_SEED);
    let run = sc.duration();
    let (last, end_by) = (run.mul_f64(0.7), run.mul_f64(0.8));
    let mut faults = Vec::new();
    let mut t = run.mul_f64(0.1);
    while t < last {
        let node = node_name(rng.random_range(1..=sc.cluster.nodes));
        let ms: i64 = rng.random_range(5..=100);
        let offset_us = if rng.random_bool(0.5) { -ms } else { ms } * 1000;
        let len = Duration::from_millis(rng.random_range(300..=3_000)).min(end_by - t);
        let skew = |offset_us| FaultAction::Skew {
            node: node.clone(),
            offset_us,
            drift_ppm: 0,
        };
        faults.push(Fault {
            at: t,
            action: skew(offset_us),
        });
        faults.push(Fault {
            at: t + len,
            action: skew(0),
        });
        t += len + Duration::from_millis(rng.random_range(200..=2_000));
    }
    faults
}

/// `sc` under the nemesis at `seed`: its faults replaced by the schedule
/// (with skew episodes under [`Mode::Skew`]), and `lost_writes <= 0`
/// expected (unless the file bounds it already).
pub fn apply(sc: &mut Scenario, seed: u64, mode: Mode) {
    sc.faults = schedule(sc, seed);
    if mode == Mode::Skew {
        sc.faults.extend(skew_schedule(sc, seed));
        sc.faults.sort_by_key(|f| f.at); // stable: base faults first on ties
    }
    if !sc.expect.iter().any(|e| e.metric == Metric::LostWrites) {
        sc.expect.push(Expectation {
            scope: Scope::Overall,
            op: None,
            metric: Metric::LostWrites,
            cmp: Cmp::Le,
            value: 0.0,
            text: "<= 0".into(),
        });
    }
}

/// The schedule as text, a fault per line (`  3.250 s  kill node-2`).
pub fn describe(faults: &[Fault]) -> String {
    let mut out = String::new();
    for f in faults {
        let _ = writeln!(out, "{:>9.3} s  {}", f.at.as_secs_f64(), f.action);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn scenario(n: u32, w: u32) -> Scenario {
        let toml = format!(
            "name = \"t\"\n[cluster]\nnodes = 5\nreplication = {{ n = {n}, r = 1, w = {w} }}\n\
             [[phase]]\nname = \"p\"\nduration = \"30s\"\nrate = 100\n"
        );
        ringlab_loadgen::scenario::parse(&toml, "t.toml").expect("a valid scenario")
    }

    /// Replays `faults`, checking at every step that at most `budget`
    /// nodes are down (killed, restarted less than [`REFILL`] ago, cut off
    /// or on the far end of a cut link), and returns whether everything was
    /// undone by `end_by`.
    fn replay(faults: &[Fault], budget: usize, end_by: Duration) -> bool {
        let (mut killed, mut cut_off, mut cuts) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let (mut slow, mut latency, mut loss) = (0, false, false);
        let mut refilling: Vec<Duration> = Vec::new();
        for f in faults {
            refilling.retain(|&until| until > f.at);
            match &f.action {
                FaultAction::Kill(n) => assert!(killed.insert(n.clone()), "{n} killed twice"),
                FaultAction::Restart(n) => {
                    assert!(killed.remove(n), "{n} restarted alive");
                    refilling.push(f.at + REFILL);
                }
                FaultAction::Partition(g) => cut_off.extend(g[0].iter().cloned()),
                FaultAction::Heal => cut_off.clear(),
                FaultAction::CutLink { from, to } => {
                    assert!(cuts.insert((from.clone(), to.clone())))
                }
                FaultAction::RestoreLink { from, to } => {
                    assert!(cuts.remove(&(from.clone(), to.clone())))
                }
                FaultAction::Slow { factor, .. } => slow += if *factor > 1.0 { 1 } else { -1 },
                FaultAction::SetLatency(_) => latency = !latency,
                FaultAction::SetLoss(_) => loss = !loss,
                FaultAction::Join(_) | FaultAction::Leave(_) | FaultAction::Remove(_) => {
                    panic!("the nemesis never changes the membership")
                }
                FaultAction::Pause(_) | FaultAction::Resume(_) => {
                    panic!("the nemesis never pauses a node")
                }
                FaultAction::Skew { .. } => {}
            }
            let down = killed.len() + refilling.len() + cut_off.len() + cuts.len();
            assert!(down <= budget, "{down} down at {:?}: {faults:?}", f.at);
            assert!(f.at <= end_by);
        }
        killed.is_empty() && cut_off.is_empty() && cuts.is_empty() && slow == 0 && !latency && !loss
    }

    #[test]
    fn schedules_keep_n_minus_w_up_and_undo_everything_before_the_tail() {
        for (n, w) in [(3, 2), (3, 1), (5, 3), (3, 3)] {
            let sc = scenario(n, w);
            let mut kinds = BTreeSet::new();
            for seed in 0..300 {
                let faults = schedule(&sc, seed);
                assert!(faults.windows(2).all(|p| p[0].at <= p[1].at));
                assert!(replay(&faults, (n - w) as usize, Duration::from_secs(24)));
                kinds.extend(
                    faults
                        .iter()
                        .map(|f| f.action.to_string().split(' ').next().map(str::to_owned)),
                );
            }
            // With no budget, nothing takes a replica away.
            let downs = ["kill", "partition", "cut"].map(|k| kinds.contains(&Some(k.to_string())));
            assert_eq!(downs, [n > w; 3], "n={n} w={w}: {kinds:?}");
        }
    }

    #[test]
    fn skew_is_opt_in_and_leaves_the_base_schedule_alone() {
        let sc = scenario(3, 2);
        let is_skew = |f: &&Fault| matches!(f.action, FaultAction::Skew { .. });
        let (mut on, mut skewed) = (sc.clone(), sc.clone());
        apply(&mut on, 7, Mode::On);
        apply(&mut skewed, 7, Mode::Skew);
        assert!(!on.faults.iter().any(|f| is_skew(&f)));
        let base: Vec<Fault> = skewed
            .faults
            .iter()
            .filter(|f| !is_skew(f))
            .cloned()
            .collect();
        assert_eq!(base, on.faults);
        let skews: Vec<&Fault> = skewed.faults.iter().filter(is_skew).collect();
        assert!(
            !skews.is_empty() && skews.len().is_multiple_of(2),
            "{skews:?}"
        );
        // Every skew is undone, by 80% of the run.
        let last = skews.last().expect("some");
        assert!(matches!(
            last.action,
            FaultAction::Skew { offset_us: 0, .. }
        ));
        assert!(last.at <= sc.duration().mul_f64(0.8));
    }

    #[test]
    fn a_seed_replays_its_schedule_and_another_seed_draws_another() {
        let sc = scenario(3, 2);
        assert_eq!(schedule(&sc, 7), schedule(&sc, 7));
        assert_ne!(schedule(&sc, 7), schedule(&sc, 8));
        let mut sc2 = sc.clone();
        apply(&mut sc2, 7, Mode::On);
        assert_eq!(sc2.faults, schedule(&sc, 7));
        assert_eq!(
            sc2.expect.last().map(|e| e.metric),
            Some(Metric::LostWrites)
        );
        assert!(describe(&sc2.faults).lines().count() == sc2.faults.len());
    }
}
