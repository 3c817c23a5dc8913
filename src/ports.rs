//! Free ports on 127.0.0.1, never handed out twice while their holder
//! lives: not by one harness process, nor by two harnesses running side by
//! side (the test suite runs several stacks at once).

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};

/// No free port could be found.
#[derive(Debug, thiserror::Error)]
#[error("no free port on 127.0.0.1 after {tries} tries: {last}")]
pub struct PortError {
    tries: usize,
    last: String,
}

/// Where the kernel takes the local ports of outgoing connections
/// (`net.ipv4.ip_local_port_range`; Linux's default when unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A port on 127.0.0.1 that was free a moment ago and that this process has
/// not handed out before. A port someone else holds is never returned.
///
/// Chosen below the ephemeral range: a component binds its port seconds
/// after it was chosen, and a port from that range (what binding port 0
/// gives) can meanwhile become the local end of any outgoing connection on
/// the machine — `bind: address already in use` at random.
pub fn free_port() -> Result<u16, PortError> {
    free_port_in(&lock_dir())
}

/// Where reservations live: one place per user on the machine, whatever
/// TMPDIR says (ports are the machine's, and tests give each harness a
/// TMPDIR of its own).
fn lock_dir() -> PathBuf {
    PathBuf::from(format!("/tmp/stackproof-ports-{}", crate::runs::uid()))
}

/// Where a port's cross-process reservation lives.
fn lock_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("{port}.lock"))
}

/// Reserves `port` against other processes for as long as this one lives:
/// an exclusive `flock` on `<dir>/<port>.lock`, which the kernel drops
/// however the process ends (even SIGKILL), so nothing is ever stale. The
/// files are never deleted: a holder deleting its file could let two
/// processes lock two different files of the same name.
///
/// Where the directory cannot be written, there is no reservation (`None`):
/// a harness alone on the machine needs none, and the bind check still
/// refuses a port someone holds.
fn reserve(dir: &Path, port: u16) -> Result<Option<Flock<File>>, String> {
    let path = lock_path(dir, port);
    let opened = std::fs::create_dir_all(dir).and_then(|()| {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    });
    let Ok(file) = opened else {
        return Ok(None);
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map(Some)
        .map_err(|(_, e)| format!("port {port} reserved by another harness ({e})"))
}

/// `port`, reserved against other harnesses and free right now.
fn claim(lock_dir: &Path, port: u16) -> Result<Option<Flock<File>>, String> {
    let lock = reserve(lock_dir, port)?;
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| format!("port {port}: {e}"))?;
    Ok(lock)
}

/// Held until the process ends: the reservation is the lock itself.
static HELD: Mutex<Vec<Flock<File>>> = Mutex::new(Vec::new());

fn free_port_in(lock_dir: &Path) -> Result<u16, PortError> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let top = ephemeral_start().max(2048);
    let bottom = top.saturating_sub(12_000).max(1024);
    let mut last = String::new();
    for _ in 0..256 {
        let port = rand::Rng::random_range(&mut rand::rng(), bottom..top);
        let mut given = GIVEN.lock().unwrap();
        if given.contains(&port) {
            last = format!("port {port} already handed out");
            continue;
        }
        match claim(lock_dir, port) {
            Ok(lock) => {
                given.insert(port);
                HELD.lock().unwrap().extend(lock);
                return Ok(port);
            }
            Err(e) => last = e,
        }
    }
    Err(PortError { tries: 256, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken = held.local_addr().unwrap().port();
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let set: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(set.len(), ports.len());
        assert!(!set.contains(&taken));
        let start = ephemeral_start();
        for p in ports {
            assert!(p < start, "{p} is in the ephemeral range from {start}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
        }
    }

    /// Another process holding a port's reservation keeps it from this
    /// one, even while the port itself is free; its end frees it, however
    /// it ends.
    #[test]
    fn a_port_reserved_by_another_process_is_not_handed_out() {
        // Reserved machine-wide for this test process too: a stack of
        // another process running beside it must not bind it meanwhile.
        let port = free_port().unwrap();
        // A second process reserves it, as a second harness would.
        let other_dir = tempfile::tempdir().unwrap();
        let path = lock_path(other_dir.path(), port);
        std::fs::write(&path, "").unwrap();
        // The shell becomes `sleep` with the locked descriptor: killing it
        // ends the holder itself, with nothing left behind.
        let mut other = std::process::Command::new("sh")
            .args(["-c", "exec 9>\"$0\" && flock -x 9 && exec sleep 30"])
            .arg(&path)
            .spawn()
            .unwrap();
        let e = crate::eventually::block_on_poll("the other process to hold the lock", || {
            claim(other_dir.path(), port).err()
        });
        assert!(e.contains("reserved by another harness"), "{e}");
        other.kill().unwrap();
        other.wait().unwrap();
        assert!(
            claim(other_dir.path(), port).is_ok(),
            "the dead holder's port is free again"
        );
    }
}
