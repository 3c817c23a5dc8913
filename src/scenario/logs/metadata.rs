//! The metadata checks: labels, label values, series and index stats.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::checks;
use crate::client::loki::{Labels, LokiClient};
use crate::client::prom::sum_metric;
use crate::data::loggen::LogGen;
use crate::eventually::{Eventually, Probe};
use crate::scenario::ScenarioReport;

pub(super) async fn check_metadata(
    report: &mut ScenarioReport,
    client: &LokiClient,
    g: &LogGen,
    start: i64,
    end: i64,
) {
    let t = Instant::now();
    let mut problems = Vec::new();
    match client.labels(start, end).await {
        Ok(mut got) => {
            got.sort();
            if got != ["app", "job", "level", "run"] {
                problems.push(format!(
                    "labels: expected [app, job, level, run], got {got:?}"
                ));
            }
        }
        Err(e) => problems.push(format!("labels: {e}")),
    }
    let apps: Vec<String> = g.apps.iter().map(|a| a.name.clone()).collect();
    let mut levels = g.levels.clone();
    levels.sort();
    for (name, want) in [
        ("app", apps),
        ("level", levels),
        ("run", vec![g.run.clone()]),
    ] {
        match client
            .label_values(name, Some(&g.selector()), start, end)
            .await
        {
            Ok(mut got) => {
                got.sort();
                if got != want {
                    problems.push(format!(
                        "label values of {name}: expected {want:?}, got {got:?}"
                    ));
                }
            }
            Err(e) => problems.push(format!("label values of {name}: {e}")),
        }
    }
    report.check(
        checks::LABELS,
        t,
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        },
    );

    let t = Instant::now();
    let want: BTreeSet<Labels> = g
        .apps
        .iter()
        .flat_map(|a| g.levels.iter().map(|l| g.labels(&a.name, l)))
        .collect();
    let r = match client.series(&g.selector(), start, end).await {
        Ok(got) => {
            let got: BTreeSet<Labels> = got.into_iter().collect();
            if got == want {
                Ok(())
            } else {
                let missing: Vec<String> = want
                    .difference(&got)
                    .map(crate::client::loki::label_text)
                    .collect();
                let extra: Vec<String> = got
                    .difference(&want)
                    .map(crate::client::loki::label_text)
                    .collect();
                Err(format!("series: missing {missing:?}, unexpected {extra:?}"))
            }
        }
        Err(e) => Err(format!("series: {e}")),
    };
    report.check(checks::SERIES, t, r);
}

/// Index stats count flushed chunks only: flush, then wait (bounded) until
/// they count every stream and line of the run.
pub(super) async fn check_index_stats(
    report: &mut ScenarioReport,
    client: &LokiClient,
    g: &LogGen,
    lines: u64,
    start: i64,
    end: i64,
) {
    let t = Instant::now();
    if let Err(e) = client.flush().await {
        report.check(checks::INDEX_STATS, t, Err(format!("POST /flush: {e}")));
        return;
    }
    let streams = g.keys().len() as u64;
    let sel = g.selector();
    let r = Eventually::new(
        format!("index stats of {sel} to count {streams} streams and {lines} lines"),
        Duration::from_secs(90),
    )
    .max_delay(Duration::from_secs(1))
    .until(|| {
        let client = client.clone();
        let sel = sel.clone();
        async move {
            match client.index_stats(&sel, start, end).await {
                Ok(s) if s.streams == streams && s.entries == lines && s.chunks >= streams => {
                    Probe::Ready(s)
                }
                Ok(s) => {
                    let flushed = match client.metrics().await {
                        Ok(m) => {
                            sum_metric(&m, "loki_ingester_chunks_flushed_total", &[]).unwrap_or(0.0)
                        }
                        Err(_) => f64::NAN,
                    };
                    Probe::NotYet(format!("{s:?} ({flushed} chunks flushed)"))
                }
                Err(e) => Probe::NotYet(e.to_string()),
            }
        }
    })
    .await;
    let outcome = match r {
        Ok(s) => {
            report.fact(
                "index stats",
                format!(
                    "{} streams, {} chunks, {} entries",
                    s.streams, s.chunks, s.entries
                ),
            );
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    };
    report.check(checks::INDEX_STATS, t, outcome);
}
