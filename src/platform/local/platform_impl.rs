//! The [`Platform`] operations on a local stack.

use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{LocalStack, Managed, wait_replicas_in_query, write_private};
use crate::client::objstore::S3Credentials;
use crate::platform::loki::{LocalLoki, find_binary as find_loki};
use crate::platform::{
    CompactPass, CompactRun, ComponentInfo, Endpoints, ExtraQuery, LokiService, Need, Platform,
    PlatformError, Roll, StackShape, Stores,
};
use crate::ports::free_port;
use crate::process::ProcessSpec;
use crate::stack::config::{self, ThanosPorts};

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
        self.start_replica(n).await.map(|_| ())
    }

    async fn roll_replica(&mut self, n: usize, roll: &Roll) -> Result<Duration, PlatformError> {
        let r = self.replica(n)?;
        // As a rolling upgrade stops it: SIGTERM, so it closes its TSDB.
        r.prometheus.stop(Duration::from_secs(30)).await;
        let mut spec = r.prometheus.process.spec().clone();
        spec.program = roll.binary.clone();
        r.prometheus.process.set_spec(spec);
        if roll.fresh_data {
            self.remove_replica_data(n).await?;
        }
        self.start_replica(n).await
    }

    async fn remove_replica_data(&mut self, n: usize) -> Result<(), PlatformError> {
        let r = self.replica(n)?;
        r.prometheus.kill();
        r.sidecar.stop(Duration::from_secs(5)).await;
        let data = r.data.clone();
        std::fs::remove_dir_all(&data)
            .map_err(PlatformError::io(format!("remove {}", data.display())))?;
        std::fs::create_dir_all(&data)
            .map_err(PlatformError::io(format!("create {}", data.display())))
    }

    async fn stop_object_storage(&mut self) -> Result<(), PlatformError> {
        self.s3.stop(Duration::from_secs(10)).await;
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
        let r = &mut self.replicas[n];
        r.sidecar.stop(Duration::from_secs(5)).await;
        r.sidecar.process.set_spec(spec);
        r.sidecar.spawn()?;
        r.sidecar.wait_ready().await
    }

    fn provides(&self, need: Need) -> Result<(), String> {
        match need {
            Need::Loki => find_loki().map(|_| ()).map_err(|e| e.to_string()),
            Need::ObjectStorageOutage
            | Need::SidecarCredentials
            | Need::CompactOnce
            | Need::RollPrometheus => Ok(()),
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
        setup: &crate::platform::AlertSetup,
    ) -> Result<crate::platform::Alertmanagers, PlatformError> {
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
        crate::platform::compact::run_once(
            &self.thanos,
            &self.root,
            &objstore,
            self.compactions,
            run,
        )
        .await
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
            url.clone(),
        );
        m.spawn()?;
        let res = m.wait_ready().await;
        self.extra.push(m);
        res?;
        if q.stores == Stores::GatewayOnly {
            return Ok(url);
        }
        let running: Vec<String> = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.prometheus.is_started())
            .map(|(i, _)| i.to_string())
            .collect();
        wait_replicas_in_query(&url, &self.shape.replica_label, &running, 0).await?;
        Ok(url)
    }
}

impl LocalStack {
    /// Starts replica `n`'s Prometheus (and its sidecar, if it died) and
    /// waits until both are ready and its data is queryable; returns the
    /// time from the Prometheus' start to its readiness.
    async fn start_replica(&mut self, n: usize) -> Result<Duration, PlatformError> {
        let r = self.replica(n)?;
        let started = Instant::now();
        r.prometheus.spawn()?;
        r.prometheus.wait_ready().await?;
        let ready = started.elapsed();
        // The sidecar may have died with its Prometheus gone: a start
        // brings a dead one back.
        r.sidecar.spawn()?;
        r.sidecar.wait_ready().await?;
        wait_replicas_in_query(
            &self.endpoints.query,
            &self.shape.replica_label,
            &[n.to_string()],
            crate::data::exporter::now_ms(),
        )
        .await?;
        Ok(ready)
    }

    fn sidecar_spec(&self, n: usize, objstore: &Path) -> ProcessSpec {
        let r = &self.replicas[n];
        let mut spec = r.sidecar.process.spec().clone();
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
