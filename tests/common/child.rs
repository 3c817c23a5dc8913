//! `stackproof` run as a child process, its output collected line by line,
//! so a test can wait for a moment of the run, signal it, and read its exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `stackproof` and every line it printed so far.
pub struct Harness {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    /// Starts `stackproof args…` with `envs` added to the environment.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stackproof"))
            .args(args)
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("stackproof starts");
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for l in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("  | {l}");
                    lines.lock().unwrap().push(l);
                }
            });
        }
        Self { child, lines }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
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
        stackproof::eventually::poll_for(limit, seen)
            .unwrap_or_else(|| panic!("no line with {text:?} in {limit:?}: {:#?}", self.lines()))
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    /// Its exit status, waiting at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        stackproof::eventually::poll_for(limit, || child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("stackproof still runs after {limit:?}"))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.interrupt();
            let _ = stackproof::eventually::poll_for(Duration::from_secs(300), || {
                self.child.try_wait().ok().flatten()
            });
        }
    }
}
