//! The one HTTP layer under every client of the harness (Prometheus, Thanos,
//! Alertmanager, Loki, heap profiles, readiness probes): a base URL with
//! its headers, and one error type that names the method and URL of what
//! failed, so that each client only adds what its API means.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// How long a request may take before it counts as failed: long enough for
/// a query over a day of raw samples on 2 busy cores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error answer's body a message shows: enough for the
/// reason a component gives, never a whole page.
const BODY_SHOWN: usize = 600;

/// Why a request gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer: refused, timed out, or the body was cut off.
    #[error("{method} {url}: {message}")]
    Request {
        method: &'static str,
        url: String,
        /// The whole error chain ([`crate::client::error_chain`]).
        message: String,
    },
    /// An answer outside 2xx.
    #[error("{method} {url} answered {status}: {}", shown(body))]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        /// The whole body, trimmed.
        body: String,
    },
    /// A 2xx answer that is not what the API promises.
    #[error("{method} {url}: cannot parse the answer: {message}")]
    Parse {
        method: &'static str,
        url: String,
        message: String,
    },
}

/// The first [`BODY_SHOWN`] characters of `body`.
pub(crate) fn shown(body: &str) -> String {
    body.chars().take(BODY_SHOWN).collect()
}

/// One HTTP API: a base URL, the headers every request carries (e.g.
/// Loki's `X-Scope-OrgID`) and a connection pool. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct HttpApi {
    base: String,
    http: reqwest::Client,
    headers: Vec<(&'static str, String)>,
}

impl HttpApi {
    /// An API at `base` (e.g. `http://127.0.0.1:9090`; a trailing `/` is
    /// dropped) whose requests time out after [`DEFAULT_TIMEOUT`].
    pub fn new(base: impl Into<String>) -> Self {
        Self::with_timeout(base, DEFAULT_TIMEOUT)
    }

    /// An API at `base` whose requests time out after `timeout` (probes
    /// that poll want a short one).
    pub fn with_timeout(base: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("reqwest client");
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            headers: Vec::new(),
        }
    }

    /// Every request also sends `name: value`.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which may carry its own query string).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` with `params`; the body of a 2xx answer.
    pub async fn get_text(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<String, HttpError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        let rb = if params.is_empty() {
            rb
        } else {
            rb.query(params)
        };
        let (status, body) = send("GET", &url, rb, |r| async { r.text().await }).await?;
        ok_or_status("GET", url, status, body)
    }

    /// GET `path`; the raw bytes of a 2xx answer (profiles, archives).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, HttpError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        let (status, body) = send("GET", &url, rb, |r| async { r.bytes().await }).await?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(status_error(
                "GET",
                url,
                status,
                &String::from_utf8_lossy(&body),
            ))
        }
    }

    /// GET `path` with `params`, read as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, HttpError> {
        self.get_parsed(path, params, |body| {
            serde_json::from_str(body).map_err(|e| e.to_string())
        })
        .await
    }

    /// GET `path` with `params`, the 2xx answer read by the client's own
    /// `parse` (which says in words what is wrong with it).
    pub async fn get_parsed<T>(
        &self,
        path: &str,
        params: &[(&str, String)],
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        let body = self.get_text(path, params).await?;
        parse(&body).map_err(|message| HttpError::Parse {
            method: "GET",
            url: self.url(path),
            message,
        })
    }

    /// POST `path` with `body` (`None`: an empty one) as `content_type`;
    /// the body of a 2xx answer.
    pub async fn post(
        &self,
        path: &str,
        body: Option<(&'static str, String)>,
    ) -> Result<String, HttpError> {
        let (url, mut rb) = self.request(reqwest::Method::POST, path);
        if let Some((content_type, body)) = body {
            rb = rb.header("Content-Type", content_type).body(body);
        }
        let (status, body) = send("POST", &url, rb, |r| async { r.text().await }).await?;
        ok_or_status("POST", url, status, body)
    }

    /// GET `path` and only say which status answered (e.g. whether a
    /// killed component still answers at all).
    pub async fn status(&self, path: &str) -> Result<u16, HttpError> {
        let (url, rb) = self.request(reqwest::Method::GET, path);
        let (status, _) = send("GET", &url, rb, |r| async { r.bytes().await }).await?;
        Ok(status)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = self.url(path);
        let mut rb = self.http.request(method, &url);
        for (name, value) in &self.headers {
            rb = rb.header(*name, value);
        }
        (url, rb)
    }
}

/// Sends `rb` and reads the whole body with `read`: the status and body,
/// or why there was none.
async fn send<B, F>(
    method: &'static str,
    url: &str,
    rb: reqwest::RequestBuilder,
    read: impl FnOnce(reqwest::Response) -> F,
) -> Result<(u16, B), HttpError>
where
    F: Future<Output = reqwest::Result<B>>,
{
    let failed = |e: reqwest::Error| HttpError::Request {
        method,
        url: url.to_owned(),
        message: crate::client::error_chain(&e),
    };
    let resp = rb.send().await.map_err(failed)?;
    let status = resp.status().as_u16();
    let body = read(resp).await.map_err(failed)?;
    Ok((status, body))
}

fn ok_or_status(
    method: &'static str,
    url: String,
    status: u16,
    body: String,
) -> Result<String, HttpError> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(status_error(method, url, status, &body))
    }
}

fn status_error(method: &'static str, url: String, status: u16, body: &str) -> HttpError {
    HttpError::Status {
        method,
        url,
        status,
        body: body.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests;
