//! A stack started for a person or for their assertions (`up`, `check
//! --platform`, `repro`): the platform's stack with its Loki where the
//! platform provides one, and a credentials file in Thanos' objstore
//! format. Dropping it stops everything and removes the file.

use std::path::{Path, PathBuf};

use crate::assertions::Target;
use crate::platform::local::LocalStack;
use crate::platform::{Platform, PlatformError};
use crate::suite::{self, KubeTarget, PlatformKind, SuiteError};
use crate::versions::Versions;

/// Errors starting a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the {0} platform cannot run here: {1}")]
    Unavailable(&'static str, String),
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error("the local platform could not start the stack: {0}")]
    Local(#[from] PlatformError),
    #[error("cannot write the credentials file: {0}")]
    Credentials(std::io::Error),
}

/// A running stack with everything a person needs to reach it.
pub struct Session {
    pub platform: Box<dyn Platform>,
    /// Where the assertions ask: the stack's URLs, its Loki or why none.
    target: Target,
    /// The platform's own description (pids, logs), where it has one.
    details: Option<String>,
    pub ready_secs: f64,
    credentials: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Session {
    /// Starts the stack on `kind` (on `local` with `versions` when given,
    /// a bundle's) and its Loki where the platform provides one.
    pub async fn start(
        kind: PlatformKind,
        kube: &KubeTarget,
        versions: Option<Versions>,
    ) -> Result<Self, SessionError> {
        if let Some(why) = suite::unavailable(kind, kube).await {
            return Err(SessionError::Unavailable(kind.name(), why));
        }
        let (mut platform, ready_secs, details): (Box<dyn Platform>, f64, Option<String>) =
            match kind {
                // Built here, not by `suite::start`: a bundle's versions,
                // and the stack's own description (pids, logs, run dir).
                PlatformKind::Local => {
                    let mut b = LocalStack::builder();
                    if let Some(v) = versions {
                        b = b.versions(v);
                    }
                    let s = b.start().await?;
                    let details = s.describe();
                    let ready = s.ready_after().as_secs_f64();
                    (Box::new(s), ready, Some(details))
                }
                _ => {
                    let (p, ready) = suite::start(kind, kube).await?;
                    (p, ready, None)
                }
            };
        let target = Target::of(platform.as_mut()).await;
        let dir = tempfile::Builder::new()
            .prefix("stackproof-up-")
            .tempdir()
            .map_err(SessionError::Credentials)?;
        // Registered so that a forced exit (second signal) removes it too.
        crate::process::register_dir(dir.path());
        let credentials = dir.path().join("objstore.yml");
        crate::process::write_private(
            &credentials,
            &crate::stack::config::thanos_objstore(&platform.endpoints().s3),
        )
        .map_err(SessionError::Credentials)?;
        Ok(Self {
            platform,
            target,
            details,
            ready_secs,
            credentials,
            dir: Some(dir),
        })
    }

    /// The credentials file (Thanos objstore format, mode 0600).
    pub fn credentials_file(&self) -> &Path {
        &self.credentials
    }

    /// Where `stackproof check` asks.
    pub fn target(&self) -> Target {
        self.target.clone()
    }

    /// Every URL and where the credentials are; never a secret.
    pub fn describe(&self) -> String {
        let e = self.platform.endpoints();
        let mut s = format!(
            "stackproof: {} stack ready in {:.1}s\n",
            self.platform.name(),
            self.ready_secs
        );
        let mut row = |k: &str, v: &str| s.push_str(&format!("  {k:<16} {v}\n"));
        row("Thanos Query", &e.query);
        for (i, p) in e.prometheus.iter().enumerate() {
            row(&format!("Prometheus {i}"), p);
        }
        for (i, p) in e.sidecars.iter().enumerate() {
            row(&format!("sidecar {i}"), p);
        }
        row(
            "store gateway",
            e.store.as_deref().unwrap_or("none in this stack"),
        );
        row(
            "S3 endpoint",
            &format!("{} bucket {}", e.s3.url(), e.s3.bucket),
        );
        let loki = match (&self.target.loki, &self.target.no_loki_reason) {
            (Some(url), _) => url.clone(),
            (None, Some(why)) => format!("not started: {why}"),
            (None, None) => "not started".into(),
        };
        row("Loki", &loki);
        row(
            "credentials",
            &format!(
                "{} (Thanos objstore format; `stackproof check --objstore-config` reads it)",
                self.credentials.display()
            ),
        );
        match &self.details {
            Some(d) => s.push_str(d),
            None => {
                for c in self.platform.components() {
                    s.push_str(&format!("  {:<16} log {}\n", c.name, c.log.display()));
                }
            }
        }
        s
    }
}

impl Drop for Session {
    /// Removes the credentials file (the stack stops through its own
    /// guards), unless `STACKPROOF_KEEP=1`.
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            crate::process::unregister_dir(d.path());
            if crate::process::keep_requested() {
                eprintln!(
                    "stackproof: STACKPROOF_KEEP=1: keeping {}",
                    d.keep().display()
                );
            }
        }
    }
}
