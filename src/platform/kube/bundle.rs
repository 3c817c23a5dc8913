//! What a failure bundle holds from a Kubernetes run: every component's log.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use std::path::PathBuf;

use super::helm;
use super::platform::KubePlatform;

impl KubePlatform {
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
