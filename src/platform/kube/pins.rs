//! Every version the Kubernetes platforms pin: images, charts, tools. One
//! place, mirrored by `fixtures/kind/images.txt` (a test keeps them equal)
//! and by `scripts/install-kind-tools` for the tools.

/// Thanos (sidecar, query, store, compact), same version as the local platform.
pub const THANOS_IMAGE: &str = "quay.io/thanos/thanos:v0.42.4";
/// Prometheus (set in the kube-prometheus-stack values).
pub const PROMETHEUS_IMAGE: &str = "quay.io/prometheus/prometheus:v3.16.0";
/// Alertmanager (set in the kube-prometheus-stack values).
pub const ALERTMANAGER_IMAGE: &str = "quay.io/prometheus/alertmanager:v0.34.2";
/// MinIO: Docker Hub's images were deleted (2026-09); quay.io still serves
/// this frozen release. MinIO is archived upstream.
pub const MINIO_IMAGE: &str = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z";
/// SeaweedFS: maintained, Apache-2.0; newer than PR #7623 (Loki ≥ 3.7's
/// streaming trailers).
pub const SEAWEEDFS_IMAGE: &str = "docker.io/chrislusf/seaweedfs:4.47";
/// Loki 3 (set in the Loki chart values).
pub const LOKI_IMAGE: &str = "docker.io/grafana/loki:3.7.7";
/// Runs the synthetic exporter script in the cluster.
pub const EXPORTER_IMAGE: &str = "docker.io/library/python:3.13-alpine";

/// prometheus-operator, the version the pinned kube-prometheus-stack ships.
pub const OPERATOR_IMAGE: &str = "quay.io/prometheus-operator/prometheus-operator:v0.93.1";
/// The operator's config reloader (same release as the operator).
pub const CONFIG_RELOADER_IMAGE: &str =
    "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1";

/// Every image above, in `fixtures/kind/images.txt` order.
pub const IMAGES: &[&str] = &[
    PROMETHEUS_IMAGE,
    ALERTMANAGER_IMAGE,
    THANOS_IMAGE,
    OPERATOR_IMAGE,
    CONFIG_RELOADER_IMAGE,
    MINIO_IMAGE,
    LOKI_IMAGE,
    EXPORTER_IMAGE,
    SEAWEEDFS_IMAGE,
];

/// A pinned Helm chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chart {
    /// Release name in the run's namespace.
    pub release: &'static str,
    /// Repository URL (`helm --repo`, no `helm repo add` needed).
    pub repo: &'static str,
    /// Chart name in that repository.
    pub chart: &'static str,
    /// Exact chart version.
    pub version: &'static str,
}

/// kube-prometheus-stack: operator, Prometheus ×2 + Thanos sidecar, Alertmanager.
/// Verified to package offline and render with the `fixtures/kind` values.
pub const KUBE_PROMETHEUS_STACK: Chart = Chart {
    release: "sp",
    repo: "https://prometheus-community.github.io/helm-charts",
    chart: "kube-prometheus-stack",
    version: "88.5.3",
};

/// The Loki chart, now in the grafana-community repository (forked at
/// 6.55.0; app version 3.7.6, the image is pinned in the values).
pub const LOKI: Chart = Chart {
    release: "stackproof-loki",
    repo: "https://grafana-community.github.io/helm-charts",
    chart: "loki",
    version: "18.11.0",
};

/// Tools `scripts/install-kind-tools` installs (kept equal by a test).
pub const KIND_VERSION: &str = "v0.33.0";
/// kubectl, for people looking at a kept cluster (the harness uses the API).
pub const KUBECTL_VERSION: &str = "v1.37.2";
/// Helm 3 (charts are installed with `helm upgrade --install`).
pub const HELM_VERSION: &str = "v3.22.0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_txt_lists_exactly_the_pinned_images() {
        let listed: Vec<&str> = include_str!("../../../fixtures/kind/images.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(listed, IMAGES);
    }

    #[test]
    fn every_pinned_image_has_an_explicit_tag_and_registry() {
        for image in IMAGES {
            let (name, tag) = image.rsplit_once(':').expect("tag");
            assert!(!tag.is_empty() && tag != "latest", "{image}");
            assert!(
                name.contains('.') && name.contains('/'),
                "registry host in {image}"
            );
        }
    }

    /// The nightly workflow reads the chart version with awk: the line after
    /// `chart: "kube-prometheus-stack",` must be its version.
    #[test]
    fn the_workflow_can_read_the_chart_version() {
        let src = include_str!("pins.rs");
        let mut lines = src
            .lines()
            .skip_while(|l| !l.contains("chart: \"kube-prometheus-stack\","));
        lines.next().expect("chart line");
        let v: String = lines
            .next()
            .unwrap()
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        assert_eq!(v, KUBE_PROMETHEUS_STACK.version);
        let wf = include_str!("../../../.github/workflows/nightly-kind.yml");
        assert!(
            wf.contains("awk '/chart: \"kube-prometheus-stack\"/"),
            "workflow no longer reads pins.rs"
        );
    }

    #[test]
    fn the_install_script_pins_the_same_tool_versions() {
        let script = include_str!("../../../scripts/install-kind-tools");
        for (var, v) in [
            ("KIND_VERSION", KIND_VERSION),
            ("KUBECTL_VERSION", KUBECTL_VERSION),
            ("HELM_VERSION", HELM_VERSION),
        ] {
            assert!(
                script.contains(&format!("{var}={v}")),
                "{var}={v} not in scripts/install-kind-tools"
            );
        }
    }
}
