//! The `cluster` platform on a cluster it did not create: a kind cluster
//! made beforehand (standing in for the user's, prometheus-operator's CRDs
//! installed as a kube-prometheus-stack user has them), given by kubeconfig
//! and context, and a bucket given by environment variables on an S3
//! server this test runs (SeaweedFS on the kind network's gateway address,
//! which the pods and this machine both reach). The suite passes, and
//! afterwards the cluster and the S3 server hold exactly what they held
//! before — also after Ctrl-C in the middle of a run.
//!
//! Runs where the kind platform can (the offline set of
//! `scripts/kind-offline`); skipped otherwise, with one line saying why.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use stackproof::client::objstore::{Objstore, S3Credentials, S3Target};
use stackproof::platform::kind::{KindCluster, images};
use stackproof::platform::kube::cmd;
use stackproof::process::{ProcessSpec, RunningProcess};
use stackproof::stack::config::{SeaweedPorts, seaweedfs_args_on};

/// What "the cluster holds" means here: every namespace and every
/// cluster-scoped object a run could leave.
const CLUSTER_KINDS: &[&str] = &[
    "namespaces",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
    "persistentvolumes",
    "storageclasses",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "priorityclasses",
];

fn kubectl(kubeconfig: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd::resolve("kubectl"))
        .args(["--kubeconfig", kubeconfig])
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every object name of [`CLUSTER_KINDS`], one set.
fn cluster_objects(kubeconfig: &str) -> BTreeSet<String> {
    CLUSTER_KINDS
        .iter()
        .flat_map(|k| {
            kubectl(kubeconfig, &["get", k, "-o", "name"])
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every bucket and every key of the S3 server, one set.
async fn s3_objects(s3: &S3Target, buckets: &[&str]) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for b in buckets {
        let store = Objstore::new(S3Target {
            bucket: (*b).to_owned(),
            ..s3.clone()
        });
        for o in store.list("").await.expect("list the bucket") {
            all.insert(format!("{b}/{}", o.key));
        }
    }
    all
}

/// Waits (bounded: namespaces terminate, volumes are reclaimed
/// asynchronously) until the cluster holds `before` again.
fn assert_cluster_back_to(kubeconfig: &str, before: &BTreeSet<String>) {
    let mut last = BTreeSet::new();
    let back = stackproof::eventually::poll_for(Duration::from_secs(300), || {
        last = cluster_objects(kubeconfig);
        (last == *before).then_some(())
    });
    if back.is_none() {
        let added: Vec<_> = last.difference(before).collect();
        let removed: Vec<_> = before.difference(&last).collect();
        panic!("the cluster differs after the run: added {added:?}, removed {removed:?}");
    }
}

/// The kind network's IPv4 gateway: this machine's address on it.
fn kind_gateway() -> String {
    let out = std::process::Command::new("docker")
        .args([
            "network",
            "inspect",
            "kind",
            "--format",
            "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
        ])
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|g| g.contains('.'))
        .expect("the kind network has an IPv4 gateway")
        .to_owned()
}

/// Installs prometheus-operator's CRDs from the packaged chart, as a
/// cluster that runs kube-prometheus-stack already has them.
fn install_crds(kubeconfig: &str, dir: &std::path::Path) {
    let charts = stackproof::platform::kube::helm::charts_dir().expect("packaged charts");
    let chart = &stackproof::platform::kube::pins::KUBE_PROMETHEUS_STACK;
    let pkg = std::path::Path::new(&charts).join(format!("{}-{}.tgz", chart.chart, chart.version));
    let ok = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&pkg)
        .arg("-C")
        .arg(dir)
        .arg(format!("{}/charts/crds/crds", chart.chart))
        .status()
        .expect("tar runs")
        .success();
    assert!(ok, "extract the CRDs from {}", pkg.display());
    let crds = dir.join(chart.chart).join("charts/crds/crds");
    kubectl(
        kubeconfig,
        &["apply", "--server-side", "-f", &crds.display().to_string()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_on_a_cluster_it_did_not_create_and_leaves_it_as_it_was() {
    if let Err(why) = images::ready_to_run().await {
        eprintln!("skipped: cluster platform: {why}");
        return;
    }
    // The cluster platform always deploys Loki (a cluster of the user's
    // pulls its image); offline, the node has it only where the set wraps
    // a Loki binary, else the stack waits 900 s for a pod that cannot pull.
    let local = images::LocalImages::probe().await;
    if local.offline() && !local.has(stackproof::platform::kube::pins::LOKI_IMAGE) {
        eprintln!(
            "skipped: cluster platform: {}",
            stackproof::platform::kube::no_loki_reason()
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // The user's cluster, made before stackproof runs.
    let cluster = KindCluster::create_or_reuse(&format!("u{}", std::process::id()), work.path())
        .await
        .expect("a kind cluster");
    images::LocalImages::probe()
        .await
        .load_into(cluster.name())
        .await
        .expect("images loaded");
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let context = format!("kind-{}", cluster.name());
    install_crds(&kubeconfig, work.path());

    // The user's S3: the run's bucket (empty) and another one of theirs.
    let ip = kind_gateway();
    let weed = stackproof::versions::Versions::load_default()
        .and_then(|v| v.binary("seaweedfs"))
        .expect("seaweedfs built");
    let port = || stackproof::ports::free_port().unwrap();
    let ports = SeaweedPorts {
        master: port(),
        master_grpc: port(),
        volume: port(),
        volume_grpc: port(),
        filer: port(),
        filer_grpc: port(),
        s3: port(),
        s3_grpc: port(),
        admin: port(),
        admin_grpc: port(),
    };
    let creds = S3Credentials::generate();
    let s3_dir = work.path().join("s3");
    std::fs::create_dir_all(&s3_dir).unwrap();
    let _s3 = RunningProcess::spawn(
        ProcessSpec::new("s3", &weed)
            .args(seaweedfs_args_on(&s3_dir, &ports, &ip))
            .env("AWS_ACCESS_KEY_ID", &creds.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_key)
            .secret(&creds.secret_key),
        &work.path().join("s3.log"),
    )
    .expect("SeaweedFS starts");
    let s3 = S3Target {
        endpoint: format!("{ip}:{}", ports.s3),
        bucket: "stackproof-given".into(),
        region: "us-east-1".into(),
        insecure: true,
        credentials: creds.clone(),
    };
    let other = S3Target {
        bucket: "theirs".into(),
        ..s3.clone()
    };
    for t in [&s3, &other] {
        let store = Objstore::new(t.clone());
        stackproof::eventually::Eventually::new(
            "the S3 server to create a bucket",
            Duration::from_secs(60),
        )
        .until(|| {
            let store = store.clone();
            async move {
                match store.create_bucket().await {
                    Ok(()) => stackproof::eventually::Probe::Ready(()),
                    Err(e) => stackproof::eventually::Probe::NotYet(e.to_string()),
                }
            }
        })
        .await
        .expect("bucket created");
    }
    Objstore::new(other.clone())
        .put("keep/me.txt", b"the user's own object".to_vec())
        .await
        .expect("put an object of theirs");

    let cluster_before = cluster_objects(&kubeconfig);
    let theirs_before = s3_objects(&s3, &["theirs"]).await;
    let endpoint = s3.endpoint.clone();
    let envs = [
        ("STACKPROOF_S3_ENDPOINT", endpoint.as_str()),
        ("STACKPROOF_S3_BUCKET", "stackproof-given"),
        ("STACKPROOF_S3_ACCESS_KEY_ID", creds.access_key.as_str()),
        ("STACKPROOF_S3_SECRET_ACCESS_KEY", creds.secret_key.as_str()),
        ("STACKPROOF_S3_INSECURE", "1"),
    ];
    let report = work.path().join("report");
    let report_dir = report.display().to_string();
    let args = [
        "run",
        "--platform",
        "cluster",
        "--kubeconfig",
        &kubeconfig,
        "--context",
        &context,
        "--report-dir",
        &report_dir,
    ];

    // 1. The whole suite.
    let started = std::time::Instant::now();
    let mut run = common::child::Harness::spawn(&args, &envs);
    let status = run.wait_exit(Duration::from_secs(3600));
    eprintln!("cluster suite: {:.1}s", started.elapsed().as_secs_f64());
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap_or_default();
    eprintln!("{summary}");
    assert_eq!(status.code(), Some(0), "{:#?}", run.lines());
    assert!(
        !summary.contains(&creds.secret_key),
        "the secret key is in the summary"
    );
    assert_cluster_back_to(&kubeconfig, &cluster_before);
    assert_eq!(s3_objects(&s3, &["theirs"]).await, theirs_before);
    let buckets = Objstore::new(s3.clone()).list_buckets().await.unwrap();
    assert_eq!(
        buckets,
        vec!["stackproof-given".to_owned(), "theirs".to_owned()]
    );

    // 2. Ctrl-C in the middle: the same. The run's bucket must be empty
    // again for a run to accept it.
    Objstore::new(s3.clone())
        .empty()
        .await
        .expect("empty the run's bucket");
    let mut run = common::child::Harness::spawn(&args, &envs);
    run.wait_line("ha_dedup: SIGKILL replica 0", Duration::from_secs(1200));
    run.interrupt();
    let status = run.wait_exit(Duration::from_secs(300));
    assert_eq!(status.code(), Some(130), "{:#?}", run.lines());
    assert_cluster_back_to(&kubeconfig, &cluster_before);
    assert_eq!(s3_objects(&s3, &["theirs"]).await, theirs_before);
}
