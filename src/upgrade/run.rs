//! The rule and query diff on real binaries: the catalogue's probe data
//! backfilled once (by Debian's promtool 2.42, whose blocks every
//! Prometheus of a pair reads) and opened by A and by B, each on its own
//! copy; the probe page scraped by both; every probe evaluated on both at
//! the same timestamps, and every flag tried on both binaries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::catalogue::{At, Catalogue, Probe, UserProbe, fixtures_dir, probe_openmetrics};
use super::diff::Recorded;
use super::pair::{Pair, Prom};
use crate::client::prom::{PromClient, PromError, QueryOptions};
use crate::data::exporter::{Exporter, now_ms};
use crate::eventually::{Eventually, Probe as Poll};
use crate::platform::local::Managed;
use crate::process::ProcessSpec;
use crate::stack::config::prometheus_args;
use crate::stack::prometheus::PrometheusConfig;

/// Why the diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Something it needs is not installed: one line, with the command.
    #[error("{0}")]
    Missing(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalogue(#[from] super::catalogue::CatalogueError),
    #[error(transparent)]
    Backfill(#[from] crate::data::backfill::BackfillError),
    /// Boxed: a start failure carries the salvaged logs.
    #[error(transparent)]
    Platform(Box<crate::platform::PlatformError>),
    #[error(transparent)]
    Wait(#[from] crate::eventually::WaitError),
}

impl From<crate::platform::PlatformError> for DiffError {
    fn from(e: crate::platform::PlatformError) -> Self {
        DiffError::Platform(Box::new(e))
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DiffError {
    let context = context.into();
    move |source| DiffError::Io { context, source }
}

/// What the diff run recorded.
#[derive(Debug, Clone)]
pub struct DiffRun {
    /// Every probe with both answers.
    pub recorded: Vec<Recorded>,
    /// Warnings in B's log (not in A's), by message.
    pub b_warnings: Vec<String>,
    /// A's and B's memory holding the same data.
    pub memory: [Memory; 2],
}

/// One side's memory, from its own `/metrics`, once both hold the same
/// data (the probe block and the probe page's scrapes).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    /// `prometheus_tsdb_head_series`.
    pub head_series: f64,
    /// `go_memstats_heap_inuse_bytes`.
    pub heap_inuse: f64,
    /// `process_resident_memory_bytes`.
    pub rss: f64,
}

async fn memory(client: &PromClient) -> Memory {
    let m = |name: &'static str| async move {
        client
            .own_metric(name, &[])
            .await
            .ok()
            .flatten()
            .unwrap_or(0.0)
    };
    Memory {
        head_series: m("prometheus_tsdb_head_series").await,
        heap_inuse: m("go_memstats_heap_inuse_bytes").await,
        rss: m("process_resident_memory_bytes").await,
    }
}

/// The diff's directory: registered for the signal cleanup while it
/// lives, removed on drop, kept (and said so) under `STACKPROOF_KEEP=1`.
struct DiffDir(Option<tempfile::TempDir>);

impl DiffDir {
    fn new() -> Result<Self, DiffError> {
        let dir = tempfile::Builder::new()
            .prefix("stackproof-diff-")
            .tempdir()
            .map_err(io("create the diff's temp dir"))?;
        crate::process::register_dir(dir.path());
        Ok(Self(Some(dir)))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().expect("alive").path()
    }
}

impl Drop for DiffDir {
    fn drop(&mut self) {
        let Some(dir) = self.0.take() else { return };
        crate::process::unregister_dir(dir.path());
        if crate::process::keep_requested() {
            eprintln!("STACKPROOF_KEEP=1: keeping {}", dir.keep().display());
        }
    }
}

/// One side, running.
struct Side {
    server: Managed,
    client: PromClient,
}

/// Runs the diff of `pair` over the catalogue's probes and `user`'s.
pub async fn run_diff(
    pair: &Pair,
    catalogue: &Catalogue,
    user: &[UserProbe],
) -> Result<DiffRun, DiffError> {
    let promtool = crate::versions::Versions::load_default()
        .and_then(|v| v.binary("promtool_legacy"))
        .map_err(|e| {
            DiffError::Missing(format!(
                "the upgrade diff needs Debian's promtool 2.42: run scripts/install promtool_legacy ({})",
                e.to_string().lines().next().unwrap_or_default()
            ))
        })?;
    let dir = DiffDir::new()?;
    let root = dir.path();
    // A whole hour about two hours ago: inside every retention, before
    // anything the probe page's scrapes write.
    let start_s = (now_ms() / 1000 - 7200) / 3600 * 3600;
    let om_path = fixtures_dir().join("probes.om");
    let om =
        std::fs::read_to_string(&om_path).map_err(io(format!("read {}", om_path.display())))?;
    let block = crate::data::backfill::create_block(
        &promtool,
        &root.join("backfill"),
        &probe_openmetrics(&om, start_s),
    )?;
    let page_path = fixtures_dir().join("scrape.prom");
    let page =
        std::fs::read_to_string(&page_path).map_err(io(format!("read {}", page_path.display())))?;
    let exporter = Exporter::with_page(&page).map_err(io("serve the probe page"))?;
    let mut a = start_side(&pair.a, "a", root, &block, &exporter).await?;
    let mut b = start_side(&pair.b, "b", root, &block, &exporter).await?;
    for side in [&a, &b] {
        wait_scraped(&side.client).await?;
    }
    let scraped_at = now_ms();
    let mut recorded = Vec::new();
    let probes = catalogue
        .changes
        .iter()
        .flat_map(|c| c.probes.iter().map(move |p| (c.id.clone(), p.clone())))
        .chain(user.iter().flat_map(user_instants));
    for (origin, probe) in probes {
        let at = match probe.at {
            At::Window => (start_s + probe.at_s) * 1000,
            At::Scraped => scraped_at,
        };
        let (ra, rb) = match &probe.flag {
            Some(flag) => (
                try_flag(&pair.a.binary, flag),
                try_flag(&pair.b.binary, flag),
            ),
            None => (
                evaluate(&a.client, &probe, at).await,
                evaluate(&b.client, &probe, at).await,
            ),
        };
        recorded.push(Recorded {
            origin,
            text: probe.text().to_owned(),
            a: ra,
            b: rb,
        });
    }
    let memory = [memory(&a.client).await, memory(&b.client).await];
    let b_warnings = new_warnings(a.server.log(), b.server.log());
    a.server.kill();
    b.server.kill();
    Ok(DiffRun {
        recorded,
        b_warnings,
        memory,
    })
}

/// A user's probe at both instants the data has: the backfilled
/// window's end and the scrape.
fn user_instants(u: &UserProbe) -> [(String, Probe); 2] {
    let window = Probe {
        at: At::Window,
        at_s: WINDOW_END_S,
        ..u.probe.clone()
    };
    let scraped = Probe {
        at: At::Scraped,
        ..u.probe.clone()
    };
    [
        (format!("{} (at the probe window's end)", u.origin), window),
        (format!("{} (at the scrape)", u.origin), scraped),
    ]
}

/// The last sample of `probes.om`, in seconds from the window's start.
const WINDOW_END_S: i64 = 600;

async fn start_side(
    prom: &Prom,
    name: &str,
    root: &Path,
    block: &Path,
    exporter: &Exporter,
) -> Result<Side, DiffError> {
    let data = root.join(format!("data-{name}"));
    let ulid = block.file_name().unwrap_or_default();
    copy_dir(block, &data.join(ulid))?;
    let cfg = PrometheusConfig {
        cluster: "upgrade-diff".into(),
        replica_label: "side".into(),
        replica: name.into(),
        scrape_interval: Duration::from_secs(1),
        exporter_target: exporter.target(),
        alerting: None,
    };
    let cfg_file = root.join(format!("prometheus-{name}.yml"));
    crate::process::write_private(&cfg_file, &cfg.render())
        .map_err(io(format!("write {}", cfg_file.display())))?;
    let port = crate::ports::free_port().map_err(crate::platform::PlatformError::from)?;
    let url = format!("http://127.0.0.1:{port}");
    let args = prometheus_args(&cfg_file, &data, port, Duration::from_secs(7200));
    let mut server = Managed::new(
        ProcessSpec::new(format!("diff-{name}"), &prom.binary).args(args),
        &root.join("logs"),
        url.clone(),
    );
    std::fs::create_dir_all(root.join("logs")).map_err(io("create the diff's log dir"))?;
    server.spawn()?;
    server.wait_ready().await?;
    Ok(Side {
        server,
        client: PromClient::new(url),
    })
}

async fn wait_scraped(client: &PromClient) -> Result<(), DiffError> {
    Eventually::new(
        format!("{} to scrape the probe page", client.base()),
        Duration::from_secs(60),
    )
    .until(|| async move {
        match client
            .query("probe_hist_count", now_ms(), &QueryOptions::default())
            .await
        {
            Ok(r) if !r.series.is_empty() => Poll::Ready(()),
            Ok(_) => Poll::NotYet("no probe_hist_count yet".into()),
            Err(e) => Poll::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// The raw answer of `probe` at `at_ms`, as [`Recorded`] keeps it.
async fn evaluate(client: &PromClient, probe: &Probe, at_ms: i64) -> String {
    let q = probe.query.as_deref().unwrap_or_default();
    let path = format!(
        "/api/v1/query?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", q)
            .append_pair("time", &format!("{:.3}", at_ms as f64 / 1000.0))
            .finish()
    );
    match client.get_text(&path).await {
        Ok(body) => format!("ok:{body}"),
        Err(PromError::Status { body, .. }) => format!("error:{}", api_error(&body)),
        Err(e) => format!("error:{e}"),
    }
}

/// The `error` field of an API error body, else the body.
fn api_error(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

/// Whether `binary` starts with `flag`: it parses its flags before
/// `--version` acts, so a refused flag fails at once.
fn try_flag(binary: &Path, flag: &str) -> String {
    match std::process::Command::new(binary)
        .args([flag, "--version"])
        .output()
    {
        Ok(o) if o.status.success() => "ok:".into(),
        Ok(o) => format!(
            "error:{}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("refused")
        ),
        Err(e) => format!("error:cannot run {}: {e}", binary.display()),
    }
}

/// Warning messages in `b`'s log that `a`'s does not have.
fn new_warnings(a: &Path, b: &Path) -> Vec<String> {
    let msgs = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("level=warn") || l.contains("level=WARN"))
            .map(|l| {
                l.split("msg=")
                    .nth(1)
                    .map_or(l, |m| m.split(" err=").next().unwrap_or(m))
                    .to_owned()
            })
            .collect()
    };
    let old = msgs(a);
    let mut new: Vec<String> = msgs(b).into_iter().filter(|m| !old.contains(m)).collect();
    new.dedup();
    new
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), DiffError> {
    std::fs::create_dir_all(to).map_err(io(format!("create {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("read {}", from.display())))? {
        let entry = entry.map_err(io(format!("read {}", from.display())))?;
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(io(format!("copy {}", entry.path().display())))?;
        }
    }
    Ok(())
}
