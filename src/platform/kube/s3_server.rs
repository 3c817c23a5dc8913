//! The S3 server of the kind platform.
//!
//! **In the cluster, not a testcontainers container on the `kind` network.**
//! Why: the fault the scenarios need — object storage gone, then back with
//! its data — is then one API call (scale the Deployment to 0 and back to 1,
//! data on a PVC), the same call whatever runs the cluster; the image is
//! preloaded with `kind load` like every other one and dies with the
//! cluster (no container to reap: testcontainers-rs has no reaper, its
//! `watchdog` only covers SIGINT/SIGTERM); pods reach it by Service DNS
//! instead of a bridge IP; and the harness needs no Docker client crate
//! (bollard), which keeps the build lean. The harness reaches it through a
//! port-forward, like every other component.
//!
//! MinIO is the default (the design card); its Docker Hub images are gone,
//! so the image is quay.io's frozen release. SeaweedFS (maintained,
//! Apache-2.0) is selected with `STACKPROOF_KIND_S3=seaweedfs`.

use crate::platform::kube::error::KubeError;
use crate::platform::kube::manifests::fixtures;
use crate::platform::kube::pins;

/// Which S3 server runs in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum S3Server {
    /// MinIO from `quay.io/minio/minio` (default).
    #[default]
    Minio,
    /// SeaweedFS from `chrislusf/seaweedfs`.
    Seaweedfs,
}

/// The Deployment and Service name, the same for both servers.
pub const S3_NAME: &str = "stackproof-s3";
/// The S3 port of the Service.
pub const S3_PORT: u16 = 9000;

impl S3Server {
    /// The choice `STACKPROOF_KIND_S3` makes (`minio`, `seaweedfs`); None
    /// when unset or empty: the platform then picks by the images at hand.
    pub fn from_env() -> Result<Option<Self>, KubeError> {
        match std::env::var("STACKPROOF_KIND_S3") {
            Ok(v) if !v.trim().is_empty() => Self::parse(Some(&v)).map(Some),
            _ => Ok(None),
        }
    }

    /// Parses the variable's value.
    pub fn parse(v: Option<&str>) -> Result<Self, KubeError> {
        match v.map(str::trim) {
            None | Some("") | Some("minio") => Ok(S3Server::Minio),
            Some("seaweedfs") => Ok(S3Server::Seaweedfs),
            Some(other) => Err(KubeError::Env {
                var: "STACKPROOF_KIND_S3".into(),
                message: format!(
                    "`{other}` is not an S3 server stackproof runs; use `minio` or `seaweedfs`"
                ),
            }),
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            S3Server::Minio => "minio",
            S3Server::Seaweedfs => "seaweedfs",
        }
    }

    /// The pinned image.
    pub fn image(self) -> &'static str {
        match self {
            S3Server::Minio => pins::MINIO_IMAGE,
            S3Server::Seaweedfs => pins::SEAWEEDFS_IMAGE,
        }
    }

    /// The manifest template.
    pub fn template(self) -> &'static str {
        match self {
            S3Server::Minio => fixtures::OBJECT_STORE_MINIO,
            S3Server::Seaweedfs => fixtures::OBJECT_STORE_SEAWEEDFS,
        }
    }

    /// The container name in the pod (for logs).
    pub fn container(self) -> &'static str {
        self.name()
    }
}

/// The endpoint pods use: `stackproof-s3.<namespace>.svc:9000`.
pub fn in_cluster_endpoint(namespace: &str) -> String {
    format!("{S3_NAME}.{namespace}.svc:{S3_PORT}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::kube::manifests::{parse, render, tests::sample_vars};

    #[test]
    fn the_server_is_chosen_by_env_var_and_a_typo_is_named() {
        assert_eq!(S3Server::parse(None).unwrap(), S3Server::Minio);
        assert_eq!(
            S3Server::parse(Some("seaweedfs")).unwrap(),
            S3Server::Seaweedfs
        );
        let e = S3Server::parse(Some("ceph")).unwrap_err().to_string();
        assert_eq!(
            e,
            "STACKPROOF_KIND_S3: `ceph` is not an S3 server stackproof runs; use `minio` or `seaweedfs`"
        );
    }

    #[test]
    fn both_servers_run_the_pinned_image_under_the_same_names() {
        for s in [S3Server::Minio, S3Server::Seaweedfs] {
            let mut vars = sample_vars();
            vars.retain(|(k, _)| *k != "S3_IMAGE");
            vars.push(("S3_IMAGE", s.image().into()));
            let objs = parse(s.name(), &render(s.name(), s.template(), &vars).unwrap()).unwrap();
            let dep = serde_json::to_value(&objs[1]).unwrap();
            assert_eq!(dep["metadata"]["name"], S3_NAME);
            let c = &dep["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(c["image"], s.image());
            assert_eq!(c["name"], s.container());
            assert_eq!(dep["spec"]["strategy"]["type"], "Recreate");
            let svc = serde_json::to_value(&objs[2]).unwrap();
            assert_eq!(svc["spec"]["ports"][0]["port"], S3_PORT);
        }
        assert_eq!(in_cluster_endpoint("ns"), "stackproof-s3.ns.svc:9000");
    }
}
