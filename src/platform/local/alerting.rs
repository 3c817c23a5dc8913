//! Alerting on the local platform: the Alertmanager processes (clustered
//! over gossip on 127.0.0.1, or not), each replica's alerting section and
//! rule file, and the reloads that make Prometheus pick them up.

use std::path::PathBuf;

use super::{LocalStack, Managed, READY_TIMEOUT, replica_config, write_private};
use crate::client::http::HttpApi;
use crate::platform::alerting_waits::{wait_cluster, wait_listed};
use crate::platform::{AlertSetup, Alertmanagers, PlatformError};
use crate::ports::free_port;
use crate::process::ProcessSpec;
use crate::stack::alertmanager::{self as am, Cluster, PromAlerting, SmtpReceiver};

/// The running Alertmanagers and what the replicas were told about them.
pub(super) struct LocalAlerting {
    pub(super) alertmanagers: Vec<Managed>,
    prom: PromAlerting,
}

impl LocalStack {
    /// See [`crate::platform::Platform::configure_alerting`].
    pub(super) async fn start_alerting(
        &mut self,
        setup: &AlertSetup,
    ) -> Result<Alertmanagers, PlatformError> {
        let bin = self
            .alertmanager_bin
            .clone()
            .map_err(|_| PlatformError::Unsupported {
                platform: "local",
                what: "alerting without an Alertmanager binary",
            })?;
        // A fresh pair each time: no notification log or silences carried
        // over from an earlier set-up.
        let generation = crate::data::exporter::now_ms();
        self.alerting.take();
        let configs = self.root.join("configs");
        let logs = self.root.join("logs");
        let password_file = configs.join("smtp-password");
        write_private(&password_file, &setup.smtp_credentials.password)?;
        let config_file = configs.join("alertmanager.yml");
        let smtp = SmtpReceiver {
            smarthost: setup.smarthost.clone(),
            from: setup.from.clone(),
            to: setup.to.clone(),
            username: setup.smtp_credentials.username.clone(),
            password_file,
        };
        write_private(
            &config_file,
            &am::render(&smtp, &setup.webhook_url, setup.timing),
        )?;
        let web: Vec<u16> = (0..setup.alertmanagers)
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let gossip: Vec<u16> = (0..setup.alertmanagers)
            .map(|_| free_port())
            .collect::<Result<_, _>>()?;
        let mut alertmanagers = Vec::new();
        for i in 0..setup.alertmanagers {
            let storage = self.root.join(format!("alertmanager-{i}-{generation}"));
            std::fs::create_dir_all(&storage)
                .map_err(PlatformError::io("create an Alertmanager data dir"))?;
            let cluster = setup.clustered.then(|| Cluster {
                listen_port: gossip[i],
                peers: (0..setup.alertmanagers)
                    .filter(|j| *j != i)
                    .map(|j| format!("127.0.0.1:{}", gossip[j]))
                    .collect(),
                peer_timeout: setup.peer_timeout,
            });
            let url = format!("http://127.0.0.1:{}", web[i]);
            let mut m = Managed::new(
                ProcessSpec::new(format!("alertmanager-{i}"), &bin)
                    .args(am::args(&config_file, &storage, web[i], cluster.as_ref()))
                    .secret(&setup.smtp_credentials.password),
                &logs,
                url,
            );
            m.spawn()?;
            alertmanagers.push(m);
        }
        let rule_file = configs.join("rules.yml");
        write_private(&rule_file, "groups: []\n")?;
        let prom = PromAlerting {
            alertmanagers: web.iter().map(|p| format!("127.0.0.1:{p}")).collect(),
            drop_label: setup
                .drop_replica_label
                .then(|| self.shape.replica_label.clone()),
            rule_file,
        };
        // Held by the stack from here on: an error drops them with it.
        self.alerting = Some(LocalAlerting {
            alertmanagers,
            prom,
        });
        let urls = self.wait_alertmanagers(setup).await?;
        self.point_replicas_at_alertmanagers().await?;
        Ok(Alertmanagers { urls })
    }

    /// Ready, then settled: clustered, each sees every member; alone, its
    /// cluster is disabled.
    async fn wait_alertmanagers(
        &mut self,
        setup: &AlertSetup,
    ) -> Result<Vec<String>, PlatformError> {
        let a = self.alerting.as_mut().expect("alerting set up");
        let mut urls = Vec::new();
        for m in &mut a.alertmanagers {
            m.wait_ready().await?;
            urls.push(m.url.clone().expect("alertmanager url"));
        }
        let (want_status, want_peers) = if setup.clustered {
            ("ready", setup.alertmanagers)
        } else {
            ("disabled", 0)
        };
        for url in &urls {
            wait_cluster(url, want_status, want_peers, READY_TIMEOUT).await?;
        }
        Ok(urls)
    }

    /// Rewrites every replica's config with the alerting section, reloads
    /// the running ones and waits until each lists every Alertmanager.
    async fn point_replicas_at_alertmanagers(&mut self) -> Result<(), PlatformError> {
        let prom = self
            .alerting
            .as_ref()
            .expect("alerting set up")
            .prom
            .clone();
        let target = self._exporter.target();
        for i in 0..self.replicas.len() {
            let cfg = replica_config(&self.shape, i, target.clone(), Some(prom.clone()));
            let file = self
                .root
                .join("configs")
                .join(format!("prometheus-{i}.yml"));
            write_private(&file, &cfg.render())?;
        }
        let want: Vec<String> = prom
            .alertmanagers
            .iter()
            .map(|a| format!("http://{a}/api/v2/alerts"))
            .collect();
        let listed = ("/api/v1/alertmanagers", ("activeAlertmanagers", "url"));
        self.reload_until(listed, "active Alertmanagers", |active| {
            want.iter().all(|w| active.contains(w)) && active.len() == want.len()
        })
        .await
    }

    /// See [`crate::platform::Platform::load_alert_rules`].
    pub(super) async fn reload_rules(
        &mut self,
        group: &str,
        rules: &str,
    ) -> Result<(), PlatformError> {
        let file: PathBuf = match &self.alerting {
            Some(a) => a.prom.rule_file.clone(),
            None => {
                return Err(PlatformError::Unsupported {
                    platform: "local",
                    what: "rules before configure_alerting",
                });
            }
        };
        write_private(&file, rules)?;
        let listed = ("/api/v1/rules", ("groups", "name"));
        self.reload_until(listed, "rule groups", |names| {
            names.iter().any(|n| n == group)
        })
        .await
    }

    /// See [`crate::platform::Platform::kill_alertmanager`].
    pub(super) fn stop_alertmanager(&mut self, n: usize) -> Result<(), PlatformError> {
        let a = self
            .alerting
            .as_mut()
            .ok_or(PlatformError::NoSuchReplica(n, 0))?;
        let len = a.alertmanagers.len();
        a.alertmanagers
            .get_mut(n)
            .ok_or(PlatformError::NoSuchReplica(n, len))?
            .kill();
        Ok(())
    }

    /// Reloads every running Prometheus and waits until each lists what
    /// `ok` wants at `path`, in `data.<array>[].<field>`.
    async fn reload_until(
        &self,
        (path, array_field): (&str, (&str, &str)),
        what: &str,
        ok: impl Fn(&[String]) -> bool,
    ) -> Result<(), PlatformError> {
        for url in self.running_prometheus() {
            reload(&url).await?;
            wait_listed(&url, path, array_field, what, &ok, READY_TIMEOUT).await?;
        }
        Ok(())
    }

    fn running_prometheus(&self) -> Vec<String> {
        self.replicas
            .iter()
            .filter(|r| r.prometheus.is_started())
            .filter_map(|r| r.prometheus.url.clone())
            .collect()
    }
}

/// `POST /-/reload`; Prometheus answers 500 with the reason when the new
/// config does not load.
async fn reload(url: &str) -> Result<(), PlatformError> {
    HttpApi::new(url)
        .post("/-/reload", None)
        .await
        .map(|_| ())
        .map_err(|e| PlatformError::io(format!("reload {url}"))(std::io::Error::other(e)))
}
