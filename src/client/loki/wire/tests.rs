use super::*;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/loki")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn streams_answer_parses_every_entry_with_nanosecond_timestamps() {
    let r = parse_query_response(&fixture("query_range_streams.json")).unwrap();
    let summary = r.summary.clone().expect("stats.summary");
    assert_eq!(summary.total_entries_returned, 15);
    let streams = r.data.into_streams().unwrap();
    assert_eq!(streams.len(), 3);
    let total: usize = streams.iter().map(|s| s.entries.len()).sum();
    assert_eq!(total, 15);
    let billing = &streams[0];
    assert_eq!(billing.labels["app"], "billing");
    assert_eq!(billing.labels["service_name"], "billing");
    assert_eq!(billing.entries[0].ts_ns, 1_795_547_825_000_000_000);
    assert!(billing.entries[0].line.contains("\"seq\": 0"));
}

#[test]
fn parsed_fields_become_labels() {
    let streams = parse_query_response(&fixture("query_range_json.json"))
        .unwrap()
        .data
        .into_streams()
        .unwrap();
    assert_eq!(streams.len(), 3);
    assert_eq!(streams[0].labels["amount"], "20");
    assert_eq!(streams[0].labels["seq"], "2");
    let logfmt = parse_query_response(&fixture("query_range_logfmt_filter.json"))
        .unwrap()
        .data
        .into_streams()
        .unwrap();
    // A parsed field named like a stream label gets the `_extracted` suffix.
    assert!(
        logfmt
            .iter()
            .all(|s| s.labels.contains_key("level_extracted"))
    );
    assert_eq!(logfmt[0].entries[0].line, "2 order placed");
}

#[test]
fn matrix_vector_and_scalar_answers_parse() {
    let m = parse_query_response(&fixture("query_range_matrix.json"))
        .unwrap()
        .data
        .into_matrix()
        .unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels["level"], "error");
    assert_eq!(
        m[0].samples,
        vec![
            (1_795_547_850_000, 3.0),
            (1_795_547_880_000, 5.0),
            (1_795_547_910_000, 2.0)
        ]
    );
    let v = parse_query_response(&fixture("query_instant_vector.json"))
        .unwrap()
        .data
        .into_vector()
        .unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[1].labels["app"].as_str(), v[1].value),
        ("checkout", 10.0)
    );
    assert_eq!(v[1].t_ms, 1_795_547_895_000);
    // What the fixture calls "scalar" is a one-sample vector with no labels.
    let s = parse_query_response(&fixture("query_instant_scalar.json"))
        .unwrap()
        .data
        .into_vector()
        .unwrap();
    assert_eq!(s.len(), 1);
    assert!(s[0].labels.is_empty());
    assert_eq!(s[0].value, 1.0);
    // A true scalar result, as `query=vector(2)`-style queries return.
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1795547895.5,"2"]}}"#;
    assert_eq!(
        parse_query_response(body).unwrap().data,
        QueryData::Scalar(1_795_547_895_500, 2.0)
    );
}

#[test]
fn a_wrong_result_type_is_named() {
    let r = parse_query_response(&fixture("query_range_matrix.json")).unwrap();
    assert_eq!(
        r.data.into_streams().unwrap_err(),
        "expected streams, got a matrix"
    );
    let err =
        parse_query_response(r#"{"status":"success","data":{"resultType":"table","result":[]}}"#)
            .unwrap_err();
    assert!(err.contains("unknown resultType \"table\""), "{err}");
}

#[test]
fn metadata_answers_parse() {
    assert_eq!(
        parse_string_list(&fixture("labels.json")).unwrap(),
        ["app", "job", "level", "service_name"]
    );
    assert_eq!(
        parse_string_list(&fixture("label_values_app.json")).unwrap(),
        ["billing", "checkout"]
    );
    assert_eq!(
        parse_series(&fixture("series.json")).unwrap(),
        Vec::<Labels>::new()
    );
    let series =
        parse_series(r#"{"status":"success","data":[{"app":"api","level":"info"}]}"#).unwrap();
    assert_eq!(series[0]["app"], "api");
    assert_eq!(
        parse_index_stats(&fixture("index_stats.json")).unwrap(),
        IndexStats {
            streams: 3,
            chunks: 3,
            bytes: 0,
            entries: 15
        }
    );
    // Loki leaves `data` out when there is no label at all.
    assert!(
        parse_string_list(r#"{"status":"success"}"#)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn plain_text_400s_become_bad_query_errors_with_their_position() {
    let body = fixture("error_bad_logql.json");
    let err = status_error("http://l/loki/api/v1/query_range", 400, &body);
    match &err {
        LokiError::BadQuery {
            position, message, ..
        } => {
            assert_eq!(*position, Some((1, 18)));
            assert!(
                message.starts_with("parse error at line 1, col 18: syntax error"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("rejected the query: parse error at line 1, col 18")
    );
    let err = status_error("u", 400, &fixture("error_no_selector.json"));
    match err {
        LokiError::BadQuery {
            position, message, ..
        } => {
            assert_eq!(position, None);
            assert!(
                message.contains("at least one regexp or equality matcher"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    match status_error(
        "u",
        503,
        "Ingester not ready: waiting for 15s after being ready\n",
    ) {
        LokiError::Status { status, body, .. } => {
            assert_eq!(status, 503);
            assert_eq!(
                body,
                "Ingester not ready: waiting for 15s after being ready"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn push_body_matches_what_loki_accepts() {
    let req: serde_json::Value = serde_json::from_str(&fixture("push-request.json")).unwrap();
    let first = &req["streams"][0];
    let labels: Labels = serde_json::from_value(first["stream"].clone()).unwrap();
    let entries: Vec<Entry> = first["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Entry {
            ts_ns: v[0].as_str().unwrap().parse().unwrap(),
            line: v[1].as_str().unwrap().to_owned(),
        })
        .collect();
    let body = push_body(&[PushStream { labels, entries }]);
    let ours: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ours["streams"][0], *first);
}

#[test]
fn label_text_quotes_values() {
    let mut l = Labels::new();
    l.insert("app".into(), "api".into());
    l.insert("msg".into(), "say \"hi\"".into());
    assert_eq!(label_text(&l), r#"{app="api", msg="say \"hi\""}"#);
}
