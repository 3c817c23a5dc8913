//! `object_storage_outage` on a real local stack: the object store down for
//! longer than a block cut loses nothing.

use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, object_storage_outage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_storage_outage_loses_nothing() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let r = scenario::run(object_storage_outage::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();
    assert!(
        r.facts.iter().any(|(k, _)| k.starts_with("recovery")),
        "recovery time missing from {:?}",
        r.facts
    );
}
