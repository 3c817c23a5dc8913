//! One component of the local stack: its process and the URLs it answers
//! on.

use std::path::Path;
use std::time::Duration;

use super::READY_TIMEOUT;
use crate::client::http::HttpApi;
use crate::eventually::Probe;
use crate::platform::{ComponentInfo, PlatformError};
use crate::process::{ManagedProcess, ProcessSpec};

/// A readiness probe answers at once or not at all: a short timeout keeps
/// the poll going.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One component: its process, and the URL that answers 2xx once ready.
#[derive(Debug)]
pub(crate) struct Managed {
    pub(super) process: ManagedProcess,
    /// Answers 2xx when ready.
    ready: Option<HttpApi>,
    pub(super) url: Option<String>,
}

impl Managed {
    /// A component serving HTTP at `url`, ready once `url/-/ready`
    /// answers 2xx (Prometheus, Thanos and Alertmanager all have it).
    pub(crate) fn new(spec: ProcessSpec, log_dir: &Path, url: String) -> Self {
        let ready = HttpApi::with_timeout(format!("{url}/-/ready"), PROBE_TIMEOUT);
        Self {
            ready: Some(ready),
            ..Self::without_probe(spec, log_dir, url)
        }
    }

    /// A component at `url` whose readiness its owner checks in its own
    /// way (the S3 server: the bucket it must accept).
    pub(super) fn without_probe(spec: ProcessSpec, log_dir: &Path, url: String) -> Self {
        let log = log_dir.join(format!("{}.log", spec.name));
        Self {
            process: ManagedProcess::new(spec, log),
            ready: None,
            url: Some(url),
        }
    }

    pub(crate) fn spawn(&mut self) -> Result<(), PlatformError> {
        Ok(self.process.start()?)
    }

    /// True once started and until the harness stops it.
    pub(super) fn is_started(&self) -> bool {
        self.process.is_started()
    }

    /// Waits until its ready URL answers 2xx (nothing to wait for without
    /// one, or when it is not started).
    pub(crate) async fn wait_ready(&mut self) -> Result<(), PlatformError> {
        let Some(ready) = &self.ready else {
            return Ok(());
        };
        if !self.process.is_started() {
            return Ok(());
        }
        let what = format!(
            "{} to be ready at {}",
            self.process.spec().name,
            ready.base()
        );
        self.process
            .wait_ready(what, READY_TIMEOUT, || async move {
                match ready.get_text("", &[]).await {
                    Ok(_) => Probe::Ready(()),
                    Err(e) => Probe::NotYet(e.to_string()),
                }
            })
            .await
    }

    /// Its log file.
    pub(crate) fn log(&self) -> &Path {
        self.process.log_path()
    }

    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM, then SIGKILL when it outlives `grace`.
    pub(crate) async fn stop(&mut self, grace: Duration) {
        // Past the grace it is killed, which is all a stop here needs.
        let _ = self.process.stop(grace).await;
    }

    pub(super) fn info(&self) -> ComponentInfo {
        ComponentInfo {
            name: self.process.spec().name.clone(),
            pid: self.process.pid(),
            command_line: self.process.spec().command_line(),
            log: self.process.log_path().to_owned(),
            url: self.url.clone(),
        }
    }
}
