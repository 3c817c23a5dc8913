//! Reaching and waiting on the stack's pieces: port-forwards, the
//! components a report lists, Deployments, the bucket, the replica window.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::error::KubeError;
use super::faults;
use super::names::ObjectStore;
use super::platform::{Component, KubePlatform};
use super::portforward::{PortForward, Target};
use super::s3_server;
use super::wait;
use crate::client::objstore::Objstore;
use crate::eventually::{Eventually, Probe};
use crate::platform::PlatformError;

impl KubePlatform {
    /// The kind cluster's name, or the kubeconfig context.
    pub fn cluster_name(&self) -> &str {
        &self.opts.cluster
    }

    pub(super) fn component(
        &mut self,
        name: &str,
        pod: &str,
        container: &str,
        url: Option<String>,
    ) {
        self.components.push(Component {
            name: name.into(),
            pod: pod.into(),
            container: container.into(),
            url,
        });
    }

    /// Scales the in-cluster S3 server to `replicas` and waits for the
    /// deployment; a real bucket cannot be, and `what` says so.
    pub(super) async fn scale_object_storage(
        &mut self,
        replicas: i32,
        what: &'static str,
        timeout: Duration,
    ) -> Result<(), PlatformError> {
        if !self.s3_in_cluster() {
            return Err(PlatformError::Unsupported {
                platform: self.opts.platform,
                what,
            });
        }
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.ns);
        faults::scale_deployment(&api, s3_server::S3_NAME, replicas).await?;
        self.wait_deployment(s3_server::S3_NAME, timeout).await?;
        Ok(())
    }

    /// Port-forwards `target` and records component `name` (its logs in
    /// `pod`'s `container`) with the forwarded HTTP URL, which it returns.
    pub(super) async fn forwarded_component(
        &mut self,
        name: &str,
        pod: &str,
        container: &str,
        target: Target,
    ) -> Result<String, KubeError> {
        let url = format!("http://{}", self.forward(target).await?);
        self.component(name, pod, container, Some(url.clone()));
        Ok(url)
    }

    pub(super) async fn forward(&mut self, target: Target) -> Result<String, KubeError> {
        let f = PortForward::start(self.client.clone(), &self.ns, target).await?;
        let addr = f.addr();
        self.forwards.push(f);
        Ok(addr)
    }

    pub(super) async fn wait_deployment(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<(), KubeError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.ns);
        wait::until(
            &api,
            name,
            format!("deployment {}/{name} to be available", self.ns),
            timeout,
            wait::deployment_available,
        )
        .await
        .map(|_| ())
    }

    /// Waits until the bucket answers through the harness's endpoint
    /// (creating it first when it is ours).
    pub(super) async fn wait_bucket(&self, create: bool) -> Result<(), KubeError> {
        let store = Objstore::new(self.endpoints.s3.clone());
        Eventually::new(
            format!(
                "the S3 server to serve bucket '{}'",
                self.endpoints.s3.bucket
            ),
            self.opts.timeout,
        )
        .until(|| {
            let store = store.clone();
            async move {
                let r = if create {
                    store.create_bucket().await.and(store.head_bucket().await)
                } else {
                    store.head_bucket().await
                };
                match r {
                    Ok(()) => Probe::Ready(()),
                    Err(e) => Probe::NotYet(e.to_string()),
                }
            }
        })
        .await?;
        Ok(())
    }

    /// The run's namespace.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Loki's URL (through a port-forward), where the chart's Loki runs.
    pub fn loki_url(&self) -> Option<&str> {
        self.loki.as_ref().map(|l| l.url.as_str())
    }

    /// Alertmanager's URL (through a port-forward).
    pub fn alertmanager_url(&self) -> Option<&str> {
        self.alertmanager_url.as_deref()
    }

    /// How long `deploy` took until the data of both replicas was queryable.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Writes every component's current log to `<run_dir>/logs/<name>.log`
    /// (the paths `components()` reports), for a failure bundle. Best
    /// effort: a missing pod writes a line saying so.
    pub(super) fn check_replica(&self, n: usize) -> Result<(), PlatformError> {
        let len = self.opts.shape.replicas;
        if n >= len {
            return Err(PlatformError::NoSuchReplica(n, len));
        }
        Ok(())
    }

    /// Deletes `pod` with grace period 0 (SIGKILL) and waits until it is
    /// gone. Its controller must have been narrowed past it first, or it
    /// comes straight back.
    pub(super) async fn kill_pod(&self, pod: &str) -> Result<(), PlatformError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        faults::delete_pod_now(&pods, pod).await?;
        wait::until(
            &pods,
            pod,
            format!("pod {}/{pod} to be gone", self.ns),
            Duration::from_secs(120),
            wait::pod_gone,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn apply_window(&self) -> Result<(), PlatformError> {
        let (start, count) =
            faults::alive_window(self.opts.shape.replicas, &self.killed).map_err(|message| {
                KubeError::Manifest {
                    name: format!("statefulset {}", self.names.statefulset()),
                    message,
                }
            })?;
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.ns);
        faults::set_statefulset_window(&sets, &self.names.statefulset(), start, count).await?;
        Ok(())
    }

    pub(super) fn s3_in_cluster(&self) -> bool {
        matches!(self.opts.object_store, ObjectStore::InCluster { .. })
    }
}
