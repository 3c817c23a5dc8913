//! The assertion file format (YAML): three lists, `promql`, `logql` and
//! `bucket`, each entry a named assertion with what to ask and what to
//! expect. Unknown keys are refused; every error names the file, line and
//! column and what was expected there (see the README for the schema).

mod time;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use validate::validate;

pub use time::{At, Dur, parse_duration};

/// A whole assertion file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionFile {
    /// Default poll budget of every assertion in the file (none: asked once).
    #[serde(default)]
    pub within: Option<Dur>,
    #[serde(default)]
    pub promql: Vec<PromAssertion>,
    #[serde(default)]
    pub logql: Vec<LogAssertion>,
    #[serde(default)]
    pub bucket: Vec<BucketAssertion>,
}

/// A PromQL query through Thanos Query and what its answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromAssertion {
    pub name: Spanned<String>,
    pub query: String,
    /// Evaluation time (instant) or end of the range; default `now`.
    #[serde(default)]
    pub at: At,
    /// A range query (`query_range`) instead of an instant one.
    #[serde(default)]
    pub range: Option<Range>,
    /// Raw samples of `query` (a selector) over this window before `at`:
    /// what `max_gap` is measured on.
    #[serde(default)]
    pub window: Option<Dur>,
    /// Thanos deduplication (default true).
    #[serde(default = "yes")]
    pub dedup: bool,
    /// Poll until the expectation holds, at most this long.
    #[serde(default)]
    pub within: Option<Dur>,
    pub expect: Spanned<PromExpect>,
}

/// What a PromQL answer must be; every given field is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromExpect {
    /// Exactly this many series.
    pub series: Option<usize>,
    /// Every sample equals this value (within `tolerance`, default exact).
    pub value: Option<f64>,
    pub tolerance: Option<f64>,
    /// Every series carries these labels with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// No series carries this label.
    pub no_label: Option<String>,
    /// No hole longer than this between samples (and the window's edges).
    pub max_gap: Option<Dur>,
}

/// A LogQL query to Loki and what its answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogAssertion {
    pub name: Spanned<String>,
    pub query: String,
    #[serde(default)]
    pub at: At,
    /// A range query (needed for log selectors); absent: an instant
    /// metric query at `at`.
    #[serde(default)]
    pub range: Option<Range>,
    /// Most lines to read (default 5000).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub within: Option<Dur>,
    pub expect: Spanned<LogExpect>,
}

/// What a LogQL answer must be.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogExpect {
    /// Exactly this many lines over every stream.
    pub lines: Option<usize>,
    /// Exactly these lines, oldest first.
    pub exact_lines: Option<Vec<String>>,
    /// Each of these texts is in some line.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Metric queries: exactly this many series.
    pub series: Option<usize>,
    /// Metric queries: every sample equals this (within `tolerance`).
    pub value: Option<f64>,
    pub tolerance: Option<f64>,
}

/// Objects in the bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketAssertion {
    pub name: Spanned<String>,
    /// Thanos blocks whose `meta.json` carries these external labels.
    pub blocks: Option<BTreeMap<String, String>>,
    /// Objects whose key starts with this.
    pub prefix: Option<String>,
    #[serde(default)]
    pub within: Option<Dur>,
    pub expect: Spanned<CountExpect>,
}

/// How many of something.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountExpect {
    pub at_least: Option<usize>,
    pub at_most: Option<usize>,
    pub exactly: Option<usize>,
}

/// A range query: `last` before `at`, one point every `step`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub last: Dur,
    /// Default: `last` / 60, at least 1 s.
    pub step: Option<Dur>,
}

impl Range {
    /// The step to use.
    pub fn step(&self) -> Duration {
        self.step
            .map(|d| d.0)
            .unwrap_or_else(|| (self.last.0 / 60).max(Duration::from_secs(1)))
    }
}

fn yes() -> bool {
    true
}

/// A bad assertion file: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct SchemaError {
    pub file: PathBuf,
    /// 1-based; 0 when the YAML parser could not place it.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<AssertionFile, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|e| SchemaError {
        file: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read it: {e}"),
    })?;
    parse(path, &text)
}

/// Parses assertion YAML `text` read from `file`, then checks what serde
/// cannot (e.g. `tolerance` without `value`), naming the place of each
/// mistake.
pub fn parse(file: &Path, text: &str) -> Result<AssertionFile, SchemaError> {
    let parsed: AssertionFile = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        SchemaError {
            file: file.to_owned(),
            line,
            column,
            message: plain_message(&e.to_string()),
        }
    })?;
    validate(&parsed).map_err(|(loc, message)| SchemaError {
        file: file.to_owned(),
        line: loc.line(),
        column: loc.column(),
        message,
    })?;
    Ok(parsed)
}

/// The parser's first line without its own `error: line L column C:`
/// prefix (we print `file:line:col:`), with its type names in words.
fn plain_message(display: &str) -> String {
    let first = display.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match first.split_once(": ") {
        Some((place, rest)) if place.starts_with("line ") && place.contains(" column ") => rest,
        _ => first,
    };
    let words = [
        ("invalid u64", "expected a whole number ≥ 0"),
        ("invalid u32", "expected a whole number ≥ 0"),
        ("invalid f64", "expected a number"),
        ("invalid bool", "expected true or false"),
        ("invalid boolean", "expected true or false"),
        ("expected string scalar", "expected a string"),
    ];
    for (from, to) in words {
        if msg == from {
            return to.to_owned();
        }
    }
    msg.to_owned()
}
