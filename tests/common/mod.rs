//! What every platform's `ha_dedup` test asserts, in one place: the
//! scenario passes with replica 0's hole reported, and both negative twins
//! fail with the words a person acts on. `tests/ha_dedup.rs` runs it on the
//! local platform, `tests/kind_ha_dedup.rs` on a real kind cluster.

#![allow(dead_code)]

pub mod child;
pub mod kind;
pub mod logs;
pub mod procs;

use std::time::Duration;

use stackproof::platform::Platform;
use stackproof::scenario::{self, FactValue, ha_dedup};

/// Runs `ha_dedup` and its two twins on `p`; panics with the report on any
/// deviation. Returns the scenario's wall time.
pub async fn ha_dedup_passes_and_its_twins_are_reported(p: &mut dyn Platform) -> Duration {
    let took = ha_dedup_passes_with_replica_0s_hole_reported(p).await;
    ha_dedup_without_replica_label_is_named(p).await;
    ha_dedup_all_replicas_down_is_named(p).await;
    took
}

/// The scenario itself: no hole in the deduplicated view, and replica 0's
/// own hole reported with its span. Returns the scenario's wall time.
pub async fn ha_dedup_passes_with_replica_0s_hole_reported(p: &mut dyn Platform) -> Duration {
    let started = std::time::Instant::now();
    let r = scenario::run(ha_dedup::ID, p).await;
    let took = started.elapsed();
    eprintln!("{r:#?}");
    r.assert_passed();
    let hole = r
        .fact_seconds("replica 0 hole length")
        .expect("hole reported");
    assert!(hole >= 30.0, "replica 0's hole: {hole}s");
    for key in ["replica 0 hole start", "replica 0 hole end"] {
        assert!(
            matches!(r.fact_value(key), Some(FactValue::Time(_))),
            "{key} missing from {:?}",
            r.facts
        );
    }
    took
}

/// Twin: Thanos Query without the replica label.
pub async fn ha_dedup_without_replica_label_is_named(p: &mut dyn Platform) {
    let t = ha_dedup::twin_without_replica_label(p).await;
    let msg = t.expect_failed(ha_dedup::checks::ONE_SERIES);
    assert!(
        msg.contains("2 series where 1 expected (replica=0, replica=1)"),
        "{msg}"
    );
    assert!(msg.contains("--query.replica-label=replica"), "{msg}");
}

/// Twin: every replica down for 30 s: the hole is found with its span.
pub async fn ha_dedup_all_replicas_down_is_named(p: &mut dyn Platform) {
    let t = ha_dedup::twin_all_replicas_down(p, Duration::from_secs(30)).await;
    let msg = t.expect_failed(ha_dedup::checks::NO_HOLE);
    assert!(msg.contains("with no sample, from "), "{msg}");
    let span: f64 = msg
        .split("bound: ")
        .nth(1)
        .and_then(|s| s.split('s').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no span in {msg}"));
    assert!((30.0..60.0).contains(&span), "span {span}s in {msg}");
}
