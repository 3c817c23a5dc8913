//! One component of the local stack: its spec, its log, its process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::READY_TIMEOUT;
use crate::eventually::{Eventually, Probe};
use crate::platform::{ComponentInfo, PlatformError};
use crate::process::{ProcessSpec, RunningProcess, pid_alive};

/// One component: how to (re)start it and, while it runs, its process.
#[derive(Debug)]
pub(crate) struct Managed {
    pub(super) spec: ProcessSpec,
    pub(crate) log: PathBuf,
    /// HTTP URL that answers 200 when ready.
    pub(super) ready_url: Option<String>,
    pub(super) url: Option<String>,
    pub(super) proc: Option<RunningProcess>,
}

impl Managed {
    pub(crate) fn new(
        spec: ProcessSpec,
        log_dir: &Path,
        ready_url: Option<String>,
        url: Option<String>,
    ) -> Self {
        let log = log_dir.join(format!("{}.log", spec.name));
        Self {
            spec,
            log,
            ready_url,
            url,
            proc: None,
        }
    }

    pub(crate) fn spawn(&mut self) -> Result<(), PlatformError> {
        if self.proc.is_none() {
            self.proc = Some(RunningProcess::spawn(self.spec.clone(), &self.log)?);
        }
        Ok(())
    }

    pub(crate) async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<(), PlatformError> {
        let Some(url) = self.ready_url.clone() else {
            return Ok(());
        };
        let Some(pid) = self.proc.as_ref().map(RunningProcess::pid) else {
            return Ok(());
        };
        let alive = Eventually::new(
            format!("{} to be ready at {url}", self.spec.name),
            READY_TIMEOUT,
        )
        .max_delay(Duration::from_millis(250))
        .until(|| {
            let url = url.clone();
            async move {
                if !pid_alive(pid) {
                    return Probe::Ready(false);
                }
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Probe::Ready(true),
                    Ok(r) => Probe::NotYet(format!("HTTP {}", r.status())),
                    Err(e) => Probe::NotYet(crate::client::error_chain(&e)),
                }
            }
        })
        .await;
        match alive {
            Ok(true) => Ok(()),
            Ok(false) => {
                let p = self.proc.as_mut().expect("spawned");
                let err = crate::eventually::block_on_poll("exit status", || p.exited_early());
                self.proc = None;
                Err(err.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    pub(super) fn terminate(&mut self, grace: Duration) {
        if let Some(mut p) = self.proc.take() {
            p.terminate(grace);
        }
    }

    pub(super) fn info(&self) -> ComponentInfo {
        ComponentInfo {
            name: self.spec.name.clone(),
            pid: self.proc.as_ref().map(RunningProcess::pid),
            command_line: self.spec.command_line(),
            log: self.log.clone(),
            url: self.url.clone(),
        }
    }
}
