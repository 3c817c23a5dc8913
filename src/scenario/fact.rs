//! A scenario's measured facts, typed: tests and report readers take the
//! number, people read the text (which [`FactValue`]'s `Display` renders
//! the way the reports always showed it).

use std::fmt;
use std::time::Duration;

use crate::check::gaps::fmt_time;

/// One measured fact: what was measured, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub key: String,
    pub value: FactValue,
}

/// A measured value, with the unit it is read in.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    /// A span in seconds (`31.0s`), shown with `decimals` digits. A float,
    /// not a `Duration`: some are differences of two clocks' timestamps.
    Seconds { secs: f64, decimals: usize },
    /// A latency in milliseconds, shown whole (`412 ms`).
    Millis(f64),
    /// How many of something (`540`).
    Count(u64),
    /// A plain number shown with `decimals` digits (a ratio).
    Number { value: f64, decimals: usize },
    /// Bytes, shown in MiB (`12.3 MiB`).
    Bytes(i64),
    /// An instant, Unix milliseconds, shown in UTC.
    Time(i64),
    /// From one instant to another, Unix milliseconds (`… → …`).
    Period { from_ms: i64, to_ms: i64 },
    /// Anything else, in words.
    Text(String),
}

impl FactValue {
    /// `d` in seconds with one decimal (`31.0s`).
    pub fn seconds(d: Duration) -> Self {
        Self::Seconds {
            secs: d.as_secs_f64(),
            decimals: 1,
        }
    }

    /// `ms` milliseconds in seconds with `decimals` digits.
    pub fn seconds_of_ms(ms: i64, decimals: usize) -> Self {
        Self::Seconds {
            secs: ms as f64 / 1000.0,
            decimals,
        }
    }

    /// `d` in whole milliseconds (`412 ms`).
    pub fn millis(d: Duration) -> Self {
        Self::Millis(d.as_secs_f64() * 1000.0)
    }

    /// The span in seconds, for a `Seconds` or `Millis` value.
    pub fn as_seconds(&self) -> Option<f64> {
        match self {
            Self::Seconds { secs, .. } => Some(*secs),
            Self::Millis(ms) => Some(ms / 1000.0),
            _ => None,
        }
    }

    /// The count, for a `Count` value.
    pub fn as_count(&self) -> Option<u64> {
        match self {
            Self::Count(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes, for a `Bytes` value.
    pub fn as_bytes(&self) -> Option<i64> {
        match self {
            Self::Bytes(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as one number and its unit, for machine readers of
    /// `report.json`; None for text and periods.
    pub fn number(&self) -> Option<(f64, &'static str)> {
        match self {
            Self::Seconds { secs, .. } => Some((*secs, "s")),
            Self::Millis(ms) => Some((*ms, "ms")),
            Self::Count(n) => Some((*n as f64, "count")),
            Self::Number { value, .. } => Some((*value, "")),
            Self::Bytes(b) => Some((*b as f64, "bytes")),
            Self::Time(ms) => Some((*ms as f64, "unix_ms")),
            Self::Period { .. } | Self::Text(_) => None,
        }
    }
}

impl fmt::Display for FactValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seconds { secs, decimals } => write!(f, "{secs:.decimals$}s"),
            Self::Millis(ms) => write!(f, "{ms:.0} ms"),
            Self::Count(n) => write!(f, "{n}"),
            Self::Number { value, decimals } => write!(f, "{value:.decimals$}"),
            Self::Bytes(b) => write!(f, "{:.1} MiB", *b as f64 / (1024.0 * 1024.0)),
            Self::Time(ms) => f.write_str(&fmt_time(*ms)),
            Self::Period { from_ms, to_ms } => {
                write!(f, "{} → {}", fmt_time(*from_ms), fmt_time(*to_ms))
            }
            Self::Text(t) => f.write_str(t),
        }
    }
}

impl From<String> for FactValue {
    fn from(t: String) -> Self {
        Self::Text(t)
    }
}

impl From<&str> for FactValue {
    fn from(t: &str) -> Self {
        Self::Text(t.to_owned())
    }
}

impl From<usize> for FactValue {
    fn from(n: usize) -> Self {
        Self::Count(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_reports_always_showed() {
        let cases = [
            (FactValue::seconds(Duration::from_millis(31_040)), "31.0s"),
            (FactValue::seconds_of_ms(1_234, 2), "1.23s"),
            (
                FactValue::Seconds {
                    secs: 12.6,
                    decimals: 0,
                },
                "13s",
            ),
            (FactValue::millis(Duration::from_micros(412_400)), "412 ms"),
            (FactValue::from(540usize), "540"),
            (
                FactValue::Number {
                    value: 1234.4,
                    decimals: 0,
                },
                "1234",
            ),
            (FactValue::Bytes(12_897_484), "12.3 MiB"),
            (FactValue::Time(0), "1970-01-01T00:00:00.000Z"),
            (
                FactValue::Period {
                    from_ms: 0,
                    to_ms: 1_500,
                },
                "1970-01-01T00:00:00.000Z → 1970-01-01T00:00:01.500Z",
            ),
            (
                FactValue::from("1 firing, 1 resolved"),
                "1 firing, 1 resolved",
            ),
        ];
        for (v, text) in cases {
            assert_eq!(v.to_string(), text, "{v:?}");
        }
    }

    #[test]
    fn numbers_come_back_without_parsing() {
        let hole = FactValue::seconds_of_ms(31_000, 1);
        assert_eq!(hole.as_seconds(), Some(31.0));
        assert_eq!(hole.number(), Some((31.0, "s")));
        assert_eq!(
            FactValue::millis(Duration::from_millis(250)).as_seconds(),
            Some(0.25)
        );
        assert_eq!(FactValue::from(3usize).as_count(), Some(3));
        assert_eq!(FactValue::Bytes(7).as_bytes(), Some(7));
        assert_eq!(FactValue::from("x").as_seconds(), None);
        assert_eq!(FactValue::from("x").number(), None);
    }
}
