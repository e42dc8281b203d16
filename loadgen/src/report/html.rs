//! `report.html`: one self-contained page per run: the scenario's name and
//! description, headline figures, the events, the plots (SVG inlined) and the
//! summary tables. No script, no external resource: it opens from a file, in
//! a CI artifact viewer or offline, and renders the same everywhere.

use std::fmt::Write as _;

use super::ExpectLine;
use super::format::{
    grouped, html_escape, latency_opt, latency_us, percent_opt, rate, ratio_opt, seconds,
};
use super::plots::Plot;
use super::summary::{OVERALL, PhaseSummary, Stats, Summary};
use crate::recorder::RunRecord;

/// File name of the page in a report directory.
pub const FILE: &str = "report.html";

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d1f23;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
header .meta { margin: 0; color: #5b6270; }
.description { background: #fff; border-left: 4px solid #1f77b4; padding: 10px 16px; margin: 16px 0;
  border-radius: 4px; }
.description p { margin: 6px 0; }
h2 { font-size: 20px; margin: 32px 0 10px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }
.card { flex: 1 1 0; background: #fff; border-radius: 6px; padding: 8px 12px; min-width: 110px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.card .label { color: #5b6270; font-size: 13px; }
.card .value { font-size: 20px; font-weight: 600; white-space: nowrap; }
figure { background: #fff; margin: 0 0 18px; padding: 8px 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: #5b6270; font-size: 13px; padding: 2px 10px 0; }
table { border-collapse: collapse; background: #fff; font-size: 13.5px; margin: 4px 0 12px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { padding: 5px 7px; border-bottom: 1px solid #e4e6ea; white-space: nowrap; }
/* Headers wrap ("held back", "stale reads"), so wide tables fit the page. */
th { background: #eef0f3; text-align: left; font-weight: 600; white-space: normal;
  vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.all td { font-weight: 600; }
table.detail { font-size: 12.5px; }
table.detail th, table.detail td { padding: 4px 6px; }
td .kinds, td .span { font-size: 11.5px; color: #5b6270; font-weight: 400; }
td .kinds div { white-space: normal; }
.scroll { overflow-x: auto; }
.muted { color: #5b6270; }
nav { margin: 12px 0; font-size: 14px; }
nav a { margin-right: 14px; color: #1f77b4; text-decoration: none; }
footer { margin-top: 32px; color: #5b6270; font-size: 13px; }
.verdicts { background: #fff; border-radius: 6px; padding: 4px 16px 8px; margin: 16px 0;
  border-left: 6px solid #2ca02c; }
.verdicts.fail { border-left-color: #d62728; }
.verdicts h2 { margin: 8px 0; }
.verdicts table { box-shadow: none; }
.verdicts th, .verdicts td { white-space: normal; }
tr.pass td:first-child { color: #2ca02c; font-weight: 600; }
tr.fail td:first-child { color: #d62728; font-weight: 700; }
.warnings { background: #fff8e1; border-left: 4px solid #ff7f0e; padding: 4px 12px;
  border-radius: 4px; margin: 12px 0; font-size: 14px; }
"#;

/// What a report page shows: the record, its summary, its rendered plots,
/// the expectation verdicts and the warnings about its windows.
pub struct Page<'a> {
    pub record: &'a RunRecord,
    pub summary: &'a Summary,
    pub plots: &'a [Plot],
    pub verdicts: &'a [ExpectLine],
    pub warnings: &'a [String],
}

/// The page.
pub fn render(page: &Page) -> String {
    let (record, summary, plots) = (page.record, page.summary, page.plots);
    let mut h = String::new();
    let name = html_escape(&summary.scenario);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>ringlab report: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    );
    let seed = summary
        .seed
        .map_or_else(String::new, |s| format!(" · seed {s}"));
    let _ = write!(
        h,
        "<header>\n<h1>{name}</h1>\n<p class=\"meta\">{} run{seed} · {} long · windows of {}</p>\n</header>\n",
        html_escape(&summary.source),
        seconds(summary.duration_us as f64 / 1e6),
        seconds(summary.window_us as f64 / 1e6),
    );
    let description = description_html(&summary.description);
    if !description.is_empty() {
        h.push_str("<section class=\"description\">\n");
        h.push_str(&description);
        h.push_str("</section>\n");
    }

    verdicts(&mut h, page.verdicts);
    warnings(&mut h, page.warnings);

    h.push_str("<nav>");
    h.push_str("<a href=\"#phases\">Phases</a>");
    if !record.events.is_empty() {
        h.push_str("<a href=\"#events\">Events</a>");
    }
    for p in plots {
        let _ = write!(
            h,
            "<a href=\"#{}\">{}</a>",
            anchor(&p.file),
            html_escape(short_title(&p.title))
        );
    }
    h.push_str("<a href=\"#details\">Details per op</a></nav>\n");

    cards(&mut h, &summary.overall);
    phase_table(&mut h, summary);
    events(&mut h, summary);

    for p in plots {
        let _ = write!(
            h,
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            anchor(&p.file),
            strip_xml_declaration(&p.svg).trim_end(),
            html_escape(&p.caption)
        );
    }

    h.push_str("<h2 id=\"details\">Details per op kind</h2>\n");
    for span in summary.spans() {
        detail_table(&mut h, span);
    }
    h.push_str(
        "<footer>\n<p>Availability = ok / scheduled requests (cache misses are ok). \
         Hit ratio = (ok GETs − misses) / ok GETs. Stale reads are ok GETs that returned a \
         value older than a write acknowledged before they were sent. Latency is that of ok requests, measured \
         from each request's intended start, so client-side queueing shows. Figures over \
         several windows come from added histograms, never averaged percentiles. \
         The same figures are in summary.json, summary.md, timeline.csv and latency.hlog \
         next to this page.</p>\n</footer>\n",
    );
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The expectations and their verdicts, first thing under the title.
fn verdicts(h: &mut String, verdicts: &[ExpectLine]) {
    if verdicts.is_empty() {
        return;
    }
    let failed = verdicts.iter().filter(|v| !v.pass).count();
    let (class, headline) = if failed == 0 {
        ("pass", format!("All {} expectations hold", verdicts.len()))
    } else {
        (
            "fail",
            format!("{failed} of {} expectations failed", verdicts.len()),
        )
    };
    let _ = write!(
        h,
        "<section id=\"verdicts\" class=\"verdicts {class}\">\n<h2>{headline}</h2>\n\
         <table>\n<tr><th>verdict</th><th>expectation</th><th class=\"num\">measured</th></tr>\n"
    );
    for v in verdicts {
        let (c, word) = if v.pass {
            ("pass", "pass")
        } else {
            ("fail", "FAIL")
        };
        let _ = writeln!(
            h,
            "<tr class=\"{c}\"><td>{word}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            html_escape(&v.expectation),
            html_escape(&v.measured)
        );
    }
    h.push_str("</table>\n</section>\n");
}

/// Warnings about the record (phases not aligned with the windows).
fn warnings(h: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    h.push_str("<section class=\"warnings\">\n<ul>\n");
    for w in warnings {
        let _ = writeln!(h, "<li>warning: {}</li>", html_escape(w));
    }
    h.push_str("</ul>\n</section>\n");
}

/// Headline figures of the whole run.
fn cards(h: &mut String, overall: &PhaseSummary) {
    let s = &overall.all;
    let cards = [
        ("requests", grouped(s.requests)),
        ("throughput (ok)", rate(s.throughput_per_s)),
        ("availability", percent_opt(s.availability)),
        ("hit ratio", ratio_opt(s.hit_ratio)),
        ("p50", latency_opt(s.latency_us.p50)),
        ("p99", latency_opt(s.latency_us.p99)),
        ("p99.9", latency_opt(s.latency_us.p999)),
        ("max", latency_opt(s.latency_us.max)),
    ];
    h.push_str("<div class=\"cards\">\n");
    for (label, value) in cards {
        let _ = writeln!(
            h,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{}</div></div>",
            html_escape(&value)
        );
    }
    h.push_str("</div>\n");
}

/// One row per phase (all op kinds together) and the whole run.
fn phase_table(h: &mut String, summary: &Summary) {
    h.push_str("<h2 id=\"phases\">Phases</h2>\n<div class=\"scroll\"><table>\n<tr><th>phase</th>");
    for c in [
        "requests",
        "throughput",
        "availability",
        "hit ratio",
        "stale reads",
        "p50",
        "p99",
        "p99.9",
        "max",
        "errors",
        "timeouts",
        "held back",
    ] {
        let _ = write!(h, "<th class=\"num\">{c}</th>");
    }
    h.push_str("</tr>\n");
    for span in summary
        .phases
        .iter()
        .chain(std::iter::once(&summary.overall))
    {
        let s = &span.all;
        let class = if span.name == OVERALL {
            " class=\"all\""
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr{class}><td>{}<div class=\"span\">{} – {}</div></td>{}</tr>",
            html_escape(&span.name),
            seconds(span.start_us as f64 / 1e6),
            seconds(span.end_us as f64 / 1e6),
            [
                grouped(s.requests),
                rate(s.throughput_per_s),
                percent_opt(s.availability),
                ratio_opt(s.hit_ratio),
                grouped(s.stale_reads),
                latency_opt(s.latency_us.p50),
                latency_opt(s.latency_us.p99),
                latency_opt(s.latency_us.p999),
                latency_opt(s.latency_us.max),
                ERRORS_CELL.to_string(),
                grouped(s.timeouts),
                grouped(s.held_back),
            ]
            .iter()
            .map(|v| num_cell(v, s))
            .collect::<String>()
        );
    }
    h.push_str("</table></div>\n");
}

fn events(h: &mut String, summary: &Summary) {
    if summary.events.is_empty() {
        return;
    }
    h.push_str("<h2 id=\"events\">Events</h2>\n<table>\n<tr><th class=\"num\">at</th><th class=\"num\">until</th><th>kind</th><th>what</th></tr>\n");
    for e in &summary.events {
        let until = e
            .end_us
            .map_or_else(|| "–".to_string(), |u| seconds(u as f64 / 1e6));
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            seconds(e.at_us as f64 / 1e6),
            until,
            html_escape(&e.kind),
            html_escape(&e.label)
        );
    }
    h.push_str("</table>\n");
}

/// A span's table with one row per op kind.
fn detail_table(h: &mut String, span: &PhaseSummary) {
    let title = if span.name == OVERALL {
        "Whole run".to_string()
    } else {
        format!("Phase {}", html_escape(&span.name))
    };
    let _ = write!(
        h,
        "<h3>{title} <span class=\"muted\">({} – {})</span></h3>\n<div class=\"scroll\"><table class=\"detail\">\n<tr><th>op</th>",
        seconds(span.start_us as f64 / 1e6),
        seconds(span.end_us as f64 / 1e6)
    );
    for c in [
        "requests",
        "throughput",
        "availability",
        "hit ratio",
        "stale reads",
        "mean",
        "p50",
        "p95",
        "p99",
        "p99.9",
        "max",
        "errors",
        "timeouts",
        "held back",
    ] {
        let _ = write!(h, "<th class=\"num\">{c}</th>");
    }
    h.push_str("</tr>\n");
    for (op, s) in span.rows() {
        let class = if op == super::summary::ALL_OPS {
            " class=\"all\""
        } else {
            ""
        };
        let cells = [
            grouped(s.requests),
            rate(s.throughput_per_s),
            percent_opt(s.availability),
            ratio_opt(s.hit_ratio),
            grouped(s.stale_reads),
            s.latency_us
                .mean
                .map_or_else(|| "–".to_string(), latency_us),
            latency_opt(s.latency_us.p50),
            latency_opt(s.latency_us.p95),
            latency_opt(s.latency_us.p99),
            latency_opt(s.latency_us.p999),
            latency_opt(s.latency_us.max),
            ERRORS_CELL.to_string(),
            grouped(s.timeouts),
            grouped(s.held_back),
        ];
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td>{}</tr>",
            html_escape(op),
            cells.iter().map(|v| num_cell(v, s)).collect::<String>()
        );
    }
    h.push_str("</table></div>\n");
}

/// Placeholder in a row's cells for the errors cell, which holds markup.
const ERRORS_CELL: &str = "\u{0}errors";

/// A right-aligned cell: `v` escaped, or the errors of `s` (total, then the
/// kinds on a smaller line) for [`ERRORS_CELL`].
fn num_cell(v: &str, s: &Stats) -> String {
    if v != ERRORS_CELL {
        return format!("<td class=\"num\">{}</td>", html_escape(v));
    }
    let kinds: Vec<String> = s
        .errors_by_kind
        .iter()
        .map(|(k, n)| format!("<div>{} {}</div>", html_escape(k), grouped(*n)))
        .collect();
    if kinds.is_empty() {
        format!("<td class=\"num\">{}</td>", grouped(s.errors))
    } else {
        format!(
            "<td class=\"num\">{}<div class=\"kinds\">{}</div></td>",
            grouped(s.errors),
            kinds.concat()
        )
    }
}

/// An element id from a plot's file name: "latency.svg" -> "plot-latency".
fn anchor(file: &str) -> String {
    let stem = file.strip_suffix(".svg").unwrap_or(file);
    let safe: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("plot-{safe}")
}

/// The first words of a title, for the navigation bar.
fn short_title(title: &str) -> &str {
    title.split([':', '(']).next().unwrap_or(title).trim()
}

/// An inline `<svg>` must not carry an XML declaration.
fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(svg, |(_, body)| body.trim_start()),
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_titles() {
        assert_eq!(anchor("latency.svg"), "plot-latency");
        assert_eq!(anchor("series-db.q.svg"), "plot-series-db-q");
        assert_eq!(
            short_title("Throughput: scheduled vs achieved"),
            "Throughput"
        );
        assert_eq!(short_title("Latency over time (log)"), "Latency over time");
        assert_eq!(
            strip_xml_declaration("<?xml version=\"1.0\"?>\n<svg/>"),
            "<svg/>"
        );
        assert_eq!(strip_xml_declaration("<svg/>"), "<svg/>");
    }
}

/// The scenario's description as HTML: blank lines separate paragraphs,
/// and lines starting with "- " are list items (lesson texts use both);
/// a list item's continuation lines join it.
fn description_html(text: &str) -> String {
    let mut out = String::new();
    for block in text.split("\n\n") {
        let mut para: Vec<&str> = Vec::new();
        let mut items: Vec<Vec<&str>> = Vec::new();
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(item) = line.strip_prefix("- ") {
                items.push(vec![item]);
            } else if let Some(last) = items.last_mut() {
                last.push(line);
            } else {
                para.push(line);
            }
        }
        if !para.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", html_escape(&para.join(" ")));
        }
        if !items.is_empty() {
            out.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", html_escape(&item.join(" ")));
            }
            out.push_str("</ul>\n");
        }
    }
    out
}

#[cfg(test)]
mod description_tests {
    use super::description_html;

    #[test]
    fn paragraphs_and_lists() {
        let html = description_html(
            "A first\nparagraph.\n\nWhat to look at:\n- one\n  continued\n- two &\n\nEnd.",
        );
        assert_eq!(
            html,
            "<p>A first paragraph.</p>\n<p>What to look at:</p>\n<ul>\n<li>one continued</li>\n\
             <li>two &amp;</li>\n</ul>\n<p>End.</p>\n"
        );
        assert_eq!(description_html("  \n\n "), "");
    }
}
