//! The metric-query checks: `count_over_time`, `sum by (level)` and
//! `rate`, compared with what the generator pushed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::checks;
use crate::client::loki::{LokiClient, QueryData, RangeOptions};
use crate::data::loggen::{GenLine, LogGen, in_window};
use crate::scenario::ScenarioReport;

/// Step of the `sum by (level)` range query.
pub(super) const METRIC_STEP_NS: i64 = 10_000_000_000;

/// `[start, end]` of the metric checks: multiples of the step around the
/// run, because Loki aligns a range query's steps to multiples of the step
/// (measured on 3.7: start 10:11:24 with step 10s answered at 10:11:20).
pub(super) fn metric_window(g: &LogGen) -> (i64, i64) {
    let (first, last_excl) = g.window_ns();
    let s = METRIC_STEP_NS;
    (first.div_euclid(s) * s, (last_excl.div_euclid(s) + 1) * s)
}

fn by_label(v: &[crate::client::loki::VectorSample], label: &str) -> BTreeMap<String, f64> {
    v.iter()
        .map(|s| (s.labels.get(label).cloned().unwrap_or_default(), s.value))
        .collect()
}

pub(super) async fn check_metrics(
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
pub(super) fn matrix_diff(
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
