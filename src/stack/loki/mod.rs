//! Loki 3 configuration: a single binary on 127.0.0.1, auth off (tenant
//! `fake`), schema v13 with the tsdb index, chunks and index in S3.
//! Pure rendering: the platform decides ports, directories and bucket.

mod file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::go_duration;
use crate::client::objstore::S3Target;

/// When Loki's ingester writes a chunk to the bucket on its own: what users
/// rely on (not a manual `/flush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushSettings {
    /// A chunk that got no line for this long is flushed
    /// (`chunk_idle_period`).
    pub idle: Duration,
    /// A chunk older than this is flushed however busy its stream
    /// (`max_chunk_age`).
    pub max_age: Duration,
    /// How often the ingester looks for chunks to flush
    /// (`flush_check_period`; Loki adds ±20 % jitter).
    pub check_period: Duration,
}

impl FlushSettings {
    /// What the stack promises, on every platform (the kind chart values
    /// say the same, `fixtures/kind/loki.values.yaml`): an idle chunk is
    /// flushed 5 s after its last line, looked for every second, so a test
    /// can wait for Loki's own flush instead of forcing one.
    pub const STACK: Self = Self {
        idle: Duration::from_secs(5),
        max_age: Duration::from_secs(2 * 3600),
        check_period: Duration::from_secs(1),
    };

    /// Loki's own defaults (30 m idle, 2 h max age, checks every 30 s): a
    /// short burst of lines reaches the bucket half an hour later, never
    /// within the stack's promise. The slow-flush twin's Loki.
    pub const LOKI_DEFAULTS: Self = Self {
        idle: Duration::from_secs(30 * 60),
        max_age: Duration::from_secs(2 * 3600),
        check_period: Duration::from_secs(30),
    };

    /// The three settings as Loki's config names them, for messages.
    pub fn text(&self) -> String {
        format!(
            "chunk_idle_period: {}, max_chunk_age: {}, flush_check_period: {}",
            go_duration(self.idle),
            go_duration(self.max_age),
            go_duration(self.check_period)
        )
    }
}

/// Everything the rendered config depends on.
#[derive(Debug, Clone)]
pub struct LokiConfig {
    pub http_port: u16,
    pub grpc_port: u16,
    /// Loki's local state (WAL, tsdb head and cache, compactor): what a
    /// "restart with no local data" deletes.
    pub data_dir: PathBuf,
    /// Where chunks and the index go.
    pub s3: S3Target,
    /// When the ingester flushes chunks on its own.
    pub flush: FlushSettings,
    /// `service_name` and `detected_level` discovery. Off by default so that
    /// stream labels are exactly what the generator pushed and every answer
    /// is computable from it (the recorded fixtures were made with it on).
    pub label_discovery: bool,
}

impl LokiConfig {
    /// Defaults for a test: the stack's flush promise, discovery off.
    pub fn new(http_port: u16, grpc_port: u16, data_dir: impl Into<PathBuf>, s3: S3Target) -> Self {
        Self {
            http_port,
            grpc_port,
            data_dir: data_dir.into(),
            s3,
            flush: FlushSettings::STACK,
            label_discovery: false,
        }
    }

    /// The directories Loki writes locally, all under `data_dir`.
    pub fn local_dirs(&self) -> Vec<PathBuf> {
        [
            "wal",
            "tsdb-index",
            "tsdb-cache",
            "compactor",
            "rules",
            "rules-temp",
        ]
        .iter()
        .map(|d| self.data_dir.join(d))
        .collect()
    }

    /// The config file Loki runs with. Contains the secret key: write it
    /// 0600; reports get [`LokiConfig::render_redacted`].
    pub fn render(&self) -> String {
        self.render_with(&self.s3.credentials.secret_key)
    }

    /// The same config with the secret key replaced by `[REDACTED]`.
    pub fn render_redacted(&self) -> String {
        self.render_with("[REDACTED]")
    }

    fn render_with(&self, secret: &str) -> String {
        crate::stack::yaml::render(
            "# Rendered by stackproof: Loki 3 single binary for a test.\n",
            &file::build(self, secret),
        )
    }
}

/// Loki's command line for a config file.
pub fn loki_args(config: &Path) -> Vec<String> {
    vec![
        format!("-config.file={}", config.display()),
        // Keep the process's own flags out of the way of the config.
        "-target=all".into(),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::objstore::S3Credentials;
    use crate::stack::yaml::parsed;

    fn config() -> LokiConfig {
        let s3 = S3Target {
            endpoint: "127.0.0.1:8333".into(),
            bucket: "stackproof-loki".into(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: S3Credentials {
                access_key: "spAKIA".into(),
                secret_key: "very-secret-key".into(),
            },
        };
        LokiConfig::new(3100, 9095, "/tmp/run/loki", s3)
    }

    #[test]
    fn renders_a_local_single_binary_on_s3_with_tsdb_v13() {
        let text = config().render();
        assert!(text.starts_with("# Rendered by stackproof"), "{text}");
        assert_eq!(
            parsed(&text),
            json!({
                "auth_enabled": false,
                "server": {
                    "http_listen_address": "127.0.0.1",
                    "http_listen_port": 3100,
                    "grpc_listen_address": "127.0.0.1",
                    "grpc_listen_port": 9095,
                    "log_level": "info",
                },
                "common": {
                    "instance_addr": "127.0.0.1",
                    "path_prefix": "/tmp/run/loki",
                    "replication_factor": 1,
                    "ring": {"kvstore": {"store": "inmemory"}},
                    "storage": {"s3": {
                        "endpoint": "127.0.0.1:8333",
                        "bucketnames": "stackproof-loki",
                        "region": "us-east-1",
                        "access_key_id": "spAKIA",
                        "secret_access_key": "very-secret-key",
                        "s3forcepathstyle": true,
                        "insecure": true,
                    }},
                },
                "schema_config": {"configs": [{
                    "from": "2024-01-01",
                    "store": "tsdb",
                    "object_store": "s3",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }]},
                "storage_config": {
                    "use_thanos_objstore": false,
                    "tsdb_shipper": {
                        "active_index_directory": "/tmp/run/loki/tsdb-index",
                        "cache_location": "/tmp/run/loki/tsdb-cache",
                    },
                },
                "compactor": {"working_directory": "/tmp/run/loki/compactor"},
                "ruler": {
                    "rule_path": "/tmp/run/loki/rules-temp",
                    "storage": {"type": "local", "local": {"directory": "/tmp/run/loki/rules"}},
                },
                "ingester": {
                    "lifecycler": {"min_ready_duration": "0s", "final_sleep": "0s"},
                    "chunk_idle_period": "5s",
                    "max_chunk_age": "2h",
                    "flush_check_period": "1s",
                    "chunk_retain_period": "0s",
                    "wal": {
                        "enabled": true,
                        "dir": "/tmp/run/loki/wal",
                        "flush_on_shutdown": true,
                    },
                },
                "limits_config": {
                    "reject_old_samples": true,
                    "reject_old_samples_max_age": "168h",
                    "max_entries_limit_per_query": 5000,
                    "discover_service_name": [],
                    "discover_log_levels": false,
                },
                "query_range": {"cache_results": false},
                "analytics": {"reporting_enabled": false},
            })
        );
        // Nothing listens beyond loopback.
        assert!(!text.contains("0.0.0.0"));
    }

    #[test]
    fn flush_settings_render_in_go_durations() {
        let mut c = config();
        c.flush = FlushSettings::LOKI_DEFAULTS;
        let text = c.render();
        for want in [
            "chunk_idle_period: 30m",
            "max_chunk_age: 2h",
            "flush_check_period: 30s",
        ] {
            assert!(text.contains(want), "missing {want:?}");
        }
        assert_eq!(
            FlushSettings::STACK.text(),
            "chunk_idle_period: 5s, max_chunk_age: 2h, flush_check_period: 1s"
        );
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn the_kind_values_make_the_same_flush_promise() {
        let values = include_str!("../../../fixtures/kind/loki.values.yaml");
        let f = FlushSettings::STACK;
        for want in [
            format!("chunk_idle_period: {}", go_duration(f.idle)),
            format!("max_chunk_age: {}", go_duration(f.max_age)),
            format!("flush_check_period: {}", go_duration(f.check_period)),
        ] {
            assert!(values.contains(&want), "kind values lack {want:?}");
        }
    }

    #[test]
    fn the_redacted_form_never_holds_the_secret() {
        let c = config();
        let red = c.render_redacted();
        assert!(!red.contains("very-secret-key"), "{red}");
        let mut red = parsed(&red);
        let secret = &mut red["common"]["storage"]["s3"]["secret_access_key"];
        assert_eq!(*secret, "[REDACTED]");
        // Apart from the secret, the two forms are the same config.
        *secret = "very-secret-key".into();
        assert_eq!(red, parsed(&c.render()));
    }

    #[test]
    fn discovery_is_a_deliberate_switch() {
        let mut c = config();
        c.label_discovery = true;
        let limits = &parsed(&c.render())["limits_config"];
        assert!(limits.get("discover_service_name").is_none(), "{limits}");
        assert_eq!(limits["discover_log_levels"], true);
    }

    #[test]
    fn every_local_dir_lies_under_the_data_dir() {
        let c = config();
        let v = parsed(&c.render());
        let dirs = [
            &v["ingester"]["wal"]["dir"],
            &v["storage_config"]["tsdb_shipper"]["active_index_directory"],
            &v["storage_config"]["tsdb_shipper"]["cache_location"],
            &v["compactor"]["working_directory"],
            &v["ruler"]["storage"]["local"]["directory"],
            &v["ruler"]["rule_path"],
        ];
        for (d, in_file) in c.local_dirs().iter().zip(dirs) {
            assert!(d.starts_with("/tmp/run/loki"));
            assert_eq!(in_file.as_str(), d.to_str(), "{}", d.display());
        }
        assert_eq!(
            loki_args(Path::new("/c/loki.yml"))[0],
            "-config.file=/c/loki.yml"
        );
    }
}
