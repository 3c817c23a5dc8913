//! Bounded polls with backoff: return as soon as a condition holds; on
//! timeout, say what was awaited and what was last seen. No fixed sleeps.

use std::future::Future;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use crate::progress::Progress;

/// One observation of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe<T> {
    /// The condition holds; here is what it yielded.
    Ready(T),
    /// Not yet; the text says what was seen instead.
    NotYet(String),
}

/// A wait that timed out.
#[derive(Debug, Clone, thiserror::Error)]
#[error("timed out after {:.1}s waiting for {what}; last seen: {last}", waited.as_secs_f64())]
pub struct WaitError {
    pub what: String,
    pub waited: Duration,
    pub last: String,
}

/// A bounded wait for a named condition.
#[derive(Debug, Clone)]
pub struct Eventually {
    what: String,
    timeout: Duration,
    min_delay: Duration,
    max_delay: Duration,
    progress_every: Option<Duration>,
}

impl Eventually {
    /// Waits at most `timeout` for the condition described by `what`.
    pub fn new(what: impl Into<String>, timeout: Duration) -> Self {
        Self {
            what: what.into(),
            timeout,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            progress_every: progress_default(),
        }
    }

    /// Longest pause between two probes.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Prints "… waiting for" lines to stderr this often (None: silent);
    /// on a terminal, one live line rewritten at every probe instead.
    pub fn progress_every(mut self, every: Option<Duration>) -> Self {
        self.progress_every = every;
        self
    }

    /// Polls `probe` until it is ready or the timeout passes.
    pub async fn until<T, F, Fut>(self, mut probe: F) -> Result<T, WaitError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Probe<T>>,
    {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut progress = Progress::new(self.progress_every);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(1.6)
            .without_max_times();
        let what = self.what.clone();
        let result = (|| {
            let fut = probe();
            async move {
                match fut.await {
                    Probe::Ready(v) => Ok(v),
                    Probe::NotYet(seen) => Err(seen),
                }
            }
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|_| Instant::now() < deadline)
        .notify(|seen: &String, _| {
            progress.update(|| {
                format!(
                    "  … waiting for {what} ({:.0}s of {:.0}s; last seen: {seen})",
                    start.elapsed().as_secs_f64(),
                    self.timeout.as_secs_f64()
                )
            });
        })
        .await;
        drop(progress);
        result.map_err(|last| WaitError {
            what: self.what,
            waited: start.elapsed(),
            last,
        })
    }
}

impl Eventually {
    /// Like [`Eventually::until`], for a probe whose observation is worth
    /// keeping when the condition never holds (what was served, what was
    /// counted): on timeout, the last observation comes back with the
    /// error, so that a check can judge it and say what it saw.
    pub async fn until_seen<T, F, Fut>(self, mut probe: F) -> Result<T, (Option<T>, WaitError)>
    where
        T: Clone,
        F: FnMut() -> Fut,
        Fut: Future<Output = Seen<T>>,
    {
        // Shared with the probe's futures, which outlive each call.
        let last: std::sync::Mutex<Option<T>> = std::sync::Mutex::new(None);
        let waited = self
            .until(|| {
                let fut = probe();
                let last = &last;
                async move {
                    match fut.await {
                        Seen::Ready(v) => Probe::Ready(v),
                        Seen::NotYet(v, why) => {
                            *last.lock().unwrap() = Some(v);
                            Probe::NotYet(why)
                        }
                        Seen::Nothing(why) => Probe::NotYet(why),
                    }
                }
            })
            .await;
        waited.map_err(|e| (last.into_inner().unwrap(), e))
    }
}

/// One observation for [`Eventually::until_seen`].
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    /// The condition holds; here is what was seen.
    Ready(T),
    /// Not yet: what was seen (kept), and why it is not enough.
    NotYet(T, String),
    /// Nothing could be observed this time (an error), in words.
    Nothing(String),
}

fn progress_default() -> Option<Duration> {
    match std::env::var("STACKPROOF_QUIET") {
        Ok(v) if v == "1" => None,
        _ => Some(Duration::from_secs(10)),
    }
}

/// Synchronous bounded poll for `Drop` paths and blocking code: polls
/// `probe` with backoff (5 ms doubling to 250 ms) for at most `limit`; None
/// when it never held.
pub fn poll_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(5);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return None;
        }
        // Backoff between polls, bounded above and by the limit.
        std::thread::sleep(delay.min(left));
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// [`poll_for`] for tests: at most 30 s, then a panic naming `what`.
pub fn block_on_poll<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    poll_for(Duration::from_secs(30), probe)
        .unwrap_or_else(|| panic!("timed out after 30s waiting for {what}"))
}

/// Holds a fault for `duration` (a scenario's outage, not a wait for a
/// condition): polls the clock with backoff and prints progress, and stops
/// early with an error when `still_holds` reports the fault was undone.
pub async fn hold_for(
    what: &str,
    duration: Duration,
    mut still_holds: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let start = Instant::now();
    let mut progress = Progress::new(progress_default());
    while start.elapsed() < duration {
        still_holds().map_err(|e| format!("while holding {what}: {e}"))?;
        progress.update(|| {
            format!(
                "  … holding {what} ({:.0}s of {:.0}s)",
                start.elapsed().as_secs_f64(),
                duration.as_secs_f64()
            )
        });
        let left = duration.saturating_sub(start.elapsed());
        // Poll the fault every 250 ms at most (a backoff capped by the end).
        tokio::time::sleep(left.min(Duration::from_millis(250))).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_as_soon_as_the_condition_holds() {
        let n = AtomicU32::new(0);
        let start = Instant::now();
        let v = Eventually::new("third probe", Duration::from_secs(10))
            .until(|| {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i >= 2 {
                        Probe::Ready(i)
                    } else {
                        Probe::NotYet(format!("probe {i}"))
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(v, 2);
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_timeout_gives_back_the_last_observation() {
        let n = AtomicU32::new(0);
        let (last, err) = Eventually::new("a count of 10", Duration::from_millis(300))
            .progress_every(None)
            .until_seen(|| {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i == 0 {
                        Seen::Nothing("no answer".into())
                    } else {
                        Seen::NotYet(i, format!("count {i}"))
                    }
                }
            })
            .await
            .unwrap_err();
        assert!(last.unwrap() >= 1);
        assert!(err.to_string().contains("last seen: count "), "{err}");
        let ok = Eventually::new("ready", Duration::from_secs(1))
            .until_seen(|| async { Seen::Ready(7) })
            .await;
        assert_eq!(ok.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_timeout_says_what_it_waited_for_and_last_saw() {
        let err = Eventually::new("the bucket to hold a block", Duration::from_millis(300))
            .progress_every(None)
            .until(|| async { Probe::<()>::NotYet("0 objects".into()) })
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("waiting for the bucket to hold a block"),
            "{msg}"
        );
        assert!(msg.contains("last seen: 0 objects"), "{msg}");
        assert!(err.waited >= Duration::from_millis(300));
        assert!(err.waited < Duration::from_secs(3));
    }
}
