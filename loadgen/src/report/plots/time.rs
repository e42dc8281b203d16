//! A plot over time, drawn in named steps: the frame (title, axes, grid),
//! the faults and phase markers, the data lines as steps over each window,
//! the label band above the plot, and the legend.
//!
//! Each window's value is drawn flat from the window's start to its end
//! (a step), so a change shows at the window edge where it happened, not
//! half a window early as a line through window midpoints would.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Ticked, plot_err, time_axis};
use super::{
    BAND_HEIGHT, BAND_ROW, DARK, FAULT, FONT, LEGEND_WIDTH, LegendEntry, Line, MARKER, Plot,
    SMALL_SIZE, TEXT_SIZE, TIME_HEIGHT, TITLE_HEIGHT, TITLE_SIZE, WIDTH, Y_LABEL_AREA, draw_legend,
    text_width,
};
use crate::recorder::RunRecord;
use crate::report::ReportError;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;
type DrawResult = Result<(), ReportError>;

/// Draws a plot over time: the phases and events, the lines, the legend.
pub(super) fn time_plot(
    record: &RunRecord,
    file: &str,
    title: &str,
    caption: &str,
    y: Axis,
    lines: Vec<Line>,
) -> Result<Plot, ReportError> {
    let err = plot_err(file);
    let x = time_axis(record);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, TIME_HEIGHT)).into_drawing_area();
        draw_title(&root, title, file)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = frame(&plot_area, TITLE_HEIGHT + BAND_HEIGHT, &x, &y, file)?;
        draw_faults_and_phases(&mut chart, record, &y, file)?;
        draw_lines(&mut chart, record, &lines, &y, file)?;
        draw_band(&plot_area, &chart, record, &y, file)?;
        let top = chart.plotting_area().get_pixel_range().1.start;
        draw_legend(&legend_area, &legend_entries(record, &lines), top, &err)?;
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

/// The white page and the bold title.
pub(super) fn draw_title(root: &Area, title: &str, file: &str) -> DrawResult {
    let err = plot_err(file);
    root.fill(&WHITE).map_err(&err)?;
    let font = (FONT, TITLE_SIZE)
        .into_font()
        .style(FontStyle::Bold)
        .color(&DARK);
    root.draw_text(title, &font, (12, 8)).map_err(&err)?;
    Ok(())
}

/// The chart with its axes, tick labels, axis titles and grid, `top`
/// pixels below the area's top (room for the title and what goes under it).
pub(super) fn frame<'a, 'b>(
    area: &'a Area<'b>,
    top: u32,
    x: &Axis,
    y: &Axis,
    file: &str,
) -> Result<Chart<'a, 'b>, ReportError> {
    let err = plot_err(file);
    let mut chart = ChartBuilder::on(area)
        .margin_top(top)
        .margin_left(8)
        .margin_right(16)
        .margin_bottom(6)
        .x_label_area_size(42)
        .y_label_area_size(Y_LABEL_AREA)
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
    Ok(chart)
}

/// Interval faults shaded, instant events as red lines, phase starts
/// dashed: drawn first, so the data lines go over them.
fn draw_faults_and_phases(
    chart: &mut Chart,
    record: &RunRecord,
    y: &Axis,
    file: &str,
) -> DrawResult {
    let err = plot_err(file);
    let (y_lo, y_hi) = (y.range.start, y.range.end);
    for e in &record.events {
        let at = e.at.as_secs_f64();
        match e.end {
            Some(end) => chart.draw_series(std::iter::once(Rectangle::new(
                [(at, y_lo), (end.as_secs_f64(), y_hi)],
                FAULT.mix(0.13).filled(),
            ))),
            None => chart.draw_series(std::iter::once(PathElement::new(
                vec![(at, y_lo), (at, y_hi)],
                FAULT.stroke_width(2),
            ))),
        }
        .map_err(&err)?;
    }
    for p in record.phases.iter().filter(|p| !p.start.is_zero()) {
        let at = p.start.as_secs_f64();
        chart
            .draw_series(DashedLineSeries::new(
                vec![(at, y_lo), (at, y_hi)],
                6,
                4,
                MARKER.stroke_width(1),
            ))
            .map_err(&err)?;
    }
    Ok(())
}

/// Each line as steps: flat over each window, a gap where it has no value.
fn draw_lines(
    chart: &mut Chart,
    record: &RunRecord,
    lines: &[Line],
    y: &Axis,
    file: &str,
) -> DrawResult {
    let err = plot_err(file);
    let edges = window_edges(record);
    for line in lines {
        let style = line.color.stroke_width(2);
        for segment in steps(&edges, &line.values, y) {
            if line.dashed {
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
    Ok(())
}

/// Each window's start and end, seconds.
fn window_edges(record: &RunRecord) -> Vec<(f64, f64)> {
    let len = record.meta.window.as_secs_f64();
    record
        .windows
        .iter()
        .map(|w| (w.start.as_secs_f64(), w.start.as_secs_f64() + len))
        .collect()
}

/// Consecutive runs of defined values as step points in plot coordinates:
/// (start, v), (end, v) per window, so the line is flat over each window
/// and changes at its edges.
pub(super) fn steps(
    edges: &[(f64, f64)],
    values: &[Option<f64>],
    y: &Axis,
) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for ((start, end), v) in edges.iter().zip(values) {
        match v.and_then(|v| y.pos(v)) {
            Some(p) => {
                current.push((*start, p));
                current.push((*end, p));
            }
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

/// A label row in the band above the plot, with where its last label ends,
/// so later labels go to a row where they do not overlap.
struct Band {
    /// Right edge (pixels) of the last label in each event row.
    row_ends: [i32; 2],
}

/// Labels in the band between the title and the plot: phase names on the
/// first row, events on the two rows below.
fn draw_band(area: &Area, chart: &Chart, record: &RunRecord, y: &Axis, file: &str) -> DrawResult {
    let err = plot_err(file);
    let band_top = TITLE_HEIGHT as i32 + 4;
    let limit = area.dim_in_pixel().0 as i32;
    let px = |t: f64| chart.backend_coord(&(t, y.range.end)).0;
    for p in &record.phases {
        let at = px(p.start.as_secs_f64());
        area.draw(&PathElement::new(
            vec![(at, band_top + 2), (at, band_top + 14)],
            MARKER.stroke_width(2),
        ))
        .map_err(&err)?;
        let width = text_width(&p.name, TEXT_SIZE) + 4;
        let (_, _, anchor) = label_place(at, width, limit);
        let font = (FONT, TEXT_SIZE)
            .into_font()
            .style(FontStyle::Italic)
            .color(&DARK)
            .pos(anchor.0);
        area.draw_text(&p.name, &font, (anchor.1, band_top))
            .map_err(&err)?;
    }
    let mut band = Band {
        row_ends: [i32::MIN; 2],
    };
    for e in &record.events {
        let at = px(e.at.as_secs_f64());
        draw_event_label(area, &mut band, at, &e.label, limit, file)?;
    }
    Ok(())
}

/// One event's label in the first free event row of the band.
fn draw_event_label(
    area: &Area,
    band: &mut Band,
    at: i32,
    label: &str,
    limit: i32,
    file: &str,
) -> DrawResult {
    let err = plot_err(file);
    let band_top = TITLE_HEIGHT as i32 + 4;
    let width = text_width(label, SMALL_SIZE) + 4;
    let (mut left, mut right, mut anchor) = label_place(at, width, limit);
    let row = match band.row_ends.iter().position(|end| left > *end + 6) {
        Some(row) => row,
        None => {
            // Both rows are taken here: move the label right of the row
            // that ends first, joined to its mark by a thin line.
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
    area.draw(&PathElement::new(
        vec![(at, y_px + 2), (at, y_px + 14)],
        FAULT.stroke_width(2),
    ))
    .map_err(&err)?;
    if left > at {
        area.draw(&PathElement::new(
            vec![(at, y_px + 14), (left + 2, y_px + 14)],
            FAULT.mix(0.6).stroke_width(1),
        ))
        .map_err(&err)?;
    }
    let font = (FONT, SMALL_SIZE).into_font().color(&FAULT).pos(anchor.0);
    area.draw_text(label, &font, (anchor.1, y_px))
        .map_err(&err)?;
    Ok(())
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

/// The legend: the data lines, then the markers the plot uses.
fn legend_entries(record: &RunRecord, lines: &[Line]) -> Vec<LegendEntry> {
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
    entries
}
