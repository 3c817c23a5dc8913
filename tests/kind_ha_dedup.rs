//! `ha_dedup` and both its twins on a real kind cluster (SeaweedFS as S3
//! where MinIO cannot be pulled), then proof that nothing is left: no
//! cluster, no node container, no port-forward.
//!
//! Runs where the kind platform can start without a registry (the offline
//! set of `scripts/kind-offline` is in the local Docker) or where
//! `STACKPROOF_KIND_PULL=1` says images can be pulled; skipped otherwise,
//! with one line saying what is missing.

mod common;

use std::time::Duration;

use stackproof::platform::Platform;
use stackproof::platform::kind::{KindOptions, KindPlatform, images};

/// One kind cluster at a time: two side by side would share 2 cores and
/// measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Neither the kind cluster `name` nor any of its node containers is left.
fn assert_cluster_gone(name: &str) {
    let kind = stackproof::platform::kube::cmd::resolve("kind");
    let out = std::process::Command::new(kind)
        .args(["get", "clusters"])
        .output()
        .expect("kind runs");
    let clusters = String::from_utf8_lossy(&out.stdout);
    assert!(
        !clusters.lines().any(|l| l.trim() == name),
        "cluster {name} survived: {clusters}"
    );
    let filter = format!("name={name}-");
    let left = docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    assert!(left.trim().is_empty(), "container left: {left}");
}

/// The node container's peak memory (cgroup v1 or v2), if readable.
fn peak_memory(container: &str) -> Option<u64> {
    let id = docker(&["inspect", "--format", "{{.Id}}", container]);
    let id = id.trim();
    [
        format!("/sys/fs/cgroup/memory/docker/{id}/memory.max_usage_in_bytes"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.peak"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_dedup_and_its_twins_on_a_real_kind_cluster_leave_nothing() {
    let _serial = SERIAL.lock().await;
    if let Err(why) = images::ready_to_run().await {
        eprintln!("skipped: kind ha_dedup: {why}");
        return;
    }
    let created = std::time::Instant::now();
    let mut p = KindPlatform::kind(KindOptions::from_env().expect("options"))
        .await
        .unwrap_or_else(|e| panic!("kind platform: {e}"));
    let cluster = p.cluster_name().to_owned();
    let node = format!("{cluster}-control-plane");
    let query = p.endpoints().query.clone();
    eprintln!(
        "kind: cluster create → stack ready {:.1}s (stack alone {:.1}s)",
        created.elapsed().as_secs_f64(),
        p.ready_after().as_secs_f64()
    );

    let took = common::ha_dedup_passes_and_its_twins_are_reported(&mut p).await;
    eprintln!("ha_dedup on kind: {:.1}s", took.as_secs_f64());
    if let Some(peak) = peak_memory(&node) {
        eprintln!("kind node peak memory: {} MiB", peak >> 20);
    }

    let owned = std::env::var("STACKPROOF_KIND_CLUSTER").is_err();
    drop(p);
    if owned {
        assert_cluster_gone(&cluster);
    }
    let forwarded = stackproof::client::http::HttpApi::with_timeout(&query, Duration::from_secs(5))
        .status("/-/ready")
        .await;
    assert!(
        forwarded.is_err(),
        "the port-forward to {query} still answers"
    );
}

/// Ctrl-C in the middle of `stackproof run --platform kind`: the run is
/// cancelled, the cluster deleted, exit 130.
#[test]
fn ctrl_c_in_the_middle_of_a_kind_run_deletes_the_cluster() {
    let _serial = SERIAL.blocking_lock();
    let rt = tokio::runtime::Runtime::new().unwrap();
    if let Err(why) = rt.block_on(images::ready_to_run()) {
        eprintln!("skipped: kind Ctrl-C: {why}");
        return;
    }
    if std::env::var("STACKPROOF_KIND_CLUSTER").is_ok() {
        eprintln!(
            "skipped: kind Ctrl-C: STACKPROOF_KIND_CLUSTER reuses a cluster, which is never deleted"
        );
        return;
    }
    let report = tempfile::tempdir().unwrap();
    let dir = report.path().display().to_string();
    let mut run = common::child::Harness::spawn(
        &[
            "run",
            "--platform",
            "kind",
            "--scenario",
            "ha_dedup",
            "--report-dir",
            &dir,
        ],
        &[],
    );
    // Mid-scenario: replica 0 has just been killed.
    let limit = Duration::from_secs(900);
    let cluster = run
        .wait_line("creating kind cluster ", limit)
        .split("creating kind cluster ")
        .nth(1)
        .unwrap()
        .trim_end_matches('…')
        .to_owned();
    run.wait_line("ha_dedup: SIGKILL replica 0", limit);
    let signalled = std::time::Instant::now();
    run.interrupt();
    let status = run.wait_exit(Duration::from_secs(300));
    eprintln!("Ctrl-C → exit in {:.1}s", signalled.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(130), "{:?}", run.lines());
    assert_cluster_gone(&cluster);
}
