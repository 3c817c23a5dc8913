//! The `kind` platform — a kind cluster, MinIO (or SeaweedFS) in it, the
//! pinned kube-prometheus-stack and Loki charts, and our own Thanos
//! manifests — and the Kubernetes pieces it shares with the `cluster`
//! platform ([`kube_platform`]). Re-exports only; each
//! topic lives in its own file.

pub mod cluster;
pub mod cmd;
pub mod error;
pub mod faults;
pub mod helm;
pub mod images;
// Shared with the `cluster` platform; declared here so src/platform/mod.rs
// only gains `pub mod kind; pub mod cluster;`.
#[path = "../kube_platform.rs"]
pub mod kube_platform;
pub mod manifests;
pub mod minio;
pub mod pins;
pub mod platform;
pub mod portforward;
pub mod wait;

#[cfg(test)]
pub(crate) mod mock;

pub use cluster::{INSTALL_HINT, KindCluster, availability, availability_in};
pub use error::KubeError;
pub use minio::S3Server;
pub use platform::{KindOptions, KindPlatform, kube_shape};
