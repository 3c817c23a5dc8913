//! The `local` platform: every component as a real process on 127.0.0.1,
//! free ports, one temp dir per run, each component's output in a log file.

mod alerting;
mod managed;
mod platform_impl;
mod queryable;
mod start;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::loki::LocalLoki;
use super::{Endpoints, Platform, PlatformError, StackShape};
use crate::data::exporter::Exporter;
use crate::process::keep_requested;
use crate::stack::config::PrometheusConfig;
use crate::versions::Versions;
pub(crate) use managed::Managed;
pub use queryable::wait_replicas_in_query;

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// How to shape the local stack. Defaults: two replicas scraping every
/// second, 30 s blocks, a store gateway, Thanos Query deduplicating on
/// `replica`.
#[derive(Debug, Clone)]
pub struct LocalBuilder {
    shape: StackShape,
    store_gateway: bool,
    query_replica_labels: Vec<String>,
    bucket: String,
    versions: Option<Versions>,
}

impl Default for LocalBuilder {
    fn default() -> Self {
        Self {
            shape: StackShape {
                scrape_interval: Duration::from_secs(1),
                // Blocks are cut once the head spans 1.5 × this, checked every
                // minute: 30 s gives a first block within ~2 minutes.
                block_duration: Duration::from_secs(30),
                replica_label: "replica".into(),
                cluster: "stackproof".into(),
                replicas: 2,
                config_reload: Duration::ZERO,
            },
            store_gateway: true,
            query_replica_labels: vec!["replica".into()],
            bucket: "stackproof".into(),
            versions: None,
        }
    }
}

impl LocalBuilder {
    /// Scrape interval of both replicas.
    pub fn scrape_interval(mut self, d: Duration) -> Self {
        self.shape.scrape_interval = d;
        self
    }

    /// Prometheus' block duration (min = max).
    pub fn block_duration(mut self, d: Duration) -> Self {
        self.shape.block_duration = d;
        self
    }

    /// Number of Prometheus replicas.
    pub fn replicas(mut self, n: usize) -> Self {
        self.shape.replicas = n;
        self
    }

    /// Run a store gateway (default true).
    pub fn store_gateway(mut self, on: bool) -> Self {
        self.store_gateway = on;
        self
    }

    /// Labels Thanos Query deduplicates on (empty: none, a broken setup).
    pub fn query_replica_labels(mut self, labels: Vec<String>) -> Self {
        self.query_replica_labels = labels;
        self
    }

    /// Use these versions instead of `fixtures/versions.toml`.
    pub fn versions(mut self, v: Versions) -> Self {
        self.versions = Some(v);
        self
    }

    /// Starts the stack and waits until both replicas' data is queryable
    /// through Thanos Query.
    pub async fn start(self) -> Result<LocalStack, PlatformError> {
        LocalStack::start(self).await
    }
}

struct Replica {
    prometheus: Managed,
    sidecar: Managed,
    data: PathBuf,
}

/// A running local stack. Dropping it kills every component's process group
/// and removes its directory, unless `STACKPROOF_KEEP=1`.
pub struct LocalStack {
    shape: StackShape,
    s3: Managed,
    replicas: Vec<Replica>,
    store: Option<Managed>,
    query: Managed,
    extra: Vec<Managed>,
    endpoints: Endpoints,
    thanos: PathBuf,
    query_endpoints: Vec<String>,
    ready_after: Duration,
    compactions: usize,
    /// Started on first use: only the log scenarios need it.
    loki: Option<LocalLoki>,
    /// The Alertmanager binary, or why there is none.
    alertmanager_bin: Result<PathBuf, String>,
    /// The Alertmanagers, once a scenario set alerting up.
    alerting: Option<alerting::LocalAlerting>,
    _exporter: Exporter,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack")
            .field("root", &self.root)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl LocalStack {
    /// A builder with the defaults.
    pub fn builder() -> LocalBuilder {
        LocalBuilder::default()
    }

    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// The run directory (logs, configs, data).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Peak resident memory of each running component, in bytes.
    pub fn peak_rss(&self) -> Vec<(String, u64)> {
        self.components()
            .into_iter()
            .filter_map(|c| Some((c.name, crate::process::peak_rss_bytes(c.pid?)?)))
            .collect()
    }

    /// Where everything is, for people (no secrets).
    pub fn describe(&self) -> String {
        let mut s = format!("stackproof local stack in {}\n", self.root.display());
        for c in self.components() {
            s.push_str(&format!(
                "  {:<14} pid {:<8} {:<28} log {}\n",
                c.name,
                c.pid.map_or("-".into(), |p| p.to_string()),
                c.url.unwrap_or_default(),
                c.log.display()
            ));
        }
        s.push_str(&format!(
            "  bucket         {} (credentials in {}/configs/objstore.yml)\n",
            self.endpoints.s3.bucket,
            self.root.display()
        ));
        s
    }

    fn replica(&mut self, n: usize) -> Result<&mut Replica, PlatformError> {
        let len = self.replicas.len();
        self.replicas
            .get_mut(n)
            .ok_or(PlatformError::NoSuchReplica(n, len))
    }

    fn all(&self) -> Vec<&Managed> {
        let mut v: Vec<&Managed> = vec![&self.s3];
        for r in &self.replicas {
            v.push(&r.prometheus);
            v.push(&r.sidecar);
        }
        v.extend(self.store.iter());
        v.push(&self.query);
        v.extend(self.extra.iter());
        v.extend(self.alerting.iter().flat_map(|a| a.alertmanagers.iter()));
        v
    }
}

/// Replica `i`'s `prometheus.yml` contents.
fn replica_config(
    shape: &StackShape,
    i: usize,
    exporter_target: String,
    alerting: Option<crate::stack::alertmanager::PromAlerting>,
) -> PrometheusConfig {
    PrometheusConfig {
        cluster: shape.cluster.clone(),
        replica_label: shape.replica_label.clone(),
        replica: i.to_string(),
        scrape_interval: shape.scrape_interval,
        exporter_target,
        alerting,
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), PlatformError> {
    crate::process::write_private(path, text)
        .map_err(PlatformError::io(format!("write {}", path.display())))
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if keep_requested() {
            if let Some(d) = self.dir.take() {
                let _ = d.keep();
            }
            eprintln!(
                "STACKPROOF_KEEP=1: leaving the stack running.\n{}",
                self.describe()
            );
            return;
        }
        // Readers first, then writers, then storage.
        drop(self.loki.take());
        self.alerting.take();
        for m in &mut self.extra {
            m.kill();
        }
        self.query.kill();
        if let Some(s) = &mut self.store {
            s.kill();
        }
        for r in &mut self.replicas {
            r.sidecar.kill();
            r.prometheus.kill();
        }
        self.s3.kill();
        crate::process::unregister_dir(&self.root);
        // TempDir's own Drop removes the directory.
        self.dir.take();
    }
}
