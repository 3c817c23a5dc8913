//! Test-only: a scripted Kubernetes API server behind kube's `Client`
//! (kube-client's own `tower_test::mock::pair` pattern). Every request is
//! recorded in order, so tests can check what was asked and in what order.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the client made.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON (Null when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the scripted server answers.
pub(crate) enum Reply {
    /// A JSON body with a status code.
    Json(u16, Value),
    /// A watch stream: these events, one per line, then the stream ends.
    Watch(Vec<Value>),
    /// Never answer (a watch with nothing new, a dead server).
    Hang,
}

impl Reply {
    pub fn ok(v: Value) -> Self {
        Reply::Json(200, v)
    }

    pub fn list(kind: &str, items: Vec<Value>) -> Self {
        Reply::Json(
            200,
            json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items}),
        )
    }

    pub fn watch(events: Vec<Value>) -> Self {
        Reply::Watch(events)
    }

    /// A minimal object of the kind the request's path names (what a PATCH
    /// or DELETE answers): typed clients check `apiVersion` and `kind`.
    pub fn object_for(req: &Recorded) -> Self {
        let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let (api_version, rest) = match parts.first() {
            Some(&"api") => (
                parts.get(1).copied().unwrap_or("v1").to_owned(),
                &parts[2.min(parts.len())..],
            ),
            _ => (
                format!(
                    "{}/{}",
                    parts.get(1).unwrap_or(&""),
                    parts.get(2).unwrap_or(&"")
                ),
                &parts[3.min(parts.len())..],
            ),
        };
        // namespaces/<ns>/<plural>/<name>
        let (plural, name) = match rest {
            ["namespaces", _, plural, name, ..] => (*plural, name.to_string()),
            ["namespaces", _, plural] => (*plural, String::new()),
            [plural, name, ..] => (*plural, name.to_string()),
            [plural] => (*plural, String::new()),
            _ => ("", String::new()),
        };
        // A POST names the object in its body.
        let name = if name.is_empty() {
            req.json()["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        } else {
            name
        };
        let kind = match plural {
            "deployments" => "Deployment",
            "statefulsets" => "StatefulSet",
            "pods" => "Pod",
            "services" => "Service",
            "secrets" => "Secret",
            "persistentvolumeclaims" => "PersistentVolumeClaim",
            "prometheuses" => "Prometheus",
            "namespaces" => "Namespace",
            _ => "Unknown",
        };
        Reply::ok(
            json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "uid": format!("uid-{name}")}}),
        )
    }

    /// A `Status` failure, as the API server sends it.
    pub fn status(code: u16) -> Self {
        let reason = StatusCode::from_u16(code)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("")
            .replace(' ', "");
        Reply::Json(
            code,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("mock {code}"), "reason": reason, "code": code}),
        )
    }
}

/// A client wired to the scripted server, and the requests it received.
pub(crate) struct MockApi {
    pub client: Client,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockApi {
    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// `METHOD path` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// Serves `handler`'s replies until the client is dropped.
pub(crate) fn serve<F>(handler: F) -> MockApi
where
    F: Fn(&Recorded) -> Reply + Send + 'static,
{
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        let mut handle = std::pin::pin!(handle);
        // Unanswered requests stay here so the client sees no error.
        let mut held = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes().to_vec())
                .unwrap_or_default();
            let rec = Recorded {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or("").to_owned(),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
                body,
            };
            let reply = handler(&rec);
            seen.lock().unwrap().push(rec);
            match reply {
                Reply::Hang => held.push(send),
                Reply::Json(code, v) => send.send_response(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&v).unwrap()))
                        .unwrap(),
                ),
                Reply::Watch(events) => {
                    let mut text = Vec::new();
                    for e in events {
                        text.extend(serde_json::to_vec(&e).unwrap());
                        text.push(b'\n');
                    }
                    send.send_response(
                        Response::builder()
                            .status(200)
                            .body(Body::from(text))
                            .unwrap(),
                    )
                }
            }
        }
    });
    MockApi {
        client: Client::new(svc, "default"),
        requests,
    }
}
