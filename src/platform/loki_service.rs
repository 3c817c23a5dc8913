//! Loki as a platform serves it: where log scenarios reach it and the
//! faults they cause in it. On `local` it is the user's binary run as a
//! process ([`crate::platform::loki::LocalLoki`]); on Kubernetes the chart's
//! single binary in the run's namespace ([`crate::platform::kube::KubeLoki`]).
//! No scenario starts a Loki of its own.

use std::time::Duration;

use async_trait::async_trait;

use crate::client::loki::LokiClient;
use crate::client::objstore::S3Target;
use crate::platform::loki::{LocalLoki, LokiPlatformError};
use crate::stack::loki::FlushSettings;

/// A running Loki 3 and the faults log scenarios cause in it.
#[async_trait]
pub trait LokiService: Send + Sync {
    /// A client for its HTTP API.
    fn client(&self) -> LokiClient;
    /// The bucket its chunks and tsdb index go to, as the harness reaches it.
    fn bucket(&self) -> &S3Target;
    /// Log lines (recent ones) containing every one of `needles`, at most
    /// `max`, newest last, secrets redacted.
    async fn log_lines_matching(&self, needles: &[&str], max: usize) -> Vec<String>;
    /// The last `n` lines of its log, secrets redacted.
    async fn log_tail(&self, n: usize) -> String;
    /// Stops it gracefully (SIGTERM, or the pod deleted with its grace
    /// period): Loki flushes its chunks and ships its tsdb index on the way
    /// out. Returns how long that took; an error when it outlived `grace`.
    async fn stop(&mut self, grace: Duration) -> Result<Duration, LokiPlatformError>;
    /// Starts it again (stopping it gracefully first when it runs) and waits
    /// until `/ready`; with `wipe_local`, its local data (WAL, tsdb head,
    /// caches: a process's directories, a pod's volume) is deleted first, so
    /// it can only answer from the bucket.
    async fn restart(&mut self, wipe_local: bool) -> Result<(), LokiPlatformError>;
    /// Restarts it with a wrong secret key (`wrong = true`), or the right
    /// one again, and waits until `/ready`: flushes must then fail.
    async fn set_wrong_credentials(&mut self, wrong: bool) -> Result<(), LokiPlatformError>;
    /// Restarts it with `flush` as its ingester's flush settings (its data
    /// kept) and waits until `/ready`: a Loki that keeps chunks longer than
    /// the stack promises, for a negative twin. Errors with
    /// [`LokiPlatformError::Unsupported`] where its config cannot be changed.
    async fn set_flush_settings(&mut self, flush: FlushSettings) -> Result<(), LokiPlatformError>;
    /// Restarts it with `service_name` / `detected_level` discovery on or
    /// off (its data kept) and waits until `/ready`: on, streams carry
    /// labels nobody pushed, for a negative twin. Errors with
    /// [`LokiPlatformError::Unsupported`] where its config cannot be changed.
    async fn set_label_discovery(&mut self, on: bool) -> Result<(), LokiPlatformError>;
}

/// The lines of `log` containing every one of `needles`, the last `max`
/// of them, oldest first.
pub fn matching_lines(log: &str, needles: &[&str], max: usize) -> Vec<String> {
    let found: Vec<&str> = log
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .collect();
    found[found.len().saturating_sub(max)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[async_trait]
impl LokiService for LocalLoki {
    fn client(&self) -> LokiClient {
        LocalLoki::client(self)
    }

    fn bucket(&self) -> &S3Target {
        LocalLoki::bucket(self)
    }

    async fn log_lines_matching(&self, needles: &[&str], max: usize) -> Vec<String> {
        LocalLoki::log_lines_matching(self, needles, max)
    }

    async fn log_tail(&self, n: usize) -> String {
        LocalLoki::log_tail(self, n)
    }

    async fn stop(&mut self, grace: Duration) -> Result<Duration, LokiPlatformError> {
        LocalLoki::stop(self, grace).await
    }

    async fn restart(&mut self, wipe_local: bool) -> Result<(), LokiPlatformError> {
        LocalLoki::restart(self, wipe_local).await
    }

    async fn set_wrong_credentials(&mut self, wrong: bool) -> Result<(), LokiPlatformError> {
        LocalLoki::set_wrong_credentials(self, wrong).await
    }

    async fn set_flush_settings(&mut self, flush: FlushSettings) -> Result<(), LokiPlatformError> {
        LocalLoki::set_flush_settings(self, flush).await
    }

    async fn set_label_discovery(&mut self, on: bool) -> Result<(), LokiPlatformError> {
        LocalLoki::set_label_discovery(self, on).await
    }
}
