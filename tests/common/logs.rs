//! What every platform's log test asserts, in one place: `logs` and
//! `log_chunks_in_bucket` pass on the platform's own Loki, and their twins
//! fail with the words a person acts on. `tests/logs.rs` runs it on the
//! local platform, `tests/kind_suite.rs` on the chart's Loki in kind.

use stackproof::platform::Platform;
use stackproof::scenario::{self, Outcome, ScenarioReport, log_chunks, logs};

/// A count `r` reported, which must be there.
pub fn count(r: &ScenarioReport, key: &str) -> u64 {
    r.fact_count(key)
        .unwrap_or_else(|| panic!("count {key:?} missing from {:?}", r.facts))
}

/// Prints `r`'s facts and checks to stderr.
pub fn show(r: &ScenarioReport) {
    eprintln!("== {}", r.id);
    for f in &r.facts {
        eprintln!("   {}: {}", f.key, f.value);
    }
    for c in &r.checks {
        eprintln!(
            "   [{:?}] {} ({:.1}s)",
            c.outcome,
            c.name,
            c.duration.as_secs_f64()
        );
    }
}

/// Runs both log scenarios (through the runner, as `stackproof run` does)
/// and their five twins on `p`'s Loki; panics on any deviation. The
/// label-discovery and slow-flush twins need a Loki whose config the
/// platform can change: the local one; elsewhere they must be reported
/// skipped with the reason.
pub async fn logs_pass_and_their_twins_are_reported(p: &mut dyn Platform) {
    logs_and_twins(p).await;
    log_chunks_and_twins(p).await;
}

/// `logs` passes and each of its twins is named.
pub async fn logs_and_twins(p: &mut dyn Platform) {
    // logs: every LogQL answer exact.
    let r = scenario::run(logs::ID, p).await;
    show(&r);
    r.assert_passed();
    assert_eq!(r.checks.len(), 12, "{:#?}", r.checks);
    assert_eq!(count(&r, "lines pushed"), 540);
    assert_eq!(count(&r, "lines read back"), 540);

    let loki = p.loki().await.expect("the platform's Loki");
    // Twin: skipped sequence numbers are named per stream, as a range.
    let t = logs::twin_skipped_seq(loki).await;
    show(&t);
    let msg = t.expect_failed(logs::checks::SEQUENCES);
    assert_eq!(
        msg,
        "app=api level=info: missing seq 40–49 (10 of 60 lines)"
    );
    // LogQL itself answered exactly what was pushed: only the accounting
    // against the complete run sees the loss.
    assert!(t.failure_of(logs::checks::SELECTOR).is_none(), "{t:#?}");

    // Twin: a duplicated line is named.
    let t = logs::twin_duplicated(loki).await;
    show(&t);
    let msg = t.expect_failed(logs::checks::SEQUENCES);
    assert_eq!(msg, "app=billing level=warn: duplicate seq 17 (seen 2×)");

    // Twin: lines past Loki's max age → the push is refused, in Loki's words.
    let t = logs::twin_too_old(loki).await;
    show(&t);
    let msg = t.expect_failed(logs::checks::PUSH);
    assert!(msg.starts_with("push: "), "{msg}");
    assert!(
        msg.contains("has timestamp too old") && msg.contains("oldest acceptable timestamp"),
        "{msg}"
    );

    // Twin: label discovery on → labels and series nobody pushed, named.
    let local = p.name() == "local";
    let loki = p.loki().await.expect("the platform's Loki");
    let t = logs::twin_label_discovery(loki).await;
    show(&t);
    if local {
        let msg = t.expect_failed(logs::checks::LABELS);
        assert!(
            msg.contains("labels: expected [app, job, level, run], got [")
                && msg.contains("service_name"),
            "{msg}"
        );
        let msg = t.expect_failed(logs::checks::SERIES);
        assert!(
            msg.contains("unexpected [") && msg.contains("service_name"),
            "{msg}"
        );
        assert!(
            t.failure_of("Loki restarts with label discovery off")
                .is_none(),
            "{t:#?}"
        );
    } else {
        assert!(
            matches!(&t.checks[0].outcome, Outcome::Skipped(why) if why.contains("local platform")),
            "{t:#?}"
        );
    }
}

/// `log_chunks_in_bucket` passes and each of its twins is named.
pub async fn log_chunks_and_twins(p: &mut dyn Platform) {
    let local = p.name() == "local";
    // log_chunks_in_bucket: chunks, index, and every line from the bucket.
    let r = scenario::run(log_chunks::ID, p).await;
    show(&r);
    r.assert_passed();
    assert_eq!(r.checks.len(), 4, "{:#?}", r.checks);
    assert_eq!(
        count(&r, "lines pushed"),
        count(&r, "lines read back from the bucket")
    );
    assert!(count(&r, "new tsdb index files") >= 1);

    // Twin: Loki restarted with a wrong key → the flush errors are
    // reported, with Loki's own error line, and no secret.
    let secret = p.endpoints().s3.credentials.secret_key.clone();
    let loki = p.loki().await.expect("the platform's Loki");
    let t = log_chunks::twin_wrong_credentials(loki).await;
    show(&t);
    let msg = t.expect_failed(log_chunks::checks::CHUNKS);
    assert!(msg.contains("Loki's flush failed"), "{msg}");
    assert!(
        msg.contains("Loki said: ") && msg.contains("failed to flush"),
        "{msg}"
    );
    assert!(!msg.contains(&secret), "secret leaked: {msg}");
    // Its right key is back: the twin's own restore check passed.
    assert!(
        t.failure_of("Loki restarts with its right key").is_none(),
        "{t:#?}"
    );

    // Twin: Loki left at its default flush settings (30 m idle) keeps its
    // chunks past the stack's promise: the same check says so, with the
    // settings Loki itself reports.
    let loki = p.loki().await.expect("the platform's Loki");
    let started = std::time::Instant::now();
    let t = log_chunks::twin_slow_flush(loki).await;
    show(&t);
    if !local {
        assert!(
            matches!(&t.checks[0].outcome, Outcome::Skipped(why) if why.contains("local platform")),
            "{t:#?}"
        );
        return;
    }
    let msg = t.expect_failed(log_chunks::checks::CHUNKS);
    assert!(
        msg.starts_with("Loki did not flush every stream's chunk to the bucket within 26.2s"),
        "{msg}"
    );
    assert!(msg.contains("chunk_idle_period: 30m"), "{msg}");
    assert!(
        msg.contains("is its idle period longer than promised?"),
        "{msg}"
    );
    assert!(
        t.failure_of("Loki restarts with the stack's flush settings")
            .is_none(),
        "{t:#?}"
    );
    eprintln!("slow-flush twin: {:.1}s", started.elapsed().as_secs_f64());
}
