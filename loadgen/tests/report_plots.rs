//! Every plot is produced, is well-formed SVG (it parses as XML with an
//! `<svg>` root), draws the expected number of data series, and carries the
//! phase names and fault labels.

use ringlab_loadgen::recorder::RunRecord;
use ringlab_loadgen::report::plots::{self, Plot};
use ringlab_loadgen::report::{Summary, sample};

fn render(record: &RunRecord) -> Vec<Plot> {
    let summary = Summary::from_record(record).unwrap();
    plots::render_all(record, &summary).unwrap()
}

/// Colours of phase markers and faults: drawn as lines, but not data.
const MARKER: &str = "#969696";
const FAULT: &str = "#DC322F";

/// Data lines are the 2-px-wide polylines; legend samples are 3 px wide,
/// axes 1 px. Returns (distinct data colours, solid pieces per colour).
fn data_lines(doc: &roxmltree::Document) -> (usize, std::collections::BTreeMap<String, usize>) {
    let mut pieces = std::collections::BTreeMap::new();
    for n in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
        let stroke = n.attribute("stroke").unwrap_or_default();
        if n.attribute("stroke-width") != Some("2") || stroke == MARKER || stroke == FAULT {
            continue;
        }
        *pieces.entry(stroke.to_string()).or_default() += 1;
    }
    (pieces.len(), pieces)
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

#[test]
fn every_plot_is_valid_svg_with_its_series() {
    let record = sample::record(7);
    let plots = render(&record);
    let files: Vec<&str> = plots.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "latency.svg",
            "throughput.svg",
            "availability.svg",
            "distribution.svg",
            "series-db.queries_per_s.svg",
        ]
    );
    // Data series per plot: 4 percentiles; ok, failed and the schedule;
    // availability; one spectrum per phase; the series.
    let expected_series = [4, 3, 1, 3, 1];
    for (plot, series) in plots.iter().zip(expected_series) {
        assert!(!plot.svg.is_empty(), "{} is empty", plot.file);
        let doc = roxmltree::Document::parse(&plot.svg)
            .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", plot.file));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{}", plot.file);
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert!(root.attribute("viewBox").is_some(), "{}", plot.file);
        assert_eq!(data_lines(&doc).0, series, "{}: data lines", plot.file);
        assert_eq!(plot.series, series, "{}: series", plot.file);
        let texts = texts(&doc);
        assert!(
            texts.iter().any(|t| t == &plot.title),
            "{} lacks its title",
            plot.file
        );
        if plot.file != "distribution.svg" {
            for label in [
                "warmup",
                "steady",
                "spike",
                "kill node-3",
                "partition node-1 | rest",
            ] {
                assert!(
                    texts.iter().any(|t| t == label),
                    "{} lacks the label {label:?}",
                    plot.file
                );
            }
            // Two interval faults: two shaded rectangles plus the legend's.
            let shades = doc
                .descendants()
                .filter(|n| n.has_tag_name("rect"))
                .filter(|n| n.attribute("fill") == Some("#DC322F"))
                .count();
            assert_eq!(shades, 3, "{}: fault shading", plot.file);
        } else {
            for phase in ["warmup", "steady", "spike"] {
                assert!(
                    texts.iter().any(|t| t.starts_with(phase)),
                    "distribution legend lacks {phase}"
                );
            }
        }
    }
}

#[test]
fn gaps_split_a_line_instead_of_bridging_it() {
    let mut record = sample::record(7);
    // No ok request in window 20: the latency lines break there.
    for op in record.windows[20].ops.values_mut() {
        op.counts.timeouts += op.counts.ok;
        op.counts.ok = 0;
        op.counts.misses = 0;
        op.hist.reset();
    }
    let plots = render(&record);
    let latency = roxmltree::Document::parse(&plots[0].svg).unwrap();
    let (colours, pieces) = data_lines(&latency);
    assert_eq!(colours, 4);
    assert!(
        pieces.values().all(|n| *n == 2),
        "every percentile line is in 2 pieces: {pieces:?}"
    );
}

#[test]
fn plots_are_deterministic() {
    assert_eq!(render(&sample::record(5)), render(&sample::record(5)));
}

#[test]
fn series_with_clashing_names_get_distinct_files() {
    let mut record = sample::record(7);
    let values = vec![1.0; record.windows.len()];
    record.series.insert("a b".into(), values.clone());
    record.series.insert("a-b".into(), values);
    let plots = render(&record);
    let files: Vec<&str> = plots.iter().map(|p| p.file.as_str()).collect();
    assert!(files.contains(&"series-a-b.svg"));
    assert!(files.contains(&"series-a-b-2.svg"));
}

/// The sample's 40 windows repeated to `n` windows of `secs` seconds, one
/// phase.
fn long_record(n: u32, secs: u64) -> RunRecord {
    let base = sample::record(7);
    let mut r = base.clone();
    r.series.clear();
    r.windows = (0..n)
        .map(|i| {
            let mut w = base.windows[(i % 40) as usize].clone();
            w.start = std::time::Duration::from_secs(u64::from(i) * secs);
            w
        })
        .collect();
    r.phases = vec![ringlab_loadgen::recorder::PhaseSpan {
        name: "long".into(),
        start: std::time::Duration::ZERO,
        end: std::time::Duration::from_secs(u64::from(n) * secs),
    }];
    r.meta.window = std::time::Duration::from_secs(secs);
    r
}

#[test]
fn long_runs_get_clock_time_labels() {
    let plots = render(&long_record(300, 1));
    let doc = roxmltree::Document::parse(&plots[0].svg).unwrap();
    let labels = texts(&doc);
    for label in ["0:00", "1:00", "5:00", "time since start (m:ss)"] {
        assert!(
            labels.iter().any(|t| t == label),
            "no {label:?} in {labels:?}"
        );
    }
    let plots = render(&long_record(70, 60));
    let doc = roxmltree::Document::parse(&plots[1].svg).unwrap();
    let labels = texts(&doc);
    for label in [
        "0:00:00",
        "0:10:00",
        "1:00:00",
        "time since start (h:mm:ss)",
    ] {
        assert!(
            labels.iter().any(|t| t == label),
            "no {label:?} in {labels:?}"
        );
    }
}
