//! `logs` and `log_chunks_in_bucket` with their negative twins, on a real
//! local stack each (they run side by side) and the user's real Loki 3.
//! Without a Loki binary each test says so in one line (what is missing,
//! how to get it) on the terminal and checks nothing: it never fakes a
//! pass. `STACKPROOF_REQUIRE_LOKI=1` (CI that provides Loki) turns that
//! skip into a failure.

mod common;

use std::io::Write;

use stackproof::platform::local::LocalStack;
use stackproof::platform::loki::{MISSING_REASON, find_binary};

/// A started local stack, or None with the skip said (no Loki binary).
async fn stack(what: &str) -> Option<LocalStack> {
    if let Err(e) = find_binary() {
        assert!(
            std::env::var("STACKPROOF_REQUIRE_LOKI").as_deref() != Ok("1"),
            "STACKPROOF_REQUIRE_LOKI=1 but {e}"
        );
        // Straight to stderr: the test runner shows it (nextest: this
        // binary's output is shown on success too), although the test passes.
        let _ = writeln!(std::io::stderr(), "SKIPPED tests/logs.rs ({what}): {e}");
        assert!(e.to_string().starts_with(MISSING_REASON));
        return None;
    }
    Some(LocalStack::builder().start().await.expect("local stack"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_back_exactly_and_their_twins_are_reported() {
    if let Some(mut stack) = stack("logs and its twins").await {
        common::logs::logs_and_twins(&mut stack).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_chunks_reach_the_bucket_and_their_twins_are_reported() {
    if let Some(mut stack) = stack("log_chunks_in_bucket and its twins").await {
        common::logs::log_chunks_and_twins(&mut stack).await;
    }
}
