//! The `local` platform: every component as a real process on 127.0.0.1,
//! free ports, one temp dir per run, each component's output in a log file.

mod alerting;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::loki::{LocalLoki, find_binary as find_loki};
use super::{
    CompactPass, CompactRun, ComponentInfo, Endpoints, ExtraQuery, Platform, PlatformError,
    StackShape, Stores,
};
use super::{LokiService, Need};
use crate::client::objstore::{Objstore, S3Credentials, S3Target};
use crate::client::prom::{PromClient, QueryOptions};
use crate::data::exporter::Exporter;
use crate::eventually::{Eventually, Probe};
use crate::ports::free_port;
use crate::process::{ProcessSpec, RunningProcess, keep_requested, pid_alive};
use crate::stack::config::{self, PrometheusConfig, SeaweedPorts, ThanosPorts};
use crate::versions::Versions;

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

/// One component: how to (re)start it and, while it runs, its process.
#[derive(Debug)]
struct Managed {
    spec: ProcessSpec,
    log: PathBuf,
    /// HTTP URL that answers 200 when ready.
    ready_url: Option<String>,
    url: Option<String>,
    proc: Option<RunningProcess>,
}

impl Managed {
    fn new(
        spec: ProcessSpec,
        log_dir: &Path,
        ready_url: Option<String>,
        url: Option<String>,
    ) -> Self {
        let log = log_dir.join(format!("{}.log", spec.name));
        Self {
            spec,
            log,
            ready_url,
            url,
            proc: None,
        }
    }

    fn spawn(&mut self) -> Result<(), PlatformError> {
        if self.proc.is_none() {
            self.proc = Some(RunningProcess::spawn(self.spec.clone(), &self.log)?);
        }
        Ok(())
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<(), PlatformError> {
        let Some(url) = self.ready_url.clone() else {
            return Ok(());
        };
        let Some(pid) = self.proc.as_ref().map(RunningProcess::pid) else {
            return Ok(());
        };
        let alive = Eventually::new(
            format!("{} to be ready at {url}", self.spec.name),
            READY_TIMEOUT,
        )
        .max_delay(Duration::from_millis(250))
        .until(|| {
            let url = url.clone();
            async move {
                if !pid_alive(pid) {
                    return Probe::Ready(false);
                }
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Probe::Ready(true),
                    Ok(r) => Probe::NotYet(format!("HTTP {}", r.status())),
                    Err(e) => Probe::NotYet(crate::client::error_chain(&e)),
                }
            }
        })
        .await;
        match alive {
            Ok(true) => Ok(()),
            Ok(false) => {
                let p = self.proc.as_mut().expect("spawned");
                let err = crate::eventually::block_on_poll("exit status", || p.exited_early());
                self.proc = None;
                Err(err.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    fn terminate(&mut self, grace: Duration) {
        if let Some(mut p) = self.proc.take() {
            p.terminate(grace);
        }
    }

    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            name: self.spec.name.clone(),
            pid: self.proc.as_ref().map(RunningProcess::pid),
            command_line: self.spec.command_line(),
            log: self.log.clone(),
            url: self.url.clone(),
        }
    }
}

/// The binaries a local stack runs, found before anything starts.
struct Binaries {
    prometheus: PathBuf,
    thanos: PathBuf,
    weed: PathBuf,
    alertmanager: Result<PathBuf, String>,
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
    http: reqwest::Client,
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

    async fn start(mut b: LocalBuilder) -> Result<Self, PlatformError> {
        let started = Instant::now();
        // What a SIGKILLed harness left (its components outlive it) would
        // hold ports, memory and disk: gone before this run starts.
        for reaped in crate::runs::reap_leftovers() {
            eprintln!("{reaped}");
        }
        let versions = match b.versions.take() {
            Some(v) => v,
            None => Versions::load_default()?,
        };
        // Every binary first, so a missing one is named before anything runs.
        let bins = Binaries {
            prometheus: versions.binary("prometheus")?,
            thanos: versions.binary("thanos")?,
            weed: versions.binary("seaweedfs")?,
            // Optional: only the alerting scenario starts Alertmanagers.
            alertmanager: versions.binary("alertmanager").map_err(|e| e.to_string()),
        };
        let dir = tempfile::Builder::new()
            .prefix("stackproof-")
            .tempdir()
            .map_err(|source| PlatformError::TempDir {
                dir: std::env::temp_dir(),
                source,
            })?;
        let root = dir.path().to_owned();
        crate::process::register_dir(&root);
        let credentials = S3Credentials::generate();
        // The directory stays ours until the start succeeds: a failed start
        // drops the half-built stack (every process killed, so each log is
        // complete) and its logs are read before the directory goes.
        match Self::start_in(b, bins, &root, credentials.clone(), started).await {
            Ok(mut stack) => {
                stack.dir = Some(dir);
                Ok(stack)
            }
            Err(e) => {
                let e = e.start_failed(&root.join("logs"), &[credentials.secret_key]);
                if keep_requested() {
                    eprintln!("STACKPROOF_KEEP=1: keeping {}", dir.keep().display());
                } else {
                    crate::process::unregister_dir(&root);
                    drop(dir);
                }
                Err(e)
            }
        }
    }

    /// Starts every component under `root`; the stack it returns does not
    /// own `root` yet (see [`LocalStack::start`]).
    async fn start_in(
        b: LocalBuilder,
        bins: Binaries,
        root: &Path,
        credentials: S3Credentials,
        started: Instant,
    ) -> Result<Self, PlatformError> {
        let Binaries {
            prometheus: prometheus_bin,
            thanos,
            weed,
            alertmanager,
        } = bins;
        let root = root.to_owned();
        let logs = root.join("logs");
        let configs = root.join("configs");
        for d in [&logs, &configs] {
            std::fs::create_dir_all(d)
                .map_err(PlatformError::io(format!("create {}", d.display())))?;
        }
        let exporter =
            Exporter::start().map_err(PlatformError::io("start the synthetic exporter"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("reqwest client");

        // Object storage first: every sidecar needs the bucket.
        let sp = SeaweedPorts {
            master: free_port()?,
            master_grpc: free_port()?,
            volume: free_port()?,
            volume_grpc: free_port()?,
            filer: free_port()?,
            filer_grpc: free_port()?,
            s3: free_port()?,
            s3_grpc: free_port()?,
        };
        let s3_dir = root.join("s3");
        std::fs::create_dir_all(&s3_dir).map_err(PlatformError::io("create the S3 data dir"))?;
        let s3_target = S3Target {
            endpoint: format!("127.0.0.1:{}", sp.s3),
            bucket: b.bucket.clone(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: credentials.clone(),
        };
        let s3_spec = ProcessSpec::new("s3", &weed)
            .args(config::seaweedfs_args(&s3_dir, &sp))
            .env("AWS_ACCESS_KEY_ID", &credentials.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_key)
            .secret(&credentials.secret_key);
        let mut s3 = Managed::new(s3_spec, &logs, None, Some(s3_target.url()));
        s3.spawn()?;

        let objstore_file = configs.join("objstore.yml");
        write_private(&objstore_file, &config::thanos_objstore(&s3_target))?;

        // Then everything else at once: they start in parallel.
        let mut replicas = Vec::new();
        let mut query_endpoints = Vec::new();
        for i in 0..b.shape.replicas {
            let port = free_port()?;
            let data = root.join(format!("prometheus-{i}"));
            std::fs::create_dir_all(&data)
                .map_err(PlatformError::io("create a replica data dir"))?;
            let cfg = replica_config(&b.shape, i, exporter.target(), None);
            let cfg_file = configs.join(format!("prometheus-{i}.yml"));
            write_private(&cfg_file, &cfg.render())?;
            let url = format!("http://127.0.0.1:{port}");
            let mut prometheus = Managed::new(
                ProcessSpec::new(format!("prometheus-{i}"), &prometheus_bin).args(
                    config::prometheus_args(&cfg_file, &data, port, b.shape.block_duration),
                ),
                &logs,
                Some(format!("{url}/-/ready")),
                Some(url),
            );
            prometheus.spawn()?;
            let sp = ThanosPorts {
                http: free_port()?,
                grpc: free_port()?,
            };
            let surl = format!("http://127.0.0.1:{}", sp.http);
            let mut sidecar = Managed::new(
                ProcessSpec::new(format!("sidecar-{i}"), &thanos)
                    .args(config::sidecar_args(sp, port, &data, &objstore_file))
                    .secret(&credentials.secret_key),
                &logs,
                Some(format!("{surl}/-/ready")),
                Some(surl),
            );
            sidecar.spawn()?;
            query_endpoints.push(format!("127.0.0.1:{}", sp.grpc));
            replicas.push(Replica {
                prometheus,
                sidecar,
                data,
            });
        }
        let store = if b.store_gateway {
            let p = ThanosPorts {
                http: free_port()?,
                grpc: free_port()?,
            };
            let url = format!("http://127.0.0.1:{}", p.http);
            let data = root.join("store");
            let mut m = Managed::new(
                ProcessSpec::new("store", &thanos)
                    .args(config::store_args(p, &data, &objstore_file))
                    .secret(&credentials.secret_key),
                &logs,
                Some(format!("{url}/-/ready")),
                Some(url),
            );
            m.spawn()?;
            query_endpoints.push(format!("127.0.0.1:{}", p.grpc));
            Some(m)
        } else {
            None
        };
        let qp = ThanosPorts {
            http: free_port()?,
            grpc: free_port()?,
        };
        let qurl = format!("http://127.0.0.1:{}", qp.http);
        let mut query = Managed::new(
            ProcessSpec::new("query", &thanos).args(config::query_args(
                qp,
                &query_endpoints,
                &b.query_replica_labels,
            )),
            &logs,
            Some(format!("{qurl}/-/ready")),
            Some(qurl.clone()),
        );
        query.spawn()?;

        let endpoints = Endpoints {
            query: qurl,
            prometheus: replicas
                .iter()
                .filter_map(|r| r.prometheus.url.clone())
                .collect(),
            sidecars: replicas
                .iter()
                .filter_map(|r| r.sidecar.url.clone())
                .collect(),
            store: store.as_ref().and_then(|s| s.url.clone()),
            s3: s3_target,
        };
        let mut stack = LocalStack {
            shape: b.shape,
            s3,
            replicas,
            store,
            query,
            extra: Vec::new(),
            endpoints,
            http,
            thanos,
            query_endpoints,
            ready_after: Duration::ZERO,
            compactions: 0,
            loki: None,
            alertmanager_bin: alertmanager,
            alerting: None,
            _exporter: exporter,
            dir: None,
            root,
        };
        // From here on, an error drops `stack`, which kills what started.
        stack.wait_bucket().await?;
        for r in &mut stack.replicas {
            r.prometheus.wait_ready(&stack.http).await?;
            r.sidecar.wait_ready(&stack.http).await?;
        }
        if let Some(s) = &mut stack.store {
            s.wait_ready(&stack.http).await?;
        }
        stack.query.wait_ready(&stack.http).await?;
        stack.wait_replicas_queryable().await?;
        stack.ready_after = started.elapsed();
        if keep_requested() {
            eprintln!("{}", stack.describe());
        }
        Ok(stack)
    }

    async fn wait_bucket(&mut self) -> Result<(), PlatformError> {
        let store = Objstore::new(self.endpoints.s3.clone());
        let pid = self.s3.proc.as_ref().map(RunningProcess::pid).unwrap_or(0);
        let ok = Eventually::new(
            format!(
                "the S3 server to accept bucket '{}'",
                self.endpoints.s3.bucket
            ),
            READY_TIMEOUT,
        )
        .max_delay(Duration::from_millis(250))
        .until(|| {
            let store = store.clone();
            async move {
                if !pid_alive(pid) {
                    return Probe::Ready(false);
                }
                // Creating may "succeed" with a mere warning: check it exists.
                match store.create_bucket().await.and(store.head_bucket().await) {
                    Ok(()) => Probe::Ready(true),
                    Err(e) => Probe::NotYet(e.to_string()),
                }
            }
        })
        .await?;
        if !ok {
            let p = self.s3.proc.as_mut().expect("spawned");
            let err = crate::eventually::block_on_poll("exit status", || p.exited_early());
            self.s3.proc = None;
            return Err(err.into());
        }
        Ok(())
    }

    /// Waits until Thanos Query returns the exporter's series from every
    /// replica whose Prometheus runs.
    async fn wait_replicas_queryable(&self) -> Result<(), PlatformError> {
        let running: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.prometheus.proc.is_some())
            .map(|(i, _)| i.to_string())
            .collect();
        wait_replicas_in_query(
            &self.endpoints.query,
            &self.shape.replica_label,
            &running,
            crate::data::exporter::now_ms(),
        )
        .await
    }

    /// How long `start` took until the data of both replicas was queryable.
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

/// Waits until `query` returns the exporter's gauge from each replica in
/// `replicas` with a sample at or after `since_ms`.
pub async fn wait_replicas_in_query(
    query: &str,
    replica_label: &str,
    replicas: &[String],
    since_ms: i64,
) -> Result<(), PlatformError> {
    let client = PromClient::new(query);
    let metric = crate::data::exporter::KnownSeries::Gauge.metric();
    Eventually::new(
        format!("Thanos Query to return {metric} from replicas {replicas:?}"),
        READY_TIMEOUT,
    )
    .max_delay(Duration::from_millis(500))
    .until(|| {
        let client = client.clone();
        async move {
            let now = crate::data::exporter::now_ms();
            match client
                .query(
                    &format!("timestamp({metric})"),
                    now,
                    // A progress probe, not a check: while a replica is down
                    // on purpose, its sidecar fails every strict query until
                    // Thanos marks it unhealthy; the others' data still counts.
                    &QueryOptions {
                        dedup: Some(false),
                        partial_response: Some(true),
                        max_source_resolution: None,
                    },
                )
                .await
            {
                Ok(r) => {
                    let fresh: Vec<String> = r
                        .series
                        .iter()
                        .filter(|s| {
                            s.samples
                                .iter()
                                .any(|(_, v)| (*v * 1000.0) as i64 >= since_ms)
                        })
                        .filter_map(|s| s.labels.get(replica_label).cloned())
                        .collect();
                    if replicas.iter().all(|r| fresh.contains(r)) {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(format!("fresh samples from replicas {fresh:?}"))
                    }
                }
                Err(e) => Probe::NotYet(e.to_string()),
            }
        }
    })
    .await?;
    Ok(())
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

#[async_trait]
impl Platform for LocalStack {
    fn name(&self) -> &'static str {
        "local"
    }

    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn shape(&self) -> &StackShape {
        &self.shape
    }

    fn components(&self) -> Vec<ComponentInfo> {
        self.all().into_iter().map(Managed::info).collect()
    }

    async fn kill_replica(&mut self, n: usize) -> Result<(), PlatformError> {
        self.replica(n)?.prometheus.kill();
        Ok(())
    }

    async fn restart_replica(&mut self, n: usize) -> Result<(), PlatformError> {
        let http = self.http.clone();
        let r = self.replica(n)?;
        r.prometheus.spawn()?;
        r.prometheus.wait_ready(&http).await?;
        // The sidecar may have died with its Prometheus gone; bring it back.
        if r.sidecar
            .proc
            .as_mut()
            .is_some_and(|p| p.try_exit().is_some())
        {
            r.sidecar.proc = None;
        }
        r.sidecar.spawn()?;
        r.sidecar.wait_ready(&http).await?;
        wait_replicas_in_query(
            &self.endpoints.query,
            &self.shape.replica_label,
            &[n.to_string()],
            crate::data::exporter::now_ms(),
        )
        .await
    }

    async fn remove_replica_data(&mut self, n: usize) -> Result<(), PlatformError> {
        let r = self.replica(n)?;
        if r.prometheus.proc.is_some() {
            r.prometheus.kill();
        }
        r.sidecar.terminate(Duration::from_secs(5));
        let data = r.data.clone();
        std::fs::remove_dir_all(&data)
            .map_err(PlatformError::io(format!("remove {}", data.display())))?;
        std::fs::create_dir_all(&data)
            .map_err(PlatformError::io(format!("create {}", data.display())))
    }

    async fn stop_object_storage(&mut self) -> Result<(), PlatformError> {
        self.s3.terminate(Duration::from_secs(10));
        Ok(())
    }

    async fn start_object_storage(&mut self) -> Result<(), PlatformError> {
        self.s3.spawn()?;
        self.wait_bucket().await
    }

    async fn sidecar_credentials(&mut self, n: usize, wrong: bool) -> Result<(), PlatformError> {
        self.replica(n)?;
        let configs = self.root.join("configs");
        let file = if wrong {
            let mut t = self.endpoints.s3.clone();
            t.credentials = S3Credentials::generate();
            let f = configs.join(format!("objstore-wrong-{n}.yml"));
            write_private(&f, &config::thanos_objstore(&t))?;
            f
        } else {
            configs.join("objstore.yml")
        };
        let spec = self.sidecar_spec(n, &file);
        let http = self.http.clone();
        let r = &mut self.replicas[n];
        r.sidecar.terminate(Duration::from_secs(5));
        r.sidecar.spec = spec;
        r.sidecar.spawn()?;
        r.sidecar.wait_ready(&http).await
    }

    fn provides(&self, need: Need) -> Result<(), String> {
        match need {
            Need::Loki => find_loki().map(|_| ()).map_err(|e| e.to_string()),
            Need::ObjectStorageOutage | Need::SidecarCredentials | Need::CompactOnce => Ok(()),
        }
    }

    /// Every component's log is already a file of the run directory.
    async fn collect_diagnostics(&self, _out: &Path) -> Vec<String> {
        Vec::new()
    }

    async fn loki(&mut self) -> Result<&mut dyn LokiService, PlatformError> {
        if self.loki.is_none() {
            self.loki = Some(LocalLoki::start(&self.endpoints.s3).await?);
        }
        Ok(self.loki.as_mut().expect("just started"))
    }

    fn heap_profile_targets(&self) -> Result<Vec<(String, String)>, String> {
        // Every Go component of the stack serves pprof on its HTTP port;
        // the Prometheus and Thanos ones are what the seed profiles.
        Ok(self
            .components()
            .into_iter()
            .filter(|c| c.pid.is_some())
            .filter(|c| {
                ["prometheus-", "sidecar-", "store", "query"]
                    .iter()
                    .any(|p| c.name.starts_with(p))
            })
            .filter_map(|c| Some((c.name, c.url?)))
            .collect())
    }

    fn alerting_support(&self) -> Result<(), String> {
        self.alertmanager_bin
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)
    }

    async fn configure_alerting(
        &mut self,
        setup: &super::AlertSetup,
    ) -> Result<super::Alertmanagers, PlatformError> {
        self.start_alerting(setup).await
    }

    async fn load_alert_rules(&mut self, group: &str, rules: &str) -> Result<(), PlatformError> {
        self.reload_rules(group, rules).await
    }

    async fn kill_alertmanager(&mut self, n: usize) -> Result<(), PlatformError> {
        self.stop_alertmanager(n)
    }

    async fn compact_once(&mut self, run: &CompactRun) -> Result<CompactPass, PlatformError> {
        self.compactions += 1;
        let objstore = self.root.join("configs").join("objstore.yml");
        super::compact::run_once(&self.thanos, &self.root, &objstore, self.compactions, run).await
    }

    async fn start_extra_query(&mut self, q: ExtraQuery) -> Result<String, PlatformError> {
        let p = ThanosPorts {
            http: free_port()?,
            grpc: free_port()?,
        };
        let url = format!("http://127.0.0.1:{}", p.http);
        let logs = self.root.join("logs");
        let name = format!("query-extra-{}", self.extra.len());
        let n_sidecars = self.replicas.len();
        let endpoints: Vec<String> = match q.stores {
            Stores::All => self.query_endpoints.clone(),
            Stores::SidecarsOnly => self.query_endpoints[..n_sidecars].to_vec(),
            Stores::GatewayOnly => self.query_endpoints[n_sidecars..].to_vec(),
        };
        let mut m = Managed::new(
            ProcessSpec::new(name, &self.thanos).args(config::query_args(
                p,
                &endpoints,
                &q.replica_labels,
            )),
            &logs,
            Some(format!("{url}/-/ready")),
            Some(url.clone()),
        );
        m.spawn()?;
        let res = m.wait_ready(&self.http).await;
        self.extra.push(m);
        res?;
        if q.stores == Stores::GatewayOnly {
            return Ok(url);
        }
        let running: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.prometheus.proc.is_some())
            .map(|(i, _)| i.to_string())
            .collect();
        wait_replicas_in_query(&url, &self.shape.replica_label, &running, 0).await?;
        Ok(url)
    }
}

impl LocalStack {
    fn sidecar_spec(&self, n: usize, objstore: &Path) -> ProcessSpec {
        let r = &self.replicas[n];
        let mut spec = r.sidecar.spec.clone();
        spec.args = spec
            .args
            .iter()
            .map(|a| {
                if a.starts_with("--objstore.config-file=") {
                    format!("--objstore.config-file={}", objstore.display())
                } else {
                    a.clone()
                }
            })
            .collect();
        spec
    }
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
