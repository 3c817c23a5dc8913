//! Holes in a series' raw samples.

use std::fmt;

/// A hole: no sample strictly between `after_ms` and `before_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The last sample before the hole (or the window start).
    pub after_ms: i64,
    /// The first sample after the hole (or the window end).
    pub before_ms: i64,
}

impl Gap {
    /// Its length in milliseconds.
    pub fn len_ms(&self) -> i64 {
        self.before_ms - self.after_ms
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}s with no sample, from {} to {}",
            self.len_ms() as f64 / 1000.0,
            fmt_time(self.after_ms),
            fmt_time(self.before_ms)
        )
    }
}

/// `2026-11-25T08:50:11.123Z` for a millisecond timestamp.
pub fn fmt_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days → civil date algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Every hole longer than `max_gap_ms` in sorted `timestamps`, including a
/// leading or trailing one against `window` `[start, end]` when given.
pub fn find_gaps(timestamps: &[i64], max_gap_ms: i64, window: Option<(i64, i64)>) -> Vec<Gap> {
    let mut points: Vec<i64> = Vec::with_capacity(timestamps.len() + 2);
    if let Some((start, _)) = window {
        points.push(start);
    }
    points.extend_from_slice(timestamps);
    if let Some((_, end)) = window {
        points.push(end);
    }
    points
        .windows(2)
        .filter(|w| w[1] - w[0] > max_gap_ms)
        .map(|w| Gap {
            after_ms: w[0],
            before_ms: w[1],
        })
        .collect()
}

/// The hole a series killed for `outage` must show: its longest hole above
/// `max_gap_ms`, at least as long as the outage. Otherwise says why (no
/// hole: it kept going through the kill; a shorter one: was it down?), so
/// that a kill that did not happen cannot pass as an outage survived.
pub fn outage_hole(
    timestamps: &[i64],
    max_gap_ms: i64,
    outage: std::time::Duration,
    series: &str,
) -> Result<Gap, String> {
    let gaps = find_gaps(timestamps, max_gap_ms, None);
    match gaps.into_iter().max_by_key(Gap::len_ms) {
        Some(g) if g.len_ms() >= outage.as_millis() as i64 => Ok(g),
        Some(g) => Err(format!(
            "{series}: the longest hole is {g}, shorter than the {}s outage: was it really down?",
            outage.as_secs()
        )),
        None if timestamps.is_empty() => Err(format!("{series}: no sample at all")),
        None => Err(format!(
            "{series} has no hole: it kept scraping through the kill"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_gap_in_regular_samples() {
        let ts: Vec<i64> = (0..100).map(|i| 1000 * i).collect();
        assert!(find_gaps(&ts, 1500, Some((0, 99_000))).is_empty());
    }

    #[test]
    fn finds_a_hole_with_its_span() {
        let mut ts: Vec<i64> = (0..10).map(|i| 1000 * i).collect();
        ts.extend((40..50).map(|i| 1000 * i));
        let gaps = find_gaps(&ts, 3000, None);
        assert_eq!(
            gaps,
            vec![Gap {
                after_ms: 9000,
                before_ms: 40_000
            }]
        );
        assert_eq!(gaps[0].len_ms(), 31_000);
        assert!(
            gaps[0]
                .to_string()
                .starts_with("31.0s with no sample, from 1970-01-01T00:00:09.000Z")
        );
    }

    #[test]
    fn leading_and_trailing_holes_count_against_the_window() {
        let ts = vec![10_000, 11_000];
        let gaps = find_gaps(&ts, 2000, Some((0, 20_000)));
        assert_eq!(gaps.len(), 2);
        assert_eq!(
            gaps[0],
            Gap {
                after_ms: 0,
                before_ms: 10_000
            }
        );
        assert_eq!(
            gaps[1],
            Gap {
                after_ms: 11_000,
                before_ms: 20_000
            }
        );
        assert_eq!(find_gaps(&[], 2000, Some((0, 20_000))).len(), 1);
    }

    #[test]
    fn a_gap_exactly_at_the_bound_is_allowed() {
        assert!(find_gaps(&[0, 3000], 3000, None).is_empty());
        assert_eq!(find_gaps(&[0, 3001], 3000, None).len(), 1);
    }

    #[test]
    fn a_kill_must_leave_a_hole_as_long_as_the_outage() {
        let outage = std::time::Duration::from_secs(30);
        let mut ts: Vec<i64> = (0..10).map(|i| 1000 * i).collect();
        ts.extend((45..50).map(|i| 1000 * i));
        assert_eq!(
            outage_hole(&ts, 7000, outage, "r0").unwrap().len_ms(),
            36_000
        );
        let steady: Vec<i64> = (0..60).map(|i| 1000 * i).collect();
        let err = outage_hole(&steady, 7000, outage, "r0").unwrap_err();
        assert!(
            err.contains("no hole: it kept scraping through the kill"),
            "{err}"
        );
        let short = vec![0, 1000, 11_000, 12_000];
        let err = outage_hole(&short, 7000, outage, "r0").unwrap_err();
        assert!(err.contains("shorter than the 30s outage"), "{err}");
        assert!(
            outage_hole(&[], 7000, outage, "r0")
                .unwrap_err()
                .contains("no sample")
        );
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(fmt_time(1_764_060_611_123), "2025-11-25T08:50:11.123Z");
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00.000Z");
    }
}
