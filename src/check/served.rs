//! What a query served against what Prometheus held, series by series:
//! the judgement behind `blocks_in_bucket`'s and `history_from_bucket`'s
//! "served exactly" checks and their twins.

use std::collections::BTreeMap;

use crate::check::dedup::values_match;
use crate::check::gaps::fmt_time;
use crate::client::prom::Series;
use crate::data::exporter::KnownSeries;

/// Samples per block series, keyed `<ULID> <selector>`.
pub type Samples = BTreeMap<String, Vec<(i64, f64)>>;

/// Fewest samples the whole comparison must hold for "served exactly" to
/// prove anything: one sample says nothing of a range (a query answering
/// only the sample at its end would match it). A single block may hold one
/// (the stack's first block when scraping began at its very end).
pub const MIN_SAMPLES: usize = 2;

/// Compares what a query `served` with what Prometheus held (`expected`),
/// key by key, and checks every value against the known function. Fails
/// when there is nothing to compare (no series, a series with no sample,
/// fewer than [`MIN_SAMPLES`] in all), and names an uploaded range served
/// not at all as missing.
pub fn compare_samples(expected: &Samples, served: &Samples) -> Result<(), String> {
    let total: usize = expected.values().map(Vec::len).sum();
    if total < MIN_SAMPLES {
        return Err(format!(
            "nothing to compare: Prometheus held {total} sample(s) for {} block series of the \
             uploaded blocks, too few (< {MIN_SAMPLES}) to prove a range is served \
             (no block, or the blocks' range was read wrong)",
            expected.len()
        ));
    }
    let mut problems = Vec::new();
    let mut missing_keys = 0;
    for (key, want) in expected {
        if want.is_empty() {
            problems.push(format!(
                "{key}: Prometheus held no sample for the block: nothing to compare"
            ));
            continue;
        }
        let got = served.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if got.is_empty() {
            missing_keys += 1;
            problems.push(format!(
                "{key}: the uploaded range {} is missing: 0 of {} samples served",
                span(want),
                want.len()
            ));
            continue;
        }
        if got != want.as_slice() {
            let missing: Vec<i64> = want
                .iter()
                .filter(|s| !got.contains(s))
                .map(|s| s.0)
                .collect();
            let extra = got.iter().filter(|s| !want.contains(s)).count();
            problems.push(format!(
                "{key}: served {} samples, Prometheus had {}; {} missing{}, {extra} unexpected",
                got.len(),
                want.len(),
                missing.len(),
                missing
                    .first()
                    .map_or(String::new(), |t| format!(" (first at {})", fmt_time(*t)))
            ));
        }
        if let Some(known) = KnownSeries::from_metric(metric_of(key)) {
            let series = Series {
                labels: BTreeMap::new(),
                samples: got.to_vec(),
            };
            if let Err(e) = values_match(&series, known) {
                problems.push(format!("{key}: {e}"));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if missing_keys == expected.len() {
        let all: Vec<(i64, f64)> = expected.values().flatten().copied().collect();
        problems.insert(
            0,
            format!(
                "the uploaded range {} is missing: no sample served for any of the {} block \
                 series; is a store gateway reading the bucket?",
                span(&all),
                expected.len()
            ),
        );
    }
    Err(problems.join("\n"))
}

/// `<first> → <last> (<seconds>s)` of some samples.
fn span(samples: &[(i64, f64)]) -> String {
    let min = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.0).max().unwrap_or(0);
    format!(
        "{} → {} ({:.0}s)",
        fmt_time(min),
        fmt_time(max),
        (max - min) as f64 / 1000.0
    )
}

/// The metric name of a `<ULID> <metric>{…}` key.
fn metric_of(key: &str) -> &str {
    key.split_whitespace()
        .nth(1)
        .and_then(|s| s.split('{').next())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "01ABC stackproof_gauge{replica=\"0\"}";

    fn gauge(from_s: i64, n: i64) -> Vec<(i64, f64)> {
        (from_s..from_s + n)
            .map(|s| (s * 1000, KnownSeries::Gauge.value_at(s * 1000)))
            .collect()
    }

    fn one(samples: Vec<(i64, f64)>) -> Samples {
        Samples::from([(KEY.to_owned(), samples)])
    }

    #[test]
    fn the_same_samples_pass() {
        let e = one(gauge(60, 30));
        assert_eq!(compare_samples(&e, &e.clone()), Ok(()));
    }

    #[test]
    fn nothing_to_compare_fails() {
        let err = compare_samples(&Samples::new(), &Samples::new()).unwrap_err();
        assert!(err.starts_with("nothing to compare"), "{err}");
    }

    #[test]
    fn a_single_sample_proves_nothing() {
        let e = one(gauge(60, 1));
        let err = compare_samples(&e, &e.clone()).unwrap_err();
        assert!(
            err.contains("held 1 sample(s)") && err.contains("too few"),
            "{err}"
        );
        // One block of one sample beside others is a block, not the input.
        let mut e = one(gauge(60, 30));
        e.insert("01XYZ stackproof_gauge{replica=\"1\"}".into(), gauge(95, 1));
        assert_eq!(compare_samples(&e, &e.clone()), Ok(()));
        // A block series with no sample at all is nothing to compare.
        e.insert("01XYZ stackproof_gauge{replica=\"0\"}".into(), vec![]);
        let err = compare_samples(&e, &e.clone()).unwrap_err();
        assert!(err.contains("held no sample for the block"), "{err}");
    }

    #[test]
    fn a_range_served_not_at_all_is_named_missing() {
        let e = one(gauge(60, 30));
        let err = compare_samples(&e, &Samples::new()).unwrap_err();
        assert!(
            err.starts_with("the uploaded range 1970-01-01T00:01:00.000Z → 1970-01-01T00:01:29.000Z (29s) is missing"),
            "{err}"
        );
        assert!(
            err.contains("is a store gateway reading the bucket?"),
            "{err}"
        );
        assert!(err.contains("0 of 30 samples served"), "{err}");
    }

    #[test]
    fn a_hole_and_a_wrong_value_are_named() {
        let e = one(gauge(60, 30));
        let mut got = gauge(60, 30);
        got.remove(5);
        got[0].1 += 1.0;
        let err = compare_samples(&e, &one(got)).unwrap_err();
        assert!(
            err.contains("served 29 samples, Prometheus had 30; 2 missing"),
            "{err}"
        );
        assert!(err.contains("1 of 29 samples differ"), "{err}");
        assert!(!err.contains("is missing"), "{err}");
    }
}
