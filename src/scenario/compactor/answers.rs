//! What Thanos Query answers for the backfilled cluster at each
//! resolution, and whether that is what was written.

use super::Backfilled;
use super::store_wait::{wait_loaded, wait_queryable};
use crate::check::compaction::res_name;
use crate::check::dedup::single_series;
use crate::check::gaps::fmt_time;
use crate::client::prom::{PromClient, QueryOptions, Series};
use crate::data::backfill::{Backfill, COUNTER, GAUGE, STEP_MS};
use crate::platform::Platform;
use crate::scenario::ScenarioReport;

/// How many minutes `series` covers, how many it holds twice, its longest
/// hole: one line for the report.
pub(super) fn coverage(plan: &Backfill, series: &Series) -> String {
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
pub(super) async fn online_baseline(p: &dyn Platform, b: &Backfilled) -> String {
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

/// `max_source_resolution` for a resolution in ms.
pub(super) fn res_name_param(res: i64) -> &'static str {
    if res == 0 { "0s" } else { res_name(res) }
}

/// Both backfilled series at raw resolution, deduplicated, over the whole
/// range.
pub(super) async fn raw_series(
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
pub(super) async fn aggregates_match(
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
pub(super) struct DayAnswers {
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) increase: f64,
}

/// What is wrong with a day's answers, given the raw samples of that day
/// (`day`) and how much the counter really grew (`grew`): sums, minima and
/// maxima of whole numbers must be exact; `increase()` extrapolates, so it
/// may stray by `tolerance`.
pub(super) fn judge_day(day: &[f64], grew: f64, tolerance: f64, got: &DayAnswers) -> Vec<String> {
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
pub(super) async fn scalar(
    query: &PromClient,
    q: &str,
    at: i64,
    opts: &QueryOptions,
) -> Result<f64, String> {
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
