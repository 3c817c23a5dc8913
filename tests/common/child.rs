//! `stackproof` run as a child process, its output collected line by line,
//! so a test can wait for a moment of the run, signal it, read its exit, and
//! check what it left: component processes, their listening sockets, and
//! (with a TMPDIR of its own) its run directories.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use stackproof::eventually::poll_for;
use stackproof::process::pid_alive;

use super::procs::{self, Listener};

/// From a signal to the harness's exit: a local stack stops in well under
/// a second; the limit only keeps a broken cancellation from hanging.
pub const EXIT_LIMIT: Duration = Duration::from_secs(60);

/// A running `stackproof` and every line it printed so far.
pub struct Harness {
    child: Child,
    /// Its TMPDIR, when it has one of its own (shared with the runs that
    /// [`Harness::next`] starts).
    tmp: Option<Arc<tempfile::TempDir>>,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Component pids seen so far (the harness's children), with their
    /// start times: a pid recycled since is never signalled.
    seen: Vec<(u32, u64)>,
    /// Their listening sockets, as seen.
    sockets: Vec<Listener>,
}

impl Harness {
    /// Starts `stackproof args…` with `envs` added to the environment.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start(None, args, envs)
    }

    /// Starts `stackproof args…` with a TMPDIR of its own, so the run
    /// directories it creates are known: every `stackproof-*` in it.
    pub fn isolated(args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start(Some(Arc::new(tempfile::tempdir().unwrap())), args, envs)
    }

    /// Starts another `stackproof` in this one's TMPDIR.
    pub fn next(&self, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start(self.tmp.clone(), args, envs)
    }

    fn start(tmp: Option<Arc<tempfile::TempDir>>, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stackproof"));
        cmd.args(args)
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if let Some(t) = &tmp {
            cmd.env("TMPDIR", t.path());
        }
        let mut child = cmd.spawn().expect("stackproof starts");
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        let readers = [out, err]
            .into_iter()
            .map(|stream| {
                let lines = Arc::clone(&lines);
                std::thread::spawn(move || {
                    for l in BufReader::new(stream).lines().map_while(Result::ok) {
                        eprintln!("  | {l}");
                        lines.lock().unwrap().push(l);
                    }
                })
            })
            .collect();
        Self {
            child,
            tmp,
            lines,
            readers,
            seen: Vec::new(),
            sockets: Vec::new(),
        }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Every line so far, as one text.
    pub fn output(&self) -> String {
        self.lines().join("\n")
    }

    /// The first line containing `text`, waiting for it at most `limit`;
    /// panics with every line when it does not come.
    pub fn wait_line(&self, text: &str, limit: Duration) -> String {
        let seen = || {
            self.lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(text))
                .cloned()
        };
        // Its output ends with it: no use waiting out `limit` for a line
        // from a harness that is gone (the lines say why it ended).
        let ended = || self.readers.iter().all(|r| r.is_finished());
        let found = poll_for(limit, || match seen() {
            Some(line) => Some(Ok(line)),
            None if ended() => Some(seen().ok_or(())),
            None => None,
        });
        match found {
            Some(Ok(line)) => line,
            Some(Err(())) => panic!(
                "stackproof ended without a line with {text:?}: {:#?}",
                self.lines()
            ),
            None => panic!("no line with {text:?} in {limit:?}: {:#?}", self.lines()),
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
    }

    /// Its exit status, waiting at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        poll_for(limit, || child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("stackproof still runs after {limit:?}"))
    }

    /// The harness's children now (its components), remembered with their
    /// listening sockets for [`Harness::assert_nothing_left`].
    pub fn components(&mut self) -> Vec<u32> {
        let now = procs::children_of(self.child.id());
        for p in &now {
            if let Some(s) = stackproof::procfs::stat(*p)
                && !self.seen.contains(&(*p, s.start_ticks))
            {
                self.seen.push((*p, s.start_ticks));
            }
        }
        for l in procs::listeners_of(&procs::in_groups(&now)) {
            if !self.sockets.contains(&l) {
                self.sockets.push(l);
            }
        }
        now
    }

    /// Component pids seen so far.
    pub fn seen(&self) -> Vec<u32> {
        self.seen.iter().map(|(p, _)| *p).collect()
    }

    /// Their listening sockets, as seen.
    pub fn sockets(&self) -> &[Listener] {
        &self.sockets
    }

    /// Its TMPDIR (only for [`Harness::isolated`] ones and their nexts).
    pub fn tmp(&self) -> &Path {
        self.tmp.as_ref().expect("an isolated harness").path()
    }

    /// The `stackproof-*` run directories in its TMPDIR (the runs root,
    /// which only holds markers, is not one).
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("stackproof-") && !n.starts_with(stackproof::runs::ROOT_NAME)
                })
            })
            .collect()
    }

    /// Sends `signals` back to back, waits (bounded) for the harness to
    /// exit and for its output to be read to the end, prints how long the
    /// exit took and returns the exit code and the whole output.
    pub fn stop_with(&mut self, signals: &[Signal], what: &str) -> (Option<i32>, String) {
        let sent = Instant::now();
        for sig in signals {
            kill(Pid::from_raw(self.child.id() as i32), *sig).unwrap();
        }
        self.finish(what, sent)
    }

    /// Waits (bounded) for the harness to end by itself, noting its
    /// components and their sockets all along (a short run starts and
    /// stops its stack between two looks otherwise); as
    /// [`Harness::stop_with`].
    pub fn watch_to_end(&mut self, limit: Duration, what: &str) -> (Option<i32>, String) {
        self.watch_to_end_with(limit, what, |_| {})
    }

    /// [`Harness::watch_to_end`], calling `each` with every line so far
    /// whenever new ones came.
    pub fn watch_to_end_with(
        &mut self,
        limit: Duration,
        what: &str,
        mut each: impl FnMut(&[String]),
    ) -> (Option<i32>, String) {
        let since = Instant::now();
        let mut seen = 0;
        poll_for(limit, || {
            self.components();
            let lines = self.lines();
            if lines.len() > seen {
                seen = lines.len();
                each(&lines);
            }
            self.child.try_wait().unwrap()
        })
        .unwrap_or_else(|| panic!("{what}: still running after {limit:?}"));
        self.finish(what, since)
    }

    fn finish(&mut self, what: &str, since: Instant) -> (Option<i32>, String) {
        let status = poll_for(EXIT_LIMIT, || self.child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("still running {EXIT_LIMIT:?} after {what}"));
        let took = since.elapsed();
        // Components write to their log files, not to these pipes: both
        // end when the harness does — unless a component outlives it (after
        // SIGKILL), which inherited neither.
        poll_for(EXIT_LIMIT, || {
            self.readers.iter().all(|r| r.is_finished()).then_some(())
        })
        .expect("the harness's output read to its end");
        eprintln!(
            "{what} → exit {:?} in {:.2}s",
            status.code(),
            took.as_secs_f64()
        );
        (status.code(), self.output())
    }

    /// No component process, nothing in any component's process group, no
    /// listening socket of theirs and no run directory is left.
    pub fn assert_nothing_left(&self) {
        self.assert_components_gone();
        if self.tmp.is_some() {
            assert_eq!(self.run_dirs(), Vec::<PathBuf>::new(), "run dirs survived");
        }
    }

    /// No component process, nothing in their process groups and none of
    /// their listening sockets is left.
    pub fn assert_components_gone(&self) {
        assert!(!self.seen.is_empty(), "no component was ever seen");
        let seen = self.seen();
        for p in &seen {
            poll_for(Duration::from_secs(30), || (!pid_alive(*p)).then_some(()))
                .unwrap_or_else(|| panic!("component pid {p} survived"));
        }
        let groups = procs::in_groups(&seen);
        assert!(
            groups.is_empty(),
            "processes left in component groups: {groups:?}"
        );
        assert_eq!(
            procs::still_listening(&self.sockets),
            vec![],
            "sockets still listening"
        );
    }
}

impl Drop for Harness {
    /// A failed test must not leave its stack either: SIGINT first (the
    /// kind platforms delete their cluster), then SIGKILL to the harness
    /// and to every component group seen.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.components();
            self.interrupt();
            let _ = poll_for(Duration::from_secs(300), || {
                self.child.try_wait().ok().flatten()
            });
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (p, start) in &self.seen {
            if stackproof::procfs::stat(*p).is_some_and(|s| s.alive() && s.start_ticks == *start) {
                let _ = killpg(Pid::from_raw(*p as i32), Signal::SIGKILL);
            }
        }
    }
}
