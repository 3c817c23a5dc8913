//! A kind cluster with the stack deployed, for the tests that run on one,
//! or the one line saying why this machine cannot start it.

use stackproof::platform::kind::{KindOptions, KindPlatform, images};

/// The kind platform, its creation timed; `None` (said, naming `what`)
/// where no kind cluster can start here without a registry.
pub async fn start(what: &str) -> Option<KindPlatform> {
    if let Err(why) = images::ready_to_run().await {
        eprintln!("skipped: {what}: {why}");
        return None;
    }
    let started = std::time::Instant::now();
    let p = KindPlatform::kind(KindOptions::from_env().expect("options"))
        .await
        .unwrap_or_else(|e| panic!("kind platform: {e}"));
    eprintln!(
        "kind: cluster create → stack ready {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Some(p)
}
