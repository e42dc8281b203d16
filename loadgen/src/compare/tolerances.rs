//! The single-run mode's tolerances: the defaults, a TOML file
//! (`--tolerances`) and flags, each overriding the previous.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::{
    CompareArgs, CompareError, DEFAULT_AVAILABILITY_DROP_PTS, DEFAULT_HIT_RATIO_DROP,
    DEFAULT_SLACK_US, DEFAULT_TAIL_GROWTH_PCT,
};
use crate::report::Metric;
use crate::report::format::trim_float;

/// How far each figure may move before it counts as a regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerances {
    /// Allowed growth in percent per gated latency percentile; percentiles
    /// absent here are shown but not gated.
    pub growth_pct: BTreeMap<Metric, f64>,
    /// Microseconds added to every latency limit.
    pub slack_us: f64,
    /// Allowed availability drop, percentage points.
    pub availability_drop_pts: f64,
    /// Allowed hit-ratio drop, ratio.
    pub hit_ratio_drop: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            growth_pct: BTreeMap::from([
                (Metric::P99, DEFAULT_TAIL_GROWTH_PCT),
                (Metric::P999, DEFAULT_TAIL_GROWTH_PCT),
            ]),
            slack_us: DEFAULT_SLACK_US,
            availability_drop_pts: DEFAULT_AVAILABILITY_DROP_PTS,
            hit_ratio_drop: DEFAULT_HIT_RATIO_DROP,
        }
    }
}

/// The tolerance file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToleranceFile {
    /// See [`Tolerances::slack_us`].
    slack_us: Option<f64>,
    /// See [`Tolerances::availability_drop_pts`].
    availability_drop_points: Option<f64>,
    /// See [`Tolerances::hit_ratio_drop`].
    hit_ratio_drop: Option<f64>,
    /// Percentile name -> growth in percent, or "off".
    latency_growth_percent: Option<BTreeMap<String, GrowthValue>>,
}

/// A growth in percent, or "off".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum GrowthValue {
    Percent(f64),
    Word(String),
}

impl Tolerances {
    /// The defaults, overridden by the file and then the flags of `args`.
    pub fn from_args(args: &CompareArgs) -> Result<Tolerances, CompareError> {
        let mut t = Tolerances::default();
        if let Some(path) = &args.tolerances {
            let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
                path: path.clone(),
                source,
            })?;
            t.apply_toml(&text, path)?;
        }
        for g in &args.growth {
            let (name, value) = g.split_once('=').ok_or_else(|| CompareError::BadValue {
                origin: "--growth".to_string(),
                what: "value".to_string(),
                value: g.clone(),
                expected: "METRIC=PCT, e.g. p99=5 or max=off",
            })?;
            let value = if value.trim().eq_ignore_ascii_case("off") {
                None
            } else {
                Some(
                    value
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| CompareError::BadValue {
                            origin: "--growth".to_string(),
                            what: name.to_string(),
                            value: value.to_string(),
                            expected: "a percentage >= 0, or off",
                        })?,
                )
            };
            t.set_growth("--growth", name, value)?;
        }
        if let Some(v) = args.slack_us {
            t.slack_us = non_negative("--slack-us", "value", v)?;
        }
        if let Some(v) = args.availability_drop {
            t.availability_drop_pts = non_negative("--availability-drop", "value", v)?;
        }
        if let Some(v) = args.hit_ratio_drop {
            t.hit_ratio_drop = non_negative("--hit-ratio-drop", "value", v)?;
        }
        Ok(t)
    }

    /// Applies a tolerance file's settings over these; `path` names it in
    /// errors.
    pub fn apply_toml(&mut self, text: &str, path: &Path) -> Result<(), CompareError> {
        let file: ToleranceFile = toml::from_str(text).map_err(|source| CompareError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let origin = path.display().to_string();
        if let Some(v) = file.slack_us {
            self.slack_us = non_negative(&origin, "slack_us", v)?;
        }
        if let Some(v) = file.availability_drop_points {
            self.availability_drop_pts = non_negative(&origin, "availability_drop_points", v)?;
        }
        if let Some(v) = file.hit_ratio_drop {
            self.hit_ratio_drop = non_negative(&origin, "hit_ratio_drop", v)?;
        }
        for (name, value) in file.latency_growth_percent.unwrap_or_default() {
            let value = match value {
                GrowthValue::Percent(p) => Some(p),
                GrowthValue::Word(w) if w.eq_ignore_ascii_case("off") => None,
                GrowthValue::Word(w) => {
                    return Err(CompareError::BadValue {
                        origin,
                        what: format!("latency_growth_percent.{name}"),
                        value: w,
                        expected: "a percentage >= 0, or \"off\"",
                    });
                }
            };
            self.set_growth(&origin, &name, value)?;
        }
        Ok(())
    }

    fn set_growth(
        &mut self,
        origin: &str,
        name: &str,
        value: Option<f64>,
    ) -> Result<(), CompareError> {
        let metric = Metric::parse(name)
            .filter(|m| Metric::PERCENTILES.contains(m))
            .ok_or_else(|| CompareError::UnknownPercentile {
                origin: origin.to_string(),
                name: name.to_string(),
            })?;
        match value {
            Some(v) => {
                let v = non_negative(origin, name, v)?;
                self.growth_pct.insert(metric, v);
            }
            None => {
                self.growth_pct.remove(&metric);
            }
        }
        Ok(())
    }

    /// One line for people: what is gated and how.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .growth_pct
            .iter()
            .map(|(m, p)| {
                format!(
                    "{} +{}% +{} µs",
                    m.label(),
                    trim_float(*p, 3),
                    trim_float(self.slack_us, 3)
                )
            })
            .collect();
        parts.push(format!(
            "availability -{} pts",
            trim_float(self.availability_drop_pts, 4)
        ));
        parts.push(format!("hit ratio -{}", trim_float(self.hit_ratio_drop, 4)));
        let ungated: Vec<&str> = Metric::PERCENTILES
            .iter()
            .filter(|m| !self.growth_pct.contains_key(m))
            .map(|m| m.label())
            .collect();
        let mut s = parts.join(", ");
        if !ungated.is_empty() {
            let _ = write!(s, " ({} shown, not gated)", ungated.join(", "));
        }
        s
    }
}

pub(super) fn non_negative(origin: &str, what: &str, v: f64) -> Result<f64, CompareError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(CompareError::BadValue {
            origin: origin.to_string(),
            what: what.to_string(),
            value: v.to_string(),
            expected: "a finite number >= 0",
        })
    }
}
