//! The assertion file format (YAML): three lists, `promql`, `logql` and
//! `bucket`, each entry a named assertion with what to ask and what to
//! expect. Unknown keys are refused; every error names the file, line and
//! column and what was expected there (see the README for the schema).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

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

/// A duration written as Prometheus writes them: `500ms`, `30s`, `2m`,
/// `1h30m`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `1h30m`, `500ms`, `30s`, `7d` into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration such as 500ms, 30s, 2m, 1h30m or 7d, found `{s}`");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        total += Duration::from_millis(n.checked_mul(ms).ok_or_else(bad)?);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// When to evaluate: `now`, `now-30s`, or unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum At {
    /// Now minus this much (`now` is zero).
    #[default]
    Now,
    Ago(Duration),
    UnixSeconds(f64),
}

impl At {
    /// The time in milliseconds, given now.
    pub fn ms(&self, now_ms: i64) -> i64 {
        match *self {
            At::Now => now_ms,
            At::Ago(d) => now_ms - d.as_millis() as i64,
            At::UnixSeconds(s) => (s * 1000.0).round() as i64,
        }
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_at(&s).map_err(serde::de::Error::custom)
    }
}

fn parse_at(s: &str) -> Result<At, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(At::Now);
    }
    if let Some(d) = s.strip_prefix("now-") {
        return parse_duration(d)
            .map(At::Ago)
            .map_err(|e| format!("after `now-`: {e}"));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(At::UnixSeconds(v)),
        _ => Err(format!(
            "expected `now`, `now-<duration>` (e.g. now-5m) or unix seconds, found `{s}`"
        )),
    }
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

type Invalid = (serde_saphyr::Location, String);

fn validate(f: &AssertionFile) -> Result<(), Invalid> {
    let fail =
        |loc: serde_saphyr::Location, what: &str, msg: String| Err((loc, format!("{what}: {msg}")));
    for a in &f.promql {
        let e = &a.expect.value;
        let what = format!("promql `{}`", a.name.value);
        if e.tolerance.is_some() && e.value.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`tolerance` needs `value`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.series.is_none()
                && e.value.is_none()
                && e.labels.is_empty()
                && e.no_label.is_none()
                && e.max_gap.is_none(),
            "series, value, labels, no_label or max_gap",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
        if a.range.is_some() && a.window.is_some() {
            return fail(
                a.name.referenced,
                &what,
                "`range` and `window` exclude each other: `window` reads raw samples, `range` runs query_range".into(),
            );
        }
        if e.max_gap.is_some() && a.range.is_none() && a.window.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`max_gap` needs `window` (raw samples, the right place to look for holes) or `range`".into(),
            );
        }
    }
    for a in &f.logql {
        let e = &a.expect.value;
        let what = format!("logql `{}`", a.name.value);
        if e.tolerance.is_some() && e.value.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`tolerance` needs `value`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.lines.is_none()
                && e.exact_lines.is_none()
                && e.contains.is_empty()
                && e.series.is_none()
                && e.value.is_none(),
            "lines, exact_lines, contains, series or value",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
        let about_lines = e.lines.is_some() || e.exact_lines.is_some() || !e.contains.is_empty();
        if about_lines && a.range.is_none() {
            return fail(
                a.expect.referenced,
                &what,
                "`lines`, `exact_lines` and `contains` need `range` (Loki answers log selectors only over a range)".into(),
            );
        }
    }
    for a in &f.bucket {
        let e = &a.expect.value;
        let what = format!("bucket `{}`", a.name.value);
        if a.blocks.is_some() == a.prefix.is_some() {
            return fail(
                a.name.referenced,
                &what,
                "expected exactly one of `blocks` (external labels) or `prefix`".into(),
            );
        }
        if let Some(m) = nothing_expected(
            e.at_least.is_none() && e.at_most.is_none() && e.exactly.is_none(),
            "at_least, at_most or exactly",
        ) {
            return fail(a.expect.referenced, &what, m);
        }
    }
    Ok(())
}

fn nothing_expected(empty: bool, fields: &str) -> Option<String> {
    empty.then(|| format!("`expect` is empty: expected at least one of {fields}"))
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
