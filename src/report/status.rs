//! How a run ended, and the exit status it gets: one table for `run` and
//! `check`, the JSON report and the README.

use crate::cancel::Interrupt;

use super::Totals;

/// A run's verdict, in order of precedence: an interrupt outranks a stack
/// that did not start, which outranks a failed check, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Cancelled by a signal: 128 + its number (130, 143).
    Interrupted(Interrupt),
    /// The run could not be made (the stack did not start): 2.
    CouldNotRun,
    /// A check failed: 1.
    Failed,
    /// No check passed or failed: every one was skipped (or none was
    /// selected): 3, whatever `--fail-on-skip` says.
    NothingRan,
    /// Something passed, nothing failed, and some checks were skipped
    /// under `--fail-on-skip`: 4.
    Skipped,
    /// Something passed and nothing failed (skips allowed unless
    /// `--fail-on-skip`): 0.
    Passed,
}

/// Exit status when a check failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status when the run could not be made.
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// Exit status when every check was skipped.
pub const EXIT_NOTHING_RAN: u8 = 3;
/// Exit status of `--fail-on-skip` when some (not all) checks were skipped.
pub const EXIT_SKIPPED: u8 = 4;

impl RunStatus {
    /// The verdict of a run with these counts.
    pub fn of(
        t: &Totals,
        start_failed: bool,
        interrupted: Option<Interrupt>,
        fail_on_skip: bool,
    ) -> Self {
        if let Some(why) = interrupted {
            Self::Interrupted(why)
        } else if start_failed || t.errors > 0 {
            Self::CouldNotRun
        } else if t.failed > 0 {
            Self::Failed
        } else if t.nothing_ran() {
            Self::NothingRan
        } else if fail_on_skip && t.skipped > 0 {
            Self::Skipped
        } else {
            Self::Passed
        }
    }

    /// The process exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Interrupted(why) => why.exit_code(),
            Self::CouldNotRun => EXIT_COULD_NOT_RUN,
            Self::Failed => EXIT_FAILED,
            Self::NothingRan => EXIT_NOTHING_RAN,
            Self::Skipped => EXIT_SKIPPED,
            Self::Passed => 0,
        }
    }

    /// Its name in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupted(_) => "interrupted",
            Self::CouldNotRun => "could_not_run",
            Self::Failed => "failed",
            Self::NothingRan => "nothing_ran",
            Self::Skipped => "skipped",
            Self::Passed => "passed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(passed: usize, failed: usize, skipped: usize, errors: usize) -> Totals {
        Totals {
            passed,
            failed,
            skipped,
            errors,
        }
    }

    #[test]
    fn precedence_and_codes() {
        let s = |t: Totals, start, int, fos| RunStatus::of(&t, start, int, fos).exit_code();
        assert_eq!(s(t(3, 0, 0, 0), false, None, true), 0);
        assert_eq!(s(t(3, 0, 2, 0), false, None, false), 0);
        assert_eq!(s(t(3, 0, 2, 0), false, None, true), EXIT_SKIPPED);
        assert_eq!(s(t(0, 0, 2, 0), false, None, true), EXIT_NOTHING_RAN);
        assert_eq!(s(t(0, 0, 2, 0), false, None, false), EXIT_NOTHING_RAN);
        assert_eq!(s(t(3, 1, 2, 0), false, None, true), EXIT_FAILED);
        assert_eq!(s(t(0, 0, 0, 7), true, None, false), EXIT_COULD_NOT_RUN);
        assert_eq!(s(t(0, 1, 0, 0), true, Some(Interrupt::Sigterm), true), 143);
    }
}
