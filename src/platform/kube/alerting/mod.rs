//! Alerting on Kubernetes with the chart's own Alertmanager pair: the
//! operator clusters its replicas and points both Prometheus replicas at
//! every one of them, as in production. The harness owns the Secret the
//! Alertmanagers read their config from and a PrometheusRule for its rule;
//! both reach the pods through the operator, the kubelet's volume sync and
//! the config reloader, which is [`crate::platform::StackShape::config_reload`].

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, Patch, PatchParams};

mod waits;

use super::error::KubeError;
use super::faults;
use super::platform::KubePlatform;
use super::portforward::Target;
use super::wait;
use crate::platform::alerting_waits::{wait_cluster, wait_listed};
use crate::platform::{AlertSetup, Alertmanagers, PlatformError};
use crate::stack::alertmanager::{self as am, SmtpReceiver};
use waits::wait_config;

/// The Secret the Alertmanager resource reads its config from
/// (`alertmanagerSpec.configSecret` in the values).
pub const CONFIG_SECRET: &str = "stackproof-alertmanager";
/// The key the operator reads in it.
const CONFIG_KEY: &str = "alertmanager.yaml";
/// The SMTP password's key: the operator copies every other key of the
/// Secret beside the config it generates, mounted at
/// `/etc/alertmanager/config` (prometheus-operator `pkg/alertmanager`,
/// `loadConfigurationFromSecret`), so the password never enters the config.
const PASSWORD_KEY: &str = "smtp-password";
const PASSWORD_FILE: &str = "/etc/alertmanager/config/smtp-password";
/// The PrometheusRule holding the scenario's rule group.
const RULE_NAME: &str = "stackproof-alerts";
/// Alertmanagers in the pair (`alertmanagerSpec.replicas` in the values).
pub const ALERTMANAGERS: usize = 2;

/// The config the Alertmanagers start with, before a scenario sets its
/// own: every alert to a receiver that sends nothing.
pub fn placeholder_config_secret() -> Secret {
    config_secret(
        "# Rendered by stackproof: no receiver until a scenario sets one.\n\
         route:\n  receiver: none\nreceivers:\n  - name: none\n",
        "",
    )
}

/// The config and the password it names, in one Secret: both reach the
/// pods in the same volume update.
fn config_secret(yaml: &str, password: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(CONFIG_SECRET.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (CONFIG_KEY.to_owned(), ByteString(yaml.as_bytes().to_vec())),
            (
                PASSWORD_KEY.to_owned(),
                ByteString(password.as_bytes().to_vec()),
            ),
        ])),
        ..Secret::default()
    }
}

fn prometheus_rule_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PrometheusRule"),
        "prometheusrules",
    )
}

/// A PrometheusRule whose spec is the rule file `rules` (`groups: …`).
pub fn prometheus_rule(rules: &str) -> Result<DynamicObject, KubeError> {
    let spec: serde_json::Value =
        serde_saphyr::from_str(rules).map_err(|e| KubeError::Manifest {
            name: format!("prometheusrule {RULE_NAME}"),
            message: format!("the rule file does not parse: {e}"),
        })?;
    let mut obj = DynamicObject::new(RULE_NAME, &prometheus_rule_resource());
    obj.data = serde_json::json!({ "spec": spec });
    Ok(obj)
}

/// Why `setup` cannot be built by the operator, if it cannot.
pub fn unsupported(setup: &AlertSetup) -> Option<&'static str> {
    if setup.alertmanagers != ALERTMANAGERS {
        return Some("an Alertmanager count other than the values' two");
    }
    if setup.peer_timeout != am::PEER_TIMEOUT {
        return Some("a peer timeout other than the values' clusterPeerTimeout");
    }
    unsupported_rig(setup.clustered, setup.drop_replica_label)
}

/// Why the operator cannot build a pair `clustered` or not, dropping the
/// replica label or not, if it cannot.
pub fn unsupported_rig(clustered: bool, drop_replica_label: bool) -> Option<&'static str> {
    if !clustered {
        return Some(
            "Alertmanagers that do not gossip: the operator always clusters its replicas \
             (the local platform runs this twin)",
        );
    }
    if !drop_replica_label {
        return Some(
            "alerts that keep the replica label: the values drop it for every replica \
             (the local platform runs this twin)",
        );
    }
    None
}

impl KubePlatform {
    /// See [`crate::platform::Platform::configure_alerting`].
    pub(super) async fn configure_alertmanagers(
        &mut self,
        setup: &AlertSetup,
    ) -> Result<Alertmanagers, PlatformError> {
        if let Some(what) = unsupported(setup) {
            return Err(PlatformError::Unsupported {
                platform: self.opts.platform,
                what,
            });
        }
        // A pair killed by an earlier window runs whole again.
        self.restore_alertmanagers().await?;
        let smtp = SmtpReceiver {
            smarthost: setup.smarthost.clone(),
            from: setup.from.clone(),
            to: setup.to.clone(),
            username: setup.smtp_credentials.username.clone(),
            password_file: PASSWORD_FILE.into(),
        };
        let yaml = am::render(&smtp, &setup.webhook_url, setup.timing);
        let secret = config_secret(&yaml, &setup.smtp_credentials.password);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        secrets
            .patch(
                CONFIG_SECRET,
                &PatchParams::apply(super::manifests::FIELD_MANAGER).force(),
                &Patch::Apply(secret),
            )
            .await
            .map_err(KubeError::api(format!(
                "apply secret {}/{CONFIG_SECRET}",
                self.ns
            )))?;
        let urls = self.alertmanager_urls().await?;
        let within = self.opts.shape.config_reload + self.opts.timeout;
        for url in &urls {
            wait_config(url, &setup.smarthost, within).await?;
            wait_cluster(url, "ready", ALERTMANAGERS, within).await?;
        }
        for url in self.running_prometheus() {
            wait_listed(
                &url,
                "/api/v1/alertmanagers",
                ("activeAlertmanagers", "url"),
                "both Alertmanagers",
                |listed| listed.len() == ALERTMANAGERS,
                within,
            )
            .await?;
        }
        Ok(Alertmanagers { urls })
    }

    /// See [`crate::platform::Platform::load_alert_rules`].
    pub(super) async fn apply_alert_rules(
        &mut self,
        group: &str,
        rules: &str,
    ) -> Result<(), PlatformError> {
        let obj = prometheus_rule(rules)?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.ns, &prometheus_rule_resource());
        api.patch(
            RULE_NAME,
            &PatchParams::apply(super::manifests::FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .map_err(KubeError::api(format!(
            "apply prometheusrule {}/{RULE_NAME}",
            self.ns
        )))?;
        let within = self.opts.shape.config_reload + self.opts.timeout;
        for url in self.running_prometheus() {
            wait_listed(
                &url,
                "/api/v1/rules",
                ("groups", "name"),
                "rule groups",
                |names| names.iter().any(|n| n == group),
                within,
            )
            .await?;
        }
        Ok(())
    }

    /// See [`crate::platform::Platform::kill_alertmanager`]: the operator is
    /// paused and the StatefulSet narrowed past `n` first, so the pod stays
    /// down as a killed process does, until the next set-up.
    pub(super) async fn stop_alertmanager(&mut self, n: usize) -> Result<(), PlatformError> {
        if n >= ALERTMANAGERS {
            return Err(PlatformError::NoSuchReplica(n, ALERTMANAGERS));
        }
        let killed = std::collections::BTreeSet::from([n]);
        let (start, count) = faults::alive_window(ALERTMANAGERS, &killed).map_err(|message| {
            KubeError::Manifest {
                name: format!("statefulset {}", self.names.alertmanager_statefulset()),
                message,
            }
        })?;
        self.alertmanager_window(true, start, count).await?;
        self.kill_pod(&self.names.alertmanager_pod_n(n)).await?;
        self.alertmanagers_down = true;
        Ok(())
    }

    /// Both Alertmanagers running and ready again, the operator resumed.
    async fn restore_alertmanagers(&mut self) -> Result<(), PlatformError> {
        if !self.alertmanagers_down {
            return Ok(());
        }
        self.alertmanager_window(false, 0, ALERTMANAGERS as i32)
            .await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        for n in 0..ALERTMANAGERS {
            let pod = self.names.alertmanager_pod_n(n);
            wait::until(
                &pods,
                &pod,
                format!("pod {}/{pod} to be running and ready", self.ns),
                self.opts.timeout,
                wait::pod_ready,
            )
            .await?;
        }
        self.alertmanagers_down = false;
        Ok(())
    }

    async fn alertmanager_window(
        &self,
        paused: bool,
        start: i32,
        count: i32,
    ) -> Result<(), KubeError> {
        let name = self.names.alertmanager();
        let resource = faults::alertmanager_resource();
        if paused {
            faults::set_paused(&self.client, &self.ns, &resource, &name, true).await?;
        }
        let sets: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.ns);
        faults::set_statefulset_window(&sets, &self.names.alertmanager_statefulset(), start, count)
            .await?;
        if !paused {
            faults::set_paused(&self.client, &self.ns, &resource, &name, false).await?;
        }
        Ok(())
    }

    /// Each Alertmanager's URL, through a port-forward to its pod (made
    /// once; a pod keeps its name when the StatefulSet brings it back).
    async fn alertmanager_urls(&mut self) -> Result<Vec<String>, PlatformError> {
        while self.alertmanager_urls.len() < ALERTMANAGERS {
            let n = self.alertmanager_urls.len();
            let pod = self.names.alertmanager_pod_n(n);
            let url = if n == 0
                && let Some(u) = &self.alertmanager_url
            {
                u.clone()
            } else {
                self.forwarded_component(
                    &format!("alertmanager-{n}"),
                    &format!("pod/{pod}"),
                    "alertmanager",
                    Target::Pod {
                        name: pod.clone(),
                        port: 9093,
                    },
                )
                .await?
            };
            self.alertmanager_urls.push(url);
        }
        Ok(self.alertmanager_urls.clone())
    }

    fn running_prometheus(&self) -> Vec<String> {
        self.endpoints
            .prometheus
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.killed.contains(i))
            .map(|(_, u)| u.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
