//! The Kubernetes platform against a recorded API: how faults and deploys
//! translate into requests (the real cluster is in tests/kind_*.rs).

use std::collections::BTreeSet;
use std::time::Duration;

use kube::Client;

use super::manifests::Applier;
use super::names::create_namespace;
use super::names::*;
use super::s3_server::S3Server;
use super::*;
use crate::client::objstore::{S3Credentials, S3Target};
use crate::platform::kube::manifests::tests::{assert_valid_object, discovery_and_echo};
use crate::platform::kube::mock::{self, Reply};
use crate::platform::{Endpoints, Platform, StackShape, Stores};
use serde_json::json;

fn target() -> S3Target {
    S3Target {
        endpoint: "stackproof-s3.stackproof-r1.svc:9000".into(),
        bucket: "stackproof".into(),
        region: "us-east-1".into(),
        insecure: true,
        credentials: S3Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "s3cr3t-never-printed".into(),
        },
    }
}

#[test]
fn cleanup_uninstalls_releases_then_deletes_the_namespace_on_drop() {
    if crate::process::keep_requested() {
        eprintln!("STACKPROOF_KEEP is set: drop deletes nothing, not tested");
        return;
    }
    let tools = super::cmd::tests::recording_tools(&["helm", "kubectl"]);
    let g = NamespaceGuard {
        namespace: "stackproof-r1".into(),
        releases: vec!["sp-r1".into(), "stackproof-loki".into()],
        kubeconfig: "/home/u/.kube/config".into(),
        context: Some("staging".into()),
        tool_dir: Some(tools.path().to_owned()),
    };
    drop(g);
    assert_eq!(
        super::cmd::tests::recorded(&tools),
        [
            "helm uninstall sp-r1 --ignore-not-found --namespace stackproof-r1 --kubeconfig /home/u/.kube/config --kube-context staging",
            "helm uninstall stackproof-loki --ignore-not-found --namespace stackproof-r1 --kubeconfig /home/u/.kube/config --kube-context staging",
            "kubectl delete namespace stackproof-r1 --ignore-not-found --wait=false --kubeconfig /home/u/.kube/config --context staging",
        ]
    );
}

#[test]
fn names_follow_the_chart_and_the_operator() {
    let n = Names::new("sp");
    assert_eq!(n.prometheus(), "sp-prometheus");
    assert_eq!(n.statefulset(), "prometheus-sp-prometheus");
    assert_eq!(n.pod(1), "prometheus-sp-prometheus-1");
    assert_eq!(n.discovery(), "sp-thanos-discovery");
    assert_eq!(n.alertmanager_pod(), "alertmanager-sp-alertmanager-0");
}

#[test]
fn the_s3_secret_is_a_valid_secret_holding_the_objstore_config() {
    let s = s3_secret("stackproof-r1", "r1", &target());
    let v = serde_json::to_value(&s).unwrap();
    assert_valid_object(&v);
    let data = s.data.unwrap();
    let objstore = String::from_utf8(data["objstore.yml"].0.clone()).unwrap();
    let parsed = crate::stack::yaml::parsed(&objstore);
    assert_eq!(
        parsed["config"]["endpoint"], "stackproof-s3.stackproof-r1.svc:9000",
        "{objstore}"
    );
    assert_eq!(parsed["config"]["insecure"], true, "{objstore}");
    assert_eq!(data["AWS_SECRET_ACCESS_KEY"].0, b"s3cr3t-never-printed");
    // Debug output of what the platform carries never shows the key.
    assert!(!format!("{:?}", target()).contains("s3cr3t"));
}

#[test]
fn extra_queries_carry_their_replica_labels_or_none() {
    let n = Names::new("sp");
    for labels in [
        vec![],
        vec!["replica".to_owned()],
        vec!["replica".to_owned(), "prometheus_replica".to_owned()],
    ] {
        let text = query_manifest(
            "ns",
            &n,
            "stackproof-thanos-query-extra-0",
            &labels,
            Stores::All,
        )
        .unwrap();
        let objs = manifests::parse("q", &text).unwrap();
        let dep = serde_json::to_value(&objs[0]).unwrap();
        assert_valid_object(&dep);
        let args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .clone();
        let got: Vec<&str> = args
            .iter()
            .filter_map(|a| a.as_str()?.strip_prefix("--query.replica-label="))
            .collect();
        assert_eq!(got, labels);
        assert_eq!(dep["metadata"]["name"], "stackproof-thanos-query-extra-0");
    }
}

#[tokio::test]
async fn a_failed_deploy_says_which_pods_were_not_ready() {
    let api = mock::serve(|req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v1/namespaces") => Reply::object_for(req),
        // The Secret cannot be written: deploy stops there.
        ("PATCH", _) => Reply::status(403),
        ("GET", "/api/v1/namespaces/stackproof-r1/pods") => Reply::list(
            "PodList",
            vec![json!({"metadata": {"name": "stackproof-s3-abc"},
                        "status": {"phase": "Pending", "containerStatuses": [{
                            "name": "minio", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                            "state": {"waiting": {"reason": "ErrImagePull"}}}]}})],
        ),
        _ => Reply::status(404),
    });
    let mut stack = stack_on(api.client.clone());
    stack.opts.run_dir = tempfile::tempdir().unwrap().keep();
    let e =
        match KubePlatform::deploy(api.client.clone(), stack.opts.clone(), Teardown::new()).await {
            Ok(_) => panic!("deploy succeeded against a forbidding API"),
            Err(e) => e.to_string(),
        };
    assert!(
        e.starts_with(
            "deploying into namespace stackproof-r1: apply secret stackproof-r1/stackproof-s3:"
        ),
        "{e}"
    );
    assert!(
        e.contains(
            "pods: stackproof-s3-abc: phase Pending, not ready (waiting: minio ErrImagePull)"
        ),
        "{e}"
    );
    assert!(e.contains("STACKPROOF_KEEP=1"), "{e}");
}

#[tokio::test]
async fn an_existing_namespace_is_refused_not_adopted() {
    let api = mock::serve(|req| {
        if req.method == "POST" {
            Reply::status(409)
        } else {
            Reply::status(404)
        }
    });
    let e = create_namespace(&api.client, "stackproof-r1", "r1")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "namespace stackproof-r1: already exists and stackproof did not create it: use another run id"
    );
    let body = api.requests()[0].json();
    assert_eq!(body["metadata"]["labels"][RUN_LABEL], "r1");
}

/// A stack value wired to a mock API, as `deploy` leaves it.
fn stack_on(client: Client) -> KubePlatform {
    KubePlatform {
        opts: KubeStackOptions {
            platform: "kind",
            cluster: "stackproof-r1".into(),
            run_id: "r1".into(),
            fullname: "sp".into(),
            shape: StackShape {
                scrape_interval: Duration::from_secs(1),
                block_duration: Duration::from_secs(120),
                replica_label: "replica".into(),
                cluster: "stackproof".into(),
                replicas: 2,
                config_reload: Duration::from_secs(16),
            },
            object_store: ObjectStore::InCluster {
                server: S3Server::Minio,
                bucket: "stackproof".into(),
            },
            kubeconfig: "/nonexistent".into(),
            context: None,
            run_dir: std::env::temp_dir(),
            timeout: Duration::from_secs(5),
            skip_crds: false,
            loki: true,
            receiver_ip: None,
        },
        client,
        ns: "stackproof-r1".into(),
        names: Names::new("sp"),
        endpoints: Endpoints {
            query: "http://127.0.0.1:1".into(),
            prometheus: vec![],
            sidecars: vec![],
            store: None,
            s3: target(),
        },
        forwards: vec![],
        components: vec![],
        killed: BTreeSet::new(),
        extras: 0,
        compactions: 0,
        loki: None,
        alertmanager_url: None,
        alertmanager_urls: Vec::new(),
        alertmanagers_down: false,
        ready_after: Duration::ZERO,
        teardown: Teardown::new(),
    }
}

#[tokio::test]
async fn killing_a_replica_pauses_the_operator_narrows_the_set_and_deletes_the_pod() {
    let api = mock::serve(
        |req| match (req.method.as_str(), req.query.contains("watch=true")) {
            ("PATCH" | "DELETE", _) => Reply::object_for(req),
            // The pod is gone: empty list, then an empty watch.
            ("GET", false) => Reply::list("PodList", vec![]),
            ("GET", true) => Reply::Hang,
            _ => Reply::status(404),
        },
    );
    let mut stack = stack_on(api.client.clone());
    stack.kill_replica(0).await.unwrap();
    let calls = api.calls();
    assert_eq!(
        &calls[..4],
        [
            "PATCH /apis/monitoring.coreos.com/v1/namespaces/stackproof-r1/prometheuses/sp-prometheus",
            "PATCH /apis/apps/v1/namespaces/stackproof-r1/statefulsets/prometheus-sp-prometheus",
            "DELETE /api/v1/namespaces/stackproof-r1/pods/prometheus-sp-prometheus-0",
            "GET /api/v1/namespaces/stackproof-r1/pods",
        ]
    );
    let reqs = api.requests();
    assert_eq!(
        reqs[1].json(),
        json!({"spec": {"replicas": 1, "ordinals": {"start": 1}}})
    );
    assert_eq!(reqs[2].json()["gracePeriodSeconds"], 0);
    assert!(
        stack
            .kill_replica(2)
            .await
            .unwrap_err()
            .to_string()
            .contains("no replica 2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_pod_that_will_not_go_away_times_out_naming_it() {
    let pod = json!({"metadata": {"name": "prometheus-sp-prometheus-1", "namespace": "stackproof-r1", "resourceVersion": "1",
                     "deletionTimestamp": "2026-11-25T09:00:00Z"}});
    let api =
        mock::serve(
            move |req| match (req.method.as_str(), req.query.contains("watch=true")) {
                ("PATCH", _) => Reply::object_for(req),
                ("DELETE", _) => {
                    Reply::ok(json!({"apiVersion": "v1", "kind": "Status", "status": "Success"}))
                }
                ("GET", false) => Reply::list("PodList", vec![pod.clone()]),
                _ => Reply::Hang,
            },
        );
    let mut stack = stack_on(api.client.clone());
    // Bounded by the kill's own 120 s wait; the test waits on a paused clock.
    let e = tokio::time::timeout(Duration::from_secs(150), stack.kill_replica(1)).await;
    let msg = match e {
        Ok(r) => r.unwrap_err().to_string(),
        Err(_) => panic!("the kill's wait has no deadline"),
    };
    assert!(
        msg.contains("pod stackproof-r1/prometheus-sp-prometheus-1 to be gone"),
        "{msg}"
    );
    assert!(msg.contains("last seen: pod still terminating"), "{msg}");
}

#[tokio::test]
async fn object_storage_outage_scales_the_s3_deployment() {
    let api = mock::serve(
        |req| match (req.method.as_str(), req.query.contains("watch=true")) {
            ("PATCH", _) => Reply::object_for(req),
            ("GET", false) => Reply::list(
                "DeploymentList",
                vec![
                    json!({"metadata": {"name": "stackproof-s3", "generation": 2, "resourceVersion": "1"},
                        "spec": {"replicas": 0, "selector": {}, "template": {}},
                        "status": {"observedGeneration": 2}}),
                ],
            ),
            _ => Reply::Hang,
        },
    );
    let mut stack = stack_on(api.client.clone());
    stack.stop_object_storage().await.unwrap();
    let reqs = api.requests();
    assert_eq!(
        reqs[0].path,
        "/apis/apps/v1/namespaces/stackproof-r1/deployments/stackproof-s3"
    );
    assert_eq!(reqs[0].json(), json!({"spec": {"replicas": 0}}));
    stack.opts.object_store = ObjectStore::External(target());
    let e = stack.stop_object_storage().await.unwrap_err().to_string();
    assert_eq!(
        e,
        "stopping a real S3 bucket is not supported on the kind platform"
    );
}

#[tokio::test]
async fn applying_an_extra_query_goes_through_discovery_and_server_side_apply() {
    let api = mock::serve(discovery_and_echo);
    let text = query_manifest(
        "stackproof-r1",
        &Names::new("sp"),
        "stackproof-thanos-query-extra-0",
        &[],
        Stores::All,
    )
    .unwrap();
    let objs = manifests::parse("q", &text).unwrap();
    Applier::new(api.client.clone(), "stackproof-r1")
        .apply_all(&objs)
        .await
        .unwrap();
    assert_eq!(
        api.calls(),
        [
            "GET /apis/apps/v1",
            "PATCH /apis/apps/v1/namespaces/stackproof-r1/deployments/stackproof-thanos-query-extra-0",
            "GET /api/v1",
            "PATCH /api/v1/namespaces/stackproof-r1/services/stackproof-thanos-query-extra-0",
        ]
    );
}
