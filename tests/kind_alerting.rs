//! `alerting` on a real kind cluster with the chart's own Alertmanager
//! pair: the operator clusters the two, both Prometheus replicas send to
//! both, and the harness's SMTP sink listens on the kind network's gateway
//! so the pods reach it. The twin with no rule firing runs here too; the
//! two twins the operator cannot build (Alertmanagers that do not gossip,
//! alerts that keep the replica label) are skipped with that reason, and
//! run on the local platform (tests/alerting.rs).
//!
//! Runs where the kind platform can start without a registry; skipped
//! otherwise, with one line saying what is missing.

mod common;

use std::time::Instant;

use stackproof::scenario::{self, Outcome, alerting, alerting::checks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerting_on_kind_sends_one_email_per_group_from_the_charts_pair() {
    let Some(mut p) = common::kind::start("kind alerting").await else {
        return;
    };

    let t = Instant::now();
    let r = scenario::run(alerting::ID, &mut p).await;
    eprintln!(
        "{r:#?}\nalerting on kind: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    r.assert_passed();

    let t = Instant::now();
    let r = alerting::twin_no_rule_firing(&mut p).await;
    eprintln!(
        "{r:#?}\nno rule firing on kind: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let msg = r.expect_failed(checks::FIRING_ONCE);
    assert!(msg.starts_with("no email in "), "{msg}");
    assert!(
        msg.contains("Alertmanager's API shows: http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("cluster ready with 2 peer(s)"), "{msg}");

    for r in [
        alerting::twin_replica_label_kept(&mut p).await,
        alerting::twin_not_clustered(&mut p).await,
    ] {
        assert!(
            matches!(&r.checks[0].outcome,
                Outcome::Skipped(why) if why.contains("the local platform runs this twin")),
            "{r:#?}"
        );
    }
}
