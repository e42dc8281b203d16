//! The estimate file: an interview's givens, read and checked.
//!
//! The file is its own kind, not a scenario: a top-level `name` and
//! `description` and one `[estimate]` table. Every problem names its key
//! (`estimate.peak_factor = 0: ...`), and an unknown key is an error, as in
//! a scenario file, so a misspelt given is never silently ignored.

use ringlab_loadgen::scenario::units::{parse_share, parse_size};
use toml::{Table, Value};

use crate::plan::slo::Slo;

/// What an estimate file says, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Short name; the generated scenario's name (default: the file stem).
    pub name: String,
    /// The lesson's text, copied into the generated scenario.
    pub description: String,
    /// Users active on a day.
    pub daily_active_users: u64,
    /// Requests one active user makes per day.
    pub requests_per_user_per_day: f64,
    /// The busiest hour's rate over the day's average (>= 1).
    pub peak_factor: f64,
    /// Reads per `writes` (`read_write = "9:1"`).
    pub reads: f64,
    pub writes: f64,
    /// Bytes of one stored object (the value).
    pub object_size: u64,
    /// Distinct objects stored today.
    pub keys: u64,
    /// Growth of the key count over a year (0.4 = 40%).
    pub yearly_growth: f64,
    /// Copies of each object (the cluster's N).
    pub replication: u32,
    /// Share of the keys that are hot: the working set to keep in memory.
    pub working_set: f64,
    /// The spike, as a multiple of the average rate.
    pub spike_factor: f64,
    /// Memory of one cache node: sets the node count memory needs.
    pub node_memory: u64,
    /// The SLOs the generated plan command checks.
    pub slos: Vec<String>,
}

/// Why an estimate file was refused: always the file, the key, the value
/// and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The keys of `[estimate]`, for messages.
pub const KEYS: &[&str] = &[
    "daily_active_users",
    "requests_per_user_per_day",
    "peak_factor",
    "read_write",
    "object_size",
    "keys",
    "yearly_growth",
    "replication",
    "working_set",
    "spike_factor",
    "node_memory",
    "slo",
];

/// Reads an estimate file's text; `file` names it in errors and gives the
/// default name.
pub fn parse(text: &str, file: &str) -> Result<Estimate, EstimateError> {
    let fail = |message: String| EstimateError::Invalid {
        file: file.to_string(),
        message,
    };
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| fail(format!("not valid TOML: {e}")))?;
    for key in doc.keys() {
        if !["name", "description", "estimate"].contains(&key.as_str()) {
            return Err(fail(format!(
                "unknown key `{key}`; an estimate file has `name`, `description` and [estimate]{}",
                if ["cluster", "capacity", "phase", "network"].contains(&key.as_str()) {
                    " (this looks like a scenario file: give it to `run` or `plan`)"
                } else {
                    ""
                }
            )));
        }
    }
    let string = |key: &str| -> Result<Option<String>, EstimateError> {
        match doc.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(fail(format!("{key} = {v}: expected a string"))),
        }
    };
    let stem = std::path::Path::new(file)
        .file_stem()
        .map_or("estimate".to_string(), |s| s.to_string_lossy().into_owned());
    let name = string("name")?.unwrap_or(stem);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(fail(format!(
            "name = {name:?}: expected letters, digits, `-` and `_` (it names the scenario)"
        )));
    }
    let description = string("description")?.unwrap_or_default();
    let Some(est) = doc.get("estimate") else {
        return Err(fail(format!(
            "no [estimate] table; expected one with {}",
            KEYS.join(", ")
        )));
    };
    let Value::Table(est) = est else {
        return Err(fail("estimate: expected a table, [estimate]".into()));
    };
    Fields { est, fail: &fail }.estimate(name, description)
}

/// The `[estimate]` table and how to fail on it.
struct Fields<'a, F: Fn(String) -> EstimateError> {
    est: &'a Table,
    fail: &'a F,
}

impl<F: Fn(String) -> EstimateError> Fields<'_, F> {
    fn estimate(&self, name: String, description: String) -> Result<Estimate, EstimateError> {
        for key in self.est.keys() {
            if !KEYS.contains(&key.as_str()) {
                let hint = closest(key)
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                return Err(self.err(&format!(
                    "unknown key `estimate.{key}`; {hint}known keys: {}",
                    KEYS.join(", ")
                )));
            }
        }
        // In the order of KEYS (a file's usual order), so the first
        // problem reported is the first one a reader meets.
        let daily_active_users = self.whole("daily_active_users", None, 1, "users")?;
        let requests_per_user_per_day = self.number("requests_per_user_per_day", None)?;
        let peak_factor = self.number("peak_factor", None)?;
        if peak_factor < 1.0 {
            return Err(self.err(&format!(
                "estimate.peak_factor = {peak_factor}: expected at least 1 (the peak over the \
                 average: 3 means the busiest hour runs at 3 times the day's mean rate)"
            )));
        }
        let (reads, writes) = self.read_write()?;
        let object_size = self.size("object_size", None)?;
        let keys = self.whole("keys", None, 1, "keys")?;
        let yearly_growth = self.share("yearly_growth", Some(0.0))?;
        let replication = self.whole("replication", Some(3), 1, "copies")?;
        let replication = u32::try_from(replication)
            .ok()
            .filter(|n| *n <= 1024)
            .ok_or_else(|| {
                self.err(&format!(
                    "estimate.replication = {replication}: expected at most 1024 copies"
                ))
            })?;
        let spike_factor = self.number("spike_factor", Some(10.0))?;
        let working_set = self.share("working_set", Some(0.2))?;
        if working_set <= 0.0 || working_set > 1.0 {
            return Err(self.err(&format!(
                "estimate.working_set = {working_set}: expected a share of the keys above 0 and at most 100%"
            )));
        }
        Ok(Estimate {
            name,
            description,
            daily_active_users,
            requests_per_user_per_day,
            peak_factor,
            reads,
            writes,
            object_size,
            node_memory: self.size("node_memory", Some(64 << 30))?,
            keys,
            yearly_growth,
            replication,
            working_set,
            spike_factor,
            slos: self.slos()?,
        })
    }

    fn err(&self, message: &str) -> EstimateError {
        (self.fail)(message.to_string())
    }

    /// The value of `key`, or the error for a missing required key.
    fn get(&self, key: &str) -> Result<&Value, EstimateError> {
        self.est.get(key).ok_or_else(|| {
            self.err(&format!(
                "estimate.{key} is missing; it is required (see docs/PLAN.md, `estimate`)"
            ))
        })
    }

    /// A whole number at least `min`.
    fn whole(
        &self,
        key: &str,
        default: Option<u64>,
        min: u64,
        what: &str,
    ) -> Result<u64, EstimateError> {
        if let (None, Some(d)) = (self.est.get(key), default) {
            return Ok(d);
        }
        match self.get(key)? {
            Value::Integer(i) if *i >= 0 && (*i as u64) >= min => Ok(*i as u64),
            v => Err(self.err(&format!(
                "estimate.{key} = {v}: expected a whole number of {what}, at least {min}"
            ))),
        }
    }

    /// A finite number above 0.
    fn number(&self, key: &str, default: Option<f64>) -> Result<f64, EstimateError> {
        if let (None, Some(d)) = (self.est.get(key), default) {
            return Ok(d);
        }
        let v = self.get(key)?;
        let x = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            _ => f64::NAN,
        };
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(self.err(&format!("estimate.{key} = {v}: expected a number above 0")))
        }
    }

    /// A share, `"40%"` or `0.4`, at least 0.
    fn share(&self, key: &str, default: Option<f64>) -> Result<f64, EstimateError> {
        if let (None, Some(d)) = (self.est.get(key), default) {
            return Ok(d);
        }
        let v = self.get(key)?;
        let x = match v {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::String(s) => parse_share(s).ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(self.err(&format!(
                "estimate.{key} = {v}: expected a share, like \"40%\" or 0.4, not negative"
            ))),
        }
    }

    /// A size above 0: `"1KiB"`, `"100B"` or a whole number of bytes.
    fn size(&self, key: &str, default: Option<u64>) -> Result<u64, EstimateError> {
        if let (None, Some(d)) = (self.est.get(key), default) {
            return Ok(d);
        }
        let v = self.get(key)?;
        let bytes = match v {
            Value::Integer(i) if *i > 0 => Ok(*i as u64),
            Value::String(s) => parse_size(s).map_err(|e| e.to_string()),
            _ => Err("expected a size".to_string()),
        };
        match bytes {
            Ok(b) if b > 0 && (key != "object_size" || b <= 512 << 20) => Ok(b),
            Ok(_) => Err(self.err(&format!(
                "estimate.{key} = {v}: expected a size above 0 (an object: at most 512MiB, a value's limit)"
            ))),
            Err(why) => Err(self.err(&format!(
                "estimate.{key} = {v}: {why} (like \"1KiB\" or \"100B\")"
            ))),
        }
    }

    /// `read_write = "9:1"`: reads and writes, not both 0.
    fn read_write(&self) -> Result<(f64, f64), EstimateError> {
        let v = self.get("read_write")?;
        let parsed = match v {
            Value::String(s) => s.split_once(':').and_then(|(r, w)| {
                let r: f64 = r.trim().parse().ok()?;
                let w: f64 = w.trim().parse().ok()?;
                (r.is_finite() && w.is_finite() && r >= 0.0 && w >= 0.0 && r + w > 0.0)
                    .then_some((r, w))
            }),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.err(&format!(
                "estimate.read_write = {v}: expected reads to writes as a string, like \"9:1\" \
                 (neither negative, not both 0)"
            ))
        })
    }

    /// `slo = ["p99<=5ms", ...]`, each as `plan --slo` reads it.
    fn slos(&self) -> Result<Vec<String>, EstimateError> {
        let Some(v) = self.est.get("slo") else {
            return Ok(vec!["p99<=5ms".into(), "availability>=99.99%".into()]);
        };
        let list = match v {
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let list = list.ok_or_else(|| {
            self.err(&format!(
                "estimate.slo = {v}: expected a list of SLOs, like [\"p99<=5ms\", \"availability>=99.99%\"]"
            ))
        })?;
        for s in &list {
            Slo::parse(s).map_err(|e| self.err(&format!("estimate.slo: {e:#}")))?;
        }
        Ok(list)
    }
}

/// The known key nearest a misspelt one, if it is near (at most 2 edits).
fn closest(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (edits(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
