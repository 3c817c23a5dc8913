//! The `cluster` platform: an existing Kubernetes cluster from the
//! kubeconfig (context chosen by the caller, e.g. a `--context` flag), one
//! namespace per run holding everything stackproof creates, and a real S3
//! bucket from environment variables. It touches nothing it did not create:
//! the namespace must not exist, the operator watches only that namespace,
//! and on drop the run's helm releases and namespace are removed (unless
//! `STACKPROOF_KEEP=1`, which prints the commands instead).
//!
//! The bucket is the user's: stackproof never creates or empties it, and
//! refuses one that already holds objects (old blocks would be counted as
//! this run's). Stopping object storage is not something a real bucket can
//! do: that scenario is reported unsupported here.

use std::path::PathBuf;
use std::time::Duration;

use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;

use super::kind::cluster::{client_from_kubeconfig, run_id};
use super::kube::error::KubeError;
use super::kube::{
    KubePlatform, KubeStackOptions, NamespaceGuard, ObjectStore, Teardown, cmd, pins,
};
use super::{PlatformError, StackShape};
use crate::client::objstore::{Objstore, S3Credentials, S3Target};

/// Opt-in to install prometheus-operator's CRDs when the cluster lacks them
/// (cluster-scoped: they stay after the run, as Helm always leaves CRDs).
pub const INSTALL_CRDS_VAR: &str = "STACKPROOF_CLUSTER_INSTALL_CRDS";

/// The S3 variables, in the order a person sets them.
pub const S3_VARS: &[(&str, &str)] = &[
    (
        "STACKPROOF_S3_ENDPOINT",
        "host:port, no scheme (e.g. s3.eu-west-1.amazonaws.com)",
    ),
    ("STACKPROOF_S3_BUCKET", "an existing, empty bucket"),
    (
        "STACKPROOF_S3_ACCESS_KEY_ID",
        "access key (or AWS_ACCESS_KEY_ID)",
    ),
    (
        "STACKPROOF_S3_SECRET_ACCESS_KEY",
        "secret key (or AWS_SECRET_ACCESS_KEY)",
    ),
    ("STACKPROOF_S3_REGION", "optional, default us-east-1"),
    ("STACKPROOF_S3_INSECURE", "optional, 1 for plain HTTP"),
];

/// The bucket from variables read through `get` (the environment in
/// production, a map in tests). The error names every missing variable.
pub fn s3_from_env(get: impl Fn(&str) -> Option<String>) -> Result<S3Target, String> {
    let val = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let endpoint = val("STACKPROOF_S3_ENDPOINT");
    let bucket = val("STACKPROOF_S3_BUCKET");
    let access = val("STACKPROOF_S3_ACCESS_KEY_ID").or_else(|| val("AWS_ACCESS_KEY_ID"));
    let secret = val("STACKPROOF_S3_SECRET_ACCESS_KEY").or_else(|| val("AWS_SECRET_ACCESS_KEY"));
    let mut missing = Vec::new();
    for (name, v) in [
        ("STACKPROOF_S3_ENDPOINT", &endpoint),
        ("STACKPROOF_S3_BUCKET", &bucket),
        ("STACKPROOF_S3_ACCESS_KEY_ID", &access),
        ("STACKPROOF_S3_SECRET_ACCESS_KEY", &secret),
    ] {
        if v.is_none() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "S3 bucket not configured: set {} (see docs/kind.md)",
            missing.join(", ")
        ));
    }
    let endpoint = endpoint.expect("checked");
    if endpoint.contains("://") {
        return Err(format!(
            "STACKPROOF_S3_ENDPOINT must be host:port with no scheme (Thanos wants it so), got {endpoint}"
        ));
    }
    Ok(S3Target {
        endpoint,
        bucket: bucket.expect("checked"),
        region: val("STACKPROOF_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        insecure: matches!(val("STACKPROOF_S3_INSECURE").as_deref(), Some("1" | "true")),
        credentials: S3Credentials {
            access_key: access.expect("checked"),
            secret_key: secret.expect("checked"),
        },
    })
}

/// The kubeconfig file: `KUBECONFIG` (its first entry) or `~/.kube/config`.
pub fn default_kubeconfig() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("KUBECONFIG")
        && let Some(first) = std::env::split_paths(&v).next()
        && !first.as_os_str().is_empty()
    {
        return Some(first);
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// Whether the cluster platform can run here; if not, one line saying what
/// is missing and how to get it. Only opens a TCP connection to the API
/// server of `context` (default: the current one), nothing more.
pub fn availability(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(), String> {
    let path = kubeconfig.map(PathBuf::from).or_else(default_kubeconfig);
    match &path {
        Some(p) if p.is_file() => super::cluster_reach::probe(p, context)?,
        Some(p) => {
            return Err(format!(
                "no kubeconfig at {}: the cluster platform needs one (KUBECONFIG, or --kubeconfig) and a context",
                p.display()
            ));
        }
        None => return Err("no kubeconfig (KUBECONFIG unset, no HOME)".into()),
    }
    if !cmd::available("helm") || !cmd::available("kubectl") {
        return Err(
            "helm or kubectl not found on PATH nor in the build cache: run scripts/install-kind-tools"
                .into(),
        );
    }
    s3_from_env(|k| std::env::var(k).ok()).map(|_| ())
}

/// How to run on an existing cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Kubeconfig file (None: `KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// Context (None: the kubeconfig's current one).
    pub context: Option<String>,
    /// Intervals, labels, replicas.
    pub shape: StackShape,
    /// Longest wait for any one object.
    pub timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            shape: super::kind::kube_shape(super::kind::DEFAULT_KUBELET_SYNC),
            timeout: Duration::from_secs(900),
        }
    }
}

/// The cluster platform: [`KubePlatform`] in a namespace of an existing
/// cluster. Dropping it stops the port-forwards, then uninstalls the run's
/// releases and deletes its namespace, unless `STACKPROOF_KEEP=1`.
pub type ClusterPlatform = KubePlatform;

impl KubePlatform {
    /// Deploys the stack into a new namespace and waits until both
    /// replicas' data is queryable.
    pub async fn cluster(opts: ClusterOptions) -> Result<Self, PlatformError> {
        let s3 = s3_from_env(|k| std::env::var(k).ok()).map_err(|message| KubeError::Env {
            var: "STACKPROOF_S3_*".into(),
            message,
        })?;
        let kubeconfig = opts
            .kubeconfig
            .clone()
            .or_else(default_kubeconfig)
            .ok_or_else(|| KubeError::Env {
                var: "KUBECONFIG".into(),
                message: "no kubeconfig found".into(),
            })?;
        let client = client_from_kubeconfig(&kubeconfig, opts.context.as_deref()).await?;
        // The bucket must exist and be empty: this run's blocks are counted.
        let store = Objstore::new(s3.clone());
        store.head_bucket().await?;
        let objects = store.list("").await?;
        if !objects.is_empty() {
            return Err(KubeError::Env {
                var: "STACKPROOF_S3_BUCKET".into(),
                message: format!(
                    "bucket {} already holds {} object(s) (first: {}): give each run an empty bucket",
                    s3.bucket,
                    objects.len(),
                    objects[0].key
                ),
            }
            .into());
        }
        // Existing prometheus-operator CRDs are used as they are.
        let gvk = GroupVersionKind::gvk("monitoring.coreos.com", "v1", "Prometheus");
        let crds_exist = pinned_kind(&client, &gvk).await.is_ok();
        if !crds_exist && std::env::var(INSTALL_CRDS_VAR).as_deref() != Ok("1") {
            return Err(KubeError::Env {
                var: INSTALL_CRDS_VAR.into(),
                message: "the cluster has no prometheus-operator CRDs; set it to 1 to let helm install them \
                          (cluster-scoped, they stay after the run)"
                    .into(),
            }
            .into());
        }
        let tmp = tempfile::Builder::new()
            .prefix("stackproof-cluster-")
            .tempdir()
            .map_err(PlatformError::io("create the run directory"))?;
        let id = run_id();
        let kopts = KubeStackOptions {
            platform: "cluster",
            cluster: opts
                .context
                .clone()
                .unwrap_or_else(|| "current context".into()),
            fullname: format!("sp-{id}"),
            run_id: id,
            shape: opts.shape,
            object_store: ObjectStore::External(s3),
            kubeconfig: kubeconfig.clone(),
            context: opts.context.clone(),
            run_dir: tmp.path().to_owned(),
            timeout: opts.timeout,
            skip_crds: crds_exist,
            loki: true,
            receiver_ip: None,
        };
        let guard = NamespaceGuard {
            namespace: kopts.namespace(),
            releases: vec![kopts.fullname.clone(), pins::LOKI.release.to_owned()],
            kubeconfig,
            context: opts.context,
            tool_dir: None,
        };
        eprintln!("stackproof: deploying into namespace {}", guard.namespace);
        let tmp = if crate::process::keep_requested() {
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        let teardown = Teardown::new().then(guard).then(tmp);
        Ok(KubePlatform::deploy(client, kopts, teardown).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_bucket_comes_from_env_vars_and_missing_ones_are_named() {
        let e = s3_from_env(env(&[("STACKPROOF_S3_BUCKET", "b")])).unwrap_err();
        assert_eq!(
            e,
            "S3 bucket not configured: set STACKPROOF_S3_ENDPOINT, STACKPROOF_S3_ACCESS_KEY_ID, \
             STACKPROOF_S3_SECRET_ACCESS_KEY (see docs/kind.md)"
        );
        let t = s3_from_env(env(&[
            ("STACKPROOF_S3_ENDPOINT", "s3.example.com:443"),
            ("STACKPROOF_S3_BUCKET", "stackproof-staging"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ]))
        .unwrap();
        assert_eq!(t.endpoint, "s3.example.com:443");
        assert_eq!(t.region, "us-east-1");
        assert!(!t.insecure);
        assert_eq!(t.credentials.access_key, "AKID");
        assert!(!format!("{t:?}").contains("very-secret"));
    }

    #[test]
    fn an_endpoint_with_a_scheme_is_refused() {
        let e = s3_from_env(env(&[
            ("STACKPROOF_S3_ENDPOINT", "https://s3.example.com"),
            ("STACKPROOF_S3_BUCKET", "b"),
            ("STACKPROOF_S3_ACCESS_KEY_ID", "a"),
            ("STACKPROOF_S3_SECRET_ACCESS_KEY", "s"),
        ]))
        .unwrap_err();
        assert!(e.contains("no scheme"), "{e}");
    }

    #[test]
    fn a_missing_kubeconfig_is_said_in_one_line() {
        let e =
            availability(Some(std::path::Path::new("/nonexistent/kubeconfig")), None).unwrap_err();
        assert!(
            e.starts_with("no kubeconfig at /nonexistent/kubeconfig"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
