//! `heap_profile` and its twin on a real local stack: every Prometheus and
//! Thanos component's heap profile captured, decoded, written to the report.

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, heap_profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heap_profiles_are_captured_and_a_component_without_one_is_named() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let r = scenario::run(heap_profile::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();
    let targets = stack.heap_profile_targets().unwrap();
    let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "prometheus-0",
            "sidecar-0",
            "prometheus-1",
            "sidecar-1",
            "store",
            "query"
        ]
    );
    for name in names {
        let heap = r.fact_value(&format!("{name}: heap in use"));
        assert!(
            heap.and_then(|v| v.as_bytes()).is_some_and(|b| b > 0),
            "{name}: heap in use missing: {:#?}",
            r.facts
        );
        for key in ["heap in use per head series", "top allocation sites"] {
            let k = format!("{name}: {key}");
            assert!(
                r.fact_value(&k).is_some_and(|v| !v.to_string().is_empty()),
                "{k} missing: {:#?}",
                r.facts
            );
        }
        let file = format!("{name}-heap.pb.gz");
        let a = r.artifacts.iter().find(|a| a.name == file).expect(&file);
        assert_eq!(&a.bytes[..2], &[0x1f, 0x8b], "{file} is gzip");
    }
    // heap.svg: rendered where Go and Graphviz are, said absent otherwise.
    let svg = r.artifacts.iter().any(|a| a.name.ends_with(".svg"));
    let absent = r
        .fact_value("heap.svg")
        .is_some_and(|v| v.to_string().starts_with("not rendered: "));
    assert!(svg != absent, "{:#?}", r.facts);

    let dir = tempfile::tempdir().unwrap();
    let out = stackproof::report::write_artifacts(dir.path(), &r)
        .unwrap()
        .unwrap();
    assert!(out.join("prometheus-0-heap.pb.gz").is_file());

    let t = heap_profile::twin_component_without_profile(&mut stack).await;
    let msg = t.expect_failed(heap_profile::checks::CAPTURED);
    assert!(msg.starts_with("s3: GET http://127.0.0.1:"), "{msg}");
    assert!(msg.contains("/debug/pprof/heap"), "{msg}");
}
