//! `logs` and `log_chunks_in_bucket` with their negative twins, on a real
//! local stack and the user's real Loki 3. Without a Loki binary this test
//! says so in one line (what is missing, how to get it) on the terminal and
//! checks nothing: it never fakes a pass. `STACKPROOF_REQUIRE_LOKI=1` (CI
//! that provides Loki) turns that skip into a failure.

mod common;

use std::io::Write;

use stackproof::platform::local::LocalStack;
use stackproof::platform::loki::{MISSING_REASON, find_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_back_exactly_and_their_twins_are_reported() {
    if let Err(e) = find_binary() {
        assert!(
            std::env::var("STACKPROOF_REQUIRE_LOKI").as_deref() != Ok("1"),
            "STACKPROOF_REQUIRE_LOKI=1 but {e}"
        );
        // Straight to stderr: libtest does not capture it, so `cargo test`
        // shows the skip (with why this binary was not found) although the
        // test passes.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED tests/logs.rs (logs, log_chunks_in_bucket and their twins): {e}"
        );
        assert!(e.to_string().starts_with(MISSING_REASON));
        return;
    }
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    common::logs::logs_pass_and_their_twins_are_reported(&mut stack).await;
}
