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
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

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
mod tests {
    use super::*;
    use serde_json::Value;

    fn params() -> ValuesParams {
        ValuesParams {
            namespace: "stackproof-ab12cd".into(),
            fullname: "sp".into(),
            scrape_interval: Duration::from_secs(1),
            block_duration: Duration::from_secs(120),
            replica_label: "replica".into(),
            cluster: "stackproof".into(),
            replicas: 2,
            s3_secret: "stackproof-s3".into(),
            bucket: "stackproof".into(),
            s3_endpoint: "stackproof-s3.stackproof-ab12cd.svc:9000".into(),
            s3_region: "us-east-1".into(),
            s3_insecure: true,
        }
    }

    fn yaml(s: &str) -> Value {
        serde_saphyr::from_str(s).unwrap()
    }

    #[test]
    fn durations_are_written_the_way_prometheus_reads_them() {
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_secs(120)), "2m");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn kube_prometheus_stack_values_snapshot() {
        let v = yaml(&kube_prometheus_stack_values(&params()).unwrap());
        let ps = &v["prometheus"]["prometheusSpec"];
        assert_eq!(v["fullnameOverride"], "sp");
        assert_eq!(ps["replicas"], 2);
        assert_eq!(ps["replicaExternalLabelName"], "");
        assert_eq!(
            ps["externalLabels"]["replica"],
            "$(STATEFULSET_ORDINAL_NUMBER)"
        );
        assert_eq!(
            ps["additionalAlertRelabelConfigs"][0],
            serde_json::json!({"action": "labeldrop", "regex": "replica"})
        );
        assert_eq!(ps["prometheusExternalLabelName"], "");
        assert_eq!(ps["externalLabels"]["cluster"], "stackproof");
        assert_eq!(ps["scrapeInterval"], "1s");
        assert_eq!(ps["thanos"]["blockSize"], "2m");
        assert_eq!(ps["thanos"]["image"], pins::THANOS_IMAGE);
        assert_eq!(
            ps["thanos"]["objectStorageConfig"]["existingSecret"],
            serde_json::json!({"name": "stackproof-s3", "key": "objstore.yml"})
        );
        assert_eq!(
            format!("{}:{}", ps["image"]["registry"].as_str().unwrap(), "")
                + ps["image"]["repository"].as_str().unwrap(),
            "quay.io:prometheus/prometheus"
        );
        assert_eq!(
            format!(
                "quay.io/prometheus/prometheus:{}",
                ps["image"]["tag"].as_str().unwrap()
            ),
            pins::PROMETHEUS_IMAGE
        );
        let am = &v["alertmanager"]["alertmanagerSpec"]["image"];
        assert_eq!(
            format!(
                "quay.io/prometheus/alertmanager:{}",
                am["tag"].as_str().unwrap()
            ),
            pins::ALERTMANAGER_IMAGE
        );
        let job = &ps["additionalScrapeConfigs"][0];
        assert_eq!(job["honor_timestamps"], true);
        assert_eq!(
            job["static_configs"][0]["targets"][0],
            "stackproof-exporter.stackproof-ab12cd.svc:9100"
        );
        // The operator watches only the run's namespace; no webhooks, no Grafana.
        assert_eq!(
            v["prometheusOperator"]["namespaces"]["releaseNamespace"],
            true
        );
        assert_eq!(
            v["prometheusOperator"]["admissionWebhooks"]["enabled"],
            false
        );
        assert_eq!(v["grafana"]["enabled"], false);
        // No patches of the operator's containers.
        assert!(ps["containers"].is_null() && ps["initContainers"].is_null());
    }

    #[test]
    fn loki_values_snapshot_and_no_secret_in_them() {
        let text = loki_values(&params()).unwrap();
        let v = yaml(&text);
        assert_eq!(v["deploymentMode"], "SingleBinary");
        assert_eq!(v["loki"]["image"]["tag"], "3.7.7");
        assert_eq!(
            format!(
                "docker.io/grafana/loki:{}",
                v["loki"]["image"]["tag"].as_str().unwrap()
            ),
            pins::LOKI_IMAGE
        );
        let s3 = &v["loki"]["storage"]["s3"];
        assert_eq!(s3["endpoint"], "stackproof-s3.stackproof-ab12cd.svc:9000");
        assert_eq!(s3["insecure"], true);
        assert_eq!(s3["accessKeyId"], "${AWS_ACCESS_KEY_ID}");
        assert_eq!(s3["secretAccessKey"], "${AWS_SECRET_ACCESS_KEY}");
        assert_eq!(v["loki"]["schemaConfig"]["configs"][0]["schema"], "v13");
        assert_eq!(v["loki"]["schemaConfig"]["configs"][0]["store"], "tsdb");
        assert_eq!(v["loki"]["storage_config"]["use_thanos_objstore"], false);
        assert_eq!(v["singleBinary"]["extraArgs"][0], "-config.expand-env=true");
        assert_eq!(
            v["singleBinary"]["extraEnvFrom"][0]["secretRef"]["name"],
            "stackproof-s3-loki"
        );
        assert_eq!(v["minio"]["enabled"], false);
        assert_eq!(v["chunksCache"]["enabled"], false);
    }

    fn target() -> HelmTarget<'static> {
        HelmTarget {
            kubeconfig: Path::new("/run/kubeconfig"),
            context: Some("staging"),
            namespace: "stackproof-ab12cd",
        }
    }

    #[test]
    fn helm_installs_the_pinned_chart_version_without_waiting() {
        let t = target();
        let a = install_args(
            &pins::KUBE_PROMETHEUS_STACK,
            &ChartSource::Repository,
            "sp",
            Path::new("/run/kps.yaml"),
            &t,
            true,
        );
        assert_eq!(
            cmd::command_line("helm", &a),
            "helm upgrade --install sp kube-prometheus-stack --repo https://prometheus-community.github.io/helm-charts \
             --version 88.5.3 --values /run/kps.yaml --timeout 5m --skip-crds --namespace stackproof-ab12cd \
             --kubeconfig /run/kubeconfig --kube-context staging"
        );
        assert!(!a.iter().any(|x| x == "--wait"));
        let u = uninstall_args("sp", &t);
        assert_eq!(&u[..3], ["uninstall", "sp", "--ignore-not-found"]);
    }

    #[test]
    fn a_packaged_chart_is_installed_from_its_file_without_a_repository() {
        let t = target();
        let a = install_args(
            &pins::LOKI,
            &ChartSource::Package("/charts/loki-18.11.0.tgz".into()),
            "stackproof-loki",
            Path::new("/run/loki.yaml"),
            &t,
            false,
        );
        assert_eq!(
            cmd::command_line("helm", &a),
            "helm upgrade --install stackproof-loki /charts/loki-18.11.0.tgz --values /run/loki.yaml \
             --timeout 5m --namespace stackproof-ab12cd --kubeconfig /run/kubeconfig --kube-context staging"
        );
        assert!(!a.iter().any(|x| x == "--repo" || x == "--version"));
    }

    #[test]
    fn charts_come_from_the_charts_dir_only_when_it_is_set() {
        let kps = &pins::KUBE_PROMETHEUS_STACK;
        assert_eq!(chart_source(kps, None).unwrap(), ChartSource::Repository);
        // An empty variable counts as unset, as shells leave it with `VAR=`.
        assert_eq!(
            chart_source(kps, Some(OsStr::new(""))).unwrap(),
            ChartSource::Repository
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kube-prometheus-stack-88.5.3.tgz");
        assert_eq!(package_file_name(kps), "kube-prometheus-stack-88.5.3.tgz");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(
            chart_source(kps, Some(dir.path().as_os_str())).unwrap(),
            ChartSource::Package(file)
        );
    }

    #[test]
    fn a_charts_dir_without_the_package_names_the_file_and_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        // Another version of the chart is not taken instead of the pinned one.
        std::fs::write(dir.path().join("loki-6.55.0.tgz"), b"").unwrap();
        let e = chart_source(&pins::LOKI, Some(dir.path().as_os_str())).unwrap_err();
        let msg = e.to_string();
        let want = dir.path().join("loki-18.11.0.tgz");
        assert!(matches!(e, KubeError::Env { ref var, .. } if var == CHARTS_DIR_VAR));
        assert!(msg.starts_with("STACKPROOF_CHARTS_DIR: "), "{msg}");
        assert!(
            msg.contains(&format!("{} not found", want.display())),
            "{msg}"
        );
        assert!(msg.contains("`helm package "), "{msg}");
        assert!(msg.contains("loki 18.11.0"), "{msg}");
        assert!(msg.contains("unset STACKPROOF_CHARTS_DIR"), "{msg}");
    }
}
