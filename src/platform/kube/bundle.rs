//! What a failure bundle holds from a Kubernetes run: every component's
//! log, every pod's log (the previous container's too), the namespace's
//! events and the rendered chart values. Secrets redacted.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use kube::api::{ListParams, LogParams};

use super::helm;
use super::platform::KubePlatform;
use crate::process::redact;

/// Lines of each container's log kept in a bundle.
const LOG_LINES: i64 = 5000;

impl KubePlatform {
    /// Writes every pod's logs, the events and the rendered values under
    /// `out`, and refreshes the component logs `components()` names.
    /// Returns what could not be had, one line each.
    pub(super) async fn collect_diagnostics(&self, out: &Path) -> Vec<String> {
        self.collect_logs().await;
        let secrets = [self.endpoints.s3.credentials.secret_key.clone()];
        let mut missing = Vec::new();
        let put = |path: PathBuf, text: &str| {
            helm::write_private(&path, &redact(text, &secrets))
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        };
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        match pods.list(&ListParams::default()).await {
            Ok(list) => {
                for p in &list.items {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    let containers = p.spec.iter().flat_map(|s| &s.containers);
                    for c in containers {
                        for previous in [false, true] {
                            let lp = LogParams {
                                container: Some(c.name.clone()),
                                tail_lines: Some(LOG_LINES),
                                previous,
                                ..LogParams::default()
                            };
                            // No previous container is the usual case.
                            let Ok(text) = pods.logs(&name, &lp).await else {
                                continue;
                            };
                            let file = if previous {
                                format!("{}.previous.log", c.name)
                            } else {
                                format!("{}.log", c.name)
                            };
                            missing.extend(put(out.join("pods").join(&name).join(file), &text));
                        }
                    }
                }
            }
            Err(e) => missing.push(format!("pods of {}: {e}", self.ns)),
        }
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        match events.list(&ListParams::default()).await {
            Ok(list) => missing.extend(put(out.join("events.txt"), &event_lines(list.items))),
            Err(e) => missing.push(format!("events of {}: {e}", self.ns)),
        }
        let values = self.opts.run_dir.join("values");
        for entry in std::fs::read_dir(&values).into_iter().flatten().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                missing.extend(put(out.join("values").join(entry.file_name()), &text));
            }
        }
        missing
    }

    pub async fn collect_logs(&self) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        for c in &self.components {
            let text = match self.pod_of(&c.pod).await {
                Some(pod) => {
                    let lp = LogParams {
                        container: Some(c.container.clone()),
                        tail_lines: Some(5000),
                        ..LogParams::default()
                    };
                    pods.logs(&pod, &lp).await.unwrap_or_else(|e| {
                        format!("stackproof: could not read the log of {pod}: {e}\n")
                    })
                }
                None => format!(
                    "stackproof: no pod for {} when logs were collected\n",
                    c.pod
                ),
            };
            let path = self.log_path(&c.name);
            let _ = helm::write_private(&path, &text);
        }
    }

    pub(super) async fn pod_of(&self, what: &str) -> Option<String> {
        let (kind, name) = what.split_once('/')?;
        if kind == "pod" {
            return Some(name.to_owned());
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let list = pods
            .list(
                &kube::api::ListParams::default().labels(&format!("app.kubernetes.io/name={name}")),
            )
            .await
            .ok()?;
        list.items
            .first()
            .and_then(|p| p.metadata.name.clone())
            .or_else(|| {
                // Charts label by instance, not name; the pod of a StatefulSet is <name>-0.
                (kind == "statefulset").then(|| format!("{name}-0"))
            })
    }

    pub(super) fn log_path(&self, name: &str) -> PathBuf {
        self.opts.run_dir.join("logs").join(format!("{name}.log"))
    }
}

/// One line per event, oldest first: time, type, reason, object, message.
fn event_lines(mut events: Vec<Event>) -> String {
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(when);
    events
        .iter()
        .map(|e| {
            format!(
                "{}  {:<8} {:<22} {}/{}  {}",
                when(e),
                e.type_.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.involved_object.kind.as_deref().unwrap_or(""),
                e.involved_object.name.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
