//! `compactor`: eleven days of known data from two replicas, backfilled
//! into the bucket; one pass of the Thanos compactor must merge the
//! replicas' overlapping blocks into one without the replica label and
//! downsample it to 5m and 1h; queries at each resolution must give the
//! aggregates of what was written.

use std::time::{Duration, Instant};

use super::ScenarioReport;
use super::blocks_in_bucket::read_all_blocks;
use crate::check::blocks::BlockMeta;
use crate::check::compaction::{
    RES_1H, RES_5M, deduplicated_block, describe, downsampled_block, parse_loaded, res_name,
};
use crate::check::dedup::{single_series, switch_over_bound, values_follow};
use crate::check::gaps::{find_gaps, fmt_time};
use crate::client::objstore::Objstore;
use crate::client::prom::{PromClient, QueryOptions, Series};
use crate::data::backfill::{
    self, Backfill, CLUSTER_PREFIX, COUNTER, GAUGE, STEP_MS, increase_tolerance,
};
use crate::data::exporter::now_ms;
use crate::eventually::{Eventually, Probe};
use crate::platform::{CompactRun, Platform, PlatformError};

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
    let mut report = ScenarioReport::new(ID);
    let b = match backfill(p, &mut report, "").await {
        Ok(b) => b,
        Err(Stop::Skip(why)) => return ScenarioReport::skipped(ID, &why),
        Err(Stop::Failed) => return report,
    };
    let run = CompactRun {
        only: ("cluster".into(), b.cluster.clone()),
        replica_labels: vec![p.shape().replica_label.clone()],
        dedup_func: DEDUP_FUNC.into(),
    };
    let t = Instant::now();
    match p.compact_once(&run).await {
        Ok(pass) => {
            report.fact(
                "compactor pass",
                format!("{:.1}s", pass.duration.as_secs_f64()),
            );
            report.check(checks::COMPACT, t, Ok(()));
        }
        Err(e @ PlatformError::Unsupported { .. }) => {
            return ScenarioReport::skipped(ID, &e.to_string());
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

/// Writes the plan's OpenMetrics per replica, makes a block of each with
/// promtool and uploads it with the replica's labels under a cluster label
/// of its own, so nothing else in the bucket is touched.
async fn backfill(
    p: &mut dyn Platform,
    report: &mut ScenarioReport,
    tag: &str,
) -> Result<Backfilled, Stop> {
    let promtool = crate::versions::Versions::load_default()
        .and_then(|v| v.binary("promtool"))
        .map_err(|e| Stop::Skip(format!("needs promtool to make blocks: {e}")))?;
    let shape = p.shape().clone();
    let plan = Backfill::standard(now_ms());
    let cluster = format!("{CLUSTER_PREFIX}{tag}{}", now_ms());
    let store = Objstore::new(p.endpoints().s3.clone());
    let t = Instant::now();
    let result = async {
        let dir = tempfile::Builder::new()
            .prefix("stackproof-backfill-")
            .tempdir()
            .map_err(|e| format!("create a directory for the blocks: {e}"))?;
        let mut uploads = Vec::new();
        for r in 0..plan.replicas {
            let block = backfill::create_block(
                &promtool,
                &dir.path().join(r.to_string()),
                &plan.openmetrics(r),
            )
            .map_err(|e| e.to_string())?;
            let labels = vec![
                ("cluster".to_owned(), cluster.clone()),
                (shape.replica_label.clone(), r.to_string()),
            ];
            uploads.push(
                backfill::upload_block(&store, &block, &labels)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok::<_, String>(uploads)
    }
    .await;
    report.check(
        checks::BACKFILL,
        t,
        result.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let uploads = result.map_err(|_| Stop::Failed)?;
    report.fact(
        "backfilled",
        format!(
            "{} blocks, {} → {}, one sample a minute, cluster={cluster}",
            uploads.len(),
            fmt_time(plan.start_ms),
            fmt_time(plan.end_ms())
        ),
    );
    Ok(Backfilled {
        plan,
        cluster,
        uploads,
    })
}

/// The complete blocks in the bucket labelled `cluster=<cluster>`.
async fn cluster_blocks(store: &Objstore, cluster: &str) -> Result<Vec<BlockMeta>, String> {
    let (blocks, _) = read_all_blocks(store).await?;
    Ok(blocks
        .into_iter()
        .map(|b| b.meta)
        .filter(|m| m.label("cluster") == Some(cluster))
        .collect())
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
    report.fact(
        "store gateway loaded the new blocks after",
        format!("{:.1}s", t.elapsed().as_secs_f64()),
    );

    let query = PromClient::new(&p.endpoints().query);
    let bound = switch_over_bound(Duration::from_millis(STEP_MS as u64));
    let t = Instant::now();
    let raw = raw_series(&query, b, &shape.replica_label).await;
    let raw_check = raw.as_ref().map_err(Clone::clone).and_then(|(g, c)| {
        values_follow(g, GAUGE, |t| b.plan.gauge_at(t))?;
        values_follow(c, COUNTER, |t| b.plan.counter_at(t))?;
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
    let lost = b.plan.minutes() as usize - gauge.samples.len();
    let longest = gauge
        .samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or(0);
    report.fact(
        "raw samples after offline deduplication",
        format!(
            "{} of {} minutes ({lost} lost at replica switches), longest hole {:.0}s",
            gauge.samples.len(),
            b.plan.minutes(),
            longest as f64 / 1000.0
        ),
    );
    let tolerance = increase_tolerance(bound);
    for (res, name) in [(RES_5M, checks::AT_5M), (RES_1H, checks::AT_1H)] {
        let t = Instant::now();
        let outcome = aggregates_match(&query, b, &gauge, res, tolerance, report).await;
        report.check(name, t, outcome);
    }
}

/// Waits until the store gateway has loaded every block in `expect` and
/// none of the cluster's others (the ones they replaced).
async fn wait_loaded(p: &dyn Platform, cluster: &str, expect: &[String]) -> Result<(), String> {
    let Some(url) = p.endpoints().store.clone() else {
        return Err(
            "no store gateway runs on this stack: downsampled blocks cannot be queried".into(),
        );
    };
    let client = PromClient::new(&url);
    Eventually::new(
        format!("the store gateway at {url} to load blocks {expect:?} of cluster={cluster} and nothing else of it"),
        LOAD_WAIT,
    )
    .until(|| async {
        let body = match client.get_text("/api/v1/blocks?view=loaded").await {
            Ok(b) => b,
            Err(e) => return Probe::NotYet(e.to_string()),
        };
        match parse_loaded(&body) {
            Ok(all) => {
                let mut have: Vec<String> = all
                    .iter()
                    .filter(|m| m.label("cluster") == Some(cluster))
                    .map(|m| m.ulid.clone())
                    .collect();
                have.sort();
                let mut want = expect.to_vec();
                want.sort();
                if have == want {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("loaded {have:?}"))
                }
            }
            Err(e) => Probe::NotYet(e),
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// Both backfilled series at raw resolution, deduplicated, over the whole
/// range.
async fn raw_series(
    query: &PromClient,
    b: &Backfilled,
    replica_label: &str,
) -> Result<(Series, Series), String> {
    let opts = QueryOptions {
        max_source_resolution: Some("0s".into()),
        ..QueryOptions::strict_dedup()
    };
    let mut out = Vec::new();
    for metric in [GAUGE, COUNTER] {
        let sel = format!("{metric}{{cluster=\"{}\"}}", b.cluster);
        let r = query
            .raw_samples(&sel, b.plan.start_ms, b.plan.end_ms(), &opts)
            .await
            .map_err(|e| format!("query {sel} at raw resolution: {e}"))?;
        out.push(single_series(&r, metric, replica_label)?.clone());
    }
    let c = out.pop().expect("two");
    let g = out.pop().expect("two");
    Ok((g, c))
}

/// For each whole day, `sum/min/max_over_time` of the gauge at `res` equal
/// those of the raw samples in that day, and `increase()` of the counter is
/// within `tolerance` of the known growth.
///
/// Evaluated 1 ms before midnight: a downsampled window `[w, w + res)` is
/// stored at `w + res - 1 ms`, so `(D - 1d - 1ms, D - 1ms]` holds exactly
/// the aggregates of the raw samples in `[D - 1d, D)` at every resolution.
async fn aggregates_match(
    query: &PromClient,
    b: &Backfilled,
    raw: &Series,
    res: i64,
    tolerance: f64,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let opts = QueryOptions {
        max_source_resolution: Some(res_name(res).into()),
        ..QueryOptions::strict_dedup()
    };
    let sel = |m: &str| format!("{m}{{cluster=\"{}\"}}", b.cluster);
    let mut wrong = Vec::new();
    let mut count_fact = None;
    for end in b.plan.day_ends() {
        let at = end - 1;
        let day: Vec<f64> = raw
            .samples
            .iter()
            .filter(|(t, _)| (end - 86_400_000..end).contains(t))
            .map(|s| s.1)
            .collect();
        let expected = [
            ("sum", day.iter().sum::<f64>()),
            ("min", day.iter().copied().fold(f64::INFINITY, f64::min)),
            ("max", day.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ];
        for (agg, want) in expected {
            let q = format!("{agg}_over_time({}[1d])", sel(GAUGE));
            match scalar(query, &q, at, &opts).await {
                Ok(got) if got == want => {}
                Ok(got) => wrong.push(format!(
                    "{} day ending {}: {agg}_over_time = {got}, the raw samples give {want}",
                    res_name(res),
                    fmt_time(end)
                )),
                Err(e) => return Err(e),
            }
        }
        let want = b.plan.true_increase(end - 86_400_000, end);
        let q = format!("increase({}[1d])", sel(COUNTER));
        match scalar(query, &q, at, &opts).await {
            Ok(got) if (got - want).abs() <= tolerance => {}
            Ok(got) => wrong.push(format!(
                "{} day ending {}: increase = {got}, the counter grew by {want} (±{tolerance})",
                res_name(res),
                fmt_time(end)
            )),
            Err(e) => return Err(e),
        }
        if count_fact.is_none() {
            let q = format!("count_over_time({}[1d])", sel(GAUGE));
            count_fact = Some(scalar(query, &q, at, &opts).await.map(|c| (c, day.len())));
        }
    }
    if let Some(Ok((c, n))) = count_fact {
        report.fact(
            &format!("count_over_time over a day at {}", res_name(res)),
            format!(
                "{c} (it counts the {} aggregates, not the {n} raw samples they hold)",
                res_name(res)
            ),
        );
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} answers differ: {}",
            wrong.len(),
            b.plan.days * 4,
            wrong.iter().take(4).cloned().collect::<Vec<_>>().join("; ")
        ))
    }
}

/// The single value of an instant query.
async fn scalar(query: &PromClient, q: &str, at: i64, opts: &QueryOptions) -> Result<f64, String> {
    let r = query
        .query(q, at, opts)
        .await
        .map_err(|e| format!("{q}: {e}"))?;
    match r.series.as_slice() {
        [one] => one
            .samples
            .first()
            .map(|s| s.1)
            .ok_or_else(|| format!("{q} at {}: a series without a value", fmt_time(at))),
        other => Err(format!(
            "{q} at {}: {} series where 1 expected",
            fmt_time(at),
            other.len()
        )),
    }
}
