use super::*;
use crate::platform::kube::mock::{self, Reply};
use serde_json::{Value, json};

/// Values for every placeholder the fixtures use.
pub(crate) fn sample_vars() -> Vec<(&'static str, String)> {
    vec![
        ("NAMESPACE", "stackproof".into()),
        ("NAME", "stackproof-thanos-query".into()),
        ("S3_IMAGE", crate::platform::kube::pins::MINIO_IMAGE.into()),
        ("S3_SECRET", "stackproof-s3".into()),
        (
            "EXPORTER_IMAGE",
            crate::platform::kube::pins::EXPORTER_IMAGE.into(),
        ),
        (
            "THANOS_IMAGE",
            crate::platform::kube::pins::THANOS_IMAGE.into(),
        ),
        ("REPLICA_LABEL", "replica".into()),
        ("SIDECAR_SERVICE", "sp-thanos-discovery".into()),
        (
            "REPLICA_LABEL_ARGS",
            "            - --query.replica-label=replica".into(),
        ),
        (
            "ENDPOINT_ARGS",
            "            - --endpoint=dnssrv+_grpc._tcp.sp-thanos-discovery.stackproof.svc.cluster.local\n            - --endpoint=dnssrv+_grpc._tcp.stackproof-thanos-store.stackproof.svc.cluster.local"
                .into(),
        ),
    ]
}

/// Deserializes `doc` into the typed object its kind names and back:
/// a field the type does not know disappears, and the comparison fails.
pub(crate) fn assert_valid_object(doc: &Value) {
    fn round<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> Value {
        let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc}"));
        serde_json::to_value(typed).unwrap()
    }
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use k8s_openapi::api::core::v1::{
        ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service,
    };
    let kind = doc["kind"].as_str().unwrap();
    let back = match kind {
        "Deployment" => round::<Deployment>(doc),
        "StatefulSet" => round::<StatefulSet>(doc),
        "Service" => round::<Service>(doc),
        "ConfigMap" => round::<ConfigMap>(doc),
        "PersistentVolumeClaim" => round::<PersistentVolumeClaim>(doc),
        "Secret" => round::<Secret>(doc),
        "Namespace" => round::<Namespace>(doc),
        other => panic!("no typed check for kind {other}"),
    };
    assert_eq!(&back, doc, "{kind} has fields its type does not know");
}

fn rendered_docs(name: &str, template: &str) -> Vec<Value> {
    let text = render(name, template, &sample_vars()).unwrap();
    let objs = parse(name, &text).unwrap();
    assert!(!objs.is_empty(), "{name} has no document");
    objs.iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect()
}

#[test]
fn every_manifest_fixture_renders_into_valid_kubernetes_objects() {
    for (name, t) in [
        ("object-store-minio.yaml", fixtures::OBJECT_STORE_MINIO),
        (
            "object-store-seaweedfs.yaml",
            fixtures::OBJECT_STORE_SEAWEEDFS,
        ),
        ("exporter.yaml", fixtures::EXPORTER),
        ("thanos.yaml", fixtures::THANOS),
        ("thanos-query.yaml", fixtures::THANOS_QUERY),
    ] {
        for doc in rendered_docs(name, t) {
            assert_valid_object(&doc);
            assert_eq!(
                doc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "stackproof",
                "{name}: {} lacks the managed-by label",
                doc["metadata"]["name"]
            );
        }
    }
}

/// A snapshot of what each fixture holds, in order: adding, removing or
/// renaming an object is a visible change to this test.
#[test]
fn fixture_snapshots() {
    let kinds = |name, t| -> Vec<String> {
        rendered_docs(name, t)
            .iter()
            .map(|d| {
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        kinds("minio", fixtures::OBJECT_STORE_MINIO),
        [
            "PersistentVolumeClaim/stackproof-s3-data",
            "Deployment/stackproof-s3",
            "Service/stackproof-s3"
        ]
    );
    assert_eq!(
        kinds("seaweedfs", fixtures::OBJECT_STORE_SEAWEEDFS),
        [
            "PersistentVolumeClaim/stackproof-s3-data",
            "Deployment/stackproof-s3",
            "Service/stackproof-s3"
        ]
    );
    assert_eq!(
        kinds("exporter", fixtures::EXPORTER),
        [
            "ConfigMap/stackproof-exporter",
            "Deployment/stackproof-exporter",
            "Service/stackproof-exporter"
        ]
    );
    assert_eq!(
        kinds("thanos", fixtures::THANOS),
        [
            "Deployment/stackproof-thanos-store",
            "Service/stackproof-thanos-store",
            "Deployment/stackproof-thanos-compact"
        ]
    );
    let q = rendered_docs("thanos-query", fixtures::THANOS_QUERY);
    let args: Vec<&str> = q[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "query",
            "--http-address=0.0.0.0:10902",
            "--grpc-address=0.0.0.0:10901",
            "--endpoint=dnssrv+_grpc._tcp.sp-thanos-discovery.stackproof.svc.cluster.local",
            "--endpoint=dnssrv+_grpc._tcp.stackproof-thanos-store.stackproof.svc.cluster.local",
            "--query.replica-label=replica",
        ]
    );
    let compact = &rendered_docs("thanos", fixtures::THANOS)[2];
    let args = compact["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    for must in [
        "--consistency-delay=0s",
        "--deduplication.replica-label=replica",
        "--deduplication.func=penalty",
        "--wait",
    ] {
        assert!(args.contains(must), "compactor lacks {must}: {args}");
    }
    // The selector is YAML in a flag: it must parse, and drop exactly
    // the clusters the compactor scenario backfills.
    let selector = compact["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str()?.strip_prefix("--selector.relabel-config="))
        .next()
        .expect("a selector");
    let rules: serde_json::Value = serde_saphyr::from_str(selector).unwrap();
    assert_eq!(rules[0]["action"], "drop");
    assert_eq!(rules[0]["source_labels"][0], "cluster");
    assert_eq!(
        rules[0]["regex"],
        format!("{}.*", crate::data::backfill::CLUSTER_PREFIX)
    );
}

#[test]
fn a_placeholder_without_a_value_is_an_error_naming_it() {
    let e = render("t.yaml", "image: @NOPE@\nmail: a@b.c\n", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "manifest t.yaml: placeholder @NOPE@ has no value"
    );
    // A lone @ (an address, a digest) is left alone.
    assert_eq!(
        render("t", "a@b.c @x@ image@sha256:ff", &[]).unwrap(),
        "a@b.c @x@ image@sha256:ff"
    );
}

#[test]
fn a_document_without_a_name_is_refused() {
    let e = parse(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("bad.yaml document 1: no metadata.name"),
        "{e}"
    );
    let e = parse("bad.yaml", "kind: [\n").unwrap_err();
    assert!(e.to_string().starts_with("manifest bad.yaml:"), "{e}");
}

/// The exporter script in the ConfigMap computes exactly what the Rust
/// exporter serves (when python3 is on this machine).
#[test]
fn the_in_cluster_exporter_matches_the_rust_exporter() {
    let docs = rendered_docs("exporter", fixtures::EXPORTER);
    let script = docs[0]["data"]["exporter.py"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.py");
    std::fs::write(&path, script).unwrap();
    for t in [1_764_061_718_123_i64, 1_764_061_740_000, 1_764_061_799_999] {
        let out = match std::process::Command::new("python3")
            .arg(&path)
            .arg(t.to_string())
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                eprintln!("python3 not runnable here ({e}): exporter script not compared");
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let py = String::from_utf8(out.stdout).unwrap();
        let rust = crate::data::exporter::render(t);
        // Same lines; values compared as floats (Python writes 60.0, Rust 60).
        let (pl, rl): (Vec<&str>, Vec<&str>) = (py.lines().collect(), rust.lines().collect());
        assert_eq!(pl.len(), rl.len(), "{py}\n---\n{rust}");
        for (p, r) in pl.iter().zip(&rl) {
            if p.starts_with('#') {
                assert_eq!(p, r);
                continue;
            }
            let pf: Vec<&str> = p.split(' ').collect();
            let rf: Vec<&str> = r.split(' ').collect();
            assert_eq!(pf[0], rf[0]);
            assert_eq!(
                pf[1].parse::<f64>().unwrap().to_bits(),
                rf[1].parse::<f64>().unwrap().to_bits(),
                "{p} vs {r}"
            );
            assert_eq!(pf[2], rf[2]);
        }
    }
}

fn resource_list(group_version: &str, kinds: &[(&str, &str)]) -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": group_version,
        "resources": kinds.iter().map(|(plural, kind)| json!({
            "name": plural, "singularName": "", "namespaced": true, "kind": kind,
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]
        })).collect::<Vec<_>>()
    })
}

/// Serves discovery for core/v1 and apps/v1 and echoes applied objects.
pub(crate) fn discovery_and_echo(req: &mock::Recorded) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v1") => Reply::ok(resource_list(
            "v1",
            &[
                ("configmaps", "ConfigMap"),
                ("services", "Service"),
                ("persistentvolumeclaims", "PersistentVolumeClaim"),
                ("secrets", "Secret"),
                ("pods", "Pod"),
            ],
        )),
        ("GET", "/apis/apps/v1") => Reply::ok(resource_list(
            "apps/v1",
            &[
                ("deployments", "Deployment"),
                ("statefulsets", "StatefulSet"),
            ],
        )),
        ("PATCH", _) => Reply::ok(req.json()),
        ("DELETE", _) => Reply::status(404),
        _ => Reply::status(404),
    }
}

#[tokio::test]
async fn apply_is_server_side_in_document_order_with_one_discovery_per_group() {
    let api = mock::serve(discovery_and_echo);
    let text = render("thanos.yaml", fixtures::THANOS, &sample_vars()).unwrap();
    let docs = parse("thanos.yaml", &text).unwrap();
    let mut applier = Applier::new(api.client.clone(), "run-1");
    applier.apply_all(&docs).await.unwrap();
    assert_eq!(
        api.calls(),
        [
            "GET /apis/apps/v1",
            "PATCH /apis/apps/v1/namespaces/run-1/deployments/stackproof-thanos-store",
            "GET /api/v1",
            "PATCH /api/v1/namespaces/run-1/services/stackproof-thanos-store",
            "PATCH /apis/apps/v1/namespaces/run-1/deployments/stackproof-thanos-compact",
        ]
    );
    for r in api.requests().iter().filter(|r| r.method == "PATCH") {
        assert_eq!(r.content_type, "application/apply-patch+yaml");
        assert!(r.query.contains("fieldManager=stackproof"), "{}", r.query);
        assert!(r.query.contains("force=true"), "{}", r.query);
    }
}

#[tokio::test]
async fn an_apply_failure_names_the_object_and_namespace() {
    let api = mock::serve(|req| match req.method.as_str() {
        "PATCH" => Reply::status(403),
        _ => discovery_and_echo(req),
    });
    let text = render("exporter.yaml", fixtures::EXPORTER, &sample_vars()).unwrap();
    let docs = parse("exporter.yaml", &text).unwrap();
    let err = Applier::new(api.client.clone(), "run-1")
        .apply_all(&docs)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("apply ConfigMap/stackproof-exporter in namespace run-1:"),
        "{err}"
    );
    // Stopped at the first failure.
    assert_eq!(
        api.calls()
            .iter()
            .filter(|c| c.starts_with("PATCH"))
            .count(),
        1
    );
}
