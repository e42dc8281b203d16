//! Reading a spanned TOML document: typed values, unknown keys with
//! suggestions, and problems that point at the exact place.
//!
//! The document is parsed into `toml::de::DeTable`, which keeps a byte span
//! on every key and value, instead of deserializing with serde derive: derive
//! stops at the first error and cannot say "did you mean", while a scenario
//! author wants every mistake in one go, each with a hint.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::units::{parse_duration, parse_share, parse_size};

/// A byte range in the scenario text.
pub(super) type Span = Range<usize>;
/// A value with its span.
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Collects problems while the document is read.
pub(super) struct Ctx<'t> {
    /// The whole file, to quote what was found.
    text: &'t str,
    /// Each problem with the byte offset it points at.
    pub(super) problems: Vec<(usize, String)>,
}

impl<'t> Ctx<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Self {
            text,
            problems: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub(super) fn error(&mut self, span: &Span, message: impl Into<String>) {
        self.problems.push((span.start, message.into()));
    }

    /// The source text at `span`, on one line and shortened, as the author
    /// wrote it (strings keep their quotes).
    pub(super) fn quote(&self, span: &Span) -> String {
        let raw = self.text.get(span.clone()).unwrap_or("").trim();
        let line = raw.lines().next().unwrap_or("");
        let mut out: String = line.chars().take(48).collect();
        if out.len() < raw.len() {
            out.push('…');
        }
        out
    }

    /// `path = <found> <why>`: a value that has the right type but is not
    /// allowed.
    pub(super) fn invalid(&mut self, path: &str, v: &Value<'_>, why: impl AsRef<str>) {
        let found = self.quote(&v.span());
        self.error(&v.span(), format!("{path} = {found} {}", why.as_ref()));
    }

    /// `path: expected <what>, found <type> <text>`.
    pub(super) fn wrong_type(&mut self, path: &str, v: &Value<'_>, expected: &str) {
        let found = self.quote(&v.span());
        let kind = type_name(v.get_ref());
        self.error(
            &v.span(),
            format!("{path}: expected {expected}, found {kind} {found}"),
        );
    }
}

/// How a TOML value's type is named in messages.
pub(super) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A table being read: its dotted path (for messages), span and entries.
pub(super) struct Table<'a, 'i> {
    /// Dotted path of the table (`"cluster.replication"`), empty at the top.
    pub(super) path: String,
    /// Where the table starts (its header, or its key for inline tables).
    pub(super) span: Span,
    /// The entries.
    map: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// The document's top level.
    pub(super) fn root(ctx: &mut Ctx<'_>, map: &'a DeTable<'i>, known: &[&str]) -> Self {
        let t = Table {
            path: String::new(),
            span: 0..0,
            map,
        };
        t.check_keys(ctx, known, None);
        t
    }

    /// `v` as a table whose keys must be among `known` (unknown keys are
    /// reported with the closest known one). `None` (reported) if `v` is not
    /// a table.
    pub(super) fn open(
        ctx: &mut Ctx<'_>,
        path: &str,
        v: &'a Value<'i>,
        known: &[&str],
        expected: &str,
    ) -> Option<Self> {
        let t = Self::open_any(ctx, path, v, expected)?;
        t.check_keys(ctx, known, Some(expected));
        Some(t)
    }

    /// `v` as a table with keys of any name (node names, phase names).
    pub(super) fn open_any(
        ctx: &mut Ctx<'_>,
        path: &str,
        v: &'a Value<'i>,
        expected: &str,
    ) -> Option<Self> {
        match v.get_ref() {
            DeValue::Table(map) => Some(Table {
                path: path.to_string(),
                span: v.span(),
                map,
            }),
            _ => {
                ctx.wrong_type(path, v, expected);
                None
            }
        }
    }

    fn check_keys(&self, ctx: &mut Ctx<'_>, known: &[&str], shape: Option<&str>) {
        for (key, _) in self.map.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let full = self.path_of(name);
            let mut msg = format!("unknown key `{full}`");
            if let Some(best) = closest(name, known.iter().copied()) {
                msg.push_str(&format!("; did you mean `{best}`?"));
            }
            let here = if self.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{}`", self.path)
            };
            msg.push_str(&format!(" (known keys {here}: {})", known.join(", ")));
            if let Some(shape) = shape.filter(|s| s.starts_with('{')) {
                msg.push_str(&format!("; expected {shape}"));
            }
            ctx.error(&key.span(), msg);
        }
    }

    /// The dotted path of `key` in this table.
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value at `key`, if given.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.map.get(key)
    }

    /// Whether `key` is given.
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some()
    }

    /// Every entry: key, key span, value, sorted by position in the file.
    pub(super) fn entries(&self) -> Vec<(&'a str, Span, &'a Value<'i>)> {
        let mut out: Vec<_> = self
            .map
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v))
            .collect();
        out.sort_by_key(|(_, span, _)| span.start);
        out
    }

    /// Reads `key` with `read` (which reports its own problems): `Absent` if
    /// not given, `Invalid` if reported.
    pub(super) fn field<T>(
        &self,
        ctx: &mut Ctx<'_>,
        key: &str,
        read: impl FnOnce(&mut Ctx<'_>, &str, &'a Value<'i>) -> Option<T>,
    ) -> Field<T> {
        match self.get(key) {
            None => Field::Absent,
            Some(v) => match read(ctx, &self.path_of(key), v) {
                Some(x) => Field::Valid(x),
                None => Field::Invalid,
            },
        }
    }

    /// Reports that `key` is required here.
    pub(super) fn missing(&self, ctx: &mut Ctx<'_>, key: &str, expected: &str) {
        let place = if self.path.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{}`", self.path)
        };
        ctx.error(
            &self.span,
            format!("{place} is missing `{key}`: expected {expected}"),
        );
    }
}

/// The outcome of reading an optional key.
pub(super) enum Field<T> {
    /// Not given.
    Absent,
    /// Given but wrong (already reported).
    Invalid,
    /// Given and valid.
    Valid(T),
}

impl<T> Field<T> {
    /// The value, or `default` when absent or invalid (an invalid value has
    /// been reported, so the scenario will not load anyway).
    pub(super) fn or(self, default: T) -> T {
        match self {
            Field::Valid(x) => x,
            Field::Absent | Field::Invalid => default,
        }
    }

    /// The value, or `T::default()` when absent or invalid.
    pub(super) fn or_default(self) -> T
    where
        T: Default,
    {
        self.or(T::default())
    }

    /// The value if valid.
    pub(super) fn valid(self) -> Option<T> {
        match self {
            Field::Valid(x) => Some(x),
            Field::Absent | Field::Invalid => None,
        }
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be
/// a likely typo.
pub(super) fn closest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(2);
    // Ties go to the candidate sharing the longest prefix: `vnode` is
    // `vnodes` misspelt, not `node`.
    let prefix = |c: &str| {
        word.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
            .count()
    };
    // A key that extends or shortens a known one (`expectations`, `rep`)
    // is also a likely slip, however far apart by edits.
    let extends = |c: &str| {
        let (w, c) = (word.to_lowercase(), c.to_lowercase());
        w.len().min(c.len()) >= 3 && (w.starts_with(&c) || c.starts_with(&w))
    };
    candidates
        .map(|c| (edit_distance(word, c), std::cmp::Reverse(prefix(c)), c))
        .filter(|(d, _, c)| *d <= limit || extends(c))
        .min()
        .map(|(_, _, c)| c)
}

/// Levenshtein distance, case-insensitive (a wrong case is one typo away at
/// most, so `Nodes` suggests `nodes`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A string value.
pub(super) fn string<'a>(ctx: &mut Ctx<'_>, path: &str, v: &'a Value<'_>) -> Option<&'a str> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => {
            ctx.wrong_type(path, v, "a string");
            None
        }
    }
}

/// A boolean value.
pub(super) fn boolean(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            ctx.wrong_type(path, v, "true or false");
            None
        }
    }
}

/// A whole number in `min..=max`.
pub(super) fn uint(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Value<'_>,
    min: u64,
    max: u64,
) -> Option<u64> {
    let range = if max == u64::MAX {
        format!("a whole number >= {min}")
    } else {
        format!("a whole number in {min}..={max}")
    };
    let DeValue::Integer(i) = v.get_ref() else {
        ctx.wrong_type(path, v, &range);
        return None;
    };
    let digits = i.as_str().replace('_', "");
    if digits.starts_with('-') {
        ctx.invalid(path, v, format!("is negative: expected {range}"));
        return None;
    }
    let n = match u64::from_str_radix(digits.trim_start_matches('+'), i.radix()) {
        Ok(n) => n,
        Err(_) => {
            ctx.invalid(path, v, format!("is too large: expected {range}"));
            return None;
        }
    };
    if n < min || n > max {
        let why = if n < min && min == 1 {
            format!("is impossible: expected at least 1 ({range})")
        } else {
            format!("is out of range: expected {range}")
        };
        ctx.invalid(path, v, why);
        return None;
    }
    Some(n)
}

/// A `u32` in `min..=max`.
pub(super) fn uint32(
    ctx: &mut Ctx<'_>,
    path: &str,
    v: &Value<'_>,
    min: u32,
    max: u32,
) -> Option<u32> {
    uint(ctx, path, v, u64::from(min), u64::from(max)).map(|n| n as u32)
}

/// A finite number (integer or float).
pub(super) fn number(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>, expected: &str) -> Option<f64> {
    let parsed = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        _ => {
            ctx.wrong_type(path, v, expected);
            return None;
        }
    };
    match parsed {
        Some(x) if x.is_finite() => Some(x),
        _ => {
            ctx.invalid(
                path,
                v,
                format!("is not a finite number: expected {expected}"),
            );
            None
        }
    }
}

/// A duration written with a unit (`"250us"`).
pub(super) fn duration(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<Duration> {
    match v.get_ref() {
        DeValue::String(s) => match parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.invalid(path, v, format!("is not a duration: {e}"));
                None
            }
        },
        DeValue::Integer(_) | DeValue::Float(_) => {
            ctx.invalid(
                path,
                v,
                "has no unit: write a duration as a string with a unit, like \"30s\" or \"250us\"",
            );
            None
        }
        _ => {
            ctx.wrong_type(path, v, "a duration, like \"30s\" or \"250us\"");
            None
        }
    }
}

/// A duration above zero.
pub(super) fn positive_duration(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<Duration> {
    let d = duration(ctx, path, v)?;
    if d.is_zero() {
        ctx.invalid(path, v, "is impossible: expected a duration above zero");
        return None;
    }
    Some(d)
}

/// A size: a string with a unit (`"4KiB"`) or a whole number of bytes.
pub(super) fn size(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<u64> {
    match v.get_ref() {
        DeValue::String(s) => match parse_size(s) {
            Ok(b) => Some(b),
            Err(e) => {
                ctx.invalid(path, v, format!("is not a size: {e}"));
                None
            }
        },
        DeValue::Integer(_) => uint(ctx, path, v, 0, u64::MAX),
        _ => {
            ctx.wrong_type(path, v, "a size, like \"100B\", \"4KiB\" or \"256MB\"");
            None
        }
    }
}

/// A probability: a number in 0..=1 or a percent string (`"5%"`).
pub(super) fn probability(ctx: &mut Ctx<'_>, path: &str, v: &Value<'_>) -> Option<f64> {
    let p = match v.get_ref() {
        DeValue::String(s) => match parse_share(s) {
            Ok(p) => p,
            Err(e) => {
                ctx.invalid(path, v, format!("is not a probability: {e}"));
                return None;
            }
        },
        _ => number(ctx, path, v, "a probability in 0..=1, like 0.01 or \"1%\"")?,
    };
    if !(0.0..=1.0).contains(&p) {
        ctx.invalid(
            path,
            v,
            "is impossible: a probability is in 0..=1 (0%..=100%)",
        );
        return None;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let known = ["nodes", "vnodes", "replication", "maxmemory"];
        assert_eq!(closest("vnode", known.iter().copied()), Some("vnodes"));
        assert_eq!(
            closest("node", ["vnodes", "node"].into_iter()),
            Some("node")
        );
        assert_eq!(closest("Nodes", known.iter().copied()), Some("nodes"));
        assert_eq!(
            closest("replicaton", known.iter().copied()),
            Some("replication")
        );
        assert_eq!(
            closest("max_memory", known.iter().copied()),
            Some("maxmemory")
        );
        assert_eq!(closest("zebra", known.iter().copied()), None);
        assert_eq!(
            closest("expectations", ["expect", "phase"].into_iter()),
            Some("expect")
        );
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
