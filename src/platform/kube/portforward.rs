//! Reaching services from the harness: a listener on 127.0.0.1 whose every
//! connection is carried to a pod through the API server
//! (`Api::<Pod>::portforward`, a WebSocket). The target is resolved on each
//! new connection, Service → a Ready pod behind it, so a forward survives
//! the faults the scenarios cause (a replica's pod deleted and recreated,
//! MinIO scaled to zero and back).

use std::net::{Ipv4Addr, SocketAddr};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ListParams;
use kube::{Api, Client};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::error::KubeError;
use super::wait::pod_ready;

/// What a forward reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One pod by name (a StatefulSet's pods keep theirs across restarts).
    Pod {
        /// Pod name.
        name: String,
        /// Container port.
        port: u16,
    },
    /// Any Ready pod behind a Service's selector.
    Service {
        /// Service name.
        name: String,
        /// The Service's port (mapped through its `targetPort`).
        port: u16,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pod { name, port } => write!(f, "pod/{name}:{port}"),
            Target::Service { name, port } => write!(f, "service/{name}:{port}"),
        }
    }
}

/// Resolves `target` to a pod name and container port, now.
pub async fn resolve(
    client: &Client,
    namespace: &str,
    target: &Target,
) -> Result<(String, u16), KubeError> {
    match target {
        Target::Pod { name, port } => Ok((name.clone(), *port)),
        Target::Service { name, port } => {
            let services: Api<Service> = Api::namespaced(client.clone(), namespace);
            let svc = services
                .get(name)
                .await
                .map_err(KubeError::api(format!("get service {namespace}/{name}")))?;
            let spec = svc.spec.unwrap_or_default();
            let sp = spec
                .ports
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.port == i32::from(*port))
                .ok_or_else(|| KubeError::Manifest {
                    name: format!("service {namespace}/{name}"),
                    message: format!("has no port {port}"),
                })?;
            let selector = spec.selector.unwrap_or_default();
            if selector.is_empty() {
                return Err(KubeError::Manifest {
                    name: format!("service {namespace}/{name}"),
                    message: "has no selector: nothing to forward to".into(),
                });
            }
            let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
            let list = pods
                .list(&ListParams::default().labels(&labels.join(",")))
                .await
                .map_err(KubeError::api(format!(
                    "list pods of service {namespace}/{name}"
                )))?;
            let mut seen = Vec::new();
            for pod in &list.items {
                let pname = pod.metadata.name.clone().unwrap_or_default();
                match pod_ready(Some(pod)) {
                    Ok(()) => {
                        let cport = container_port(pod, sp.target_port.as_ref(), *port)
                            .ok_or_else(|| KubeError::Manifest {
                                name: format!("pod {namespace}/{pname}"),
                                message: format!("no container port named {:?}", sp.target_port),
                            })?;
                        return Ok((pname, cport));
                    }
                    Err(why) => seen.push(format!("{pname}: {why}")),
                }
            }
            Err(KubeError::Manifest {
                name: format!("service {namespace}/{name}"),
                message: if seen.is_empty() {
                    "no pod matches its selector".into()
                } else {
                    format!("no Ready pod behind it ({})", seen.join("; "))
                },
            })
        }
    }
}

/// The container port a Service's `targetPort` names on `pod`.
fn container_port(pod: &Pod, target: Option<&IntOrString>, service_port: u16) -> Option<u16> {
    match target {
        None => Some(service_port),
        Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

/// A running forward: `127.0.0.1:<free port>` → target. Dropping it stops
/// the listener and every connection it carries.
#[derive(Debug)]
pub struct PortForward {
    local: SocketAddr,
    target: Target,
    task: JoinHandle<()>,
}

impl PortForward {
    /// Binds a free local port and starts forwarding to `target` in
    /// `namespace`.
    pub async fn start(client: Client, namespace: &str, target: Target) -> Result<Self, KubeError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(KubeError::io(format!("bind a local port for {target}")))?;
        let local = listener
            .local_addr()
            .map_err(KubeError::io("local address of a port-forward"))?;
        let ns = namespace.to_owned();
        let t = target.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let (client, ns, t) = (client.clone(), ns.clone(), t.clone());
                // The set aborts every connection when the forward is dropped.
                conns.spawn(async move {
                    if let Err(e) = carry(client, &ns, &t, conn).await {
                        tracing::debug!("port-forward to {t} in {ns}: {e}");
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            local,
            target,
            task,
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.local.to_string()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local)
    }

    /// What it forwards to.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Carries one local connection to the target's pod.
async fn carry(
    client: Client,
    namespace: &str,
    target: &Target,
    mut conn: TcpStream,
) -> Result<(), KubeError> {
    let (pod, port) = resolve(&client, namespace, target).await?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let mut pf = pods
        .portforward(&pod, &[port])
        .await
        .map_err(KubeError::api(format!(
            "port-forward to pod {namespace}/{pod}:{port}"
        )))?;
    let mut upstream = pf.take_stream(port).ok_or_else(|| KubeError::Manifest {
        name: format!("pod {namespace}/{pod}"),
        message: format!("port-forward returned no stream for port {port}"),
    })?;
    let copied = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
    drop(upstream);
    // Ends the WebSocket; its error (if any) says more than the copy's.
    pf.join().await.map_err(|e| KubeError::PortForward {
        target: format!("pod {namespace}/{pod}:{port}"),
        message: e.to_string(),
    })?;
    copied.map(|_| ()).map_err(KubeError::io(format!(
        "copy to pod {namespace}/{pod}:{port}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::kube::mock::{self, Reply};
    use serde_json::{Value, json};
    use tokio::io::AsyncReadExt;

    fn service() -> Value {
        json!({
            "metadata": {"name": "stackproof-s3", "namespace": "ns"},
            "spec": {"selector": {"app.kubernetes.io/name": "stackproof-s3"},
                     "ports": [{"name": "s3", "port": 9000, "targetPort": "s3"}]}
        })
    }

    fn pod(name: &str, ready: bool, terminating: bool) -> Value {
        let mut meta = json!({"name": name, "namespace": "ns"});
        if terminating {
            meta["deletionTimestamp"] = json!("2026-11-25T09:00:00Z");
        }
        json!({
            "metadata": meta,
            "spec": {"containers": [{"name": "minio", "ports": [{"name": "s3", "containerPort": 9100}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        })
    }

    #[tokio::test]
    async fn a_service_resolves_to_its_ready_pod_and_named_container_port() {
        let api = mock::serve(|req| match req.path.as_str() {
            "/api/v1/namespaces/ns/services/stackproof-s3" => Reply::ok(service()),
            "/api/v1/namespaces/ns/pods" => Reply::list(
                "PodList",
                vec![
                    pod("old", true, true),
                    pod("starting", false, false),
                    pod("good", true, false),
                ],
            ),
            _ => Reply::status(404),
        });
        let t = Target::Service {
            name: "stackproof-s3".into(),
            port: 9000,
        };
        let (p, port) = resolve(&api.client, "ns", &t).await.unwrap();
        assert_eq!((p.as_str(), port), ("good", 9100));
        let list = &api.requests()[1];
        assert_eq!(
            list.query,
            "&labelSelector=app.kubernetes.io%2Fname%3Dstackproof-s3"
        );
    }

    #[tokio::test]
    async fn no_ready_pod_behind_a_service_is_said_with_what_was_seen() {
        let api = mock::serve(|req| match req.path.as_str() {
            "/api/v1/namespaces/ns/services/stackproof-s3" => Reply::ok(service()),
            _ => Reply::list("PodList", vec![pod("starting", false, false)]),
        });
        let t = Target::Service {
            name: "stackproof-s3".into(),
            port: 9000,
        };
        let e = resolve(&api.client, "ns", &t)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "manifest service ns/stackproof-s3: no Ready pod behind it (starting: phase Running, not ready)"
        );
        let wrong_port = Target::Service {
            name: "stackproof-s3".into(),
            port: 1,
        };
        let e = resolve(&api.client, "ns", &wrong_port)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("has no port 1"), "{e}");
    }

    #[tokio::test]
    async fn each_connection_resolves_the_target_then_asks_for_a_port_forward() {
        let api = mock::serve(|req| match req.path.as_str() {
            "/api/v1/namespaces/ns/services/stackproof-s3" => Reply::ok(service()),
            "/api/v1/namespaces/ns/pods" => Reply::list("PodList", vec![pod("good", true, false)]),
            // No WebSocket upgrade from a mock: the connection is closed.
            _ => Reply::status(400),
        });
        let fwd = PortForward::start(
            api.client.clone(),
            "ns",
            Target::Service {
                name: "stackproof-s3".into(),
                port: 9000,
            },
        )
        .await
        .unwrap();
        assert!(fwd.url().starts_with("http://127.0.0.1:"));
        for _ in 0..2 {
            let mut c = TcpStream::connect(fwd.addr()).await.unwrap();
            let mut buf = Vec::new();
            // The forward closes the connection it could not carry.
            let n =
                tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut buf))
                    .await
                    .expect("connection closed")
                    .unwrap_or(0);
            assert_eq!(n, 0);
        }
        let calls = api.calls();
        assert_eq!(
            calls,
            [
                "GET /api/v1/namespaces/ns/services/stackproof-s3",
                "GET /api/v1/namespaces/ns/pods",
                "GET /api/v1/namespaces/ns/pods/good/portforward",
                "GET /api/v1/namespaces/ns/services/stackproof-s3",
                "GET /api/v1/namespaces/ns/pods",
                "GET /api/v1/namespaces/ns/pods/good/portforward",
            ]
        );
        assert_eq!(api.requests()[2].query, "&ports=9100");
        drop(fwd);
    }
}
