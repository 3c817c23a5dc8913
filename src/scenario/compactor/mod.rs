//! `compactor`: eleven days of known data from two replicas, backfilled
//! into the bucket; one pass of the Thanos compactor must merge the
//! replicas' overlapping blocks into one without the replica label and
//! downsample it to 5m and 1h; queries at each resolution must give the
//! aggregates of what was written.

mod answers;
mod store_wait;
#[cfg(test)]
mod tests;
mod upload;

use std::time::{Duration, Instant};

use super::{FactValue, ScenarioReport};
use crate::check::compaction::{RES_1H, RES_5M, deduplicated_block, describe, downsampled_block};
use crate::check::dedup::{switch_over_bound, values_follow};
use crate::check::gaps::find_gaps;
use crate::client::objstore::Objstore;
use crate::client::prom::PromClient;
use crate::data::backfill::{Backfill, COUNTER, GAUGE, STEP_MS, increase_tolerance};
use crate::platform::{CompactRun, Platform, PlatformError};
use answers::{aggregates_match, coverage, online_baseline, raw_series};
use store_wait::{wait_loaded, wait_queryable};
use upload::{backfill, cluster_blocks};

/// The scenario id.
pub const ID: &str = "compactor";

/// Check names, shared with the negative twin.
pub mod checks {
    pub const BACKFILL: &str = "backfill eleven days from two replicas into the bucket";
    pub const COMPACT: &str = "one compactor pass runs to completion";
    pub const DEDUPLICATED: &str =
        "the replicas' overlapping blocks became one deduplicated block without the replica label";
    pub const DOWNSAMPLED: &str = "downsampled blocks at 5m (300000) and 1h (3600000) exist";
    pub const RAW: &str = "the deduplicated raw samples equal the known function, with no hole longer than the switch-over bound";
    pub const AT_5M: &str = "at 5m resolution each day's sum, min, max equal the raw samples' and increase() the known growth";
    pub const AT_1H: &str = "at 1h resolution each day's sum, min, max equal the raw samples' and increase() the known growth";
}

/// How Thanos deduplicates Prometheus HA pairs offline.
const DEDUP_FUNC: &str = "penalty";

/// How long the store gateway may take to load the new blocks (it syncs
/// every 3 s on the local platform).
const LOAD_WAIT: Duration = Duration::from_secs(60);

/// What was backfilled, for the checks.
struct Backfilled {
    plan: Backfill,
    cluster: String,
    uploads: Vec<String>,
}

/// Why a scenario stopped before its checks.
enum Stop {
    Skip(String),
    Failed,
}

/// Backfills, compacts once, and checks the bucket and the answers.
pub async fn run(p: &mut dyn Platform) -> ScenarioReport {
    run_with(p, ID, "", DEDUP_FUNC, true).await
}

/// Negative twin: the compactor merges the replicas with its default
/// (naive) deduplication, meant for identical copies: both replicas'
/// samples end up in one series, and the harness must say so.
pub async fn twin_naive_dedup(p: &mut dyn Platform) -> ScenarioReport {
    run_with(
        p,
        "compactor/twin: naive deduplication",
        "naive-",
        "",
        false,
    )
    .await
}

/// Backfills under cluster label `<prefix><tag><ms>`, measures Thanos
/// Query's own deduplication first when `baseline`, compacts with
/// `--deduplication.func=<func>`, and checks.
async fn run_with(
    p: &mut dyn Platform,
    id: &str,
    tag: &str,
    func: &str,
    baseline: bool,
) -> ScenarioReport {
    let mut report = ScenarioReport::new(id);
    let b = match backfill(p, &mut report, tag).await {
        Ok(b) => b,
        Err(Stop::Skip(why)) => return ScenarioReport::skipped(id, &why),
        Err(Stop::Failed) => return report,
    };
    let run = CompactRun {
        only: ("cluster".into(), b.cluster.clone()),
        replica_labels: vec![p.shape().replica_label.clone()],
        dedup_func: func.into(),
    };
    if baseline {
        let online = online_baseline(p, &b).await;
        report.fact(
            "raw samples, deduplicated by Thanos Query before compaction",
            online,
        );
    }
    let t = Instant::now();
    match p.compact_once(&run).await {
        Ok(pass) => {
            report.fact("compactor pass", FactValue::seconds(pass.duration));
            report.check(checks::COMPACT, t, Ok(()));
        }
        Err(e @ PlatformError::Unsupported { .. }) => {
            return ScenarioReport::skipped(id, &e.to_string());
        }
        Err(e) => {
            report.check(checks::COMPACT, t, Err(e.to_string()));
            return report;
        }
    }
    verify(p, &b, &mut report).await;
    report
}

/// Negative twin: the same backfill, no compactor: the harness must say no
/// downsampled block exists and the replicas were not merged.
pub async fn twin_without_compactor(p: &mut dyn Platform) -> ScenarioReport {
    let mut report = ScenarioReport::new("compactor/twin: compactor not run");
    let b = match backfill(p, &mut report, "twin-").await {
        Ok(b) => b,
        Err(Stop::Skip(why)) => return ScenarioReport::skipped(&report.id, &why),
        Err(Stop::Failed) => return report,
    };
    let label = p.shape().replica_label.clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let t = Instant::now();
    match cluster_blocks(&store, &b.cluster).await {
        Ok(blocks) => {
            let dedup = deduplicated_block(&blocks, &b.uploads, &label).map(|_| ());
            report.check(checks::DEDUPLICATED, t, dedup);
            let down = downsampled_block(&blocks, &b.uploads, RES_5M).map(|_| ());
            report.check(checks::DOWNSAMPLED, t, down);
        }
        Err(e) => report.check(checks::DOWNSAMPLED, t, Err(e)),
    }
    report
}

async fn verify(p: &mut dyn Platform, b: &Backfilled, report: &mut ScenarioReport) {
    let shape = p.shape().clone();
    let store = Objstore::new(p.endpoints().s3.clone());
    let t = Instant::now();
    let blocks = match cluster_blocks(&store, &b.cluster).await {
        Ok(bl) => bl,
        Err(e) => {
            report.check(checks::DEDUPLICATED, t, Err(e));
            return;
        }
    };
    report.fact("blocks after the pass", describe(&blocks));
    let merged = deduplicated_block(&blocks, &b.uploads, &shape.replica_label).cloned();
    report.check(
        checks::DEDUPLICATED,
        t,
        merged.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let sources = merged
        .as_ref()
        .map_or_else(|_| b.uploads.clone(), |m| m.compaction.sources.clone());
    let down: Result<Vec<String>, String> = [RES_5M, RES_1H]
        .iter()
        .map(|&r| downsampled_block(&blocks, &sources, r).map(|m| m.ulid.clone()))
        .collect();
    report.check(
        checks::DOWNSAMPLED,
        t,
        down.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let (Ok(merged), Ok(down)) = (merged, down) else {
        return;
    };

    // Queries must read the new blocks, not the ones they replaced.
    let mut expect = down;
    expect.push(merged.ulid.clone());
    let t = Instant::now();
    if let Err(e) = wait_loaded(p, &b.cluster, &expect).await {
        report.check(checks::RAW, t, Err(e));
        return;
    }
    // Thanos Query learns a store's label sets and time range on its own
    // refresh, after the store has loaded the blocks: until then it skips
    // the store for `cluster=<new>` and answers with nothing.
    let query = PromClient::new(&p.endpoints().query);
    if let Err(e) = wait_queryable(&query, b).await {
        report.check(checks::RAW, t, Err(e));
        return;
    }
    report.fact(
        "new blocks queryable through Thanos Query after",
        FactValue::seconds(t.elapsed()),
    );

    let bound = switch_over_bound(Duration::from_millis(STEP_MS as u64));
    let t = Instant::now();
    let raw = raw_series(&query, b, &shape.replica_label).await;
    let raw_check = raw.as_ref().map_err(Clone::clone).and_then(|(g, c)| {
        values_follow(g, GAUGE, |t| b.plan.gauge_at(t))?;
        values_follow(c, COUNTER, |t| b.plan.counter_at(t))?;
        // Offline penalty deduplication may keep a second sample in a
        // minute where it switches replicas at a chunk boundary; keeping
        // both replicas' samples doubles the series.
        let minutes = b.plan.minutes() as usize;
        if g.samples.len() > minutes {
            return Err(format!(
                "deduplicated {GAUGE} holds {} samples for {minutes} minutes in which each \
                 replica took one: the compactor kept both replicas' samples instead of \
                 deduplicating them; Prometheus replicas need --deduplication.func={DEDUP_FUNC}",
                g.samples.len()
            ));
        }
        let window = Some((b.plan.start_ms, b.plan.end_ms() - STEP_MS));
        let ts: Vec<i64> = g.samples.iter().map(|s| s.0).collect();
        let holes = find_gaps(&ts, bound.as_millis() as i64, window);
        match holes.first() {
            None => Ok(()),
            Some(h) => Err(format!(
                "deduplicated {GAUGE} has {} hole(s) longer than the {:.0}s switch-over bound; first: {h}",
                holes.len(),
                bound.as_secs_f64()
            )),
        }
    });
    report.check(checks::RAW, t, raw_check);
    let Ok((gauge, _)) = raw else {
        return;
    };
    report.fact(
        "raw samples after offline deduplication",
        coverage(&b.plan, &gauge),
    );
    let tolerance = increase_tolerance(bound);
    for (res, name) in [(RES_5M, checks::AT_5M), (RES_1H, checks::AT_1H)] {
        let t = Instant::now();
        let outcome = aggregates_match(&query, b, &gauge, res, tolerance, report).await;
        report.check(name, t, outcome);
    }
}
