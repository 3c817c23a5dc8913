//! The kind and cluster platforms where they cannot run: they say so in one
//! line naming what is missing and the command that gets it, and a scenario
//! is then reported skipped with that line. (The Kubernetes logic itself is
//! unit-tested against a mock API server: `cargo test --lib kind`.)

use std::ffi::OsStr;

use stackproof::platform::kind::{
    INSTALL_HINT, KindOptions, KindPlatform, availability, availability_in,
};
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
}

/// On this machine (no Docker engine) the real check fails, in one line
/// naming Docker and the install script. Where Docker, kind and helm are
/// all present it passes, and there is nothing to assert here.
#[tokio::test]
async fn here_the_kind_platform_reports_itself_unavailable_with_the_reason() {
    match availability().await {
        Ok(()) => eprintln!("Docker, kind and helm are all here: the kind platform can run"),
        Err(why) => {
            assert!(
                why.starts_with("Docker not found")
                    || why.starts_with("Docker engine not reachable")
                    || why.ends_with("not found on PATH: run scripts/install-kind-tools"),
                "{why}"
            );
            assert!(why.contains(INSTALL_HINT), "{why}");
            assert!(!why.contains('\n'), "{why}");
            eprintln!("kind platform skipped here: {why}");
        }
    }
}

/// Starting the platform anyway fails fast with the same reason, before
/// anything is created.
#[tokio::test]
async fn starting_kind_without_its_tools_fails_before_creating_anything() {
    if availability().await.is_ok() {
        eprintln!("the kind platform can run here: not starting a cluster from a unit test");
        return;
    }
    let err = KindPlatform::kind(KindOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(INSTALL_HINT), "{err}");
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
