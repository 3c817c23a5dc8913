//! `object_storage_outage`: the object store is down for longer than a block
//! cut; scraping goes on, every block cut meanwhile reaches the bucket once
//! it is back, and the deduplicated view over the whole window has no gap.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::ScenarioReport;
use super::blocks_in_bucket::{by_replica, read_blocks, wait_blocks};
use super::ha_dedup::check_dedup_view;
use crate::check::gaps::fmt_time;
use crate::client::objstore::Objstore;
use crate::client::prom::PromClient;
use crate::data::exporter::now_ms;
use crate::eventually::{Eventually, Probe, hold_for};
use crate::platform::Platform;

/// The scenario id.
pub const ID: &str = "object_storage_outage";

/// Check names.
pub mod checks {
    pub const CUT_DURING: &str =
        "every replica cut at least one block while the object store was down";
    pub const UPLOADED_AFTER: &str =
        "every block cut during the outage reached the bucket after it came back";
}

/// Blocks each replica's Prometheus has cut so far (its own counter).
async fn compactions(p: &dyn Platform) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for url in &p.endpoints().prometheus {
        let v = PromClient::new(url)
            .own_metric("prometheus_tsdb_compactions_total", &[])
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0.0);
        out.push(v);
    }
    Ok(out)
}

/// Stops the object store for `outage`, starts it again and checks.
pub async fn run(p: &mut dyn Platform, outage: Duration, wait: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new(ID);
    if let Err(e) = run_inner(p, outage, wait, &mut report).await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    report
}

async fn run_inner(
    p: &mut dyn Platform,
    outage: Duration,
    wait: Duration,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let shape = p.shape().clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let replicas: Vec<String> = (0..shape.replicas).map(|i| i.to_string()).collect();
    // Uploads work before the fault.
    wait_blocks(&store, &shape.replica_label, &replicas, 0, wait).await?;
    let before: BTreeSet<String> = read_blocks(&store)
        .await?
        .0
        .into_iter()
        .map(|b| b.layout.ulid)
        .collect();
    let cut_before = compactions(p).await?;

    let stopped_at = now_ms();
    eprintln!(
        "object_storage_outage: object store down for {}s",
        outage.as_secs()
    );
    p.stop_object_storage().await.map_err(|e| e.to_string())?;
    hold_for("the object store down", outage, || Ok(())).await?;
    let cut_during: Vec<f64> = compactions(p)
        .await?
        .iter()
        .zip(&cut_before)
        .map(|(a, b)| a - b)
        .collect();
    let t = Instant::now();
    let restart = Instant::now();
    let restarted_at = now_ms();
    p.start_object_storage().await.map_err(|e| e.to_string())?;
    report.fact(
        "object store down",
        format!("{} → {}", fmt_time(stopped_at), fmt_time(restarted_at)),
    );
    report.fact(
        "blocks cut during the outage (per replica)",
        format!("{cut_during:?}"),
    );
    report.check(
        checks::CUT_DURING,
        t,
        if cut_during.iter().all(|c| *c >= 1.0) {
            Ok(())
        } else {
            Err(format!(
                "blocks cut per replica during the {}s outage: {cut_during:?}: the outage did not span a block cut",
                outage.as_secs()
            ))
        },
    );

    let t = Instant::now();
    let label = shape.replica_label.clone();
    let uploaded = Eventually::new("the blocks cut during the outage in the bucket", wait)
        .max_delay(Duration::from_secs(2))
        .until(|| async {
            let blocks = match read_blocks(&store).await {
                Ok((b, _)) => b,
                Err(e) => return Probe::NotYet(e),
            };
            let fresh: Vec<_> = blocks
                .into_iter()
                .filter(|b| !before.contains(&b.layout.ulid) && b.meta.max_time <= restarted_at)
                .collect();
            let by = by_replica(&fresh, &label);
            let short: Vec<String> = cut_during
                .iter()
                .enumerate()
                .filter(|(i, n)| (by.get(&i.to_string()).map_or(0, Vec::len) as f64) < **n)
                .map(|(i, n)| {
                    format!(
                        "replica {i}: {} of {n}",
                        by.get(&i.to_string()).map_or(0, Vec::len)
                    )
                })
                .collect();
            if short.is_empty() {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!(
                    "blocks uploaded since the outage: {}",
                    short.join(", ")
                ))
            }
        })
        .await
        .map_err(|e| e.to_string());
    if uploaded.is_ok() {
        report.fact(
            "recovery (object store back → every block uploaded)",
            format!("{:.1}s", restart.elapsed().as_secs_f64()),
        );
    }
    report.check(checks::UPLOADED_AFTER, t, uploaded);

    let end = now_ms();
    let query = p.endpoints().query.clone();
    check_dedup_view(
        report,
        &query,
        &label,
        shape.scrape_interval,
        stopped_at - 5000,
        end,
    )
    .await;
    Ok(())
}
