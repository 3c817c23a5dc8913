//! `alerting` and its negative twins on one real local stack: two
//! Prometheus replicas, two Alertmanagers, the harness's SMTP sink.

use std::time::Instant;

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::scenario::{self, alerting, alerting::checks};

fn fact<'a>(r: &'a scenario::ScenarioReport, key: &str) -> &'a str {
    r.facts
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("fact {key:?} missing: {:#?}", r.facts))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerting_passes_and_its_twins_are_reported() {
    let started = Instant::now();
    let mut stack = LocalStack::builder().start().await.expect("local stack");
    if let Err(why) = stack.alerting_support() {
        eprintln!("skipped: {why}");
        return;
    }

    let t = Instant::now();
    let r = scenario::run(alerting::ID, &mut stack).await;
    eprintln!("{r:#?}\nalerting: {:.1}s", t.elapsed().as_secs_f64());
    r.assert_passed();
    assert_eq!(fact(&r, "main: emails"), "1 firing, 1 resolved");
    assert!(fact(&r, "main: condition true → firing email").ends_with('s'));
    assert!(fact(&r, "emails with alertmanager-0 killed (at-least-once)").contains("firing"));

    // Twin: the replica label kept on alerts → two emails for one group.
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

    // Twin: the Alertmanagers not clustered → one email from each.
    let t = Instant::now();
    let r = alerting::twin_not_clustered(&mut stack).await;
    eprintln!("{r:#?}\nnot clustered: {:.1}s", t.elapsed().as_secs_f64());
    let msg = r.expect_failed(checks::FIRING_ONCE);
    assert!(msg.contains("sent by 2 Alertmanagers"), "{msg}");
    assert!(msg.contains("--cluster.peer"), "{msg}");

    // Twin: no rule firing → no email, with what Alertmanager shows.
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

    eprintln!("alerting test: {:.1}s", started.elapsed().as_secs_f64());
}
