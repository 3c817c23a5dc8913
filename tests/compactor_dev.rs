use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, compactor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compactor_dev() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let r = scenario::run(compactor::ID, &mut stack).await;
    eprintln!("{r:#?}");
    let t = compactor::twin_without_compactor(&mut stack).await;
    eprintln!("{t:#?}");
    assert!(r.passed());
}
