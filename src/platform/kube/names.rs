//! What the stack's objects are called and what they carry: the run's
//! labels, the S3 Secret, the chart-derived names, the Thanos Query
//! manifest, and the options a deploy takes.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use kube::api::PostParams;
use kube::{Api, Client};

use super::error::KubeError;
use super::manifests::{self, fixtures};
use super::pins;
use super::s3_server::S3Server;
use super::wait;
use crate::client::objstore::{S3Credentials, S3Target};
use crate::platform::{StackShape, Stores};

/// Label on everything stackproof creates, with the run id as value.
pub const RUN_LABEL: &str = "stackproof.dev/run";
/// The Secret with `objstore.yml` and the S3 keys.
pub const S3_SECRET: &str = "stackproof-s3";
/// The stack's own Thanos Query.
pub const QUERY: &str = "stackproof-thanos-query";
/// The store gateway.
pub const STORE: &str = "stackproof-thanos-store";
/// The compactor.
pub const COMPACT: &str = "stackproof-thanos-compact";
/// The exporter.
pub const EXPORTER: &str = "stackproof-exporter";

/// Where the bucket lives.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// An S3 server deployed in the run's namespace (kind); the bucket is
    /// created by the harness.
    InCluster {
        /// MinIO or SeaweedFS.
        server: S3Server,
        /// Bucket to create.
        bucket: String,
    },
    /// A real bucket (cluster platform): it must exist; pods and the harness
    /// reach it at the same endpoint.
    External(S3Target),
}

/// How to deploy the stack.
#[derive(Debug, Clone)]
pub struct KubeStackOptions {
    /// `kind` or `cluster`, for reports.
    pub platform: &'static str,
    /// The kind cluster's name, or the kubeconfig context, for reports.
    pub cluster: String,
    /// Run id: the namespace is `stackproof-<run_id>`.
    pub run_id: String,
    /// kube-prometheus-stack's `fullnameOverride` (unique per cluster: its
    /// ClusterRoles carry it).
    pub fullname: String,
    /// Intervals, labels, replicas.
    pub shape: StackShape,
    /// Where the bucket lives.
    pub object_store: ObjectStore,
    /// Kubeconfig file (helm reads it).
    pub kubeconfig: PathBuf,
    /// Context in it (None: current).
    pub context: Option<String>,
    /// Values files and collected logs go here.
    pub run_dir: PathBuf,
    /// Longest wait for any one object (image pulls included).
    pub timeout: Duration,
    /// Pass `--skip-crds` to helm (the CRDs already exist).
    pub skip_crds: bool,
    /// Deploy the Loki chart (off where its image cannot be had: Loki is
    /// never built here, and offline it wraps the user's binary).
    pub loki: bool,
    /// The address on this machine the cluster's pods reach (kind: its
    /// Docker network's gateway), where the harness's mail sink listens.
    /// None: the pods cannot reach this machine, so no alerting.
    pub receiver_ip: Option<std::net::IpAddr>,
}

impl KubeStackOptions {
    /// The run's namespace.
    pub fn namespace(&self) -> String {
        format!("stackproof-{}", self.run_id)
    }
}

/// Object names the charts derive from `fullname`.
#[derive(Debug, Clone)]
pub struct Names {
    fullname: String,
}

impl Names {
    /// Names for kube-prometheus-stack's `fullnameOverride`.
    pub fn new(fullname: &str) -> Self {
        Self {
            fullname: fullname.into(),
        }
    }
    /// The Prometheus resource.
    pub fn prometheus(&self) -> String {
        format!("{}-prometheus", self.fullname)
    }
    /// Its StatefulSet (the operator's name for it).
    pub fn statefulset(&self) -> String {
        format!("prometheus-{}-prometheus", self.fullname)
    }
    /// Replica `n`'s pod.
    pub fn pod(&self, n: usize) -> String {
        format!("{}-{n}", self.statefulset())
    }
    /// The headless Service of the sidecars' gRPC.
    pub fn discovery(&self) -> String {
        format!("{}-thanos-discovery", self.fullname)
    }
    /// Alertmanager 0's pod.
    pub fn alertmanager_pod(&self) -> String {
        self.alertmanager_pod_n(0)
    }
    /// The Alertmanager resource.
    pub fn alertmanager(&self) -> String {
        format!("{}-alertmanager", self.fullname)
    }
    /// Its StatefulSet (the operator's name for it).
    pub fn alertmanager_statefulset(&self) -> String {
        format!("alertmanager-{}", self.alertmanager())
    }
    /// Alertmanager `n`'s pod.
    pub fn alertmanager_pod_n(&self, n: usize) -> String {
        format!("{}-{n}", self.alertmanager_statefulset())
    }
    /// The operator's Deployment.
    pub fn operator(&self) -> String {
        format!("{}-operator", self.fullname)
    }
    /// Loki's StatefulSet, Service and pod prefix.
    pub fn loki(&self) -> &'static str {
        pins::LOKI.release
    }
}

/// The Secret's content: Thanos' objstore config (endpoint as pods see it)
/// and the keys for MinIO / SeaweedFS / Loki.
pub fn s3_secret(ns: &str, run_id: &str, in_cluster: &S3Target) -> Secret {
    let mut data = std::collections::BTreeMap::new();
    data.insert(
        "objstore.yml".to_owned(),
        ByteString(crate::stack::config::thanos_objstore(in_cluster).into_bytes()),
    );
    data.insert(
        "AWS_ACCESS_KEY_ID".to_owned(),
        ByteString(in_cluster.credentials.access_key.clone().into_bytes()),
    );
    data.insert(
        "AWS_SECRET_ACCESS_KEY".to_owned(),
        ByteString(in_cluster.credentials.secret_key.clone().into_bytes()),
    );
    Secret {
        metadata: ObjectMeta {
            name: Some(S3_SECRET.into()),
            namespace: Some(ns.into()),
            labels: Some(run_labels(run_id)),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    }
}

/// The Secret with Loki's own S3 keys (see [`super::loki`]).
pub fn loki_secret(ns: &str, creds: &S3Credentials) -> Secret {
    let mut data = std::collections::BTreeMap::new();
    data.insert(
        "AWS_ACCESS_KEY_ID".to_owned(),
        ByteString(creds.access_key.clone().into_bytes()),
    );
    data.insert(
        "AWS_SECRET_ACCESS_KEY".to_owned(),
        ByteString(creds.secret_key.clone().into_bytes()),
    );
    Secret {
        metadata: ObjectMeta {
            name: Some(super::loki::LOKI_SECRET.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    }
}

pub(super) fn run_labels(run_id: &str) -> std::collections::BTreeMap<String, String> {
    [
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "stackproof".to_owned(),
        ),
        (RUN_LABEL.to_owned(), run_id.to_owned()),
    ]
    .into_iter()
    .collect()
}

/// The `--query.replica-label` lines of the Thanos Query template.
pub fn replica_label_args(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("            - --query.replica-label={l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--endpoint` lines for the StoreAPIs a query reads.
pub fn endpoint_args(ns: &str, names: &Names, stores: Stores) -> String {
    let sidecars = format!(
        "            - --endpoint=dnssrv+_grpc._tcp.{}.{ns}.svc.cluster.local",
        names.discovery()
    );
    let gateway = format!(
        "            - --endpoint=dnssrv+_grpc._tcp.stackproof-thanos-store.{ns}.svc.cluster.local"
    );
    match stores {
        Stores::All => format!("{sidecars}\n{gateway}"),
        Stores::SidecarsOnly => sidecars,
        Stores::GatewayOnly => gateway,
    }
}

/// The rendered Thanos Query manifest named `name`.
pub fn query_manifest(
    ns: &str,
    names: &Names,
    name: &str,
    labels: &[String],
    stores: Stores,
) -> Result<String, KubeError> {
    manifests::render(
        "thanos-query.yaml",
        fixtures::THANOS_QUERY,
        &[
            ("NAME", name.into()),
            ("NAMESPACE", ns.into()),
            ("THANOS_IMAGE", pins::THANOS_IMAGE.into()),
            ("ENDPOINT_ARGS", endpoint_args(ns, names, stores)),
            ("REPLICA_LABEL_ARGS", replica_label_args(labels)),
        ],
    )
}

/// Creates the run's namespace; one that already exists is not ours, and
/// is an error (stackproof touches only what it created).
pub async fn create_namespace(client: &Client, ns: &str, run_id: &str) -> Result<(), KubeError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let obj = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.into()),
            labels: Some(run_labels(run_id)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(KubeError::Env {
            var: format!("namespace {ns}"),
            message: "already exists and stackproof did not create it: use another run id".into(),
        }),
        Err(e) => Err(KubeError::Api {
            what: format!("create namespace {ns}"),
            source: e,
        }),
    }
}

/// One line per pod in `ns`: name, phase, readiness and waiting reasons.
pub async fn pod_summary(client: &Client, ns: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    match pods.list(&kube::api::ListParams::default()).await {
        Err(e) => format!("(could not list pods: {e})"),
        Ok(list) if list.items.is_empty() => "(no pods)".into(),
        Ok(list) => list
            .items
            .iter()
            .map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                match wait::pod_ready(Some(p)) {
                    Ok(()) => format!("{name}: ready"),
                    Err(why) => format!("{name}: {why}"),
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}
