//! Loki's JSON on the wire: answers parsed into the types of this
//! module's parent, and the push body.

use serde::{Deserialize, Serialize};

use super::*;

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

#[cfg(test)]
mod tests;
