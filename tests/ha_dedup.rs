//! `ha_dedup` and its negative twins, on one real local stack.

mod common;

use stackproof::platform::local::LocalStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_dedup_passes_and_its_twins_are_reported() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    eprintln!("stack ready in {:.1}s", stack.ready_after().as_secs_f64());
    let took = common::ha_dedup_passes_and_its_twins_are_reported(&mut stack).await;
    eprintln!("ha_dedup on local: {:.1}s", took.as_secs_f64());
}
