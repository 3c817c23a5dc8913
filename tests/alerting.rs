//! `alerting` and its negative twins, each on its own real local stack: two
//! Prometheus replicas, two Alertmanagers, the harness's SMTP sink.

use std::time::Instant;

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, FactValue, alerting, alerting::checks};

fn fact<'a>(r: &'a scenario::ScenarioReport, key: &str) -> &'a FactValue {
    r.fact_value(key)
        .unwrap_or_else(|| panic!("fact {key:?} missing: {:#?}", r.facts))
}

/// A stack with alerting, or `None` (said) where this machine has none.
async fn stack() -> Option<LocalStack> {
    let stack = LocalStack::builder().start().await.expect("local stack");
    match stack.alerting_support() {
        Ok(()) => Some(stack),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerting_sends_one_email_per_group_from_the_ha_pair() {
    let Some(mut stack) = stack().await else {
        return;
    };
    let t = Instant::now();
    let r = scenario::run(alerting::ID, &mut stack).await;
    eprintln!("{r:#?}\nalerting: {:.1}s", t.elapsed().as_secs_f64());
    r.assert_passed();
    assert_eq!(fact(&r, "main: emails").to_string(), "1 firing, 1 resolved");
    let firing = fact(&r, "main: condition true → firing email");
    assert!(firing.as_seconds().is_some_and(|s| s > 0.0), "{firing:?}");
    assert!(
        fact(&r, "emails with alertmanager-0 killed (at-least-once)")
            .to_string()
            .contains("firing")
    );
}

/// Twin: the replica label kept on alerts → two emails for one group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_replica_label_kept_is_named() {
    let Some(mut stack) = stack().await else {
        return;
    };
    let t = Instant::now();
    let r = alerting::twin_replica_label_kept(&mut stack).await;
    eprintln!(
        "{r:#?}\nreplica label kept: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let msg = r.expect_failed(checks::FIRING_ONCE);
    assert!(
        msg.starts_with("2 firing emails for one alert group {"),
        "{msg}"
    );
    assert!(
        msg.contains(r#"differ only in replica="0", replica="1""#),
        "{msg}"
    );
    assert!(msg.contains("labeldrop"), "{msg}");
    let content = r.expect_failed(checks::CONTENT);
    assert!(content.contains("carries replica="), "{content}");
}

/// Twin: the Alertmanagers not clustered → one email from each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_not_clustered_is_named() {
    let Some(mut stack) = stack().await else {
        return;
    };
    let t = Instant::now();
    let r = alerting::twin_not_clustered(&mut stack).await;
    eprintln!("{r:#?}\nnot clustered: {:.1}s", t.elapsed().as_secs_f64());
    let msg = r.expect_failed(checks::FIRING_ONCE);
    assert!(msg.contains("sent by 2 Alertmanagers"), "{msg}");
    assert!(msg.contains("--cluster.peer"), "{msg}");
}

/// Twin: no rule firing → no email, with what Alertmanager shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_no_rule_firing_is_named() {
    let Some(mut stack) = stack().await else {
        return;
    };
    let t = Instant::now();
    let r = alerting::twin_no_rule_firing(&mut stack).await;
    eprintln!("{r:#?}\nno rule firing: {:.1}s", t.elapsed().as_secs_f64());
    let msg = r.expect_failed(checks::FIRING_ONCE);
    assert!(msg.starts_with("no email in "), "{msg}");
    assert!(
        msg.contains("Alertmanager's API shows: http://127.0.0.1:"),
        "{msg}"
    );
    assert!(
        msg.contains("cluster ready with 2 peer(s), 0 alerts"),
        "{msg}"
    );
}
