//! Durations, sizes and shares written the way people write them
//! (`"250us"`, `"1.5ms"`, `"256MB"`, `"4KiB"`, `"99.9%"`), and back.
//!
//! Numbers are read as exact decimals, not through `f64`, so `"1.1ms"` is
//! exactly 1 100 000 ns and formatting then parsing gives back the same value.
//! Sizes follow SI and IEC strictly: `KB` is 1000 bytes, `KiB` 1024 (Redis
//! reads `mb` as 2^20; a scenario file does not).

use std::fmt;
use std::time::Duration;

/// Why a duration, size or share could not be read. The caller adds where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("expected a number followed by a unit ({expected}), found {found:?}")]
    Malformed {
        found: String,
        expected: &'static str,
    },
    #[error("unknown unit {unit:?} in {found:?}; expected one of {expected}")]
    UnknownUnit {
        unit: String,
        found: String,
        expected: &'static str,
    },
    #[error("{found:?} is not a whole number of {what}")]
    NotWhole { found: String, what: &'static str },
    #[error("{found:?} is too large")]
    TooLarge { found: String },
}

/// The units a duration may be written in, for messages.
pub const DURATION_UNITS: &str = "ns, us, ms, s, m, h";
/// The units a size may be written in, for messages.
pub const SIZE_UNITS: &str = "B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";

/// A non-negative decimal read exactly: `digits / 10^scale`.
struct Decimal {
    /// All digits, the point removed (`1.5` -> 15).
    digits: u128,
    /// Digits after the point (`1.5` -> 1).
    scale: u32,
}

/// Splits `"1.5ms"` into the exact decimal and the unit text. Underscores
/// between digits are allowed (`"1_000ms"`), as in TOML integers.
fn split_number<'s>(s: &'s str, expected: &'static str) -> Result<(Decimal, &'s str), UnitError> {
    let malformed = || UnitError::Malformed {
        found: s.to_string(),
        expected,
    };
    let t = s.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    let unit = unit.trim_start();
    if num.is_empty() || num.starts_with(['_', '.']) || num.ends_with(['_', '.']) {
        return Err(malformed());
    }
    let mut digits: u128 = 0;
    let mut scale = 0u32;
    let mut seen_point = false;
    for c in num.chars() {
        match c {
            '_' => {}
            '.' if seen_point => return Err(malformed()),
            '.' => seen_point = true,
            d => {
                let v = u128::from(d.to_digit(10).ok_or_else(malformed)?);
                digits = digits
                    .checked_mul(10)
                    .and_then(|x| x.checked_add(v))
                    .ok_or_else(|| UnitError::TooLarge { found: s.into() })?;
                if seen_point {
                    scale += 1;
                    if scale > 30 {
                        return Err(UnitError::TooLarge { found: s.into() });
                    }
                }
            }
        }
    }
    Ok((Decimal { digits, scale }, unit))
}

/// `d * mult` when that is a whole number.
fn scaled(d: &Decimal, mult: u128, s: &str, what: &'static str) -> Result<u128, UnitError> {
    let num = d
        .digits
        .checked_mul(mult)
        .ok_or_else(|| UnitError::TooLarge { found: s.into() })?;
    let den = 10u128.pow(d.scale);
    if num % den != 0 {
        return Err(UnitError::NotWhole {
            found: s.to_string(),
            what,
        });
    }
    Ok(num / den)
}

const NS_PER: [(&str, u128); 7] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// Reads a duration such as `"250us"`, `"1.5ms"`, `"30s"`, `"2m"`, `"1h"`.
/// A unit is required: a bare `30` could mean seconds or milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let expected = "like \"250us\", \"1.5ms\" or \"30s\"";
    let (d, unit) = split_number(s, expected)?;
    if unit.is_empty() {
        return Err(UnitError::Malformed {
            found: s.to_string(),
            expected,
        });
    }
    let mult = NS_PER
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, m)| *m)
        .ok_or_else(|| UnitError::UnknownUnit {
            unit: unit.to_string(),
            found: s.to_string(),
            expected: DURATION_UNITS,
        })?;
    let ns = scaled(&d, mult, s, "nanoseconds")?;
    let secs =
        u64::try_from(ns / 1_000_000_000).map_err(|_| UnitError::TooLarge { found: s.into() })?;
    Ok(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

/// Writes `n / 10^digits` as a short exact decimal (`1500, 3` -> `"1.5"`).
fn decimal(n: u128, digits: u32) -> String {
    let div = 10u128.pow(digits);
    let (int, frac) = (n / div, n % div);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Formats a duration so that [`parse_duration`] reads it back exactly:
/// whole hours or minutes when it is one, else the largest of s, ms, us, ns
/// that is at most the value, with an exact decimal fraction.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    for (unit, mult) in [("h", 3_600_000_000_000u128), ("m", 60_000_000_000)] {
        if ns.is_multiple_of(mult) {
            return format!("{}{unit}", ns / mult);
        }
    }
    for (unit, digits) in [("s", 9u32), ("ms", 6), ("us", 3)] {
        if ns >= 10u128.pow(digits) {
            return format!("{}{unit}", decimal(ns, digits));
        }
    }
    format!("{ns}ns")
}

const SIZE_MULT: [(&str, u128); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Reads a size in bytes such as `"100B"`, `"4KiB"`, `"1.5KB"`, `"256MB"`.
/// Units are case-insensitive; a bare number means bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let (d, unit) = split_number(s, "like \"100B\", \"4KiB\" or \"256MB\"")?;
    let lower = unit.to_ascii_lowercase();
    let mult = if lower.is_empty() {
        1
    } else {
        SIZE_MULT
            .iter()
            .find(|(u, _)| *u == lower)
            .map(|(_, m)| *m)
            .ok_or_else(|| UnitError::UnknownUnit {
                unit: unit.to_string(),
                found: s.to_string(),
                expected: SIZE_UNITS,
            })?
    };
    let bytes = scaled(&d, mult, s, "bytes")?;
    u64::try_from(bytes).map_err(|_| UnitError::TooLarge { found: s.into() })
}

/// Formats a size so that [`parse_size`] reads it back exactly: the largest
/// IEC unit that divides it, else an exact SI decimal, else bytes.
pub fn format_size(bytes: u64) -> String {
    let b = u128::from(bytes);
    for (unit, mult) in [("TiB", 1u128 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)] {
        if b >= mult && b % mult == 0 {
            return format!("{}{unit}", b / mult);
        }
    }
    if b >= 1024 && b % 1024 == 0 && b % 1000 != 0 {
        return format!("{}KiB", b / 1024);
    }
    for (unit, digits) in [("TB", 12u32), ("GB", 9), ("MB", 6), ("KB", 3)] {
        if b >= 10u128.pow(digits) {
            return format!("{}{unit}", decimal(b, digits));
        }
    }
    format!("{b}B")
}

/// Reads a share: `"99.9%"` is 0.999, `"0.8"` is 0.8. The range is the
/// caller's to check (an availability above 100% is a validation error,
/// not a syntax error).
pub fn parse_share(s: &str) -> Result<f64, UnitError> {
    let expected = "like \"99.9%\" or \"0.8\"";
    let (d, unit) = split_number(s, expected)?;
    // One correctly rounded conversion: "99.9%" is exactly the f64 nearest
    // 0.999, not 99.9 / 100 rounded twice.
    let exact = |extra: u32| -> f64 {
        format!("{}e-{}", d.digits, d.scale + extra)
            .parse()
            .unwrap_or(f64::NAN)
    };
    match unit {
        "" => Ok(exact(0)),
        "%" => Ok(exact(2)),
        _ => Err(UnitError::UnknownUnit {
            unit: unit.to_string(),
            found: s.to_string(),
            expected: "% or none",
        }),
    }
}

/// Formats a share as a percent (`0.999` -> `"99.9%"`).
pub fn format_share(share: f64) -> String {
    format!("{}%", Percent(share))
}

/// Displays a share as a percentage without float noise (`99.9`, not
/// `99.90000000000001`).
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        // Twelve significant decimals is far below any share a scenario can
        // mean, and hides the binary rounding of `x * 100`.
        let s = format!("{p:.12}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_people_write() {
        let ok = [
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("1.5ms", Duration::from_micros(1500)),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1_000ms", Duration::from_secs(1)),
            ("0.000000001s", Duration::from_nanos(1)),
            (" 5 s ", Duration::from_secs(5)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn durations_that_are_wrong_say_why() {
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(UnitError::UnknownUnit { unit, .. }) if unit == "parsecs"
        ));
        assert!(matches!(
            parse_duration("30"),
            Err(UnitError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("0.5ns"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(UnitError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("1..5s"),
            Err(UnitError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999h"),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn sizes_people_write() {
        let ok = [
            ("100B", 100),
            ("100", 100),
            ("4KiB", 4096),
            ("1.5KB", 1500),
            ("256MB", 256_000_000),
            ("256mb", 256_000_000),
            ("1GiB", 1 << 30),
            ("0.5KiB", 512),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        assert!(matches!(
            parse_size("1.3B"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_size("3 bananas"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("20EiB"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("20000000TiB"),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn shares_people_write() {
        assert_eq!(parse_share("99.9%"), Ok(0.999));
        assert_eq!(parse_share("0.8"), Ok(0.8));
        assert_eq!(parse_share("100%"), Ok(1.0));
        assert!(parse_share("0.8 ratio").is_err());
        assert_eq!(format_share(0.999), "99.9%");
        assert_eq!(format_share(1.0), "100%");
    }

    #[test]
    fn formats_are_short() {
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(format_size(4096), "4KiB");
        assert_eq!(format_size(256_000_000), "256MB");
        assert_eq!(format_size(1500), "1.5KB");
        assert_eq!(format_size(100), "100B");
    }

    proptest! {
        #[test]
        fn duration_round_trips(ns in 0u64..u64::MAX) {
            let d = Duration::from_nanos(ns);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn size_round_trips(b in any::<u64>()) {
            prop_assert_eq!(parse_size(&format_size(b)), Ok(b));
        }

        #[test]
        fn share_round_trips(p in 0u32..=1_000_000) {
            // Shares as people write them: up to four decimals of a percent.
            let share = f64::from(p) / 1_000_000.0;
            let back = parse_share(&format_share(share)).unwrap();
            prop_assert!((back - share).abs() <= 1e-12, "{} -> {}", share, back);
        }

        #[test]
        fn garbage_never_panics(s in "\\PC{0,24}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
            let _ = parse_share(&s);
        }

        #[test]
        fn number_like_garbage_never_panics(s in "[0-9._]{0,40}[a-zA-Z%µ]{0,4}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
            let _ = parse_share(&s);
        }
    }
}
