//! `logs`: lines pushed to Loki come back exactly through LogQL — stream
//! selectors, line filters, `| json` and `| logfmt` with label filters,
//! `count_over_time`, `sum by (level)`, `rate`, and the labels, label
//! values, series and index-stats APIs — and every stream holds each of
//! its sequence numbers exactly once (loki-canary-like accounting).
//!
//! Expected answers are computed from what the generator pushed; the
//! sequence accounting is against the complete run, so a generator that
//! drops or repeats lines (the negative twins) is named per stream.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::ScenarioReport;
use crate::check::logseq::{account, group_by_key};
use crate::client::loki::{Labels, LokiClient, QueryData, RangeOptions, Stream};
use crate::client::prom::sum_metric;
use crate::data::loggen::{GenLine, LogGen, in_window, new_run_id};
use crate::eventually::{Eventually, Probe};
use crate::platform::loki::MISSING_REASON;
use crate::platform::{LokiService, Platform, PlatformError};

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
    report.fact("lines pushed", lines.len().to_string());
    report.check(checks::PUSH, t, push_ok);
    if push_failed {
        return report;
    }
    let (start, end) = g.window_ns();
    report.fact("streams", g.keys().len().to_string());

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
            report.fact(
                "query latency (whole run)",
                format!("{:.0} ms", took.as_secs_f64() * 1000.0),
            );
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
    report.fact("lines read back", total(&streams).to_string());
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

async fn check_query(
    client: &LokiClient,
    q: &str,
    start: i64,
    end: i64,
    expected: Vec<&GenLine>,
) -> Result<(), String> {
    let (got, _) = read_streams(client, q, start, end)
        .await
        .map_err(|e| format!("{q}: {e}"))?;
    if expected.is_empty() {
        return Err(format!("{q}: the check selects no line; it proves nothing"));
    }
    same_lines(&expected, &got).map_err(|e| format!("{q}: {e}"))
}

async fn check_filters(
    report: &mut ScenarioReport,
    client: &LokiClient,
    g: &LogGen,
    lines: &[GenLine],
    start: i64,
    end: i64,
) {
    let t = Instant::now();
    let q = format!(
        "{} |= \"seq=4\" != \"level=warn\"",
        g.selector_with("app=\"checkout\"")
    );
    let want = lines
        .iter()
        .filter(|l| {
            l.app == "checkout" && l.line.contains("seq=4") && !l.line.contains("level=warn")
        })
        .collect();
    let r1 = check_query(client, &q, start, end, want).await;
    let q = format!(
        "{} |~ \"seq=1[0-9] \"",
        g.selector_with("app=\"api\", level=\"error\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "api" && l.level == "error" && (10..20).contains(&l.seq))
        .collect();
    let r2 = check_query(client, &q, start, end, want).await;
    report.check(checks::LINE_FILTER, t, r1.and(r2));

    let t = Instant::now();
    let q = format!(
        "{} | json | amount >= 100 and level_extracted=\"info\"",
        g.selector_with("app=\"billing\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "billing" && l.value >= 100 && l.level == "info")
        .collect();
    report.check(
        checks::JSON,
        t,
        check_query(client, &q, start, end, want).await,
    );

    let t = Instant::now();
    let q = format!(
        "{} | logfmt | duration_ms > 50",
        g.selector_with("app=\"api\"")
    );
    let want = lines
        .iter()
        .filter(|l| l.app == "api" && l.value > 50)
        .collect();
    report.check(
        checks::LOGFMT,
        t,
        check_query(client, &q, start, end, want).await,
    );
}

/// Step of the `sum by (level)` range query.
const METRIC_STEP_NS: i64 = 10_000_000_000;

/// `[start, end]` of the metric checks: multiples of the step around the
/// run, because Loki aligns a range query's steps to multiples of the step
/// (measured on 3.7: start 10:11:24 with step 10s answered at 10:11:20).
fn metric_window(g: &LogGen) -> (i64, i64) {
    let (first, last_excl) = g.window_ns();
    let s = METRIC_STEP_NS;
    (first.div_euclid(s) * s, (last_excl.div_euclid(s) + 1) * s)
}

fn by_label(v: &[crate::client::loki::VectorSample], label: &str) -> BTreeMap<String, f64> {
    v.iter()
        .map(|s| (s.labels.get(label).cloned().unwrap_or_default(), s.value))
        .collect()
}

async fn check_metrics(
    report: &mut ScenarioReport,
    client: &LokiClient,
    g: &LogGen,
    lines: &[GenLine],
) {
    let (from, to) = metric_window(g);
    let range_s = (to - from) / 1_000_000_000 + 1;

    // count_over_time at the end over the whole run, by app.
    let t = Instant::now();
    let q = format!(
        "sum by (app) (count_over_time({}[{range_s}s]))",
        g.selector()
    );
    let want: BTreeMap<String, f64> = lines.iter().fold(BTreeMap::new(), |mut m, l| {
        *m.entry(l.app.clone()).or_default() += 1.0;
        m
    });
    let r = match client.query(&q, to).await {
        Ok(r) => r.data.into_vector().map(|v| by_label(&v, "app")),
        Err(e) => Err(e.to_string()),
    };
    report.check(
        checks::COUNT_OVER_TIME,
        t,
        match r {
            Ok(got) if got == want => Ok(()),
            Ok(got) => Err(format!("{q}: expected {want:?}, got {got:?}")),
            Err(e) => Err(format!("{q}: {e}")),
        },
    );

    // sum by (level) of 10 s windows, at every 10 s step.
    let t = Instant::now();
    let step = METRIC_STEP_NS;
    let q = format!("sum by (level) (count_over_time({}[10s]))", g.selector());
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let mut at = from;
    while at <= to {
        for level in &g.levels {
            let n = in_window(lines, at - step, at)
                .filter(|l| &l.level == level)
                .count();
            if n > 0 {
                want.entry(level.clone())
                    .or_default()
                    .push((at / 1_000_000, n as f64));
            }
        }
        at += step;
    }
    let opts = RangeOptions {
        step: Some(Duration::from_secs(10)),
        ..RangeOptions::default()
    };
    let r = match client.query_range(&q, from, to, &opts).await {
        Ok(r) => r.data.into_matrix().map(|m| {
            m.into_iter()
                .map(|s| {
                    (
                        s.labels.get("level").cloned().unwrap_or_default(),
                        s.samples,
                    )
                })
                .collect::<BTreeMap<_, _>>()
        }),
        Err(e) => Err(e.to_string()),
    };
    report.check(
        checks::SUM_BY_LEVEL,
        t,
        match r {
            Ok(got) if got == want => Ok(()),
            Ok(got) => Err(format!("{q}: {}", matrix_diff(&want, &got))),
            Err(e) => Err(format!("{q}: {e}")),
        },
    );

    // rate over the whole run: lines / seconds.
    let t = Instant::now();
    let q = format!(
        "sum(rate({}[{range_s}s]))",
        g.selector_with("app=\"billing\"")
    );
    let n = lines.iter().filter(|l| l.app == "billing").count() as f64;
    let want = n / range_s as f64;
    let r = match client.query(&q, to).await {
        Ok(r) => match r.data {
            QueryData::Vector(v) if v.len() == 1 => Ok(v[0].value),
            QueryData::Scalar(_, v) => Ok(v),
            other => Err(format!("expected one sample, got {other:?}")),
        },
        Err(e) => Err(e.to_string()),
    };
    report.check(
        checks::RATE,
        t,
        match r {
            Ok(got) if (got - want).abs() <= 1e-9 * want.max(1.0) => Ok(()),
            Ok(got) => Err(format!(
                "{q}: expected {want} ({n} lines / {range_s}s), got {got}"
            )),
            Err(e) => Err(format!("{q}: {e}")),
        },
    );
}

/// What differs between two matrices keyed by a label.
fn matrix_diff(
    want: &BTreeMap<String, Vec<(i64, f64)>>,
    got: &BTreeMap<String, Vec<(i64, f64)>>,
) -> String {
    let mut out = Vec::new();
    for k in want.keys().chain(got.keys()).collect::<BTreeSet<_>>() {
        let w = want.get(k).cloned().unwrap_or_default();
        let g = got.get(k).cloned().unwrap_or_default();
        if w != g {
            let first = w
                .iter()
                .zip(g.iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "first difference at {}: expected {} got {} at {}",
                        a.0, a.1, b.1, b.0
                    )
                })
                .unwrap_or_else(|| format!("expected {} samples, got {}", w.len(), g.len()));
            out.push(format!("level={k}: {first}"));
        }
    }
    out.join("; ")
}

async fn check_metadata(
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
async fn check_index_stats(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::loki::Entry;

    fn generator() -> LogGen {
        LogGen::recent("rt", 10, Duration::from_secs(1))
    }

    fn as_streams(g: &LogGen) -> Vec<Stream> {
        g.streams()
            .into_iter()
            .map(|p| Stream {
                labels: p.labels,
                entries: p.entries,
            })
            .collect()
    }

    #[test]
    fn same_lines_accepts_exactly_the_pushed_lines() {
        let g = generator();
        let lines = g.lines();
        let want: Vec<&GenLine> = lines.iter().collect();
        assert_eq!(same_lines(&want, &as_streams(&g)), Ok(()));
    }

    #[test]
    fn same_lines_names_missing_and_extra_lines() {
        let g = generator();
        let lines = g.lines();
        let want: Vec<&GenLine> = lines.iter().collect();
        let mut got = as_streams(&g);
        let removed = got[0].entries.remove(3);
        got[1].entries.push(Entry {
            ts_ns: 1,
            line: "stranger".into(),
        });
        let err = same_lines(&want, &got).unwrap_err();
        assert!(err.starts_with("expected 90 lines, got 90"), "{err}");
        assert!(
            err.contains(&format!(
                "1 missing, e.g. app=api level=error: {}",
                removed.line
            )),
            "{err}"
        );
        assert!(
            err.contains("1 unexpected, e.g. app=api level=info: stranger"),
            "{err}"
        );
    }

    #[test]
    fn the_metric_window_is_step_multiples_around_the_run() {
        let g = generator();
        let (from, to) = metric_window(&g);
        let (first, end) = g.window_ns();
        assert_eq!(from % METRIC_STEP_NS, 0);
        assert_eq!(to % METRIC_STEP_NS, 0);
        assert!(from < first && to >= end);
    }

    #[test]
    fn matrix_differences_name_the_level_and_the_step() {
        let mut want = BTreeMap::new();
        want.insert("info".to_owned(), vec![(10_000, 3.0), (20_000, 4.0)]);
        let mut got = want.clone();
        got.get_mut("info").unwrap()[1].1 = 2.0;
        got.insert("debug".to_owned(), vec![(10_000, 1.0)]);
        let d = matrix_diff(&want, &got);
        assert!(
            d.contains("level=info: first difference at 20000: expected 4 got 2"),
            "{d}"
        );
        assert!(d.contains("level=debug: expected 0 samples, got 1"), "{d}");
    }
}
