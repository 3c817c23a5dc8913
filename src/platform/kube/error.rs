//! One error type for the Kubernetes platforms: each variant names the
//! object or command involved, so a failure says what to look at next.

use std::time::Duration;

/// Errors of the `kind` and `cluster` platforms.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// A Kubernetes API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done, e.g. "delete pod stackproof/prometheus-sp-prometheus-0".
        what: String,
        /// The client's error.
        source: kube::Error,
    },
    /// A wait ran out of time.
    #[error("timed out after {:.0}s waiting for {what}; last seen: {last}", waited.as_secs_f64())]
    Timeout {
        /// The condition, in words.
        what: String,
        /// How long it waited.
        waited: Duration,
        /// The last observation (e.g. "1/2 pods ready").
        last: String,
    },
    /// The watch behind a wait failed.
    #[error("watching for {what}: {message}")]
    Watch {
        /// The condition, in words.
        what: String,
        /// The watcher's error.
        message: String,
    },
    /// Deploying the stack failed; the pods' state when it did.
    #[error(
        "deploying into namespace {namespace}: {source}\n  pods: {pods}\n  hint: STACKPROOF_KEEP=1 keeps the cluster and namespace to look at"
    )]
    Deploy {
        /// The run's namespace.
        namespace: String,
        /// What failed.
        source: Box<KubeError>,
        /// One line per pod: name, phase, readiness, waiting reasons.
        pods: String,
    },
    /// A port-forward's WebSocket failed.
    #[error("port-forward to {target}: {message}")]
    PortForward {
        /// `pod <ns>/<name>:<port>`.
        target: String,
        /// The forwarder's error.
        message: String,
    },
    /// An external command (kind, helm, docker) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line (never carries secrets: those go through Secrets).
        command: String,
        /// Exit status or spawn error.
        status: String,
        /// The tail of its stderr.
        stderr: String,
    },
    /// A tool the platform needs is missing.
    #[error("{tool} not found: {hint}")]
    ToolMissing {
        /// The program.
        tool: &'static str,
        /// How to get it.
        hint: String,
    },
    /// A manifest or values file could not be rendered or parsed.
    #[error("manifest {name}: {message}")]
    Manifest {
        /// The fixture or document.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// Configuration from the environment is missing or wrong.
    #[error("{var}: {message}")]
    Env {
        /// The variable (or kubeconfig context).
        var: String,
        /// What is wrong and what to set.
        message: String,
    },
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The S3 server did not accept the bucket.
    #[error(transparent)]
    Objstore(#[from] crate::client::objstore::ObjstoreError),
    /// A bounded poll (not a watch) timed out.
    #[error(transparent)]
    Poll(#[from] crate::eventually::WaitError),
}

impl KubeError {
    /// Wraps a kube error with what was being done.
    pub(crate) fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| KubeError::Api { what, source }
    }

    /// Wraps an IO error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| KubeError::Io { context, source }
    }
}

/// `PlatformError` has no Kubernetes variant (yet): carry ours through its
/// `Io` variant with `std::io::Error::other`, which keeps the message and
/// the source chain intact.
impl From<KubeError> for crate::platform::PlatformError {
    fn from(e: KubeError) -> Self {
        match e {
            KubeError::Poll(w) => crate::platform::PlatformError::Wait(w),
            KubeError::Objstore(o) => crate::platform::PlatformError::Objstore(o),
            other => crate::platform::PlatformError::Io {
                context: "kubernetes".into(),
                source: std::io::Error::other(other),
            },
        }
    }
}
