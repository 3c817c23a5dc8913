//! Setting up the `kind` platform: a kind cluster, the local images loaded
//! into it, the S3 server in it — then the shared Kubernetes deploy. The
//! same scenarios as `local`, on Kubernetes.

use std::time::Duration;

use super::cluster::{KindCluster, run_id};
use super::images::LocalImages;
use crate::platform::kube::error::KubeError;
use crate::platform::kube::{
    KubePlatform, KubeStackOptions, NamespaceGuard, ObjectStore, S3Server, Teardown, pins,
};
use crate::platform::{PlatformError, StackShape};
use crate::process::keep_requested;

/// How to shape the kind stack.
#[derive(Debug, Clone)]
pub struct KindOptions {
    /// Intervals, labels, replicas (2 replicas; the kube-prometheus-stack
    /// values are written for that).
    pub shape: StackShape,
    /// MinIO or SeaweedFS; `STACKPROOF_KIND_S3` sets it. None: MinIO,
    /// unless the local Docker holds SeaweedFS' image and not MinIO's (the
    /// offline set: MinIO cannot be built here).
    pub s3: Option<S3Server>,
    /// The bucket.
    pub bucket: String,
    /// Longest wait for any one object (image pulls included).
    pub timeout: Duration,
}

impl Default for KindOptions {
    fn default() -> Self {
        Self {
            shape: kube_shape(KIND_KUBELET_SYNC),
            s3: None,
            bucket: "stackproof".into(),
            timeout: Duration::from_secs(600),
        }
    }
}

impl KindOptions {
    /// Defaults, with `STACKPROOF_KIND_S3` applied.
    pub fn from_env() -> Result<Self, PlatformError> {
        Ok(Self {
            s3: S3Server::from_env()?,
            ..Self::default()
        })
    }
}

/// MinIO, unless the local Docker has SeaweedFS' image and not MinIO's:
/// MinIO cannot be built offline (AGPL, not on the module proxy), so an
/// offline image set carries SeaweedFS, and a node that cannot pull must
/// run what it was given.
pub fn default_s3(images: &LocalImages) -> S3Server {
    if images.has(pins::SEAWEEDFS_IMAGE) && !images.has(pins::MINIO_IMAGE) {
        S3Server::Seaweedfs
    } else {
        S3Server::Minio
    }
}

/// The shape on Kubernetes: same labels and scrape interval as the local
/// platform; 2-minute blocks (the operator's `blockSize`, which it applies
/// only with `disableCompaction`, set in the values; smaller blocks would
/// need Prometheus flags the operator does not expose). A changed rule or
/// Alertmanager config reaches the pods at the kubelet's next sync of
/// their volumes (`syncFrequency`: set in kind/cluster.yaml on kind, the
/// kubelet's one-minute default on a cluster of the user's).
pub fn kube_shape(kubelet_sync: Duration) -> StackShape {
    StackShape {
        scrape_interval: Duration::from_secs(1),
        block_duration: Duration::from_secs(120),
        replica_label: "replica".into(),
        cluster: "stackproof".into(),
        replicas: 2,
        config_reload: config_reload(kubelet_sync),
    }
}

/// `syncFrequency` in kind/cluster.yaml.
pub const KIND_KUBELET_SYNC: Duration = Duration::from_secs(10);

/// The kubelet's default `syncFrequency`.
pub const DEFAULT_KUBELET_SYNC: Duration = Duration::from_secs(60);

/// From a changed Secret or ConfigMap to the component reloaded: the
/// operator regenerates what it mounts (a second), the kubelet projects it
/// at its next sync, up to one period later, and jitters that sync by up to
/// half a period more; the config reloader sees the file through inotify
/// and reloads at once.
fn config_reload(kubelet_sync: Duration) -> Duration {
    Duration::from_secs(1) + kubelet_sync + kubelet_sync / 2
}

/// The kind platform: [`KubePlatform`] on a kind cluster. Dropping it stops
/// the port-forwards, then deletes the cluster (or, on a reused cluster,
/// the run's namespace and releases), unless `STACKPROOF_KEEP=1`.
pub type KindPlatform = KubePlatform;

impl KubePlatform {
    /// Creates (or reuses) a kind cluster, loads the local images into it,
    /// deploys the stack, and waits until both replicas' data is queryable
    /// through Thanos Query.
    pub async fn kind(opts: KindOptions) -> Result<Self, PlatformError> {
        if let Err(why) = super::cluster::availability().await {
            return Err(KubeError::Env {
                var: "kind platform".into(),
                message: why,
            }
            .into());
        }
        let tmp = tempfile::Builder::new()
            .prefix("stackproof-kind-")
            .tempdir()
            .map_err(PlatformError::io("create the run directory"))?;
        let dir = tmp.path().to_owned();
        let id = run_id();
        let cluster = KindCluster::create_or_reuse(&id, &dir).await?;
        let images = LocalImages::probe().await;
        let loaded = images.load_into(cluster.name()).await?;
        if !images.present.is_empty() {
            eprintln!(
                "stackproof: {} images loaded into the node in {:.1}s{}",
                images.present.len(),
                loaded.as_secs_f64(),
                if images.absent.is_empty() {
                    String::new()
                } else {
                    format!("; not in the local Docker: {}", images.absent.join(", "))
                }
            );
        }
        let s3 = opts.s3.unwrap_or_else(|| default_s3(&images));
        let loki = !images.offline() || images.has(pins::LOKI_IMAGE);
        if !loki {
            eprintln!("stackproof: {}", crate::platform::kube::no_loki_reason());
        }
        let client = cluster.client().await?;
        let receiver_ip = match super::cluster::host_ip().await {
            Ok(ip) => Some(ip),
            Err(e) => {
                eprintln!("stackproof: no alerting on this cluster: {e}");
                None
            }
        };
        let fullname = if cluster.owned() {
            "sp".to_owned()
        } else {
            format!("sp-{id}")
        };
        let kopts = KubeStackOptions {
            platform: "kind",
            cluster: cluster.name().to_owned(),
            run_id: id,
            fullname,
            shape: opts.shape,
            object_store: ObjectStore::InCluster {
                server: s3,
                bucket: opts.bucket,
            },
            kubeconfig: cluster.kubeconfig().to_owned(),
            context: None,
            run_dir: dir.clone(),
            timeout: opts.timeout,
            skip_crds: false,
            loki,
            receiver_ip,
        };
        // On a reused cluster the namespace must go even if deploy fails.
        let guard = (!cluster.owned()).then(|| NamespaceGuard {
            namespace: kopts.namespace(),
            releases: if loki {
                vec![kopts.fullname.clone(), pins::LOKI.release.to_owned()]
            } else {
                vec![kopts.fullname.clone()]
            },
            kubeconfig: cluster.kubeconfig().to_owned(),
            context: None,
            tool_dir: None,
        });
        let tmp = if keep_requested() {
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        // Namespace, then the cluster, then the run directory.
        let mut teardown = Teardown::new();
        if let Some(g) = guard {
            teardown = teardown.then(g);
        }
        let teardown = teardown.then(cluster).then(tmp);
        Ok(KubePlatform::deploy(client, kopts, teardown).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seaweedfs_is_chosen_only_where_its_image_is_here_and_minios_is_not() {
        let with = |present: &[&str]| LocalImages {
            present: present.iter().map(|s| s.to_string()).collect(),
            absent: Vec::new(),
        };
        assert_eq!(default_s3(&with(&[])), S3Server::Minio);
        assert_eq!(
            default_s3(&with(&[pins::SEAWEEDFS_IMAGE])),
            S3Server::Seaweedfs
        );
        assert_eq!(
            default_s3(&with(&[pins::SEAWEEDFS_IMAGE, pins::MINIO_IMAGE])),
            S3Server::Minio
        );
    }
}
