//! The HTTP side of the Loki client: one base URL, its tenant, and a
//! method per API it calls.

use std::time::Duration;

use super::*;
use crate::client::http::HttpApi;

/// A client for one Loki base URL (tenant `fake` when auth is off).
#[derive(Debug, Clone)]
pub struct LokiClient {
    http: HttpApi,
}

impl LokiClient {
    /// A client for `base` (e.g. `http://127.0.0.1:3100`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: HttpApi::new(base),
        }
    }

    /// Sends `X-Scope-OrgID: tenant` (only meaningful with auth on).
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.http = self.http.with_header("X-Scope-OrgID", tenant);
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    async fn get_text(&self, path: &str, params: &[(&str, String)]) -> Result<String, LokiError> {
        Ok(self.http.get_text(path, params).await?)
    }

    /// GET `path` with `params`, the answer read by `parse`.
    async fn get<T>(
        &self,
        path: &str,
        params: &[(&str, String)],
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, LokiError> {
        Ok(self.http.get_parsed(path, params, parse).await?)
    }

    /// Pushes streams as JSON; Loki answers 204.
    pub async fn push(&self, streams: &[PushStream]) -> Result<(), LokiError> {
        let body = Some(("application/json", push_body(streams)));
        self.http.post("/loki/api/v1/push", body).await?;
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
        self.get(path, &params, parse_query_response).await
    }

    /// An instant query at `time_ns` (metric queries; Loki rejects log
    /// selectors here with a 400).
    pub async fn query(&self, q: &str, time_ns: i64) -> Result<QueryResponse, LokiError> {
        let path = "/loki/api/v1/query";
        let params = [("query", q.to_owned()), ("time", time_ns.to_string())];
        self.get(path, &params, parse_query_response).await
    }

    /// Every label name seen in `[start_ns, end_ns]`.
    pub async fn labels(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, LokiError> {
        let path = "/loki/api/v1/labels";
        let params = [("start", start_ns.to_string()), ("end", end_ns.to_string())];
        self.get(path, &params, parse_string_list).await
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
        self.get(&path, &params, parse_string_list).await
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
        self.get(path, &params, parse_series).await
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
        self.get(path, &params, parse_index_stats).await
    }

    /// `Ok(())` when `/ready` answers 200; otherwise what it said.
    pub async fn ready(&self) -> Result<(), LokiError> {
        self.get_text("/ready", &[]).await.map(|_| ())
    }

    /// Asks the ingester to flush every in-memory chunk. Loki answers 204
    /// at once, before the upload ends: poll the bucket or the metrics.
    pub async fn flush(&self) -> Result<(), LokiError> {
        self.http.post("/flush", None).await?;
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
        let v: serde_json::Value = self.http.get_json(path, &[]).await?;
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
