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
    Start(&'static str, Box<crate::platform::PlatformError>),
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

/// Where a Kubernetes platform finds its cluster (`--kubeconfig`,
/// `--context`); unused by `local`.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// Why a platform cannot run on this machine, if it cannot: one line naming
/// what is missing and the command that gets it.
pub async fn unavailable(kind: PlatformKind, target: &KubeTarget) -> Option<String> {
    match kind {
        PlatformKind::Local => None,
        PlatformKind::Kind => crate::platform::kind::availability().await.err(),
        PlatformKind::Cluster => {
            crate::platform::cluster::availability(target.kubeconfig.as_deref()).err()
        }
    }
}

/// Starts the stack on `kind`.
pub async fn start(
    kind: PlatformKind,
    target: &KubeTarget,
) -> Result<(Box<dyn Platform>, f64), SuiteError> {
    let err = |e| SuiteError::Start(kind.name(), Box::new(e));
    Ok(match kind {
        PlatformKind::Local => {
            let s = LocalStack::builder().start().await.map_err(err)?;
            let ready = s.ready_after().as_secs_f64();
            (Box::new(s), ready)
        }
        PlatformKind::Kind => {
            let opts = crate::platform::kind::KindOptions::from_env().map_err(err)?;
            let s = crate::platform::kind::KindPlatform::start(opts)
                .await
                .map_err(err)?;
            let ready = s.ready_after().as_secs_f64();
            (Box::new(s), ready)
        }
        PlatformKind::Cluster => {
            let opts = crate::platform::cluster::ClusterOptions {
                kubeconfig: target.kubeconfig.clone(),
                context: target.context.clone(),
                ..Default::default()
            };
            let s = crate::platform::cluster::ClusterPlatform::start(opts)
                .await
                .map_err(err)?;
            let ready = s.ready_after().as_secs_f64();
            (Box::new(s), ready)
        }
    })
}

/// Runs `ids` on `kind` and writes `junit.xml`, `summary.md` and failure
/// bundles into `report_dir`. A platform this machine cannot run makes
/// every scenario skipped, with the reason.
pub async fn run(
    kind: PlatformKind,
    target: &KubeTarget,
    ids: &[&str],
    report_dir: &Path,
) -> Result<SuiteOutcome, SuiteError> {
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut ready_secs = None;
    if let Some(reason) = unavailable(kind, target).await {
        for id in ids {
            eprintln!("stackproof: {id} skipped: {reason}");
            reports.push(ScenarioReport::skipped(id, &reason));
        }
    } else {
        eprintln!("stackproof: starting the {} stack…", kind.name());
        let (mut stack, ready) = start(kind, target).await?;
        ready_secs = Some(ready);
        eprintln!("stackproof: stack ready in {ready:.1}s");
        for id in ids {
            eprintln!("stackproof: scenario {id}…");
            let r = scenario::run(id, stack.as_mut()).await;
            let verdict = if r.passed() {
                if r.checks
                    .iter()
                    .all(|c| matches!(c.outcome, scenario::Outcome::Skipped(_)))
                {
                    "skipped"
                } else {
                    "passed"
                }
            } else {
                "FAILED"
            };
            eprintln!(
                "stackproof: scenario {id}: {verdict} in {:.1}s",
                r.duration.as_secs_f64()
            );
            for c in &r.checks {
                if let scenario::Outcome::Skipped(why) = &c.outcome {
                    eprintln!("stackproof: {id} skipped: {why}");
                }
            }
            if !r.passed() {
                let repro = format!(
                    "cargo run -- run --platform {} --scenario {id}",
                    kind.name()
                );
                let b =
                    report::bundle::write_bundle(report_dir, &r, stack.as_ref(), &repro).await?;
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
