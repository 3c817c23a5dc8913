//! `LocalLoki`: the user's Loki 3 binary run as a real process on
//! 127.0.0.1, storing chunks and its tsdb index in the stack's S3 server.
//!
//! Loki is AGPL: stackproof never builds, vendors or links it. It runs the
//! binary named by `STACKPROOF_LOKI_BIN`, else the one `scripts/install-loki`
//! put in the cache for the pinned version, else `loki` on `PATH`.

mod control;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::loki::LokiClient;
use crate::client::objstore::{Objstore, ObjstoreError, S3Credentials, S3Target};
use crate::eventually::{Probe, WaitError};
use crate::ports::{PortError, free_port};
use crate::process::{ManagedProcess, ProcessError, ProcessSpec, keep_requested, redact};
use crate::stack::loki::{LokiConfig, loki_args};

/// The variable naming the Loki binary to run.
pub const ENV_BIN: &str = "STACKPROOF_LOKI_BIN";

/// Why log scenarios are skipped without a Loki binary, and how to get one.
pub const MISSING_REASON: &str =
    "logs scenarios need a Loki 3 binary: set STACKPROOF_LOKI_BIN or run scripts/install-loki";

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Errors finding, starting or stopping Loki.
#[derive(Debug, thiserror::Error)]
pub enum LokiPlatformError {
    /// No binary: one line saying what is missing and how to get it.
    #[error("{MISSING_REASON} ({detail})")]
    Missing { detail: String },
    /// A binary that is not Loki 3 (said before it starts).
    #[error(transparent)]
    NotLoki3(#[from] super::loki_version::NotLoki3),
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// Driving the chart's Loki through the Kubernetes API.
    #[error(transparent)]
    Kube(#[from] crate::platform::kube::KubeError),
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Objstore(#[from] ObjstoreError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(
        "loki did not exit within {0:?} of SIGTERM and was killed: its shutdown flush may be incomplete"
    )]
    StopTimeout(Duration),
    /// A fault this platform's Loki cannot be put in: what, and why.
    #[error("{0}")]
    Unsupported(String),
}

impl LokiPlatformError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| LokiPlatformError::Io { context, source }
    }

    /// True when the error only says that no Loki binary is installed.
    pub fn is_missing(&self) -> bool {
        matches!(self, LokiPlatformError::Missing { .. })
    }
}

pub use super::loki_binary::{cached_binary, find_binary, pinned_version};

/// How to start Loki.
#[derive(Debug, Clone, Default)]
pub struct LokiOptions {
    /// The bucket for chunks and index (default: `<stack bucket>-loki`,
    /// created when missing, so Loki's objects never mix with Thanos
    /// blocks).
    pub bucket: Option<String>,
    /// Give Loki a wrong secret key (a negative twin: flushes must fail).
    pub wrong_credentials: bool,
    /// `service_name` / `detected_level` discovery (default off).
    pub label_discovery: bool,
}

/// A running (or stopped) Loki. Dropping it kills the process group and
/// removes its directory, unless `STACKPROOF_KEEP=1`.
#[derive(Debug)]
pub struct LocalLoki {
    bin: PathBuf,
    cfg: LokiConfig,
    /// The bucket as the harness reaches it (right credentials, always).
    bucket: S3Target,
    config_file: PathBuf,
    /// Its spec is set again at every start: a reconfigure changes the
    /// secrets to redact.
    process: ManagedProcess,
    client: LokiClient,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl LocalLoki {
    /// Starts Loki on the stack's S3 server with the default options.
    pub async fn start(s3: &S3Target) -> Result<Self, LokiPlatformError> {
        Self::start_with(s3, LokiOptions::default()).await
    }

    /// Starts Loki on the stack's S3 server and waits until `/ready`.
    pub async fn start_with(s3: &S3Target, opts: LokiOptions) -> Result<Self, LokiPlatformError> {
        let bin = find_binary()?;
        super::loki_version::check(&bin).await?;
        let bucket = S3Target {
            bucket: opts
                .bucket
                .clone()
                .unwrap_or_else(|| format!("{}-loki", s3.bucket)),
            ..s3.clone()
        };
        let store = Objstore::new(bucket.clone());
        // Loki never creates its bucket.
        store.create_bucket().await?;
        store.head_bucket().await?;

        let dir = tempfile::Builder::new()
            .prefix("stackproof-loki-")
            .tempdir()
            .map_err(LokiPlatformError::io("create Loki's run directory"))?;
        let root = dir.path().to_owned();
        crate::process::register_dir(&root);
        let mut loki_s3 = bucket.clone();
        if opts.wrong_credentials {
            loki_s3.credentials = S3Credentials {
                access_key: bucket.credentials.access_key.clone(),
                secret_key: S3Credentials::generate().secret_key,
            };
        }
        let mut cfg = LokiConfig::new(free_port()?, free_port()?, root.join("data"), loki_s3);
        cfg.label_discovery = opts.label_discovery;
        let config_file = root.join("loki.yml");
        write_private(&config_file, &cfg.render())?;
        std::fs::write(root.join("loki.redacted.yml"), cfg.render_redacted())
            .map_err(LokiPlatformError::io("write the redacted Loki config"))?;
        let client = LokiClient::new(format!("http://127.0.0.1:{}", cfg.http_port));
        let process = ManagedProcess::new(ProcessSpec::new("loki", &bin), root.join("loki.log"));
        let mut loki = LocalLoki {
            bin,
            cfg,
            bucket,
            config_file,
            process,
            client,
            dir: Some(dir),
            root,
        };
        // From here on an error drops `loki`, which kills what started.
        loki.spawn_and_wait().await?;
        Ok(loki)
    }

    fn spec(&self) -> ProcessSpec {
        let mut spec = ProcessSpec::new("loki", &self.bin)
            .args(loki_args(&self.config_file))
            .cwd(&self.root)
            .secret(&self.bucket.credentials.secret_key);
        spec = spec.secret(&self.cfg.s3.credentials.secret_key);
        spec
    }

    async fn spawn_and_wait(&mut self) -> Result<(), LokiPlatformError> {
        for d in self.cfg.local_dirs() {
            std::fs::create_dir_all(&d)
                .map_err(LokiPlatformError::io(format!("create {}", d.display())))?;
        }
        self.process.set_spec(self.spec());
        self.process.start()?;
        let client = &self.client;
        self.process
            .wait_ready(
                format!("Loki to be ready at {}/ready", client.base()),
                READY_TIMEOUT,
                || async move {
                    match client.ready().await {
                        Ok(()) => Probe::Ready(()),
                        Err(e) => Probe::NotYet(e.to_string()),
                    }
                },
            )
            .await
    }

    /// Loki's HTTP base URL.
    pub fn url(&self) -> &str {
        self.client.base()
    }

    /// A client for this Loki.
    pub fn client(&self) -> LokiClient {
        self.client.clone()
    }

    /// Loki's bucket, reached with the right credentials (even when Loki
    /// itself was given wrong ones).
    pub fn bucket(&self) -> &S3Target {
        &self.bucket
    }

    /// The binary that runs.
    pub fn binary(&self) -> &Path {
        &self.bin
    }

    /// The config Loki runs with, secret redacted: for reports.
    pub fn config_redacted(&self) -> String {
        self.cfg.render_redacted()
    }

    /// Its directory (config, log, local data).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its log file (kept across restarts).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Name, pid, command line (secrets redacted), log and URL, for reports
    /// and failure bundles.
    pub fn info(&self) -> crate::platform::ComponentInfo {
        crate::platform::ComponentInfo {
            name: "loki".into(),
            pid: self.pid(),
            command_line: self.spec().command_line(),
            log: self.log_path().to_owned(),
            url: Some(self.client.base().to_owned()),
        }
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.process.starts()
    }

    fn secrets(&self) -> Vec<String> {
        vec![
            self.bucket.credentials.secret_key.clone(),
            self.cfg.s3.credentials.secret_key.clone(),
        ]
    }

    /// The last `n` lines of its log, secrets redacted.
    pub fn log_tail(&self, n: usize) -> String {
        redact(
            &crate::process::tail_lines(self.log_path(), n),
            &self.secrets(),
        )
    }

    /// Log lines (of the last 64 KiB) containing every one of `needles`,
    /// at most `max` of them, newest last, secrets redacted.
    pub fn log_lines_matching(&self, needles: &[&str], max: usize) -> Vec<String> {
        let tail = crate::process::tail_lines(self.log_path(), 100_000);
        super::loki_service::matching_lines(&redact(&tail, &self.secrets()), needles, max)
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), LokiPlatformError> {
    crate::process::write_private(path, text)
        .map_err(LokiPlatformError::io(format!("write {}", path.display())))
}

impl Drop for LocalLoki {
    fn drop(&mut self) {
        if keep_requested() {
            if let Some(d) = self.dir.take() {
                let _ = d.keep();
            }
            eprintln!(
                "STACKPROOF_KEEP=1: leaving Loki at {} (dir {})",
                self.client.base(),
                self.root.display()
            );
            return;
        }
        self.kill();
        crate::process::unregister_dir(&self.root);
        self.dir.take();
    }
}
