//! Checks on Thanos Query's deduplicated view.

use std::time::Duration;

use crate::client::prom::{QueryResult, Series};
use crate::data::exporter::KnownSeries;

/// The longest hole the deduplicated raw samples may show when the replica
/// in use dies, for replicas scraping every `scrape_interval`.
///
/// Why (Thanos `pkg/dedup/iter.go`, penalty algorithm): the iterator sticks to
/// one replica; each time it takes a sample from it, the other replica gets a
/// penalty of 2 × the gap between the last two samples taken, and is only
/// sought from `lastT + 1 + penalty`. When the replica in use dies right
/// after its sample at `lastT`, the next sample comes from the other replica
/// at the first of its scrapes at or after `lastT + 1 + 2 × interval`; its
/// scrapes are `interval` apart, so that is at most `lastT + 3 × interval`.
/// Where no gap is known yet the penalty is the constant `initialPenalty`
/// of 5000 ms: seen here when a failover met a block boundary (samples from
/// the store gateway's block, then from the sidecar's head), a 5.0 s hole.
/// So the penalty part is `max(2 × interval, 5 s)`. Scrape jitter
/// (timestamps are taken on arrival) adds up to one more interval.
pub fn switch_over_bound(scrape_interval: Duration) -> Duration {
    const INITIAL_PENALTY: Duration = Duration::from_millis(5000);
    (scrape_interval * 2).max(INITIAL_PENALTY) + scrape_interval + scrape_interval
}

/// The one series expected for `metric`, or a message saying how many came
/// back and how they differ on `replica_label`.
pub fn single_series<'a>(
    result: &'a QueryResult,
    metric: &str,
    replica_label: &str,
) -> Result<&'a Series, String> {
    match result.series.as_slice() {
        [one] => {
            if let Some(r) = one.labels.get(replica_label) {
                return Err(format!(
                    "{metric}: the deduplicated series still carries {replica_label}={r}: \
                     Thanos Query is not deduplicating on `{replica_label}` \
                     (check --query.replica-label)"
                ));
            }
            Ok(one)
        }
        [] => Err(format!("{metric}: no series where 1 expected")),
        many => {
            let replicas: Vec<String> = many
                .iter()
                .map(|s| match s.labels.get(replica_label) {
                    Some(v) => format!("{replica_label}={v}"),
                    None => s.label_text(),
                })
                .collect();
            Err(format!(
                "{metric}: {} series where 1 expected ({}): Thanos Query is not \
                 deduplicating on `{replica_label}` (start it with \
                 --query.replica-label={replica_label})",
                many.len(),
                replicas.join(", ")
            ))
        }
    }
}

/// Every sample equals the known function of its timestamp, or a message
/// naming how many do not and the first few.
pub fn values_match(series: &Series, known: KnownSeries) -> Result<(), String> {
    values_follow(series, known.metric(), |t| known.value_at(t))
}

/// Every sample of `metric` equals `f` of its timestamp, bit for bit, or a
/// message naming how many do not and the first few. An empty series fails:
/// no sample proves nothing, and a check reading the wrong range (or a
/// store that answers empty) must not pass for it.
pub fn values_follow(series: &Series, metric: &str, f: impl Fn(i64) -> f64) -> Result<(), String> {
    if series.samples.is_empty() {
        return Err(format!(
            "{metric}: no sample to compare with the known function (the query returned an empty series)"
        ));
    }
    let wrong: Vec<String> = series
        .samples
        .iter()
        .filter(|(t, v)| v.to_bits() != f(*t).to_bits())
        .map(|(t, v)| {
            format!(
                "at {} got {v}, expected {}",
                crate::check::gaps::fmt_time(*t),
                f(*t)
            )
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{metric}: {} of {} samples differ from the known function; first: {}",
            wrong.len(),
            series.samples.len(),
            wrong.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn series(labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            samples,
        }
    }

    #[test]
    fn the_bound_for_one_second_scrapes_is_seven_seconds() {
        // max(2 s, 5 s initial penalty) + 1 s to the next scrape + 1 s jitter.
        assert_eq!(
            switch_over_bound(Duration::from_secs(1)),
            Duration::from_secs(7)
        );
        assert_eq!(
            switch_over_bound(Duration::from_secs(15)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn two_replica_series_are_named() {
        let r = QueryResult {
            series: vec![
                series(&[("replica", "0")], vec![]),
                series(&[("replica", "1")], vec![]),
            ],
            warnings: vec![],
        };
        let err = single_series(&r, "stackproof_gauge", "replica").unwrap_err();
        assert!(
            err.contains("2 series where 1 expected (replica=0, replica=1)"),
            "{err}"
        );
        assert!(err.contains("--query.replica-label=replica"), "{err}");
    }

    #[test]
    fn one_series_without_the_replica_label_passes() {
        let r = QueryResult {
            series: vec![series(&[("cluster", "a")], vec![])],
            warnings: vec![],
        };
        assert!(single_series(&r, "m", "replica").is_ok());
        let kept = QueryResult {
            series: vec![series(&[("replica", "1")], vec![])],
            warnings: vec![],
        };
        assert!(
            single_series(&kept, "m", "replica")
                .unwrap_err()
                .contains("replica=1")
        );
        assert!(
            single_series(&QueryResult::default(), "m", "replica")
                .unwrap_err()
                .contains("no series")
        );
    }

    #[test]
    fn values_are_compared_exactly() {
        let good = series(&[], vec![(60_500, 0.5), (61_000, 1.0)]);
        assert!(values_match(&good, KnownSeries::Gauge).is_ok());
        let bad = series(&[], vec![(60_500, 0.5), (61_000, 1.0000001)]);
        let err = values_match(&bad, KnownSeries::Gauge).unwrap_err();
        assert!(err.contains("1 of 2 samples differ"), "{err}");
    }

    #[test]
    fn an_empty_series_does_not_follow_the_known_function() {
        let err = values_match(&series(&[], vec![]), KnownSeries::Gauge).unwrap_err();
        assert!(err.starts_with("stackproof_gauge: no sample"), "{err}");
        assert!(values_follow(&series(&[], vec![]), "m", |_| 0.0).is_err());
    }
}
