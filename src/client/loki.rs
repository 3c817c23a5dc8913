//! Loki HTTP API client: push (JSON), LogQL queries (streams, matrix,
//! vector, scalar), the metadata APIs (labels, label values, series, index
//! stats), `/ready`, `/flush` and Loki's own `/metrics`.
//!
//! Timestamps of log entries are Unix nanoseconds (`i64`, good until 2262);
//! metric samples come back as milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    // Missing `Option` fields read as `None`.
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct RawQueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
    #[serde(default)]
    stats: Option<RawStats>,
}

#[derive(Deserialize)]
struct RawStats {
    #[serde(default)]
    summary: Option<StatsSummary>,
}

#[derive(Deserialize)]
struct RawStream {
    stream: Labels,
    values: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct RawMatrix {
    metric: Labels,
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct RawVector {
    metric: Labels,
    value: (f64, String),
}

fn sample(t: f64, v: &str) -> Result<(i64, f64), String> {
    let value = match v {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|e| format!("sample value {v:?}: {e}"))?,
    };
    Ok(((t * 1000.0).round() as i64, value))
}

fn unwrap_envelope<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, String> {
    let env: Envelope<T> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!(
            "status {}: {}",
            env.status,
            env.error.unwrap_or_default()
        ));
    }
    env.data
        .ok_or_else(|| "no data in a successful answer".to_owned())
}

/// Parses the JSON answer of `query` or `query_range`.
pub fn parse_query_response(body: &str) -> Result<QueryResponse, String> {
    let raw: RawQueryData = unwrap_envelope(body)?;
    let summary = raw.stats.and_then(|s| s.summary);
    let data = match raw.result_type.as_str() {
        "streams" => {
            let streams: Vec<RawStream> =
                serde_json::from_value(raw.result).map_err(|e| format!("streams: {e}"))?;
            let mut out = Vec::with_capacity(streams.len());
            for s in streams {
                let mut entries = Vec::with_capacity(s.values.len());
                for (ts, line) in s.values {
                    let ts_ns = ts.parse().map_err(|e| format!("timestamp {ts:?}: {e}"))?;
                    entries.push(Entry { ts_ns, line });
                }
                out.push(Stream {
                    labels: s.stream,
                    entries,
                });
            }
            QueryData::Streams(out)
        }
        "matrix" => {
            let m: Vec<RawMatrix> =
                serde_json::from_value(raw.result).map_err(|e| format!("matrix: {e}"))?;
            let mut out = Vec::with_capacity(m.len());
            for s in m {
                let samples = s
                    .values
                    .iter()
                    .map(|(t, v)| sample(*t, v))
                    .collect::<Result<_, _>>()?;
                out.push(MatrixSeries {
                    labels: s.metric,
                    samples,
                });
            }
            QueryData::Matrix(out)
        }
        "vector" => {
            let v: Vec<RawVector> =
                serde_json::from_value(raw.result).map_err(|e| format!("vector: {e}"))?;
            let mut out = Vec::with_capacity(v.len());
            for s in v {
                let (t_ms, value) = sample(s.value.0, &s.value.1)?;
                out.push(VectorSample {
                    labels: s.metric,
                    t_ms,
                    value,
                });
            }
            QueryData::Vector(out)
        }
        "scalar" => {
            let (t, v): (f64, String) =
                serde_json::from_value(raw.result).map_err(|e| format!("scalar: {e}"))?;
            let (t_ms, value) = sample(t, &v)?;
            QueryData::Scalar(t_ms, value)
        }
        other => return Err(format!("unknown resultType {other:?}")),
    };
    Ok(QueryResponse { data, summary })
}

/// Parses the answer of `labels` or `label/<name>/values`. Loki omits
/// `data` when there is no label at all.
pub fn parse_string_list(body: &str) -> Result<Vec<String>, String> {
    let env: Envelope<Vec<String>> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!(
            "status {}: {}",
            env.status,
            env.error.unwrap_or_default()
        ));
    }
    Ok(env.data.unwrap_or_default())
}

/// Parses the answer of `series`.
pub fn parse_series(body: &str) -> Result<Vec<Labels>, String> {
    let env: Envelope<Vec<Labels>> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if env.status != "success" {
        return Err(format!(
            "status {}: {}",
            env.status,
            env.error.unwrap_or_default()
        ));
    }
    Ok(env.data.unwrap_or_default())
}

/// Parses the answer of `index/stats` (a bare object, no envelope).
pub fn parse_index_stats(body: &str) -> Result<IndexStats, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// One stream to push: labels and `(ts_ns, line)` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushStream {
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

#[derive(Serialize)]
struct WireStream<'a> {
    stream: &'a Labels,
    values: Vec<(String, &'a str)>,
}

#[derive(Serialize)]
struct WirePush<'a> {
    streams: Vec<WireStream<'a>>,
}

/// The JSON body of a push (`{"streams":[{"stream":{…},"values":[["ns","line"]]}]}`).
pub fn push_body(streams: &[PushStream]) -> String {
    let wire = WirePush {
        streams: streams
            .iter()
            .map(|s| WireStream {
                stream: &s.labels,
                values: s
                    .entries
                    .iter()
                    .map(|e| (e.ts_ns.to_string(), e.line.as_str()))
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&wire).expect("push body serializes")
}

/// A client for one Loki base URL (tenant `fake` when auth is off).
#[derive(Debug, Clone)]
pub struct LokiClient {
    base: String,
    http: reqwest::Client,
    tenant: Option<String>,
}

impl LokiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:3100`).
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            tenant: None,
        }
    }

    /// Sends `X-Scope-OrgID: tenant` (only meaningful with auth on).
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = format!("{}{path}", self.base);
        let mut rb = self.http.request(method, &url);
        if let Some(t) = &self.tenant {
            rb = rb.header("X-Scope-OrgID", t);
        }
        (url, rb)
    }

    async fn send(
        &self,
        method: &'static str,
        url: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<(u16, String), LokiError> {
        let resp = rb.send().await.map_err(|e| LokiError::Http {
            method,
            url: url.to_owned(),
            message: super::error_chain(&e),
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| LokiError::Http {
            method,
            url: url.to_owned(),
            message: super::error_chain(&e),
        })?;
        Ok((status, body))
    }

    async fn get_text(&self, path: &str, params: &[(&str, String)]) -> Result<String, LokiError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        let (status, body) = self.send("GET", &url, rb.query(params)).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(&url, status, &body));
        }
        Ok(body)
    }

    fn parse<T>(url: &str, r: Result<T, String>) -> Result<T, LokiError> {
        r.map_err(|message| LokiError::Parse {
            url: url.to_owned(),
            message,
        })
    }

    /// Pushes streams as JSON; Loki answers 204.
    pub async fn push(&self, streams: &[PushStream]) -> Result<(), LokiError> {
        let (url, rb) = self.request(reqwest::Method::POST, "/loki/api/v1/push");
        let rb = rb
            .header("Content-Type", "application/json")
            .body(push_body(streams));
        let (status, body) = self.send("POST", &url, rb).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(&url, status, &body));
        }
        Ok(())
    }

    /// A range query over `[start_ns, end_ns)` (Loki's `end` is exclusive
    /// for log queries). `step` matters for metric queries only.
    pub async fn query_range(
        &self,
        q: &str,
        start_ns: i64,
        end_ns: i64,
        opts: &RangeOptions,
    ) -> Result<QueryResponse, LokiError> {
        let mut params = vec![
            ("query", q.to_owned()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
            ("limit", opts.limit.to_string()),
            ("direction", opts.direction.as_str().to_owned()),
        ];
        if let Some(step) = opts.step {
            params.push(("step", format!("{}", step.as_secs_f64())));
        }
        let path = "/loki/api/v1/query_range";
        let body = self.get_text(path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_query_response(&body))
    }

    /// An instant query at `time_ns` (metric queries; Loki rejects log
    /// selectors here with a 400).
    pub async fn query(&self, q: &str, time_ns: i64) -> Result<QueryResponse, LokiError> {
        let path = "/loki/api/v1/query";
        let params = [("query", q.to_owned()), ("time", time_ns.to_string())];
        let body = self.get_text(path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_query_response(&body))
    }

    /// Every label name seen in `[start_ns, end_ns]`.
    pub async fn labels(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, LokiError> {
        let path = "/loki/api/v1/labels";
        let params = [("start", start_ns.to_string()), ("end", end_ns.to_string())];
        let body = self.get_text(path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_string_list(&body))
    }

    /// The values of label `name`, optionally restricted to streams that
    /// match `selector`.
    pub async fn label_values(
        &self,
        name: &str,
        selector: Option<&str>,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, LokiError> {
        let path = format!("/loki/api/v1/label/{name}/values");
        let mut params = vec![("start", start_ns.to_string()), ("end", end_ns.to_string())];
        if let Some(s) = selector {
            params.push(("query", s.to_owned()));
        }
        let body = self.get_text(&path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_string_list(&body))
    }

    /// The label sets of the streams matching `selector`.
    pub async fn series(
        &self,
        selector: &str,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, LokiError> {
        let path = "/loki/api/v1/series";
        let params = [
            ("match[]", selector.to_owned()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
        ];
        let body = self.get_text(path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_series(&body))
    }

    /// Index statistics of `selector` (counts flushed chunks only).
    pub async fn index_stats(
        &self,
        selector: &str,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<IndexStats, LokiError> {
        let path = "/loki/api/v1/index/stats";
        let params = [
            ("query", selector.to_owned()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
        ];
        let body = self.get_text(path, &params).await?;
        Self::parse(&format!("{}{path}", self.base), parse_index_stats(&body))
    }

    /// `Ok(())` when `/ready` answers 200; otherwise what it said.
    pub async fn ready(&self) -> Result<(), LokiError> {
        self.get_text("/ready", &[]).await.map(|_| ())
    }

    /// Asks the ingester to flush every in-memory chunk. Loki answers 204
    /// at once, before the upload ends: poll the bucket or the metrics.
    pub async fn flush(&self) -> Result<(), LokiError> {
        let (url, rb) = self.request(reqwest::Method::POST, "/flush");
        let (status, body) = self.send("POST", &url, rb).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(&url, status, &body));
        }
        Ok(())
    }

    /// Loki's running configuration (`/config`, YAML): what it really
    /// does, whatever file it was given.
    pub async fn config(&self) -> Result<String, LokiError> {
        self.get_text("/config", &[]).await
    }

    /// Loki's own `/metrics` text.
    pub async fn metrics(&self) -> Result<String, LokiError> {
        self.get_text("/metrics", &[]).await
    }

    /// The `version` of `/loki/api/v1/status/buildinfo`.
    pub async fn version(&self) -> Result<String, LokiError> {
        let path = "/loki/api/v1/status/buildinfo";
        let body = self.get_text(path, &[]).await?;
        let v: serde_json::Value = Self::parse(
            &format!("{}{path}", self.base),
            serde_json::from_str(&body).map_err(|e| e.to_string()),
        )?;
        Ok(v.get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_owned())
    }
}

/// Options of a range query.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    /// Maximum number of lines (Loki's default is 100; its own ceiling,
    /// `max_entries_limit_per_query`, is 5000).
    pub limit: u32,
    pub direction: Direction,
    /// Step of a metric query (None: Loki picks one).
    pub step: Option<Duration>,
}

impl Default for RangeOptions {
    fn default() -> Self {
        Self {
            limit: 5000,
            direction: Direction::Forward,
            step: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/loki")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn streams_answer_parses_every_entry_with_nanosecond_timestamps() {
        let r = parse_query_response(&fixture("query_range_streams.json")).unwrap();
        let summary = r.summary.clone().expect("stats.summary");
        assert_eq!(summary.total_entries_returned, 15);
        let streams = r.data.into_streams().unwrap();
        assert_eq!(streams.len(), 3);
        let total: usize = streams.iter().map(|s| s.entries.len()).sum();
        assert_eq!(total, 15);
        let billing = &streams[0];
        assert_eq!(billing.labels["app"], "billing");
        assert_eq!(billing.labels["service_name"], "billing");
        assert_eq!(billing.entries[0].ts_ns, 1_795_547_825_000_000_000);
        assert!(billing.entries[0].line.contains("\"seq\": 0"));
    }

    #[test]
    fn parsed_fields_become_labels() {
        let streams = parse_query_response(&fixture("query_range_json.json"))
            .unwrap()
            .data
            .into_streams()
            .unwrap();
        assert_eq!(streams.len(), 3);
        assert_eq!(streams[0].labels["amount"], "20");
        assert_eq!(streams[0].labels["seq"], "2");
        let logfmt = parse_query_response(&fixture("query_range_logfmt_filter.json"))
            .unwrap()
            .data
            .into_streams()
            .unwrap();
        // A parsed field named like a stream label gets the `_extracted` suffix.
        assert!(
            logfmt
                .iter()
                .all(|s| s.labels.contains_key("level_extracted"))
        );
        assert_eq!(logfmt[0].entries[0].line, "2 order placed");
    }

    #[test]
    fn matrix_vector_and_scalar_answers_parse() {
        let m = parse_query_response(&fixture("query_range_matrix.json"))
            .unwrap()
            .data
            .into_matrix()
            .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].labels["level"], "error");
        assert_eq!(
            m[0].samples,
            vec![
                (1_795_547_850_000, 3.0),
                (1_795_547_880_000, 5.0),
                (1_795_547_910_000, 2.0)
            ]
        );
        let v = parse_query_response(&fixture("query_instant_vector.json"))
            .unwrap()
            .data
            .into_vector()
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[1].labels["app"].as_str(), v[1].value),
            ("checkout", 10.0)
        );
        assert_eq!(v[1].t_ms, 1_795_547_895_000);
        // What the fixture calls "scalar" is a one-sample vector with no labels.
        let s = parse_query_response(&fixture("query_instant_scalar.json"))
            .unwrap()
            .data
            .into_vector()
            .unwrap();
        assert_eq!(s.len(), 1);
        assert!(s[0].labels.is_empty());
        assert_eq!(s[0].value, 1.0);
        // A true scalar result, as `query=vector(2)`-style queries return.
        let body =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1795547895.5,"2"]}}"#;
        assert_eq!(
            parse_query_response(body).unwrap().data,
            QueryData::Scalar(1_795_547_895_500, 2.0)
        );
    }

    #[test]
    fn a_wrong_result_type_is_named() {
        let r = parse_query_response(&fixture("query_range_matrix.json")).unwrap();
        assert_eq!(
            r.data.into_streams().unwrap_err(),
            "expected streams, got a matrix"
        );
        let err = parse_query_response(
            r#"{"status":"success","data":{"resultType":"table","result":[]}}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown resultType \"table\""), "{err}");
    }

    #[test]
    fn metadata_answers_parse() {
        assert_eq!(
            parse_string_list(&fixture("labels.json")).unwrap(),
            ["app", "job", "level", "service_name"]
        );
        assert_eq!(
            parse_string_list(&fixture("label_values_app.json")).unwrap(),
            ["billing", "checkout"]
        );
        assert_eq!(
            parse_series(&fixture("series.json")).unwrap(),
            Vec::<Labels>::new()
        );
        let series =
            parse_series(r#"{"status":"success","data":[{"app":"api","level":"info"}]}"#).unwrap();
        assert_eq!(series[0]["app"], "api");
        assert_eq!(
            parse_index_stats(&fixture("index_stats.json")).unwrap(),
            IndexStats {
                streams: 3,
                chunks: 3,
                bytes: 0,
                entries: 15
            }
        );
        // Loki leaves `data` out when there is no label at all.
        assert!(
            parse_string_list(r#"{"status":"success"}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn plain_text_400s_become_bad_query_errors_with_their_position() {
        let body = fixture("error_bad_logql.json");
        let err = status_error("http://l/loki/api/v1/query_range", 400, &body);
        match &err {
            LokiError::BadQuery {
                position, message, ..
            } => {
                assert_eq!(*position, Some((1, 18)));
                assert!(
                    message.starts_with("parse error at line 1, col 18: syntax error"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .contains("rejected the query: parse error at line 1, col 18")
        );
        let err = status_error("u", 400, &fixture("error_no_selector.json"));
        match err {
            LokiError::BadQuery {
                position, message, ..
            } => {
                assert_eq!(position, None);
                assert!(
                    message.contains("at least one regexp or equality matcher"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        match status_error(
            "u",
            503,
            "Ingester not ready: waiting for 15s after being ready\n",
        ) {
            LokiError::Status { status, body, .. } => {
                assert_eq!(status, 503);
                assert_eq!(
                    body,
                    "Ingester not ready: waiting for 15s after being ready"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn push_body_matches_what_loki_accepts() {
        let req: serde_json::Value = serde_json::from_str(&fixture("push-request.json")).unwrap();
        let first = &req["streams"][0];
        let labels: Labels = serde_json::from_value(first["stream"].clone()).unwrap();
        let entries: Vec<Entry> = first["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Entry {
                ts_ns: v[0].as_str().unwrap().parse().unwrap(),
                line: v[1].as_str().unwrap().to_owned(),
            })
            .collect();
        let body = push_body(&[PushStream { labels, entries }]);
        let ours: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(ours["streams"][0], *first);
    }

    #[test]
    fn label_text_quotes_values() {
        let mut l = Labels::new();
        l.insert("app".into(), "api".into());
        l.insert("msg".into(), "say \"hi\"".into());
        assert_eq!(label_text(&l), r#"{app="api", msg="say \"hi\""}"#);
    }
}
