use std::collections::BTreeMap;

use super::metrics::{METRIC_STEP_NS, matrix_diff, metric_window};
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
