//! `--set KEY=VALUE`: changing a scenario from the command line, one key at
//! a time, without editing its file.
//!
//! Overrides are applied to the parsed TOML document before it is read, so
//! a value set this way is checked exactly as the same value in the file
//! would be, and an unknown key gets the same "did you mean" message. Each
//! problem an override causes names the `--set` it came from.
//!
//! # Keys
//! A dotted path from the top of the document: `seed`, `cluster.nodes`,
//! `capacity.op_cost`. An array of tables (`[[phase]]`, `[[fault]]`) is
//! entered by an element's `name` (`phase.steady.rate`) or by its 1-based
//! position, as problems number them (`fault.2.at`). Tables missing on the
//! way are created (`capacity.op_cost` in a file without `[capacity]`).
//!
//! # Values
//! Whatever parses as a TOML value is that value (`8`, `0.5`, `true`,
//! `[1, 2]`, `{ kind = "zipf", s = 0.99 }`, `"quoted"`); anything else is a
//! string (`25us`, `x10`, `steady`), so units need no quoting.
//!
//! # How spans work
//! The reader quotes values and places problems by byte spans into the text
//! it read. [`Layout`] appends each override's `KEY=VALUE` after the file's
//! text, and the overriding keys and values carry spans into that tail: a
//! problem found there is reported against the override, not a line of the
//! file.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Problem;

/// One `--set KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The dotted path, as given.
    key: String,
    /// The value's text, as given.
    value: String,
}

/// A `--set` argument that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {arg:?}: {why}; expected KEY=VALUE, like cluster.nodes=8 or phase.steady.rate=2000")]
pub struct OverrideSyntax {
    /// The argument as given.
    arg: String,
    /// What is wrong with it.
    why: &'static str,
}

impl FromStr for Override {
    type Err = OverrideSyntax;

    fn from_str(arg: &str) -> Result<Self, Self::Err> {
        let bad = |why| OverrideSyntax {
            arg: arg.to_string(),
            why,
        };
        let (key, value) = arg.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("no key before `=`"));
        }
        if key.split('.').any(|s| s.trim().is_empty()) {
            return Err(bad("an empty part in the key"));
        }
        if key.contains(char::is_whitespace) {
            return Err(bad("a space in the key"));
        }
        if value.contains('\n') {
            return Err(bad("a line break in the value"));
        }
        Ok(Self {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The text the reader sees: the file, then one line per override.
pub(super) struct Layout {
    /// The file's text followed by the overrides' lines.
    pub(super) full: String,
    /// Length of the file's text: offsets from here on are overrides'.
    file_len: usize,
    /// Each override's line in `full`, with its key's and value's ranges.
    lines: Vec<Line>,
}

/// Where one override sits in [`Layout::full`].
struct Line {
    /// The whole `KEY=VALUE`.
    all: Range<usize>,
    /// The key.
    key: Range<usize>,
    /// The value.
    value: Range<usize>,
    /// The override, for messages.
    text: String,
}

impl Layout {
    /// Lays out `text` and `sets` (no overrides: just the file).
    pub(super) fn new(text: &str, sets: &[Override]) -> Self {
        let mut full = String::with_capacity(text.len() + 64 * sets.len());
        full.push_str(text);
        let file_len = full.len();
        let mut lines = Vec::with_capacity(sets.len());
        for set in sets {
            full.push('\n');
            let start = full.len();
            full.push_str(&set.key);
            let key = start..full.len();
            full.push('=');
            let vstart = full.len();
            full.push_str(&set.value);
            lines.push(Line {
                all: start..full.len(),
                key,
                value: vstart..full.len(),
                text: set.to_string(),
            });
        }
        Self {
            full,
            file_len,
            lines,
        }
    }

    /// The file's part of [`Layout::full`].
    pub(super) fn file(&self) -> &str {
        &self.full[..self.file_len]
    }

    /// Turns a problem at `offset` of [`Layout::full`] into one with a line
    /// and column in the file, or, past the file, one that names its
    /// override (line 0, column its 1-based position among the overrides:
    /// see [`Problem::line`]).
    pub(super) fn problem(&self, offset: usize, message: String) -> Problem {
        if offset <= self.file_len || self.lines.is_empty() {
            let (line, column) = super::error::line_column(self.file(), offset);
            return Problem {
                line,
                column,
                message,
            };
        }
        let index = self
            .lines
            .iter()
            .rposition(|l| l.all.start <= offset)
            .unwrap_or(0);
        Problem {
            line: 0,
            column: index + 1,
            message: format!("--set {}: {message}", self.lines[index].text),
        }
    }

    /// Applies every override to `doc`, in order (a later one wins), and
    /// returns the problems of those that could not be applied, as
    /// (offset, message) for the reader's list.
    pub(super) fn apply<'i>(&'i self, doc: &mut DeTable<'i>) -> Vec<(usize, String)> {
        let mut problems = Vec::new();
        for line in &self.lines {
            let path = self.segments(line);
            let value = self.value(line);
            if let Err(why) = set_in_table(doc, &path, value, "") {
                problems.push((line.all.start, why));
            }
        }
        problems
    }

    /// The key's parts with their spans.
    fn segments(&self, line: &Line) -> Vec<Segment<'_>> {
        let mut out = Vec::new();
        let mut at = line.key.start;
        for part in self.full[line.key.clone()].split('.') {
            out.push(Segment {
                name: part,
                span: at..at + part.len(),
            });
            at += part.len() + 1;
        }
        out
    }

    /// The value: parsed as TOML if it parses, else the text as a string;
    /// its spans point into the override's line.
    fn value(&self, line: &Line) -> Spanned<DeValue<'_>> {
        let raw = &self.full[line.value.clone()];
        match DeValue::parse(raw) {
            Ok(v) if !raw.is_empty() => shift(v, line.value.start),
            _ => Spanned::new(line.value.clone(), DeValue::String(Cow::Borrowed(raw))),
        }
    }
}

/// One part of an override's key.
struct Segment<'i> {
    name: &'i str,
    /// Where the part is in [`Layout::full`].
    span: Range<usize>,
}

/// `v` with every span moved `by` bytes later.
fn shift(v: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = v.span();
    let inner = match v.into_inner() {
        DeValue::Array(items) => {
            let mut out = toml::de::DeArray::new();
            for item in items {
                out.push(shift(item, by));
            }
            DeValue::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, item) in t {
                let ks = k.span();
                out.insert(
                    Spanned::new(ks.start + by..ks.end + by, k.into_inner()),
                    shift(item, by),
                );
            }
            DeValue::Table(out)
        }
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, inner)
}

/// The dotted path of `name` under `parent`.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// Sets `path` (non-empty) under table `t`, whose own path is `at`.
fn set_in_table<'i>(
    t: &mut DeTable<'i>,
    path: &[Segment<'i>],
    value: Spanned<DeValue<'i>>,
    at: &str,
) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("a key has at least one part");
    let key = || Spanned::new(first.span.clone(), Cow::Borrowed(first.name));
    if rest.is_empty() {
        // A key the file has keeps its own span (and so its place in the
        // file's order); the value points at the override.
        match t.get_mut(first.name) {
            Some(slot) => *slot = value,
            None => {
                t.insert(key(), value);
            }
        }
        return Ok(());
    }
    if t.get(first.name).is_none() {
        let empty = Spanned::new(first.span.clone(), DeValue::Table(DeTable::new()));
        t.insert(key(), empty);
    }
    let slot = t.get_mut(first.name).expect("inserted above");
    set_in_value(slot, rest, value, &join(at, first.name))
}

/// Sets `path` (non-empty) under `v`, whose path is `at`: into a table by
/// key, into an array by an element's name or 1-based position.
fn set_in_value<'i>(
    v: &mut Spanned<DeValue<'i>>,
    path: &[Segment<'i>],
    value: Spanned<DeValue<'i>>,
    at: &str,
) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("a key has at least one part");
    match v.get_mut() {
        DeValue::Table(t) => set_in_table(t, path, value, at),
        DeValue::Array(items) => {
            let i = element(items, first.name, at)?;
            let here = format!("{at}.{}", first.name);
            // DerefMut to a slice: DeArray itself has no IndexMut.
            let items: &mut [Spanned<DeValue<'i>>] = items;
            if rest.is_empty() {
                items[i] = value;
                Ok(())
            } else {
                set_in_value(&mut items[i], rest, value, &here)
            }
        }
        other => Err(format!(
            "`{at}` is {}, not a table: it has no key `{}`",
            super::reader::type_name(other),
            first.name
        )),
    }
}

/// The element of array `at` named `name` (its `name` key), else at 1-based
/// position `name`.
fn element(items: &[Spanned<DeValue<'_>>], name: &str, at: &str) -> Result<usize, String> {
    let named = |item: &Spanned<DeValue<'_>>| match item.get_ref() {
        DeValue::Table(t) => t.get("name").and_then(|n| match n.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => None,
        }),
        _ => None,
    };
    if let Some(i) = items
        .iter()
        .position(|item| named(item).as_deref() == Some(name))
    {
        return Ok(i);
    }
    if let Ok(n) = name.parse::<usize>() {
        if (1..=items.len()).contains(&n) {
            return Ok(n - 1);
        }
        return Err(format!(
            "`{at}` has {} element(s); there is no {at}[{n}] (positions count from 1)",
            items.len()
        ));
    }
    let names: Vec<String> = items.iter().filter_map(named).collect();
    let known = if names.is_empty() {
        format!(
            "its elements have no names: address one by position, 1 to {}",
            items.len()
        )
    } else {
        format!(
            "names: {}; or a position, 1 to {}",
            names.join(", "),
            items.len()
        )
    };
    Err(format!("`{at}` has no element named {name:?} ({known})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Rate;
    use crate::{ScenarioError, parse_with};

    const FILE: &str = r#"seed = 1

[cluster]
nodes = 3

[[phase]]
name = "warm"
duration = "1s"
rate = 100

[[phase]]
name = "steady"
duration = "2s"
rate = 1000
"#;

    /// [`FILE`] with these values written in.
    fn file(seed: u64, nodes: u64, warm: u64, steady: u64) -> String {
        // The warm phase's rate first: once the steady one is written in,
        // it may read `rate = 100` too.
        FILE.replace("seed = 1", &format!("seed = {seed}"))
            .replace("nodes = 3", &format!("nodes = {nodes}"))
            .replace("\"1s\"\nrate = 100\n", &format!("\"1s\"\nrate = {warm}\n"))
            .replace("rate = 1000", &format!("rate = {steady}"))
    }

    proptest::proptest! {
        /// Any sequence of overrides reads as the file with the last value
        /// of each key written in.
        #[test]
        fn overrides_read_as_the_file_edited(
            sets in proptest::collection::vec((0..4usize, 1..500u64), 0..8)
        ) {
            let keys = ["seed", "cluster.nodes", "phase.warm.rate", "phase.2.rate"];
            let mut values = [1, 3, 100, 1000];
            let mut args = Vec::new();
            for (k, v) in &sets {
                values[*k] = *v;
                args.push(set(&format!("{}={v}", keys[*k])));
            }
            let [seed, nodes, warm, steady] = values;
            let edited = crate::parse(&file(seed, nodes, warm, steady), "f.toml");
            let overridden = parse_with(FILE, "f.toml", &args);
            proptest::prop_assert_eq!(overridden.unwrap(), edited.unwrap());
        }
    }

    fn set(arg: &str) -> Override {
        arg.parse().unwrap()
    }

    fn load(sets: &[&str]) -> Result<crate::Scenario, ScenarioError> {
        let sets: Vec<Override> = sets.iter().map(|s| set(s)).collect();
        parse_with(FILE, "f.toml", &sets)
    }

    fn messages(sets: &[&str]) -> Vec<String> {
        load(sets)
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| p.message.clone())
            .collect()
    }

    #[test]
    fn no_override_reads_the_file_as_parse_does() {
        let plain = crate::parse(FILE, "f.toml").unwrap();
        assert_eq!(load(&[]).unwrap(), plain);
    }

    #[test]
    fn top_level_nested_and_phase_keys_are_set() {
        let s = load(&[
            "seed=3",
            "cluster.nodes=8",
            "phase.steady.rate=200000",
            "phase.1.duration=3s",
            "capacity.op_cost=25us",
        ])
        .unwrap();
        assert_eq!(s.seed, 3);
        assert_eq!(s.cluster.nodes, 8);
        assert_eq!(s.phases[1].rate, Rate::Constant(200_000.0));
        assert_eq!(s.phases[0].duration, std::time::Duration::from_secs(3));
        let plain = crate::parse(FILE, "f.toml").unwrap();
        assert_ne!(s.capacity, plain.capacity);
        let in_file = crate::parse(
            &format!("{FILE}\n[capacity]\nop_cost = \"25us\"\n"),
            "g.toml",
        )
        .unwrap();
        assert_eq!(s.capacity, in_file.capacity);
    }

    #[test]
    fn a_later_override_wins() {
        assert_eq!(load(&["seed=3", "seed=4"]).unwrap().seed, 4);
    }

    #[test]
    fn values_that_are_not_toml_are_strings() {
        // `x10` is a phase rate relative to the previous phase's.
        let s = load(&["phase.steady.rate=x10"]).unwrap();
        assert_eq!(s.phases[1].rate, Rate::Constant(1000.0));
        let s = load(&["name=my run"]).unwrap();
        assert_eq!(s.name, "my run");
        let s = load(&["name=\"quoted\""]).unwrap();
        assert_eq!(s.name, "quoted");
    }

    #[test]
    fn a_bad_value_gets_the_files_message_naming_the_set() {
        let in_file = crate::parse(&FILE.replace("nodes = 3", "nodes = 0"), "f.toml").unwrap_err();
        let file_msg = &in_file.problems()[0].message;
        let msgs = messages(&["cluster.nodes=0"]);
        assert_eq!(msgs, vec![format!("--set cluster.nodes=0: {file_msg}")]);
        let e = load(&["cluster.nodes=0"]).unwrap_err().to_string();
        assert!(
            e.starts_with("f.toml: --set cluster.nodes=0: cluster.nodes = 0 is impossible"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_key_gets_the_files_unknown_key_message() {
        let in_file =
            crate::parse(&FILE.replace("nodes = 3", "nodes = 3\nnodez = 8"), "f.toml").unwrap_err();
        let file_msg = &in_file.problems()[0].message;
        assert!(
            file_msg.starts_with("unknown key `cluster.nodez`"),
            "{file_msg}"
        );
        let msgs = messages(&["cluster.nodez=8"]);
        assert_eq!(msgs, vec![format!("--set cluster.nodez=8: {file_msg}")]);
        let msgs = messages(&["phase.steady.rat=5"]);
        assert!(
            msgs[0].starts_with(
                "--set phase.steady.rat=5: unknown key `phase[2].rat`; did you mean `rate`?"
            ),
            "{msgs:?}"
        );
        let msgs = messages(&["sed=5"]);
        assert!(
            msgs[0].contains("unknown key `sed`; did you mean `seed`?"),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_set_and_quotes_it() {
        let msgs = messages(&["phase.warm.duration=5"]);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].starts_with("--set phase.warm.duration=5: phase[1].duration = 5 has no unit"),
            "{msgs:?}"
        );
    }

    #[test]
    fn paths_that_lead_nowhere_are_reported() {
        let msgs = messages(&["phase.cold.rate=5"]);
        assert_eq!(
            msgs,
            vec![
                "--set phase.cold.rate=5: `phase` has no element named \"cold\" \
                 (names: warm, steady; or a position, 1 to 2)"
                    .to_string()
            ]
        );
        let msgs = messages(&["phase.3.rate=5"]);
        assert!(msgs[0].contains("there is no phase[3]"), "{msgs:?}");
        let msgs = messages(&["seed.x=5"]);
        assert_eq!(
            msgs,
            vec!["--set seed.x=5: `seed` is an integer, not a table: it has no key `x`"]
        );
    }

    #[test]
    fn file_problems_keep_their_lines_and_come_first() {
        let text = FILE.replace("nodes = 3", "nodes = 0");
        let e = parse_with(&text, "f.toml", &[set("seed=-1")]).unwrap_err();
        let p = e.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!((p[0].line, p[0].column), (4, 9));
        assert_eq!(p[1].line, 0);
        assert!(
            p[1].message
                .starts_with("--set seed=-1: seed = -1 is negative"),
            "{p:?}"
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_the_expected_form() {
        for (arg, why) in [
            ("seed", "no `=`"),
            ("=3", "no key"),
            ("phase..rate=3", "an empty part"),
            ("a b=3", "a space"),
        ] {
            let e = arg.parse::<Override>().unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("expected KEY=VALUE"),
                "{arg}: {e}"
            );
        }
        assert_eq!(set(" seed = 3 ").to_string(), "seed=3");
    }

    #[test]
    fn inline_tables_keep_their_inner_spans_on_the_set() {
        let msgs = messages(&["cluster={ nodes = 0 }"]);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].starts_with("--set cluster={ nodes = 0 }: cluster.nodes = 0 is impossible"),
            "{msgs:?}"
        );
    }
}
