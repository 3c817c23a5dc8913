use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::*;

/// A `sleep` leading its own process group, as components do.
fn component() -> Child {
    Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap()
}

/// A harness that has exited: a pid and start time that no live process has.
fn dead_harness() -> Started {
    let mut c = Command::new("sleep").arg("0.01").spawn().unwrap();
    let s = procfs::stat(c.id()).unwrap();
    c.wait().unwrap();
    Started {
        pid: s.pid,
        start_ticks: s.start_ticks,
    }
}

fn recorded(name: &str, c: &Child) -> Component {
    let s = procfs::stat(c.id()).unwrap();
    Component {
        name: name.into(),
        pid: c.id(),
        pgid: s.pgrp,
        start_ticks: Some(s.start_ticks),
    }
}

fn write(root: &Path, harness: Started, components: Vec<Component>, dirs: Vec<PathBuf>) {
    let m = Marker {
        boot_id: procfs::boot_id(),
        harness: harness.clone(),
        components,
        dirs,
    };
    std::fs::write(
        root.join(format!("{}-{}.json", harness.pid, harness.start_ticks)),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
}

fn run_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("stackproof-")
        .tempdir()
        .unwrap()
}

#[test]
fn a_dead_harness_leftovers_are_killed_and_removed() {
    let root = tempfile::tempdir().unwrap();
    let mut c = component();
    let dir = run_dir();
    write(
        root.path(),
        dead_harness(),
        vec![recorded("prometheus-0", &c)],
        vec![dir.path().to_owned()],
    );
    let reaped = reap_in(root.path());
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    assert_eq!(reaped[0].killed, vec![("prometheus-0".into(), c.id())]);
    assert_eq!(reaped[0].dirs, vec![dir.path().to_owned()]);
    assert!(reaped[0].survivors.is_empty());
    // Ours to wait for here (in a real reap, init's).
    assert!(c.wait().unwrap().code().is_none(), "killed by a signal");
    assert!(!dir.path().exists());
    let line = reaped[0].to_string();
    assert!(line.contains("killed 1 process group(s) [prometheus-0 (pid "));
    assert!(!line.contains('\n'), "one line: {line}");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn a_recycled_pid_is_never_killed() {
    let root = tempfile::tempdir().unwrap();
    let mut c = component();
    // Same pid, another start time: a later process that got the pid.
    let mut stale = recorded("s3", &c);
    stale.start_ticks = stale.start_ticks.map(|t| t - 1);
    // Another process's group: not what the marker recorded.
    let mut regrouped = recorded("query", &c);
    regrouped.pgid += 1;
    let unknown = Component {
        start_ticks: None,
        ..recorded("store", &c)
    };
    write(
        root.path(),
        dead_harness(),
        vec![stale, regrouped, unknown],
        vec![],
    );
    assert_eq!(reap_in(root.path()), vec![]);
    assert!(crate::process::pid_alive(c.id()));
    c.kill().unwrap();
    c.wait().unwrap();
}

#[test]
fn a_live_harness_is_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let mut c = component();
    let dir = run_dir();
    write(
        root.path(),
        me(),
        vec![recorded("sidecar-0", &c)],
        vec![dir.path().to_owned()],
    );
    std::fs::write(root.path().join("garbage.json"), "{").unwrap();
    assert_eq!(reap_in(root.path()), vec![]);
    assert!(crate::process::pid_alive(c.id()));
    assert!(dir.path().exists());
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 2);
    c.kill().unwrap();
    c.wait().unwrap();
}

#[test]
fn only_stackproof_dirs_in_the_temp_dir_are_removed() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir_in(root.path()).unwrap();
    let other = tempfile::Builder::new().prefix("other-").tempdir().unwrap();
    write(
        root.path(),
        dead_harness(),
        vec![],
        vec![elsewhere.path().to_owned(), other.path().to_owned()],
    );
    assert_eq!(reap_in(root.path()), vec![]);
    assert!(elsewhere.path().exists() && other.path().exists());
}

#[test]
fn the_marker_follows_the_ledger() {
    let dir = run_dir();
    record_dir(dir.path());
    let m: Marker = serde_json::from_str(&std::fs::read_to_string(marker_path()).unwrap()).unwrap();
    assert_eq!(m.harness, me());
    assert!(m.dirs.contains(&dir.path().to_owned()));
    forget_dir(dir.path());
    let still = std::fs::read_to_string(marker_path()).unwrap_or_default();
    assert!(!still.contains(&*dir.path().to_string_lossy()), "{still}");
}
