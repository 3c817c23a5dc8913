//! What a run leaves behind: `junit.xml`, `summary.md`, and a failure bundle
//! per failed scenario. Credentials never appear in any of them.

pub mod bundle;
pub mod json;
pub mod junit;
pub mod plot;
pub mod start_failure;
pub mod status;
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Checks that could not be made (the stack did not start).
    pub errors: usize,
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
            Outcome::Error(_) => t.errors += 1,
        }
    }
    t
}

/// Where scenario `id`'s artifact `name` goes, relative to the report dir
/// (where [`write_artifacts`] puts it and `summary.md` links it).
pub fn artifact_path(id: &str, name: &str) -> PathBuf {
    artifact_dir(id).join(name)
}

fn artifact_dir(id: &str) -> PathBuf {
    PathBuf::from(id.replace('/', "-"))
}

/// `id` as one path component: twins' `/` and spaces become `-`.
pub fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
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
    let out = dir.join(artifact_dir(&r.id));
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
        self.passed == 0 && self.failed == 0 && self.errors == 0
    }

    /// `3 passed, 1 failed, 2 skipped` (`, 1 error` when there were any).
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.errors > 0 {
            s.push_str(&format!(
                ", {} error{}",
                self.errors,
                if self.errors == 1 { "" } else { "s" }
            ));
        }
        s
    }
}
