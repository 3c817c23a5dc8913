//! Rendered configuration files and command lines for each component.
//! Pure functions: the platform decides ports and directories.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::prometheus::RelabelConfig;
pub use super::prometheus::{PrometheusConfig, prometheus_args};
use crate::client::objstore::S3Target;

/// `d` as a Go duration string in its largest whole unit (`30s`, `2m`,
/// `1h`, `250ms`): the one rendering every config (local, chart values,
/// Loki) uses.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".into(),
        _ if !ms.is_multiple_of(1000) => format!("{ms}ms"),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ => format!("{}s", ms / 1000),
    }
}

/// Thanos objstore YAML for S3. Contains the secret key: write it 0600;
/// reports show it through `process::redact`, which knows the secret.
pub fn thanos_objstore(t: &S3Target) -> String {
    let file = ObjstoreFile {
        kind: "S3",
        config: S3Config {
            bucket: &t.bucket,
            endpoint: &t.endpoint,
            region: &t.region,
            access_key: &t.credentials.access_key,
            secret_key: &t.credentials.secret_key,
            insecure: t.insecure,
            // Bucket names as path components: the test S3 servers have no
            // per-bucket DNS names.
            bucket_lookup_type: "path",
        },
    };
    super::yaml::render("", &file)
}

#[derive(Serialize)]
struct ObjstoreFile<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    config: S3Config<'a>,
}

#[derive(Serialize)]
struct S3Config<'a> {
    bucket: &'a str,
    /// `host:port`, no scheme: Thanos adds it from `insecure`.
    endpoint: &'a str,
    region: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
    insecure: bool,
    bucket_lookup_type: &'static str,
}

/// Ports of one Thanos component.
#[derive(Debug, Clone, Copy)]
pub struct ThanosPorts {
    pub http: u16,
    pub grpc: u16,
}

fn thanos_common(ports: ThanosPorts) -> Vec<String> {
    vec![
        format!("--http-address=127.0.0.1:{}", ports.http),
        format!("--grpc-address=127.0.0.1:{}", ports.grpc),
        "--log.level=info".into(),
    ]
}

/// `thanos sidecar` for one replica.
pub fn sidecar_args(
    ports: ThanosPorts,
    prom_port: u16,
    tsdb: &Path,
    objstore: &Path,
) -> Vec<String> {
    let mut a = vec!["sidecar".to_owned()];
    a.extend(thanos_common(ports));
    a.extend([
        format!("--prometheus.url=http://127.0.0.1:{prom_port}"),
        format!("--tsdb.path={}", tsdb.display()),
        format!("--objstore.config-file={}", objstore.display()),
    ]);
    a
}

/// `thanos store` (store gateway) with a short sync period: its default of
/// 15 min would keep new blocks invisible for the length of a test.
pub fn store_args(ports: ThanosPorts, data: &Path, objstore: &Path) -> Vec<String> {
    let mut a = vec!["store".to_owned()];
    a.extend(thanos_common(ports));
    a.extend([
        format!("--data-dir={}", data.display()),
        format!("--objstore.config-file={}", objstore.display()),
        "--sync-block-duration=3s".into(),
        "--consistency-delay=0s".into(),
    ]);
    a
}

/// `thanos compact` for one pass (no `--wait`) over the blocks whose label
/// `only.0` is `only.1`. `--consistency-delay=0s` because the harness
/// uploads whole blocks, meta.json last; `--delete-delay=0s` so the blocks
/// it replaced are gone when it exits, as they would be once a production
/// delay has passed: while both are in the bucket the store gateway serves
/// both.
pub fn compact_args(
    http_port: u16,
    data: &Path,
    objstore: &Path,
    run: &crate::platform::CompactRun,
) -> Vec<String> {
    let (label, value) = &run.only;
    let selector = super::yaml::render(
        "",
        &[RelabelConfig {
            action: "keep",
            source_labels: vec![label.clone()],
            regex: regex_literal(value),
        }],
    );
    let mut a = vec![
        "compact".to_owned(),
        format!("--http-address=127.0.0.1:{http_port}"),
        "--log.level=info".into(),
        format!("--data-dir={}", data.display()),
        format!("--objstore.config-file={}", objstore.display()),
        "--consistency-delay=0s".into(),
        "--delete-delay=0s".into(),
        format!("--selector.relabel-config={selector}"),
    ];
    a.extend(
        run.replica_labels
            .iter()
            .map(|l| format!("--deduplication.replica-label={l}")),
    );
    if !run.dedup_func.is_empty() {
        a.push(format!("--deduplication.func={}", run.dedup_func));
    }
    a
}

/// `value` as an anchored RE2 literal (relabel regexes are anchored).
fn regex_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `thanos query` over `endpoints` (gRPC `host:port`), deduplicating on each
/// of `replica_labels` (none: no deduplication).
pub fn query_args(
    ports: ThanosPorts,
    endpoints: &[String],
    replica_labels: &[String],
) -> Vec<String> {
    let mut a = vec!["query".to_owned()];
    a.extend(thanos_common(ports));
    // `--endpoint` is deprecated in v0.42: endpoints go in an SD config.
    let sd = super::yaml::render(
        "",
        &EndpointsSd {
            endpoints: endpoints
                .iter()
                .map(|e| Endpoint { address: e.clone() })
                .collect(),
        },
    );
    a.push(format!("--endpoint.sd-config={sd}"));
    a.extend(
        replica_labels
            .iter()
            .map(|l| format!("--query.replica-label={l}")),
    );
    a
}

/// The `--endpoint.sd-config` file of `thanos query`.
#[derive(Serialize)]
struct EndpointsSd {
    endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
struct Endpoint {
    /// gRPC `host:port`.
    address: String,
}

/// `weed mini`: master, volume, filer and S3 in one process, every port
/// explicit (a busy default port would be moved silently, to a port
/// stackproof may hand another component).
pub fn seaweedfs_args(dir: &Path, p: &SeaweedPorts) -> Vec<String> {
    seaweedfs_args_on(dir, p, "127.0.0.1")
}

/// [`seaweedfs_args`] listening on `ip` only (tests stand it in for a
/// user's S3 on a private network a cluster's pods reach).
pub fn seaweedfs_args_on(dir: &Path, p: &SeaweedPorts, ip: &str) -> Vec<String> {
    vec![
        "mini".into(),
        format!("-dir={}", dir.display()),
        format!("-ip={ip}"),
        format!("-ip.bind={ip}"),
        format!("-master.port={}", p.master),
        format!("-master.port.grpc={}", p.master_grpc),
        format!("-volume.port={}", p.volume),
        format!("-volume.port.grpc={}", p.volume_grpc),
        format!("-filer.port={}", p.filer),
        format!("-filer.port.grpc={}", p.filer_grpc),
        format!("-s3.port={}", p.s3),
        format!("-s3.port.grpc={}", p.s3_grpc),
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
        // Its sockets default to /tmp/seaweedfs-*.sock: keep them in the run
        // dir so they go with it.
        format!("-filer.localSocket={}", dir.join("filer.sock").display()),
        format!("-s3.localSocket={}", dir.join("s3.sock").display()),
        // Telemetry would call an outside host: off.
        "-master.telemetry=false".into(),
        "-webdav=false".into(),
        "-admin.ui=false".into(),
        // The admin server runs even without its UI, on 12535 (+10000 for
        // gRPC) and a legacy 23646 (+10000) by default; where those are
        // taken it takes the next free ones itself — ports inside the range
        // stackproof reserves from, which another stack could have been
        // handed meanwhile (a filer then fails with `address already in
        // use` when several stacks run at once). Its ports are given too,
        // and the legacy listener is off.
        format!("-admin.port={}", p.admin),
        format!("-admin.port.grpc={}", p.admin_grpc),
        "-admin.port.legacy=0".into(),
    ]
}

/// The ports SeaweedFS listens on.
#[derive(Debug, Clone, Copy)]
pub struct SeaweedPorts {
    pub master: u16,
    pub master_grpc: u16,
    pub volume: u16,
    pub volume_grpc: u16,
    pub filer: u16,
    pub filer_grpc: u16,
    pub s3: u16,
    pub s3_grpc: u16,
    pub admin: u16,
    pub admin_grpc: u16,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::objstore::S3Credentials;
    use crate::stack::yaml::parsed;

    #[test]
    fn query_addresses_are_loopback_and_dedup_is_optional() {
        let q = query_args(
            ThanosPorts { http: 1, grpc: 2 },
            &["127.0.0.1:3".into()],
            &["replica".into()],
        );
        assert!(q.contains(&"--query.replica-label=replica".to_owned()));
        assert!(
            q.iter()
                .filter(|x| x.contains("address="))
                .all(|x| x.contains("127.0.0.1:"))
        );
        let none = query_args(ThanosPorts { http: 1, grpc: 2 }, &[], &[]);
        assert!(!none.iter().any(|x| x.contains("replica-label")));
    }

    #[test]
    fn objstore_endpoint_has_no_scheme() {
        let t = S3Target {
            endpoint: "127.0.0.1:8333".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: S3Credentials {
                access_key: "ak".into(),
                secret_key: "sk".into(),
            },
        };
        let y = thanos_objstore(&t);
        assert!(!y.contains("http://"), "{y}");
        assert_eq!(
            parsed(&y),
            json!({
                "type": "S3",
                "config": {
                    "bucket": "b",
                    "endpoint": "127.0.0.1:8333",
                    "region": "us-east-1",
                    "access_key": "ak",
                    "secret_key": "sk",
                    "insecure": true,
                    "bucket_lookup_type": "path",
                },
            })
        );
    }

    #[test]
    fn flag_yaml_parses_to_the_selector_and_the_endpoints() {
        let run = crate::platform::CompactRun {
            only: ("cluster".into(), "bf.1+x".into()),
            replica_labels: vec!["replica".into()],
            dedup_func: String::new(),
        };
        let a = compact_args(1, Path::new("/d"), Path::new("/o"), &run);
        let flag = |args: &[String], name: &str| {
            args.iter()
                .find_map(|x| x.strip_prefix(name).map(parsed))
                .unwrap()
        };
        assert_eq!(
            flag(&a, "--selector.relabel-config="),
            json!([{"action": "keep", "source_labels": ["cluster"], "regex": "bf\\.1\\+x"}])
        );
        assert!(!a.iter().any(|x| x.starts_with("--deduplication.func")));
        let q = query_args(
            ThanosPorts { http: 1, grpc: 2 },
            &["127.0.0.1:3".into(), "127.0.0.1:4".into()],
            &[],
        );
        assert_eq!(
            flag(&q, "--endpoint.sd-config="),
            json!({"endpoints": [{"address": "127.0.0.1:3"}, {"address": "127.0.0.1:4"}]})
        );
    }
}
