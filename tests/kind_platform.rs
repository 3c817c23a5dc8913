//! The kind and cluster platforms where they cannot run: they say so in one
//! line naming what is missing and the command that gets it, and a run is
//! then reported skipped with that line — never a pass. Each test builds the
//! machine it describes (a PATH without Docker, a Docker whose engine is
//! down), so it asserts the same thing on every machine. (The Kubernetes
//! logic itself is unit-tested against a mock API server: `cargo test --lib
//! kind`.)

mod common;

use std::ffi::OsStr;
use std::time::Duration;

use stackproof::platform::kind::{INSTALL_HINT, availability_in};
use stackproof::scenario::{Outcome, ScenarioReport};

#[tokio::test]
async fn without_docker_the_kind_platform_names_it_and_the_install_script() {
    let why = availability_in(OsStr::new("/nonexistent-bin"))
        .await
        .unwrap_err();
    assert_eq!(
        why,
        "Docker not found (no `docker` on PATH): the kind platform needs a Docker engine; \
         install Docker, then run scripts/install-kind-tools for kind, kubectl and helm"
    );
    assert!(!why.contains('\n'));
    let r = ScenarioReport::skipped("ha_dedup", &why);
    assert!(matches!(&r.checks[0].outcome, Outcome::Skipped(s) if s.contains(INSTALL_HINT)));
    assert!(r.passed(), "a skip is not a failure");
    assert!(!r.proved_something(), "nor is it a pass");
}

/// A `docker` whose engine is down answers `docker info` with an error on
/// stderr: the reason quotes it and says to start Docker.
#[tokio::test]
async fn a_docker_whose_engine_is_down_is_named_with_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let docker = dir.path().join("docker");
    stackproof::exec_file::write_executable(
        &docker,
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
         Is the docker daemon running?' >&2\nexit 1\n",
    )
    .unwrap();
    let why = availability_in(dir.path().as_os_str()).await.unwrap_err();
    assert!(
        why.starts_with(
            "Docker engine not reachable (`docker info`: Cannot connect to the Docker daemon at \
             unix:///var/run/docker.sock."
        ),
        "{why}"
    );
    assert!(
        why.contains("start Docker") && why.contains(INSTALL_HINT),
        "{why}"
    );
    assert!(!why.contains('\n'), "{why}");
}

/// `stackproof run --platform kind` on a machine without Docker (PATH
/// emptied): nothing is created, every scenario is reported skipped with the
/// reason, and the exit status is 3 (nothing ran), not 0.
#[test]
fn a_kind_run_without_docker_skips_everything_and_is_not_green() {
    let report = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let mut h = common::child::Harness::spawn(
        &[
            "run",
            "--platform",
            "kind",
            "--report-dir",
            report.path().to_str().unwrap(),
        ],
        &[
            ("PATH", empty.path().to_str().unwrap()),
            ("STACKPROOF_QUIET", "1"),
        ],
    );
    let status = h.wait_exit(Duration::from_secs(60));
    let out = h.lines().join("\n");
    assert_eq!(status.code(), Some(3), "{out}");
    assert!(
        out.contains("Docker not found (no `docker` on PATH)"),
        "{out}"
    );
    assert!(out.contains(INSTALL_HINT), "{out}");
    let junit = std::fs::read_to_string(report.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<skipped"), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
}

#[test]
fn the_cluster_platform_without_a_kubeconfig_says_so() {
    let why = stackproof::platform::cluster::availability(
        Some(std::path::Path::new("/nonexistent/kubeconfig")),
        None,
    )
    .unwrap_err();
    assert!(
        why.starts_with("no kubeconfig at /nonexistent/kubeconfig"),
        "{why}"
    );
}
