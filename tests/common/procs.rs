//! Processes and listening sockets, read from /proc: what a leak test looks
//! at once the harness is gone.

use stackproof::procfs;

/// Live children of `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    procfs::all()
        .into_iter()
        .filter(|s| s.ppid == parent && s.alive())
        .map(|s| s.pid)
        .collect()
}

/// Live processes whose process group is one of `groups` (each component
/// leads its own group).
pub fn in_groups(groups: &[u32]) -> Vec<u32> {
    procfs::all()
        .into_iter()
        .filter(|s| groups.contains(&s.pgrp) && s.alive())
        .map(|s| s.pid)
        .collect()
}

/// A listening TCP socket: its port, and its inode, which no later socket
/// shares (a port can be taken again by anyone; an inode is this socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    pub port: u16,
    pub inode: u64,
}

/// Every listening TCP socket on the machine.
fn listening() -> Vec<Listener> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).filter_map(parse).collect::<Vec<_>>())
        .collect()
}

/// One line of /proc/net/tcp: `sl local rem st … inode`; LISTEN is `0A`.
fn parse(line: &str) -> Option<Listener> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.get(3)? != &"0A" {
        return None;
    }
    let port = u16::from_str_radix(f.get(1)?.rsplit_once(':')?.1, 16).ok()?;
    Some(Listener {
        port,
        inode: f.get(9)?.parse().ok()?,
    })
}

/// The sockets `pids` listen on.
pub fn listeners_of(pids: &[u32]) -> Vec<Listener> {
    let inodes: Vec<u64> = pids
        .iter()
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut ls: Vec<Listener> = listening()
        .into_iter()
        .filter(|l| inodes.contains(&l.inode))
        .collect();
    ls.sort();
    ls.dedup();
    ls
}

/// Those of `seen` that still listen.
pub fn still_listening(seen: &[Listener]) -> Vec<Listener> {
    let now = listening();
    seen.iter().filter(|l| now.contains(l)).copied().collect()
}
