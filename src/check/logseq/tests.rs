use super::*;

fn logfmt(seq: u64, run: &str) -> String {
    format!("level=info msg=\"order placed\" seq={seq} run={run} duration_ms=7")
}

fn entries(seqs: &[u64], run: &str) -> Vec<Entry> {
    seqs.iter()
        .enumerate()
        .map(|(i, s)| Entry {
            ts_ns: 1_000_000_000 * (i as i64 + 1),
            line: logfmt(*s, run),
        })
        .collect()
}

#[test]
fn parses_logfmt_and_json_lines() {
    assert_eq!(parse_seq(&logfmt(12, "r1")), Some(("r1".into(), 12)));
    assert_eq!(
        parse_seq(r#"{"msg": "charge", "seq": 3, "run": "r1", "amount": 30}"#),
        Some(("r1".into(), 3))
    );
    assert_eq!(parse_seq("level=info msg=\"seq=4 run=x\""), None);
    assert_eq!(parse_seq("no fields here"), None);
    assert_eq!(parse_seq(r#"{"seq": "3", "run": "r1"}"#), None);
    let f = logfmt_fields(r#"a=1 msg="say \"hi\" now" flag b="""#);
    assert_eq!(f["a"], "1");
    assert_eq!(f["msg"], "say \"hi\" now");
    assert_eq!(f["flag"], "");
    assert_eq!(f["b"], "");
}

#[test]
fn a_complete_stream_is_clean() {
    let seqs: Vec<u64> = (0..50).collect();
    let a = account_stream("app=api level=info", "r1", 50, &entries(&seqs, "r1"));
    assert!(a.is_clean(), "{:?}", a.problems());
    assert_eq!(a.received, 50);
}

#[test]
fn missing_numbers_are_named_as_ranges() {
    let seqs: Vec<u64> = (0..100)
        .filter(|s| !(40..50).contains(s) && *s != 77 && *s != 99)
        .collect();
    let a = account_stream("app=api level=info", "r1", 100, &entries(&seqs, "r1"));
    assert_eq!(
        a.missing,
        vec![
            SeqRange {
                first: 40,
                last: 49
            },
            SeqRange {
                first: 77,
                last: 77
            },
            SeqRange {
                first: 99,
                last: 99
            }
        ]
    );
    assert_eq!(
        a.problems(),
        ["app=api level=info: missing seq 40–49, 77, 99 (12 of 100 lines)"]
    );
}

#[test]
fn duplicates_out_of_order_and_strangers_are_told_apart() {
    let mut e = entries(&[0, 1, 2, 2, 4, 3, 5], "r1");
    e.push(Entry {
        ts_ns: 99_000_000_000,
        line: logfmt(6, "someone-else"),
    });
    e.push(Entry {
        ts_ns: 100_000_000_000,
        line: logfmt(600, "r1"),
    });
    let a = account_stream("app=billing level=warn", "r1", 6, &e);
    assert_eq!(a.duplicates, vec![(2, 2)]);
    assert_eq!(a.out_of_order, vec![OutOfOrder { seq: 3, after: 4 }]);
    assert!(a.missing.is_empty());
    assert_eq!(a.unexpected.len(), 2);
    let p = a.problems().join("\n");
    assert!(
        p.contains("app=billing level=warn: duplicate seq 2 (seen 2×)"),
        "{p}"
    );
    assert!(p.contains("out of order: seq 3 after seq 4"), "{p}");
    assert!(p.contains("2 unexpected line(s), e.g. \"level=info"), "{p}");
}

#[test]
fn whole_runs_name_absent_and_foreign_streams() {
    let mut expected = BTreeMap::new();
    expected.insert("app=api level=info".to_owned(), 3);
    expected.insert("app=api level=error".to_owned(), 3);
    let mut observed = BTreeMap::new();
    observed.insert("app=api level=info".to_owned(), entries(&[0, 1, 2], "r1"));
    observed.insert("app=ghost level=info".to_owned(), entries(&[0], "r1"));
    let acc = account("r1", &expected, &observed);
    assert!(!acc.is_clean());
    assert_eq!(acc.expected(), 6);
    assert_eq!(acc.received(), 3);
    let p = acc.as_result().unwrap_err();
    assert!(
        p.contains("app=api level=error: missing seq 0–2 (3 of 3 lines)"),
        "{p}"
    );
    assert!(
        p.contains("stream app=ghost level=info: not expected, 1 line(s)"),
        "{p}"
    );
    assert!(!p.contains("app=api level=info:"), "{p}");
}

#[test]
fn streams_group_by_app_and_level_from_a_real_answer() {
    let body = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/loki/query_range_streams.json"),
    )
    .unwrap();
    let streams = crate::client::loki::parse_query_response(&body)
        .unwrap()
        .data
        .into_streams()
        .unwrap();
    let grouped = group_by_key(&streams);
    let keys: Vec<&str> = grouped.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "app=billing level=info",
            "app=checkout level=error",
            "app=checkout level=info"
        ]
    );
    let expected: BTreeMap<String, u64> = grouped.keys().map(|k| (k.clone(), 5)).collect();
    let acc = account("r1", &expected, &grouped);
    assert!(acc.is_clean(), "{:?}", acc.problems());
    assert_eq!(acc.received(), 15);
}
