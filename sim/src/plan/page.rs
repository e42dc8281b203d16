//! A plan's files beside `plan.md`: one plot per SLO (`slo-<i>.svg`, the
//! figure against the searched parameter, with the SLO's line), the page
//! (`plan.html`), and the answer's scenario file (`answer.toml`).

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use ringlab_loadgen::report::format::html_escape;
use toml::{Table, Value};

use super::Plan;
use super::slo::Slo;
use ringlab_loadgen::report::summary::Metric as Figure;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];
const SLO_LINE: RGBColor = RGBColor(110, 110, 110);

/// Writes the plots, the page and the answer's scenario file into the
/// plan's directory.
pub fn write(plan: &Plan, markdown: &str) -> Result<()> {
    let out = &plan.setup.out;
    let mut files = Vec::new();
    for (i, slo) in plan.setup.slos.iter().enumerate() {
        let file = format!("slo-{}.svg", i + 1);
        let svg = plot(plan, i, slo).map_err(|e| anyhow!("drawing {file}: {e}"))?;
        std::fs::write(out.join(&file), svg).with_context(|| format!("writing {file}"))?;
        files.push(file);
    }
    if let Some(x) = plan.found.answer {
        let text = answer_file(plan, x)?;
        std::fs::write(out.join("answer.toml"), text).context("writing answer.toml")?;
    }
    std::fs::write(out.join("plan.json"), json(plan) + "\n").context("writing plan.json")?;
    std::fs::write(out.join("plan.html"), html(plan, markdown, &files)).context("writing plan.html")
}

/// `plan.json`: the answer and every point's figures per seed, for tools
/// and tests.
fn json(plan: &Plan) -> String {
    let s = &plan.setup;
    let points: Vec<serde_json::Value> = plan
        .sorted()
        .iter()
        .map(|p| {
            let variants: Vec<serde_json::Value> = p
                .variants
                .iter()
                .map(|v| {
                    let theory = super::report::node_queue(v).predict().map(|t| {
                        serde_json::json!({
                            "model": if t.exact { "M/M/c" } else { "M/G/c Allen-Cunneen" },
                            "busiest_ops_per_s": v.load.ops_per_s,
                            "cores": v.load.cores,
                            "utilization": t.utilization,
                            "wait_chance": t.wait_chance,
                            "mean_wait_us": t.mean_wait * 1e6,
                            "mean_at_node_us": t.mean_sojourn * 1e6,
                            "p99_at_node_us": t.p99_sojourn * 1e6,
                        })
                    });
                    serde_json::json!({
                        "label": v.label,
                        "pass": v.pass,
                        "busiest_node": v.load.busiest,
                        "busiest_utilization_estimate": v.load.utilization,
                        "seeds": v.runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
                        "figures": v.runs.iter().map(|r| r.figures.clone()).collect::<Vec<_>>(),
                        "theory": theory,
                    })
                })
                .collect();
            serde_json::json!({ "x": p.x, "pass": p.pass, "variants": variants })
        })
        .collect();
    let doc = serde_json::json!({
        "format": "ringlab-plan/1",
        "scenario": plan.scenario.name,
        "find": s.find.as_str(),
        "slos": s.slos.iter().map(|x| x.text.clone()).collect::<Vec<_>>(),
        "answer": plan.found.answer,
        "edge": plan.found.edge,
        "monotone": plan.found.violations.is_empty(),
        "points": points,
        "usl": super::report::usl_fit(plan).map(|(f, _)| serde_json::json!({
            "lambda": f.lambda,
            "sigma": f.sigma,
            "kappa": f.kappa,
            "peak": f.peak(),
        })),
    });
    serde_json::to_string_pretty(&doc).expect("JSON of plain values")
}

/// (x, median, min, max) of SLO `i` for variant `vi`, by x.
fn series(plan: &Plan, i: usize, vi: usize) -> Vec<(f64, f64, f64, f64)> {
    plan.sorted()
        .iter()
        .filter_map(|p| {
            let v = p.variants.get(vi)?;
            let mut vals: Vec<f64> = v.runs.iter().filter_map(|r| r.figures[i]).collect();
            vals.sort_by(f64::total_cmp);
            let med = *vals.get(vals.len() / 2)?;
            Some((p.x as f64, med, vals[0], vals[vals.len() - 1]))
        })
        .collect()
}

/// Plotted value: log10 of milliseconds for latencies (they span orders of
/// magnitude near a knee); for availability log10 of the percent that
/// failed (99.99% and 100% are one pixel apart on a linear axis, 0.01% and
/// 0.001% are not); percent for the hit ratio.
fn scale(slo: &Slo, v: f64) -> f64 {
    if slo.figure.is_latency() {
        (v / 1000.0).max(1e-3).log10()
    } else if slo.figure == Figure::Availability {
        ((1.0 - v) * 100.0).max(1e-4).log10()
    } else {
        v * 100.0
    }
}

/// Whether the axis is log10 (see [`scale`]).
fn log_axis(slo: &Slo) -> bool {
    slo.figure.is_latency() || slo.figure == Figure::Availability
}

/// The y axis's title.
fn y_title(slo: &Slo) -> String {
    let name = slo.text.split(['<', '>']).next().unwrap_or("").trim();
    if slo.figure.is_latency() {
        format!("{name} (ms, log scale)")
    } else if slo.figure == Figure::Availability {
        "requests that failed (%, log scale; 0.0001 = none)".into()
    } else {
        format!("{name} (%)")
    }
}

/// A y tick's label: the value itself (ms or %).
fn y_label(log: bool, y: f64) -> String {
    let v = if log { 10f64.powf(y) } else { y };
    let digits = if v >= 100.0 {
        0
    } else if v >= 1.0 {
        2
    } else {
        4
    };
    ringlab_loadgen::report::format::trim_float(v, digits)
}

fn plot(plan: &Plan, i: usize, slo: &Slo) -> Result<String, Box<dyn std::error::Error>> {
    let variants = plan.points.first().map_or(0, |p| p.variants.len());
    let all: Vec<Vec<(f64, f64, f64, f64)>> = (0..variants).map(|v| series(plan, i, v)).collect();
    let xs = all.iter().flatten().map(|s| s.0);
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 > x1 { (0.0, 1.0) } else { (x0, x1) };
    let pad = ((x1 - x0) * 0.05).max(0.5);
    let bound = scale(slo, slo.bound);
    let ys = all
        .iter()
        .flatten()
        .flat_map(|s| [scale(slo, s.2), scale(slo, s.3)]);
    let (y0, y1) = ys.fold((bound, bound), |(a, b), y| (a.min(y), b.max(y)));
    let ypad = ((y1 - y0) * 0.08).max(1e-3);
    let log = log_axis(slo);
    let integer_x = plan.setup.find != super::Find::Rate;
    let x_ticks = if integer_x {
        ((x1 - x0) as usize + 1).min(16)
    } else {
        10
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} against {} (median over seeds, bars: min to max)",
                    slo.text,
                    plan.setup.find.as_str()
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0 - pad..x1 + pad, y0 - ypad..y1 + ypad)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(x_ticks)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| y_label(log, *y))
            .x_desc(plan.setup.find.as_str())
            .y_desc(y_title(slo))
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                [(x0 - pad, bound), (x1 + pad, bound)],
                SLO_LINE.stroke_width(2),
            ))?
            .label(format!("SLO {}", slo.text))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], SLO_LINE.stroke_width(2)));
        for (vi, s) in all.iter().enumerate() {
            let c = COLORS[vi % COLORS.len()];
            let label = plan.points[0].variants[vi].label.clone();
            let label = if vi == 0 {
                label
            } else {
                "under the fault".to_string() + &format!(" ({label}, ...)")
            };
            chart
                .draw_series(LineSeries::new(
                    s.iter().map(|p| (p.0, scale(slo, p.1))),
                    c.stroke_width(2),
                ))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
            chart.draw_series(
                s.iter()
                    .map(|p| Circle::new((p.0, scale(slo, p.1)), 4, c.filled())),
            )?;
            chart.draw_series(s.iter().map(|p| {
                PathElement::new(
                    [(p.0, scale(slo, p.2)), (p.0, scale(slo, p.3))],
                    c.stroke_width(1),
                )
            }))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// The page: the plan's text as preformatted markdown, with the plots.
fn html(plan: &Plan, markdown: &str, plots: &[String]) -> String {
    let mut h = String::new();
    let name = html_escape(&plan.scenario.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ringlab plan: {name}</title>\n<style>body {{ font-family: sans-serif; \
         max-width: 1100px; margin: 24px auto; }} pre {{ white-space: pre-wrap; \
         background: #f6f6f6; padding: 12px; }} img {{ max-width: 100%; }}</style>\n\
         </head>\n<body>\n<h1>plan: {name}</h1>\n"
    );
    for p in plots {
        let _ = writeln!(h, "<p><img src=\"{p}\" alt=\"{p}\"></p>");
    }
    if plan.found.answer.is_some() {
        h.push_str("<p>The answer's scenario: <a href=\"answer.toml\">answer.toml</a>.</p>\n");
    }
    let _ = writeln!(h, "<pre>{}</pre>\n</body>\n</html>", html_escape(markdown));
    h
}

/// The scenario file at the answer: the file with the user's `--set`s and
/// the answer applied (comments are lost in the rewrite; the command that
/// produced it heads the file).
pub fn answer_file(plan: &Plan, x: u64) -> Result<String> {
    let s = &plan.setup;
    let mut doc: Table = s
        .text
        .parse()
        .with_context(|| format!("re-reading {}", s.path.display()))?;
    for set in s.sets_at(x) {
        let text = set.to_string();
        let (key, value) = text.split_once('=').expect("an override has =");
        apply(&mut doc, key, value).with_context(|| format!("applying --set {text}"))?;
    }
    let body = toml::to_string(&doc).context("writing the answer's TOML")?;
    let sets: Vec<String> = s.sets_at(x).iter().map(|o| format!("--set {o}")).collect();
    Ok(format!(
        "# The answer of `ringlab-sim plan {} --find {}`: {}.\n\
         # The same as: ringlab-sim run {} {}\n\n{body}",
        s.path.display(),
        s.find.as_str(),
        s.find.show(x),
        s.path.display(),
        sets.join(" ")
    ))
}

/// Sets `key` (a dotted path; an array of tables entered by an element's
/// `name` or 1-based position) to `value` (TOML, or else a string).
fn apply(doc: &mut Table, key: &str, value: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().expect("a key has a part");
    let mut t = doc;
    let mut i = 0;
    while i < path.len() {
        let entry = t
            .entry(path[i].to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(inner) => inner,
            Value::Array(items) => {
                i += 1;
                let sel = path
                    .get(i)
                    .ok_or_else(|| anyhow!("{key}: an array needs an element"))?;
                let found = match sel.parse::<usize>() {
                    Ok(n) => items.get_mut(n.wrapping_sub(1)),
                    Err(_) => items
                        .iter_mut()
                        .find(|v| v.get("name").and_then(Value::as_str) == Some(*sel)),
                };
                found
                    .and_then(Value::as_table_mut)
                    .ok_or_else(|| anyhow!("{key}: no element {sel:?}"))?
            }
            _ => return Err(anyhow!("{key}: {} is not a table", path[i])),
        };
        i += 1;
    }
    let v = format!("v = {value}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_string()));
    t.insert(last.to_string(), v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_apply_to_tables_and_named_array_elements() {
        let mut doc: Table =
            "[cluster]\nnodes = 3\n[[phase]]\nname = \"a\"\nrate = 1\n[[phase]]\nname = \"b\"\n"
                .parse()
                .unwrap();
        apply(&mut doc, "cluster.nodes", "8").unwrap();
        apply(&mut doc, "phase.b.rate", "200").unwrap();
        apply(&mut doc, "phase.1.timeout", "50ms").unwrap();
        apply(&mut doc, "capacity.op_cost", "{ mean = \"100us\" }").unwrap();
        assert_eq!(doc["cluster"]["nodes"].as_integer(), Some(8));
        assert_eq!(doc["phase"][1]["rate"].as_integer(), Some(200));
        assert_eq!(doc["phase"][0]["timeout"].as_str(), Some("50ms"));
        assert_eq!(doc["capacity"]["op_cost"]["mean"].as_str(), Some("100us"));
        assert!(apply(&mut doc, "phase.c.rate", "1").is_err());
    }
}
