//! Loki 3 configuration: a single binary on 127.0.0.1, auth off (tenant
//! `fake`), schema v13 with the tsdb index, chunks and index in S3.
//! Pure rendering: the platform decides ports, directories and bucket.

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
        let d = |sub: &str| yaml_str(&self.data_dir.join(sub));
        let discovery = if self.label_discovery {
            "  # Label discovery on: streams get service_name, lines detected_level.\n  discover_log_levels: true\n".to_owned()
        } else {
            "  # Label discovery off: streams carry exactly the pushed labels.\n  discover_service_name: []\n  discover_log_levels: false\n".to_owned()
        };
        format!(
            "# Rendered by stackproof: Loki 3 single binary for a test.\n\
auth_enabled: false\n\
server:\n\
\x20 http_listen_address: 127.0.0.1\n\
\x20 http_listen_port: {http}\n\
\x20 grpc_listen_address: 127.0.0.1\n\
\x20 grpc_listen_port: {grpc}\n\
\x20 log_level: info\n\
common:\n\
\x20 instance_addr: 127.0.0.1\n\
\x20 path_prefix: {prefix}\n\
\x20 replication_factor: 1\n\
\x20 ring:\n\
\x20   kvstore:\n\
\x20     store: inmemory\n\
\x20 storage:\n\
\x20   s3:\n\
\x20     endpoint: {endpoint:?}\n\
\x20     bucketnames: {bucket:?}\n\
\x20     region: {region:?}\n\
\x20     access_key_id: {ak:?}\n\
\x20     secret_access_key: {sk:?}\n\
\x20     s3forcepathstyle: true\n\
\x20     insecure: {insecure}\n\
schema_config:\n\
\x20 configs:\n\
\x20   - from: \"2024-01-01\"\n\
\x20     store: tsdb\n\
\x20     object_store: s3\n\
\x20     schema: v13\n\
\x20     index:\n\
\x20       prefix: index_\n\
\x20       period: 24h\n\
storage_config:\n\
\x20 # Pinned: its default is due to flip upstream (loki #23729); false keeps\n\
\x20 # the S3 keys above in force.\n\
\x20 use_thanos_objstore: false\n\
\x20 tsdb_shipper:\n\
\x20   active_index_directory: {index}\n\
\x20   cache_location: {cache}\n\
compactor:\n\
\x20 working_directory: {compactor}\n\
ruler:\n\
\x20 rule_path: {rules_temp}\n\
\x20 storage:\n\
\x20   type: local\n\
\x20   local:\n\
\x20     directory: {rules}\n\
ingester:\n\
\x20 lifecycler:\n\
\x20   # Ready at once instead of after 15 s.\n\
\x20   min_ready_duration: 0s\n\
\x20   final_sleep: 0s\n\
\x20 # When chunks reach the bucket on their own (no /flush needed).\n\
\x20 chunk_idle_period: {idle}\n\
\x20 max_chunk_age: {max_age}\n\
\x20 flush_check_period: {check}\n\
\x20 # Flushed chunks leave memory at once: later reads come from the bucket.\n\
\x20 chunk_retain_period: 0s\n\
\x20 wal:\n\
\x20   enabled: true\n\
\x20   dir: {wal}\n\
\x20   # SIGTERM flushes every chunk, and the tsdb index ships on shutdown.\n\
\x20   flush_on_shutdown: true\n\
limits_config:\n\
\x20 reject_old_samples: true\n\
\x20 reject_old_samples_max_age: 168h\n\
\x20 max_entries_limit_per_query: 5000\n\
{discovery}\
query_range:\n\
\x20 # Every answer is computed afresh: no cached result can hide a loss.\n\
\x20 cache_results: false\n\
analytics:\n\
\x20 reporting_enabled: false\n",
            http = self.http_port,
            grpc = self.grpc_port,
            prefix = yaml_str(&self.data_dir),
            endpoint = self.s3.endpoint,
            bucket = self.s3.bucket,
            region = self.s3.region,
            ak = self.s3.credentials.access_key,
            sk = secret,
            insecure = self.s3.insecure,
            index = d("tsdb-index"),
            cache = d("tsdb-cache"),
            compactor = d("compactor"),
            rules = d("rules"),
            rules_temp = d("rules-temp"),
            wal = d("wal"),
            idle = go_duration(self.flush.idle),
            max_age = go_duration(self.flush.max_age),
            check = go_duration(self.flush.check_period),
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

fn yaml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::objstore::S3Credentials;

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
        for want in [
            "auth_enabled: false",
            "http_listen_address: 127.0.0.1",
            "http_listen_port: 3100",
            "grpc_listen_address: 127.0.0.1",
            "grpc_listen_port: 9095",
            "instance_addr: 127.0.0.1",
            "store: inmemory",
            "endpoint: \"127.0.0.1:8333\"",
            "bucketnames: \"stackproof-loki\"",
            "secret_access_key: \"very-secret-key\"",
            "s3forcepathstyle: true",
            "insecure: true",
            "store: tsdb",
            "object_store: s3",
            "schema: v13",
            "period: 24h",
            "use_thanos_objstore: false",
            "active_index_directory: \"/tmp/run/loki/tsdb-index\"",
            "cache_location: \"/tmp/run/loki/tsdb-cache\"",
            "working_directory: \"/tmp/run/loki/compactor\"",
            "min_ready_duration: 0s",
            "flush_on_shutdown: true",
            "chunk_idle_period: 5s",
            "max_chunk_age: 2h",
            "flush_check_period: 1s",
            "discover_service_name: []",
            "discover_log_levels: false",
            "cache_results: false",
            "reporting_enabled: false",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
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
        assert!(red.contains("secret_access_key: \"[REDACTED]\""), "{red}");
        // Apart from the secret, the two forms are the same file.
        assert_eq!(red.replace("[REDACTED]", "very-secret-key"), c.render());
    }

    #[test]
    fn discovery_is_a_deliberate_switch() {
        let mut c = config();
        c.label_discovery = true;
        let text = c.render();
        assert!(!text.contains("discover_service_name"), "{text}");
        assert!(text.contains("discover_log_levels: true"), "{text}");
    }

    #[test]
    fn every_local_dir_lies_under_the_data_dir() {
        let c = config();
        let text = c.render();
        for d in c.local_dirs() {
            assert!(d.starts_with("/tmp/run/loki"));
            assert!(
                text.contains(&format!("{:?}", d.display().to_string())),
                "{}",
                d.display()
            );
        }
        assert_eq!(
            loki_args(Path::new("/c/loki.yml"))[0],
            "-config.file=/c/loki.yml"
        );
    }
}
