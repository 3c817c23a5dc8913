//! The pinned Helm charts: values rendered from `fixtures/kind/*.values.yaml`
//! and installed with `helm upgrade --install` (idempotent: a kept cluster
//! can be reused). Helm's own `--wait` is not used: the platform waits with
//! kube-rs conditions that say which object is still pending.
//!
//! Charts come from their repositories (`--repo`), or, when
//! `STACKPROOF_CHARTS_DIR` names a directory of packaged charts, from the
//! `.tgz` files there: the air-gapped convention (`helm package`, install the
//! package), for machines that reach no chart repository.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cmd;
use super::error::KubeError;
use super::manifests::{fixtures, render};
use super::pins::{self, Chart};

/// What the values files need to know about the run.
#[derive(Debug, Clone)]
pub struct ValuesParams {
    /// The run's namespace.
    pub namespace: String,
    /// `fullnameOverride` of kube-prometheus-stack: every object's prefix.
    pub fullname: String,
    /// Scrape interval of the exporter job.
    pub scrape_interval: Duration,
    /// Prometheus block size (min = max with object storage).
    pub block_duration: Duration,
    /// The replica external label.
    pub replica_label: String,
    /// The `cluster` external label.
    pub cluster: String,
    /// Prometheus replicas.
    pub replicas: usize,
    /// The Secret holding `objstore.yml` and the S3 keys.
    pub s3_secret: String,
    /// The bucket.
    pub bucket: String,
    /// S3 endpoint as pods reach it (`host:port`, no scheme).
    pub s3_endpoint: String,
    /// S3 region.
    pub s3_region: String,
    /// Plain HTTP to S3.
    pub s3_insecure: bool,
}

/// A duration as Prometheus and the operator write it (`1s`, `2m`, `500ms`).
pub use crate::stack::config::go_duration;

/// kube-prometheus-stack values for this run.
pub fn kube_prometheus_stack_values(p: &ValuesParams) -> Result<String, KubeError> {
    let interval = go_duration(p.scrape_interval);
    render(
        "kube-prometheus-stack.values.yaml",
        fixtures::KPS_VALUES,
        &[
            ("FULLNAME", p.fullname.clone()),
            ("REPLICAS", p.replicas.to_string()),
            ("NAMESPACE", p.namespace.clone()),
            ("SCRAPE_INTERVAL", interval),
            ("BLOCK_DURATION", go_duration(p.block_duration)),
            ("REPLICA_LABEL", p.replica_label.clone()),
            ("CLUSTER", p.cluster.clone()),
            ("THANOS_IMAGE", pins::THANOS_IMAGE.into()),
            ("S3_SECRET", p.s3_secret.clone()),
            (
                "AM_PEER_TIMEOUT",
                go_duration(crate::stack::alertmanager::PEER_TIMEOUT),
            ),
            (
                "AM_GOSSIP_INTERVAL",
                go_duration(crate::stack::alertmanager::GOSSIP_INTERVAL),
            ),
        ],
    )
}

/// Loki chart values for this run.
pub fn loki_values(p: &ValuesParams) -> Result<String, KubeError> {
    render(
        "loki.values.yaml",
        fixtures::LOKI_VALUES,
        &[
            ("BUCKET", p.bucket.clone()),
            ("S3_ENDPOINT", p.s3_endpoint.clone()),
            ("S3_REGION", p.s3_region.clone()),
            ("S3_INSECURE", p.s3_insecure.to_string()),
            ("LOKI_SECRET", super::loki::LOKI_SECRET.into()),
        ],
    )
}

/// Names a directory of packaged charts, `<chart>-<version>.tgz` as
/// `helm package` writes them. Set (and not empty), every pinned chart is
/// installed from it and no chart repository is contacted.
pub const CHARTS_DIR_VAR: &str = "STACKPROOF_CHARTS_DIR";

/// The directory of packaged charts: `STACKPROOF_CHARTS_DIR` when set, else
/// `~/.cache/stackproof/charts` when it holds the pinned
/// kube-prometheus-stack package (where `scripts/kind-offline`'s users keep
/// them), else none: the repositories.
pub fn charts_dir() -> Option<std::ffi::OsString> {
    if let Some(d) = std::env::var_os(CHARTS_DIR_VAR).filter(|d| !d.is_empty()) {
        return Some(d);
    }
    let d = crate::versions::cache_dir().join("charts");
    d.join(package_file_name(&pins::KUBE_PROMETHEUS_STACK))
        .is_file()
        .then(|| d.into_os_string())
}

/// Where helm takes a pinned chart from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// The chart's repository by URL (`--repo`, `--version`).
    Repository,
    /// A packaged chart of exactly the pinned version.
    Package(PathBuf),
}

/// The file name `helm package` (and `helm pull`) gives the pinned version.
pub fn package_file_name(chart: &Chart) -> String {
    format!("{}-{}.tgz", chart.chart, chart.version)
}

/// The source of `chart` given the value of `STACKPROOF_CHARTS_DIR`.
///
/// A set directory without the package is an error rather than a fallback to
/// the repository: whoever sets it means "no internet here", and a silent
/// fallback would only fail later, after the cluster is up, with a less
/// helpful network error.
pub fn chart_source(chart: &Chart, charts_dir: Option<&OsStr>) -> Result<ChartSource, KubeError> {
    let Some(dir) = charts_dir.filter(|d| !d.is_empty()) else {
        return Ok(ChartSource::Repository);
    };
    let dir = Path::new(dir);
    let file = dir.join(package_file_name(chart));
    if file.is_file() {
        return Ok(ChartSource::Package(file));
    }
    Err(KubeError::Env {
        var: CHARTS_DIR_VAR.into(),
        message: format!(
            "{file} not found: the pinned {name} {version} must be packaged there; \
             `helm package <{name} chart directory, dependencies in its charts/> --destination {dir}` \
             makes it (where the internet is reachable: `helm pull {name} --repo {repo} --version {version} \
             --destination {dir}`), or unset {CHARTS_DIR_VAR} to install from {repo}",
            file = file.display(),
            dir = dir.display(),
            name = chart.chart,
            version = chart.version,
            repo = chart.repo,
        ),
    })
}

/// Where helm finds the cluster.
#[derive(Debug, Clone)]
pub struct HelmTarget<'a> {
    /// Kubeconfig file.
    pub kubeconfig: &'a Path,
    /// Context in it (None: its current one).
    pub context: Option<&'a str>,
    /// The run's namespace.
    pub namespace: &'a str,
}

impl HelmTarget<'_> {
    fn common(&self) -> Vec<String> {
        let mut a = vec![
            "--namespace".into(),
            self.namespace.into(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
        ];
        if let Some(c) = self.context {
            a.push("--kube-context".into());
            a.push(c.into());
        }
        a
    }
}

/// `helm upgrade --install` arguments for a pinned chart from `source`.
pub fn install_args(
    chart: &Chart,
    source: &ChartSource,
    release: &str,
    values: &Path,
    t: &HelmTarget<'_>,
    skip_crds: bool,
) -> Vec<String> {
    let mut a: Vec<String> = vec!["upgrade".into(), "--install".into(), release.into()];
    match source {
        ChartSource::Repository => a.extend([
            chart.chart.into(),
            "--repo".into(),
            chart.repo.into(),
            "--version".into(),
            chart.version.into(),
        ]),
        // A package is one version already: helm ignores --version for a
        // file, so passing it would only suggest a check that never happens.
        ChartSource::Package(file) => a.push(file.display().to_string()),
    }
    a.extend([
        "--values".into(),
        values.display().to_string(),
        // Helm's timeout only bounds its own API calls: no --wait.
        "--timeout".into(),
        "5m".into(),
    ]);
    if skip_crds {
        a.push("--skip-crds".into());
    }
    a.extend(t.common());
    a
}

/// `helm uninstall` arguments (removes the release's cluster-scoped objects
/// too, e.g. the operator's ClusterRole; CRDs stay, as Helm always does).
pub fn uninstall_args(release: &str, t: &HelmTarget<'_>) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "uninstall".into(),
        release.into(),
        "--ignore-not-found".into(),
    ];
    a.extend(t.common());
    a
}

/// Writes `values` (0600) and installs `chart` as `release`, from its
/// repository or from `STACKPROOF_CHARTS_DIR` (see [`chart_source`]).
pub async fn install(
    chart: &Chart,
    release: &str,
    values: &str,
    values_file: &Path,
    t: &HelmTarget<'_>,
    skip_crds: bool,
) -> Result<(), KubeError> {
    let source = chart_source(chart, charts_dir().as_deref())?;
    write_private(values_file, values)?;
    cmd::run(
        "helm",
        &install_args(chart, &source, release, values_file, t, skip_crds),
        Duration::from_secs(600),
    )
    .await?;
    Ok(())
}

/// Uninstalls a release from a `Drop` path.
pub fn uninstall_blocking(release: &str, t: &HelmTarget<'_>) -> Result<(), KubeError> {
    cmd::run_blocking("helm", &uninstall_args(release, t))
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), KubeError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(KubeError::io(format!("create {}", dir.display())))?;
    }
    crate::process::write_private(path, text)
        .map_err(KubeError::io(format!("write {}", path.display())))
}

#[cfg(test)]
mod tests;
