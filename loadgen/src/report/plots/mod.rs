//! The plots, as SVG drawn with plotters.
//!
//! - `latency.svg`: p50, p99, p99.9 and max per window (log scale);
//! - `throughput.svg`: scheduled vs achieved (ok) requests per second, and
//!   the failed ones;
//! - `availability.svg`: ok / scheduled per window;
//! - `distribution.svg`: each phase's percentile spectrum, on HdrHistogram's
//!   log "1/(1-q)" axis;
//! - `series-<name>.svg`: each extra series of the record.
//!
//! Every plot over time shares one x axis (seconds from the start) and one
//! layout, so stacked in the page they line up; each marks the phases (a
//! dashed line and the name at each phase's start) and shades the faults with
//! their labels, so one glance tells which phase and which fault a change
//! belongs to.
//!
//! plotters' SVG backend writes text as `<text>` elements that the viewer
//! renders with its own fonts: no font files or fontconfig are involved at
//! build or run time (plotters' `ttf` feature is off). Both axes are plain
//! linear coordinates with explicit tick positions; log axes plot `log10` of
//! the value and label the ticks with the value itself.

mod axis;
mod dist;
mod series;
mod time;

use plotters::prelude::*;

use super::ReportError;
use super::aggregate::{RunTotals, Totals};
use super::format::latency_tick;
use super::summary::Summary;
use crate::recorder::RunRecord;
use axis::{Axis, nice_step, percent_tick, plain_tick};
use time::time_plot;

/// Width of every plot, pixels.
pub const WIDTH: u32 = 1100;
/// Height of the plots over time, pixels.
pub const TIME_HEIGHT: u32 = 360;
/// Height of the distribution plot, pixels.
pub const DIST_HEIGHT: u32 = 420;

/// Room left of the plot for the y tick labels and the y axis title; the
/// same in every plot so they line up, and wide enough for the longest
/// tick label ("99.995%") beside the rotated title.
const Y_LABEL_AREA: u32 = 100;
/// Room on the right for the legend.
const LEGEND_WIDTH: u32 = 190;
/// Room at the top for the title.
const TITLE_HEIGHT: u32 = 30;
/// Room between the title and the plot for phase and event labels.
const BAND_HEIGHT: u32 = 58;
/// Height of one row of labels in the band.
const BAND_ROW: i32 = 18;
const FONT: &str = "sans-serif";
// plotters writes font-size as the given size / 1.24: 20 -> 16.1px.
/// Title font size (plotters units).
const TITLE_SIZE: u32 = 20;
/// Axis, legend and phase label font size.
const TEXT_SIZE: u32 = 16;
/// Event label font size.
const SMALL_SIZE: u32 = 15;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(110, 110, 110);
/// Phase markers: lighter than every data line, and used by nothing else.
const MARKER: RGBColor = RGBColor(150, 150, 150);
const DARK: RGBColor = RGBColor(40, 40, 40);
const FAULT: RGBColor = RGBColor(220, 50, 47);
/// Phase colours of the distribution plot, in phase order (then repeating).
const PALETTE: [RGBColor; 8] = [
    BLUE,
    ORANGE,
    GREEN,
    RED,
    PURPLE,
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// One rendered plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// File name in the report directory ("latency.svg").
    pub file: String,
    /// Title drawn on the plot and used as the page's heading for it.
    pub title: String,
    /// One sentence for the page: what the plot shows and how to read it.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
    /// Data series drawn (lines in the legend, not counting the markers for
    /// phases and faults).
    pub series: usize,
}

/// Renders every plot of `record`: latency, throughput, availability,
/// distribution, then one per extra series, in that order.
pub fn render_all(record: &RunRecord, summary: &Summary) -> Result<Vec<Plot>, ReportError> {
    render_all_with(record, summary, &RunTotals::of(record))
}

/// [`render_all`] from the record's already computed `totals`.
pub fn render_all_with(
    record: &RunRecord,
    summary: &Summary,
    totals: &RunTotals,
) -> Result<Vec<Plot>, ReportError> {
    if record.meta.window.is_zero() {
        return Err(ReportError::ZeroWindow);
    }
    let windows = &totals.windows;
    let mut plots = vec![
        latency_plot(record, windows)?,
        throughput_plot(record, windows)?,
        availability_plot(record, windows)?,
        dist::distribution_plot(record, summary, totals)?,
    ];
    let mut files: Vec<String> = plots.iter().map(|p| p.file.clone()).collect();
    for group in series::groups(&record.series) {
        // Two names can share a slug ("a b", "a-b"); number the later ones.
        let file = series::unique_file(&group.key, &files);
        files.push(file.clone());
        plots.push(series::group_plot(record, &file, &group)?);
    }
    Ok(plots)
}

/// The file name of the plot of series `name`: unsafe characters become '-'.
pub fn series_file(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("series-{slug}.svg")
}

/// A line over time: one optional value per window (`None` leaves a gap).
struct Line {
    /// Legend text.
    label: String,
    color: RGBColor,
    /// Dashed (a target, like the schedule) rather than solid.
    dashed: bool,
    /// One value per window, in the axis's units (not yet log10).
    values: Vec<Option<f64>>,
}

/// One line of a legend.
enum LegendEntry {
    /// A line sample: a data series or a marker.
    Line {
        label: String,
        color: RGBColor,
        dashed: bool,
    },
    /// A filled patch: the fault shading.
    Shade { label: String, color: RGBColor },
}

/// The legend, in the area right of the plot, starting at pixel row `top`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[LegendEntry],
    top: i32,
    err: &impl Fn(DrawingAreaErrorKind<DB::ErrorType>) -> ReportError,
) -> Result<(), ReportError> {
    for (i, entry) in entries.iter().enumerate() {
        let y = top + 4 + 22 * i as i32;
        let (label, color) = match entry {
            LegendEntry::Line {
                label,
                color,
                dashed,
            } => {
                let style = color.stroke_width(if *color == MARKER { 1 } else { 3 });
                if *dashed {
                    for x in [4, 14, 24] {
                        area.draw(&PathElement::new(vec![(x, y + 7), (x + 6, y + 7)], style))
                            .map_err(err)?;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(4, y + 7), (30, y + 7)], style))
                        .map_err(err)?;
                }
                (label, color)
            }
            LegendEntry::Shade { label, color } => {
                area.draw(&Rectangle::new(
                    [(4, y + 1), (30, y + 13)],
                    color.mix(0.25).filled(),
                ))
                .map_err(err)?;
                (label, color)
            }
        };
        let _ = color;
        area.draw_text(label, &(FONT, TEXT_SIZE).into_font().color(&DARK), (38, y))
            .map_err(err)?;
    }
    Ok(())
}

/// Estimated width of `text` in pixels at plotters font `size`; SVG text is
/// laid out by the viewer, so this errs on the wide side.
fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * f64::from(size) / 1.24 * 0.6).ceil() as i32
}

fn latency_plot(record: &RunRecord, totals: &[Totals]) -> Result<Plot, ReportError> {
    let q = |quantile: Option<f64>| -> Vec<Option<f64>> {
        totals
            .iter()
            .map(|t| {
                (!t.hist.is_empty()).then(|| {
                    let v = match quantile {
                        Some(q) => t.hist.value_at_quantile(q),
                        None => t.hist.max(),
                    };
                    v.max(1) as f64
                })
            })
            .collect()
    };
    // Top line first, so the legend reads in the lines' vertical order and
    // the lower percentiles are drawn over the higher ones where they meet.
    let lines = vec![
        Line {
            label: "max".into(),
            color: GREY,
            dashed: false,
            values: q(None),
        },
        Line {
            label: "p99.9".into(),
            color: RED,
            dashed: false,
            values: q(Some(0.999)),
        },
        Line {
            label: "p99".into(),
            color: ORANGE,
            dashed: false,
            values: q(Some(0.99)),
        },
        Line {
            label: "p50".into(),
            color: BLUE,
            dashed: false,
            values: q(Some(0.5)),
        },
    ];
    let (lo, hi) = value_bounds(&lines).unwrap_or((100.0, 1_000.0));
    time_plot(
        record,
        "latency.svg",
        "Latency over time (ok requests, log scale)",
        "Percentiles of each window's successful requests, from each request's intended start; \
         shaded bands are faults, dashed lines phase starts.",
        Axis::log(lo, hi, latency_tick, "latency"),
        lines,
    )
}

fn throughput_plot(record: &RunRecord, totals: &[Totals]) -> Result<Plot, ReportError> {
    let secs = record.meta.window.as_secs_f64();
    let per_s = |f: fn(&Totals) -> u64| -> Vec<Option<f64>> {
        totals.iter().map(|t| Some(f(t) as f64 / secs)).collect()
    };
    // The schedule last, dashed over the achieved line, so it stays visible
    // where the two agree.
    let lines = vec![
        Line {
            label: "ok (achieved)".into(),
            color: BLUE,
            dashed: false,
            values: per_s(|t| t.counts.ok),
        },
        Line {
            label: "failed".into(),
            color: RED,
            dashed: false,
            values: per_s(|t| t.counts.scheduled() - t.counts.ok),
        },
        Line {
            label: "scheduled".into(),
            color: DARK,
            dashed: true,
            values: per_s(|t| t.counts.scheduled()),
        },
    ];
    let hi = value_bounds(&lines).map_or(1.0, |(_, hi)| hi);
    time_plot(
        record,
        "throughput.svg",
        "Throughput: scheduled vs achieved (requests/s)",
        "Requests that came due per second (the open-loop schedule), those answered ok, and \
         those that failed (errors, timeouts and requests held back by the in-flight cap).",
        Axis::linear(
            0.0,
            nice_step(hi * 1.1 / 7.0) * 7.0,
            plain_tick,
            "requests / s",
        ),
        lines,
    )
}

fn availability_plot(record: &RunRecord, totals: &[Totals]) -> Result<Plot, ReportError> {
    let values: Vec<Option<f64>> = totals
        .iter()
        .map(|t| {
            let s = t.counts.scheduled();
            (s > 0).then(|| t.counts.ok as f64 / s as f64 * 100.0)
        })
        .collect();
    let min = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    // Start the axis just below the worst window, on a round value, so a dip
    // from 100% to 99.9% is visible; the axis label says it does not start at 0.
    let lo = availability_floor(min);
    let desc = if lo > 0.0 {
        "availability (%, axis not from 0)"
    } else {
        "availability (%)"
    };
    let lines = vec![Line {
        label: "availability".into(),
        color: GREEN,
        dashed: false,
        values,
    }];
    time_plot(
        record,
        "availability.svg",
        "Availability over time (ok / scheduled)",
        "Share of each window's scheduled requests answered ok within the timeout; cache \
         misses count as ok.",
        // A little room above 100%, so a line at 100% is not drawn on the
        // frame; the ticks stop at 100%.
        Axis::linear(lo, 100.0 + (100.0 - lo) * 0.04, percent_tick, desc),
        lines,
    )
}

/// The smallest and largest defined value of `lines`.
fn value_bounds(lines: &[Line]) -> Option<(f64, f64)> {
    let mut it = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten().copied())
        .filter(|v| v.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// Where the availability axis starts: just below the worst window, on a
/// round value, so a dip from 100% to 99.9% shows; from 0 when no window
/// fell below 100% (a zoom into 99.99-100% would then only magnify
/// nothing), or when nothing was measured.
fn availability_floor(min: f64) -> f64 {
    if !min.is_finite() || min >= 100.0 {
        return 0.0;
    }
    [99.99, 99.9, 99.0, 90.0, 50.0, 0.0]
        .into_iter()
        .find(|c| *c < min)
        .unwrap_or(0.0)
}
#[cfg(test)]
mod tests {
    use super::axis::{hms_tick, ms_tick, percentile_tick};
    use super::*;

    #[test]
    fn availability_axis_zooms_only_on_a_dip() {
        assert_eq!(availability_floor(100.0), 0.0);
        assert_eq!(availability_floor(f64::INFINITY), 0.0);
        assert_eq!(availability_floor(99.995), 99.99);
        assert_eq!(availability_floor(99.95), 99.9);
        assert_eq!(availability_floor(40.0), 0.0);
    }

    #[test]
    fn steps_are_flat_over_each_window_and_change_at_its_edges() {
        let y = Axis::linear(0.0, 10.0, plain_tick, "");
        let edges = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)];
        let pts = time::steps(&edges, &[Some(1.0), Some(2.0), None, Some(4.0)], &y);
        assert_eq!(
            pts,
            vec![
                vec![(0.0, 1.0), (1.0, 1.0), (1.0, 2.0), (2.0, 2.0)],
                vec![(3.0, 4.0), (4.0, 4.0)]
            ]
        );
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn clock_ticks() {
        assert_eq!(ms_tick(90.0), "1:30");
        assert_eq!(ms_tick(600.0), "10:00");
        assert_eq!(hms_tick(3_900.0), "1:05:00");
    }

    #[test]
    fn percentile_ticks() {
        assert_eq!(percentile_tick(1.0), "0%");
        assert_eq!(percentile_tick(10.0), "90%");
        assert_eq!(percentile_tick(1_000.0), "99.9%");
    }

    #[test]
    fn series_files_are_safe_names() {
        assert_eq!(
            series_file("db.queries_per_s"),
            "series-db.queries_per_s.svg"
        );
        assert_eq!(series_file("a/b c"), "series-a-b-c.svg");
    }

    #[test]
    fn log_axis_covers_whole_decades() {
        let a = Axis::log(150.0, 2_500.0, latency_tick, "");
        assert_eq!(a.range, 2.0..4.0);
        assert_eq!(a.bold.len(), 7, "1x, 2x, 5x of 100µs and 1ms, then 10ms");
        assert_eq!(a.bold[0], 2.0);
        assert_eq!(a.bold[3], 3.0);
        assert_eq!(a.light.len(), 19);
        let wide = Axis::log(1.0, 1e6, latency_tick, "");
        assert_eq!(wide.bold, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(a.pos(1_000.0), Some(3.0));
        assert_eq!(a.pos(0.0), None);
        assert_eq!(a.tick(3.0), "1ms");
    }
}
