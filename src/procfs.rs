//! What `/proc` says of a process: its state, parent, process group and
//! start time. The start time (clock ticks since boot) is what tells a
//! process from a later one that was given the same pid.

/// One process, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// `R`, `S`, `Z`, …
    pub state: char,
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// Start time in clock ticks since boot (field 22).
    pub start_ticks: u64,
}

impl Stat {
    /// Running or sleeping: neither a zombie nor dead.
    pub fn alive(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// `/proc/<pid>/stat` of `pid`, when it exists.
pub fn stat(pid: u32) -> Option<Stat> {
    parse(
        pid,
        &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
    )
}

/// Whether any thread of `pid` still runs. A multi-threaded program's
/// leader shows `Z` as soon as its own thread has exited, while the other
/// threads still hold the process's files and sockets: the process is only
/// gone when every thread is.
pub fn any_thread_alive(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("stat")).ok()?;
            parse(pid, &text)
        })
        .any(|t| t.alive())
}

/// Every process on the machine.
pub fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// The boot this machine is in: start times are only comparable within one.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn parse(pid: u32, text: &str) -> Option<Stat> {
    // The command name is parenthesised and may hold spaces or ')': the
    // fields that follow start after the last ')'.
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field n is f[n - 3].
    Some(Stat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parens_is_skipped() {
        let line = "42 (a b) c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let s = parse(42, line).unwrap();
        assert_eq!(
            s,
            Stat {
                pid: 42,
                state: 'S',
                ppid: 1,
                pgrp: 42,
                start_ticks: 987654
            }
        );
    }

    #[test]
    fn this_process_is_alive_and_has_a_start_time() {
        let me = stat(std::process::id()).unwrap();
        assert!(me.alive());
        assert!(me.start_ticks > 0);
        assert!(all().iter().any(|s| s.pid == me.pid));
        assert!(!boot_id().is_empty());
    }

    #[test]
    fn a_process_is_alive_while_any_thread_is_and_gone_after_its_reaping() {
        assert!(any_thread_alive(std::process::id()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(any_thread_alive(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!any_thread_alive(pid), "a reaped child is gone");
    }
}
