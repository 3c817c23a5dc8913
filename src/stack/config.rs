//! Rendered configuration files and command lines for each component.
//! Pure functions: the platform decides ports and directories.

use std::path::Path;
use std::time::Duration;

use crate::client::objstore::S3Target;

/// The `external_labels` and scrape settings of one Prometheus replica.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    pub cluster: String,
    pub replica_label: String,
    pub replica: String,
    pub scrape_interval: Duration,
    pub exporter_target: String,
    /// Rules and Alertmanagers, once a scenario sets up alerting.
    pub alerting: Option<crate::stack::alertmanager::PromAlerting>,
}

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

impl PrometheusConfig {
    /// `prometheus.yml`.
    pub fn render(&self) -> String {
        let interval = go_duration(self.scrape_interval);
        let alerting = self
            .alerting
            .as_ref()
            .map(|a| a.render())
            .unwrap_or_default();
        let base = format!(
            "# Rendered by stackproof.\n\
             global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\n  external_labels:\n    cluster: {cluster:?}\n    {rl}: {replica:?}\n\
             scrape_configs:\n  - job_name: stackproof-exporter\n    honor_timestamps: true\n    static_configs:\n      - targets: [{target:?}]\n",
            cluster = self.cluster,
            rl = self.replica_label,
            replica = self.replica,
            target = self.exporter_target,
        );
        base + &alerting
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
    use super::*;
    use crate::client::objstore::S3Credentials;

    #[test]
    fn prometheus_config_carries_external_labels_and_interval() {
        let c = PrometheusConfig {
            cluster: "stackproof".into(),
            replica_label: "replica".into(),
            replica: "1".into(),
            scrape_interval: Duration::from_secs(1),
            exporter_target: "127.0.0.1:4000".into(),
            alerting: None,
        };
        let y = c.render();
        assert!(y.contains("scrape_interval: 1s"), "{y}");
        assert!(
            y.contains("cluster: \"stackproof\"\n    replica: \"1\""),
            "{y}"
        );
        assert!(y.contains("targets: [\"127.0.0.1:4000\"]"), "{y}");
    }

    #[test]
    fn block_durations_are_equal_and_addresses_are_loopback() {
        let a = prometheus_args(Path::new("/c"), Path::new("/d"), 9, Duration::from_secs(30));
        assert!(a.contains(&"--storage.tsdb.min-block-duration=30s".to_owned()));
        assert!(a.contains(&"--storage.tsdb.max-block-duration=30s".to_owned()));
        assert!(a.contains(&"--web.listen-address=127.0.0.1:9".to_owned()));
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
