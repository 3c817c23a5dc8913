use super::*;

#[test]
fn parses_a_matrix_with_warnings() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"stackproof_gauge","replica":"0"},
             "values":[[1764000000.123,"1.5"],[1764000001.123,"2.5"]]}]},
            "warnings":["No StoreAPIs matched for this query"]}"#;
    let r = parse_query_response(body).unwrap();
    assert_eq!(r.series.len(), 1);
    assert_eq!(
        r.series[0].samples,
        vec![(1764000000123, 1.5), (1764000001123, 2.5)]
    );
    assert_eq!(
        r.series[0].label_text(),
        r#"{__name__="stackproof_gauge", replica="0"}"#
    );
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn parses_vector_scalar_and_errors() {
    let v = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"NaN"]}]}}"#;
    assert!(
        parse_query_response(v).unwrap().series[0].samples[0]
            .1
            .is_nan()
    );
    let s = r#"{"status":"success","data":{"resultType":"scalar","result":[2,"+Inf"]}}"#;
    assert_eq!(
        parse_query_response(s).unwrap().series[0].samples,
        vec![(2000, f64::INFINITY)]
    );
    let e = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
    assert_eq!(
        parse_query_response(e).unwrap_err(),
        "bad_data: parse error"
    );
}

#[test]
fn timestamps_keep_milliseconds() {
    assert_eq!(fmt_ts(1764000000123), "1764000000.123");
    assert_eq!(fmt_ts(5), "0.005");
}

#[test]
fn sums_own_metrics_by_label() {
    let text = "# HELP x\nthanos_shipper_uploads_total 3\nthanos_objstore_bucket_operations_total{bucket=\"b\",operation=\"upload\"} 4\nthanos_objstore_bucket_operations_total{bucket=\"b\",operation=\"get\"} 5\n";
    assert_eq!(
        sum_metric(text, "thanos_shipper_uploads_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        sum_metric(
            text,
            "thanos_objstore_bucket_operations_total",
            &[("operation", "upload")]
        ),
        Some(4.0)
    );
    assert_eq!(
        sum_metric(text, "thanos_objstore_bucket_operations_total", &[]),
        Some(9.0)
    );
    assert_eq!(sum_metric(text, "thanos_shipper_uploads", &[]), None);
    // A longer name with the metric as prefix is another metric.
    let text = "loki_flushed_total{reason=\"idle\"} 2\nloki_flushed_total_extra 100\n";
    assert_eq!(sum_metric(text, "loki_flushed_total", &[]), Some(2.0));
}
