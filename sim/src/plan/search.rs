//! The search of `plan`, apart from any simulation: a boundary between
//! passing and failing points of one integer parameter, found by galloping
//! from a start point to bracket it and bisecting the bracket, then checked
//! against every point tried.
//!
//! Bisection is only right when passing is monotone in the parameter (more
//! nodes never fail where fewer passed). The points the gallop and the
//! bisection choose can never contradict that by themselves (each probes
//! inside the bracket the others left), so the search tries one point more:
//! a step past the answer on the passing side (one node more; a tenth less
//! rate). [`Found::violations`] lists each pair of points tried that breaks
//! monotonicity; the answer is then the conservative one (see
//! [`Found::answer`]), or none when no passing point lies beyond the last
//! failing one.

use anyhow::Result;

/// Where the passing points lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Passing at high values; the answer is the smallest passing value
    /// (nodes, cores).
    Smallest,
    /// Passing at low values; the answer is the largest passing value
    /// (rate).
    Largest,
}

/// How the bracket grows while galloping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    /// 1, 2, 4, ... away from the start (node and core counts).
    Additive,
    /// Doubling or halving (rates).
    Multiplicative,
}

/// A search's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    pub goal: Goal,
    pub steps: Steps,
    /// The first point tried.
    pub start: u64,
    /// The smallest value the search may try.
    pub lo: u64,
    /// The largest value the search may try.
    pub hi: u64,
    /// Bisection stops when the passing and the failing point are this
    /// close (1: adjacent integers).
    pub resolution: u64,
    /// The most points the search runs before it gives up.
    pub max_points: usize,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Every point tried, in the order tried, with whether it passed.
    pub tried: Vec<(u64, bool)>,
    /// The answer: the passing point nearest the failing side such that
    /// every tried point on its passing side passed. `None` when no tried
    /// point qualifies (nothing in bounds passed).
    pub answer: Option<u64>,
    /// The failing point next to the answer, on its failing side (`None`
    /// when the answer is at a bound or nothing failed).
    pub edge: Option<u64>,
    /// Pairs (a, b) that break monotonicity: `a` is on the passing side of
    /// `b`, yet `a` failed and `b` passed.
    pub violations: Vec<(u64, u64)>,
    /// The search stopped at `max_points` before it closed the bracket.
    pub gave_up: bool,
}

impl Search {
    /// Runs the search with `judge` (whether a point passes). Each value is
    /// judged at most once.
    pub fn run(&self, mut judge: impl FnMut(u64) -> Result<bool>) -> Result<Found> {
        let mut tried: Vec<(u64, bool)> = Vec::new();
        let mut gave_up = false;
        let mut eval = |x: u64, tried: &mut Vec<(u64, bool)>| -> Result<bool> {
            if let Some(&(_, ok)) = tried.iter().find(|(v, _)| *v == x) {
                return Ok(ok);
            }
            let ok = judge(x)?;
            tried.push((x, ok));
            Ok(ok)
        };
        let start = self.start.clamp(self.lo, self.hi);
        let first = eval(start, &mut tried)?;
        // Gallop away from `start` until the other outcome shows up.
        let (mut pass, mut fail) = if first {
            (Some(start), None)
        } else {
            (None, Some(start))
        };
        let mut x = start;
        let mut k = 0u32;
        while pass.is_none() || fail.is_none() {
            // Toward failing points when we have a pass, and back.
            let up = (self.goal == Goal::Smallest) != first;
            let Some(next) = self.step(x, k, up) else {
                break; // at a bound: no bracket in range
            };
            if tried.len() >= self.max_points {
                gave_up = true;
                break;
            }
            x = next;
            k += 1;
            if eval(x, &mut tried)? {
                pass = Some(x);
            } else {
                fail = Some(x);
            }
        }
        // Bisect the bracket.
        if let (Some(mut p), Some(mut f)) = (pass, fail) {
            while p.abs_diff(f) > self.resolution {
                if tried.len() >= self.max_points {
                    gave_up = true;
                    break;
                }
                let m = p.min(f) + p.abs_diff(f) / 2;
                if eval(m, &mut tried)? {
                    p = m;
                } else {
                    f = m;
                }
            }
        }
        // The probe past the answer: the one point that can show passing is
        // not monotone.
        let found = self.conclude(tried.clone(), gave_up);
        if let Some(beyond) = found
            .answer
            .filter(|_| !gave_up)
            .and_then(|a| self.beyond(a))
        {
            eval(beyond, &mut tried)?;
        }
        Ok(self.conclude(tried, gave_up))
    }

    /// A step past `answer` on the passing side, in bounds.
    fn beyond(&self, answer: u64) -> Option<u64> {
        let next = match self.goal {
            Goal::Smallest => answer.checked_add(1)?,
            Goal::Largest => answer.checked_sub(self.resolution.max(answer / 10))?,
        };
        (self.lo..=self.hi).contains(&next).then_some(next)
    }

    /// The next point of the gallop from `x` (the `k`-th step), upward or
    /// downward; `None` at a bound.
    fn step(&self, x: u64, k: u32, up: bool) -> Option<u64> {
        let next = match (self.steps, up) {
            (Steps::Additive, true) => x.saturating_add(1u64 << k.min(62)),
            (Steps::Additive, false) => x.saturating_sub(1u64 << k.min(62)),
            (Steps::Multiplicative, true) => x.saturating_mul(2),
            (Steps::Multiplicative, false) => x / 2,
        };
        let next = next.clamp(self.lo, self.hi);
        (next != x).then_some(next)
    }

    /// The answer and the monotonicity check from every point tried.
    fn conclude(&self, tried: Vec<(u64, bool)>, gave_up: bool) -> Found {
        let mut sorted = tried.clone();
        sorted.sort_unstable();
        // Order the points from the failing side to the passing side.
        if self.goal == Goal::Largest {
            sorted.reverse();
        }
        let mut violations = Vec::new();
        for (i, &(a, a_ok)) in sorted.iter().enumerate() {
            for &(b, b_ok) in &sorted[..i] {
                // b is on the failing side of a.
                if b_ok && !a_ok {
                    violations.push((a, b));
                }
            }
        }
        // The last failing point; the answer is the first passing one after.
        let last_fail = sorted.iter().rposition(|(_, ok)| !ok);
        let from = last_fail.map_or(0, |i| i + 1);
        let answer = sorted.get(from).map(|&(x, _)| x);
        let edge = last_fail.filter(|_| answer.is_some()).map(|i| sorted[i].0);
        Found {
            tried,
            answer,
            edge,
            violations,
            gave_up,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(start: u64) -> Search {
        Search {
            goal: Goal::Smallest,
            steps: Steps::Additive,
            start,
            lo: 1,
            hi: 64,
            resolution: 1,
            max_points: 20,
        }
    }

    fn rate(start: u64, resolution: u64) -> Search {
        Search {
            goal: Goal::Largest,
            steps: Steps::Multiplicative,
            start,
            lo: 1,
            hi: 10_000_000,
            resolution,
            max_points: 30,
        }
    }

    #[test]
    fn smallest_passing_from_below_and_above() {
        for start in [1, 3, 7, 8, 20, 64] {
            let f = nodes(start).run(|n| Ok(n >= 7)).unwrap();
            assert_eq!(f.answer, Some(7), "start {start}: {f:?}");
            assert!(f.violations.is_empty());
            // The gallop, the bisection, and the probe past the answer.
            assert!(f.tried.len() <= 13, "start {start}: {:?}", f.tried);
            if start > 1 {
                assert_eq!(f.edge, Some(6), "start {start}");
            }
        }
    }

    #[test]
    fn each_point_runs_once() {
        let mut runs = Vec::new();
        let f = nodes(4)
            .run(|n| {
                runs.push(n);
                Ok(n >= 11)
            })
            .unwrap();
        let mut unique = runs.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), runs.len(), "{runs:?}");
        assert_eq!(f.tried.len(), runs.len());
    }

    #[test]
    fn largest_passing_rate_within_resolution() {
        let f = rate(5_000, 50).run(|r| Ok(r <= 7_697)).unwrap();
        let a = f.answer.unwrap();
        assert!(a <= 7_697 && 7_697 - a <= 50, "{f:?}");
        assert!(f.edge.unwrap() > 7_697);
        assert!(f.violations.is_empty());
        let f = rate(100_000, 50).run(|r| Ok(r <= 7_697)).unwrap();
        let a = f.answer.unwrap();
        assert!(a <= 7_697 && 7_697 - a <= 50, "{f:?}");
    }

    #[test]
    fn nothing_passes_or_everything_passes_at_the_bounds() {
        let f = nodes(4).run(|_| Ok(false)).unwrap();
        assert_eq!(f.answer, None);
        assert_eq!(f.tried.last().unwrap().0, 64);
        let f = nodes(4).run(|_| Ok(true)).unwrap();
        assert_eq!(f.answer, Some(1));
        assert_eq!(f.edge, None);
    }

    #[test]
    fn a_non_monotone_figure_is_reported_and_the_answer_is_conservative() {
        // Passes at 5, fails at 6 and 7, passes from 8 (a trap like a dead
        // replica that costs nothing).
        let pass = |n: u64| n == 5 || n >= 8;
        // Galloping down from 5 finds 4 failing and would stop at 5; the
        // probe one node past it fails, which shows the break, and no
        // passing point tried lies beyond it.
        let f = nodes(5).run(|n| Ok(pass(n))).unwrap();
        assert_eq!(f.violations, vec![(6, 5)], "{f:?}");
        assert_eq!(f.answer, None, "{f:?}");
        // Starting above, the search brackets 7..8; the probe (9) passes.
        let f = nodes(9).run(|n| Ok(pass(n))).unwrap();
        assert_eq!((f.answer, f.edge), (Some(8), Some(7)), "{f:?}");
        assert!(f.violations.is_empty(), "{f:?}");
        // A direct case: every point given.
        let s = nodes(1);
        let found = s.conclude(vec![(4, false), (5, true), (6, false), (8, true)], false);
        assert_eq!(found.violations, vec![(6, 5)]);
        assert_eq!(found.answer, Some(8));
        assert_eq!(found.edge, Some(6));
    }

    #[test]
    fn the_search_gives_up_at_its_point_budget() {
        let mut s = nodes(1);
        s.max_points = 3;
        let f = s.run(|n| Ok(n >= 60)).unwrap();
        assert!(f.gave_up);
        assert_eq!(f.tried.len(), 3);
        assert_eq!(f.answer, None);
    }

    #[test]
    fn an_error_stops_the_search() {
        let e = nodes(3).run(|n| {
            if n >= 4 {
                anyhow::bail!("boom at {n}");
            }
            Ok(false)
        });
        assert!(format!("{:#}", e.unwrap_err()).contains("boom at 4"));
    }
}
