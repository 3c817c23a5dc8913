//! `history_from_bucket`: with both replicas' local data gone, Thanos Query
//! over the store gateway alone returns the exact old samples.

use std::time::{Duration, Instant};

use super::blocks_in_bucket::{Block, wait_blocks};
use super::served::{samples_by_block, served_like_prometheus};
use super::{FactValue, ScenarioReport};
use crate::check::served::Samples;
use crate::client::objstore::Objstore;
use crate::client::prom::PromClient;
use crate::platform::{ExtraQuery, Platform, Stores};

/// The scenario id.
pub const ID: &str = "history_from_bucket";

/// Check names, shared with the negative twin.
pub mod checks {
    pub const SERVED: &str =
        "with local data removed, every uploaded range is served exactly from the bucket";
}

/// Removes both replicas' data after their blocks are uploaded, checks the
/// store gateway answers for the uploaded range, then brings the replicas
/// back (empty) so later scenarios have a running stack.
pub async fn run(p: &mut dyn Platform, wait: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new(ID);
    let Some((blocks, before)) = remove_local_data(p, wait, &mut report).await else {
        return report;
    };
    let t = Instant::now();
    let outcome = served_like_prometheus(p, &blocks, Some(&before), Stores::GatewayOnly).await;
    report.check(checks::SERVED, t, outcome);
    restore(p, &mut report).await;
    report
}

/// Waits for blocks from every replica, notes the uploaded range and what
/// Prometheus holds for it, kills the replicas and deletes their data.
/// None when that failed (recorded).
async fn remove_local_data(
    p: &mut dyn Platform,
    wait: Duration,
    report: &mut ScenarioReport,
) -> Option<(Vec<Block>, Samples)> {
    let shape = p.shape().clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let replicas = shape.replica_ids();
    let t = Instant::now();
    // Only blocks Prometheus still holds can be compared with what it
    // holds: a replica whose data was removed before (an earlier run of
    // this scenario or its twin on the same stack) starts again at its
    // lowest timestamp, and the blocks before it are the bucket's alone.
    let mut holds_since = 0.0f64;
    for url in &p.endpoints().prometheus {
        match PromClient::new(url)
            .own_metric("prometheus_tsdb_lowest_timestamp", &[])
            .await
        {
            Ok(v) => holds_since = holds_since.max(v.unwrap_or(0.0)),
            Err(e) => {
                report.check(
                    "blocks uploaded before the data is removed",
                    t,
                    Err(e.to_string()),
                );
                return None;
            }
        }
    }
    let since = holds_since as i64;
    let blocks = match wait_blocks(&store, &shape.replica_label, &replicas, since, wait).await {
        Ok(b) => b,
        Err(e) => {
            report.check("blocks uploaded before the data is removed", t, Err(e));
            return None;
        }
    };
    let min = blocks.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
    let max = blocks.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
    report.fact(
        "uploaded range",
        FactValue::Period {
            from_ms: min,
            to_ms: max,
        },
    );
    report.fact("blocks", blocks.len());
    let label = shape.replica_label.clone();
    let before = match p
        .start_extra_query(ExtraQuery {
            replica_labels: vec![label.clone()],
            stores: Stores::SidecarsOnly,
        })
        .await
    {
        Ok(url) => match samples_by_block(&url, &blocks, &label).await {
            (s, None) => Ok(s),
            (_, Some(e)) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let before = match before {
        Ok(b) => b,
        Err(e) => {
            report.check("read the uploaded range from Prometheus first", t, Err(e));
            return None;
        }
    };
    for i in 0..shape.replicas {
        if let Err(e) = p.remove_replica_data(i).await {
            report.check("remove the replicas' local data", t, Err(e.to_string()));
            return None;
        }
    }
    Some((blocks, before))
}

async fn restore(p: &mut dyn Platform, report: &mut ScenarioReport) {
    for i in 0..p.shape().replicas {
        if let Err(e) = p.restart_replica(i).await {
            report.check(
                "bring the replicas back",
                Instant::now(),
                Err(e.to_string()),
            );
        }
    }
}

/// Negative twin: with local data removed, the uploaded range read through
/// a Thanos Query without the store gateway (over the replicas, back and
/// empty), by the scenario's own check: the range is named missing.
pub async fn twin_without_store_gateway(p: &mut dyn Platform, wait: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new("history_from_bucket/twin: no store gateway");
    let Some((blocks, before)) = remove_local_data(p, wait, &mut report).await else {
        return report;
    };
    restore(p, &mut report).await;
    let t = Instant::now();
    let outcome = served_like_prometheus(p, &blocks, Some(&before), Stores::SidecarsOnly).await;
    report.check(checks::SERVED, t, outcome);
    report
}
