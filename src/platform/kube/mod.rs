//! The stack on Kubernetes, shared by the `kind` and `cluster` platforms:
//! one namespace per run holding everything stackproof deploys, reached
//! through port-forwards, faults caused through the API. The two platforms
//! are two set-ups of one [`KubePlatform`]: they differ in where the cluster
//! and the bucket come from and in what its [`Teardown`] undoes.
//!
//! What runs (see `fixtures/kind/`): the synthetic exporter, kube-prometheus-
//! stack (operator, 2 Prometheus replicas with the Thanos sidecar,
//! Alertmanager), Thanos store / compact / query, Loki 3 single binary, and,
//! on kind, the S3 server.

mod access;
pub mod alerting;
mod bundle;
pub mod cmd;
mod deploy;
pub mod error;
pub mod faults;
mod guard;
pub mod helm;
pub mod loki;
pub mod manifests;
pub mod names;
pub mod pins;
mod platform;
pub mod portforward;
pub mod s3_server;
pub mod wait;

#[cfg(test)]
pub(crate) mod mock;
#[cfg(test)]
mod tests;

pub use error::KubeError;
pub use guard::{NamespaceGuard, Teardown};
pub use loki::KubeLoki;
pub use names::{KubeStackOptions, Names, ObjectStore};
pub use platform::{KubePlatform, no_loki_reason};
pub use s3_server::S3Server;
