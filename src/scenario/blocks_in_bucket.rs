//! `blocks_in_bucket`: every block a replica's Prometheus cuts reaches the
//! bucket through its sidecar, complete and correctly labelled, and the store
//! gateway alone serves its samples exactly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::served::served_like_prometheus;
use super::{FactValue, ScenarioReport};
use crate::check::blocks::{
    BlockLayout, BlockMeta, check_sidecar_block, layouts, upload_count_mismatches,
};
use crate::client::objstore::Objstore;
use crate::client::prom::PromClient;
use crate::data::exporter::now_ms;
use crate::eventually::{Eventually, Probe};
use crate::platform::{Platform, Stores};

/// The scenario id.
pub const ID: &str = "blocks_in_bucket";

/// Check names, shared with the negative twin.
pub mod checks {
    pub const EVERY_REPLICA: &str = "every replica uploaded at least one block";
    pub const LAYOUT: &str =
        "each block is complete: meta.json, index, chunks; labels, source and time range right";
    pub const COUNTS: &str = "blocks in the bucket match the sidecars' upload counters";
    pub const FROM_STORE: &str =
        "the store gateway alone returns every block's samples, equal to the known function";
}

/// A complete block: its layout and parsed `meta.json`.
#[derive(Debug, Clone)]
pub struct Block {
    pub layout: BlockLayout,
    pub meta: BlockMeta,
}

/// The sidecars' blocks in the bucket whose `meta.json` is there (a block
/// without it is an upload in progress), plus the layouts of the partial
/// ones. Blocks the `compactor` scenario backfilled share the bucket and
/// are left out.
pub async fn read_blocks(store: &Objstore) -> Result<(Vec<Block>, Vec<BlockLayout>), String> {
    let (mut done, partial) = read_all_blocks(store).await?;
    done.retain(|b| !crate::data::backfill::is_backfilled(&b.meta));
    Ok((done, partial))
}

/// Every complete block in the bucket, whoever wrote it, plus the layouts
/// of the partial ones.
pub async fn read_all_blocks(store: &Objstore) -> Result<(Vec<Block>, Vec<BlockLayout>), String> {
    let objects = store.list("").await.map_err(|e| e.to_string())?;
    let mut done = Vec::new();
    let mut partial = Vec::new();
    for layout in layouts(&objects) {
        if !layout.has_meta {
            partial.push(layout);
            continue;
        }
        let bytes = store
            .get(&format!("{}/meta.json", layout.ulid))
            .await
            .map_err(|e| e.to_string())?;
        let meta = BlockMeta::parse(&bytes).map_err(|e| format!("{}: {e}", layout.ulid))?;
        done.push(Block { layout, meta });
    }
    Ok((done, partial))
}

/// Blocks per value of `replica_label`.
pub fn by_replica<'a>(
    blocks: &'a [Block],
    replica_label: &str,
) -> BTreeMap<String, Vec<&'a Block>> {
    let mut m: BTreeMap<String, Vec<&Block>> = BTreeMap::new();
    for b in blocks {
        if let Some(r) = b.meta.label(replica_label) {
            m.entry(r.to_owned()).or_default().push(b);
        }
    }
    m
}

/// Waits until every replica in `replicas` has at least one complete
/// block in the bucket; on timeout the error says which ones never did.
pub async fn wait_blocks(
    store: &Objstore,
    replica_label: &str,
    replicas: &[String],
    since_ms: i64,
    timeout: Duration,
) -> Result<Vec<Block>, String> {
    Eventually::new(
        format!(
            "a block from each of replicas {replicas:?} in bucket '{}'",
            store.target().bucket
        ),
        timeout,
    )
    .max_delay(Duration::from_secs(2))
    .until(|| async {
        match read_blocks(store).await {
            Ok((blocks, partial)) => {
                let fresh: Vec<Block> = blocks
                    .into_iter()
                    .filter(|b| b.meta.max_time > since_ms)
                    .collect();
                let by = by_replica(&fresh, replica_label);
                let missing: Vec<&String> =
                    replicas.iter().filter(|r| !by.contains_key(*r)).collect();
                if missing.is_empty() {
                    Probe::Ready(fresh)
                } else {
                    Probe::NotYet(format!(
                        "{} complete block(s), {} partial; none yet from replicas {missing:?}",
                        fresh.len(),
                        partial.len()
                    ))
                }
            }
            Err(e) => Probe::NotYet(e),
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// Runs the scenario with a bound on the wait for blocks.
pub async fn run(p: &mut dyn Platform, wait: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new(ID);
    let shape = p.shape().clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let replicas = shape.replica_ids();
    let started = now_ms();
    let t = Instant::now();
    let blocks = match wait_blocks(&store, &shape.replica_label, &replicas, 0, wait).await {
        Ok(b) => {
            report.fact(
                "first blocks seen after",
                FactValue::Seconds {
                    secs: t.elapsed().as_secs_f64(),
                    decimals: 0,
                },
            );
            report.check(checks::EVERY_REPLICA, t, Ok(()));
            b
        }
        Err(e) => {
            let mut msg = format!("no block uploaded in {}s: {e}", wait.as_secs());
            for c in p
                .components()
                .iter()
                .filter(|c| c.name.starts_with("sidecar"))
            {
                if let Some(line) = last_error_line(&c.log) {
                    msg.push_str(&format!("\n{} says: {line}", c.name));
                }
            }
            report.check(checks::EVERY_REPLICA, t, Err(msg));
            return report;
        }
    };
    // Window: blocks hold samples from the stack's start to now.
    let window_start = blocks
        .iter()
        .map(|b| b.meta.min_time)
        .min()
        .unwrap_or(started);
    let window = (window_start.min(started), now_ms());
    let t = Instant::now();
    let problems: Vec<String> = blocks
        .iter()
        .filter_map(|b| {
            check_sidecar_block(
                &b.layout,
                &b.meta,
                &shape.cluster,
                &shape.replica_label,
                window,
            )
            .err()
        })
        .collect();
    report.check(
        checks::LAYOUT,
        t,
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        },
    );
    report.fact("blocks in the bucket", blocks.len());
    let bytes: u64 = blocks.iter().map(|b| b.layout.bytes).sum();
    let series_ms: f64 = blocks
        .iter()
        .map(|b| b.meta.stats.num_series as f64 * (b.meta.max_time - b.meta.min_time) as f64)
        .sum();
    if series_ms > 0.0 {
        report.fact(
            "bucket bytes per series-hour",
            FactValue::Number {
                value: bytes as f64 / (series_ms / 3_600_000.0),
                decimals: 0,
            },
        );
    }

    let t = Instant::now();
    report.check(
        checks::COUNTS,
        t,
        check_counts(p, &store, &shape.replica_label).await,
    );

    let t = Instant::now();
    let outcome = served_like_prometheus(p, &blocks, None, Stores::GatewayOnly).await;
    report.check(checks::FROM_STORE, t, outcome);
    report
}

/// The sidecars' `thanos_shipper_uploads_total` equals the blocks in the
/// bucket per replica (polled: an upload may be between the two reads).
async fn check_counts(
    p: &dyn Platform,
    store: &Objstore,
    replica_label: &str,
) -> Result<(), String> {
    let sidecars = p.endpoints().sidecars.clone();
    Eventually::new(
        "sidecar upload counters to match the bucket",
        Duration::from_secs(40),
    )
    .until(|| async {
        let (blocks, _) = match read_blocks(store).await {
            Ok(b) => b,
            Err(e) => return Probe::NotYet(e),
        };
        let by = by_replica(&blocks, replica_label);
        let mut uploaded = Vec::new();
        for url in &sidecars {
            match PromClient::new(url)
                .own_metric("thanos_shipper_uploads_total", &[])
                .await
            {
                Ok(v) => uploaded.push(v.unwrap_or(0.0) as usize),
                Err(e) => return Probe::NotYet(e.to_string()),
            }
        }
        let in_bucket: Vec<usize> = (0..sidecars.len())
            .map(|i| by.get(&i.to_string()).map_or(0, Vec::len))
            .collect();
        let diffs = upload_count_mismatches(&uploaded, &in_bucket);
        if diffs.is_empty() {
            Probe::Ready(())
        } else {
            Probe::NotYet(diffs.join("; "))
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// The last warning or error line of a component's log.
pub fn last_error_line(log: &std::path::Path) -> Option<String> {
    let tail = crate::process::tail_lines(log, 400);
    tail.lines()
        .rev()
        .find(|l| l.contains("level=warn") || l.contains("level=error"))
        .map(|l| l.chars().take(400).collect())
}

/// Negative twin: replica 1's sidecar has wrong credentials; the harness
/// must report "no block uploaded in N s" with the sidecar's error line.
pub async fn twin_wrong_credentials(p: &mut dyn Platform, wait: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new("blocks_in_bucket/twin: wrong credentials");
    let shape = p.shape().clone();
    let t = Instant::now();
    if let Err(e) = p.sidecar_credentials(1, true).await {
        report.check(
            "break replica 1's sidecar credentials",
            t,
            Err(e.to_string()),
        );
        return report;
    }
    let since = now_ms();
    let store = Objstore::new(p.endpoints().s3.clone());
    let outcome =
        match wait_blocks(&store, &shape.replica_label, &["1".to_owned()], since, wait).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let mut msg = format!("no block uploaded in {}s by replica 1: {e}", wait.as_secs());
                let comps = p.components();
                if let Some(line) = comps
                    .iter()
                    .find(|c| c.name == "sidecar-1")
                    .and_then(|c| last_error_line(&c.log))
                {
                    msg.push_str(&format!("\nsidecar-1 says: {line}"));
                }
                Err(msg)
            }
        };
    report.check(checks::EVERY_REPLICA, t, outcome);
    if let Err(e) = p.sidecar_credentials(1, false).await {
        report.check(
            "restore replica 1's sidecar credentials",
            Instant::now(),
            Err(e.to_string()),
        );
    }
    report
}
