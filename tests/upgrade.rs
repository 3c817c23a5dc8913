//! `upgrade` on the local platform: real Prometheus builds rolled replica
//! by replica on their own data dirs, and the downgrade twin. Each test on
//! its own stack, so that they run side by side under nextest. A pair whose
//! binaries are not installed is skipped with the one line that says how
//! to get them.

mod common;

use stackproof::platform::local::LocalStack;
use stackproof::scenario::{ScenarioReport, upgrade};
use stackproof::upgrade::pair::PairSpec;

/// `r`, unless every check was skipped (a binary not installed): then
/// None, with the skip line on stdout.
fn ran(r: ScenarioReport) -> Option<ScenarioReport> {
    eprintln!("{r:#?}");
    if r.checks
        .iter()
        .all(|c| matches!(c.outcome, stackproof::scenario::Outcome::Skipped(_)))
    {
        println!("{} skipped: {:?}", r.id, r.checks);
        return None;
    }
    Some(r)
}

async fn stack() -> LocalStack {
    LocalStack::builder().start().await.expect("local stack")
}

async fn run(spec: &PairSpec, id: &str) -> Option<ScenarioReport> {
    ran(upgrade::run_pair(&mut stack().await, spec, id).await)
}

fn fact(r: &ScenarioReport, key: &str) -> String {
    r.facts
        .iter()
        .find(|f| f.key.starts_with(key))
        .map(|f| f.value.to_string())
        .unwrap_or_else(|| panic!("no fact {key:?} in {:?}", r.facts))
}

/// The pair passes: no hole while rolling, B serves what A wrote, and
/// (2 → 3) every catalogued change shows, each explained.
async fn passes(spec: &PairSpec) {
    let Some(r) = run(spec, upgrade::ID).await else {
        return;
    };
    r.assert_passed();
    for key in [
        "whole roll",
        "replica 0 restart on B",
        "replica 1 restart on B",
        "rule and query diff",
    ] {
        eprintln!("{key}: {}", fact(&r, key));
    }
    let roll = r
        .fact_seconds("whole roll")
        .expect("the roll's duration, in seconds");
    assert!(roll > 0.0, "{roll}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_2_42_to_3_passes() {
    // With a user's rule file: its rules are diffed and explained too.
    let mut spec = PairSpec::new("prometheus_legacy", "prometheus");
    spec.rule_files.push(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade/example-rules.yml"),
    );
    passes(&spec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_2_55_to_3_passes() {
    passes(&PairSpec::new("prometheus_v2_55", "prometheus")).await;
}

/// Rolling back 3.x → 2.55 works: 2.55 reads 3.x's TSDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_3_to_2_55_passes() {
    let Some(r) = run(
        &PairSpec::new("prometheus", "prometheus_v2_55"),
        "upgrade: downgrade 3.x → 2.55",
    )
    .await
    else {
        return;
    };
    assert!(r.failure_of(upgrade::checks::B_READS_A).is_none(), "{r:#?}");
    fact(&r, "replica 1 restart on B");
}

/// Twin: 3.x → 2.42 on 3.x's data: reported with both versions and the
/// oldest that reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_downgrade_to_2_42_is_named() {
    let Some(r) = ran(upgrade::twin_downgrade(&mut stack().await).await) else {
        return;
    };
    let msg = r.expect_failed(upgrade::checks::SUPPORTED);
    assert!(
        msg.starts_with("Prometheus 2.42.0 cannot read a TSDB written by Prometheus 3.16.0"),
        "{msg}"
    );
    assert!(msg.contains("the oldest version that can is 2.55"), "{msg}");
    // What 2.42 did with 3.16's data on this run, for the record.
    eprintln!(
        "2.42 on 3.16's data: {:?}",
        r.failure_of(upgrade::checks::B_READS_A)
    );
}

/// Twin: each replica's B on an emptied data dir: what A wrote is missing
/// from B, named per replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_lost_data_dir_is_named() {
    let Some(r) = ran(upgrade::twin_lost_data_dir(&mut stack().await).await) else {
        return;
    };
    let msg = r.expect_failed(upgrade::checks::B_READS_A);
    assert!(
        msg.contains("replica 0: Prometheus 3.16.0 (prometheus) on Prometheus 2.42.0 (prometheus_legacy)'s data"),
        "{msg}"
    );
    assert!(
        msg.contains("blocks loaded where A had") || msg.contains("lost part of A's time range"),
        "{msg}"
    );
}

/// Twin of the diff: a user query differing for no catalogued reason is
/// listed as unexplained, with both answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_unexplained_difference_is_named() {
    let Some(r) = ran(upgrade::twin_unexplained_difference().await) else {
        return;
    };
    // The diff's files, for a person (and for refreshing the recorded
    // answers the unit tests read: fixtures/upgrade/recorded-*.json).
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("upgrade-diff");
    std::fs::create_dir_all(&out).unwrap();
    for a in &r.artifacts {
        std::fs::write(out.join(&a.name), &a.bytes).unwrap();
    }
    eprintln!("diff files in {}", out.display());
    let msg = r.expect_failed(upgrade::checks::DIFF_EXPLAINED);
    assert!(
        msg.contains("1 difference(s) no catalogued change explains"),
        "{msg}"
    );
    assert!(msg.contains("`scrape_duration_seconds` ("), "{msg}");
    assert!(msg.contains("twin-queries.txt:4 (at the scrape)"), "{msg}");
}
