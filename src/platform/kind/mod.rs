//! The `kind` platform: a kind cluster made for the run (or reused), the S3
//! server in it, the pinned charts and our manifests — the shared
//! [`crate::platform::kube::KubePlatform`] set up on a cluster it owns.

pub mod cluster;
pub mod images;
pub mod setup;

pub use crate::platform::kube::S3Server;
pub use cluster::{INSTALL_HINT, KindCluster, availability, availability_in};
pub use setup::{
    DEFAULT_KUBELET_SYNC, KIND_KUBELET_SYNC, KindOptions, KindPlatform, default_s3, kube_shape,
};
