//! Logs kept from a stack that failed to start. Its run directory goes
//! when the half-started stack is dropped, and with it the only words that
//! say why it failed: they are read (tails, secrets redacted) before that
//! and travel in the error to the report.

use std::path::Path;

use crate::process::{redact, tail_lines};

/// Lines kept of each component's log: the same tail a failure bundle keeps.
pub const TAIL_LINES: usize = 400;

/// The end of one component's log, secrets already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvagedLog {
    /// The component (`prometheus-0`, `sidecar-1`, …): the log's file stem.
    pub name: String,
    pub text: String,
}

/// Every `*.log` in `dir` (sorted by name), its last [`TAIL_LINES`] lines
/// with each of `secrets` replaced. A missing directory yields none.
pub fn salvage_logs(dir: &Path, secrets: &[String]) -> Vec<SalvagedLog> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut logs: Vec<SalvagedLog> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            let text = redact(&tail_lines(&p, TAIL_LINES), secrets);
            Some(SalvagedLog { name, text })
        })
        .collect();
    logs.sort_by(|a, b| a.name.cmp(&b.name));
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_sorted_tailed_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sidecar-0.log"), "key=s3cret\nbye\n").unwrap();
        std::fs::write(dir.path().join("a.log"), "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
        let logs = salvage_logs(dir.path(), &["s3cret".into()]);
        let names: Vec<&str> = logs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "sidecar-0"]);
        assert_eq!(logs[1].text, "key=[REDACTED]\nbye");
        assert!(salvage_logs(&dir.path().join("none"), &[]).is_empty());
    }
}
