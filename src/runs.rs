//! Run markers: what this harness process started — each component's
//! process group with its start time, each run directory — kept in memory
//! for the signal path and written to a marker file under a known runs root
//! (`$TMPDIR/stackproof-runs-<uid>/<pid>-<start>.json`: one per user, who
//! alone can signal those processes).
//!
//! A harness killed with SIGKILL runs no cleanup, and its components
//! survive (each leads a process group of its own). The next local stack
//! reads the markers of harnesses that are gone and reaps what they left
//! ([`reap_leftovers`]): by the marker, never by process name, and only a
//! process whose pid, process group and start time all match what the
//! marker recorded in this boot — a recycled pid is left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::procfs;

/// How the runs root's name in the temp dir starts (then `-<uid>`).
pub const ROOT_NAME: &str = "stackproof-runs";

/// Where this user's markers live: `$TMPDIR/stackproof-runs-<uid>`.
pub fn root() -> PathBuf {
    std::env::temp_dir().join(format!("{ROOT_NAME}-{}", uid()))
}

/// This process's user id (the owner of `/proc/self`), without `unsafe`.
pub(crate) fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// A process as the marker proves it: pid plus start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub pid: u32,
    pub start_ticks: u64,
}

/// One component: the leader of its own process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub pid: u32,
    pub pgid: u32,
    /// None when it was gone before its start time could be read: such a
    /// component is never reaped (nothing proves a later pid is it).
    pub start_ticks: Option<u64>,
}

/// The marker file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Start times mean something within one boot only.
    pub boot_id: String,
    pub harness: Started,
    pub components: Vec<Component>,
    pub dirs: Vec<PathBuf>,
}

#[derive(Default)]
struct Ledger {
    components: BTreeMap<u32, Component>,
    dirs: BTreeSet<PathBuf>,
}

fn ledger() -> &'static Mutex<Ledger> {
    static LEDGER: Mutex<Ledger> = Mutex::new(Ledger {
        components: BTreeMap::new(),
        dirs: BTreeSet::new(),
    });
    &LEDGER
}

fn me() -> Started {
    let pid = std::process::id();
    Started {
        pid,
        start_ticks: procfs::stat(pid).map_or(0, |s| s.start_ticks),
    }
}

/// This process's marker file.
fn marker_path() -> PathBuf {
    let me = me();
    root().join(format!("{}-{}.json", me.pid, me.start_ticks))
}

impl Ledger {
    /// Writes the marker (removes it once nothing is left). Best effort: a
    /// marker that cannot be written costs only the reaping after a
    /// SIGKILL, never the run.
    fn persist(&self) {
        // STACKPROOF_KEEP=1 leaves the stack running on purpose: no marker,
        // so no later run takes it for a leftover.
        if crate::process::keep_requested() {
            return;
        }
        let path = marker_path();
        if self.components.is_empty() && self.dirs.is_empty() {
            let _ = std::fs::remove_file(&path);
            return;
        }
        let marker = Marker {
            boot_id: procfs::boot_id(),
            harness: me(),
            components: self.components.values().cloned().collect(),
            dirs: self.dirs.iter().cloned().collect(),
        };
        let text = serde_json::to_string_pretty(&marker).expect("a marker serializes");
        // Written aside then renamed: a reader never sees half a marker.
        let tmp = path.with_extension("tmp");
        let res = std::fs::create_dir_all(root())
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path));
        // Said once: an unwritable temp dir fails every write alike.
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if let Err(e) = res
            && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!("cannot write the run marker {}: {e}", path.display());
        }
    }
}

/// Records a component just started (`pid` leads its own group).
pub fn record_component(name: &str, pid: u32) {
    let stat = procfs::stat(pid);
    let mut l = ledger().lock().unwrap();
    l.components.insert(
        pid,
        Component {
            name: name.to_owned(),
            pid,
            pgid: stat.map_or(pid, |s| s.pgrp),
            start_ticks: stat.map(|s| s.start_ticks),
        },
    );
    l.persist();
}

/// Forgets a component whose group was killed.
pub fn forget_component(pid: u32) {
    let mut l = ledger().lock().unwrap();
    if l.components.remove(&pid).is_some() {
        l.persist();
    }
}

/// Records a run directory.
pub fn record_dir(dir: &Path) {
    let mut l = ledger().lock().unwrap();
    l.dirs.insert(dir.to_owned());
    l.persist();
}

/// Forgets a run directory (removed, or handed over).
pub fn forget_dir(dir: &Path) {
    let mut l = ledger().lock().unwrap();
    if l.dirs.remove(dir) {
        l.persist();
    }
}

/// The process groups this process started and has not killed yet.
pub fn live_groups() -> Vec<u32> {
    ledger()
        .lock()
        .unwrap()
        .components
        .keys()
        .copied()
        .collect()
}

/// Empties the ledger (and removes the marker): for the signal path, which
/// kills and removes everything itself.
pub fn take_all() -> (Vec<u32>, Vec<PathBuf>) {
    let mut l = ledger().lock().unwrap();
    let groups = std::mem::take(&mut l.components).into_keys().collect();
    let dirs = std::mem::take(&mut l.dirs).into_iter().collect();
    l.persist();
    (groups, dirs)
}

/// What a dead harness had left, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub harness: u32,
    /// Components killed: (name, pid).
    pub killed: Vec<(String, u32)>,
    /// Killed, but still alive when the wait ended.
    pub survivors: Vec<u32>,
    pub dirs: Vec<PathBuf>,
}

impl std::fmt::Display for Reaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let killed: Vec<String> = self
            .killed
            .iter()
            .map(|(n, p)| format!("{n} (pid {p})"))
            .collect();
        let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        write!(
            f,
            "stackproof: reaped what stackproof pid {} left when it died: killed {} process group(s) [{}], removed {} dir(s) [{}]",
            self.harness,
            killed.len(),
            killed.join(", "),
            dirs.len(),
            dirs.join(", ")
        )?;
        if !self.survivors.is_empty() {
            write!(f, "; still alive after SIGKILL: {:?}", self.survivors)?;
        }
        Ok(())
    }
}

/// How long reaped groups get to die (SIGKILL: well under a second).
const DEATH_LIMIT: Duration = Duration::from_secs(10);

/// Reaps what every dead harness's marker in the runs root names; markers
/// of live harnesses (this one included) are left alone. Returns one
/// [`Reaped`] per dead harness that had left something.
pub fn reap_leftovers() -> Vec<Reaped> {
    reap_in(&root())
}

fn reap_in(root: &Path) -> Vec<Reaped> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let boot = procfs::boot_id();
    let mut out = Vec::new();
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(marker) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Marker>(&t).ok())
        else {
            tracing::warn!("{} is not a run marker: left alone", path.display());
            continue;
        };
        if marker.boot_id == boot && is(&marker.harness) {
            continue;
        }
        let r = reap(&marker, marker.boot_id == boot);
        let _ = std::fs::remove_file(&path);
        if !r.killed.is_empty() || !r.dirs.is_empty() {
            out.push(r);
        }
    }
    out
}

/// True when `p` is still the very process the marker recorded.
fn is(p: &Started) -> bool {
    procfs::stat(p.pid).is_some_and(|s| s.alive() && s.start_ticks == p.start_ticks)
}

/// True when `c` still runs as recorded: same pid, same start time, still
/// leading the same group.
fn proven(c: &Component) -> bool {
    let Some(start) = c.start_ticks else {
        return false;
    };
    procfs::stat(c.pid).is_some_and(|s| s.alive() && s.start_ticks == start && s.pgrp == c.pgid)
}

fn reap(m: &Marker, same_boot: bool) -> Reaped {
    let mine: Vec<&Component> = m
        .components
        .iter()
        .filter(|c| same_boot && proven(c))
        .collect();
    for c in &mine {
        let _ = killpg(Pid::from_raw(c.pgid as i32), Signal::SIGKILL);
    }
    let groups: Vec<u32> = mine.iter().map(|c| c.pgid).collect();
    let in_groups = || -> Vec<u32> {
        procfs::all()
            .into_iter()
            .filter(|s| groups.contains(&s.pgrp) && s.alive())
            .map(|s| s.pid)
            .collect()
    };
    // Orphans: their new parent (init) reaps them; wait until none is left.
    let survivors = crate::eventually::poll_for(DEATH_LIMIT, || {
        let left = in_groups();
        left.is_empty().then_some(())
    })
    .map_or_else(in_groups, |()| Vec::new());
    let dirs = m
        .dirs
        .iter()
        .filter(|d| is_run_dir(d) && std::fs::remove_dir_all(d).is_ok())
        .cloned()
        .collect();
    Reaped {
        harness: m.harness.pid,
        killed: mine.iter().map(|c| (c.name.clone(), c.pid)).collect(),
        survivors,
        dirs,
    }
}

/// Only a harness's own kind of directory is removed: `stackproof-*`
/// directly in the temp dir (a marker naming anything else is not ours).
fn is_run_dir(d: &Path) -> bool {
    d.parent() == Some(std::env::temp_dir().as_path())
        && d.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("stackproof-") && !n.starts_with(ROOT_NAME))
        && d.is_dir()
}

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;
