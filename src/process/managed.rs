//! [`ManagedProcess`]: the one way the harness runs a component — start it,
//! wait until it is ready while checking it still lives (a component that
//! dies during start-up is reported with its exit status and log, not as a
//! slow one), and stop it, gracefully or not. The local stack's
//! components, Loki and the compactor's passes all go through it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{ProcessError, ProcessSpec, RunningProcess, pid_alive};
use crate::eventually::{Eventually, Probe, WaitError};

/// Longest pause between two probes of a start or a stop: components come
/// up in a second or two, and a wait should not outlast them by much.
const POLL_MAX: Duration = Duration::from_millis(250);

/// A component: how to (re)start it, its log (kept across restarts) and,
/// while it runs, its process. Dropping it kills the process group.
#[derive(Debug)]
pub struct ManagedProcess {
    spec: ProcessSpec,
    log: PathBuf,
    proc: Option<RunningProcess>,
    starts: u32,
}

impl ManagedProcess {
    /// A component run from `spec`, its output appended to `log`; not
    /// started yet.
    pub fn new(spec: ProcessSpec, log: impl Into<PathBuf>) -> Self {
        Self {
            spec,
            log: log.into(),
            proc: None,
            starts: 0,
        }
    }

    /// What it runs (or will run on its next start).
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// Runs `spec` from the next start on (a changed config or secret).
    pub fn set_spec(&mut self, spec: ProcessSpec) {
        self.spec = spec;
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process id while started (and not stopped by the harness).
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(RunningProcess::pid)
    }

    /// True once started and until the harness stops or kills it (even if
    /// it has died on its own since).
    pub fn is_started(&self) -> bool {
        self.proc.is_some()
    }

    /// True while its process runs.
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(|p| p.try_exit().is_none())
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The last `n` lines of its log, secrets redacted.
    pub fn log_tail(&self, n: usize) -> String {
        super::redact(&super::tail_lines(&self.log, n), &self.spec.secrets)
    }

    /// Starts it unless it runs; one that died on its own is started again.
    pub fn start(&mut self) -> Result<(), ProcessError> {
        if self.proc.as_mut().is_some_and(|p| p.try_exit().is_some()) {
            self.proc = None;
        }
        if self.proc.is_none() {
            self.proc = Some(RunningProcess::spawn(self.spec.clone(), &self.log)?);
            self.starts += 1;
        }
        Ok(())
    }

    /// Polls `probe` (at most `timeout`) until it is ready, checking before
    /// each probe that the process still lives. Dies first: the error is
    /// its exit status, command line and last log lines.
    pub async fn wait_ready<T, E, F, Fut>(
        &mut self,
        what: impl Into<String>,
        timeout: Duration,
        mut probe: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Probe<T>>,
        E: From<ProcessError> + From<WaitError>,
    {
        let Some(pid) = self.pid() else {
            return Err(ProcessError::NotStarted {
                name: self.spec.name.clone(),
            }
            .into());
        };
        let ready = Eventually::new(what, timeout)
            .max_delay(POLL_MAX)
            .until(|| {
                let alive = pid_alive(pid);
                let fut = alive.then(&mut probe);
                async move {
                    match fut {
                        None => Probe::Ready(None),
                        Some(fut) => match fut.await {
                            Probe::Ready(v) => Probe::Ready(Some(v)),
                            Probe::NotYet(seen) => Probe::NotYet(seen),
                        },
                    }
                }
            })
            .await?;
        match ready {
            Some(v) => Ok(v),
            None => {
                let p = self.proc.as_mut().expect("started");
                let err = crate::eventually::block_on_poll("its exit status", || p.exited_early());
                self.proc = None;
                Err(err.into())
            }
        }
    }

    /// Waits (at most `timeout`) until it exits by itself: a one-shot
    /// command. On timeout it is killed.
    pub async fn wait_exit(
        &mut self,
        what: impl Into<String>,
        timeout: Duration,
    ) -> Result<ExitStatus, WaitError> {
        let log = self.log.clone();
        let Some(p) = self.proc.as_mut() else {
            return Err(WaitError {
                what: what.into(),
                waited: Duration::ZERO,
                last: "never started".into(),
            });
        };
        let exited = Eventually::new(what, timeout)
            .max_delay(POLL_MAX)
            .until(|| {
                let status = p.try_exit();
                let log = &log;
                async move {
                    match status {
                        Some(s) => Probe::Ready(s),
                        None => Probe::NotYet(super::tail_lines(log, 1)),
                    }
                }
            })
            .await;
        if exited.is_err() {
            self.kill();
        }
        exited
    }

    /// SIGTERM to the group, then waits (at most `grace`) for the exit, so
    /// that a component can flush on its way out. Returns how long that
    /// took; past `grace` it is killed and the error says so.
    pub async fn stop(&mut self, grace: Duration) -> Result<Duration, WaitError> {
        let started = Instant::now();
        if !self.is_running() {
            self.proc = None;
            return Ok(Duration::ZERO);
        }
        let pid = self.pid().expect("running");
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGTERM);
        let name = self.spec.name.clone();
        let p = self.proc.as_mut().expect("running");
        let exited = Eventually::new(format!("{name} to exit after SIGTERM"), grace)
            .max_delay(POLL_MAX)
            .until(|| {
                let status = p.try_exit();
                async move {
                    match status {
                        Some(s) => Probe::Ready(s),
                        None => Probe::NotYet("still running (flushing?)".into()),
                    }
                }
            })
            .await;
        self.kill();
        exited.map(|_| started.elapsed())
    }

    /// SIGKILL to the group at once: no flush, nothing written on the way
    /// out.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

#[cfg(test)]
mod tests;
