//! Axes: ranges, tick positions and tick labels, in plot coordinates
//! (log10 of the value on a log axis), and the time axis every plot over
//! time shares.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::recorder::RunRecord;
use crate::report::ReportError;
use crate::report::aggregate::run_end;
use crate::report::format::trim_float;

/// An axis: its range and ticks in plot coordinates (log10 of the value on a
/// log axis) and how a tick is labelled.
pub(super) struct Axis {
    /// Extent in plot coordinates.
    pub(super) range: Range<f64>,
    /// Labelled ticks (with bold grid lines), plot coordinates.
    pub(super) bold: Vec<f64>,
    /// Light grid lines, plot coordinates.
    pub(super) light: Vec<f64>,
    /// Plot coordinates are log10 of the values.
    pub(super) log: bool,
    /// Formats a tick's value (not its plot coordinate).
    pub(super) label: fn(f64) -> String,
    /// The axis title.
    pub(super) desc: String,
}

impl Axis {
    /// A linear axis over `lo..hi` with "nice" ticks (1, 2 or 5 times a power
    /// of ten apart).
    pub(super) fn linear(lo: f64, hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
        let step = nice_step((hi - lo) / 7.0);
        let mut bold = Vec::new();
        let mut t = (lo / step).ceil() * step;
        while t <= hi + step * 1e-9 {
            bold.push(t);
            t += step;
        }
        Axis {
            range: lo..hi,
            light: bold.clone(),
            bold,
            log: false,
            label,
            desc: desc.to_string(),
        }
    }

    /// A log axis covering `lo..hi` (both > 0), widened to whole decades,
    /// with a tick per decade and light lines at 2x and 5x.
    pub(super) fn log(lo: f64, hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
        let lo_d = lo.max(1e-9).log10().floor();
        let mut hi_d = hi.max(lo).log10().ceil();
        if hi_d <= lo_d {
            hi_d = lo_d + 1.0;
        }
        let decades = (lo_d as i32)..=(hi_d as i32);
        // Few decades leave room to label 2x and 5x too.
        let labelled: &[f64] = if hi_d - lo_d <= 3.0 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let within = |multiples: &[f64]| -> Vec<f64> {
            decades
                .clone()
                .flat_map(|d| multiples.iter().map(move |m| f64::from(d) + m.log10()))
                .filter(|p| *p <= hi_d + 1e-9)
                .collect()
        };
        let bold = within(labelled);
        let light = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        Axis {
            range: lo_d..hi_d,
            bold,
            light,
            log: true,
            label,
            desc: desc.to_string(),
        }
    }

    /// Where `v` goes in plot coordinates; `None` for values a log axis
    /// cannot show.
    pub(super) fn pos(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    pub(super) fn coord(&self) -> Ticked {
        Ticked {
            range: self.range.clone(),
            bold: self.bold.clone(),
            light: self.light.clone(),
        }
    }

    pub(super) fn tick(&self, p: f64) -> String {
        let v = if self.log { 10f64.powf(p) } else { p };
        (self.label)(v)
    }
}

/// A linear f64 coordinate with the axis's own tick positions (plotters'
/// `WithKeyPoints` over f64 cannot take a label formatter).
pub(super) struct Ticked {
    /// Extent.
    range: Range<f64>,
    /// Labelled ticks.
    bold: Vec<f64>,
    /// Light grid lines.
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let f = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        let f = if f.is_finite() { f } else { 0.0 };
        limit.0 + (f64::from(limit.1 - limit.0) * f).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

pub(super) fn seconds_tick(v: f64) -> String {
    format!("{}s", trim_float(v, 2))
}

pub(super) fn plain_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim_float(v / 1e6, 2))
    } else if a >= 1e3 {
        format!("{}k", trim_float(v / 1e3, 2))
    } else {
        trim_float(v, 2)
    }
}

pub(super) fn percent_tick(v: f64) -> String {
    format!("{}%", trim_float(v, 3))
}

/// Tick label of the percentile axis: position `x` = log10(1/(1-q)).
pub(super) fn percentile_tick(v: f64) -> String {
    // `v` is 10^x = 1/(1-q).
    let q = 1.0 - 1.0 / v;
    format!("{}%", trim_float(q * 100.0, 4))
}

/// Maps plotters' errors into ours, naming the plot.
pub(super) fn plot_err<E: std::fmt::Display>(file: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Plot {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// The x axis every plot over time shares.
/// Runs at least this long get clock-style time labels ("1:30").
pub(super) const CLOCK_LABELS_FROM_S: f64 = 120.0;

/// The x axis every plot over time shares: seconds for short runs; for long
/// ones, ticks on whole minutes or hours and "m:ss" / "h:mm:ss" labels.
pub(super) fn time_axis(record: &RunRecord) -> Axis {
    let end = run_end(record)
        .as_secs_f64()
        .max(record.meta.window.as_secs_f64());
    if end < CLOCK_LABELS_FROM_S {
        return Axis::linear(0.0, end, seconds_tick, "time since start (s)");
    }
    let raw = end / 7.0;
    let step = [
        15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 10_800.0,
        21_600.0, 43_200.0, 86_400.0,
    ]
    .into_iter()
    .find(|s| *s >= raw)
    .unwrap_or_else(|| nice_step(raw / 86_400.0) * 86_400.0);
    let bold: Vec<f64> = (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|t| *t <= end + 1e-9)
        .collect();
    let (label, desc): (fn(f64) -> String, &str) = if end >= 3_600.0 {
        (hms_tick, "time since start (h:mm:ss)")
    } else {
        (ms_tick, "time since start (m:ss)")
    };
    Axis {
        range: 0.0..end,
        light: bold.clone(),
        bold,
        log: false,
        label,
        desc: desc.to_string(),
    }
}

pub(super) fn ms_tick(v: f64) -> String {
    let s = v.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

pub(super) fn hms_tick(v: f64) -> String {
    let s = v.round() as u64;
    format!("{}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
}
