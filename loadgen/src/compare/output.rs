//! The forms a comparison is written in: an aligned text table (stdout), a
//! Markdown table (a PR comment), JUnit XML (CI test panels) and JSON
//! (scripts). Both modes, single-run tolerances and seeds, fill one
//! [`Table`] and one list of [`Case`]s.

use std::fmt::Write as _;

/// Rows of cells under a header; `numeric` columns are right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Aligned plain text, without trailing spaces.
    pub fn to_text(&self) -> String {
        if self.rows.is_empty() {
            return String::new();
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = " ".repeat(w - c.chars().count());
                if self.numeric.get(i).copied().unwrap_or(false) {
                    let _ = write!(s, "{pad}{c}  ");
                } else {
                    let _ = write!(s, "{c}{pad}  ");
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(&self.header);
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        if self.rows.is_empty() {
            return String::new();
        }
        let esc = |c: &String| c.replace('|', "\\|");
        let mut out = format!(
            "| {} |\n|{}\n",
            self.header.iter().map(esc).collect::<Vec<_>>().join(" | "),
            self.header
                .iter()
                .enumerate()
                .map(|(i, _)| if self.numeric.get(i).copied().unwrap_or(false) {
                    "---:|"
                } else {
                    "---|"
                })
                .collect::<String>()
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} |",
                r.iter().map(esc).collect::<Vec<_>>().join(" | ")
            );
        }
        out
    }
}

/// One judged figure, as a JUnit test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `compare.<span>.<op>`.
    pub class: String,
    /// The figure.
    pub name: String,
    pub status: CaseStatus,
}

/// A case's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseStatus {
    Pass,
    Failure(String),
    Skipped(String),
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML document with one `<testsuite>`: a failure per regression, a
/// skip per figure that could not be judged. `error` (the comparison as a
/// whole could not be judged) becomes one `<error>` case.
pub fn junit(suite: &str, cases: &[Case], error: Option<&str>) -> String {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.status, CaseStatus::Failure(_)))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.status, CaseStatus::Skipped(_)))
        .count();
    let errors = usize::from(error.is_some());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        xml_escape(suite),
        cases.len() + errors
    );
    if let Some(why) = error {
        let _ = writeln!(
            out,
            "    <testcase classname=\"compare\" name=\"judge\">\n      <error message=\"{}\"/>\n    </testcase>",
            xml_escape(why)
        );
    }
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&c.class),
            xml_escape(&c.name)
        );
        match &c.status {
            CaseStatus::Pass => {
                let _ = writeln!(out, "{head}/>");
            }
            CaseStatus::Failure(why) => {
                let _ = writeln!(
                    out,
                    "{head}>\n      <failure message=\"{}\"/>\n    </testcase>",
                    xml_escape(why)
                );
            }
            CaseStatus::Skipped(why) => {
                let _ = writeln!(
                    out,
                    "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml_escape(why)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
