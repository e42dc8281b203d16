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

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::aggregate::{RunTotals, Totals, run_end};
use super::format::{latency_tick, trim_float};
use super::summary::Summary;
use crate::recorder::RunRecord;

/// Width of every plot, pixels.
pub const WIDTH: u32 = 1100;
/// Height of the plots over time, pixels.
pub const TIME_HEIGHT: u32 = 360;
/// Height of the distribution plot, pixels.
pub const DIST_HEIGHT: u32 = 420;

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
        distribution_plot(record, summary, totals)?,
    ];
    let mut files: Vec<String> = plots.iter().map(|p| p.file.clone()).collect();
    for (name, values) in &record.series {
        // Two names can share a slug ("a b", "a-b"); number the later ones.
        let mut file = series_file(name);
        let mut n = 1;
        while files.contains(&file) {
            n += 1;
            file = format!("{}-{n}.svg", series_file(name).trim_end_matches(".svg"));
        }
        files.push(file.clone());
        plots.push(series_plot(record, &file, name, values)?);
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

/// An axis: its range and ticks in plot coordinates (log10 of the value on a
/// log axis) and how a tick is labelled.
struct Axis {
    /// Extent in plot coordinates.
    range: Range<f64>,
    /// Labelled ticks (with bold grid lines), plot coordinates.
    bold: Vec<f64>,
    /// Light grid lines, plot coordinates.
    light: Vec<f64>,
    /// Plot coordinates are log10 of the values.
    log: bool,
    /// Formats a tick's value (not its plot coordinate).
    label: fn(f64) -> String,
    /// The axis title.
    desc: String,
}

impl Axis {
    /// A linear axis over `lo..hi` with "nice" ticks (1, 2 or 5 times a power
    /// of ten apart).
    fn linear(lo: f64, hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
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
    fn log(lo: f64, hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
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
    fn pos(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    fn coord(&self) -> Ticked {
        Ticked {
            range: self.range.clone(),
            bold: self.bold.clone(),
            light: self.light.clone(),
        }
    }

    fn tick(&self, p: f64) -> String {
        let v = if self.log { 10f64.powf(p) } else { p };
        (self.label)(v)
    }
}

/// A linear f64 coordinate with the axis's own tick positions (plotters'
/// `WithKeyPoints` over f64 cannot take a label formatter).
struct Ticked {
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
fn nice_step(raw: f64) -> f64 {
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

fn seconds_tick(v: f64) -> String {
    format!("{}s", trim_float(v, 2))
}

fn plain_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim_float(v / 1e6, 2))
    } else if a >= 1e3 {
        format!("{}k", trim_float(v / 1e3, 2))
    } else {
        trim_float(v, 2)
    }
}

fn percent_tick(v: f64) -> String {
    format!("{}%", trim_float(v, 3))
}

/// Tick label of the percentile axis: position `x` = log10(1/(1-q)).
fn percentile_tick(v: f64) -> String {
    // `v` is 10^x = 1/(1-q).
    let q = 1.0 - 1.0 / v;
    format!("{}%", trim_float(q * 100.0, 4))
}

/// Maps plotters' errors into ours, naming the plot.
fn plot_err<E: std::fmt::Display>(file: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Plot {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// The x axis every plot over time shares.
/// Runs at least this long get clock-style time labels ("1:30").
const CLOCK_LABELS_FROM_S: f64 = 120.0;

/// The x axis every plot over time shares: seconds for short runs; for long
/// ones, ticks on whole minutes or hours and "m:ss" / "h:mm:ss" labels.
fn time_axis(record: &RunRecord) -> Axis {
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

fn ms_tick(v: f64) -> String {
    let s = v.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

fn hms_tick(v: f64) -> String {
    let s = v.round() as u64;
    format!("{}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
}

/// The middle of each window, seconds: where its value is plotted.
fn window_mids(record: &RunRecord) -> Vec<f64> {
    let half = record.meta.window.as_secs_f64() / 2.0;
    record
        .windows
        .iter()
        .map(|w| w.start.as_secs_f64() + half)
        .collect()
}

/// A label row in the band above the plot, with where its last label ends,
/// so later labels go to a row where they do not overlap.
struct Band {
    /// Right edge (pixels) of the last label in each event row.
    row_ends: [i32; 2],
}

/// Estimated width of `text` in pixels at plotters font `size`; SVG text is
/// laid out by the viewer, so this errs on the wide side.
fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * f64::from(size) / 1.24 * 0.6).ceil() as i32
}

/// Draws a plot over time: the phases and events, the lines, the legend.
fn time_plot(
    record: &RunRecord,
    file: &str,
    title: &str,
    caption: &str,
    y: Axis,
    lines: Vec<Line>,
) -> Result<Plot, ReportError> {
    let err = plot_err(file);
    let x = time_axis(record);
    let mids = window_mids(record);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, TIME_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        root.draw_text(
            title,
            &(FONT, TITLE_SIZE)
                .into_font()
                .style(FontStyle::Bold)
                .color(&DARK),
            (12, 8),
        )
        .map_err(&err)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_top(TITLE_HEIGHT + BAND_HEIGHT)
            .margin_left(8)
            .margin_right(16)
            .margin_bottom(6)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x.coord(), y.coord())
            .map_err(&err)?;
        let (xf, yf) = (&|v: &f64| x.tick(*v), &|v: &f64| y.tick(*v));
        chart
            .configure_mesh()
            .x_label_formatter(xf)
            .y_label_formatter(yf)
            .x_desc(x.desc.as_str())
            .y_desc(y.desc.as_str())
            .label_style((FONT, TEXT_SIZE))
            .axis_desc_style((FONT, TEXT_SIZE))
            .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
            .light_line_style(RGBColor(236, 236, 236).stroke_width(1))
            .draw()
            .map_err(&err)?;

        let (y_lo, y_hi) = (y.range.start, y.range.end);
        // Faults first, so the lines are drawn over the shading.
        for e in &record.events {
            let at = e.at.as_secs_f64();
            match e.end {
                Some(end) => {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(at, y_lo), (end.as_secs_f64(), y_hi)],
                            FAULT.mix(0.13).filled(),
                        )))
                        .map_err(&err)?;
                }
                None => {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(at, y_lo), (at, y_hi)],
                            FAULT.stroke_width(2),
                        )))
                        .map_err(&err)?;
                }
            }
        }
        for p in &record.phases {
            let at = p.start.as_secs_f64();
            if at > 0.0 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(at, y_lo), (at, y_hi)],
                        6,
                        4,
                        MARKER.stroke_width(1),
                    ))
                    .map_err(&err)?;
            }
        }
        for line in &lines {
            let style = line.color.stroke_width(2);
            for segment in segments(&mids, &line.values, &y) {
                if segment.len() == 1 {
                    chart
                        .draw_series(std::iter::once(Circle::new(segment[0], 2, style.filled())))
                        .map_err(&err)?;
                } else if line.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(segment, 7, 5, style))
                        .map_err(&err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(segment, style))
                        .map_err(&err)?;
                }
            }
        }

        // Labels in the band between the title and the plot: phase names on
        // the first row, events on the two rows below.
        let band_top = TITLE_HEIGHT as i32 + 4;
        let limit = plot_area.dim_in_pixel().0 as i32;
        let px = |t: f64| chart.backend_coord(&(t, y_hi)).0;
        for p in &record.phases {
            let at = px(p.start.as_secs_f64());
            plot_area
                .draw(&PathElement::new(
                    vec![(at, band_top + 2), (at, band_top + 14)],
                    MARKER.stroke_width(2),
                ))
                .map_err(&err)?;
            let width = text_width(&p.name, TEXT_SIZE) + 4;
            let (_, _, anchor) = label_place(at, width, limit);
            plot_area
                .draw_text(
                    &p.name,
                    &(FONT, TEXT_SIZE)
                        .into_font()
                        .style(FontStyle::Italic)
                        .color(&DARK)
                        .pos(anchor.0),
                    (anchor.1, band_top),
                )
                .map_err(&err)?;
        }
        let mut band = Band {
            row_ends: [i32::MIN; 2],
        };
        for e in &record.events {
            let at = px(e.at.as_secs_f64());
            let width = text_width(&e.label, SMALL_SIZE) + 4;
            let (mut left, mut right, mut anchor) = label_place(at, width, limit);
            let row = match band.row_ends.iter().position(|end| left > *end + 6) {
                Some(row) => row,
                None => {
                    // Both rows are taken here: move the label right of the
                    // row that ends first, joined to its mark by a thin line.
                    let row = usize::from(band.row_ends[1] < band.row_ends[0]);
                    let shifted = band.row_ends[row] + 10;
                    if shifted + width <= limit {
                        left = shifted;
                        right = shifted + width;
                        anchor = (Pos::new(HPos::Left, VPos::Top), shifted + 4);
                    }
                    row
                }
            };
            band.row_ends[row] = right;
            let y_px = band_top + BAND_ROW * (row as i32 + 1);
            plot_area
                .draw(&PathElement::new(
                    vec![(at, y_px + 2), (at, y_px + 14)],
                    FAULT.stroke_width(2),
                ))
                .map_err(&err)?;
            if left > at {
                plot_area
                    .draw(&PathElement::new(
                        vec![(at, y_px + 14), (left + 2, y_px + 14)],
                        FAULT.mix(0.6).stroke_width(1),
                    ))
                    .map_err(&err)?;
            }
            plot_area
                .draw_text(
                    &e.label,
                    &(FONT, SMALL_SIZE).into_font().color(&FAULT).pos(anchor.0),
                    (anchor.1, y_px),
                )
                .map_err(&err)?;
        }

        let mut entries: Vec<LegendEntry> = lines
            .iter()
            .map(|l| LegendEntry::Line {
                label: l.label.clone(),
                color: l.color,
                dashed: l.dashed,
            })
            .collect();
        if record.events.iter().any(|e| e.end.is_some()) {
            entries.push(LegendEntry::Shade {
                label: "fault (shaded)".to_string(),
                color: FAULT,
            });
        }
        if record.events.iter().any(|e| e.end.is_none()) {
            entries.push(LegendEntry::Line {
                label: "event".to_string(),
                color: FAULT,
                dashed: false,
            });
        }
        if record.phases.len() > 1 {
            entries.push(LegendEntry::Line {
                label: "phase start".to_string(),
                color: MARKER,
                dashed: true,
            });
        }
        let top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(&legend_area, &entries, top, &err)?;
        root.present().map_err(&err)?;
    }
    Ok(Plot {
        file: file.to_string(),
        title: title.to_string(),
        caption: caption.to_string(),
        svg,
        series: lines.len(),
    })
}

/// Where a label of `width` pixels for a mark at `at` goes: starting just
/// right of the mark, or, if that would run past `limit`, ending just left of
/// it. Returns its left and right edges and the anchor to draw it with.
fn label_place(at: i32, width: i32, limit: i32) -> (i32, i32, (Pos, i32)) {
    if at + width <= limit {
        (at, at + width, (Pos::new(HPos::Left, VPos::Top), at + 4))
    } else {
        (at - width, at, (Pos::new(HPos::Right, VPos::Top), at - 4))
    }
}

/// Consecutive runs of defined values, as points in plot coordinates.
fn segments(mids: &[f64], values: &[Option<f64>], y: &Axis) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (x, v) in mids.iter().zip(values) {
        match v.and_then(|v| y.pos(v)) {
            Some(p) => current.push((*x, p)),
            None => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
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
    let lo = [99.99, 99.9, 99.0, 90.0, 50.0, 0.0]
        .into_iter()
        .find(|c| *c < min)
        .unwrap_or(0.0);
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
        Axis::linear(lo, 100.0, percent_tick, desc),
        lines,
    )
}

fn series_plot(
    record: &RunRecord,
    file: &str,
    name: &str,
    values: &[f64],
) -> Result<Plot, ReportError> {
    let values: Vec<Option<f64>> = (0..record.windows.len())
        .map(|i| values.get(i).copied().filter(|v| v.is_finite()))
        .collect();
    let lines = vec![Line {
        label: name.to_string(),
        color: PURPLE,
        dashed: false,
        values,
    }];
    let (lo, hi) = value_bounds(&lines).unwrap_or((0.0, 1.0));
    let lo = lo.min(0.0);
    let hi = if hi > lo { hi * 1.1 } else { lo + 1.0 };
    time_plot(
        record,
        file,
        name,
        "An extra series the run recorded, one value per window.",
        Axis::linear(lo, hi, plain_tick, name),
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

/// Points per decade of the percentile spectrum.
const SPECTRUM_STEPS: u32 = 24;
/// The spectrum stops at 99.9999%.
const SPECTRUM_DECADES: f64 = 6.0;

fn distribution_plot(
    record: &RunRecord,
    summary: &Summary,
    totals: &RunTotals,
) -> Result<Plot, ReportError> {
    let file = "distribution.svg";
    let err = plot_err(file);
    // One spectrum per phase; a record without phases shows the whole run.
    let spans: Vec<(String, &Totals)> = if record.phases.is_empty() {
        vec![(super::summary::OVERALL.to_string(), &totals.overall.all)]
    } else {
        record
            .phases
            .iter()
            .zip(&totals.phases)
            .map(|(p, t)| (p.name.clone(), &t.all))
            .collect()
    };
    let curves: Vec<(String, Vec<(f64, f64)>)> = spans
        .iter()
        .filter(|(_, t)| !t.hist.is_empty())
        .map(|(name, t)| (name.clone(), spectrum(&t.hist)))
        .collect();
    let x_hi = curves
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.0))
        .fold(1.0f64, f64::max)
        .ceil();
    let (lo, hi) = curves
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
        .unwrap_or((100.0, 1_000.0));
    let x = Axis::log(1.0, 10f64.powf(x_hi), percentile_tick, "percentile");
    let y = Axis::log(lo, hi, latency_tick, "latency");
    let title = "Latency distribution per phase (percentile spectrum)";
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, DIST_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        root.draw_text(
            title,
            &(FONT, TITLE_SIZE)
                .into_font()
                .style(FontStyle::Bold)
                .color(&DARK),
            (12, 8),
        )
        .map_err(&err)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_top(TITLE_HEIGHT + 12)
            .margin_left(8)
            .margin_right(16)
            .margin_bottom(6)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(x.coord(), y.coord())
            .map_err(&err)?;
        let (xf, yf) = (&|v: &f64| x.tick(*v), &|v: &f64| y.tick(*v));
        chart
            .configure_mesh()
            .x_label_formatter(xf)
            .y_label_formatter(yf)
            .x_desc(x.desc.as_str())
            .y_desc(y.desc.as_str())
            .label_style((FONT, TEXT_SIZE))
            .axis_desc_style((FONT, TEXT_SIZE))
            .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
            .light_line_style(RGBColor(236, 236, 236).stroke_width(1))
            .draw()
            .map_err(&err)?;
        let mut entries = Vec::new();
        for (i, (name, pts)) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = pts.iter().map(|(px, v)| (*px, v.log10())).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(&err)?;
            // Summary's phase p99 in the legend, so the curve and the table
            // can be matched by eye.
            let p99 = summary
                .phase(name)
                .or(Some(&summary.overall).filter(|o| o.name == *name))
                .and_then(|p| p.all.latency_us.p99)
                .map_or_else(String::new, |v| {
                    format!(" (p99 {})", latency_tick(v as f64))
                });
            entries.push(LegendEntry::Line {
                label: format!("{name}{p99}"),
                color,
                dashed: false,
            });
        }
        let top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(&legend_area, &entries, top, &err)?;
        root.present().map_err(&err)?;
    }
    Ok(Plot {
        file: file.to_string(),
        title: title.to_string(),
        caption: "For each phase, the latency below which a share of its ok requests \
                  fell (all op kinds together); the x axis spreads the tail out as \
                  HdrHistogram's plots do: 90%, 99%, 99.9%, ... equally spaced."
            .to_string(),
        svg,
        series: curves.len(),
    })
}

/// The percentile spectrum of `h`: (log10(1/(1-q)), latency) points up to
/// the largest percentile the count supports, then the max.
fn spectrum(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    // Beyond 1/(1-q) = count the percentile is the max; stop there.
    let top = (h.len() as f64).log10().clamp(0.0, SPECTRUM_DECADES);
    let steps = (top * f64::from(SPECTRUM_STEPS)).floor() as u32;
    let mut pts: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let x = f64::from(i) / f64::from(SPECTRUM_STEPS);
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q).max(1) as f64)
        })
        .collect();
    pts.push((
        top.max(pts.last().map_or(0.0, |p| p.0)),
        h.max().max(1) as f64,
    ));
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

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
