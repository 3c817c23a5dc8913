//! A whole run: pick scenarios, start the platform once, run each, write the
//! report. Shared by `stackproof run` and the tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::platform::Platform;
use crate::platform::local::LocalStack;
use crate::report::{self, ReportError, Totals};
use crate::scenario::{self, ScenarioReport};

/// Which platform runs the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformKind {
    Local,
    Kind,
    Cluster,
}

impl PlatformKind {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlatformKind::Local => "local",
            PlatformKind::Kind => "kind",
            PlatformKind::Cluster => "cluster",
        }
    }
}

/// Errors that stop a run before any scenario ran.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("unknown scenario `{0}`\nhint: known scenarios are: {known}", known = scenario::IDS.join(", "))]
    UnknownScenario(String),
    #[error("the {0} platform could not start the stack: {1}")]
    Start(&'static str, crate::platform::PlatformError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What a run produced.
#[derive(Debug)]
pub struct SuiteOutcome {
    pub reports: Vec<ScenarioReport>,
    pub totals: Totals,
    pub report_dir: PathBuf,
    /// Time from start until the stack was ready.
    pub ready_secs: Option<f64>,
    pub wall_secs: f64,
}

/// Resolves `--scenario` arguments (none: every implemented scenario).
pub fn select(ids: &[String]) -> Result<Vec<&'static str>, SuiteError> {
    if ids.is_empty() {
        return Ok(scenario::IDS.to_vec());
    }
    ids.iter()
        .map(|id| {
            scenario::IDS
                .iter()
                .chain(scenario::PLANNED)
                .find(|k| **k == id.as_str())
                .copied()
                .ok_or_else(|| SuiteError::UnknownScenario(id.clone()))
        })
        .collect()
}

/// Why a platform cannot run on this machine, if it cannot.
pub fn unavailable(kind: PlatformKind) -> Option<String> {
    match kind {
        PlatformKind::Local => None,
        PlatformKind::Kind => Some(
            "the kind platform is not built yet (it needs Docker, kind, kubectl and helm: scripts/install-kind-tools)"
                .into(),
        ),
        PlatformKind::Cluster => Some(
            "the cluster platform is not built yet (it needs a kubeconfig and S3 bucket credentials)".into(),
        ),
    }
}

/// Runs `ids` on `kind` and writes `junit.xml`, `summary.md` and failure
/// bundles into `report_dir`.
pub async fn run(kind: PlatformKind, ids: &[&str], report_dir: &Path) -> Result<SuiteOutcome, SuiteError> {
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut ready_secs = None;
    if let Some(reason) = unavailable(kind) {
        for id in ids {
            eprintln!("stackproof: {id} skipped: {reason}");
            reports.push(ScenarioReport::skipped(id, &reason));
        }
    } else {
        eprintln!("stackproof: starting the {} stack…", kind.name());
        let mut stack = LocalStack::builder()
            .start()
            .await
            .map_err(|e| SuiteError::Start(kind.name(), e))?;
        ready_secs = Some(stack.ready_after().as_secs_f64());
        eprintln!("stackproof: stack ready in {:.1}s", stack.ready_after().as_secs_f64());
        for id in ids {
            eprintln!("stackproof: scenario {id}…");
            let r = scenario::run(id, &mut stack).await;
            eprintln!(
                "stackproof: scenario {id}: {} in {:.1}s",
                if r.passed() { "passed" } else { "FAILED" },
                r.duration.as_secs_f64()
            );
            if !r.passed() {
                let repro = format!("cargo run --release -- run --platform {} --scenario {id}", kind.name());
                let b = report::bundle::write_bundle(report_dir, &r, &stack as &dyn Platform, &repro).await?;
                eprintln!("stackproof: failure bundle in {}", b.display());
            }
            reports.push(r);
        }
    }
    report::write(
        &report_dir.join("junit.xml"),
        &report::junit::render("stackproof", &reports),
    )?;
    report::write(
        &report_dir.join("summary.md"),
        &report::summary::render(kind.name(), &reports),
    )?;
    Ok(SuiteOutcome {
        totals: report::totals(&reports),
        reports,
        report_dir: report_dir.to_owned(),
        ready_secs,
        wall_secs: started.elapsed().as_secs_f64(),
    })
}
