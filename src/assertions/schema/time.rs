//! Durations and instants as assertion files write them: `30s`, `1h30m`;
//! `now`, `now-5m`, unix seconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

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

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
