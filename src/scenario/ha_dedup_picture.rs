//! `ha_dedup`'s kill-window picture: the samples are read back from Thanos
//! Query (the deduplicated series and each replica's own) and drawn by
//! [`crate::report::plot`]. A picture that cannot be made is a fact in the
//! report, not a failed check: it proves nothing the checks do not.

use crate::client::prom::{PromClient, QueryOptions};
use crate::data::exporter::KnownSeries;
use crate::report::plot::{KillWindow, kill_window_svg, switches};
use crate::scenario::{Artifact, ScenarioReport};

/// The picture's file name in the report (`<report dir>/ha_dedup/…`).
pub const FILE: &str = "kill-window.svg";

/// Where and when the kill happened.
pub(crate) struct Window<'a> {
    pub query: &'a str,
    pub replica_label: &'a str,
    pub replicas: usize,
    pub start: i64,
    pub end: i64,
    pub killed_at: i64,
    pub restarted_at: i64,
    pub bound_ms: i64,
}

/// Reads the gauge's samples over the window, draws them and attaches the
/// SVG to `report`, with the switch-overs as a fact.
pub(crate) async fn attach(report: &mut ScenarioReport, w: &Window<'_>) {
    match read(w).await.and_then(|k| {
        let svg = kill_window_svg(&k).map_err(|e| e.to_string())?;
        Ok((k, svg))
    }) {
        Ok((k, svg)) => {
            let list: Vec<String> = switches(&k)
                .iter()
                .map(|s| {
                    format!(
                        "replica {} → {} at {:+.1}s ({:.1}s without a sample)",
                        s.from_replica,
                        s.to_replica,
                        (s.to_ms - w.killed_at) as f64 / 1000.0,
                        (s.to_ms - s.from_ms) as f64 / 1000.0
                    )
                })
                .collect();
            report.fact(
                "deduplication switch-overs",
                if list.is_empty() {
                    "none: the deduplicated series kept to one replica".to_owned()
                } else {
                    list.join("; ")
                },
            );
            report.artifacts.push(Artifact {
                name: FILE.into(),
                bytes: svg.into_bytes(),
            });
        }
        Err(e) => report.fact("kill-window picture", format!("not drawn: {e}")),
    }
}

async fn read(w: &Window<'_>) -> Result<KillWindow, String> {
    let client = PromClient::new(w.query);
    let metric = KnownSeries::Gauge.metric();
    let timestamps = |r: crate::client::prom::QueryResult, what: &str| match r.series.as_slice() {
        [s] => Ok(s.samples.iter().map(|(t, _)| *t).collect::<Vec<i64>>()),
        other => Err(format!("{what}: {} series where 1 expected", other.len())),
    };
    let dedup = client
        .raw_samples(metric, w.start, w.end, &QueryOptions::strict_dedup())
        .await
        .map_err(|e| format!("query {metric}: {e}"))?;
    let dedup = timestamps(dedup, "deduplicated")?;
    let mut replicas = Vec::new();
    for i in 0..w.replicas {
        let selector = format!("{metric}{{{}=\"{i}\"}}", w.replica_label);
        let r = client
            .raw_samples(&selector, w.start, w.end, &QueryOptions::strict_raw())
            .await
            .map_err(|e| format!("query {selector}: {e}"))?;
        replicas.push(timestamps(r, &selector)?);
    }
    Ok(KillWindow {
        metric: metric.to_owned(),
        replicas,
        dedup,
        killed_at: w.killed_at,
        restarted_at: w.restarted_at,
        bound_ms: w.bound_ms,
    })
}
