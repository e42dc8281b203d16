//! The clock-skew fault: `skew = { node, offset, drift }` read, shown and
//! refused with the file and the field named.

use ringlab_scenario::{self as scenario, FaultAction};

/// A one-phase scenario whose one fault at 1s is `skew = <value>`.
fn with_skew(value: &str) -> String {
    format!(
        "[[phase]]\nname = \"a\"\nduration = \"5s\"\nrate = 10\n\n[[fault]]\nat = \"1s\"\nskew = {value}\n"
    )
}

#[test]
fn skews_read_and_show() {
    let cases = [
        (
            r#"{ node = "node-2", offset = "-50ms" }"#,
            -50_000,
            0,
            "skew node-2 -50ms",
        ),
        (
            r#"{ node = "node-3", offset = "+1.5ms", drift = "+20ppm" }"#,
            1_500,
            20,
            "skew node-3 +1.5ms drift +20ppm",
        ),
        (
            r#"{ node = "node-1", offset = "0ms", drift = "-500ppm" }"#,
            0,
            -500,
            "skew node-1 +0s drift -500ppm",
        ),
        (
            r#"{ node = "node-2", offset = "0ms" }"#,
            0,
            0,
            "skew node-2 +0s",
        ),
    ];
    for (value, offset, drift, shown) in cases {
        let s =
            scenario::parse(&with_skew(value), "x.toml").unwrap_or_else(|e| panic!("{value}: {e}"));
        let FaultAction::Skew {
            node,
            offset_us,
            drift_ppm,
        } = &s.faults[0].action
        else {
            panic!("{value}: not a skew: {:?}", s.faults[0].action);
        };
        assert!(node.starts_with("node-"));
        assert_eq!((*offset_us, *drift_ppm), (offset, drift), "{value}");
        assert_eq!(s.faults[0].action.to_string(), shown);
    }
}

#[test]
fn bad_skews_name_the_file_and_the_field() {
    let cases = [
        (r#"{ node = "node-2" }"#, "missing"),
        (
            r#"{ node = "node-2", offset = "-50" }"#,
            "fault[1].skew.offset",
        ),
        (
            r#"{ node = "node-2", offset = -50 }"#,
            "fault[1].skew.offset: expected a signed duration",
        ),
        (r#"{ node = "node-2", offset = "-2d" }"#, "unknown unit"),
        (
            r#"{ node = "node-2", offset = "-25h" }"#,
            "is too large: at most 24h either way",
        ),
        (
            r#"{ node = "node-2", offset = "1500ns" }"#,
            "whole number of microseconds",
        ),
        (
            r#"{ node = "node-2", offset = "0ms", drift = "-500" }"#,
            "the unit `ppm` is required",
        ),
        (
            r#"{ node = "node-2", offset = "0ms", drift = "0.5ppm" }"#,
            "a whole number before `ppm`",
        ),
        (
            r#"{ node = "node-2", offset = "0ms", drift = "-200000ppm" }"#,
            "at most 100000ppm",
        ),
        (
            r#"{ node = "node-2", offset = "0ms", drift = -500 }"#,
            "fault[1].skew.drift: expected a drift",
        ),
        (
            r#"{ node = "node-9", offset = "0ms" }"#,
            "fault[1].skew.node",
        ),
        (
            r#"{ node = "node-2", offset = "0ms", ofset = "1ms" }"#,
            "unknown key",
        ),
        (r#""node-2""#, "fault[1].skew"),
    ];
    for (value, want) in cases {
        let e = scenario::parse(&with_skew(value), "x.toml")
            .expect_err(value)
            .to_string();
        assert!(e.contains("x.toml:"), "{value}: no file in {e}");
        assert!(e.contains(want), "{value}: expected {want:?} in {e}");
    }
}
