//! Images on the kind node: whatever of the pinned set the local Docker
//! holds (pulled once, or built by `scripts/kind-offline` under the same
//! names) is `kind load`ed into the node before anything is deployed, so
//! the node never pulls what this machine already has — and, offline,
//! never tries to pull at all. What is missing here is left for the node to
//! pull, and said.

use std::time::Duration;

use crate::platform::kube::cmd;
use crate::platform::kube::error::KubeError;
use crate::platform::kube::pins;

/// The pinned images, split by whether the local Docker has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalImages {
    /// In the local Docker: loaded into the node.
    pub present: Vec<String>,
    /// Not there: the node has to pull them.
    pub absent: Vec<String>,
}

impl LocalImages {
    /// Asks the local Docker about every pinned image (one `docker image
    /// inspect` each: absent images make that command fail).
    pub async fn probe() -> Self {
        let mut out = LocalImages::default();
        for image in pins::IMAGES {
            let args = vec![
                "image".into(),
                "inspect".into(),
                "--format".into(),
                "{{.Id}}".into(),
                (*image).into(),
            ];
            match cmd::run("docker", &args, Duration::from_secs(30)).await {
                Ok(_) => out.present.push((*image).into()),
                Err(_) => out.absent.push((*image).into()),
            }
        }
        out
    }

    /// Whether `image` is in the local Docker.
    pub fn has(&self, image: &str) -> bool {
        self.present.iter().any(|i| i == image)
    }

    /// Whether images were preloaded from here (an offline set, or images
    /// pulled once): then a pinned image missing here is taken as one the
    /// node cannot pull either.
    pub fn offline(&self) -> bool {
        !self.present.is_empty()
    }

    /// Loads every present image into the cluster's node in one `kind load`
    /// (one archive: layers the images share travel once).
    pub async fn load_into(&self, cluster: &str) -> Result<Duration, KubeError> {
        let started = std::time::Instant::now();
        if self.present.is_empty() {
            return Ok(started.elapsed());
        }
        eprintln!(
            "stackproof: loading {} images into kind cluster {cluster}…",
            self.present.len()
        );
        cmd::run("kind", &load_args(cluster, &self.present), LOAD_TIMEOUT).await?;
        Ok(started.elapsed())
    }
}

/// The node image `kind/cluster.yaml` pins.
pub fn node_image() -> String {
    super::cluster::CLUSTER_CONFIG
        .lines()
        .find_map(|l| l.trim().strip_prefix("image:"))
        .map(|i| i.trim().to_owned())
        .unwrap_or_default()
}

/// Whether a kind run can start here without reaching a registry: the
/// platform's tools answer, the pinned charts are packaged here and the
/// node image is in the local Docker; or `STACKPROOF_KIND_PULL=1` says
/// images and charts can be pulled. If not, one line
/// saying what is missing and how to get it (tests skip with it).
pub async fn ready_to_run() -> Result<(), String> {
    super::cluster::availability().await?;
    if std::env::var("STACKPROOF_KIND_PULL").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    let chart = &crate::platform::kube::pins::KUBE_PROMETHEUS_STACK;
    if !matches!(
        crate::platform::kube::helm::chart_source(
            chart,
            crate::platform::kube::helm::charts_dir().as_deref()
        ),
        Ok(crate::platform::kube::helm::ChartSource::Package(_))
    ) {
        return Err(format!(
            "no packaged {} {} here: set {} to a directory of packaged charts (or put them in ~/.cache/stackproof/charts), \
             or set STACKPROOF_KIND_PULL=1 where chart repositories and images can be reached",
            chart.chart,
            chart.version,
            crate::platform::kube::helm::CHARTS_DIR_VAR
        ));
    }
    let node = node_image();
    let args = vec!["image".into(), "inspect".into(), node.clone()];
    match cmd::run("docker", &args, Duration::from_secs(30)).await {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "the kind node image {node} is not in the local Docker: run scripts/kind-offline \
             (builds every image from pinned sources), or set STACKPROOF_KIND_PULL=1 where images can be pulled"
        )),
    }
}

/// `kind load` copies gigabytes on a slow disk: minutes, never hours.
const LOAD_TIMEOUT: Duration = Duration::from_secs(900);

/// `kind load docker-image` arguments.
pub fn load_args(cluster: &str, images: &[String]) -> Vec<String> {
    let mut a = vec![
        "load".into(),
        "docker-image".into(),
        "--name".into(),
        cluster.into(),
    ];
    a.extend(images.iter().cloned());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_present_image_goes_in_one_kind_load() {
        let a = load_args("stackproof-ab12cd", &["a:1".into(), "b:2".into()]);
        assert_eq!(
            cmd::command_line("kind", &a),
            "kind load docker-image --name stackproof-ab12cd a:1 b:2"
        );
    }

    #[test]
    fn the_node_image_is_read_from_the_cluster_config() {
        assert!(
            node_image().starts_with("kindest/node:v1."),
            "{}",
            node_image()
        );
    }

    #[test]
    fn a_set_with_images_present_counts_as_offline() {
        let mut s = LocalImages::default();
        assert!(!s.offline());
        s.present.push(pins::THANOS_IMAGE.into());
        s.absent.push(pins::MINIO_IMAGE.into());
        assert!(s.offline());
        assert!(s.has(pins::THANOS_IMAGE) && !s.has(pins::MINIO_IMAGE));
    }
}
