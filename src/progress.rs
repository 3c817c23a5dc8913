//! Progress of long waits. On a terminal, one live line rewritten in place
//! at every probe and cleared when the wait ends; anywhere else (CI logs,
//! pipes) a line now and then, so a log reads one line per step rather
//! than a line per probe.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The progress of one wait.
pub(crate) struct Progress {
    /// Rewrite one line in place (stderr is a terminal).
    live: bool,
    /// How often a line is printed when not live; None: silent.
    every: Option<Duration>,
    last: Instant,
    shown: bool,
}

impl Progress {
    /// Progress printed every `every` (None: silent); live on a terminal.
    pub(crate) fn new(every: Option<Duration>) -> Self {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Self {
            live: every.is_some() && !dumb && std::io::stderr().is_terminal(),
            every,
            last: Instant::now(),
            shown: false,
        }
    }

    /// Shows `line` (built only when it will be shown).
    pub(crate) fn update(&mut self, line: impl FnOnce() -> String) {
        let Some(every) = self.every else { return };
        if self.live {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{}", live_line(&line(), width()));
            let _ = err.flush();
            self.shown = true;
        } else if self.last.elapsed() >= every {
            self.last = Instant::now();
            eprintln!("{}", line());
        }
    }
}

impl Drop for Progress {
    /// Clears the live line, so the next output starts on a clean line
    /// (also when the wait is abandoned, e.g. cancelled).
    fn drop(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

/// The terminal's width from `COLUMNS`, else 100.
fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w > 10)
        .unwrap_or(100)
}

/// `line` as a live line: back to column 0, erase, the text cut to fit
/// `width` (a wrapped line could not be rewritten in place).
fn live_line(line: &str, width: usize) -> String {
    let line = line.trim_start();
    let fitted: String = if line.chars().count() >= width {
        let mut s: String = line.chars().take(width.saturating_sub(2)).collect();
        s.push('…');
        s
    } else {
        line.to_owned()
    };
    format!("\r\x1b[K{fitted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_line_rewrites_in_place_and_fits_the_terminal() {
        assert_eq!(
            live_line("  … waiting for x", 80),
            "\r\x1b[K… waiting for x"
        );
        let long = "a".repeat(200);
        let l = live_line(&long, 40);
        assert_eq!(l.chars().count(), "\r\x1b[K".chars().count() + 39);
        assert!(l.ends_with('…'));
    }

    #[test]
    fn off_a_terminal_lines_come_at_most_every_period() {
        // Test output is captured: stderr is not a terminal here.
        let mut p = Progress::new(Some(Duration::from_secs(3600)));
        assert!(!p.live);
        let mut built = 0;
        p.update(|| {
            built += 1;
            "x".into()
        });
        assert_eq!(built, 0, "no line before the period, none built");
        let mut silent = Progress::new(None);
        silent.update(|| unreachable!("silent progress builds no line"));
    }
}
