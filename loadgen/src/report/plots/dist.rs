//! `distribution.svg`: each phase's percentile spectrum on HdrHistogram's
//! log "1/(1-q)" axis.

use plotters::prelude::*;

use super::axis::{Axis, percentile_tick, plot_err};
use super::time::{draw_title, frame};
use super::{
    DIST_HEIGHT, LEGEND_WIDTH, LegendEntry, PALETTE, Plot, TITLE_HEIGHT, WIDTH, draw_legend,
};
use crate::recorder::RunRecord;
use crate::report::ReportError;
use crate::report::aggregate::{RunTotals, Totals};
use crate::report::format::latency_tick;
use crate::report::summary::Summary;

/// Points per decade of the percentile spectrum.
const SPECTRUM_STEPS: u32 = 24;
/// The spectrum stops at 99.9999%.
const SPECTRUM_DECADES: f64 = 6.0;

pub(super) fn distribution_plot(
    record: &RunRecord,
    summary: &Summary,
    totals: &RunTotals,
) -> Result<Plot, ReportError> {
    let file = "distribution.svg";
    let err = plot_err(file);
    // One spectrum per phase; a record without phases shows the whole run.
    let spans: Vec<(String, &Totals)> = if record.phases.is_empty() {
        vec![(
            crate::report::summary::OVERALL.to_string(),
            &totals.overall.all,
        )]
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
        draw_title(&root, title, file)?;
        let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        let mut chart = frame(&plot_area, TITLE_HEIGHT + 12, &x, &y, file)?;
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
