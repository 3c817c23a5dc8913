//! The HTTP side of the Loki client: one base URL, its tenant, and a
//! method per API it calls.

use std::time::Duration;

use super::*;

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
            message: crate::client::error_chain(&e),
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| LokiError::Http {
            method,
            url: url.to_owned(),
            message: crate::client::error_chain(&e),
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
