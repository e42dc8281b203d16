//! Number formatting shared by the reports: one place decides how a latency,
//! a rate or a ratio reads, so the Markdown, the HTML, the plots and
//! `compare` agree.
//!
//! Every function is deterministic (Rust's float formatting is exact and
//! locale-free), which the byte-identical report files rely on.

/// Rounds `x` to `decimals` decimal places. Used before serializing floats to
/// JSON so the text has a fixed precision whatever the arithmetic's last bits.
pub fn round_to(x: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    let r = (x * m).round() / m;
    // -0.0 would print as "-0.0".
    if r == 0.0 { 0.0 } else { r }
}

/// A latency in microseconds for people: "850 µs", "1.23 ms", "2.50 s".
pub fn latency_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{} ms", three_digits(us / 1_000.0))
    } else {
        format!("{} s", three_digits(us / 1_000_000.0))
    }
}

/// An optional latency; "–" when there is none (no successful request).
pub fn latency_opt(us: Option<u64>) -> String {
    us.map_or_else(|| "–".to_string(), |v| latency_us(v as f64))
}

/// Three significant digits for a value in 1..1000.
fn three_digits(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// An axis label for a latency in microseconds: "100µs", "1ms", "2.5s".
pub fn latency_tick(us: f64) -> String {
    let (v, unit) = if us < 1_000.0 {
        (us, "µs")
    } else if us < 1_000_000.0 {
        (us / 1_000.0, "ms")
    } else {
        (us / 1_000_000.0, "s")
    };
    format!("{}{unit}", trim_float(v, 2))
}

/// `v` with at most `decimals` decimals and no trailing zeros: 2.50 -> "2.5".
pub fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An integer with thousands separators: 1234567 -> "1,234,567".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate per second for people: whole requests with separators.
pub fn rate(per_s: f64) -> String {
    format!("{}/s", grouped(per_s.round().max(0.0) as u64))
}

/// A fraction as a percentage, rounded *down* to three decimals so that
/// 99.99995% never shows as 100.000%: "100%" only when it is exactly 1.
pub fn percent_floor(fraction: f64) -> String {
    if fraction >= 1.0 {
        return "100%".to_string();
    }
    let floored = (fraction * 100_000.0).floor() / 1_000.0;
    format!("{floored:.3}%")
}

/// An optional fraction as a percentage; "–" when undefined.
pub fn percent_opt(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| "–".to_string(), percent_floor)
}

/// An optional ratio with four decimals; "–" when undefined.
pub fn ratio_opt(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_string(), |r| format!("{r:.4}"))
}

/// Seconds with up to three decimals: 1.5 -> "1.5 s".
pub fn seconds(s: f64) -> String {
    format!("{} s", trim_float(s, 3))
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text made safe for a Markdown table cell: pipes escaped, line breaks
/// turned into spaces.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_with_their_unit() {
        assert_eq!(latency_us(850.0), "850 µs");
        assert_eq!(latency_us(1_234.0), "1.23 ms");
        assert_eq!(latency_us(45_600.0), "45.6 ms");
        assert_eq!(latency_us(2_500_000.0), "2.50 s");
        assert_eq!(latency_opt(None), "–");
        assert_eq!(latency_tick(100.0), "100µs");
        assert_eq!(latency_tick(2_500.0), "2.5ms");
        assert_eq!(latency_tick(1_000_000.0), "1s");
    }

    #[test]
    fn percentages_never_round_up_to_full() {
        assert_eq!(percent_floor(1.0), "100%");
        assert_eq!(percent_floor(0.9999999), "99.999%");
        assert_eq!(percent_floor(0.5), "50.000%");
    }

    #[test]
    fn grouping_and_rounding() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(round_to(0.1234567, 3), 0.123);
        assert_eq!(round_to(-0.0001, 2).to_string(), "0");
    }

    #[test]
    fn escaping() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
    }
}
