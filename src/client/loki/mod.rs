//! Loki HTTP API client: push (JSON), LogQL queries (streams, matrix,
//! vector, scalar), the metadata APIs (labels, label values, series, index
//! stats), `/ready`, `/flush` and Loki's own `/metrics`.
//!
//! Timestamps of log entries are Unix nanoseconds (`i64`, good until 2262);
//! metric samples come back as milliseconds.
//!
//! `wire` reads and writes Loki's JSON; `client` speaks HTTP to it.

mod client;
mod wire;

pub use client::{LokiClient, RangeOptions};
pub use wire::{
    PushStream, parse_index_stats, parse_query_response, parse_series, parse_string_list, push_body,
};

use std::collections::BTreeMap;

use serde::Deserialize;

/// Labels of a stream or a metric series.
pub type Labels = BTreeMap<String, String>;

/// `{a="1", b="2"}` for messages and LogQL selectors.
pub fn label_text(labels: &Labels) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// One log line at its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Unix nanoseconds.
    pub ts_ns: i64,
    pub line: String,
}

/// A log stream: its labels and entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

/// One series of a matrix: samples `(t_ms, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t_ms: i64,
    pub value: f64,
}

/// What a LogQL query returned, by `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Streams(Vec<Stream>),
    Matrix(Vec<MatrixSeries>),
    Vector(Vec<VectorSample>),
    /// `(t_ms, value)`.
    Scalar(i64, f64),
}

impl QueryData {
    /// The result type as Loki names it.
    pub fn kind(&self) -> &'static str {
        match self {
            QueryData::Streams(_) => "streams",
            QueryData::Matrix(_) => "matrix",
            QueryData::Vector(_) => "vector",
            QueryData::Scalar(..) => "scalar",
        }
    }

    /// The streams, or a description of what came instead.
    pub fn into_streams(self) -> Result<Vec<Stream>, String> {
        match self {
            QueryData::Streams(s) => Ok(s),
            other => Err(format!("expected streams, got a {}", other.kind())),
        }
    }

    /// The matrix, or a description of what came instead.
    pub fn into_matrix(self) -> Result<Vec<MatrixSeries>, String> {
        match self {
            QueryData::Matrix(m) => Ok(m),
            other => Err(format!("expected a matrix, got a {}", other.kind())),
        }
    }

    /// The vector, or a description of what came instead.
    pub fn into_vector(self) -> Result<Vec<VectorSample>, String> {
        match self {
            QueryData::Vector(v) => Ok(v),
            other => Err(format!("expected a vector, got a {}", other.kind())),
        }
    }
}

/// A query answer: the data and Loki's summary statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResponse {
    pub data: QueryData,
    /// `stats.summary` as Loki reports it (exec time, lines processed, …).
    pub summary: Option<StatsSummary>,
}

/// `stats.summary` of a query answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct StatsSummary {
    #[serde(default)]
    pub exec_time: f64,
    #[serde(default)]
    pub total_lines_processed: u64,
    #[serde(default)]
    pub total_entries_returned: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
}

/// `/loki/api/v1/index/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub struct IndexStats {
    pub streams: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub entries: u64,
}

/// Sort order of log lines in a query answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Newest first (Loki's default).
    #[default]
    Backward,
    /// Oldest first.
    Forward,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Backward => "backward",
            Direction::Forward => "forward",
        }
    }
}

/// Errors talking to Loki.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    #[error("{method} {url}: {message}")]
    Http {
        method: &'static str,
        url: String,
        message: String,
    },
    /// Loki rejected the query: its plain-text 400 answer, with the position
    /// when it names one (`parse error at line L, col C: …`).
    #[error("{url} rejected the query: {message}")]
    BadQuery {
        url: String,
        message: String,
        position: Option<(u32, u32)>,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot parse the answer of {url}: {message}")]
    Parse { url: String, message: String },
}

impl From<crate::client::http::HttpError> for LokiError {
    fn from(e: crate::client::http::HttpError) -> Self {
        use crate::client::http::HttpError;
        match e {
            HttpError::Request {
                method,
                url,
                message,
            } => LokiError::Http {
                method,
                url,
                message,
            },
            HttpError::Status {
                url, status, body, ..
            } => status_error(&url, status, &body),
            HttpError::Parse { url, message, .. } => LokiError::Parse { url, message },
        }
    }
}

/// The position a LogQL parse error names, from Loki's plain-text body
/// (`parse error at line 1, col 18: syntax error: …`).
pub fn parse_error_position(body: &str) -> Option<(u32, u32)> {
    let rest = body.split("parse error at line ").nth(1)?;
    let (line, rest) = rest.split_once(", col ")?;
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, col.parse().ok()?))
}

/// Turns a non-success answer into the matching error.
pub fn status_error(url: &str, status: u16, body: &str) -> LokiError {
    let body = body.trim();
    if status == 400 {
        return LokiError::BadQuery {
            url: url.to_owned(),
            message: body.to_owned(),
            position: parse_error_position(body),
        };
    }
    LokiError::Status {
        url: url.to_owned(),
        status,
        body: body.chars().take(600).collect(),
    }
}
