//! PromQL assertions: ask Thanos Query (instant, range, or raw samples over
//! a window) and judge the series that come back. The judging is shared
//! with LogQL metric queries, whose answers are series too.

use std::collections::BTreeMap;

use super::schema::{PromAssertion, PromExpect};
use crate::check::gaps::{find_gaps, fmt_time};
use crate::client::prom::{PromClient, QueryOptions, QueryResult, Series};

/// The most offending samples or series a message lists.
const SHOWN: usize = 3;

/// Asks `client` once, as `a` says, and judges the answer.
pub async fn evaluate(a: &PromAssertion, client: &PromClient, now_ms: i64) -> Result<(), String> {
    let end = a.at.ms(now_ms);
    let opts = QueryOptions {
        dedup: Some(a.dedup),
        // Strict: a store that failed must fail the assertion, not thin it.
        partial_response: Some(false),
        max_source_resolution: None,
    };
    let (asked, window, answer) = if let Some(w) = a.window {
        let start = end - w.0.as_millis() as i64;
        let r = client.raw_samples(&a.query, start, end, &opts).await;
        (
            format!(
                "raw samples of `{}` over {} before {}",
                a.query,
                w,
                fmt_time(end)
            ),
            Some((start, end)),
            r,
        )
    } else if let Some(range) = a.range {
        let start = end - range.last.0.as_millis() as i64;
        let r = client
            .query_range(&a.query, start, end, range.step(), &opts)
            .await;
        (
            format!("`{}` over {} before {}", a.query, range.last, fmt_time(end)),
            Some((start, end)),
            r,
        )
    } else {
        let r = client.query(&a.query, end, &opts).await;
        (format!("`{}` at {}", a.query, fmt_time(end)), None, r)
    };
    let answer = answer.map_err(|e| format!("{asked}: {e}"))?;
    judge(&a.expect.value, &answer, window).map_err(|m| format!("{asked}: {m}"))
}

/// Judges `answer` against `e`; `window` `[start, end]` bounds the holes
/// `max_gap` looks for. Every failed expectation is named, one per line.
pub fn judge(
    e: &PromExpect,
    answer: &QueryResult,
    window: Option<(i64, i64)>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let series = &answer.series;
    if let Some(n) = e.series
        && series.len() != n
    {
        problems.push(format!(
            "{} series where {n} expected{}",
            series.len(),
            listed(series.iter().map(Series::label_text))
        ));
    }
    problems.extend(label_problems(&e.labels, series));
    if let Some(name) = &e.no_label {
        let carrying: Vec<&Series> = series
            .iter()
            .filter(|s| s.labels.contains_key(name))
            .collect();
        if !carrying.is_empty() {
            problems.push(format!(
                "{} series carry the label `{name}` where none may{}",
                carrying.len(),
                listed(carrying.iter().map(|s| s.label_text()))
            ));
        }
    }
    if let Some(want) = e.value {
        problems.extend(value_problems(want, e.tolerance.unwrap_or(0.0), series));
    }
    if let Some(max) = e.max_gap {
        let max_ms = max.0.as_millis() as i64;
        if series.is_empty() {
            problems.push(format!(
                "no series at all: the whole window is a hole (longer than {max})"
            ));
        }
        for s in series {
            let ts: Vec<i64> = s.samples.iter().map(|(t, _)| *t).collect();
            let gaps = find_gaps(&ts, max_ms, window);
            if let Some(longest) = gaps.iter().max_by_key(|g| g.len_ms()) {
                problems.push(format!(
                    "{}: {} hole(s) longer than {max}; the longest: {longest}",
                    s.label_text(),
                    gaps.len()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let warnings = if answer.warnings.is_empty() {
            String::new()
        } else {
            format!("\n(the server warned: {})", answer.warnings.join("; "))
        };
        Err(format!("{}{warnings}", problems.join("\n")))
    }
}

/// Every series carries each `want` label with its value.
fn label_problems(want: &BTreeMap<String, String>, series: &[Series]) -> Vec<String> {
    let mut out = Vec::new();
    for s in series {
        for (k, v) in want {
            match s.labels.get(k) {
                Some(got) if got == v => {}
                Some(got) => out.push(format!(
                    "{}: {k}=\"{got}\" where {k}=\"{v}\" expected",
                    s.label_text()
                )),
                None => out.push(format!(
                    "{}: no label `{k}` where {k}=\"{v}\" expected",
                    s.label_text()
                )),
            }
        }
    }
    if out.len() > SHOWN {
        let more = out.len() - SHOWN;
        out.truncate(SHOWN);
        out.push(format!("… and {more} more label mismatches"));
    }
    out
}

/// Every sample is within `tol` of `want`; no series at all is a failure.
fn value_problems(want: f64, tol: f64, series: &[Series]) -> Vec<String> {
    let expected = if tol == 0.0 {
        format!("{want}")
    } else {
        format!("{want} ± {tol}")
    };
    if series.iter().all(|s| s.samples.is_empty()) {
        return vec![format!("no sample where {expected} expected")];
    }
    let off: Vec<String> = series
        .iter()
        .flat_map(|s| s.samples.iter().map(move |p| (s, p)))
        // NaN is never within any tolerance: the comparison is false.
        .filter(|(_, (_, v))| {
            // `==` too: infinities are equal but their difference is NaN.
            let within = (v - want).abs() <= tol || *v == want;
            !within
        })
        .map(|(s, (t, v))| {
            // An aggregate without labels needs no `{}` in front.
            let at = fmt_time(*t);
            match s.labels.is_empty() {
                true => format!("{v} at {at}"),
                false => format!("{} at {at}: {v}", s.label_text()),
            }
        })
        .collect();
    if off.is_empty() {
        return Vec::new();
    }
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    vec![format!(
        "{} of {total} samples are not {expected}: {}{}",
        off.len(),
        off.iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        if off.len() > SHOWN { ", …" } else { "" }
    )]
}

/// `: a, b, c` (at most [`SHOWN`], then `…`), or nothing for none.
fn listed(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    if all.is_empty() {
        return String::new();
    }
    let more = if all.len() > SHOWN { ", …" } else { "" };
    format!(
        ": {}{more}",
        all.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::schema::Dur;
    use std::time::Duration;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            samples: samples.to_vec(),
        }
    }

    fn answer(s: Vec<Series>) -> QueryResult {
        QueryResult {
            series: s,
            warnings: vec![],
        }
    }

    #[test]
    fn series_count_labels_and_forbidden_label_are_named() {
        let r = answer(vec![
            series(&[("replica", "0"), ("cluster", "a")], &[(0, 1.0)]),
            series(&[("replica", "1")], &[(0, 1.0)]),
        ]);
        let e = PromExpect {
            series: Some(1),
            labels: [("cluster".to_string(), "a".to_string())].into(),
            no_label: Some("replica".into()),
            ..Default::default()
        };
        let m = judge(&e, &r, None).unwrap_err();
        assert!(
            m.contains(
                "2 series where 1 expected: {cluster=\"a\", replica=\"0\"}, {replica=\"1\"}"
            ),
            "{m}"
        );
        assert!(
            m.contains("{replica=\"1\"}: no label `cluster` where cluster=\"a\" expected"),
            "{m}"
        );
        assert!(
            m.contains("2 series carry the label `replica` where none may"),
            "{m}"
        );
    }

    #[test]
    fn values_exact_within_tolerance_and_nan() {
        let r = answer(vec![series(
            &[],
            &[(0, 1.0), (1000, 1.5), (2000, f64::NAN)],
        )]);
        let exact = PromExpect {
            value: Some(1.0),
            ..Default::default()
        };
        let m = judge(&exact, &r, None).unwrap_err();
        assert!(
            m.starts_with("2 of 3 samples are not 1: 1.5 at 1970-01-01T00:00:01.000Z, NaN at"),
            "{m}"
        );
        let loose = PromExpect {
            value: Some(1.0),
            tolerance: Some(0.5),
            ..Default::default()
        };
        let m = judge(&loose, &r, None).unwrap_err();
        assert!(
            m.starts_with("1 of 3 samples are not 1 ± 0.5: NaN at 1970-01-01T00:00:02.000Z"),
            "{m}"
        );
        let none = answer(vec![]);
        assert_eq!(
            judge(&exact, &none, None).unwrap_err(),
            "no sample where 1 expected"
        );
    }

    #[test]
    fn holes_against_the_window_edges() {
        let e = PromExpect {
            max_gap: Some(Dur(Duration::from_secs(2))),
            ..Default::default()
        };
        let r = answer(vec![series(
            &[("a", "b")],
            &[(1000, 0.0), (2000, 0.0), (9000, 0.0)],
        )]);
        let m = judge(&e, &r, Some((0, 10_000))).unwrap_err();
        assert!(
            m.contains("{a=\"b\"}: 1 hole(s) longer than 2s; the longest: 7.0s with no sample"),
            "{m}"
        );
        assert!(judge(&e, &r, Some((0, 9_500))).is_err());
        let ok = answer(vec![series(&[], &[(0, 0.0), (2000, 0.0), (4000, 0.0)])]);
        assert!(judge(&e, &ok, Some((0, 4000))).is_ok());
        let m = judge(&e, &answer(vec![]), Some((0, 4000))).unwrap_err();
        assert!(m.starts_with("no series at all"), "{m}");
    }
}
