//! A webhook receiver on 127.0.0.1 keeping every Alertmanager notification
//! (payload version 4): beside the emails it gives Alertmanager's own group
//! key, which the emails' templated header must equal.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::LoopbackServer;
use crate::data::exporter::now_ms;

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookAlert {
    pub status: String,
    pub labels: BTreeMap<String, String>,
}

/// One notification as Alertmanager posted it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub status: String,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub alerts: Vec<WebhookAlert>,
    /// When it arrived, ms since the epoch (not in the payload).
    #[serde(skip)]
    pub received_at_ms: i64,
}

#[derive(Debug, Default)]
struct Shared {
    notifications: Mutex<Vec<Notification>>,
    /// Bodies that did not parse, kept for the report.
    unparsed: Mutex<Vec<String>>,
}

/// The running receiver. Dropping it closes the listener and connections.
#[derive(Debug)]
pub struct WebhookSink {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl WebhookSink {
    /// Listens on 127.0.0.1 at a free port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(std::net::IpAddr::from([127, 0, 0, 1])).await
    }

    /// As [`WebhookSink::start`], on `ip` (a local address the stack reaches).
    pub async fn start_on(ip: std::net::IpAddr) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let server = LoopbackServer::start(ip, move |stream, _| {
            let s = s.clone();
            async move {
                let svc = service_fn(move |req| receive(req, s.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            }
        })
        .await?;
        Ok(Self { shared, server })
    }

    /// The URL to configure in `webhook_configs`.
    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.server.addr())
    }

    /// Every notification received, in arrival order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.notifications.lock().unwrap().clone()
    }

    /// Bodies that were not a v4 payload.
    pub fn unparsed(&self) -> Vec<String> {
        self.shared.unparsed.lock().unwrap().clone()
    }
}

async fn receive(
    req: Request<hyper::body::Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    match serde_json::from_slice::<Notification>(&body) {
        Ok(mut n) => {
            n.received_at_ms = now_ms();
            shared.notifications.lock().unwrap().push(n);
        }
        Err(e) => shared.unparsed.lock().unwrap().push(format!(
            "{e}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        )),
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_a_v4_payload_with_its_group_key() {
        let sink = WebhookSink::start().await.unwrap();
        let body = r#"{"version":"4","groupKey":"{}:{alertname=\"A\"}","status":"firing",
            "receiver":"r","groupLabels":{"alertname":"A"},"commonLabels":{},
            "commonAnnotations":{},"externalURL":"http://127.0.0.1:1","truncatedAlerts":0,
            "alerts":[{"status":"firing","labels":{"alertname":"A"},"annotations":{},
            "startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",
            "generatorURL":"","fingerprint":"f"}]}"#;
        crate::client::http::HttpApi::new(sink.url())
            .post("", Some(("application/json", body.to_owned())))
            .await
            .unwrap();
        let n = sink.notifications();
        assert_eq!(n.len(), 1, "{:?}", sink.unparsed());
        assert_eq!(n[0].group_key, "{}:{alertname=\"A\"}");
        assert_eq!(n[0].alerts[0].labels["alertname"], "A");
    }
}
