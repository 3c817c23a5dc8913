//! The assertion file format: the examples parse, and every mistake is
//! named with file:line:column and what was expected there. No stack needed.

use std::path::{Path, PathBuf};

use stackproof::assertions::schema::{SchemaError, parse};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/assertions");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "{v:?}");
    v
}

fn error(text: &str) -> SchemaError {
    parse(Path::new("bad.yml"), text).expect_err("must be refused")
}

/// `text` is refused at `line:col` with a message containing `words`.
fn refused(text: &str, line: u64, column: u64, words: &str) {
    let e = error(text);
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("bad.yml:{line}:{column}: ")),
        "{shown}"
    );
    assert!(shown.contains(words), "{shown}");
}

#[test]
fn every_example_parses() {
    for p in examples() {
        let text = std::fs::read_to_string(&p).unwrap();
        let f = parse(&p, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            f.promql.len() + f.logql.len() + f.bucket.len() > 0,
            "{}",
            p.display()
        );
    }
}

#[test]
fn unknown_keys_are_refused_with_the_keys_that_exist() {
    refused(
        "promql:\n  - name: a\n    query: up\n    expect:\n      serie: 1\n",
        5,
        7,
        "unknown field `serie`, expected one of series, value, tolerance, labels, no_label, max_gap",
    );
    refused(
        "promq:\n  - name: a\n",
        1,
        1,
        "unknown field `promq`, expected one of within, promql, logql, bucket",
    );
    refused(
        "bucket:\n  - name: a\n    prefix: x/\n    expect: {atleast: 1}\n",
        4,
        14,
        "unknown field `atleast`",
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    refused(
        "promql:\n  - name: a\n    query: up\n    expect:\n      series: one\n",
        5,
        15,
        "expected a whole number",
    );
    refused(
        "promql:\n  - name: a\n    query: up\n    dedup: maybe\n    expect: {series: 1}\n",
        4,
        12,
        "expected true or false",
    );
    refused("promql:\n  - name: a\n    query: [up\n", 3, 12, "");
}

#[test]
fn durations_and_times_are_checked_where_they_are_written() {
    refused(
        "promql:\n  - name: a\n    query: up\n    window: 15 seconds\n    expect: {max_gap: 7s}\n",
        4,
        13,
        "expected a duration such as 500ms, 30s, 2m, 1h30m or 7d, found `15 seconds`",
    );
    refused(
        "promql:\n  - name: a\n    query: up\n    at: yesterday\n    expect: {series: 1}\n",
        4,
        9,
        "expected `now`, `now-<duration>` (e.g. now-5m) or unix seconds, found `yesterday`",
    );
}

#[test]
fn missing_fields_are_named() {
    refused(
        "promql:\n  - name: a\n    expect: {series: 1}\n",
        3,
        5,
        "missing field `query`",
    );
}

#[test]
fn meaningless_combinations_are_refused_at_their_place() {
    refused(
        "promql:\n  - name: a\n    query: up\n    expect: {tolerance: 1}\n",
        4,
        13,
        "promql `a`: `tolerance` needs `value`",
    );
    refused(
        "promql:\n  - name: a\n    query: up\n    expect: {max_gap: 7s}\n",
        4,
        13,
        "`max_gap` needs `window`",
    );
    refused(
        "promql:\n  - name: a\n    query: up\n    expect: {}\n",
        4,
        13,
        "`expect` is empty: expected at least one of series, value, labels, no_label or max_gap",
    );
    refused(
        "bucket:\n  - name: b\n    blocks: {replica: \"0\"}\n    prefix: x/\n    expect: {at_least: 1}\n",
        2,
        11,
        "bucket `b`: expected exactly one of `blocks` (external labels) or `prefix`",
    );
    refused(
        "logql:\n  - name: l\n    query: '{app=\"a\"}'\n    expect: {lines: 3}\n",
        4,
        13,
        "need `range` (Loki answers log selectors only over a range)",
    );
}

/// A cheap fuzz: every prefix of every example (cut at each line and in
/// the middle of each line) and every example with one line removed either
/// parses or is refused with a place inside the text — never a panic, never
/// an error without a line.
#[test]
fn mangled_examples_never_panic_and_errors_always_have_a_place() {
    let mut refusals = 0;
    for p in examples() {
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut variants = Vec::new();
        for i in 0..lines.len() {
            variants.push(lines[..i].join("\n"));
            let half: String = lines[i]
                .chars()
                .take(lines[i].chars().count() / 2)
                .collect();
            variants.push(format!("{}\n{half}", lines[..i].join("\n")));
            let mut without = lines.clone();
            without.remove(i);
            variants.push(without.join("\n"));
            // A stray key on a line of its own, at that line's indentation.
            let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
            let mut with = lines.clone();
            with.insert(i, "");
            let stray = format!("{indent}stray_key: 1");
            with[i] = &stray;
            variants.push(with.join("\n"));
        }
        for v in variants {
            if let Err(e) = parse(&p, &v) {
                refusals += 1;
                let n = v.lines().count() as u64 + 1;
                assert!(
                    (1..=n).contains(&e.line) && e.column >= 1,
                    "no place in {e} for:\n{v}"
                );
            }
        }
    }
    assert!(
        refusals > 50,
        "only {refusals} refusals: the mangling does nothing"
    );
}
