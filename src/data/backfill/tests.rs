use super::*;

fn plan() -> Backfill {
    // 2026-11-25T00:00:00Z
    Backfill::standard(1_795_564_800_000)
}

#[test]
fn the_standard_plan_starts_at_midnight_inside_one_promtool_block() {
    let b = plan();
    assert_eq!(b.start_ms % DAY_MS, 0);
    let window = b.start_ms.div_euclid(BLOCK_RANGE_MS);
    assert_eq!((b.end_ms() - 1).div_euclid(BLOCK_RANGE_MS), window);
    assert!(b.end_ms() <= 1_795_564_800_000 - 14 * DAY_MS);
    // Long enough for the 1h level: ≥ 10 d from first to last sample.
    assert!(b.end_ms() - STEP_MS - b.start_ms >= 10 * DAY_MS);
}

#[test]
fn replicas_are_offset_and_down_during_their_outages() {
    let b = plan();
    assert_eq!(b.sample_time(0, 0), Some(b.start_ms));
    assert_eq!(b.sample_time(1, 0), Some(b.start_ms + 20_000));
    let k = 1440 + 6 * 60;
    assert_eq!(b.sample_time(0, k), None);
    assert!(b.sample_time(1, k).is_some());
    assert!(b.sample_time(0, k + 180).is_some());
    assert_eq!(b.sample_time(1, 4 * 1440 + 12 * 60 + 179), None);
}

#[test]
fn values_follow_the_minute_whatever_the_replica_offset() {
    let b = plan();
    let t0 = b.sample_time(0, 61).unwrap();
    let t1 = b.sample_time(1, 61).unwrap();
    assert_eq!(b.gauge_at(t0), 1.0);
    assert_eq!(b.gauge_at(t1), 1.0);
    assert_eq!(b.counter_at(t1), 61.0);
    let r = b.sample_time(0, b.reset_minute).unwrap();
    assert_eq!(b.counter_at(r), 0.0);
    assert_eq!(b.counter_at(r + STEP_MS), 1.0);
}

#[test]
fn a_day_grows_by_1440_except_across_the_reset() {
    let b = plan();
    let ends = b.day_ends();
    assert_eq!(ends.len(), 11);
    assert_eq!(b.true_increase(ends[0], ends[1]), 1440.0);
    // Day 3 holds the reset: one minute's growth is lost to it.
    assert_eq!(b.true_increase(ends[1], ends[2]), 1439.0);
    // Day 1 starts at 0: its first minute has nothing before it.
    assert_eq!(b.true_increase(b.start_ms, ends[0]), 1439.0);
}

#[test]
fn openmetrics_has_both_families_in_time_order_and_ends_with_eof() {
    let b = Backfill {
        days: 1,
        outages: vec![(0, 0, 2 * STEP_MS)],
        ..plan()
    };
    let text = b.openmetrics(0);
    assert!(text.starts_with("# TYPE stackproof_backfill_gauge gauge\n"));
    assert!(text.contains("# TYPE stackproof_backfill_events counter\n"));
    assert!(text.ends_with("# EOF\n"));
    let first = text.lines().nth(1).unwrap();
    assert_eq!(
        first,
        format!("{GAUGE} 2 {}.000", (b.start_ms + 120_000) / 1000)
    );
    assert_eq!(text.lines().filter(|l| l.starts_with(GAUGE)).count(), 1438);
    let r1 = b.openmetrics(1);
    assert!(r1.contains(&format!("{COUNTER} 0 {}.000", (b.start_ms + 20_000) / 1000)));
}

#[test]
fn thanos_labels_go_into_meta_json() {
    let meta = br#"{"ulid":"01M8993CSFY895Q0BXQ23339B2","minTime":1,"maxTime":2,
            "stats":{"numSamples":3},"compaction":{"level":1,"sources":["01M8993CSFY895Q0BXQ23339B2"]},"version":1}"#;
    let labels = vec![
        ("cluster".to_owned(), format!("{CLUSTER_PREFIX}x")),
        ("replica".to_owned(), "1".to_owned()),
    ];
    let id = ulid(1_469_918_176_385, 7);
    let out = with_thanos_labels(meta, &id, &labels).unwrap();
    let m = BlockMeta::parse(&out).unwrap();
    assert_eq!(m.ulid, id);
    assert_eq!(m.compaction.sources, vec![id.clone()]);
    assert_eq!(m.stats.num_samples, 3);
    assert_eq!(m.label("replica"), Some("1"));
    assert_eq!(m.resolution(), 0);
    assert_eq!(m.thanos.as_ref().unwrap().source, SOURCE);
    assert!(is_backfilled(&m));
    assert!(with_thanos_labels(b"[1]", &id, &labels).is_err());
}

#[test]
fn ulids_carry_their_time_first() {
    // The ULID specification's example time.
    let id = ulid(1_469_918_176_385, u128::MAX);
    assert!(id.starts_with("01ARYZ6S41"), "{id}");
    assert!(id.ends_with("ZZZZZZZZZZZZZZZZ"), "{id}");
    assert!(is_ulid(&id));
    assert_ne!(ulid(1, 1), ulid(1, 2));
}

#[test]
fn the_increase_tolerance_is_whole_steps() {
    assert_eq!(increase_tolerance(Duration::from_secs(240)), 4.0);
    assert_eq!(increase_tolerance(Duration::from_secs(7)), 1.0);
}
