//! [`KubeLoki`]: the Loki chart's single binary in the run's namespace, on
//! the run's bucket, as log scenarios drive it. Its S3 keys come from a
//! Secret of its own ([`LOKI_SECRET`]), so that giving Loki a wrong key
//! breaks Loki alone, not the S3 server or the sidecars that read the
//! stack's Secret.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::{LogParams, Patch, PatchParams};
use kube::{Api, Client};

use super::error::KubeError;
use super::faults;
use super::manifests::FIELD_MANAGER;
use super::names::loki_secret;
use super::wait;
use crate::client::loki::LokiClient;
use crate::client::objstore::{S3Credentials, S3Target};
use crate::eventually::{Eventually, Probe};
use crate::platform::LokiService;
use crate::platform::loki::LokiPlatformError;
use crate::platform::loki_service::matching_lines;
use crate::process::redact;
use crate::stack::loki::FlushSettings;

/// The Secret with Loki's S3 keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
pub const LOKI_SECRET: &str = "stackproof-s3-loki";

/// How many lines of the pod's log are searched for a message.
const LOG_LINES: i64 = 5000;

/// The chart's Loki in a run's namespace.
pub struct KubeLoki {
    pub(super) client: Client,
    pub(super) ns: String,
    /// The StatefulSet, its Service and its pods' prefix.
    pub(super) name: String,
    /// Through a port-forward to the Service: it follows the pod across
    /// restarts.
    pub(super) url: String,
    /// The bucket as the harness reaches it (right keys, always).
    pub(super) bucket: S3Target,
    /// The bucket as pods reach it, with the keys Loki is given.
    pub(super) in_cluster: S3Target,
    pub(super) timeout: Duration,
    /// The wrong key Loki runs with, while it does (redacted from logs).
    pub(super) wrong_key: Option<String>,
}

impl std::fmt::Debug for KubeLoki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeLoki")
            .field("namespace", &self.ns)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl KubeLoki {
    fn pod(&self) -> String {
        format!("{}-0", self.name)
    }

    fn secrets(&self) -> Vec<String> {
        let mut s = vec![self.bucket.credentials.secret_key.clone()];
        s.extend(self.wrong_key.clone());
        s
    }

    async fn pod_log(&self) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let lp = LogParams {
            container: Some("loki".into()),
            tail_lines: Some(LOG_LINES),
            ..LogParams::default()
        };
        match pods.logs(&self.pod(), &lp).await {
            Ok(text) => redact(&text, &self.secrets()),
            Err(e) => format!("(could not read the log of pod {}: {e})", self.pod()),
        }
    }

    async fn scale(&self, replicas: i32) -> Result<(), KubeError> {
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.ns);
        faults::set_statefulset_window(&sets, &self.name, 0, replicas).await
    }

    async fn running(&self) -> bool {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        pods.get_opt(&self.pod()).await.ok().flatten().is_some()
    }

    /// Deletes the pod's volume claim (its WAL, tsdb head and caches).
    async fn remove_local_data(&self) -> Result<(), KubeError> {
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.ns);
        let set = sets.get(&self.name).await.map_err(KubeError::api(format!(
            "get statefulset {}/{}",
            self.ns, self.name
        )))?;
        let Some(claim) = faults::claim_name(&set, &self.pod()) else {
            return Err(KubeError::Manifest {
                name: format!("statefulset {}", self.name),
                message: "has no volume claim template: Loki keeps no local data to remove".into(),
            });
        };
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &self.ns);
        faults::delete_pvc(&pvcs, &claim).await?;
        wait::until(
            &pvcs,
            &claim,
            format!("persistentvolumeclaim {}/{claim} to be gone", self.ns),
            Duration::from_secs(120),
            |o: Option<&PersistentVolumeClaim>| match o {
                None => Ok(()),
                Some(_) => Err("claim still exists".into()),
            },
        )
        .await
        .map(|_| ())
    }

    /// Scales to one pod and waits until it is Ready and Loki answers
    /// `/ready` through the port-forward.
    async fn start(&self) -> Result<(), LokiPlatformError> {
        self.scale(1).await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod = self.pod();
        wait::until(
            &pods,
            &pod,
            format!("pod {}/{pod} to be ready", self.ns),
            self.timeout,
            wait::pod_ready,
        )
        .await?;
        let client = self.client();
        Eventually::new(
            format!("Loki to be ready at {}/ready", self.url),
            self.timeout,
        )
        .max_delay(Duration::from_secs(1))
        .until(|| {
            let client = client.clone();
            async move {
                match client.ready().await {
                    Ok(()) => Probe::Ready(()),
                    Err(e) => Probe::NotYet(e.to_string()),
                }
            }
        })
        .await?;
        Ok(())
    }

    /// Writes Loki's keys: the bucket's own, or its access key with `secret`.
    async fn write_keys(&self, secret: Option<&str>) -> Result<(), KubeError> {
        let creds = S3Credentials {
            access_key: self.in_cluster.credentials.access_key.clone(),
            secret_key: secret
                .map(str::to_owned)
                .unwrap_or_else(|| self.in_cluster.credentials.secret_key.clone()),
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        secrets
            .patch(
                LOKI_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(loki_secret(&self.ns, &creds)),
            )
            .await
            .map_err(KubeError::api(format!(
                "apply secret {}/{LOKI_SECRET}",
                self.ns
            )))?;
        Ok(())
    }
}

#[async_trait]
impl LokiService for KubeLoki {
    fn client(&self) -> LokiClient {
        LokiClient::new(self.url.clone())
    }

    fn bucket(&self) -> &S3Target {
        &self.bucket
    }

    async fn log_lines_matching(&self, needles: &[&str], max: usize) -> Vec<String> {
        matching_lines(&self.pod_log().await, needles, max)
    }

    async fn log_tail(&self, n: usize) -> String {
        let log = self.pod_log().await;
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Scales the StatefulSet to 0: the kubelet sends SIGTERM and waits the
    /// pod's grace period, in which Loki flushes and ships its index.
    async fn stop(&mut self, grace: Duration) -> Result<Duration, LokiPlatformError> {
        let started = Instant::now();
        self.scale(0).await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod = self.pod();
        match wait::until(
            &pods,
            &pod,
            format!("pod {}/{pod} to exit after SIGTERM", self.ns),
            grace,
            wait::pod_gone,
        )
        .await
        {
            Ok(_) => Ok(started.elapsed()),
            Err(_) => Err(LokiPlatformError::StopTimeout(grace)),
        }
    }

    async fn restart(&mut self, wipe_local: bool) -> Result<(), LokiPlatformError> {
        if self.running().await {
            self.stop(Duration::from_secs(120)).await?;
        }
        if wipe_local {
            self.remove_local_data().await?;
        }
        self.start().await
    }

    async fn set_wrong_credentials(&mut self, wrong: bool) -> Result<(), LokiPlatformError> {
        self.wrong_key = wrong.then(|| S3Credentials::generate().secret_key);
        self.write_keys(self.wrong_key.as_deref()).await?;
        // Keys reach the container through its environment: only a new
        // one sees them. Deleted at once: a Loki with a wrong key retries
        // its shutdown flush for the whole grace period, and its WAL (on
        // the volume) replays every line on the next start.
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod = self.pod();
        let old_uid = faults::delete_pod_now(&pods, &pod).await?;
        wait::until(
            &pods,
            &pod,
            format!("pod {}/{pod} to be recreated and ready", self.ns),
            self.timeout,
            wait::pod_replaced_and_ready(old_uid),
        )
        .await?;
        self.start().await
    }

    async fn set_flush_settings(&mut self, _: FlushSettings) -> Result<(), LokiPlatformError> {
        Err(unchangeable("flush settings"))
    }

    async fn set_label_discovery(&mut self, _: bool) -> Result<(), LokiPlatformError> {
        Err(unchangeable("label discovery"))
    }
}

/// The chart renders Loki's config from the run's values; a second release
/// with other values is not built here, so the twins that change it run on
/// the local platform.
fn unchangeable(what: &str) -> LokiPlatformError {
    LokiPlatformError::Unsupported(format!(
        "changing the chart's Loki {what} mid-run is not supported on Kubernetes: \
         this twin runs on the local platform"
    ))
}
