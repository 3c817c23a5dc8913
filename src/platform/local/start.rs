//! Starting the local stack: every binary found, every process spawned,
//! then waiting until the replicas' data is queryable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    LocalBuilder, LocalStack, Managed, READY_TIMEOUT, Replica, replica_config,
    wait_replicas_in_query, write_private,
};
use crate::client::objstore::{Objstore, S3Credentials, S3Target};
use crate::data::exporter::Exporter;
use crate::eventually::Probe;
use crate::platform::{Endpoints, PlatformError};
use crate::ports::free_port;
use crate::process::{ProcessSpec, keep_requested};
use crate::stack::config::{self, SeaweedPorts, ThanosPorts};
use crate::versions::Versions;

/// The binaries a local stack runs, found before anything starts.
struct Binaries {
    prometheus: PathBuf,
    thanos: PathBuf,
    weed: PathBuf,
    alertmanager: Result<PathBuf, String>,
}

impl LocalStack {
    pub(super) async fn start(mut b: LocalBuilder) -> Result<Self, PlatformError> {
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
            admin: free_port()?,
            admin_grpc: free_port()?,
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
        let mut s3 = Managed::without_probe(s3_spec, &logs, s3_target.url());
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
                url,
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
                surl,
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
                url,
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
            qurl.clone(),
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
            r.prometheus.wait_ready().await?;
            r.sidecar.wait_ready().await?;
        }
        if let Some(s) = &mut stack.store {
            s.wait_ready().await?;
        }
        stack.query.wait_ready().await?;
        stack.wait_replicas_queryable().await?;
        stack.ready_after = started.elapsed();
        if keep_requested() {
            eprintln!("{}", stack.describe());
        }
        Ok(stack)
    }

    /// Waits until the S3 server holds the stack's bucket (creating it).
    pub(super) async fn wait_bucket(&mut self) -> Result<(), PlatformError> {
        let store = &Objstore::new(self.endpoints.s3.clone());
        let what = format!(
            "the S3 server to accept bucket '{}'",
            self.endpoints.s3.bucket
        );
        self.s3
            .process
            .wait_ready(what, READY_TIMEOUT, || async move {
                // Creating may "succeed" with a mere warning: check it exists.
                match store.create_bucket().await.and(store.head_bucket().await) {
                    Ok(()) => Probe::Ready(()),
                    Err(e) => Probe::NotYet(e.to_string()),
                }
            })
            .await
    }

    /// Waits until Thanos Query returns the exporter's series from every
    /// replica whose Prometheus runs.
    async fn wait_replicas_queryable(&self) -> Result<(), PlatformError> {
        let running: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.prometheus.is_started())
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
}
