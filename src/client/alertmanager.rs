//! Alertmanager's HTTP API v2, as much as the harness reads: the cluster's
//! state and the alerts it holds (what a person would look at when no email
//! came).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http::HttpApi;
use super::prom::PromError;

/// `cluster` of `/api/v2/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterState {
    /// `ready`, `settling` or `disabled`.
    pub status: String,
    /// Members this instance sees, itself included.
    pub peers: usize,
}

/// One alert Alertmanager holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAlert {
    pub labels: BTreeMap<String, String>,
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
}

#[derive(Deserialize)]
struct Status {
    cluster: ClusterJson,
}

#[derive(Deserialize)]
struct ClusterJson {
    status: String,
    #[serde(default)]
    peers: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct AlertJson {
    labels: BTreeMap<String, String>,
    status: AlertStatusJson,
}

#[derive(Deserialize)]
struct AlertStatusJson {
    state: String,
}

/// A client for one Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    http: HttpApi,
}

impl AlertmanagerClient {
    /// A client for `base` (e.g. `http://127.0.0.1:9093`).
    pub fn new(base: &str) -> Self {
        Self {
            http: HttpApi::new(base),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        self.http.base()
    }

    /// The cluster's state as this instance sees it.
    pub async fn cluster(&self) -> Result<ClusterState, PromError> {
        Ok(self
            .http
            .get_parsed("/api/v2/status", &[], parse_cluster)
            .await?)
    }

    /// The config it runs (`config.original` of `/api/v2/status`; secrets
    /// show as `<secret>`).
    pub async fn config(&self) -> Result<String, PromError> {
        let v: serde_json::Value = self.http.get_json("/api/v2/status", &[]).await?;
        Ok(v["config"]["original"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Every alert it holds.
    pub async fn alerts(&self) -> Result<Vec<HeldAlert>, PromError> {
        Ok(self
            .http
            .get_parsed("/api/v2/alerts", &[], parse_alerts)
            .await?)
    }

    /// One line for a report: cluster state and the alerts held.
    pub async fn describe(&self) -> String {
        let cluster = match self.cluster().await {
            Ok(c) => format!("cluster {} with {} peer(s)", c.status, c.peers),
            Err(e) => format!("status unreadable ({e})"),
        };
        let alerts = match self.alerts().await {
            Ok(a) if a.is_empty() => "0 alerts".to_owned(),
            Ok(a) => format!(
                "{} alert(s): {}",
                a.len(),
                a.iter()
                    .map(|x| format!("{} ({})", fmt_labels(&x.labels), x.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("alerts unreadable ({e})"),
        };
        format!("{}: {cluster}, {alerts}", self.base())
    }
}

/// `{a="b",c="d"}`, sorted by name: Alertmanager's own label set notation.
pub fn fmt_labels(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn parse_cluster(body: &str) -> Result<ClusterState, String> {
    let s: Status = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(ClusterState {
        status: s.cluster.status,
        peers: s.cluster.peers.map_or(0, |p| p.len()),
    })
}

fn parse_alerts(body: &str) -> Result<Vec<HeldAlert>, String> {
    let a: Vec<AlertJson> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok(a.into_iter()
        .map(|a| HeldAlert {
            labels: a.labels,
            state: a.status.state,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_and_alerts_parse() {
        let c = parse_cluster(
            r#"{"cluster":{"name":"x","status":"ready","peers":[{"address":"127.0.0.1:1","name":"a"},{"address":"127.0.0.1:2","name":"b"}]},"config":{"original":""},"uptime":"2026-01-01T00:00:00Z","versionInfo":{}}"#,
        )
        .unwrap();
        assert_eq!(c.status, "ready");
        assert_eq!(c.peers, 2);
        let d = parse_cluster(r#"{"cluster":{"status":"disabled"}}"#).unwrap();
        assert_eq!(d.peers, 0);
        let a = parse_alerts(
            r#"[{"labels":{"alertname":"A","case":"main"},"status":{"state":"active","inhibitedBy":[],"silencedBy":[]},"annotations":{},"endsAt":"","fingerprint":"f","receivers":[],"startsAt":"","updatedAt":""}]"#,
        )
        .unwrap();
        assert_eq!(a[0].state, "active");
        assert_eq!(fmt_labels(&a[0].labels), r#"{alertname="A",case="main"}"#);
    }
}
