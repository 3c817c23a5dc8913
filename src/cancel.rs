//! Cancelling a run on SIGINT or SIGTERM, so that every `Drop` guard runs.
//!
//! `std::process::exit` runs no destructor: a kind cluster, a namespace with
//! its helm releases or a port-forward would outlive the harness. So while a
//! [`SignalScope`] is held, the first SIGINT or SIGTERM only cancels its
//! [`Token`]: the run's future is abandoned, every value it owned is dropped
//! (each guard deletes what it created) and the caller reports the
//! interruption and exits 128 + signal. A second signal, or a signal while no
//! scope is held (tests that use the library directly), falls back to
//! [`crate::process::cleanup_all`] and `exit`, so nobody is ever stuck
//! behind a slow cleanup.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use tokio::sync::watch;

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Sigint,
    /// SIGTERM (`kill`, a CI runner's cancel).
    Sigterm,
}

impl Interrupt {
    /// The interrupt for a signal number; None for any other signal.
    pub fn from_signal(sig: i32) -> Option<Self> {
        match sig {
            libc::SIGINT => Some(Self::Sigint),
            libc::SIGTERM => Some(Self::Sigterm),
            _ => None,
        }
    }

    /// Its signal number.
    pub fn signal(self) -> i32 {
        match self {
            Self::Sigint => libc::SIGINT,
            Self::Sigterm => libc::SIGTERM,
        }
    }

    /// 128 + signal, what a shell reports for a process the signal ended:
    /// 130 for SIGINT, 143 for SIGTERM.
    pub fn exit_code(self) -> u8 {
        // Both signal numbers are below 128.
        128 + self.signal() as u8
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigint => "SIGINT",
            Self::Sigterm => "SIGTERM",
        }
    }
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cancellation that is set once, by the first interrupt, and stays set;
/// clones share it.
#[derive(Debug, Clone)]
pub struct Token {
    // A watch channel: the value can be set from the (non-async) signal
    // thread, and each waiter sees it even when it subscribed afterwards.
    tx: Arc<watch::Sender<Option<Interrupt>>>,
}

impl Default for Token {
    fn default() -> Self {
        Self::new()
    }
}

impl Token {
    /// A token no signal reaches: cancelled only through [`Token::cancel`].
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(None)),
        }
    }

    /// Cancels with `why`; true when this was the first cancellation (a
    /// later one keeps the first reason).
    pub fn cancel(&self, why: Interrupt) -> bool {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(why);
                true
            } else {
                false
            }
        })
    }

    /// Why it was cancelled, if it was.
    pub fn cancelled(&self) -> Option<Interrupt> {
        *self.tx.borrow()
    }

    /// Resolves once the token is cancelled (at once when it already is).
    pub async fn wait(&self) -> Interrupt {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(why) = *rx.borrow_and_update() {
                return why;
            }
            if rx.changed().await.is_err() {
                // Unreachable while `self` holds the sender; never resolve
                // rather than invent an interrupt.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs `fut` to completion unless the token is cancelled first. On
    /// cancellation `fut` is dropped, with every value it owns, before this
    /// returns: their `Drop` guards have run by then. An already cancelled
    /// token never polls `fut`.
    pub async fn run<F: Future>(&self, fut: F) -> Result<F::Output, Interrupt> {
        tokio::select! {
            // The interrupt first: once cancelled, no more work is started.
            biased;
            why = self.wait() => Err(why),
            out = fut => Ok(out),
        }
    }
}

/// What the signal thread does with a SIGINT or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Cancel the scope's token and let the run unwind.
    Cancel,
    /// Kill every component group, remove run dirs, exit 128 + signal.
    Force,
}

/// The process-wide signal state: the token every [`SignalScope`] shares
/// and how many scopes are held.
#[derive(Debug)]
struct Hub {
    token: Token,
    scopes: AtomicUsize,
}

impl Hub {
    fn new() -> Self {
        Self {
            token: Token::new(),
            scopes: AtomicUsize::new(0),
        }
    }

    fn on_signal(&self, why: Interrupt) -> Action {
        // Cancel only when someone will unwind the run, and only once: a
        // second signal means the cleanup is too slow for the user.
        if self.scopes.load(Ordering::SeqCst) > 0 && self.token.cancel(why) {
            Action::Cancel
        } else {
            Action::Force
        }
    }
}

static HUB: LazyLock<Hub> = LazyLock::new(Hub::new);

/// While one is held, the first SIGINT or SIGTERM cancels
/// [`SignalScope::token`] instead of ending the process. The holder must
/// race its work against the token (see [`Token::run`]).
#[derive(Debug)]
#[must_use = "signals cancel the token only while the scope is held"]
pub struct SignalScope {
    token: Token,
}

impl SignalScope {
    /// Enters a scope (and installs the signal thread, once).
    pub fn enter() -> Self {
        crate::process::install_signal_cleanup();
        HUB.scopes.fetch_add(1, Ordering::SeqCst);
        Self {
            token: HUB.token.clone(),
        }
    }

    /// The token signals cancel.
    pub fn token(&self) -> &Token {
        &self.token
    }
}

impl Drop for SignalScope {
    fn drop(&mut self) {
        HUB.scopes.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The signal that cancelled a [`SignalScope`] in this process, if any.
pub fn received() -> Option<Interrupt> {
    HUB.token.cancelled()
}

/// What became of the stack once a cancelled run dropped it, for messages
/// and reports: with `STACKPROOF_KEEP=1` the guards leave everything up.
pub fn teardown_words() -> &'static str {
    if crate::process::keep_requested() {
        "STACKPROOF_KEEP=1 left the components running"
    } else {
        "every component stopped"
    }
}

/// Handles one signal; called by the signal thread
/// ([`crate::process::install_signal_cleanup`]). Returns only when the
/// signal cancelled a scope; otherwise kills every component group, removes
/// the registered run dirs and exits 128 + signal.
pub(crate) fn on_signal(sig: i32) {
    let Some(why) = Interrupt::from_signal(sig) else {
        return;
    };
    match HUB.on_signal(why) {
        Action::Cancel => eprintln!(
            "stackproof: {why}: cancelling the run; stopping every component \
             and deleting what the run created (send {why} again to force)"
        ),
        Action::Force => {
            if HUB.token.cancelled().is_some() {
                eprintln!(
                    "stackproof: {why} while the run was being cancelled: forcing: \
                     killing every component process and exiting; a kind cluster or \
                     namespace being deleted may be left (see `kind get clusters`, \
                     `kubectl get namespaces`)"
                );
            } else {
                eprintln!("stackproof: {why}: stopping every component");
            }
            crate::process::cleanup_all();
            std::process::exit(128 + sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Interrupt::Sigint.exit_code(), 130);
        assert_eq!(Interrupt::Sigterm.exit_code(), 143);
        assert_eq!(
            Interrupt::from_signal(libc::SIGINT),
            Some(Interrupt::Sigint)
        );
        assert_eq!(
            Interrupt::from_signal(libc::SIGTERM),
            Some(Interrupt::Sigterm)
        );
        assert_eq!(Interrupt::from_signal(libc::SIGHUP), None);
        assert_eq!(Interrupt::Sigterm.to_string(), "SIGTERM");
    }

    #[test]
    fn without_a_scope_a_signal_forces_the_exit() {
        let hub = Hub::new();
        assert_eq!(hub.on_signal(Interrupt::Sigint), Action::Force);
        assert_eq!(hub.token.cancelled(), None);
    }

    #[test]
    fn in_a_scope_the_first_signal_cancels_and_the_second_forces() {
        let hub = Hub::new();
        hub.scopes.fetch_add(1, Ordering::SeqCst);
        assert_eq!(hub.on_signal(Interrupt::Sigterm), Action::Cancel);
        assert_eq!(hub.token.cancelled(), Some(Interrupt::Sigterm));
        assert_eq!(hub.on_signal(Interrupt::Sigint), Action::Force);
        // The first reason is the one reported.
        assert_eq!(hub.token.cancelled(), Some(Interrupt::Sigterm));
    }

    struct SetOnDrop<'a>(&'a AtomicBool);

    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn cancelling_drops_the_running_future_and_its_guards() {
        let token = Token::new();
        let dropped = AtomicBool::new(false);
        let canceller = {
            let token = token.clone();
            tokio::spawn(async move {
                // Cancel once the run is parked on its (endless) wait.
                tokio::task::yield_now().await;
                token.cancel(Interrupt::Sigint)
            })
        };
        let out = token
            .run(async {
                let _guard = SetOnDrop(&dropped);
                std::future::pending::<()>().await
            })
            .await;
        assert_eq!(out, Err(Interrupt::Sigint));
        assert!(
            dropped.load(Ordering::SeqCst),
            "the guard ran before run returned"
        );
        assert!(canceller.await.unwrap(), "first cancellation");
    }

    #[tokio::test]
    async fn a_cancelled_token_starts_nothing_and_a_finished_run_is_kept() {
        let token = Token::new();
        assert_eq!(token.run(async { 7 }).await, Ok(7));
        token.cancel(Interrupt::Sigterm);
        let polled = AtomicBool::new(false);
        let out = token
            .run(async {
                polled.store(true, Ordering::SeqCst);
            })
            .await;
        assert_eq!(out, Err(Interrupt::Sigterm));
        assert!(!polled.load(Ordering::SeqCst));
        let waited = tokio::time::timeout(Duration::from_secs(5), token.wait()).await;
        assert_eq!(waited, Ok(Interrupt::Sigterm));
    }
}
