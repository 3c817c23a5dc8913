//! The stack on Kubernetes, shared by the `kind` and `cluster` platforms:
//! one namespace per run holding everything stackproof deploys, reached
//! through port-forwards, faults caused through the API. The platforms
//! differ only in where the cluster and the bucket come from and in what
//! they clean up.
//!
//! What runs (see `fixtures/kind/`): the synthetic exporter, kube-prometheus-
//! stack (operator, 2 Prometheus replicas with the Thanos sidecar,
//! Alertmanager), Thanos store / compact / query, Loki 3 single binary, and,
//! on kind, the S3 server.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{LogParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use super::error::KubeError;
use super::faults;
use super::helm::{self, HelmTarget, ValuesParams};
use super::manifests::{self, Applier, FIELD_MANAGER, fixtures};
use super::minio::{self, S3Server};
use super::pins;
use super::portforward::{PortForward, Target};
use super::wait;
use crate::client::objstore::{Objstore, S3Credentials, S3Target};
use crate::eventually::{Eventually, Probe};
use crate::platform::{
    CompactPass, CompactRun, ComponentInfo, Endpoints, ExtraQuery, Platform, PlatformError,
    StackShape, Stores,
};

/// The pinned Thanos binary on this machine (`scripts/install thanos`).
fn local_thanos() -> Result<PathBuf, crate::versions::VersionsError> {
    crate::versions::Versions::load_default()?.binary("thanos")
}

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
    /// Alertmanager's pod.
    pub fn alertmanager_pod(&self) -> String {
        format!("alertmanager-{}-alertmanager-0", self.fullname)
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

/// One component as a report sees it.
#[derive(Debug, Clone)]
struct Component {
    name: String,
    pod: String,
    container: String,
    url: Option<String>,
}

/// A deployed stack. Dropping it stops the port-forwards; the namespace
/// belongs to the platform that holds it.
pub struct KubeStack {
    opts: KubeStackOptions,
    client: Client,
    ns: String,
    names: Names,
    endpoints: Endpoints,
    forwards: Vec<PortForward>,
    components: Vec<Component>,
    killed: BTreeSet<usize>,
    extras: usize,
    compactions: usize,
    loki_url: Option<String>,
    alertmanager_url: Option<String>,
    ready_after: Duration,
}

impl std::fmt::Debug for KubeStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStack")
            .field("platform", &self.opts.platform)
            .field("namespace", &self.ns)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
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

fn run_labels(run_id: &str) -> std::collections::BTreeMap<String, String> {
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

impl KubeStack {
    /// Deploys the stack into a new namespace and waits until both
    /// replicas' data is queryable through Thanos Query.
    ///
    /// On failure the error carries every pod's state in the namespace
    /// (phase, readiness, why a container waits), read before anything is
    /// cleaned up.
    pub async fn deploy(client: Client, opts: KubeStackOptions) -> Result<Self, KubeError> {
        let ns = opts.namespace();
        match Self::deploy_inner(client.clone(), opts).await {
            Ok(s) => Ok(s),
            // A namespace that was not ours holds nothing of this run.
            Err(e @ KubeError::Env { .. }) => Err(e),
            Err(e) => Err(KubeError::Deploy {
                pods: pod_summary(&client, &ns).await,
                namespace: ns,
                source: Box::new(e),
            }),
        }
    }

    async fn deploy_inner(client: Client, opts: KubeStackOptions) -> Result<Self, KubeError> {
        let started = Instant::now();
        let ns = opts.namespace();
        let names = Names::new(&opts.fullname);
        create_namespace(&client, &ns, &opts.run_id).await?;

        // The bucket as pods see it and as the harness sees it.
        let (in_cluster, server) = match &opts.object_store {
            ObjectStore::InCluster { server, bucket } => (
                S3Target {
                    endpoint: minio::in_cluster_endpoint(&ns),
                    bucket: bucket.clone(),
                    region: "us-east-1".into(),
                    insecure: true,
                    credentials: S3Credentials::generate(),
                },
                Some(*server),
            ),
            ObjectStore::External(t) => (t.clone(), None),
        };
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        secrets
            .patch(
                S3_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(s3_secret(&ns, &opts.run_id, &in_cluster)),
            )
            .await
            .map_err(KubeError::api(format!("apply secret {ns}/{S3_SECRET}")))?;

        let mut stack = KubeStack {
            client: client.clone(),
            ns: ns.clone(),
            names: names.clone(),
            endpoints: Endpoints {
                query: String::new(),
                prometheus: Vec::new(),
                sidecars: Vec::new(),
                store: None,
                s3: in_cluster.clone(),
            },
            forwards: Vec::new(),
            components: Vec::new(),
            killed: BTreeSet::new(),
            extras: 0,
            compactions: 0,
            loki_url: None,
            alertmanager_url: None,
            ready_after: Duration::ZERO,
            opts,
        };
        let mut applier = Applier::new(client.clone(), &ns);
        let replica_label = stack.opts.shape.replica_label.clone();
        let vars = |extra: &[(&'static str, String)]| {
            let mut v = vec![
                ("NAMESPACE", ns.clone()),
                ("S3_SECRET", S3_SECRET.to_owned()),
                ("THANOS_IMAGE", pins::THANOS_IMAGE.to_owned()),
                ("EXPORTER_IMAGE", pins::EXPORTER_IMAGE.to_owned()),
                ("REPLICA_LABEL", replica_label.clone()),
            ];
            v.extend_from_slice(extra);
            v
        };

        // 1. Object storage first: every writer needs the bucket.
        if let Some(server) = server {
            let text = manifests::render(
                "object store",
                server.template(),
                &vars(&[("S3_IMAGE", server.image().to_owned())]),
            )?;
            applier
                .apply_all(&manifests::parse(server.name(), &text)?)
                .await?;
            stack.component(
                "s3",
                &format!("deployment/{}", minio::S3_NAME),
                server.container(),
                None,
            );
        }
        // 2. Everything else at once: it all starts in parallel.
        let exporter = manifests::render("exporter.yaml", fixtures::EXPORTER, &vars(&[]))?;
        applier
            .apply_all(&manifests::parse("exporter.yaml", &exporter)?)
            .await?;
        let thanos = manifests::render("thanos.yaml", fixtures::THANOS, &vars(&[]))?;
        applier
            .apply_all(&manifests::parse("thanos.yaml", &thanos)?)
            .await?;
        let query = query_manifest(&ns, &names, QUERY, &stack.query_labels(), Stores::All)?;
        applier
            .apply_all(&manifests::parse("thanos-query.yaml", &query)?)
            .await?;
        stack.helm_install(&in_cluster).await?;

        // 3. Wait, naming what is pending.
        let t = stack.opts.timeout;
        if server.is_some() {
            stack.wait_deployment(minio::S3_NAME, t).await?;
            let fwd = stack
                .forward(Target::Service {
                    name: minio::S3_NAME.into(),
                    port: minio::S3_PORT,
                })
                .await?;
            stack.endpoints.s3 = S3Target {
                endpoint: fwd,
                ..in_cluster.clone()
            };
            stack.wait_bucket(true).await?;
        } else {
            stack.wait_bucket(false).await?;
        }
        // Not the compactor: it only matters to the compactor scenario, which
        // waits on its metrics; a halted one must not stop the whole stack.
        for d in [EXPORTER, STORE, QUERY] {
            stack.wait_deployment(d, t).await?;
        }
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
        let sts = names.statefulset();
        wait::until(
            &sets,
            &sts,
            format!("statefulset {ns}/{sts} to be ready"),
            t,
            wait::statefulset_ready,
        )
        .await?;
        let loki = names.loki();
        if stack.opts.loki {
            wait::until(
                &sets,
                loki,
                format!("statefulset {ns}/{loki} to be ready"),
                t,
                wait::statefulset_ready,
            )
            .await?;
        }

        // 4. Port-forwards for everything the scenarios reach.
        stack.endpoints.query = stack
            .forwarded_component(
                "query",
                &format!("deployment/{QUERY}"),
                "query",
                Target::Service {
                    name: QUERY.into(),
                    port: 10902,
                },
            )
            .await?;
        let store = stack
            .forwarded_component(
                "store",
                &format!("deployment/{STORE}"),
                "store",
                Target::Service {
                    name: STORE.into(),
                    port: 10902,
                },
            )
            .await?;
        stack.endpoints.store = Some(store);
        stack.component("compact", &format!("deployment/{COMPACT}"), "compact", None);
        stack.component(
            "exporter",
            &format!("deployment/{EXPORTER}"),
            "exporter",
            None,
        );
        for i in 0..stack.opts.shape.replicas {
            let pod = names.pod(i);
            let p = stack
                .forwarded_component(
                    &format!("prometheus-{i}"),
                    &format!("pod/{pod}"),
                    "prometheus",
                    Target::Pod {
                        name: pod.clone(),
                        port: 9090,
                    },
                )
                .await?;
            let s = stack
                .forwarded_component(
                    &format!("sidecar-{i}"),
                    &format!("pod/{pod}"),
                    "thanos-sidecar",
                    Target::Pod {
                        name: pod.clone(),
                        port: 10902,
                    },
                )
                .await?;
            stack.endpoints.prometheus.push(p);
            stack.endpoints.sidecars.push(s);
        }
        if stack.opts.loki {
            let loki_url = stack
                .forwarded_component(
                    "loki",
                    &format!("statefulset/{loki}"),
                    "loki",
                    Target::Service {
                        name: loki.into(),
                        port: 3100,
                    },
                )
                .await?;
            stack.loki_url = Some(loki_url);
        }
        let am = names.alertmanager_pod();
        let am_url = stack
            .forwarded_component(
                "alertmanager",
                &format!("pod/{am}"),
                "alertmanager",
                Target::Pod {
                    name: am.clone(),
                    port: 9093,
                },
            )
            .await?;
        stack.alertmanager_url = Some(am_url);
        stack.component(
            "operator",
            &format!("deployment/{}", names.operator()),
            "kube-prometheus-stack",
            None,
        );

        // 5. The data flows end to end.
        let all: Vec<String> = (0..stack.opts.shape.replicas)
            .map(|i| i.to_string())
            .collect();
        crate::platform::local::wait_replicas_in_query(
            &stack.endpoints.query,
            &stack.opts.shape.replica_label,
            &all,
            crate::data::exporter::now_ms(),
        )
        .await
        .map_err(|e| KubeError::Manifest {
            name: "stack".into(),
            message: format!("deployed, but the data does not flow: {e}"),
        })?;
        stack.ready_after = started.elapsed();
        Ok(stack)
    }

    fn query_labels(&self) -> Vec<String> {
        vec![self.opts.shape.replica_label.clone()]
    }

    fn values_params(&self, s3: &S3Target) -> ValuesParams {
        ValuesParams {
            namespace: self.ns.clone(),
            fullname: self.opts.fullname.clone(),
            scrape_interval: self.opts.shape.scrape_interval,
            block_duration: self.opts.shape.block_duration,
            replica_label: self.opts.shape.replica_label.clone(),
            cluster: self.opts.shape.cluster.clone(),
            replicas: self.opts.shape.replicas,
            s3_secret: S3_SECRET.into(),
            bucket: s3.bucket.clone(),
            s3_endpoint: s3.endpoint.clone(),
            s3_region: s3.region.clone(),
            s3_insecure: s3.insecure,
        }
    }

    /// Where helm finds the cluster.
    pub fn helm_target(&self) -> HelmTarget<'_> {
        HelmTarget {
            kubeconfig: &self.opts.kubeconfig,
            context: self.opts.context.as_deref(),
            namespace: &self.ns,
        }
    }

    async fn helm_install(&self, s3: &S3Target) -> Result<(), KubeError> {
        let p = self.values_params(s3);
        let dir = self.opts.run_dir.join("values");
        let t = self.helm_target();
        helm::install(
            &pins::KUBE_PROMETHEUS_STACK,
            &self.opts.fullname,
            &helm::kube_prometheus_stack_values(&p)?,
            &dir.join("kube-prometheus-stack.yaml"),
            &t,
            self.opts.skip_crds,
        )
        .await?;
        if !self.opts.loki {
            return Ok(());
        }
        helm::install(
            &pins::LOKI,
            pins::LOKI.release,
            &helm::loki_values(&p)?,
            &dir.join("loki.yaml"),
            &t,
            false,
        )
        .await
    }

    /// The helm releases this stack installed (for cleanup).
    pub fn releases(&self) -> Vec<String> {
        let mut r = vec![self.opts.fullname.clone()];
        if self.opts.loki {
            r.push(pins::LOKI.release.to_owned());
        }
        r
    }

    fn component(&mut self, name: &str, pod: &str, container: &str, url: Option<String>) {
        self.components.push(Component {
            name: name.into(),
            pod: pod.into(),
            container: container.into(),
            url,
        });
    }

    /// Scales the in-cluster S3 server to `replicas` and waits for the
    /// deployment; a real bucket cannot be, and `what` says so.
    async fn scale_object_storage(
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
        faults::scale_deployment(&api, minio::S3_NAME, replicas).await?;
        self.wait_deployment(minio::S3_NAME, timeout).await?;
        Ok(())
    }

    /// Port-forwards `target` and records component `name` (its logs in
    /// `pod`'s `container`) with the forwarded HTTP URL, which it returns.
    async fn forwarded_component(
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

    async fn forward(&mut self, target: Target) -> Result<String, KubeError> {
        let f = PortForward::start(self.client.clone(), &self.ns, target).await?;
        let addr = f.addr();
        self.forwards.push(f);
        Ok(addr)
    }

    async fn wait_deployment(&self, name: &str, timeout: Duration) -> Result<(), KubeError> {
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
    async fn wait_bucket(&self, create: bool) -> Result<(), KubeError> {
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

    /// Loki's URL (through a port-forward).
    pub fn loki_url(&self) -> Option<&str> {
        self.loki_url.as_deref()
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

    async fn pod_of(&self, what: &str) -> Option<String> {
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

    fn log_path(&self, name: &str) -> PathBuf {
        self.opts.run_dir.join("logs").join(format!("{name}.log"))
    }

    fn check_replica(&self, n: usize) -> Result<(), PlatformError> {
        let len = self.opts.shape.replicas;
        if n >= len {
            return Err(PlatformError::NoSuchReplica(n, len));
        }
        Ok(())
    }

    async fn apply_window(&self) -> Result<(), PlatformError> {
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

    fn s3_in_cluster(&self) -> bool {
        matches!(self.opts.object_store, ObjectStore::InCluster { .. })
    }
}

#[async_trait]
impl Platform for KubeStack {
    fn name(&self) -> &'static str {
        self.opts.platform
    }

    fn compactor_once(&self) -> Result<(), String> {
        local_thanos().map(|_| ()).map_err(|e| {
            format!("runs `thanos compact` on this machine against the run's bucket: {e}")
        })
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
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        let pod = self.names.pod(n);
        faults::delete_pod_now(&pods, &pod).await?;
        wait::until(
            &pods,
            &pod,
            format!("pod {}/{pod} to be gone", self.ns),
            Duration::from_secs(120),
            wait::pod_gone,
        )
        .await?;
        Ok(())
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

/// Removes a run's namespace and helm releases when dropped (unless
/// `STACKPROOF_KEEP=1`): used where the cluster outlives the run (the
/// `cluster` platform, a reused kind cluster). Blocking CLI calls, so it
/// works from `Drop` whatever the runtime is doing.
#[derive(Debug)]
pub struct NamespaceGuard {
    /// The run's namespace.
    pub namespace: String,
    /// Helm releases in it (uninstalled first: they own cluster-scoped objects).
    pub releases: Vec<String>,
    /// Kubeconfig file.
    pub kubeconfig: PathBuf,
    /// Context in it.
    pub context: Option<String>,
    /// Where helm and kubectl are (None: PATH).
    pub tool_dir: Option<PathBuf>,
}

impl NamespaceGuard {
    /// The commands that undo the run, in order (also printed when kept).
    pub fn cleanup_commands(&self) -> Vec<(String, Vec<String>)> {
        let t = HelmTarget {
            kubeconfig: &self.kubeconfig,
            context: self.context.as_deref(),
            namespace: &self.namespace,
        };
        let mut cmds: Vec<(String, Vec<String>)> = self
            .releases
            .iter()
            .map(|r| {
                (
                    super::cmd::program_in(self.tool_dir.as_deref(), "helm"),
                    helm::uninstall_args(r, &t),
                )
            })
            .collect();
        let mut k = vec![
            "delete".to_owned(),
            "namespace".to_owned(),
            self.namespace.clone(),
            "--ignore-not-found".to_owned(),
            "--wait=false".to_owned(),
            "--kubeconfig".to_owned(),
            self.kubeconfig.display().to_string(),
        ];
        if let Some(c) = &self.context {
            k.push("--context".into());
            k.push(c.clone());
        }
        cmds.push((
            super::cmd::program_in(self.tool_dir.as_deref(), "kubectl"),
            k,
        ));
        cmds
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let cmds = self.cleanup_commands();
        if crate::process::keep_requested() {
            eprintln!(
                "STACKPROOF_KEEP=1: namespace {} left in place; remove it with:",
                self.namespace
            );
            for (p, a) in &cmds {
                eprintln!("  {}", super::cmd::command_line(p, a));
            }
            return;
        }
        for (p, a) in &cmds {
            if let Err(e) = super::cmd::run_blocking(p, a) {
                eprintln!(
                    "stackproof: cleanup step failed: {e}\nhint: {}",
                    super::cmd::command_line(p, a)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::kind::manifests::tests::{assert_valid_object, discovery_and_echo};
    use crate::platform::kind::mock::{self, Reply};
    use serde_json::json;

    fn target() -> S3Target {
        S3Target {
            endpoint: "stackproof-s3.stackproof-r1.svc:9000".into(),
            bucket: "stackproof".into(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: S3Credentials {
                access_key: "AKIDEXAMPLE".into(),
                secret_key: "s3cr3t-never-printed".into(),
            },
        }
    }

    #[test]
    fn cleanup_uninstalls_releases_then_deletes_the_namespace_on_drop() {
        if crate::process::keep_requested() {
            eprintln!("STACKPROOF_KEEP is set: drop deletes nothing, not tested");
            return;
        }
        let tools = super::super::cmd::tests::recording_tools(&["helm", "kubectl"]);
        let g = NamespaceGuard {
            namespace: "stackproof-r1".into(),
            releases: vec!["sp-r1".into(), "stackproof-loki".into()],
            kubeconfig: "/home/u/.kube/config".into(),
            context: Some("staging".into()),
            tool_dir: Some(tools.path().to_owned()),
        };
        drop(g);
        assert_eq!(
            super::super::cmd::tests::recorded(&tools),
            [
                "helm uninstall sp-r1 --ignore-not-found --namespace stackproof-r1 --kubeconfig /home/u/.kube/config --kube-context staging",
                "helm uninstall stackproof-loki --ignore-not-found --namespace stackproof-r1 --kubeconfig /home/u/.kube/config --kube-context staging",
                "kubectl delete namespace stackproof-r1 --ignore-not-found --wait=false --kubeconfig /home/u/.kube/config --context staging",
            ]
        );
    }

    #[test]
    fn names_follow_the_chart_and_the_operator() {
        let n = Names::new("sp");
        assert_eq!(n.prometheus(), "sp-prometheus");
        assert_eq!(n.statefulset(), "prometheus-sp-prometheus");
        assert_eq!(n.pod(1), "prometheus-sp-prometheus-1");
        assert_eq!(n.discovery(), "sp-thanos-discovery");
        assert_eq!(n.alertmanager_pod(), "alertmanager-sp-alertmanager-0");
    }

    #[test]
    fn the_s3_secret_is_a_valid_secret_holding_the_objstore_config() {
        let s = s3_secret("stackproof-r1", "r1", &target());
        let v = serde_json::to_value(&s).unwrap();
        assert_valid_object(&v);
        let data = s.data.unwrap();
        let objstore = String::from_utf8(data["objstore.yml"].0.clone()).unwrap();
        assert!(
            objstore.contains("endpoint: \"stackproof-s3.stackproof-r1.svc:9000\""),
            "{objstore}"
        );
        assert!(objstore.contains("insecure: true"));
        assert_eq!(data["AWS_SECRET_ACCESS_KEY"].0, b"s3cr3t-never-printed");
        // Debug output of what the platform carries never shows the key.
        assert!(!format!("{:?}", target()).contains("s3cr3t"));
    }

    #[test]
    fn extra_queries_carry_their_replica_labels_or_none() {
        let n = Names::new("sp");
        for labels in [
            vec![],
            vec!["replica".to_owned()],
            vec!["replica".to_owned(), "prometheus_replica".to_owned()],
        ] {
            let text = query_manifest(
                "ns",
                &n,
                "stackproof-thanos-query-extra-0",
                &labels,
                Stores::All,
            )
            .unwrap();
            let objs = manifests::parse("q", &text).unwrap();
            let dep = serde_json::to_value(&objs[0]).unwrap();
            assert_valid_object(&dep);
            let args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
                .as_array()
                .unwrap()
                .clone();
            let got: Vec<&str> = args
                .iter()
                .filter_map(|a| a.as_str()?.strip_prefix("--query.replica-label="))
                .collect();
            assert_eq!(got, labels);
            assert_eq!(dep["metadata"]["name"], "stackproof-thanos-query-extra-0");
        }
    }

    #[tokio::test]
    async fn a_failed_deploy_says_which_pods_were_not_ready() {
        let api = mock::serve(|req| match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/api/v1/namespaces") => Reply::object_for(req),
            // The Secret cannot be written: deploy stops there.
            ("PATCH", _) => Reply::status(403),
            ("GET", "/api/v1/namespaces/stackproof-r1/pods") => Reply::list(
                "PodList",
                vec![json!({"metadata": {"name": "stackproof-s3-abc"},
                            "status": {"phase": "Pending", "containerStatuses": [{
                                "name": "minio", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                                "state": {"waiting": {"reason": "ErrImagePull"}}}]}})],
            ),
            _ => Reply::status(404),
        });
        let mut stack = stack_on(api.client.clone());
        stack.opts.run_dir = tempfile::tempdir().unwrap().keep();
        let e = match KubeStack::deploy(api.client.clone(), stack.opts.clone()).await {
            Ok(_) => panic!("deploy succeeded against a forbidding API"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.starts_with(
                "deploying into namespace stackproof-r1: apply secret stackproof-r1/stackproof-s3:"
            ),
            "{e}"
        );
        assert!(
            e.contains(
                "pods: stackproof-s3-abc: phase Pending, not ready (waiting: minio ErrImagePull)"
            ),
            "{e}"
        );
        assert!(e.contains("STACKPROOF_KEEP=1"), "{e}");
    }

    #[tokio::test]
    async fn an_existing_namespace_is_refused_not_adopted() {
        let api = mock::serve(|req| {
            if req.method == "POST" {
                Reply::status(409)
            } else {
                Reply::status(404)
            }
        });
        let e = create_namespace(&api.client, "stackproof-r1", "r1")
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "namespace stackproof-r1: already exists and stackproof did not create it: use another run id"
        );
        let body = api.requests()[0].json();
        assert_eq!(body["metadata"]["labels"][RUN_LABEL], "r1");
    }

    /// A stack value wired to a mock API, as `deploy` leaves it.
    fn stack_on(client: Client) -> KubeStack {
        KubeStack {
            opts: KubeStackOptions {
                platform: "kind",
                run_id: "r1".into(),
                fullname: "sp".into(),
                shape: StackShape {
                    scrape_interval: Duration::from_secs(1),
                    block_duration: Duration::from_secs(120),
                    replica_label: "replica".into(),
                    cluster: "stackproof".into(),
                    replicas: 2,
                },
                object_store: ObjectStore::InCluster {
                    server: S3Server::Minio,
                    bucket: "stackproof".into(),
                },
                kubeconfig: "/nonexistent".into(),
                context: None,
                run_dir: std::env::temp_dir(),
                timeout: Duration::from_secs(5),
                skip_crds: false,
                loki: true,
            },
            client,
            ns: "stackproof-r1".into(),
            names: Names::new("sp"),
            endpoints: Endpoints {
                query: "http://127.0.0.1:1".into(),
                prometheus: vec![],
                sidecars: vec![],
                store: None,
                s3: target(),
            },
            forwards: vec![],
            components: vec![],
            killed: BTreeSet::new(),
            extras: 0,
            compactions: 0,
            loki_url: None,
            alertmanager_url: None,
            ready_after: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn killing_a_replica_pauses_the_operator_narrows_the_set_and_deletes_the_pod() {
        let api =
            mock::serve(
                |req| match (req.method.as_str(), req.query.contains("watch=true")) {
                    ("PATCH" | "DELETE", _) => Reply::object_for(req),
                    // The pod is gone: empty list, then an empty watch.
                    ("GET", false) => Reply::list("PodList", vec![]),
                    ("GET", true) => Reply::Hang,
                    _ => Reply::status(404),
                },
            );
        let mut stack = stack_on(api.client.clone());
        stack.kill_replica(0).await.unwrap();
        let calls = api.calls();
        assert_eq!(
            &calls[..4],
            [
                "PATCH /apis/monitoring.coreos.com/v1/namespaces/stackproof-r1/prometheuses/sp-prometheus",
                "PATCH /apis/apps/v1/namespaces/stackproof-r1/statefulsets/prometheus-sp-prometheus",
                "DELETE /api/v1/namespaces/stackproof-r1/pods/prometheus-sp-prometheus-0",
                "GET /api/v1/namespaces/stackproof-r1/pods",
            ]
        );
        let reqs = api.requests();
        assert_eq!(
            reqs[1].json(),
            json!({"spec": {"replicas": 1, "ordinals": {"start": 1}}})
        );
        assert_eq!(reqs[2].json()["gracePeriodSeconds"], 0);
        assert!(
            stack
                .kill_replica(2)
                .await
                .unwrap_err()
                .to_string()
                .contains("no replica 2")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_that_will_not_go_away_times_out_naming_it() {
        let pod = json!({"metadata": {"name": "prometheus-sp-prometheus-1", "namespace": "stackproof-r1", "resourceVersion": "1",
                         "deletionTimestamp": "2026-11-25T09:00:00Z"}});
        let api =
            mock::serve(
                move |req| match (req.method.as_str(), req.query.contains("watch=true")) {
                    ("PATCH", _) => Reply::object_for(req),
                    ("DELETE", _) => Reply::ok(
                        json!({"apiVersion": "v1", "kind": "Status", "status": "Success"}),
                    ),
                    ("GET", false) => Reply::list("PodList", vec![pod.clone()]),
                    _ => Reply::Hang,
                },
            );
        let mut stack = stack_on(api.client.clone());
        // Bounded by the kill's own 120 s wait; the test waits on a paused clock.
        let e = tokio::time::timeout(Duration::from_secs(150), stack.kill_replica(1)).await;
        let msg = match e {
            Ok(r) => r.unwrap_err().to_string(),
            Err(_) => panic!("the kill's wait has no deadline"),
        };
        assert!(
            msg.contains("pod stackproof-r1/prometheus-sp-prometheus-1 to be gone"),
            "{msg}"
        );
        assert!(msg.contains("last seen: pod still terminating"), "{msg}");
    }

    #[tokio::test]
    async fn object_storage_outage_scales_the_s3_deployment() {
        let api = mock::serve(|req| {
            match (req.method.as_str(), req.query.contains("watch=true")) {
                ("PATCH", _) => Reply::object_for(req),
                ("GET", false) => Reply::list(
                    "DeploymentList",
                    vec![
                        json!({"metadata": {"name": "stackproof-s3", "generation": 2, "resourceVersion": "1"},
                            "spec": {"replicas": 0, "selector": {}, "template": {}},
                            "status": {"observedGeneration": 2}}),
                    ],
                ),
                _ => Reply::Hang,
            }
        });
        let mut stack = stack_on(api.client.clone());
        stack.stop_object_storage().await.unwrap();
        let reqs = api.requests();
        assert_eq!(
            reqs[0].path,
            "/apis/apps/v1/namespaces/stackproof-r1/deployments/stackproof-s3"
        );
        assert_eq!(reqs[0].json(), json!({"spec": {"replicas": 0}}));
        stack.opts.object_store = ObjectStore::External(target());
        let e = stack.stop_object_storage().await.unwrap_err().to_string();
        assert_eq!(
            e,
            "stopping a real S3 bucket is not supported on the kind platform"
        );
    }

    #[tokio::test]
    async fn applying_an_extra_query_goes_through_discovery_and_server_side_apply() {
        let api = mock::serve(discovery_and_echo);
        let text = query_manifest(
            "stackproof-r1",
            &Names::new("sp"),
            "stackproof-thanos-query-extra-0",
            &[],
            Stores::All,
        )
        .unwrap();
        let objs = manifests::parse("q", &text).unwrap();
        Applier::new(api.client.clone(), "stackproof-r1")
            .apply_all(&objs)
            .await
            .unwrap();
        assert_eq!(
            api.calls(),
            [
                "GET /apis/apps/v1",
                "PATCH /apis/apps/v1/namespaces/stackproof-r1/deployments/stackproof-thanos-query-extra-0",
                "GET /api/v1",
                "PATCH /api/v1/namespaces/stackproof-r1/services/stackproof-thanos-query-extra-0",
            ]
        );
    }
}
