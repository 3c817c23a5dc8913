//! Nothing leaks: after drop, after a panic, after SIGTERM or SIGINT (in
//! `up`, while the stack starts, in the middle of a scenario, twice), no
//! component process is left and the run directory is gone. Bad input is
//! named.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use stackproof::eventually::poll_for;

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::process::pid_alive;
use stackproof::versions::Versions;

fn pids_and_root(stack: &LocalStack) -> (Vec<u32>, PathBuf) {
    let pids: Vec<u32> = stack.components().iter().filter_map(|c| c.pid).collect();
    assert!(
        pids.len() >= 7,
        "expected every component running: {pids:?}"
    );
    (pids, stack.root().to_owned())
}

fn assert_gone(pids: &[u32], root: &std::path::Path) {
    for p in pids {
        assert!(!pid_alive(*p), "pid {p} survived");
    }
    assert!(!root.exists(), "{} survived", root.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stack_kills_everything_and_removes_its_dir() {
    let stack = LocalStack::builder().start().await.expect("local stack");
    let (pids, root) = pids_and_root(&stack);
    assert!(pids.iter().all(|p| pid_alive(*p)));
    drop(stack);
    assert_gone(&pids, &root);
}

#[test]
fn a_panic_inside_a_test_leaves_nothing() {
    let seen: Mutex<Option<(Vec<u32>, PathBuf)>> = Mutex::new(None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let stack = LocalStack::builder().start().await.expect("local stack");
            *seen.lock().unwrap() = Some(pids_and_root(&stack));
            panic!("a scenario panicked");
        })
    }));
    assert!(outcome.is_err());
    let (pids, root) = seen.lock().unwrap().take().expect("stack started");
    assert_gone(&pids, &root);
}

/// `stackproof` run as a user runs it, with a TMPDIR of its own (so the run
/// directories it creates are known: every `stackproof-*` in it) and its
/// stdout and stderr collected line by line.
struct Harness {
    child: Child,
    tmp: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Component pids seen so far (the harness's children).
    seen: Vec<u32>,
}

/// Generous: the stack starts in 6–11 s alone, slower beside big builds.
const START_LIMIT: Duration = Duration::from_secs(300);
/// From a signal to the harness's exit: a local stack stops in well under
/// a second; the limit only keeps a broken cancellation from hanging.
const EXIT_LIMIT: Duration = Duration::from_secs(60);

impl Harness {
    fn start(args: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackproof"))
            .args(args)
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        let mut readers = Vec::new();
        for stream in [out, err] {
            let lines = Arc::clone(&lines);
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("  | {line}");
                    lines.lock().unwrap().push(line);
                }
            }));
        }
        Self {
            child,
            tmp,
            lines,
            readers,
            seen: Vec::new(),
        }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits (bounded) for a line containing `text`; returns every line so far.
    fn wait_for_line(&mut self, text: &str) -> Vec<String> {
        let found = poll_for(START_LIMIT, || {
            let lines = self.lines.lock().unwrap();
            lines
                .iter()
                .any(|l| l.contains(text))
                .then(|| lines.clone())
        });
        found.unwrap_or_else(|| {
            panic!(
                "no line with {text:?} in {START_LIMIT:?}:\n{}",
                self.output()
            )
        })
    }

    /// The harness's children now (its components), remembered for
    /// [`Harness::assert_nothing_left`].
    fn components(&mut self) -> Vec<u32> {
        let now = children_of(self.child.id());
        for p in &now {
            if !self.seen.contains(p) {
                self.seen.push(*p);
            }
        }
        now
    }

    /// The `stackproof-*` run directories in its TMPDIR.
    fn run_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("stackproof-"))
            })
            .collect()
    }

    /// Sends `signals` back to back, waits (bounded) for the harness to
    /// exit and for its output to be read to the end, prints how long the
    /// exit took and returns the exit code and the whole output.
    fn stop_with(&mut self, signals: &[Signal], what: &str) -> (Option<i32>, String) {
        let sent = Instant::now();
        for sig in signals {
            kill(Pid::from_raw(self.child.id() as i32), *sig).unwrap();
        }
        let status = poll_for(EXIT_LIMIT, || self.child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("still running {EXIT_LIMIT:?} after {what}"));
        let took = sent.elapsed();
        // Components write to their log files, not to these pipes: both
        // end when the harness does.
        poll_for(EXIT_LIMIT, || {
            self.readers.iter().all(|r| r.is_finished()).then_some(())
        })
        .expect("the harness's output read to its end");
        let out = self.output();
        eprintln!(
            "{what} → exit {:?} in {:.2}s",
            status.code(),
            took.as_secs_f64()
        );
        (status.code(), out)
    }

    /// No component process, nothing in any component's process group and
    /// no run directory is left.
    fn assert_nothing_left(&self) {
        assert!(!self.seen.is_empty(), "no component was ever seen");
        for p in &self.seen {
            poll_for(Duration::from_secs(30), || (!pid_alive(*p)).then_some(()))
                .unwrap_or_else(|| panic!("component pid {p} survived"));
        }
        let groups = in_groups(&self.seen);
        assert!(
            groups.is_empty(),
            "processes left in component groups: {groups:?}"
        );
        assert_eq!(self.run_dirs(), Vec::<PathBuf>::new(), "run dirs survived");
    }
}

impl Drop for Harness {
    /// A failed test must not leave its stack either.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.components();
            let _ = self.child.kill();
            let _ = self.child.wait();
            for p in &self.seen {
                let _ = killpg(Pid::from_raw(*p as i32), Signal::SIGKILL);
            }
        }
    }
}

/// `(pid, ppid, pgrp)` of every process, from /proc.
fn processes() -> Vec<(u32, u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the parenthesised command name: state, ppid, pgrp.
            let mut f = stat.rsplit_once(')')?.1.split_whitespace().skip(1);
            Some((pid, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

fn children_of(parent: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(pid, ppid, _)| *ppid == parent && pid_alive(*pid))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Live processes whose process group is one of `groups` (each component
/// leads its own group).
fn in_groups(groups: &[u32]) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(pid, _, pgrp)| groups.contains(pgrp) && pid_alive(*pid))
        .map(|(pid, _, _)| pid)
        .collect()
}

#[test]
fn sigterm_to_the_harness_stops_every_component() {
    let mut h = Harness::start(&["up"]);
    let lines = h.wait_for_line("ready in");
    let mut pids = Vec::new();
    let mut root = None;
    for line in &lines {
        if let Some(dir) = line.strip_prefix("stackproof local stack in ") {
            root = Some(PathBuf::from(dir.trim()));
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 2
            && words[1] == "pid"
            && let Ok(p) = words[2].parse::<u32>()
        {
            pids.push(p);
        }
    }
    let root = root.expect("`stackproof up` printed its directory");
    assert!(pids.len() >= 7, "{pids:?}");
    let mut children = h.components();
    children.sort();
    pids.sort();
    assert_eq!(
        children, pids,
        "the printed pids are the harness's children"
    );
    // The stack's run dir and the one holding the credentials file.
    let dirs = h.run_dirs();
    assert!(dirs.contains(&root), "{dirs:?}");
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let (code, out) = h.stop_with(&[Signal::SIGTERM], "SIGTERM to `up`");
    assert_eq!(code, Some(143), "{out}");
    assert!(
        out.contains("stackproof: `stackproof up` interrupted by SIGTERM: every component stopped"),
        "{out}"
    );
    h.assert_nothing_left();
    assert!(!root.exists(), "{} survived", root.display());
}

/// Ctrl-C in the middle of `ha_dedup` (replica 0 killed, the outage being
/// held) cancels the run: the stack is dropped like at the end of a run, the
/// report says the run was interrupted, the exit code is 130.
#[test]
fn sigint_in_the_middle_of_a_run_cancels_it_and_leaves_nothing() {
    let report = tempfile::tempdir().unwrap();
    let mut h = Harness::start(&[
        "run",
        "--platform",
        "local",
        "--scenario",
        "ha_dedup",
        "--report-dir",
        report.path().to_str().unwrap(),
    ]);
    h.wait_for_line("stackproof: scenario ha_dedup…");
    assert!(h.components().len() >= 7, "every component runs");
    assert_eq!(h.run_dirs().len(), 1, "one run dir");
    h.wait_for_line("ha_dedup: SIGKILL replica 0");
    h.components();
    let (code, out) = h.stop_with(&[Signal::SIGINT], "SIGINT in the middle of ha_dedup");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("stackproof: SIGINT: cancelling the run"),
        "{out}"
    );
    assert!(
        out.contains("stackproof: interrupted by SIGINT after "),
        "{out}"
    );
    assert!(
        out.contains("not a pass (0 passed, 1 failed, 0 skipped)"),
        "{out}"
    );
    h.assert_nothing_left();

    let summary = std::fs::read_to_string(report.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("**Interrupted by SIGINT after "),
        "{summary}"
    );
    assert!(
        summary.contains("| `ha_dedup` | interrupted | ❌ failed |"),
        "{summary}"
    );
    assert!(
        summary.contains("interrupted by SIGINT during the scenario after "),
        "{summary}"
    );
    let junit = std::fs::read_to_string(report.path().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"failures="1""#), "{junit}");
    assert!(
        !report.path().join("bundles").exists(),
        "an interrupt is not a failure of the stack: no bundle"
    );
}

/// Ctrl-C while the stack is still starting: what was started so far is
/// dropped with the abandoned start.
#[test]
fn sigint_while_the_stack_starts_leaves_nothing() {
    let mut h = Harness::start(&["up"]);
    poll_for(START_LIMIT, || {
        (!h.run_dirs().is_empty() && !h.components().is_empty()).then_some(())
    })
    .expect("a run dir and a first component");
    let (code, out) = h.stop_with(&[Signal::SIGINT], "SIGINT while the stack starts");
    assert_eq!(code, Some(130), "{out}");
    // Almost always the start is cut; when the stack was ready first, `up`
    // still sees the (sticky) interrupt at once.
    assert!(
        out.contains("starting the local stack interrupted by SIGINT")
            || out.contains("`stackproof up` interrupted by SIGINT"),
        "{out}"
    );
    h.assert_nothing_left();
}

/// A second signal while the first one's cancellation cleans up forces the
/// old exit (kill every group, remove run dirs, exit 128 + that signal).
/// SIGINT then SIGTERM: two different signals are both delivered, where a
/// second SIGINT sent before the first is handled would merge with it.
/// Whichever path ends the process, it exits 130 or 143 and leaves nothing.
#[test]
fn a_second_signal_still_exits_and_leaves_nothing() {
    let mut h = Harness::start(&["up"]);
    h.wait_for_line("ready in");
    h.components();
    let (code, out) = h.stop_with(&[Signal::SIGINT, Signal::SIGTERM], "SIGINT then SIGTERM");
    let forced = out.contains("while the run was being cancelled: forcing");
    eprintln!(
        "SIGINT then SIGTERM: exit {code:?}, {}",
        if forced {
            "the second one took the forced path"
        } else {
            "the cancelled run ended before the second one"
        }
    );
    // The forced exit (143) races the cancelled run's own return (130)
    // once the run's cleanup is done: either code is right.
    assert!(
        matches!(code, Some(130) | Some(143)),
        "exit {code:?}:\n{out}"
    );
    h.assert_nothing_left();
}

#[tokio::test]
async fn a_missing_binary_is_named_with_the_install_script() {
    let text = std::fs::read_to_string(stackproof::versions::default_versions_path()).unwrap();
    // Point the [thanos] table at a version that is not installed.
    let (head, tail) = text.split_at(text.find("[thanos]").unwrap());
    let start = tail.find("version = \"").unwrap() + "version = \"".len();
    let end = start + tail[start..].find('"').unwrap();
    let text = format!(
        "{head}{}v0.0.0-not-installed{}",
        &tail[..start],
        &tail[end..]
    );
    let versions = Versions::parse(&text, "test").unwrap();
    let err = LocalStack::builder()
        .versions(versions)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("thanos v0.0.0-not-installed not found"),
        "{err}"
    );
    assert!(err.contains("scripts/install thanos"), "{err}");
}

/// `up` on the local platform prints every URL and where the credentials
/// file is (never the secret in it), and Ctrl-C leaves no process, port or
/// directory — the credentials file's included.
#[test]
fn up_prints_every_url_and_sigint_leaves_nothing() {
    let mut h = Harness::start(&["up", "--platform", "local"]);
    let lines = h.wait_for_line("ready in");
    let value = |key: &str| {
        lines
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(key)
                    .map(|r| r.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no `{key}` line in {lines:#?}"))
    };
    let mut urls = vec![value("Thanos Query"), value("store gateway")];
    for i in 0..2 {
        urls.push(value(&format!("Prometheus {i}")));
        urls.push(value(&format!("sidecar {i}")));
    }
    let s3 = value("S3 endpoint");
    assert!(s3.ends_with(" bucket stackproof"), "{s3}");
    urls.push(s3.split_whitespace().next().unwrap().to_owned());
    assert!(
        value("Loki").starts_with("http://127.0.0.1:")
            || value("Loki").starts_with("not started: ")
    );
    let creds = PathBuf::from(value("credentials").split_whitespace().next().unwrap());
    let text = std::fs::read_to_string(&creds).unwrap();
    let target = stackproof::assertions::objstore_file::parse(&text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", creds.display());
    let ports: Vec<u16> = urls
        .iter()
        .map(|u| {
            let rest = u
                .strip_prefix("http://127.0.0.1:")
                .unwrap_or_else(|| panic!("{u} is not on 127.0.0.1"));
            rest.parse().unwrap()
        })
        .collect();
    for p in &ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok(),
            "nothing on {p}"
        );
    }
    h.components();
    let (code, out) = h.stop_with(&[Signal::SIGINT], "SIGINT to `up --platform local`");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        !out.contains(&target.credentials.secret_key),
        "the secret was printed"
    );
    h.assert_nothing_left();
    assert!(!creds.exists(), "{} survived", creds.display());
    for p in &ports {
        // Free again: bound by nobody (a leaked listener would refuse).
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok(),
            "port {p} still taken"
        );
    }
}
