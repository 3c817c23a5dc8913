//! Rendered Alertmanager config and command line, and the alerting section
//! of each Prometheus replica's config. Pure functions: the platform picks
//! ports and paths, the scenario picks receivers and timings.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    format!(
        "# Rendered by stackproof.\n\
         global:\n  smtp_require_tls: false\n\
         route:\n  receiver: oncall\n  group_by: ['...']\n  group_wait: {gw}\n  group_interval: {gi}\n  repeat_interval: {ri}\n\
         receivers:\n  - name: oncall\n    email_configs:\n      - to: {to:?}\n        from: {from:?}\n        smarthost: {host:?}\n        auth_username: {user:?}\n        auth_password_file: {pw:?}\n        require_tls: false\n        send_resolved: true\n        headers:\n          Subject: '{subject}'\n          {GK}: '{group_key}'\n          {ST}: '{{{{ .Status }}}}'\n          {AL}: '{alerts}'\n          {SE}: '{{{{ .ExternalURL }}}}'\n\
         \x20   webhook_configs:\n      - url: {hook:?}\n        send_resolved: true\n",
        gw = go_duration(t.group_wait),
        gi = go_duration(t.group_interval),
        ri = go_duration(t.repeat_interval),
        to = smtp.to,
        from = smtp.from,
        host = smtp.smarthost,
        user = smtp.username,
        pw = smtp.password_file.display().to_string(),
        GK = headers::GROUP_KEY,
        ST = headers::STATUS,
        AL = headers::ALERTS,
        SE = headers::SENDER,
        hook = webhook_url,
    )
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
            // Settling takes 4 polls of 10 × the gossip interval: 100 ms
            // (default 200 ms) settles in ~4 s on loopback.
            a.push("--cluster.gossip-interval=100ms".into());
        }
    }
    a
}

/// The alerting section of a Prometheus replica's config.
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
        assert!(y.contains("auth_password_file: \"/run/pw\""), "{y}");
        assert!(!y.contains("auth_password:"), "{y}");
        assert!(y.contains("group_by: ['...']"), "{y}");
        assert!(y.contains("repeat_interval: 1h"), "{y}");
        assert!(y.contains("X-Stackproof-Group-Key: '{}:{{ \"{\" }}"), "{y}");
        assert!(y.contains("X-Stackproof-Status: '{{ .Status }}'"), "{y}");
        assert!(
            y.contains("    webhook_configs:\n      - url: \"http://127.0.0.1:9/alerts\""),
            "{y}"
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
