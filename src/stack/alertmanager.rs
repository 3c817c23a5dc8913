//! Rendered Alertmanager config and command line, and what the alerting
//! section of each Prometheus replica's config says (rendered with the rest
//! of `prometheus.yml` by [`super::prometheus`]). Pure functions: the
//! platform picks ports and paths, the scenario picks receivers and timings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::config::go_duration;

/// Email headers the config templates, which checks read back.
pub mod headers {
    /// Alertmanager's group key (`{}:{label="value",…}`), rendered from the
    /// group labels: the email template data carries no group key, the
    /// webhook payload does, so the two can be compared.
    pub const GROUP_KEY: &str = "X-Stackproof-Group-Key";
    /// `firing` or `resolved`.
    pub const STATUS: &str = "X-Stackproof-Status";
    /// Every alert's labels, `{a="b",…}` per alert, `;`-separated.
    pub const ALERTS: &str = "X-Stackproof-Alerts";
    /// The sending Alertmanager's external URL: which instance sent it.
    pub const SENDER: &str = "X-Stackproof-Alertmanager";
}

/// How long the member at position n of a cluster waits (× n) before
/// notifying, so the earlier members' notification log reaches it first
/// (gossip every [`GOSSIP_INTERVAL`]: 20 rounds). The same on every
/// platform: flags on local, the Alertmanager resource's
/// `clusterPeerTimeout` on Kubernetes.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// Gossip between clustered Alertmanagers: 100 ms (default 200 ms) settles
/// a pair in ~4 s (4 polls of 10 × the interval).
pub const GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// Notification timings of the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyTiming {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
}

/// Where and as whom Alertmanager sends email.
#[derive(Debug, Clone)]
pub struct SmtpReceiver {
    /// `host:port` of the SMTP server.
    pub smarthost: String,
    pub from: String,
    pub to: String,
    pub username: String,
    /// A 0600 file holding the password: it never enters the config.
    pub password_file: PathBuf,
}

/// `alertmanager.yml`: one route grouping by every label (one group per
/// alert, so an alert that reaches Alertmanager under two label sets makes
/// two groups and two emails), an email receiver with templated headers
/// and a webhook receiver, both sending resolved notifications.
pub fn render(smtp: &SmtpReceiver, webhook_url: &str, t: NotifyTiming) -> String {
    let group_key = r#"{}:{{ "{" }}{{ range $i, $p := .GroupLabels.SortedPairs }}{{ if $i }},{{ end }}{{ $p.Name }}="{{ $p.Value }}"{{ end }}{{ "}" }}"#;
    let alerts = r#"{{ range .Alerts }}{{ "{" }}{{ range $i, $p := .Labels.SortedPairs }}{{ if $i }},{{ end }}{{ $p.Name }}="{{ $p.Value }}"{{ end }}{{ "}" }};{{ end }}"#;
    let subject =
        "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} case={{ .CommonLabels.case }}";
    let file = AlertmanagerFile {
        // The test SMTP server speaks plain SMTP.
        global: Global {
            smtp_require_tls: false,
        },
        route: Route {
            receiver: RECEIVER,
            // `...`: group by every label, one group per alert.
            group_by: vec!["..."],
            group_wait: go_duration(t.group_wait),
            group_interval: go_duration(t.group_interval),
            repeat_interval: go_duration(t.repeat_interval),
        },
        receivers: vec![Receiver {
            name: RECEIVER,
            email_configs: vec![EmailConfig {
                to: &smtp.to,
                from: &smtp.from,
                smarthost: &smtp.smarthost,
                auth_username: &smtp.username,
                auth_password_file: smtp.password_file.display().to_string(),
                require_tls: false,
                send_resolved: true,
                headers: BTreeMap::from([
                    ("Subject", subject),
                    (headers::GROUP_KEY, group_key),
                    (headers::STATUS, "{{ .Status }}"),
                    (headers::ALERTS, alerts),
                    (headers::SENDER, "{{ .ExternalURL }}"),
                ]),
            }],
            webhook_configs: vec![WebhookConfig {
                url: webhook_url,
                send_resolved: true,
            }],
        }],
    };
    super::yaml::render("# Rendered by stackproof.\n", &file)
}

/// The one receiver: every notification goes both by email and webhook.
const RECEIVER: &str = "oncall";

#[derive(Serialize)]
struct AlertmanagerFile<'a> {
    global: Global,
    route: Route,
    receivers: Vec<Receiver<'a>>,
}

#[derive(Serialize)]
struct Global {
    smtp_require_tls: bool,
}

#[derive(Serialize)]
struct Route {
    receiver: &'static str,
    group_by: Vec<&'static str>,
    group_wait: String,
    group_interval: String,
    repeat_interval: String,
}

#[derive(Serialize)]
struct Receiver<'a> {
    name: &'static str,
    email_configs: Vec<EmailConfig<'a>>,
    webhook_configs: Vec<WebhookConfig<'a>>,
}

#[derive(Serialize)]
struct EmailConfig<'a> {
    to: &'a str,
    from: &'a str,
    smarthost: &'a str,
    auth_username: &'a str,
    auth_password_file: String,
    require_tls: bool,
    send_resolved: bool,
    /// Header name to Go template.
    headers: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct WebhookConfig<'a> {
    url: &'a str,
    send_resolved: bool,
}

/// How one Alertmanager joins its peers (None: not clustered).
#[derive(Debug, Clone)]
pub struct Cluster {
    pub listen_port: u16,
    /// The other members' `host:port`.
    pub peers: Vec<String>,
    /// How long the member at position n waits (× n) before notifying, so
    /// the earlier members' notification log reaches it first.
    pub peer_timeout: Duration,
}

/// Alertmanager's command line.
pub fn args(config: &Path, storage: &Path, port: u16, cluster: Option<&Cluster>) -> Vec<String> {
    let mut a = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", storage.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        // The email's sender header renders this: it names the instance.
        format!("--web.external-url=http://127.0.0.1:{port}"),
        "--log.level=info".into(),
    ];
    match cluster {
        None => a.push("--cluster.listen-address=".into()),
        Some(c) => {
            a.push(format!(
                "--cluster.listen-address=127.0.0.1:{}",
                c.listen_port
            ));
            a.push(format!(
                "--cluster.advertise-address=127.0.0.1:{}",
                c.listen_port
            ));
            a.extend(c.peers.iter().map(|p| format!("--cluster.peer={p}")));
            a.push(format!(
                "--cluster.peer-timeout={}",
                go_duration(c.peer_timeout)
            ));
            a.push(format!(
                "--cluster.gossip-interval={}",
                go_duration(GOSSIP_INTERVAL)
            ));
        }
    }
    a
}

/// The alerting section of a Prometheus replica's config
/// (`rule_files` and `alerting`, rendered by
/// [`PrometheusConfig::render`](super::prometheus::PrometheusConfig::render)).
#[derive(Debug, Clone)]
pub struct PromAlerting {
    /// Every Alertmanager's `host:port`: each replica sends to all of them.
    pub alertmanagers: Vec<String>,
    /// The label `alert_relabel_configs` drops (None: kept, a broken HA
    /// setup).
    pub drop_label: Option<String>,
    pub rule_file: PathBuf,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn smtp() -> SmtpReceiver {
        SmtpReceiver {
            smarthost: "127.0.0.1:2525".into(),
            from: "am@stackproof.invalid".into(),
            to: "oncall@stackproof.invalid".into(),
            username: "u".into(),
            password_file: "/run/pw".into(),
        }
    }

    #[test]
    fn config_keeps_the_password_out_and_templates_the_group_key() {
        let y = render(
            &smtp(),
            "http://127.0.0.1:9/alerts",
            NotifyTiming {
                group_wait: Duration::from_secs(3),
                group_interval: Duration::from_secs(5),
                repeat_interval: Duration::from_secs(3600),
            },
        );
        assert!(y.starts_with("# Rendered by stackproof.\n"), "{y}");
        assert!(!y.contains("auth_password:"), "{y}");
        assert!(y.contains("repeat_interval: 1h"), "{y}");
        let v = crate::stack::yaml::parsed(&y);
        assert_eq!(
            v,
            json!({
                "global": {"smtp_require_tls": false},
                "route": {
                    "receiver": "oncall",
                    "group_by": ["..."],
                    "group_wait": "3s",
                    "group_interval": "5s",
                    "repeat_interval": "1h",
                },
                "receivers": [{
                    "name": "oncall",
                    "email_configs": [{
                        "to": "oncall@stackproof.invalid",
                        "from": "am@stackproof.invalid",
                        "smarthost": "127.0.0.1:2525",
                        "auth_username": "u",
                        "auth_password_file": "/run/pw",
                        "require_tls": false,
                        "send_resolved": true,
                        "headers": {
                            "Subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} case={{ .CommonLabels.case }}",
                            "X-Stackproof-Group-Key": r#"{}:{{ "{" }}{{ range $i, $p := .GroupLabels.SortedPairs }}{{ if $i }},{{ end }}{{ $p.Name }}="{{ $p.Value }}"{{ end }}{{ "}" }}"#,
                            "X-Stackproof-Status": "{{ .Status }}",
                            "X-Stackproof-Alerts": r#"{{ range .Alerts }}{{ "{" }}{{ range $i, $p := .Labels.SortedPairs }}{{ if $i }},{{ end }}{{ $p.Name }}="{{ $p.Value }}"{{ end }}{{ "}" }};{{ end }}"#,
                            "X-Stackproof-Alertmanager": "{{ .ExternalURL }}",
                        },
                    }],
                    "webhook_configs": [{"url": "http://127.0.0.1:9/alerts", "send_resolved": true}],
                }],
            })
        );
    }

    #[test]
    fn unclustered_alertmanager_turns_gossip_off() {
        let a = args(Path::new("/c"), Path::new("/s"), 9093, None);
        assert!(a.contains(&"--cluster.listen-address=".to_owned()));
        let c = Cluster {
            listen_port: 9094,
            peers: vec!["127.0.0.1:9095".into()],
            peer_timeout: Duration::from_secs(3),
        };
        let a = args(Path::new("/c"), Path::new("/s"), 9093, Some(&c));
        assert!(a.contains(&"--cluster.peer=127.0.0.1:9095".to_owned()));
        assert!(a.contains(&"--cluster.listen-address=127.0.0.1:9094".to_owned()));
        assert!(a.contains(&"--cluster.peer-timeout=3s".to_owned()));
    }
}
