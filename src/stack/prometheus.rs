//! `prometheus.yml` and Prometheus' command line, and the relabel and
//! static-target shapes Thanos flags reuse. Pure functions: the platform
//! decides ports and directories.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::alertmanager::PromAlerting;
use super::config::go_duration;

/// The `external_labels` and scrape settings of one Prometheus replica.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    pub cluster: String,
    pub replica_label: String,
    pub replica: String,
    pub scrape_interval: Duration,
    pub exporter_target: String,
    /// Rules and Alertmanagers, once a scenario sets up alerting.
    pub alerting: Option<PromAlerting>,
}

impl PrometheusConfig {
    /// `prometheus.yml`.
    pub fn render(&self) -> String {
        let interval = go_duration(self.scrape_interval);
        let file = PrometheusFile {
            global: Global {
                scrape_interval: interval.clone(),
                // Timeout = interval: the exporter answers at once, and a
                // longer timeout is refused by Prometheus.
                scrape_timeout: interval.clone(),
                evaluation_interval: interval,
                external_labels: BTreeMap::from([
                    ("cluster".to_owned(), self.cluster.clone()),
                    (self.replica_label.clone(), self.replica.clone()),
                ]),
            },
            scrape_configs: vec![ScrapeConfig {
                job_name: "stackproof-exporter",
                // The exporter stamps each sample with the time its value is
                // computed from: stored samples must keep that time.
                honor_timestamps: true,
                static_configs: vec![StaticConfig::of([&self.exporter_target])],
            }],
            alerting: self.alerting.as_ref().map(alerting_sections),
        };
        super::yaml::render("# Rendered by stackproof.\n", &file)
    }
}

/// Prometheus' command line.
pub fn prometheus_args(config: &Path, data: &Path, port: u16, block: Duration) -> Vec<String> {
    let block = go_duration(block);
    vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        // The sidecar wants min == max: Prometheus must not compact, the
        // compactor does that from the bucket.
        format!("--storage.tsdb.min-block-duration={block}"),
        format!("--storage.tsdb.max-block-duration={block}"),
        "--storage.tsdb.retention.time=1d".into(),
        "--web.enable-lifecycle".into(),
        "--log.level=info".into(),
    ]
}

/// One alerting rule of a Prometheus rule file.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRule {
    pub alert: String,
    /// PromQL: the alert fires while it returns a series.
    pub expr: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// A Prometheus rule file holding one group, `group`, of `rules`.
pub fn rule_file(group: &str, rules: Vec<AlertRule>) -> String {
    let file = RuleFile {
        groups: vec![RuleGroup {
            name: group.to_owned(),
            rules,
        }],
    };
    super::yaml::render("", &file)
}

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

/// One Prometheus relabel rule, as `prometheus.yml` and Thanos'
/// `--selector.relabel-config` read it.
#[derive(Debug, Clone, Serialize)]
pub struct RelabelConfig {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// An RE2 regex, anchored by Prometheus.
    pub regex: String,
}

/// A `static_configs` entry: fixed `host:port` targets.
#[derive(Debug, Clone, Serialize)]
pub struct StaticConfig {
    pub targets: Vec<String>,
}

impl StaticConfig {
    /// Targets from anything string-like.
    pub fn of(targets: impl IntoIterator<Item = impl ToString>) -> Self {
        Self {
            targets: targets.into_iter().map(|t| t.to_string()).collect(),
        }
    }
}

#[derive(Serialize)]
struct PrometheusFile {
    global: Global,
    scrape_configs: Vec<ScrapeConfig>,
    /// `rule_files` and `alerting`, top-level keys of the same file.
    #[serde(flatten)]
    alerting: Option<AlertingSections>,
}

#[derive(Serialize)]
struct Global {
    scrape_interval: String,
    scrape_timeout: String,
    evaluation_interval: String,
    external_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ScrapeConfig {
    job_name: &'static str,
    honor_timestamps: bool,
    static_configs: Vec<StaticConfig>,
}

#[derive(Serialize)]
struct AlertingSections {
    rule_files: Vec<String>,
    alerting: Alerting,
}

#[derive(Serialize)]
struct Alerting {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alert_relabel_configs: Vec<RelabelConfig>,
    alertmanagers: Vec<AlertmanagerTargets>,
}

#[derive(Serialize)]
struct AlertmanagerTargets {
    static_configs: Vec<StaticConfig>,
}

/// Every replica sends to every Alertmanager; dropping `drop_label` makes
/// the replicas' alerts one label set, which Alertmanager deduplicates.
fn alerting_sections(a: &PromAlerting) -> AlertingSections {
    AlertingSections {
        rule_files: vec![a.rule_file.display().to_string()],
        alerting: Alerting {
            alert_relabel_configs: a
                .drop_label
                .iter()
                .map(|l| RelabelConfig {
                    action: "labeldrop",
                    source_labels: vec![],
                    regex: l.clone(),
                })
                .collect(),
            alertmanagers: vec![AlertmanagerTargets {
                static_configs: vec![StaticConfig::of(&a.alertmanagers)],
            }],
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::stack::yaml::parsed;

    fn config() -> PrometheusConfig {
        PrometheusConfig {
            cluster: "stackproof".into(),
            replica_label: "replica".into(),
            replica: "1".into(),
            scrape_interval: Duration::from_secs(1),
            exporter_target: "127.0.0.1:4000".into(),
            alerting: None,
        }
    }

    #[test]
    fn prometheus_config_carries_external_labels_and_interval() {
        let y = config().render();
        assert!(y.starts_with("# Rendered by stackproof.\n"), "{y}");
        assert!(y.contains("scrape_interval: 1s"), "{y}");
        assert_eq!(
            parsed(&y),
            json!({
                "global": {
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "evaluation_interval": "1s",
                    // A string "1", not the number: label values are strings.
                    "external_labels": {"cluster": "stackproof", "replica": "1"},
                },
                "scrape_configs": [{
                    "job_name": "stackproof-exporter",
                    "honor_timestamps": true,
                    "static_configs": [{"targets": ["127.0.0.1:4000"]}],
                }],
            })
        );
    }

    #[test]
    fn prometheus_drops_the_replica_label_only_when_asked() {
        let mut c = config();
        c.alerting = Some(PromAlerting {
            alertmanagers: vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()],
            drop_label: Some("replica".into()),
            rule_file: "/r.yml".into(),
        });
        let v = parsed(&c.render());
        assert_eq!(v["rule_files"], json!(["/r.yml"]));
        assert_eq!(
            v["alerting"],
            json!({
                "alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}],
                "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:1", "127.0.0.1:2"]}]}],
            })
        );
        // The scrape part is the same with or without alerting.
        assert_eq!(v["global"], parsed(&config().render())["global"]);
        c.alerting.as_mut().unwrap().drop_label = None;
        let v = parsed(&c.render());
        assert!(v["alerting"].get("alert_relabel_configs").is_none(), "{v}");
        assert_eq!(
            v["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][1],
            "127.0.0.1:2"
        );
    }

    #[test]
    fn a_rule_file_holds_one_group() {
        let rule = AlertRule {
            alert: "A".into(),
            expr: "x >= 1 and x < 2".into(),
            labels: BTreeMap::from([("case".to_owned(), "c1".to_owned())]),
            annotations: BTreeMap::from([("summary".to_owned(), "x in [1, 2)".to_owned())]),
        };
        assert_eq!(
            parsed(&rule_file("g", vec![rule])),
            json!({"groups": [{"name": "g", "rules": [{
                "alert": "A",
                "expr": "x >= 1 and x < 2",
                "labels": {"case": "c1"},
                "annotations": {"summary": "x in [1, 2)"},
            }]}]})
        );
    }

    #[test]
    fn block_durations_are_equal_and_the_address_is_loopback() {
        let a = prometheus_args(Path::new("/c"), Path::new("/d"), 9, Duration::from_secs(30));
        assert!(a.contains(&"--storage.tsdb.min-block-duration=30s".to_owned()));
        assert!(a.contains(&"--storage.tsdb.max-block-duration=30s".to_owned()));
        assert!(a.contains(&"--web.listen-address=127.0.0.1:9".to_owned()));
    }
}
