//! One set of scenarios, several ways to run the stack. A [`Platform`] hands
//! scenarios the endpoints and the faults they may cause; scenarios never know
//! which platform they run on.

mod alerting;
mod alerting_waits;
pub mod cluster;
mod cluster_reach;
mod compact;
pub mod kind;
pub mod kube;
pub mod local;
pub mod loki;
mod loki_binary;
pub mod loki_service;
pub mod loki_version;
pub mod salvage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use crate::client::objstore::S3Target;
pub use loki_service::LokiService;

pub use alerting::{AlertSetup, Alertmanagers};

/// What scenarios reach the stack through.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Thanos Query HTTP base URL (deduplicating on the replica label).
    pub query: String,
    /// Each Prometheus replica's HTTP base URL, by replica index.
    pub prometheus: Vec<String>,
    /// Each replica's Thanos sidecar HTTP base URL (its own `/metrics`).
    pub sidecars: Vec<String>,
    /// The store gateway's HTTP base URL, when one runs.
    pub store: Option<String>,
    /// The bucket every component writes to.
    pub s3: S3Target,
}

/// The stack's shape, which scenarios need to derive their bounds.
#[derive(Debug, Clone)]
pub struct StackShape {
    pub scrape_interval: Duration,
    pub block_duration: Duration,
    pub replica_label: String,
    pub cluster: String,
    pub replicas: usize,
    /// How long a changed config or rule file takes to reach the running
    /// components: nothing where the harness reloads them itself (local),
    /// the kubelet's volume sync and the config reloader on Kubernetes.
    pub config_reload: Duration,
}

impl StackShape {
    /// Each replica's value of the replica label: `"0"`, `"1"`, ….
    pub fn replica_ids(&self) -> Vec<String> {
        (0..self.replicas).map(|i| i.to_string()).collect()
    }
}

/// A component's log and command line, for failure bundles.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub name: String,
    pub pid: Option<u32>,
    pub command_line: String,
    pub log: PathBuf,
    pub url: Option<String>,
}

/// Errors starting a stack or causing a fault.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Versions(#[from] crate::versions::VersionsError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    #[error(transparent)]
    Wait(#[from] crate::eventually::WaitError),
    #[error(transparent)]
    Objstore(#[from] crate::client::objstore::ObjstoreError),
    #[error(transparent)]
    Ports(#[from] crate::ports::PortError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The temp dir (TMPDIR) refuses a run directory.
    #[error(
        "cannot create a run directory in {dir}: {source}\nhint: set TMPDIR to a directory you can write to (stackproof makes its stackproof-* run directories there and removes them when it ends)"
    )]
    TempDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("no replica {0}: the stack has {1}")]
    NoSuchReplica(usize, usize),
    #[error(
        "{name} failed with {status}\n  command: {command}\n  log: {log}\n  last log lines:\n{tail}"
    )]
    CommandFailed {
        name: String,
        status: String,
        command: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{what} is not supported on the {platform} platform")]
    Unsupported {
        platform: &'static str,
        what: &'static str,
    },
    /// Where the platform provides no Loki: why, and how to get one.
    #[error("{0}")]
    NoLoki(String),
    #[error(transparent)]
    Loki(#[from] crate::platform::loki::LokiPlatformError),
    /// The stack failed to start: the cause in words (secrets redacted;
    /// the typed cause is not kept, its text could carry one) and every
    /// component's log as it was when the start gave up.
    #[error("{message}")]
    StartFailed {
        message: String,
        logs: Vec<salvage::SalvagedLog>,
    },
}

impl PlatformError {
    /// `self` as a failed start, with the logs in `log_dir` (read now,
    /// before the run directory goes) and `secrets` redacted from both.
    pub(crate) fn start_failed(self, log_dir: &Path, secrets: &[String]) -> Self {
        PlatformError::StartFailed {
            message: crate::process::redact(&self.to_string(), secrets),
            logs: salvage::salvage_logs(log_dir, secrets),
        }
    }

    /// The component logs a failed start left, if any were salvaged.
    pub fn salvaged_logs(&self) -> &[salvage::SalvagedLog] {
        match self {
            PlatformError::StartFailed { logs, .. } => logs,
            _ => &[],
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| PlatformError::Io { context, source }
    }
}

/// Which StoreAPIs an extra Thanos Query reads from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stores {
    /// Every sidecar and the store gateway, like the stack's own query.
    #[default]
    All,
    /// The sidecars only: what Prometheus still holds locally.
    SidecarsOnly,
    /// The store gateway only: what the bucket alone can answer.
    GatewayOnly,
}

/// Options for an extra Thanos Query that a scenario starts beside the
/// stack's own (e.g. one with no replica label, for a negative twin).
#[derive(Debug, Clone, Default)]
pub struct ExtraQuery {
    /// Labels to deduplicate on; empty: none.
    pub replica_labels: Vec<String>,
    /// Which stores it reads.
    pub stores: Stores,
}

/// One pass of the Thanos compactor over the stack's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRun {
    /// Only blocks whose external label `.0` equals `.1` are touched
    /// (`--selector.relabel-config`): the sidecars' own blocks, and other
    /// clusters', are left alone.
    pub only: (String, String),
    /// `--deduplication.replica-label`: blocks differing only in these are
    /// merged into one (vertical compaction).
    pub replica_labels: Vec<String>,
    /// `--deduplication.func`: `penalty` for Prometheus HA pairs (whose
    /// samples differ in time), empty for identical copies.
    pub dedup_func: String,
}

/// What one compactor pass took.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactPass {
    /// From start to exit.
    pub duration: Duration,
    /// Its log, for the report.
    pub log: PathBuf,
}

/// What a scenario needs beyond the stack every platform runs (Thanos Query
/// over two Prometheus replicas with sidecars, a store gateway, a bucket).
/// A platform that cannot provide it says why before the scenario starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A Loki 3 on the run's bucket ([`Platform::loki`]).
    Loki,
    /// Stopping and starting the object store.
    ObjectStorageOutage,
    /// One replica's sidecar given wrong credentials, the other left alone.
    SidecarCredentials,
    /// `thanos compact` run once over the bucket ([`Platform::compact_once`]).
    CompactOnce,
    /// One replica's Prometheus replaced by another binary on its data dir
    /// ([`Platform::roll_replica`]).
    RollPrometheus,
}

/// How [`Platform::roll_replica`] replaces a replica's Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roll {
    /// The Prometheus binary to run from now on.
    pub binary: PathBuf,
    /// Empty the replica's data dir first (a fresh start on `binary`),
    /// instead of opening what the previous binary wrote.
    pub fresh_data: bool,
}

/// A running stack and the faults scenarios may cause in it.
#[async_trait]
pub trait Platform: Send {
    /// `local`, `kind` or `cluster`.
    fn name(&self) -> &'static str;
    /// Where to reach the stack.
    fn endpoints(&self) -> &Endpoints;
    /// Its shape (intervals, labels, replica count).
    fn shape(&self) -> &StackShape;
    /// Every component, for reports and failure bundles.
    fn components(&self) -> Vec<ComponentInfo>;

    /// Kills replica `n`'s Prometheus at once (SIGKILL or pod delete).
    async fn kill_replica(&mut self, n: usize) -> Result<(), PlatformError>;
    /// Starts replica `n` again on the same data and waits until it is ready.
    async fn restart_replica(&mut self, n: usize) -> Result<(), PlatformError>;
    /// Deletes replica `n`'s local data (the replica must be stopped).
    async fn remove_replica_data(&mut self, n: usize) -> Result<(), PlatformError>;
    /// Stops the object store.
    async fn stop_object_storage(&mut self) -> Result<(), PlatformError>;
    /// Starts the object store again and waits until the bucket answers.
    async fn start_object_storage(&mut self) -> Result<(), PlatformError>;
    /// Starts another Thanos Query over the same stores; returns its URL.
    async fn start_extra_query(&mut self, q: ExtraQuery) -> Result<String, PlatformError>;
    /// Restarts replica `n`'s sidecar with wrong object-storage credentials
    /// (`wrong = true`) or the right ones again (`wrong = false`).
    async fn sidecar_credentials(&mut self, n: usize, wrong: bool) -> Result<(), PlatformError>;
    /// Whether this platform provides `need`, or why not: one line saying
    /// what is missing and how to get it. The runner asks before a scenario
    /// starts and reports it skipped with that line. Required of every
    /// platform, so a new one must answer for each need.
    fn provides(&self, need: Need) -> Result<(), String>;
    /// Whether [`Platform::configure_alerting`] works here, or why not (one
    /// line); the `alerting` scenario is skipped with it otherwise.
    fn alerting_support(&self) -> Result<(), String> {
        Err(format!(
            "alerting is not set up on the {} platform yet",
            self.name()
        ))
    }
    /// Whether this platform can set up Alertmanagers `clustered` or not,
    /// with the replica label dropped from alerts or not (the twins break
    /// one of them), or why not (one line).
    fn alerting_rig_support(
        &self,
        clustered: bool,
        drop_replica_label: bool,
    ) -> Result<(), String> {
        let _ = (clustered, drop_replica_label);
        Ok(())
    }
    /// The address the harness's mail sink and webhook receiver listen on
    /// so that this stack's Alertmanagers reach them: 127.0.0.1 where the
    /// stack runs as local processes.
    fn receiver_ip(&self) -> std::net::IpAddr {
        std::net::IpAddr::from([127, 0, 0, 1])
    }
    /// (Re)starts the Alertmanagers as `setup` says, points every
    /// Prometheus replica at all of them with an empty rule file, and waits
    /// until they are ready (clustered: settled with every peer) and every
    /// replica lists them.
    async fn configure_alerting(
        &mut self,
        setup: &AlertSetup,
    ) -> Result<Alertmanagers, PlatformError> {
        let _ = setup;
        Err(PlatformError::Unsupported {
            platform: self.name(),
            what: "alerting",
        })
    }
    /// Replaces the rule file of every replica with `rules` and waits until
    /// each running replica has loaded the group named `group`.
    async fn load_alert_rules(&mut self, group: &str, rules: &str) -> Result<(), PlatformError> {
        let _ = (group, rules);
        Err(PlatformError::Unsupported {
            platform: self.name(),
            what: "alerting",
        })
    }
    /// The Prometheus and Thanos components whose `/debug/pprof/heap` the
    /// harness can read, as `(name, HTTP base URL)`, or why none (one line);
    /// `heap_profile` is skipped with it.
    fn heap_profile_targets(&self) -> Result<Vec<(String, String)>, String> {
        Err(format!(
            "heap profiles are not collected on the {} platform yet",
            self.name()
        ))
    }
    /// Kills Alertmanager `n` at once (SIGKILL).
    async fn kill_alertmanager(&mut self, n: usize) -> Result<(), PlatformError> {
        let _ = n;
        Err(PlatformError::Unsupported {
            platform: self.name(),
            what: "alerting",
        })
    }
    /// Stops replica `n`'s Prometheus gracefully (SIGTERM, as a rolling
    /// upgrade does) and starts `roll.binary` in its place on the same data
    /// dir, its sidecar too; waits until it is ready and its data is
    /// queryable through Thanos Query. Returns the time from its start to
    /// ready: the new binary's opening of the TSDB (WAL replay included).
    async fn roll_replica(&mut self, n: usize, roll: &Roll) -> Result<Duration, PlatformError> {
        let _ = (n, roll);
        Err(PlatformError::Unsupported {
            platform: self.name(),
            what: "rolling a replica to another Prometheus binary",
        })
    }
    /// Runs the Thanos compactor once over the bucket (no `--wait`): it
    /// compacts, deduplicates and downsamples what `run` selects, deletes
    /// what it replaced, and exits.
    async fn compact_once(&mut self, run: &CompactRun) -> Result<CompactPass, PlatformError>;
    /// Writes what a failure bundle needs beyond each component's log into
    /// `out` (on Kubernetes: every pod's log, the previous container's too,
    /// the namespace's events, the rendered chart values) and brings the
    /// logs [`Platform::components`] names up to date. Best effort: returns
    /// one line for each thing that could not be had.
    async fn collect_diagnostics(&self, out: &Path) -> Vec<String>;
    /// The run's Loki (started on first use where the platform runs it as a
    /// process). Errors where [`Need::Loki`] is not provided.
    async fn loki(&mut self) -> Result<&mut dyn LokiService, PlatformError>;
}
