use super::*;
use serde_json::Value;

fn params() -> ValuesParams {
    ValuesParams {
        namespace: "stackproof-ab12cd".into(),
        fullname: "sp".into(),
        scrape_interval: Duration::from_secs(1),
        block_duration: Duration::from_secs(120),
        replica_label: "replica".into(),
        cluster: "stackproof".into(),
        replicas: 2,
        s3_secret: "stackproof-s3".into(),
        bucket: "stackproof".into(),
        s3_endpoint: "stackproof-s3.stackproof-ab12cd.svc:9000".into(),
        s3_region: "us-east-1".into(),
        s3_insecure: true,
    }
}

fn yaml(s: &str) -> Value {
    serde_saphyr::from_str(s).unwrap()
}

#[test]
fn durations_are_written_the_way_prometheus_reads_them() {
    assert_eq!(go_duration(Duration::from_secs(1)), "1s");
    assert_eq!(go_duration(Duration::from_secs(120)), "2m");
    assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
    assert_eq!(go_duration(Duration::ZERO), "0s");
}

#[test]
fn kube_prometheus_stack_values_snapshot() {
    let v = yaml(&kube_prometheus_stack_values(&params()).unwrap());
    let ps = &v["prometheus"]["prometheusSpec"];
    assert_eq!(v["fullnameOverride"], "sp");
    assert_eq!(ps["replicas"], 2);
    assert_eq!(ps["replicaExternalLabelName"], "");
    assert_eq!(
        ps["externalLabels"]["replica"],
        "$(STATEFULSET_ORDINAL_NUMBER)"
    );
    assert_eq!(
        ps["additionalAlertRelabelConfigs"][0],
        serde_json::json!({"action": "labeldrop", "regex": "replica"})
    );
    assert_eq!(ps["prometheusExternalLabelName"], "");
    assert_eq!(ps["externalLabels"]["cluster"], "stackproof");
    assert_eq!(ps["scrapeInterval"], "1s");
    assert_eq!(ps["thanos"]["blockSize"], "2m");
    assert_eq!(ps["thanos"]["image"], pins::THANOS_IMAGE);
    assert_eq!(
        ps["thanos"]["objectStorageConfig"]["existingSecret"],
        serde_json::json!({"name": "stackproof-s3", "key": "objstore.yml"})
    );
    assert_eq!(
        format!("{}:{}", ps["image"]["registry"].as_str().unwrap(), "")
            + ps["image"]["repository"].as_str().unwrap(),
        "quay.io:prometheus/prometheus"
    );
    assert_eq!(
        format!(
            "quay.io/prometheus/prometheus:{}",
            ps["image"]["tag"].as_str().unwrap()
        ),
        pins::PROMETHEUS_IMAGE
    );
    let am = &v["alertmanager"]["alertmanagerSpec"]["image"];
    assert_eq!(
        format!(
            "quay.io/prometheus/alertmanager:{}",
            am["tag"].as_str().unwrap()
        ),
        pins::ALERTMANAGER_IMAGE
    );
    let job = &ps["additionalScrapeConfigs"][0];
    assert_eq!(job["honor_timestamps"], true);
    assert_eq!(
        job["static_configs"][0]["targets"][0],
        "stackproof-exporter.stackproof-ab12cd.svc:9100"
    );
    // The operator watches only the run's namespace; no webhooks, no Grafana.
    assert_eq!(
        v["prometheusOperator"]["namespaces"]["releaseNamespace"],
        true
    );
    assert_eq!(
        v["prometheusOperator"]["admissionWebhooks"]["enabled"],
        false
    );
    assert_eq!(v["grafana"]["enabled"], false);
    // No patches of the operator's containers.
    assert!(ps["containers"].is_null() && ps["initContainers"].is_null());
}

#[test]
fn loki_values_snapshot_and_no_secret_in_them() {
    let text = loki_values(&params()).unwrap();
    let v = yaml(&text);
    assert_eq!(v["deploymentMode"], "SingleBinary");
    assert_eq!(v["loki"]["image"]["tag"], "3.7.7");
    assert_eq!(
        format!(
            "docker.io/grafana/loki:{}",
            v["loki"]["image"]["tag"].as_str().unwrap()
        ),
        pins::LOKI_IMAGE
    );
    let s3 = &v["loki"]["storage"]["s3"];
    assert_eq!(s3["endpoint"], "stackproof-s3.stackproof-ab12cd.svc:9000");
    assert_eq!(s3["insecure"], true);
    assert_eq!(s3["accessKeyId"], "${AWS_ACCESS_KEY_ID}");
    assert_eq!(s3["secretAccessKey"], "${AWS_SECRET_ACCESS_KEY}");
    assert_eq!(v["loki"]["schemaConfig"]["configs"][0]["schema"], "v13");
    assert_eq!(v["loki"]["schemaConfig"]["configs"][0]["store"], "tsdb");
    assert_eq!(v["loki"]["storage_config"]["use_thanos_objstore"], false);
    assert_eq!(v["singleBinary"]["extraArgs"][0], "-config.expand-env=true");
    assert_eq!(
        v["singleBinary"]["extraEnvFrom"][0]["secretRef"]["name"],
        "stackproof-s3-loki"
    );
    assert_eq!(v["minio"]["enabled"], false);
    assert_eq!(v["chunksCache"]["enabled"], false);
}

fn target() -> HelmTarget<'static> {
    HelmTarget {
        kubeconfig: Path::new("/run/kubeconfig"),
        context: Some("staging"),
        namespace: "stackproof-ab12cd",
    }
}

#[test]
fn helm_installs_the_pinned_chart_version_without_waiting() {
    let t = target();
    let a = install_args(
        &pins::KUBE_PROMETHEUS_STACK,
        &ChartSource::Repository,
        "sp",
        Path::new("/run/kps.yaml"),
        &t,
        true,
    );
    assert_eq!(
        cmd::command_line("helm", &a),
        "helm upgrade --install sp kube-prometheus-stack --repo https://prometheus-community.github.io/helm-charts \
         --version 88.5.3 --values /run/kps.yaml --timeout 5m --skip-crds --namespace stackproof-ab12cd \
         --kubeconfig /run/kubeconfig --kube-context staging"
    );
    assert!(!a.iter().any(|x| x == "--wait"));
    let u = uninstall_args("sp", &t);
    assert_eq!(&u[..3], ["uninstall", "sp", "--ignore-not-found"]);
}

#[test]
fn a_packaged_chart_is_installed_from_its_file_without_a_repository() {
    let t = target();
    let a = install_args(
        &pins::LOKI,
        &ChartSource::Package("/charts/loki-18.11.0.tgz".into()),
        "stackproof-loki",
        Path::new("/run/loki.yaml"),
        &t,
        false,
    );
    assert_eq!(
        cmd::command_line("helm", &a),
        "helm upgrade --install stackproof-loki /charts/loki-18.11.0.tgz --values /run/loki.yaml \
         --timeout 5m --namespace stackproof-ab12cd --kubeconfig /run/kubeconfig --kube-context staging"
    );
    assert!(!a.iter().any(|x| x == "--repo" || x == "--version"));
}

#[test]
fn charts_come_from_the_charts_dir_only_when_it_is_set() {
    let kps = &pins::KUBE_PROMETHEUS_STACK;
    assert_eq!(chart_source(kps, None).unwrap(), ChartSource::Repository);
    // An empty variable counts as unset, as shells leave it with `VAR=`.
    assert_eq!(
        chart_source(kps, Some(OsStr::new(""))).unwrap(),
        ChartSource::Repository
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kube-prometheus-stack-88.5.3.tgz");
    assert_eq!(package_file_name(kps), "kube-prometheus-stack-88.5.3.tgz");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(
        chart_source(kps, Some(dir.path().as_os_str())).unwrap(),
        ChartSource::Package(file)
    );
}

#[test]
fn a_charts_dir_without_the_package_names_the_file_and_how_to_make_it() {
    let dir = tempfile::tempdir().unwrap();
    // Another version of the chart is not taken instead of the pinned one.
    std::fs::write(dir.path().join("loki-6.55.0.tgz"), b"").unwrap();
    let e = chart_source(&pins::LOKI, Some(dir.path().as_os_str())).unwrap_err();
    let msg = e.to_string();
    let want = dir.path().join("loki-18.11.0.tgz");
    assert!(matches!(e, KubeError::Env { ref var, .. } if var == CHARTS_DIR_VAR));
    assert!(msg.starts_with("STACKPROOF_CHARTS_DIR: "), "{msg}");
    assert!(
        msg.contains(&format!("{} not found", want.display())),
        "{msg}"
    );
    assert!(msg.contains("`helm package "), "{msg}");
    assert!(msg.contains("loki 18.11.0"), "{msg}");
    assert!(msg.contains("unset STACKPROOF_CHARTS_DIR"), "{msg}");
}
