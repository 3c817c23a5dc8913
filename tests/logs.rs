//! `logs` and `log_chunks_in_bucket` with their negative twins, on a real
//! local stack and the user's real Loki 3. Without a Loki binary this test
//! says so in one line and checks nothing: it never fakes a pass.

mod common;

use std::io::Write;

use stackproof::platform::local::LocalStack;
use stackproof::platform::loki::{MISSING_REASON, find_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_back_exactly_and_their_twins_are_reported() {
    if find_binary().is_err() {
        // Straight to stderr: libtest does not capture it, so `cargo test`
        // shows the skip even though the test passes.
        let _ = writeln!(std::io::stderr(), "skipped: {MISSING_REASON}");
        return;
    }
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    common::logs::logs_pass_and_their_twins_are_reported(&mut stack).await;
}
