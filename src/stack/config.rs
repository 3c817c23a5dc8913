//! Rendered configuration files and command lines for each component.
//! Pure functions: the platform decides ports and directories.

use std::path::Path;
use std::time::Duration;

use crate::client::objstore::S3Target;

pub use super::prometheus::{PrometheusConfig, prometheus_args};

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

/// Thanos objstore YAML for S3. Contains the secret key: write it 0600 and
/// render the redacted form for reports.
pub fn thanos_objstore(t: &S3Target) -> String {
    format!(
        "type: S3\nconfig:\n  bucket: {bucket:?}\n  endpoint: {endpoint:?}\n  region: {region:?}\n  access_key: {ak:?}\n  secret_key: {sk:?}\n  insecure: {insecure}\n  bucket_lookup_type: path\n",
        bucket = t.bucket,
        endpoint = t.endpoint,
        region = t.region,
        ak = t.credentials.access_key,
        sk = t.credentials.secret_key,
        insecure = t.insecure,
    )
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
    let selector = format!(
        "- action: keep\n  source_labels: [{label}]\n  regex: {}\n",
        regex_literal(value)
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
    let mut sd = String::from("endpoints:\n");
    for e in endpoints {
        sd.push_str(&format!("  - address: {e:?}\n"));
    }
    a.push(format!("--endpoint.sd-config={sd}"));
    a.extend(
        replica_labels
            .iter()
            .map(|l| format!("--query.replica-label={l}")),
    );
    a
}

/// `weed mini`: master, volume, filer and S3 in one process, every port
/// explicit (a busy default port would be moved silently).
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::objstore::S3Credentials;

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
        assert!(y.contains("endpoint: \"127.0.0.1:8333\""), "{y}");
        assert!(y.contains("insecure: true"));
        assert!(!y.contains("http://"));
    }
}
