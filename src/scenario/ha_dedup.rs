//! `ha_dedup`: kill a Prometheus replica; the deduplicated view through
//! Thanos Query has no gap, while the killed replica's own series does.

use std::time::{Duration, Instant};

use super::{FactValue, ScenarioReport};
use crate::check::dedup::{single_series, switch_over_bound, values_match};
use crate::check::gaps::{find_gaps, outage_hole};
use crate::client::prom::{PromClient, QueryOptions};
use crate::data::exporter::{KnownSeries, now_ms};
use crate::eventually::hold_for;
use crate::platform::local::wait_replicas_in_query;
use crate::platform::{ExtraQuery, Platform};

/// The scenario id.
pub const ID: &str = "ha_dedup";

/// Check names, shared by the scenario and its negative twins.
pub mod checks {
    pub const ONE_SERIES: &str = "one deduplicated series per exporter series, no replica label";
    pub const NO_HOLE: &str =
        "deduplicated raw samples have no hole longer than the switch-over bound";
    pub const VALUES: &str = "deduplicated samples equal the known function";
    pub const KILLED_HOLE: &str = "the killed replica's own raw samples show the outage";
}

/// Timings of the scenario.
#[derive(Debug, Clone)]
pub struct Params {
    /// Data from both replicas before the fault.
    pub warm_up: Duration,
    /// How long the replica stays dead.
    pub outage: Duration,
    /// Data from both replicas after the restart.
    pub cool_down: Duration,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            warm_up: Duration::from_secs(5),
            outage: Duration::from_secs(30),
            cool_down: Duration::from_secs(5),
        }
    }
}

/// Kill replica 0, keep it down for `outage`, restart it, then check the
/// deduplicated view and replica 0's own series over the whole window.
pub async fn run(p: &mut dyn Platform, params: &Params) -> ScenarioReport {
    let mut report = ScenarioReport::new(ID);
    if let Err(e) = run_inner(p, params, &mut report).await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    report
}

async fn run_inner(
    p: &mut dyn Platform,
    params: &Params,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let shape = p.shape().clone();
    let query = p.endpoints().query.clone();
    let label = shape.replica_label.clone();
    let all = shape.replica_ids();
    let start = now_ms();
    wait_replicas_in_query(
        &query,
        &label,
        &all,
        start + params.warm_up.as_millis() as i64,
    )
    .await
    .map_err(|e| format!("before the fault: {e}"))?;

    let killed_at = now_ms();
    eprintln!(
        "ha_dedup: SIGKILL replica 0 for {}s",
        params.outage.as_secs()
    );
    p.kill_replica(0).await.map_err(|e| e.to_string())?;
    // The outage lasts until replica 1 alone has scraped for `outage`.
    let others: Vec<String> = all[1..].to_vec();
    wait_replicas_in_query(
        &query,
        &label,
        &others,
        killed_at + params.outage.as_millis() as i64,
    )
    .await
    .map_err(|e| format!("during the outage, the other replicas: {e}"))?;
    let restart_at = now_ms();
    p.restart_replica(0)
        .await
        .map_err(|e| format!("restart replica 0: {e}"))?;
    wait_replicas_in_query(
        &query,
        &label,
        &all,
        now_ms() + params.cool_down.as_millis() as i64,
    )
    .await
    .map_err(|e| format!("after the restart: {e}"))?;
    let end = now_ms();
    report.fact(
        "window",
        FactValue::Period {
            from_ms: start,
            to_ms: end,
        },
    );
    report.fact("replica 0 killed at", FactValue::Time(killed_at));
    report.fact("replica 0 restarted at", FactValue::Time(restart_at));

    check_dedup_view(report, &query, &label, shape.scrape_interval, start, end).await;
    check_killed_replica_hole(
        report,
        &query,
        &label,
        shape.scrape_interval,
        params.outage,
        start,
        end,
    )
    .await;
    let window = super::ha_dedup_picture::Window {
        query: &query,
        replica_label: &label,
        replicas: shape.replicas,
        start,
        end,
        killed_at,
        restarted_at: restart_at,
        bound_ms: switch_over_bound(shape.scrape_interval).as_millis() as i64,
    };
    super::ha_dedup_picture::attach(report, &window).await;
    Ok(())
}

/// The three checks of the deduplicated view over `[start, end]`, against
/// the Thanos Query at `query`.
pub async fn check_dedup_view(
    report: &mut ScenarioReport,
    query: &str,
    replica_label: &str,
    scrape_interval: Duration,
    start: i64,
    end: i64,
) {
    let client = PromClient::new(query);
    let bound = switch_over_bound(scrape_interval);
    report.fact("switch-over bound", FactValue::seconds(bound));
    let mut one = Ok(());
    let mut hole = Ok(());
    let mut values = Ok(());
    let t = Instant::now();
    for known in KnownSeries::ALL {
        let result = match client
            .raw_samples(known.metric(), start, end, &QueryOptions::strict_dedup())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                one = one.and(Err(format!("query {}: {e}", known.metric())));
                continue;
            }
        };
        let series = match single_series(&result, known.metric(), replica_label) {
            Ok(s) => s,
            Err(e) => {
                one = one.and(Err(e));
                continue;
            }
        };
        let ts: Vec<i64> = series.samples.iter().map(|(t, _)| *t).collect();
        let gaps = find_gaps(&ts, bound.as_millis() as i64, Some((start, end)));
        if !gaps.is_empty() {
            let list: Vec<String> = gaps.iter().map(ToString::to_string).collect();
            hole = hole.and(Err(format!(
                "deduplicated {} has {} hole(s) longer than the {:.1}s switch-over bound: {}",
                known.metric(),
                gaps.len(),
                bound.as_secs_f64(),
                list.join("; ")
            )));
        }
        values = values.and(values_match(series, known));
    }
    report.check(checks::ONE_SERIES, t, one);
    report.check(checks::NO_HOLE, t, hole);
    report.check(checks::VALUES, t, values);
}

async fn check_killed_replica_hole(
    report: &mut ScenarioReport,
    query: &str,
    replica_label: &str,
    scrape_interval: Duration,
    outage: Duration,
    start: i64,
    end: i64,
) {
    let t = Instant::now();
    let client = PromClient::new(query);
    let selector = format!("{}{{{replica_label}=\"0\"}}", KnownSeries::Gauge.metric());
    let result = client
        .raw_samples(&selector, start, end, &QueryOptions::strict_raw())
        .await;
    let outcome = match result {
        Err(e) => Err(format!("query {selector}: {e}")),
        Ok(r) => match r.series.as_slice() {
            [s] => {
                let ts: Vec<i64> = s.samples.iter().map(|(t, _)| *t).collect();
                let bound = switch_over_bound(scrape_interval).as_millis() as i64;
                outage_hole(&ts, bound, outage, &selector).map(|g| {
                    report.fact("replica 0 hole start", FactValue::Time(g.after_ms));
                    report.fact("replica 0 hole end", FactValue::Time(g.before_ms));
                    report.fact(
                        "replica 0 hole length",
                        FactValue::seconds_of_ms(g.len_ms(), 1),
                    );
                })
            }
            other => Err(format!(
                "{selector}: {} series where 1 expected",
                other.len()
            )),
        },
    };
    report.check(checks::KILLED_HOLE, t, outcome);
}

/// Negative twin: a Thanos Query without the replica label must be reported
/// as "2 series where 1 expected (replica=0, replica=1)".
pub async fn twin_without_replica_label(p: &mut dyn Platform) -> ScenarioReport {
    let mut report = ScenarioReport::new("ha_dedup/twin: query without replica label");
    let shape = p.shape().clone();
    let start = now_ms();
    let url = match p
        .start_extra_query(ExtraQuery {
            replica_labels: vec![],
            ..Default::default()
        })
        .await
    {
        Ok(u) => u,
        Err(e) => {
            report.check(
                "start a Thanos Query without replica label",
                Instant::now(),
                Err(e.to_string()),
            );
            return report;
        }
    };
    let end = now_ms();
    check_dedup_view(
        &mut report,
        &url,
        &shape.replica_label,
        shape.scrape_interval,
        start.min(end - 5000),
        end,
    )
    .await;
    report
}

/// Negative twin: every replica down for `outage` must be reported as a
/// hole in the deduplicated view, with its span.
pub async fn twin_all_replicas_down(p: &mut dyn Platform, outage: Duration) -> ScenarioReport {
    let mut report = ScenarioReport::new("ha_dedup/twin: every replica down");
    let shape = p.shape().clone();
    let query = p.endpoints().query.clone();
    let label = shape.replica_label.clone();
    let all = shape.replica_ids();
    let start = now_ms();
    let setup = async {
        wait_replicas_in_query(&query, &label, &all, start + 3000)
            .await
            .map_err(|e| e.to_string())?;
        for i in 0..shape.replicas {
            p.kill_replica(i).await.map_err(|e| e.to_string())?;
        }
        hold_for("every replica down", outage, || Ok(())).await?;
        for i in 0..shape.replicas {
            p.restart_replica(i).await.map_err(|e| e.to_string())?;
        }
        wait_replicas_in_query(&query, &label, &all, now_ms() + 3000)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(e) = setup.await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
        return report;
    }
    let end = now_ms();
    check_dedup_view(
        &mut report,
        &query,
        &label,
        shape.scrape_interval,
        start,
        end,
    )
    .await;
    report
}
