//! LogQL assertions: ask Loki and judge the lines (log queries) or the
//! series (metric queries, judged like PromQL answers).

use super::promql;
use super::schema::{LogAssertion, LogExpect, PromExpect};
use crate::check::gaps::fmt_time;
use crate::client::loki::{Direction, LokiClient, QueryData, RangeOptions, Stream, label_text};
use crate::client::prom::{QueryResult, Series};

/// Loki's own ceiling on lines per query (`max_entries_limit_per_query`).
const DEFAULT_LIMIT: u32 = 5000;

/// Asks `client` once, as `a` says, and judges the answer.
pub async fn evaluate(a: &LogAssertion, client: &LokiClient, now_ms: i64) -> Result<(), String> {
    let end_ms = a.at.ms(now_ms);
    let limit = a.limit.unwrap_or(DEFAULT_LIMIT);
    let (asked, answer) = match a.range {
        Some(range) => {
            let start_ms = end_ms - range.last.0.as_millis() as i64;
            let opts = RangeOptions {
                limit,
                direction: Direction::Forward,
                step: Some(range.step()),
            };
            // Loki's `end` is exclusive: one more nanosecond keeps a line
            // written at exactly `at`.
            let r = client
                .query_range(
                    &a.query,
                    start_ms * 1_000_000,
                    end_ms * 1_000_000 + 1,
                    &opts,
                )
                .await;
            (
                format!(
                    "`{}` over {} before {}",
                    a.query,
                    range.last,
                    fmt_time(end_ms)
                ),
                r,
            )
        }
        None => (
            format!("`{}` at {}", a.query, fmt_time(end_ms)),
            client.query(&a.query, end_ms * 1_000_000).await,
        ),
    };
    let answer = answer.map_err(|e| format!("{asked}: {e}"))?;
    judge(&a.expect.value, answer.data, limit).map_err(|m| format!("{asked}: {m}"))
}

/// Judges what Loki returned against `e`.
pub fn judge(e: &LogExpect, data: QueryData, limit: u32) -> Result<(), String> {
    let wants_lines = e.lines.is_some() || e.exact_lines.is_some() || !e.contains.is_empty();
    let wants_series = e.series.is_some() || e.value.is_some();
    match data {
        QueryData::Streams(streams) => {
            if wants_series {
                return Err(
                    "`series` and `value` are for metric queries, but Loki returned log lines"
                        .into(),
                );
            }
            judge_lines(e, &streams, limit)
        }
        other => {
            if wants_lines {
                return Err(format!(
                    "`lines`, `exact_lines` and `contains` are for log queries, but Loki returned a {}",
                    other.kind()
                ));
            }
            let expect = PromExpect {
                series: e.series,
                value: e.value,
                tolerance: e.tolerance,
                ..Default::default()
            };
            promql::judge(&expect, &as_series(other), None)
        }
    }
}

/// A metric answer as Prometheus-style series.
fn as_series(data: QueryData) -> QueryResult {
    let series = match data {
        QueryData::Streams(_) => Vec::new(),
        QueryData::Matrix(m) => m
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                samples: s.samples,
            })
            .collect(),
        QueryData::Vector(v) => v
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                samples: vec![(s.t_ms, s.value)],
            })
            .collect(),
        QueryData::Scalar(t, v) => vec![Series {
            labels: Default::default(),
            samples: vec![(t, v)],
        }],
    };
    QueryResult {
        series,
        warnings: Vec::new(),
    }
}

fn judge_lines(e: &LogExpect, streams: &[Stream], limit: u32) -> Result<(), String> {
    // Oldest first across streams, as a person reads a log.
    let mut all: Vec<(&i64, &str)> = streams
        .iter()
        .flat_map(|s| s.entries.iter().map(|en| (&en.ts_ns, en.line.as_str())))
        .collect();
    all.sort();
    let lines: Vec<&str> = all.into_iter().map(|(_, l)| l).collect();
    let mut problems = Vec::new();
    if let Some(n) = e.lines
        && lines.len() != n
    {
        let per_stream: Vec<String> = streams
            .iter()
            .map(|s| format!("{} {}", label_text(&s.labels), s.entries.len()))
            .collect();
        problems.push(format!(
            "{} lines where {n} expected (per stream: {})",
            lines.len(),
            if per_stream.is_empty() {
                "no stream".into()
            } else {
                per_stream.join(", ")
            }
        ));
    }
    if let Some(want) = &e.exact_lines
        && let Some(diff) = first_difference(want, &lines)
    {
        problems.push(diff);
    }
    for text in &e.contains {
        if !lines.iter().any(|l| l.contains(text.as_str())) {
            problems.push(format!(
                "no line contains `{text}` ({} lines read)",
                lines.len()
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if lines.len() >= limit as usize {
        problems.push(format!(
            "(the limit of {limit} lines was reached: raise `limit` or narrow the query)"
        ));
    }
    Err(problems.join("\n"))
}

/// Where `got` first differs from `want`, in words; None when equal.
fn first_difference(want: &[String], got: &[&str]) -> Option<String> {
    for (i, w) in want.iter().enumerate() {
        match got.get(i) {
            Some(g) if *g == w => {}
            Some(g) => {
                return Some(format!("line {}: `{g}` where `{w}` expected", i + 1));
            }
            None => {
                return Some(format!(
                    "{} lines where {} expected: the first missing is `{w}`",
                    got.len(),
                    want.len()
                ));
            }
        }
    }
    (got.len() > want.len()).then(|| {
        format!(
            "{} lines where {} expected: the first extra is `{}`",
            got.len(),
            want.len(),
            got[want.len()]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::loki::parse_query_response;

    fn fixture(name: &str) -> QueryData {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/loki")
            .join(name);
        parse_query_response(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .data
    }

    #[test]
    fn line_count_contains_and_exact_lines_on_a_recorded_answer() {
        // 15 entries in 3 streams (see fixtures/loki/README.md).
        let ok = LogExpect {
            lines: Some(15),
            contains: vec!["seq=".into()],
            ..Default::default()
        };
        judge(&ok, fixture("query_range_streams.json"), 5000).unwrap();
        let bad = LogExpect {
            lines: Some(16),
            contains: vec!["no such text".into()],
            ..Default::default()
        };
        let m = judge(&bad, fixture("query_range_streams.json"), 5000).unwrap_err();
        assert!(
            m.starts_with("15 lines where 16 expected (per stream: {"),
            "{m}"
        );
        assert!(
            m.contains("no line contains `no such text` (15 lines read)"),
            "{m}"
        );
        let m = judge(&bad, fixture("query_range_streams.json"), 15).unwrap_err();
        assert!(
            m.ends_with("(the limit of 15 lines was reached: raise `limit` or narrow the query)"),
            "{m}"
        );
    }

    #[test]
    fn exact_lines_name_the_first_difference() {
        let want: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(first_difference(&want, &["a", "b", "c"]), None);
        assert_eq!(
            first_difference(&want, &["a", "x", "c"]).unwrap(),
            "line 2: `x` where `b` expected"
        );
        assert_eq!(
            first_difference(&want, &["a"]).unwrap(),
            "1 lines where 3 expected: the first missing is `b`"
        );
        assert_eq!(
            first_difference(&want, &["a", "b", "c", "d"]).unwrap(),
            "4 lines where 3 expected: the first extra is `d`"
        );
    }

    #[test]
    fn metric_answers_are_judged_as_series_and_kinds_are_not_mixed() {
        let e = LogExpect {
            series: Some(1),
            ..Default::default()
        };
        let m = judge(&e, fixture("query_instant_vector.json"), 5000).unwrap_err();
        assert!(m.contains("series where 1 expected: {app="), "{m}");
        let e = LogExpect {
            series: Some(1),
            ..Default::default()
        };
        judge(&e, fixture("query_instant_scalar.json"), 5000).unwrap();
        let lines = LogExpect {
            lines: Some(1),
            ..Default::default()
        };
        let m = judge(&lines, fixture("query_range_matrix.json"), 5000).unwrap_err();
        assert!(m.ends_with("but Loki returned a matrix"), "{m}");
        let m = judge(&e, fixture("query_range_streams.json"), 5000).unwrap_err();
        assert!(m.contains("but Loki returned log lines"), "{m}");
    }
}
