//! `ha_dedup` and its negative twins on the local platform, each on its own
//! real stack so that they run side by side (`cargo nextest`, see
//! `.config/nextest.toml`).

mod common;

use stackproof::platform::local::LocalStack;

async fn stack() -> LocalStack {
    let stack = LocalStack::builder().start().await.expect("local stack");
    eprintln!("stack ready in {:.1}s", stack.ready_after().as_secs_f64());
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_dedup_passes_with_replica_0s_hole_reported() {
    let mut stack = stack().await;
    let took = common::ha_dedup_passes_with_replica_0s_hole_reported(&mut stack).await;
    eprintln!("ha_dedup on local: {:.1}s", took.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_without_replica_label_is_named() {
    common::ha_dedup_without_replica_label_is_named(&mut stack().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_all_replicas_down_is_named() {
    common::ha_dedup_all_replicas_down_is_named(&mut stack().await).await;
}
