//! `heap_profile`: each Prometheus' and Thanos component's heap profile
//! (`/debug/pprof/heap`, what the seed looks at with `go tool pprof`)
//! saved into the report, with the in-use bytes and top allocation sites
//! read from the profile itself, per component and per head series.

use std::time::{Duration, Instant};

use super::{Artifact, FactValue, ScenarioReport};
use crate::client::http::HttpApi;
use crate::client::pprof::heap_summary;
use crate::client::prom::PromClient;
use crate::platform::Platform;

/// The scenario id.
pub const ID: &str = "heap_profile";

/// Check names.
pub mod checks {
    pub const CAPTURED: &str =
        "a heap profile captured and decoded from every Prometheus and Thanos component";
}

/// How many allocation sites the report names per component.
const TOP_SITES: usize = 5;

/// Captures every target's heap profile; see the module doc.
pub async fn run(p: &mut dyn Platform) -> ScenarioReport {
    let targets = match p.heap_profile_targets() {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => return ScenarioReport::skipped(ID, "no Prometheus or Thanos component runs"),
        Err(why) => return ScenarioReport::skipped(ID, &why),
    };
    let mut report = ScenarioReport::new(ID);
    capture(&targets, &mut report).await;
    report
}

/// Twin: the object store, which serves no Go heap profile, profiled beside
/// the others. Must fail [`checks::CAPTURED`] naming it.
pub async fn twin_component_without_profile(p: &mut dyn Platform) -> ScenarioReport {
    let mut targets = match p.heap_profile_targets() {
        Ok(t) => t,
        Err(why) => return ScenarioReport::skipped(ID, &why),
    };
    targets.push(("s3".into(), p.endpoints().s3.url()));
    let mut report = ScenarioReport::new(ID);
    capture(&targets, &mut report).await;
    report
}

/// Fetches, decodes and reports each `(name, url)`'s heap profile.
async fn capture(targets: &[(String, String)], report: &mut ScenarioReport) {
    let t = Instant::now();
    // Head series: each Prometheus' own; Thanos components serve what all
    // replicas hold, so theirs is per head series of the whole stack.
    let mut own_series = Vec::new();
    for (name, url) in targets.iter().filter(|(n, _)| n.starts_with("prometheus-")) {
        let n = PromClient::new(url)
            .own_metric("prometheus_tsdb_head_series", &[])
            .await
            .ok()
            .flatten();
        own_series.push((name.clone(), n));
    }
    let stack_series: f64 = own_series.iter().filter_map(|(_, n)| *n).sum();
    let mut problems = Vec::new();
    let mut svg_absent = None;
    for (name, url) in targets {
        let bytes = match HttpApi::new(url).get_bytes("/debug/pprof/heap").await {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let heap = match heap_summary(&bytes, TOP_SITES) {
            Ok(h) => h,
            Err(e) => {
                problems.push(format!("{name}: {url}/debug/pprof/heap: {e}"));
                continue;
            }
        };
        let series = own_series
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Some(stack_series), |(_, s)| *s)
            .filter(|s| *s > 0.0);
        report.fact(
            &format!("{name}: heap in use"),
            FactValue::Bytes(heap.inuse_bytes),
        );
        report.fact(
            &format!("{name}: heap in use per head series"),
            series.map_or("no head series".into(), |s| {
                format!("{:.0} B ({s:.0} series)", heap.inuse_bytes as f64 / s)
            }),
        );
        let sites: Vec<String> = heap
            .top
            .iter()
            .map(|(f, b)| format!("{f} {}", FactValue::Bytes(*b)))
            .collect();
        report.fact(&format!("{name}: top allocation sites"), sites.join(", "));
        match render_svg(&bytes).await {
            Ok(svg) => report.artifacts.push(Artifact {
                name: format!("{name}-heap.svg"),
                bytes: svg,
            }),
            Err(why) => svg_absent = Some(why),
        }
        report.artifacts.push(Artifact {
            name: format!("{name}-heap.pb.gz"),
            bytes,
        });
    }
    if let Some(why) = svg_absent {
        report.fact("heap.svg", format!("not rendered: {why}"));
    }
    let result = if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    };
    report.check(checks::CAPTURED, t, result);
}

/// `go tool pprof -svg` of the profile, where Go and Graphviz are present;
/// otherwise why not.
async fn render_svg(profile: &[u8]) -> Result<Vec<u8>, String> {
    let go = crate::versions::which("go").ok_or("`go` is not on PATH")?;
    crate::versions::which("dot")
        .ok_or("Graphviz `dot` is not on PATH (apt-get install graphviz)")?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let file = dir.path().join("heap.pb.gz");
    std::fs::write(&file, profile).map_err(|e| format!("write {}: {e}", file.display()))?;
    let run = tokio::process::Command::new(go)
        .args(["tool", "pprof", "-svg"])
        .arg(&file)
        .kill_on_drop(true)
        .output();
    // Rendering one profile takes about a second; a minute means stuck.
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| "go tool pprof -svg did not finish in 60 s".to_owned())?
        .map_err(|e| format!("go tool pprof: {e}"))?;
    if out.status.success() && out.stdout.starts_with(b"<?xml") {
        Ok(out.stdout)
    } else {
        Err(format!(
            "go tool pprof -svg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
