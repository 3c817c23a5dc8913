//! `compactor`, `blocks_in_bucket` and `history_from_bucket` with their
//! negative twins. The scenarios share one real local stack and the
//! compactor goes first: its backfilled blocks then share the bucket with
//! the sidecars' uploads, as other clusters' blocks do in production, and
//! the later scenarios must not mistake them for the sidecars'. The twins
//! that break the bucket's writers or readers get a stack each, so that
//! they run beside the rest.

use std::time::Duration;

use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, blocks_in_bucket, compactor, history_from_bucket};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_blocks_and_history_from_the_bucket() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");

    let r = scenario::run(compactor::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();
    assert!(r.checks.len() >= 7, "every check ran: {r:#?}");

    // Twin: no compactor → neither merged nor downsampled, and said so.
    let t = compactor::twin_without_compactor(&mut stack).await;
    eprintln!("{t:#?}");
    let msg = t.expect_failed(compactor::checks::DOWNSAMPLED);
    assert!(msg.starts_with("no downsampled block at 5m"), "{msg}");
    let msg = t.expect_failed(compactor::checks::DEDUPLICATED);
    assert!(
        msg.contains("--deduplication.replica-label=replica"),
        "{msg}"
    );

    // Twin: the compactor's default (naive) merge keeps both replicas.
    let t = compactor::twin_naive_dedup(&mut stack).await;
    eprintln!("{t:#?}");
    let msg = t.expect_failed(compactor::checks::RAW);
    assert!(
        msg.contains("kept both replicas' samples") && msg.contains("--deduplication.func=penalty"),
        "{msg}"
    );

    let r = scenario::run(blocks_in_bucket::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();

    let r = scenario::run(history_from_bucket::ID, &mut stack).await;
    eprintln!("{r:#?}");
    r.assert_passed();
}

/// Twin: wrong credentials on replica 1's sidecar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_wrong_credentials_is_named_without_the_secret() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let t = blocks_in_bucket::twin_wrong_credentials(&mut stack, Duration::from_secs(75)).await;
    eprintln!("{t:#?}");
    let msg = t.expect_failed(blocks_in_bucket::checks::EVERY_REPLICA);
    assert!(
        msg.contains("no block uploaded in 75s by replica 1"),
        "{msg}"
    );
    assert!(msg.contains("sidecar-1 says: "), "{msg}");
    assert!(
        !msg.contains(&stack_secret(&stack)),
        "the secret key leaked into a message"
    );
}

/// Twin: no store gateway → the uploaded range is named as missing. The
/// replicas come back empty: the twin waits for their new blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_without_store_gateway_names_the_missing_range() {
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    let wait = {
        use stackproof::platform::Platform;
        scenario::timing::block_wait(stack.shape())
    };
    let t = history_from_bucket::twin_without_store_gateway(&mut stack, wait).await;
    eprintln!("{t:#?}");
    let msg = t.expect_failed(history_from_bucket::checks::SERVED);
    assert!(
        msg.contains("the uploaded range") && msg.contains("is missing"),
        "{msg}"
    );
}

fn stack_secret(stack: &LocalStack) -> String {
    use stackproof::platform::Platform;
    stack.endpoints().s3.credentials.secret_key.clone()
}
