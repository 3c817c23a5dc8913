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
use crate::platform::{CompactRun, Need, Platform, PlatformError};

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
            report.fact(
                "compactor pass",
                format!("{:.1}s", pass.duration.as_secs_f64()),
            );
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

/// Writes the plan's OpenMetrics per replica, makes a block of each with
/// promtool and uploads it with the replica's labels under a cluster label
/// of its own, so nothing else in the bucket is touched.
async fn backfill(
    p: &mut dyn Platform,
    report: &mut ScenarioReport,
    tag: &str,
) -> Result<Backfilled, Stop> {
    if let Err(why) = p.provides(Need::CompactOnce) {
        return Err(Stop::Skip(format!(
            "{why}; or run it locally: stackproof run --platform local --scenario {ID}"
        )));
    }
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
        format!("{:.1}s", t.elapsed().as_secs_f64()),
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

/// How many minutes `series` covers, how many it holds twice, its longest
/// hole: one line for the report.
fn coverage(plan: &Backfill, series: &Series) -> String {
    let mut covered: Vec<i64> = series
        .samples
        .iter()
        .map(|(t, _)| (t - plan.start_ms).div_euclid(STEP_MS))
        .collect();
    covered.dedup();
    let twice = series.samples.len() - covered.len();
    let longest = series
        .samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or(0);
    format!(
        "{} samples; {} of {} minutes covered ({} that a replica had are missing), \
         {twice} minutes with a sample from each replica, longest hole {:.0}s",
        series.samples.len(),
        covered.len(),
        plan.minutes(),
        plan.minutes() as usize - covered.len(),
        longest as f64 / 1000.0
    )
}

/// Before the compactor runs: what Thanos Query's own (online)
/// deduplication makes of the same uploaded blocks, for comparison with
/// the compactor's offline result. Best effort: a fact, not a check.
async fn online_baseline(p: &dyn Platform, b: &Backfilled) -> String {
    let query = PromClient::new(&p.endpoints().query);
    let label = p.shape().replica_label.clone();
    let got = async {
        wait_loaded(p, &b.cluster, &b.uploads).await?;
        wait_queryable(&query, b).await?;
        raw_series(&query, b, &label).await
    }
    .await;
    match got {
        Ok((g, _)) => coverage(&b.plan, &g),
        Err(e) => format!("not measured: {e}"),
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

/// Waits until Thanos Query answers for the backfilled cluster at every
/// resolution.
async fn wait_queryable(query: &PromClient, b: &Backfilled) -> Result<(), String> {
    let at = b.plan.day_ends()[0] - 1;
    let q = format!("count_over_time({GAUGE}{{cluster=\"{}\"}}[1d])", b.cluster);
    Eventually::new(
        format!(
            "Thanos Query at {} to answer {q} at raw, 5m and 1h",
            query.base()
        ),
        LOAD_WAIT,
    )
    .until(|| async {
        for res in [0, RES_5M, RES_1H] {
            let opts = QueryOptions {
                max_source_resolution: Some(res_name_param(res).into()),
                ..QueryOptions::strict_dedup()
            };
            if let Err(e) = scalar(query, &q, at, &opts).await {
                return Probe::NotYet(format!("at {}: {e}", res_name(res)));
            }
        }
        Probe::Ready(())
    })
    .await
    .map_err(|e| e.to_string())
}

/// `max_source_resolution` for a resolution in ms.
fn res_name_param(res: i64) -> &'static str {
    if res == 0 { "0s" } else { res_name(res) }
}

/// Both backfilled series at raw resolution, deduplicated, over the whole
/// range.
async fn raw_series(
    query: &PromClient,
    b: &Backfilled,
    replica_label: &str,
) -> Result<(Series, Series), String> {
    let opts = QueryOptions {
        max_source_resolution: Some(res_name_param(0).into()),
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
        max_source_resolution: Some(res_name_param(res).into()),
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
        let mut answers = DayAnswers::default();
        for (agg, slot) in [
            ("sum", &mut answers.sum),
            ("min", &mut answers.min),
            ("max", &mut answers.max),
        ] {
            let q = format!("{agg}_over_time({}[1d])", sel(GAUGE));
            *slot = scalar(query, &q, at, &opts).await?;
        }
        let q = format!("increase({}[1d])", sel(COUNTER));
        answers.increase = scalar(query, &q, at, &opts).await?;
        let grew = b.plan.true_increase(end - 86_400_000, end);
        wrong.extend(
            judge_day(&day, grew, tolerance, &answers)
                .into_iter()
                .map(|w| format!("{} day ending {}: {w}", res_name(res), fmt_time(end))),
        );
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

/// One day's answers at one resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct DayAnswers {
    sum: f64,
    min: f64,
    max: f64,
    increase: f64,
}

/// What is wrong with a day's answers, given the raw samples of that day
/// (`day`) and how much the counter really grew (`grew`): sums, minima and
/// maxima of whole numbers must be exact; `increase()` extrapolates, so it
/// may stray by `tolerance`.
fn judge_day(day: &[f64], grew: f64, tolerance: f64, got: &DayAnswers) -> Vec<String> {
    let mut wrong = Vec::new();
    let expected = [
        ("sum", day.iter().sum::<f64>(), got.sum),
        (
            "min",
            day.iter().copied().fold(f64::INFINITY, f64::min),
            got.min,
        ),
        (
            "max",
            day.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            got.max,
        ),
    ];
    for (agg, want, got) in expected {
        if got != want {
            wrong.push(format!(
                "{agg}_over_time = {got}, the {} raw samples give {want}",
                day.len()
            ));
        }
    }
    if (got.increase - grew).abs() > tolerance {
        wrong.push(format!(
            "increase = {}, the counter grew by {grew} (±{tolerance})",
            got.increase
        ));
    }
    wrong
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn where_the_compactor_cannot_run_once_it_skips_before_writing() {
        let mut p = crate::scenario::bare::Bare::new();
        for r in [run(&mut p).await, twin_without_compactor(&mut p).await] {
            assert_eq!(r.checks.len(), 1, "{r:#?}");
            match &r.checks[0].outcome {
                crate::scenario::Outcome::Skipped(why) => {
                    assert!(
                        why.contains("the bare platform provides no CompactOnce"),
                        "{why}"
                    );
                    assert!(
                        why.contains("stackproof run --platform local --scenario compactor"),
                        "{why}"
                    );
                }
                other => panic!("expected a skip, got {other:?}"),
            }
        }
    }

    fn day() -> Vec<f64> {
        (0..1440).map(|k| (k % 60) as f64).collect()
    }

    fn right() -> DayAnswers {
        DayAnswers {
            sum: 42_480.0,
            min: 0.0,
            max: 59.0,
            increase: 1439.7,
        }
    }

    #[test]
    fn right_answers_pass() {
        assert!(judge_day(&day(), 1440.0, 4.0, &right()).is_empty());
    }

    #[test]
    fn a_wrong_aggregate_is_named_with_both_values() {
        let got = DayAnswers {
            sum: 42_481.0,
            ..right()
        };
        let w = judge_day(&day(), 1440.0, 4.0, &got);
        assert_eq!(
            w,
            vec!["sum_over_time = 42481, the 1440 raw samples give 42480".to_owned()]
        );
    }

    #[test]
    fn a_counter_reset_taken_for_a_drop_fails_the_increase() {
        // A reset read as a drop: the day's growth minus the value before it.
        let got = DayAnswers {
            increase: 1439.0 - 3599.0,
            ..right()
        };
        let w = judge_day(&day(), 1439.0, 4.0, &got);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("increase = -2160, the counter grew by 1439"),
            "{w:?}"
        );
    }
}
