//! `--slo`: what a point must show, and its figures read off a run's
//! summary.
//!
//! An SLO is written as an `[expect]` line without the `=`: a key, a
//! comparison and a bound (`p99<=5ms`, `availability>=99.99%`,
//! `phase.peak.get.p99<5ms`). The key and the bound are read with the
//! scenario's own grammar, so they mean what they mean in a file.
//!
//! # Which requests an SLO covers
//! Without a phase, every request of the run (all phases, and under
//! `--survive` the time before and after the fault alike); with
//! `phase.<name>.`, the requests of that phase only. An operation kind
//! (`get.`, `set.`, `delete.`) narrows it to that kind.

use std::fmt;

use anyhow::{Result, bail};
use ringlab_loadgen::report::Summary;
use ringlab_loadgen::report::summary::{Metric as Figure, Stats};
use ringlab_loadgen::scenario::expect::parse_bound;
use ringlab_loadgen::scenario::{Cmp, Metric, Scenario};
use ringlab_loadgen::workload::OpKind;

/// One service-level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// As given (`p99<=5ms`).
    pub text: String,
    /// `None`: the whole run; else the phase.
    pub phase: Option<String>,
    /// Only this operation kind (`get`, `set`, `delete`).
    pub op: Option<String>,
    /// What is measured.
    pub figure: Figure,
    pub cmp: Cmp,
    /// The bound in the figure's unit: µs for latencies, a fraction for
    /// shares.
    pub bound: f64,
}

/// What `--slo` accepts, for messages.
const FIGURES: &str = "availability, p50, p95, p99, p999, max, hit_ratio";

impl Slo {
    /// Reads `--slo TEXT`; the error names the argument and what was
    /// expected.
    pub fn parse(text: &str) -> Result<Slo> {
        let bad = |why: String| -> anyhow::Error {
            anyhow::anyhow!(
                "--slo {text:?}: {why}; expected a figure, a comparison and a bound, \
                 like 'p99<=5ms', 'availability>=99.99%' or 'phase.peak.p99<5ms'"
            )
        };
        let Some(at) = text.find(['<', '>']) else {
            return Err(bad("no comparison (<=, >=, < or >)".into()));
        };
        let (key, bound) = (text[..at].trim(), text[at..].trim());
        if key.contains('=') {
            return Err(bad("`=` is not a comparison: write <=, >=, < or >".into()));
        }
        let mut parts: Vec<&str> = key.split('.').collect();
        let mut phase = None;
        if parts.first() == Some(&"phase") {
            if parts.len() < 3 || parts[1].is_empty() {
                return Err(bad("`phase.` needs a phase name and a figure".into()));
            }
            phase = Some(parts[1].to_string());
            parts.drain(..2);
        }
        let mut op = None;
        if parts.len() == 2 && OpKind::named(parts[0]).is_some() {
            op = Some(parts[0].to_string());
            parts.remove(0);
        }
        let [name] = parts.as_slice() else {
            return Err(bad(format!("{key:?} is not a figure ({FIGURES})")));
        };
        let figure = figure_of(name).ok_or_else(|| {
            bad(format!(
                "{name:?} is not a figure plan can read (it reads {FIGURES})"
            ))
        })?;
        let metric = Metric::from_key(name).expect("every figure is an expectation metric");
        let (cmp, bound, _) = parse_bound(metric, bound).map_err(bad)?;
        Ok(Slo {
            text: text.trim().to_string(),
            phase,
            op,
            figure,
            cmp,
            bound,
        })
    }

    /// Checks the SLO against the scenario: its phase must exist.
    pub fn check(&self, sc: &Scenario) -> Result<()> {
        if let Some(p) = &self.phase
            && !sc.phases.iter().any(|ph| &ph.name == p)
        {
            let names: Vec<&str> = sc.phases.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "--slo {:?}: the scenario has no phase {p:?} (its phases: {})",
                self.text,
                names.join(", ")
            );
        }
        Ok(())
    }

    /// The stats the SLO covers in a run's summary.
    pub fn stats<'s>(&self, s: &'s Summary) -> Option<&'s Stats> {
        let span = match &self.phase {
            None => &s.overall,
            Some(p) => s.phase(p)?,
        };
        match &self.op {
            None => Some(&span.all),
            Some(op) => span.ops.get(op),
        }
    }

    /// The SLO's figure in a run's summary (µs or a fraction); `None` when
    /// nothing was measured (no request answered), which fails it.
    pub fn measure(&self, s: &Summary) -> Option<f64> {
        self.figure.value(self.stats(s)?)
    }

    /// Whether `measured` meets the SLO.
    pub fn holds(&self, measured: Option<f64>) -> bool {
        let Some(m) = measured else { return false };
        match self.cmp {
            Cmp::Ge => m >= self.bound,
            Cmp::Le => m <= self.bound,
            Cmp::Gt => m > self.bound,
            Cmp::Lt => m < self.bound,
        }
    }

    /// Higher figures are better (availability, hit ratio).
    pub fn higher_is_better(&self) -> bool {
        matches!(self.cmp, Cmp::Ge | Cmp::Gt)
    }

    /// A figure of this SLO for people: "4.2ms", "99.98%".
    pub fn show(&self, v: f64) -> String {
        use ringlab_loadgen::report::format;
        if self.figure.is_latency() {
            format::latency_us(v)
        } else {
            format::percent_floor(v)
        }
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn figure_of(name: &str) -> Option<Figure> {
    Some(match name {
        "availability" => Figure::Availability,
        "p50" => Figure::P50,
        "p95" => Figure::P95,
        "p99" => Figure::P99,
        "p999" => Figure::P999,
        "max" => Figure::Max,
        "hit_ratio" => Figure::HitRatio,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slos_read_like_expectations() {
        let s = Slo::parse("p99<=5ms").unwrap();
        assert_eq!((s.figure, s.cmp, s.bound), (Figure::P99, Cmp::Le, 5000.0));
        assert_eq!((s.phase.as_deref(), s.op.as_deref()), (None, None));
        let s = Slo::parse("availability >= 99.99%").unwrap();
        assert_eq!(s.figure, Figure::Availability);
        assert!((s.bound - 0.9999).abs() < 1e-12);
        assert!(s.higher_is_better());
        let s = Slo::parse("phase.peak.get.p999<2ms").unwrap();
        assert_eq!(s.phase.as_deref(), Some("peak"));
        assert_eq!(s.op.as_deref(), Some("get"));
        assert_eq!((s.figure, s.cmp, s.bound), (Figure::P999, Cmp::Lt, 2000.0));
    }

    #[test]
    fn bad_slos_say_what_was_expected() {
        for (bad, says) in [
            ("p99", "no comparison"),
            ("p98<=5ms", "not a figure plan can read"),
            ("latency<=5ms", "not a figure plan can read"),
            ("p99<=5", "p99<=5"),
            ("p99=>5ms", "`=` is not a comparison"),
            ("p99<=>5ms", "found \">5ms\""),
            ("availability>=120%", "not a share"),
            ("phase.p99<=5ms", "needs a phase name"),
            ("a.b.p99<=5ms", "is not a figure"),
        ] {
            let e = format!("{:#}", Slo::parse(bad).unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("like 'p99<=5ms'"), "{bad}: {e}");
        }
    }

    #[test]
    fn holds_compares_and_nothing_measured_fails() {
        let s = Slo::parse("p99<=5ms").unwrap();
        assert!(s.holds(Some(5000.0)));
        assert!(!s.holds(Some(5001.0)));
        assert!(!s.holds(None));
    }
}
