//! `object_storage_outage`: the object store is down for longer than a block
//! cut (and shown to be: it refuses the harness, and every sidecar counts
//! failed bucket operations); scraping goes on, every block cut meanwhile
//! reaches the bucket once it is back, and the deduplicated view over the
//! whole window has no gap.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::blocks_in_bucket::{by_replica, read_blocks, wait_blocks};
use super::ha_dedup::check_dedup_view;
use super::timing;
use super::{FactValue, ScenarioReport};
use crate::check::outage::{
    BUCKET_FAILURES, OutageEvidence, every_replica_cut, short_uploads, store_was_down,
};
use crate::client::objstore::Objstore;
use crate::client::prom::PromClient;
use crate::data::exporter::now_ms;
use crate::eventually::{Eventually, Probe, Seen, hold_for};
use crate::platform::Platform;

/// The scenario id.
pub const ID: &str = "object_storage_outage";

/// Check names.
pub mod checks {
    pub const STORE_DOWN: &str = "the object store was down: it refused the harness, and every sidecar counted failed bucket operations";
    pub const CUT_DURING: &str =
        "every replica cut at least one block while the object store was down";
    pub const UPLOADED_AFTER: &str =
        "every block cut during the outage reached the bucket after it came back";
}

/// The sum of `metric` on each of `urls`' own `/metrics`, in order.
async fn own_counters(urls: &[String], metric: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for url in urls {
        let v = PromClient::new(url)
            .own_metric(metric, &[])
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0.0);
        out.push(v);
    }
    Ok(out)
}

/// Blocks each replica's Prometheus has cut so far (its own counter).
async fn compactions(p: &dyn Platform) -> Result<Vec<f64>, String> {
    own_counters(
        &p.endpoints().prometheus,
        "prometheus_tsdb_compactions_total",
    )
    .await
}

/// How the outage is caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The platform stops the object store and starts it again.
    Really,
    /// Nothing is stopped: the negative twin, a stand-in for a broken
    /// `stop_object_storage`.
    NoOp,
}

/// Stops the object store for `outage`, starts it again and checks.
pub async fn run(p: &mut dyn Platform, outage: Duration, wait: Duration) -> ScenarioReport {
    run_as(p, ID, outage, wait, Stop::Really).await
}

/// Negative twin: the scenario with a stop that does nothing (the store
/// never goes down). Every later check passes, as it would on a platform
/// whose stop is broken; [`checks::STORE_DOWN`] must fail, saying so.
pub async fn twin_store_not_down(
    p: &mut dyn Platform,
    outage: Duration,
    wait: Duration,
) -> ScenarioReport {
    run_as(
        p,
        "object_storage_outage/twin: store not down",
        outage,
        wait,
        Stop::NoOp,
    )
    .await
}

async fn run_as(
    p: &mut dyn Platform,
    id: &str,
    outage: Duration,
    wait: Duration,
    stop: Stop,
) -> ScenarioReport {
    let mut report = ScenarioReport::new(id);
    if let Err(e) = run_inner(p, outage, wait, stop, &mut report).await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    report
}

/// Failed bucket operations each sidecar counted since `before`, waiting
/// (bounded) until every one has counted one: the sidecars' own evidence
/// that the store refused them. On timeout, the last counts.
async fn sidecar_failures(p: &dyn Platform, before: &[f64]) -> Vec<f64> {
    let sidecars = p.endpoints().sidecars.clone();
    Eventually::new(
        format!("every sidecar to count a failed bucket operation ({BUCKET_FAILURES})"),
        timing::outage_seen(),
    )
    .max_delay(Duration::from_secs(2))
    .until_seen(|| async {
        match own_counters(&sidecars, BUCKET_FAILURES).await {
            Ok(now) => {
                let d: Vec<f64> = now.iter().zip(before).map(|(a, b)| a - b).collect();
                if d.iter().all(|n| *n >= 1.0) {
                    Seen::Ready(d)
                } else {
                    let why = format!("failures per replica since the stop: {d:?}");
                    Seen::NotYet(d, why)
                }
            }
            Err(e) => Seen::Nothing(e),
        }
    })
    .await
    .unwrap_or_else(|(last, _)| last.unwrap_or_else(|| vec![0.0; before.len()]))
}

async fn run_inner(
    p: &mut dyn Platform,
    outage: Duration,
    wait: Duration,
    stop: Stop,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let shape = p.shape().clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let replicas = shape.replica_ids();
    // Uploads work before the fault.
    wait_blocks(&store, &shape.replica_label, &replicas, 0, wait).await?;
    let before: BTreeSet<String> = read_blocks(&store)
        .await?
        .0
        .into_iter()
        .map(|b| b.layout.ulid)
        .collect();
    let cut_before = compactions(p).await?;
    let failures_before = own_counters(&p.endpoints().sidecars, BUCKET_FAILURES).await?;

    let t = Instant::now();
    let stopped_at = now_ms();
    eprintln!(
        "object_storage_outage: object store down for {}s",
        outage.as_secs()
    );
    if stop == Stop::Really {
        p.stop_object_storage().await.map_err(|e| e.to_string())?;
    }
    hold_for("the object store down", outage, || Ok(())).await?;
    // Was it down? The harness's own request late in the hold, then the
    // sidecars' own count (kept down, bounded, until each has one).
    let harness = store.head_bucket().await.map_err(|e| e.to_string());
    let sidecar_failures = sidecar_failures(p, &failures_before).await;
    let cut_during: Vec<f64> = compactions(p)
        .await?
        .iter()
        .zip(&cut_before)
        .map(|(a, b)| a - b)
        .collect();
    let evidence = OutageEvidence {
        held: t.elapsed(),
        harness,
        sidecar_failures,
    };
    let restart = Instant::now();
    let restarted_at = now_ms();
    if stop == Stop::Really {
        p.start_object_storage().await.map_err(|e| e.to_string())?;
    }
    report.fact(
        "object store down",
        FactValue::Period {
            from_ms: stopped_at,
            to_ms: restarted_at,
        },
    );
    report.fact(
        "failed bucket operations during the outage (per sidecar)",
        format!("{:?}", evidence.sidecar_failures),
    );
    report.check(checks::STORE_DOWN, t, store_was_down(&evidence));
    let t = Instant::now();
    report.fact(
        "blocks cut during the outage (per replica)",
        format!("{cut_during:?}"),
    );
    report.check(
        checks::CUT_DURING,
        t,
        every_replica_cut(&cut_during, evidence.held),
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
            let uploaded: Vec<usize> = (0..cut_during.len())
                .map(|i| by.get(&i.to_string()).map_or(0, Vec::len))
                .collect();
            let short = short_uploads(&cut_during, &uploaded);
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
            FactValue::seconds(restart.elapsed()),
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
