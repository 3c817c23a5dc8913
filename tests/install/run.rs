//! Running `scripts/install` on a temporary cache, and what it leaves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use stackproof::versions::Versions;

use super::release::{Server, repo};

// ---- running scripts/install -------------------------------------------------

/// `scripts/install`, none of this environment's `STACKPROOF_*` passed on.
pub fn script() -> Command {
    let mut c = Command::new(repo().join("scripts/install"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STACKPROOF_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

pub fn install_cmd(cache: &Path, server: &Server, args: &[&str]) -> Command {
    let mut c = script();
    c.args(args)
        .env("STACKPROOF_CACHE", cache)
        .env("STACKPROOF_RELEASE_BASE", &server.base)
        .env("STACKPROOF_DOWNLOAD", "only")
        .env("STACKPROOF_SKIP_DEBIAN", "1")
        .stdin(Stdio::null());
    c
}

pub fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn run(c: Command) -> (Output, String, String, Duration) {
    let started = Instant::now();
    let (out, so, se) = wait_output(spawn(c));
    let took = started.elapsed();
    eprintln!("(in {took:.2?})");
    (out, so, se, took)
}

pub fn bin(cache: &Path, name: &str) -> PathBuf {
    let v = Versions::load_default().unwrap();
    let c = v.component(name).unwrap();
    cache.join(format!("bin/{name}-{}/{}", c.version, c.binary))
}

/// Everything under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            v.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Nothing half-made: no download or build directory, no `.tmp`, no
/// component directory (only `logs/` with its lock files may be there).
pub fn assert_nothing_half_made(cache: &Path) {
    let left: Vec<String> = tree(cache)
        .into_iter()
        .filter(|p| !(p == "logs" || p.starts_with("logs/") && p.ends_with(".lock")))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        cache.display()
    );
}

/// Processes whose command line names `needle` (curl left running…).
pub fn processes_naming(needle: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                v.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    v
}

/// Spawns `cmd` as a command typed at a terminal: its own process group
/// (which Ctrl-C signals), SIGINT not ignored (a shell started in the
/// background with SIGINT ignored could not trap it, and this test may run
/// in one).
pub fn spawn_as_from_a_terminal(mut cmd: Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: signal(2) is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigDfl)
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    spawn(cmd)
}

/// Waits (the project's bounded poll, with backoff) until `f` holds;
/// panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let held = stackproof::eventually::poll_for(limit, || f().then_some(()));
    assert!(
        held.is_some(),
        "timed out after {limit:?} waiting for {what}"
    );
}

pub fn wait_output(child: Child) -> (Output, String, String) {
    let out = child.wait_with_output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!("--- {:?}\nstdout:\n{so}stderr:\n{se}", out.status);
    (out, so, se)
}
