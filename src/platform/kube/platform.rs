//! [`KubePlatform`]: a deployed stack driven through the Kubernetes API —
//! faults by deleting pods and scaling workloads, the stores reached
//! through port-forwards — and what is torn down when it is dropped.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::{Api, Client};

use super::error::KubeError;
use super::faults;
use super::guard::Teardown;
use super::loki::KubeLoki;
use super::manifests::{self, Applier};
use super::names::*;
use super::portforward::{PortForward, Target};
use super::wait;
use crate::platform::{
    CompactPass, CompactRun, ComponentInfo, Endpoints, ExtraQuery, LokiService, Need, Platform,
    PlatformError, StackShape,
};

/// The pinned Thanos binary on this machine (`scripts/install thanos`).
fn local_thanos() -> Result<PathBuf, crate::versions::VersionsError> {
    crate::versions::Versions::load_default()?.binary("thanos")
}

/// One component as a report sees it.
#[derive(Debug, Clone)]
pub(super) struct Component {
    pub(super) name: String,
    pub(super) pod: String,
    pub(super) container: String,
    pub(super) url: Option<String>,
}

/// A stack deployed on Kubernetes (kind or an existing cluster). Dropping
/// it stops the port-forwards, then runs its [`Teardown`]: the namespace and
/// releases, the kind cluster it created, the run directory.
pub struct KubePlatform {
    pub(super) opts: KubeStackOptions,
    pub(super) client: Client,
    pub(super) ns: String,
    pub(super) names: Names,
    pub(super) endpoints: Endpoints,
    pub(super) forwards: Vec<PortForward>,
    pub(super) components: Vec<Component>,
    pub(super) killed: BTreeSet<usize>,
    pub(super) extras: usize,
    pub(super) compactions: usize,
    pub(super) loki: Option<KubeLoki>,
    pub(super) alertmanager_url: Option<String>,
    /// Each Alertmanager's forwarded URL, once alerting is set up.
    pub(super) alertmanager_urls: Vec<String>,
    /// An Alertmanager was killed: the pair runs whole at the next set-up.
    pub(super) alertmanagers_down: bool,
    pub(super) ready_after: Duration,
    // Last: dropped after the port-forwards that reach into it.
    pub(super) teardown: Teardown,
}

impl std::fmt::Debug for KubePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubePlatform")
            .field("platform", &self.opts.platform)
            .field("namespace", &self.ns)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// Why a Kubernetes run has no Loki, and how to get one.
pub fn no_loki_reason() -> String {
    format!(
        "Loki is not deployed: its image {} is not in the local Docker and cannot be pulled here; \
         set STACKPROOF_LOKI_BIN to a Loki 3 binary and run scripts/kind-offline to wrap it",
        super::pins::LOKI_IMAGE
    )
}

#[async_trait]
impl Platform for KubePlatform {
    fn name(&self) -> &'static str {
        self.opts.platform
    }

    fn provides(&self, need: Need) -> Result<(), String> {
        match need {
            Need::Loki if self.loki.is_none() => Err(no_loki_reason()),
            Need::Loki => Ok(()),
            Need::ObjectStorageOutage if !self.s3_in_cluster() => Err(format!(
                "the {} platform cannot stop the user's S3 bucket: run it on kind or local",
                self.opts.platform
            )),
            Need::ObjectStorageOutage => Ok(()),
            // The operator renders one objstore Secret for every replica's
            // sidecar: breaking one replica alone needs a second Prometheus
            // resource, which this platform does not build.
            Need::SidecarCredentials => Err(
                "one sidecar with wrong credentials needs a second Prometheus resource; \
                 the local platform runs this twin"
                    .into(),
            ),
            Need::RollPrometheus => Err(format!(
                "rolling one replica to another Prometheus binary runs on the local platform; \
                 on {} it is a `helm upgrade` of the chart, not built yet",
                self.opts.platform
            )),
            Need::CompactOnce => local_thanos().map(|_| ()).map_err(|e| {
                format!("runs `thanos compact` on this machine against the run's bucket: {e}")
            }),
        }
    }

    fn alerting_support(&self) -> Result<(), String> {
        match self.opts.receiver_ip {
            Some(_) => Ok(()),
            None => Err(format!(
                "the {} platform's pods cannot reach this machine's mail sink: \
                 run the alerting scenario on kind or local",
                self.opts.platform
            )),
        }
    }

    fn alerting_rig_support(
        &self,
        clustered: bool,
        drop_replica_label: bool,
    ) -> Result<(), String> {
        match super::alerting::unsupported_rig(clustered, drop_replica_label) {
            None => Ok(()),
            Some(what) => Err(format!(
                "the {} platform cannot run {what}",
                self.opts.platform
            )),
        }
    }

    fn receiver_ip(&self) -> std::net::IpAddr {
        self.opts
            .receiver_ip
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
    }

    async fn configure_alerting(
        &mut self,
        setup: &crate::platform::AlertSetup,
    ) -> Result<crate::platform::Alertmanagers, PlatformError> {
        self.configure_alertmanagers(setup).await
    }

    async fn load_alert_rules(&mut self, group: &str, rules: &str) -> Result<(), PlatformError> {
        self.apply_alert_rules(group, rules).await
    }

    async fn kill_alertmanager(&mut self, n: usize) -> Result<(), PlatformError> {
        self.stop_alertmanager(n).await
    }

    async fn collect_diagnostics(&self, out: &std::path::Path) -> Vec<String> {
        KubePlatform::collect_diagnostics(self, out).await
    }

    async fn loki(&mut self) -> Result<&mut dyn LokiService, PlatformError> {
        match self.loki.as_mut() {
            Some(l) => Ok(l),
            None => Err(PlatformError::NoLoki(no_loki_reason())),
        }
    }

    /// On this machine, against the bucket as the harness reaches it (the
    /// port-forwarded MinIO, or the user's bucket): the in-cluster
    /// compactor leaves the backfilled clusters to it (its selector drops
    /// them).
    async fn compact_once(&mut self, run: &CompactRun) -> Result<CompactPass, PlatformError> {
        let thanos = local_thanos()?;
        let configs = self.opts.run_dir.join("configs");
        std::fs::create_dir_all(&configs)
            .map_err(PlatformError::io(format!("create {}", configs.display())))?;
        let objstore = configs.join("objstore-from-host.yml");
        crate::process::write_private(
            &objstore,
            &crate::stack::config::thanos_objstore(&self.endpoints.s3),
        )
        .map_err(PlatformError::io(format!("write {}", objstore.display())))?;
        self.compactions += 1;
        crate::platform::compact::run_once(
            &thanos,
            &self.opts.run_dir,
            &objstore,
            self.compactions,
            run,
        )
        .await
    }

    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn shape(&self) -> &StackShape {
        &self.opts.shape
    }

    fn components(&self) -> Vec<ComponentInfo> {
        self.components
            .iter()
            .map(|c| ComponentInfo {
                name: c.name.clone(),
                pid: None,
                command_line: format!("kubectl -n {} logs {} -c {}", self.ns, c.pod, c.container),
                log: self.log_path(&c.name),
                url: c.url.clone(),
            })
            .collect()
    }

    async fn kill_replica(&mut self, n: usize) -> Result<(), PlatformError> {
        self.check_replica(n)?;
        let before = self.killed.clone();
        self.killed.insert(n);
        // Keep the operator from undoing the narrowed StatefulSet.
        faults::set_prometheus_paused(&self.client, &self.ns, &self.names.prometheus(), true)
            .await?;
        if let Err(e) = self.apply_window().await {
            self.killed = before;
            return Err(e);
        }
        self.kill_pod(&self.names.pod(n)).await
    }

    async fn restart_replica(&mut self, n: usize) -> Result<(), PlatformError> {
        self.check_replica(n)?;
        self.killed.remove(&n);
        self.apply_window().await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod = self.names.pod(n);
        wait::until(
            &pods,
            &pod,
            format!("pod {}/{pod} to be recreated and ready", self.ns),
            self.opts.timeout,
            wait::pod_ready,
        )
        .await?;
        if self.killed.is_empty() {
            faults::set_prometheus_paused(&self.client, &self.ns, &self.names.prometheus(), false)
                .await?;
        }
        crate::platform::local::wait_replicas_in_query(
            &self.endpoints.query,
            &self.opts.shape.replica_label,
            &[n.to_string()],
            crate::data::exporter::now_ms(),
        )
        .await
    }

    async fn remove_replica_data(&mut self, n: usize) -> Result<(), PlatformError> {
        self.check_replica(n)?;
        if !self.killed.contains(&n) {
            self.kill_replica(n).await?;
        }
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.ns);
        let sts_name = self.names.statefulset();
        let sts = sets.get(&sts_name).await.map_err(KubeError::api(format!(
            "get statefulset {}/{sts_name}",
            self.ns
        )))?;
        let claim =
            faults::claim_name(&sts, &self.names.pod(n)).ok_or_else(|| KubeError::Manifest {
                name: format!("statefulset {sts_name}"),
                message: "has no volume claim template: replicas keep no local data".into(),
            })?;
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
        .await?;
        Ok(())
    }

    async fn stop_object_storage(&mut self) -> Result<(), PlatformError> {
        self.scale_object_storage(0, "stopping a real S3 bucket", Duration::from_secs(120))
            .await
    }

    async fn start_object_storage(&mut self) -> Result<(), PlatformError> {
        let timeout = self.opts.timeout;
        self.scale_object_storage(1, "starting a real S3 bucket", timeout)
            .await?;
        self.wait_bucket(false).await?;
        Ok(())
    }

    async fn sidecar_credentials(&mut self, _n: usize, _wrong: bool) -> Result<(), PlatformError> {
        // The operator renders one objstore Secret for every replica's
        // sidecar: breaking one replica alone needs a second Prometheus
        // resource, which this platform does not build.
        Err(PlatformError::Unsupported {
            platform: "kubernetes",
            what: "wrong credentials for one replica's sidecar",
        })
    }

    async fn start_extra_query(&mut self, q: ExtraQuery) -> Result<String, PlatformError> {
        let name = format!("{QUERY}-extra-{}", self.extras);
        self.extras += 1;
        let text = query_manifest(&self.ns, &self.names, &name, &q.replica_labels, q.stores)?;
        let objs = manifests::parse("thanos-query.yaml", &text)?;
        Applier::new(self.client.clone(), &self.ns)
            .apply_all(&objs)
            .await?;
        self.wait_deployment(&name, self.opts.timeout).await?;
        let url = format!(
            "http://{}",
            self.forward(Target::Service {
                name: name.clone(),
                port: 10902
            })
            .await?
        );
        self.component(
            &name,
            &format!("deployment/{name}"),
            "query",
            Some(url.clone()),
        );
        let running: Vec<String> = (0..self.opts.shape.replicas)
            .filter(|i| !self.killed.contains(i))
            .map(|i| i.to_string())
            .collect();
        crate::platform::local::wait_replicas_in_query(
            &url,
            &self.opts.shape.replica_label,
            &running,
            0,
        )
        .await?;
        Ok(url)
    }
}
