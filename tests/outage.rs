//! `object_storage_outage` on a real local stack: the object store down for
//! longer than a block cut loses nothing, and the scenario proves it was
//! down: its twin, whose stop does nothing, is reported as never down. Each
//! on its own stack, so that they run side by side.

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, object_storage_outage, timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_storage_outage_loses_nothing() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let r = scenario::run(object_storage_outage::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();
    assert!(
        r.facts
            .iter()
            .any(|f| f.key.starts_with("recovery") && f.value.as_seconds().is_some()),
        "recovery time missing from {:?}",
        r.facts
    );
}

/// Twin: the same scenario with a stop that does nothing. Every later
/// check passes (nothing was lost), so only the proof of the outage can
/// catch it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_a_store_that_never_went_down_is_named() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let (outage, wait) = (
        timing::outage(stack.shape()),
        timing::block_wait(stack.shape()),
    );
    let t = object_storage_outage::twin_store_not_down(&mut stack, outage, wait).await;
    eprintln!("{t:#?}");
    let msg = t.expect_failed(object_storage_outage::checks::STORE_DOWN);
    assert!(
        msg.starts_with("the object store never went down: "),
        "{msg}"
    );
    assert!(msg.contains("0 upload failures"), "{msg}");
    assert!(msg.contains("stop_object_storage"), "{msg}");
    assert_eq!(
        t.failures().count(),
        1,
        "only the outage proof fails: {t:#?}"
    );
}
