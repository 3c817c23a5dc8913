//! The leak matrix: `stackproof` run as a user runs it (a child process
//! with a TMPDIR of its own) and ended by a pass, a failure (a negative
//! twin), a panic, SIGINT, SIGTERM and SIGKILL. After each, no component
//! process, no listening socket of theirs and no run directory is left —
//! after SIGKILL of the harness alone, once the next run has reaped what
//! the killed one's run marker names.

mod common;

use std::time::Duration;

use common::child::Harness;
use common::procs;
use nix::sys::signal::Signal;
use stackproof::process::pid_alive;

/// Generous: the stack starts in 6–11 s alone, slower beside big builds.
const START_LIMIT: Duration = Duration::from_secs(300);
/// A start plus `heap_profile` (0.1 s) and its report.
const RUN_LIMIT: Duration = Duration::from_secs(400);

/// `run --scenario id` with its report in a dir of its own, watched to its
/// end; returns the harness (for what it left) and the exit code and output.
fn run_to_end(id: &str, envs: &[(&str, &str)]) -> (Harness, Option<i32>, String) {
    let report = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--platform",
        "local",
        "--scenario",
        id,
        "--report-dir",
        report.path().to_str().unwrap(),
    ];
    let mut h = Harness::isolated(&args, envs);
    let (code, out) = h.watch_to_end(RUN_LIMIT, &format!("run --scenario {id}"));
    (h, code, out)
}

/// `h` left nothing, and the check saw something to look for: its
/// components listened while they ran.
fn nothing_left(h: &Harness) {
    assert!(!h.sockets().is_empty(), "no listening socket was ever seen");
    h.assert_nothing_left();
}

/// The run dirs `up` makes: the stack's, the credentials file's, and
/// Loki's when it started one (a Loki binary is here).
fn up_dirs(h: &Harness) -> usize {
    let loki = h.wait_line("  Loki ", START_LIMIT);
    2 + usize::from(loki.contains("http://127.0.0.1:"))
}

#[test]
fn a_passing_run_leaves_nothing() {
    let (h, code, out) = run_to_end("heap_profile", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("stackproof: scenario heap_profile: passed"),
        "{out}"
    );
    nothing_left(&h);
}

#[test]
fn a_failing_run_leaves_nothing() {
    let (h, code, out) = run_to_end("heap_profile/component_without_profile", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED"), "{out}");
    nothing_left(&h);
}

/// A panic inside a scenario unwinds through the stack the runner holds:
/// every guard runs on the way out.
#[test]
fn a_panic_in_the_harness_leaves_nothing() {
    let (h, code, out) = run_to_end("heap_profile", &[("STACKPROOF_TEST_PANIC", "heap_profile")]);
    assert_eq!(code, Some(101), "a panic's exit code: {out}");
    assert!(
        out.contains("STACKPROOF_TEST_PANIC=heap_profile: a panic inside scenario heap_profile"),
        "{out}"
    );
    nothing_left(&h);
}

#[test]
fn sigterm_to_the_harness_stops_every_component() {
    let mut h = Harness::isolated(&["up"], &[]);
    h.wait_line("ready in", START_LIMIT);
    let lines = h.lines();
    let mut pids = Vec::new();
    let mut root = None;
    for line in &lines {
        if let Some(dir) = line.strip_prefix("stackproof local stack in ") {
            root = Some(std::path::PathBuf::from(dir.trim()));
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
    let children = h.components();
    assert!(
        pids.iter().all(|p| children.contains(p)),
        "the printed pids are the harness's children: {pids:?} {children:?}"
    );
    // Loki, when `up` started one, is printed with its URL, not a pid.
    let unprinted = children.iter().filter(|c| !pids.contains(c)).count();
    assert_eq!(unprinted, up_dirs(&h) - 2, "{pids:?} {children:?}");
    // The stack's run dir, the credentials file's, and Loki's.
    let dirs = h.run_dirs();
    assert!(dirs.contains(&root), "{dirs:?}");
    assert_eq!(dirs.len(), up_dirs(&h), "{dirs:?}");
    let (code, out) = h.stop_with(&[Signal::SIGTERM], "SIGTERM to `up`");
    assert_eq!(code, Some(143), "{out}");
    assert!(
        out.contains("stackproof: `stackproof up` interrupted by SIGTERM: every component stopped"),
        "{out}"
    );
    nothing_left(&h);
    assert!(!root.exists(), "{} survived", root.display());
}

/// Ctrl-C in the middle of `ha_dedup` (replica 0 killed, the outage being
/// held) cancels the run: the stack is dropped like at the end of a run, the
/// report says the run was interrupted, the exit code is 130.
#[test]
fn sigint_in_the_middle_of_a_run_cancels_it_and_leaves_nothing() {
    let report = tempfile::tempdir().unwrap();
    let mut h = Harness::isolated(
        &[
            "run",
            "--platform",
            "local",
            "--scenario",
            "ha_dedup",
            "--report-dir",
            report.path().to_str().unwrap(),
        ],
        &[],
    );
    h.wait_line("stackproof: scenario ha_dedup…", START_LIMIT);
    assert!(h.components().len() >= 7, "every component runs");
    assert_eq!(h.run_dirs().len(), 1, "one run dir");
    h.wait_line("ha_dedup: SIGKILL replica 0", START_LIMIT);
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
    nothing_left(&h);

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

/// SIGKILL to the harness alone runs no cleanup: its components, each in a
/// process group of its own, outlive it with their ports and run dirs. The
/// next run finds them by the killed harness's run marker, reaps them
/// before it starts and says so in one line; a process merely named like a
/// component is left alone.
#[test]
fn after_sigkill_the_next_run_reaps_what_the_killed_one_left() {
    let mut h = Harness::isolated(&["up"], &[]);
    h.wait_line("ready in", START_LIMIT);
    let pids = h.components();
    assert!(pids.len() >= 7, "{pids:?}");
    let dirs = h.run_dirs();
    assert_eq!(dirs.len(), up_dirs(&h), "{dirs:?}");
    let killed = h.pid();
    let (code, out) = h.stop_with(&[Signal::SIGKILL], "SIGKILL to the harness alone");
    assert_eq!(code, None, "killed by a signal: {out}");

    // The leak is real: everything outlived the harness.
    let sockets = h.sockets().to_vec();
    assert!(pids.iter().all(|p| pid_alive(*p)), "{pids:?}");
    assert_eq!(procs::still_listening(&sockets), sockets);
    assert!(dirs.iter().all(|d| d.exists()), "{dirs:?}");

    // A process named like a component, in a group of its own, that no
    // marker names: the reaper must not touch it.
    let decoy_dir = tempfile::tempdir().unwrap();
    let decoy_bin = decoy_dir.path().join("prometheus");
    std::fs::copy("/bin/sleep", &decoy_bin).unwrap();
    let mut decoy = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(&decoy_bin)
            .arg("300")
            .process_group(0)
            .spawn()
            .unwrap()
    };

    // A next run in the same TMPDIR (its runs root) reaps before it starts.
    let mut next = h.next(&["up"], &[]);
    let line = next.wait_line("stackproof: reaped what stackproof pid", START_LIMIT);
    assert!(
        line.starts_with(&format!(
            "stackproof: reaped what stackproof pid {killed} left when it died: killed {} process group(s) [",
            pids.len()
        )),
        "{line}"
    );
    assert!(
        line.contains("s3 (pid ") && line.contains("query (pid "),
        "{line}"
    );
    assert!(
        line.contains(&format!(", removed {} dir(s) [", dirs.len())),
        "{line}"
    );
    // The next run's own dirs are there by now: the killed one's are gone.
    h.assert_components_gone();
    assert!(decoy.try_wait().unwrap().is_none(), "the decoy was killed");
    decoy.kill().unwrap();
    decoy.wait().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");

    // And the next run itself starts, and leaves nothing when stopped.
    next.wait_line("ready in", START_LIMIT);
    next.components();
    let (code, out) = next.stop_with(&[Signal::SIGINT], "SIGINT to the next `up`");
    assert_eq!(code, Some(130), "{out}");
    nothing_left(&next);
}

#[test]
fn a_listener_of_this_process_is_seen_then_gone() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mine = procs::listeners_of(&[std::process::id()]);
    assert!(mine.iter().any(|x| x.port == port), "{mine:?}");
    drop(l);
    assert_eq!(procs::still_listening(&mine), vec![]);
}

/// A harness that ended is said at once, with its lines, rather than
/// after a wait's whole limit (CI once waited 300 s on a stack that had
/// failed to start in the first second).
#[test]
#[should_panic(expected = "stackproof ended without a line with \"never printed\"")]
fn waiting_for_a_line_from_a_harness_that_ended_says_so() {
    let h = Harness::spawn(&["run", "--scenario", "no_such_scenario"], &[]);
    h.wait_line("never printed", Duration::from_secs(600));
}
