//! The shape of Loki's config file, only the keys the stack sets. Built by
//! [`super::LokiConfig::render`]; each comment in the rendered file says
//! why a value differs from Loki's default.

use serde::Serialize;
use serde_saphyr::Commented;

use super::LokiConfig;
use crate::stack::config::go_duration;

/// Every local listener and ring address.
const LOOPBACK: &str = "127.0.0.1";

/// `c` as Loki's config, `secret` standing for the S3 secret key.
pub(super) fn build<'a>(c: &'a LokiConfig, secret: &'a str) -> File<'a> {
    let d = |sub: &str| c.data_dir.join(sub).display().to_string();
    File {
        auth_enabled: false,
        server: Server {
            http_listen_address: LOOPBACK,
            http_listen_port: c.http_port,
            grpc_listen_address: LOOPBACK,
            grpc_listen_port: c.grpc_port,
            log_level: "info",
        },
        common: Common {
            instance_addr: LOOPBACK,
            path_prefix: c.data_dir.display().to_string(),
            replication_factor: 1,
            ring: Ring {
                kvstore: KvStore { store: "inmemory" },
            },
            storage: CommonStorage {
                s3: S3 {
                    endpoint: &c.s3.endpoint,
                    bucketnames: &c.s3.bucket,
                    region: &c.s3.region,
                    access_key_id: &c.s3.credentials.access_key,
                    secret_access_key: secret,
                    s3forcepathstyle: true,
                    insecure: c.s3.insecure,
                },
            },
        },
        schema_config: SchemaConfig {
            configs: vec![PeriodConfig {
                from: "2024-01-01",
                store: "tsdb",
                object_store: "s3",
                schema: "v13",
                index: Index {
                    prefix: "index_",
                    period: "24h",
                },
            }],
        },
        storage_config: StorageConfig {
            use_thanos_objstore: Commented(
                false,
                "pinned: its default is due to flip upstream (loki #23729); false keeps the S3 keys above in force".into(),
            ),
            tsdb_shipper: TsdbShipper {
                active_index_directory: d("tsdb-index"),
                cache_location: d("tsdb-cache"),
            },
        },
        compactor: Compactor {
            working_directory: d("compactor"),
        },
        ruler: Ruler {
            rule_path: d("rules-temp"),
            storage: RulerStorage {
                kind: "local",
                local: RulerLocal {
                    directory: d("rules"),
                },
            },
        },
        ingester: Ingester {
            lifecycler: Lifecycler {
                min_ready_duration: Commented("0s", "ready at once instead of after 15 s".into()),
                final_sleep: "0s",
            },
            chunk_idle_period: Commented(
                go_duration(c.flush.idle),
                "chunks reach the bucket on their own, no /flush needed".into(),
            ),
            max_chunk_age: go_duration(c.flush.max_age),
            flush_check_period: go_duration(c.flush.check_period),
            chunk_retain_period: Commented(
                "0s",
                "flushed chunks leave memory at once: later reads come from the bucket".into(),
            ),
            wal: Wal {
                enabled: true,
                dir: d("wal"),
                flush_on_shutdown: Commented(
                    true,
                    "SIGTERM flushes every chunk, and the tsdb index ships on shutdown".into(),
                ),
            },
        },
        limits_config: Limits {
            reject_old_samples: true,
            reject_old_samples_max_age: "168h",
            max_entries_limit_per_query: 5000,
            // Off: streams carry exactly the pushed labels. On: streams
            // get `service_name` (Loki's default list) and lines
            // `detected_level`.
            discover_service_name: (!c.label_discovery).then(Vec::new),
            discover_log_levels: Commented(
                c.label_discovery,
                if c.label_discovery {
                    "label discovery on: streams get service_name, lines detected_level"
                } else {
                    "label discovery off: streams carry exactly the pushed labels"
                }
                .into(),
            ),
        },
        query_range: QueryRange {
            cache_results: Commented(
                false,
                "every answer is computed afresh: no cached result can hide a loss".into(),
            ),
        },
        analytics: Analytics {
            reporting_enabled: false,
        },
    }
}

#[derive(Serialize)]
pub(super) struct File<'a> {
    auth_enabled: bool,
    server: Server,
    common: Common<'a>,
    schema_config: SchemaConfig,
    storage_config: StorageConfig,
    compactor: Compactor,
    ruler: Ruler,
    ingester: Ingester,
    limits_config: Limits,
    query_range: QueryRange,
    analytics: Analytics,
}

#[derive(Serialize)]
struct Server {
    http_listen_address: &'static str,
    http_listen_port: u16,
    grpc_listen_address: &'static str,
    grpc_listen_port: u16,
    log_level: &'static str,
}

#[derive(Serialize)]
struct Common<'a> {
    instance_addr: &'static str,
    path_prefix: String,
    replication_factor: u32,
    ring: Ring,
    storage: CommonStorage<'a>,
}

#[derive(Serialize)]
struct Ring {
    kvstore: KvStore,
}

#[derive(Serialize)]
struct KvStore {
    store: &'static str,
}

#[derive(Serialize)]
struct CommonStorage<'a> {
    s3: S3<'a>,
}

#[derive(Serialize)]
struct S3<'a> {
    /// `host:port`, no scheme: `insecure` picks http.
    endpoint: &'a str,
    bucketnames: &'a str,
    region: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    s3forcepathstyle: bool,
    insecure: bool,
}

#[derive(Serialize)]
struct SchemaConfig {
    configs: Vec<PeriodConfig>,
}

#[derive(Serialize)]
struct PeriodConfig {
    /// A date string (the serializer quotes it: YAML 1.1 would read a
    /// timestamp).
    from: &'static str,
    store: &'static str,
    object_store: &'static str,
    schema: &'static str,
    index: Index,
}

#[derive(Serialize)]
struct Index {
    prefix: &'static str,
    period: &'static str,
}

#[derive(Serialize)]
struct StorageConfig {
    use_thanos_objstore: Commented<bool>,
    tsdb_shipper: TsdbShipper,
}

#[derive(Serialize)]
struct TsdbShipper {
    active_index_directory: String,
    cache_location: String,
}

#[derive(Serialize)]
struct Compactor {
    working_directory: String,
}

#[derive(Serialize)]
struct Ruler {
    rule_path: String,
    storage: RulerStorage,
}

#[derive(Serialize)]
struct RulerStorage {
    #[serde(rename = "type")]
    kind: &'static str,
    local: RulerLocal,
}

#[derive(Serialize)]
struct RulerLocal {
    directory: String,
}

#[derive(Serialize)]
struct Ingester {
    lifecycler: Lifecycler,
    chunk_idle_period: Commented<String>,
    max_chunk_age: String,
    flush_check_period: String,
    chunk_retain_period: Commented<&'static str>,
    wal: Wal,
}

#[derive(Serialize)]
struct Lifecycler {
    min_ready_duration: Commented<&'static str>,
    final_sleep: &'static str,
}

#[derive(Serialize)]
struct Wal {
    enabled: bool,
    dir: String,
    flush_on_shutdown: Commented<bool>,
}

#[derive(Serialize)]
struct Limits {
    reject_old_samples: bool,
    reject_old_samples_max_age: &'static str,
    max_entries_limit_per_query: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    discover_service_name: Option<Vec<String>>,
    discover_log_levels: Commented<bool>,
}

#[derive(Serialize)]
struct QueryRange {
    cache_results: Commented<bool>,
}

#[derive(Serialize)]
struct Analytics {
    reporting_enabled: bool,
}
