//! `report.md`: the report page as Markdown, for code hosts. A code host
//! shows `report.html` as source, but renders Markdown and the SVG files it
//! links as images; this page has the verdicts, the phases, and every plot,
//! linked by relative path so it works in any clone or fork.

use std::fmt::Write as _;

use super::format::{grouped, latency_opt, percent_opt, rate, ratio_opt, seconds};
use super::html::Page;

/// File name of the page in a report directory.
pub const FILE: &str = "report.md";

/// The page.
pub fn render(page: &Page) -> String {
    let s = page.summary;
    let mut m = format!("# {}\n\n", s.scenario);
    let seed = s.seed.map_or_else(String::new, |x| format!(" · seed {x}"));
    let _ = writeln!(
        m,
        "{} run{seed} · {} long · windows of {}\n",
        s.source,
        seconds(s.duration_us as f64 / 1e6),
        seconds(s.window_us as f64 / 1e6)
    );
    for line in s.description.trim().lines() {
        let _ = writeln!(m, "> {}", line.trim_end());
    }
    if !s.description.trim().is_empty() {
        m.push('\n');
    }
    if !page.verdicts.is_empty() {
        let failed = page.verdicts.iter().filter(|v| !v.pass).count();
        if failed == 0 {
            let _ = writeln!(m, "## All {} expectations hold\n", page.verdicts.len());
        } else {
            let _ = writeln!(
                m,
                "## {failed} of {} expectations failed\n",
                page.verdicts.len()
            );
        }
        m.push_str("| verdict | expectation | measured |\n|---|---|---:|\n");
        for v in page.verdicts {
            let _ = writeln!(
                m,
                "| {} | `{}` | {} |",
                if v.pass { "pass" } else { "**FAIL**" },
                v.expectation.replace('|', "\\|"),
                v.measured
            );
        }
        m.push('\n');
    }
    for w in page.warnings {
        let _ = writeln!(m, "> **warning:** {w}\n");
    }
    m.push_str("## Phases\n\n");
    m.push_str(
        "| phase | span | requests | throughput | availability | hit ratio | p50 | p99 | p99.9 | max |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for span in s.phases.iter().chain(std::iter::once(&s.overall)) {
        let st = &span.all;
        let l = &st.latency_us;
        let _ = writeln!(
            m,
            "| {} | {} – {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            span.name,
            seconds(span.start_us as f64 / 1e6),
            seconds(span.end_us as f64 / 1e6),
            grouped(st.requests),
            rate(st.throughput_per_s),
            percent_opt(st.availability),
            ratio_opt(st.hit_ratio),
            latency_opt(l.p50),
            latency_opt(l.p99),
            latency_opt(l.p999),
            latency_opt(l.max),
        );
    }
    m.push_str("\nPer op kind, errors and timeouts: [summary.md](summary.md).\n\n");
    if !s.events.is_empty() {
        m.push_str("## Events\n\n| at | until | what |\n|---:|---:|---|\n");
        for e in &s.events {
            let until = e
                .end_us
                .map_or_else(|| "–".to_string(), |u| seconds(u as f64 / 1e6));
            let _ = writeln!(
                m,
                "| {} | {until} | {} |",
                seconds(e.at_us as f64 / 1e6),
                e.label
            );
        }
        m.push('\n');
    }
    for p in page.plots {
        let _ = writeln!(
            m,
            "## {}\n\n![{}]({})\n\n{}\n",
            p.title, p.title, p.file, p.caption
        );
    }
    m.push_str(
        "Files: [report.html](report.html) (the same page, self-contained), \
         [summary.json](summary.json), [timeline.csv](timeline.csv), \
         [latency.hlog](latency.hlog).\n",
    );
    m
}
