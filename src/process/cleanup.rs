//! What outlives a run unless removed: process groups and run directories,
//! registered as they start, and the signal thread that removes them.

use std::path::Path;
use std::sync::Once;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::keep_requested;

/// Registers a directory to remove if the harness is interrupted.
pub fn register_dir(dir: &Path) {
    crate::runs::record_dir(dir);
}

/// Forgets a directory registered with [`register_dir`].
pub fn unregister_dir(dir: &Path) {
    crate::runs::forget_dir(dir);
}

/// Process groups started by this process and still alive.
pub fn live_process_groups() -> Vec<i32> {
    crate::runs::live_groups()
        .into_iter()
        .map(|g| g as i32)
        .collect()
}

/// Kills every live group and removes registered directories: what a
/// signal does when no run can be cancelled (no
/// [`crate::cancel::SignalScope`] held, or a second signal) before the
/// process exits.
pub fn cleanup_all() {
    if keep_requested() {
        return;
    }
    let (groups, dirs) = crate::runs::take_all();
    for g in groups {
        let _ = killpg(Pid::from_raw(g as i32), Signal::SIGKILL);
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Installs (once) the thread that handles SIGINT and SIGTERM for the whole
/// process: inside a [`crate::cancel::SignalScope`] the first one cancels the
/// run (so every `Drop` guard runs); otherwise, and for a second one, it
/// kills every component group, removes run directories and exits
/// 128 + signal ([`crate::cancel::on_signal`] decides).
pub fn install_signal_cleanup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            tracing::warn!("cannot install SIGINT/SIGTERM cleanup");
            return;
        };
        std::thread::Builder::new()
            .name("stackproof-signals".into())
            .spawn(move || {
                // Every signal, not only the first: the second one is how a
                // user forces the exit while a cancelled run cleans up.
                for sig in signals.forever() {
                    crate::cancel::on_signal(sig);
                }
            })
            .expect("spawn signal thread");
    });
}
