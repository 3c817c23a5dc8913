//! Component processes: each in its own process group, killed with its whole
//! group on drop. On SIGINT or SIGTERM a run held in a
//! [`crate::cancel::SignalScope`] is cancelled and drops them; otherwise (or
//! on a second signal) the signal thread kills every group itself.

mod cleanup;
mod managed;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

pub use managed::ManagedProcess;

pub use cleanup::{
    cleanup_all, install_signal_cleanup, live_process_groups, register_dir, unregister_dir,
};

/// `STACKPROOF_KEEP=1`: leave processes and directories in place.
pub fn keep_requested() -> bool {
    std::env::var("STACKPROOF_KEEP").is_ok_and(|v| v == "1" || v == "true")
}

/// What to run: the program, its arguments and environment, and the values
/// that must never be printed.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    pub cwd: Option<PathBuf>,
}

impl ProcessSpec {
    /// A spec for `program`, known in reports as `name`.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            secrets: Vec::new(),
            cwd: None,
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    /// Marks a value as secret: it is redacted from command lines and logs
    /// that the harness prints.
    pub fn secret(mut self, s: impl Into<String>) -> Self {
        let s = s.into();
        if !s.is_empty() {
            self.secrets.push(s);
        }
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The command line as a person would type it, secrets redacted.
    pub fn command_line(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().map(|a| shell_quote(a)));
        redact(&parts.join(" "), &self.secrets)
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Replaces every secret in `text` with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |t, s| t.replace(s.as_str(), "[REDACTED]"))
}

/// Errors starting or stopping a component process.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot create log file {path} for {name}: {source}")]
    Log {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {name} ({command}): {source}")]
    Spawn {
        name: String,
        command: String,
        source: std::io::Error,
    },
    #[error(
        "{name} exited with {status} before it was ready\n  command: {command}\n  log: {log}\n  last log lines:\n{tail}"
    )]
    ExitedEarly {
        name: String,
        status: String,
        command: String,
        log: PathBuf,
        /// The last log lines, then what to do when they say what went
        /// wrong.
        tail: String,
    },
    /// Waited for before the harness started it: a bug in the harness.
    #[error("{name} was waited for but never started")]
    NotStarted { name: String },
}

/// A running component: the process group leader plus its log file.
/// Dropping it kills the whole group, unless `STACKPROOF_KEEP=1`.
#[derive(Debug)]
pub struct RunningProcess {
    spec: ProcessSpec,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl RunningProcess {
    /// Starts `spec` in a new process group, stdout and stderr appended to
    /// `log`.
    pub fn spawn(spec: ProcessSpec, log: &Path) -> Result<Self, ProcessError> {
        install_signal_cleanup();
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
        };
        let (out, err) = open()
            .and_then(|f| Ok((f.try_clone()?, f)))
            .map_err(|source| ProcessError::Log {
                name: spec.name.clone(),
                path: log.to_owned(),
                source,
            })?;
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(&spec.env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        let child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            name: spec.name.clone(),
            command: spec.command_line(),
            source,
        })?;
        crate::runs::record_component(&spec.name, child.id());
        tracing::debug!(name = %spec.name, pid = child.id(), "started");
        Ok(Self {
            spec,
            child,
            log: log.to_owned(),
            exited: None,
        })
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The leader's pid (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The spec it was started from.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The exit status, when it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
            if self.exited.is_some() {
                // The leader is gone; members of its group may not be.
                let _ = killpg(Pid::from_raw(self.pid() as i32), Signal::SIGKILL);
                crate::runs::forget_component(self.pid());
            }
        }
        self.exited
    }

    /// The error to report when it exited while the harness waited for it.
    pub fn exited_early(&mut self) -> Option<ProcessError> {
        let status = self.try_exit()?;
        let tail = self.log_tail(20);
        Some(ProcessError::ExitedEarly {
            name: self.spec.name.clone(),
            status: status.to_string(),
            command: self.spec.command_line(),
            log: self.log.clone(),
            tail: format!("{}{}", indent(&tail), hint_for(&tail)),
        })
    }

    /// The last `n` lines of its log, secrets redacted.
    pub fn log_tail(&self, n: usize) -> String {
        redact(&tail_lines(&self.log, n), &self.spec.secrets)
    }

    /// SIGKILL to the whole group, then reap the leader.
    pub fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let _ = killpg(Pid::from_raw(self.pid() as i32), Signal::SIGKILL);
        self.exited = self.child.wait().ok();
        crate::runs::forget_component(self.pid());
    }
}

impl Drop for RunningProcess {
    fn drop(&mut self) {
        if keep_requested() {
            return;
        }
        self.kill();
    }
}

/// What to do about a component's early exit, when its last log lines
/// say why (empty otherwise).
fn hint_for(tail: &str) -> String {
    if tail.contains("address already in use") {
        "\n  hint: a port it was given was taken by another process after stackproof chose it \
         (`ss -ltnp` shows who holds it); stackproof picks fresh free ports on every run: run it again"
            .into()
    } else {
        String::new()
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes `text` to `path` readable by its owner only: rendered configs
/// hold per-run credentials.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
}

/// The last `n` lines of a file (reads at most its last 64 KiB).
pub fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// True while any thread of this pid runs (see [`crate::procfs::any_thread_alive`]).
pub fn pid_alive(pid: u32) -> bool {
    crate::procfs::any_thread_alive(pid)
}

/// Peak resident set size (VmHWM) of a pid in bytes, when readable.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests;
