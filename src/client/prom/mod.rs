//! Prometheus HTTP API v1 client, also used for Thanos Query (which adds
//! `dedup`, `partial_response` and `max_source_resolution`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::client::http::{HttpApi, HttpError};

/// A series with its raw samples `(t_ms, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    /// `{a="1", b="2"}` for messages.
    pub fn label_text(&self) -> String {
        let inner: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{{{}}}", inner.join(", "))
    }
}

/// A query result: series plus the warnings the server attached.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    pub series: Vec<Series>,
    pub warnings: Vec<String>,
}

/// Errors talking to a Prometheus-compatible API.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("GET {url}: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot parse the answer of {url}: {message}")]
    Parse { url: String, message: String },
}

impl From<HttpError> for PromError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Request { url, message, .. } => PromError::Http { url, message },
            HttpError::Status {
                url, status, body, ..
            } => PromError::Status {
                url,
                status,
                body: body.chars().take(500).collect(),
            },
            HttpError::Parse { url, message, .. } => PromError::Parse { url, message },
        }
    }
}

/// Query-time options (Thanos Query understands all of them; Prometheus
/// ignores the Thanos ones).
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// `dedup` (Thanos): None leaves the server default (true).
    pub dedup: Option<bool>,
    /// `partial_response` (Thanos): strict checks pass `false`.
    pub partial_response: Option<bool>,
    /// `max_source_resolution` (Thanos): `auto`, `0`, `5m`, `1h`.
    pub max_source_resolution: Option<String>,
}

impl QueryOptions {
    /// Deduplicated, and failing instead of answering partially.
    pub fn strict_dedup() -> Self {
        Self {
            dedup: Some(true),
            partial_response: Some(false),
            max_source_resolution: None,
        }
    }

    /// Not deduplicated (each replica's series apart), strict.
    pub fn strict_raw() -> Self {
        Self {
            dedup: Some(false),
            partial_response: Some(false),
            max_source_resolution: None,
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(d) = self.dedup {
            p.push(("dedup", d.to_string()));
        }
        if let Some(d) = self.partial_response {
            p.push(("partial_response", d.to_string()));
        }
        if let Some(r) = &self.max_source_resolution {
            p.push(("max_source_resolution", r.clone()));
        }
        p
    }
}

/// A client for one Prometheus or Thanos Query base URL.
#[derive(Debug, Clone)]
pub struct PromClient {
    http: HttpApi,
}

impl PromClient {
    /// A client for `base` (e.g. `http://127.0.0.1:9090`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: HttpApi::new(base),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// An instant query at `time_ms`.
    pub async fn query(
        &self,
        q: &str,
        time_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, PromError> {
        let mut params = vec![("query", q.to_owned()), ("time", fmt_ts(time_ms))];
        params.extend(opts.params());
        self.get_json("/api/v1/query", &params).await
    }

    /// A range query from `start_ms` to `end_ms` at `step`.
    pub async fn query_range(
        &self,
        q: &str,
        start_ms: i64,
        end_ms: i64,
        step: Duration,
        opts: &QueryOptions,
    ) -> Result<QueryResult, PromError> {
        let mut params = vec![
            ("query", q.to_owned()),
            ("start", fmt_ts(start_ms)),
            ("end", fmt_ts(end_ms)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        params.extend(opts.params());
        self.get_json("/api/v1/query_range", &params).await
    }

    /// Raw samples of `selector` in `[start_ms, end_ms]`: an instant query of
    /// a range selector, which returns every stored sample (unlike
    /// `query_range`, whose lookback hides holes).
    pub async fn raw_samples(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, PromError> {
        // Range selectors are left-open: widen by 1 ms to include start.
        let window_ms = (end_ms - start_ms).max(1) + 1;
        self.query(&format!("{selector}[{window_ms}ms]"), end_ms, opts)
            .await
    }

    /// GET `path` and return the body if the status is 2xx.
    pub async fn get_text(&self, path: &str) -> Result<String, PromError> {
        Ok(self.http.get_text(path, &[]).await?)
    }

    /// The value of `metric` (summed over series matching every `labels`
    /// pair) on the server's own `/metrics` page; None if absent.
    pub async fn own_metric(
        &self,
        metric: &str,
        labels: &[(&str, &str)],
    ) -> Result<Option<f64>, PromError> {
        let text = self.get_text("/metrics").await?;
        Ok(sum_metric(&text, metric, labels))
    }

    async fn get_json(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<QueryResult, PromError> {
        Ok(self
            .http
            .get_parsed(path, params, parse_query_response)
            .await?)
    }
}

/// Prometheus wants seconds, with milliseconds as a fraction.
fn fmt_ts(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

/// Parses a `/api/v1/query` or `/api/v1/query_range` JSON answer.
pub fn parse_query_response(body: &str) -> Result<QueryResult, String> {
    let env: Envelope = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!(
            "{}: {}",
            env.error_type.unwrap_or_default(),
            env.error.unwrap_or_default()
        ));
    }
    let data = env.data.ok_or("success without data")?;
    let sample = |(t, v): (f64, String)| -> Result<(i64, f64), String> {
        let v = parse_float(&v)?;
        Ok(((t * 1000.0).round() as i64, v))
    };
    let series = match data.result_type.as_str() {
        "matrix" | "vector" => {
            let raw: Vec<RawSeries> =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            raw.into_iter()
                .map(|r| {
                    let mut samples = r
                        .values
                        .into_iter()
                        .map(sample)
                        .collect::<Result<Vec<_>, _>>()?;
                    if let Some(v) = r.value {
                        samples.push(sample(v)?);
                    }
                    Ok(Series {
                        labels: r.metric,
                        samples,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?
        }
        "scalar" => {
            let v: (f64, String) =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            vec![Series {
                labels: BTreeMap::new(),
                samples: vec![sample(v)?],
            }]
        }
        other => return Err(format!("unexpected resultType {other}")),
    };
    Ok(QueryResult {
        series,
        warnings: env.warnings,
    })
}

fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s
            .parse()
            .map_err(|e| format!("bad sample value {s:?}: {e}")),
    }
}

/// Sums the samples of `metric` whose labels include every `labels` pair in
/// a Prometheus text exposition; None when no line matches.
pub fn sum_metric(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut sum = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(metric) else {
            continue;
        };
        let (label_part, value_part) = match rest.chars().next() {
            Some('{') => match rest.find('}') {
                Some(end) => (&rest[1..end], &rest[end + 1..]),
                None => continue,
            },
            Some(' ') => ("", rest),
            _ => continue,
        };
        if !labels
            .iter()
            .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")))
        {
            continue;
        }
        if let Some(v) = value_part
            .split_whitespace()
            .next()
            .and_then(|v| parse_float(v).ok())
        {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

#[cfg(test)]
mod tests;
