use super::answers::{DayAnswers, judge_day};
use super::*;

#[tokio::test]
async fn where_the_compactor_cannot_run_once_it_skips_before_writing() {
    let mut p = crate::scenario::bare::Bare::new();
    for r in [run(&mut p).await, twin_without_compactor(&mut p).await] {
        assert_eq!(r.checks.len(), 1, "{r:#?}");
        match &r.checks[0].outcome {
            crate::scenario::Outcome::Skipped(why) => {
                assert!(
                    why.contains("the bare platform provides no CompactOnce"),
                    "{why}"
                );
                assert!(
                    why.contains("stackproof run --platform local --scenario compactor"),
                    "{why}"
                );
            }
            other => panic!("expected a skip, got {other:?}"),
        }
    }
}

fn day() -> Vec<f64> {
    (0..1440).map(|k| (k % 60) as f64).collect()
}

fn right() -> DayAnswers {
    DayAnswers {
        sum: 42_480.0,
        min: 0.0,
        max: 59.0,
        increase: 1439.7,
    }
}

#[test]
fn right_answers_pass() {
    assert!(judge_day(&day(), 1440.0, 4.0, &right()).is_empty());
}

#[test]
fn a_wrong_aggregate_is_named_with_both_values() {
    let got = DayAnswers {
        sum: 42_481.0,
        ..right()
    };
    let w = judge_day(&day(), 1440.0, 4.0, &got);
    assert_eq!(
        w,
        vec!["sum_over_time = 42481, the 1440 raw samples give 42480".to_owned()]
    );
}

#[test]
fn a_counter_reset_taken_for_a_drop_fails_the_increase() {
    // A reset read as a drop: the day's growth minus the value before it.
    let got = DayAnswers {
        increase: 1439.0 - 3599.0,
        ..right()
    };
    let w = judge_day(&day(), 1439.0, 4.0, &got);
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("increase = -2160, the counter grew by 1439"),
        "{w:?}"
    );
}
