//! What a run leaves behind: `junit.xml`, `summary.md`, and a failure bundle
//! per failed scenario. Credentials never appear in any of them.

pub mod bundle;
pub mod junit;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::scenario::ScenarioReport;

/// Errors writing the report.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct ReportError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The default report directory.
pub fn default_dir() -> PathBuf {
    PathBuf::from("target/stackproof")
}

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Counts the checks of every scenario.
pub fn totals(reports: &[ScenarioReport]) -> Totals {
    use crate::scenario::Outcome;
    let mut t = Totals::default();
    for c in reports.iter().flat_map(|r| &r.checks) {
        match c.outcome {
            Outcome::Passed => t.passed += 1,
            Outcome::Failed(_) => t.failed += 1,
            Outcome::Skipped(_) => t.skipped += 1,
        }
    }
    t
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    write_bytes(path, text.as_bytes())
}

/// Writes `r`'s artifacts into `dir/<scenario id>/`; returns that dir, or
/// None when there were none.
pub fn write_artifacts(dir: &Path, r: &ScenarioReport) -> Result<Option<PathBuf>, ReportError> {
    if r.artifacts.is_empty() {
        return Ok(None);
    }
    let out = dir.join(r.id.replace('/', "-"));
    for a in &r.artifacts {
        write_bytes(&out.join(&a.name), &a.bytes)?;
    }
    Ok(Some(out))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ReportError {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| ReportError {
        path: path.to_owned(),
        source,
    })
}

impl Totals {
    /// True when no check passed or failed: everything was skipped (or
    /// nothing was selected), which must not read as a green run.
    pub fn nothing_ran(&self) -> bool {
        self.passed == 0 && self.failed == 0
    }
}
