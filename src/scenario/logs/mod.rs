//! `logs`: lines pushed to Loki come back exactly through LogQL — stream
//! selectors, line filters, `| json` and `| logfmt` with label filters,
//! `count_over_time`, `sum by (level)`, `rate`, and the labels, label
//! values, series and index-stats APIs — and every stream holds each of
//! its sequence numbers exactly once (loki-canary-like accounting).
//!
//! Expected answers are computed from what the generator pushed; the
//! sequence accounting is against the complete run, so a generator that
//! drops or repeats lines (the negative twins) is named per stream.

mod filters;
mod metadata;
mod metrics;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{FactValue, ScenarioReport};
use crate::check::logseq::{account, group_by_key};
use crate::client::loki::{LokiClient, RangeOptions, Stream};
use crate::data::loggen::{GenLine, LogGen, new_run_id};
use crate::eventually::{Eventually, Probe};
use crate::platform::loki::MISSING_REASON;
use crate::platform::{LokiService, Platform, PlatformError};
use filters::check_filters;
use metadata::{check_index_stats, check_metadata};
use metrics::check_metrics;

/// The scenario id.
pub const ID: &str = "logs";

/// Check names, shared by the scenario and its negative twins.
pub mod checks {
    pub const PUSH: &str = "every generated line is accepted by the push API";
    pub const SEQUENCES: &str = "every stream holds each sequence number exactly once, in order";
    pub const SELECTOR: &str = "the stream selector returns exactly the pushed lines";
    pub const LINE_FILTER: &str = "line filters return exactly the matching lines";
    pub const JSON: &str = "| json with a label filter returns exactly the matching lines";
    pub const LOGFMT: &str = "| logfmt with a label filter returns exactly the matching lines";
    pub const COUNT_OVER_TIME: &str = "count_over_time by app equals the pushed counts";
    pub const SUM_BY_LEVEL: &str = "sum by (level) (count_over_time) matches at every step";
    pub const RATE: &str = "rate equals the pushed lines over the range";
    pub const LABELS: &str = "labels and label values are exactly the pushed ones";
    pub const SERIES: &str = "series returns exactly the pushed streams";
    pub const INDEX_STATS: &str = "index stats count every stream and line once flushed";
}

/// Size of the run.
#[derive(Debug, Clone)]
pub struct Params {
    pub lines_per_stream: u64,
    pub interval: Duration,
}

impl Default for Params {
    fn default() -> Self {
        // 9 streams × 60 lines, one a second: a minute of logs.
        Self {
            lines_per_stream: 60,
            interval: Duration::from_secs(1),
        }
    }
}

/// The scenario on the platform's Loki, with a fresh run id.
pub async fn run(p: &mut dyn Platform, params: &Params) -> ScenarioReport {
    match p.loki().await {
        Ok(loki) => run_on(loki, params).await,
        Err(e) => loki_unavailable(ID, e),
    }
}

/// The scenario on a running Loki, with a fresh run id.
pub async fn run_on(loki: &mut dyn LokiService, p: &Params) -> ScenarioReport {
    let g = LogGen::recent(new_run_id(), p.lines_per_stream, p.interval);
    run_with(loki, ID, &g).await
}

/// A report saying the platform's Loki could not be had: a failed check
/// where it should have run (it failed to start), skipped where the
/// platform provides none.
pub fn loki_unavailable(id: &str, e: PlatformError) -> ScenarioReport {
    match e {
        PlatformError::NoLoki(why) => ScenarioReport::skipped(id, &why),
        PlatformError::Loki(e) if e.is_missing() => ScenarioReport::skipped(id, MISSING_REASON),
        e => {
            let mut r = ScenarioReport::new(id);
            r.check(
                "Loki starts and is ready",
                Instant::now(),
                Err(e.to_string()),
            );
            r
        }
    }
}

pub use super::logs_twins::{
    twin_duplicated, twin_label_discovery, twin_skipped_seq, twin_too_old,
};

/// Pushes `g`'s lines and runs every check against them.
pub async fn run_with(loki: &mut dyn LokiService, id: &str, g: &LogGen) -> ScenarioReport {
    let mut report = ScenarioReport::new(id);
    let client = loki.client();
    report.fact("run id", g.run.clone());
    if let Ok(v) = client.version().await {
        report.fact("loki version", version_text(v));
    }
    let lines = g.lines();
    let t = Instant::now();
    let pushed = g.push(&client, 500).await;
    let push_ok = match pushed {
        Ok(n) if n == lines.len() => Ok(()),
        Ok(n) => Err(format!(
            "pushed {n} lines where {} were generated",
            lines.len()
        )),
        Err(e) => Err(format!("push: {e}")),
    };
    let push_failed = push_ok.is_err();
    report.fact("lines pushed", lines.len());
    report.check(checks::PUSH, t, push_ok);
    if push_failed {
        return report;
    }
    let (start, end) = g.window_ns();
    report.fact("streams", g.keys().len());

    // The whole run, oldest first. Ingested lines are queryable at once in
    // a single binary; the bounded wait only covers a slow first answer.
    let t = Instant::now();
    let want = lines.len();
    let read = Eventually::new(
        format!("Loki to return the {want} lines of run {}", g.run),
        Duration::from_secs(30),
    )
    .max_delay(Duration::from_millis(500))
    .until(|| {
        let client = client.clone();
        let sel = g.selector();
        async move {
            match read_streams(&client, &sel, start, end).await {
                Ok((s, took)) if total(&s) >= want => Probe::Ready((s, took)),
                Ok((s, _)) => Probe::NotYet(format!("{} lines", total(&s))),
                Err(e) => Probe::NotYet(e),
            }
        }
    })
    .await;
    let streams = match read {
        Ok((s, took)) => {
            report.fact("query latency (whole run)", FactValue::millis(took));
            s
        }
        // Fewer lines than pushed is itself a finding: account for them.
        Err(_) => match read_streams(&client, &g.selector(), start, end).await {
            Ok((s, _)) => s,
            Err(e) => {
                report.check(checks::SELECTOR, t, Err(e));
                return report;
            }
        },
    };
    report.fact("lines read back", total(&streams));
    let acc = account(&g.run, &g.expected_counts(), &group_by_key(&streams));
    report.check(checks::SEQUENCES, t, acc.as_result());
    let expected: Vec<&GenLine> = lines.iter().collect();
    report.check(checks::SELECTOR, t, same_lines(&expected, &streams));

    check_filters(&mut report, &client, g, &lines, start, end).await;
    check_metrics(&mut report, &client, g, &lines).await;
    check_metadata(&mut report, &client, g, start, end).await;
    // Index stats prorate a chunk that only partly overlaps the range
    // (measured: [first line, last line + 1 ns) counted 59 of 60 lines per
    // stream): ask about a range a minute wider on both sides.
    let margin = 60_000_000_000;
    check_index_stats(
        &mut report,
        &client,
        g,
        lines.len() as u64,
        start - margin,
        end + margin,
    )
    .await;
    report
}

/// Loki's version as reported, or a note when the binary carries none
/// (a build without release flags).
pub fn version_text(v: String) -> String {
    if v.is_empty() {
        "unknown (the binary carries no version)".to_owned()
    } else {
        v
    }
}

fn total(streams: &[Stream]) -> usize {
    streams.iter().map(|s| s.entries.len()).sum()
}

/// Every line of `selector` over `[start, end)`, oldest first, and how long
/// the query took.
pub async fn read_streams(
    client: &LokiClient,
    selector: &str,
    start: i64,
    end: i64,
) -> Result<(Vec<Stream>, Duration), String> {
    let t = Instant::now();
    let r = client
        .query_range(selector, start, end, &RangeOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let took = t.elapsed();
    Ok((r.data.into_streams()?, took))
}

/// Compares what came back with what was expected, as `(stream, ts,
/// line)` triples; names what is missing and what is extra.
pub fn same_lines(expected: &[&GenLine], got: &[Stream]) -> Result<(), String> {
    let want: BTreeMap<(String, i64, String), usize> =
        expected.iter().fold(BTreeMap::new(), |mut m, l| {
            *m.entry((l.key.clone(), l.ts_ns, l.line.clone()))
                .or_default() += 1;
            m
        });
    let mut seen: BTreeMap<(String, i64, String), usize> = BTreeMap::new();
    for s in got {
        let key = crate::check::logseq::stream_key(&s.labels);
        for e in &s.entries {
            *seen
                .entry((key.clone(), e.ts_ns, e.line.clone()))
                .or_default() += 1;
        }
    }
    if want == seen {
        return Ok(());
    }
    let missing: Vec<String> = want
        .iter()
        .filter(|(k, n)| seen.get(*k).copied().unwrap_or(0) < **n)
        .map(|((s, _, l), _)| format!("{s}: {l}"))
        .collect();
    let extra: Vec<String> = seen
        .iter()
        .filter(|(k, n)| want.get(*k).copied().unwrap_or(0) < **n)
        .map(|((s, _, l), _)| format!("{s}: {l}"))
        .collect();
    let mut msg = format!(
        "expected {} lines, got {}",
        want.values().sum::<usize>(),
        seen.values().sum::<usize>()
    );
    if !missing.is_empty() {
        msg.push_str(&format!("; {} missing, e.g. {}", missing.len(), missing[0]));
    }
    if !extra.is_empty() {
        msg.push_str(&format!("; {} unexpected, e.g. {}", extra.len(), extra[0]));
    }
    Err(msg)
}
