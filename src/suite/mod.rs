//! A whole run: pick scenarios, start the platform once, run each, write the
//! report. Shared by `stackproof run` and the tests.

mod interrupt;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cancel::{Interrupt, SignalScope, Token};
use crate::platform::Platform;
use crate::platform::local::LocalStack;
use crate::report::{self, ReportError, Totals, start_failure};
use crate::scenario::{self, ScenarioReport};
use interrupt::{cut_short, not_run, note_interrupted};

pub use interrupt::INTERRUPTED;

/// An assertion file to check after the scenarios (`run --check`).
pub type CheckFile = (PathBuf, crate::assertions::schema::AssertionFile);

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
    /// The signal that cancelled the run, if one did: then the report says
    /// so and the run is not a pass.
    pub interrupted: Option<Interrupt>,
    /// Why the stack did not start, if it did not: every selected scenario
    /// then reports an error, and `bundles/stack-start/` holds the logs.
    pub start_error: Option<String>,
    /// The bundles written, by scenario id (`stack-start` for a failed
    /// start).
    pub bundles: Vec<(String, PathBuf)>,
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
                .chain(crate::twins::TWINS.iter().map(|(t, _)| t))
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
        PlatformKind::Cluster => crate::platform::cluster::availability(
            target.kubeconfig.as_deref(),
            target.context.as_deref(),
        )
        .err(),
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
            let s = crate::platform::kube::KubePlatform::kind(opts)
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
            let s = crate::platform::kube::KubePlatform::cluster(opts)
                .await
                .map_err(err)?;
            let ready = s.ready_after().as_secs_f64();
            (Box::new(s), ready)
        }
    })
}

/// Runs `ids` on `kind` and writes `junit.xml`, `summary.md` and failure
/// bundles into `report_dir`. A platform this machine cannot run makes
/// every scenario skipped, with the reason. SIGINT or SIGTERM cancels the
/// run (see [`crate::cancel`]): the stack is dropped, so every guard deletes
/// what it created, and the outcome and the report say it was interrupted.
pub async fn run(
    kind: PlatformKind,
    target: &KubeTarget,
    ids: &[&str],
    checks: &[CheckFile],
    report_dir: &Path,
) -> Result<SuiteOutcome, SuiteError> {
    // Held until the report is written: a signal while a failure bundle is
    // written must cancel too, not exit past the stack's guards.
    let scope = SignalScope::enter();
    run_until(kind, target, ids, checks, report_dir, scope.token()).await
}

/// [`run`], cancelled by `cancel` instead of by signals.
pub async fn run_until(
    kind: PlatformKind,
    target: &KubeTarget,
    ids: &[&str],
    checks: &[CheckFile],
    report_dir: &Path,
    cancel: &Token,
) -> Result<SuiteOutcome, SuiteError> {
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut ready_secs = None;
    let mut interrupted = None;
    let mut start_error = None;
    let mut bundles = Vec::new();
    match cancel.run(unavailable(kind, target)).await {
        Err(why) => {
            interrupted = Some(why);
            reports.extend(cut_short(ids, why, "before the stack was started", started));
        }
        Ok(Some(reason)) => {
            for id in ids {
                eprintln!("stackproof: {id} skipped: {reason}");
                reports.push(ScenarioReport::skipped(id, &reason));
            }
            for (path, _) in checks {
                let id = crate::assertions::report_id(path);
                reports.push(ScenarioReport::skipped(&id, &reason));
            }
        }
        Ok(None) => {
            eprintln!("stackproof: starting the {} stack…", kind.name());
            // Dropping an abandoned start drops what it had started so far.
            let stack = match cancel.run(start(kind, target)).await {
                Ok(Ok(s)) => Ok(Some(s)),
                // Ctrl-C reaches the whole foreground process group, so a
                // child the start waits on (`kind create cluster`) can die
                // of it and fail the start before the token is seen.
                Ok(Err(e)) => match cancel.cancelled() {
                    Some(why) => Err(why),
                    None => {
                        let all = selected(ids, checks);
                        let logs = match &e {
                            SuiteError::Start(_, pe) => pe.salvaged_logs(),
                            _ => &[],
                        };
                        let why = e.to_string();
                        let (errored, bundle) =
                            start_failure::report(kind.name(), &all, &why, logs, report_dir)?;
                        reports.extend(errored);
                        bundles.push((start_failure::BUNDLE.to_owned(), bundle));
                        start_error = Some(e.to_string());
                        Ok(None)
                    }
                },
                Err(why) => Err(why),
            };
            match stack {
                Ok(None) => {}
                Err(why) => {
                    interrupted = Some(why);
                    let during = format!("while the {} stack was starting", kind.name());
                    reports.extend(cut_short(ids, why, &during, started));
                }
                Ok(Some((stack, ready))) => {
                    ready_secs = Some(ready);
                    eprintln!("stackproof: stack ready in {ready:.1}s");
                    let todo = (ids, checks);
                    let out = (&mut reports, &mut bundles);
                    interrupted = run_scenarios(kind, stack, todo, report_dir, cancel, out).await?;
                }
            }
        }
    }
    if let Some(why) = interrupted {
        eprintln!(
            "stackproof: interrupted by {why}: {}; writing the report",
            crate::cancel::teardown_words()
        );
    }
    report::write(
        &report_dir.join("junit.xml"),
        &report::junit::render("stackproof", &reports),
    )?;
    let mut summary = report::summary::render(kind.name(), &reports);
    if let Some(why) = interrupted {
        note_interrupted(&mut summary, why, started.elapsed());
    }
    report::write(&report_dir.join("summary.md"), &summary)?;
    Ok(SuiteOutcome {
        totals: report::totals(&reports),
        reports,
        report_dir: report_dir.to_owned(),
        ready_secs,
        wall_secs: started.elapsed().as_secs_f64(),
        interrupted,
        start_error,
        bundles,
    })
}

/// `STACKPROOF_TEST_PANIC=<scenario id>` panics as that scenario starts:
/// how `tests/leaks.rs` proves that a panic in the harness, unwinding
/// through the stack it holds, leaves nothing behind.
fn panic_if_asked(id: &str) {
    if std::env::var("STACKPROOF_TEST_PANIC").is_ok_and(|v| v == id) {
        panic!("STACKPROOF_TEST_PANIC={id}: a panic inside scenario {id}");
    }
}

/// Runs each scenario on `stack`, appending its report (and writing a
/// bundle for each failure), until done or cancelled; drops the stack
/// before returning, so that on an interrupt every component is gone
/// before the report is written. Returns the interrupt, if one came.
async fn run_scenarios(
    kind: PlatformKind,
    mut stack: Box<dyn Platform>,
    (ids, checks): (&[&str], &[CheckFile]),
    report_dir: &Path,
    cancel: &Token,
    (reports, bundles): (&mut Vec<ScenarioReport>, &mut Vec<(String, PathBuf)>),
) -> Result<Option<Interrupt>, SuiteError> {
    let stack_up = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        eprintln!("stackproof: scenario {id}…");
        panic_if_asked(id);
        let t = Instant::now();
        let age = t - stack_up;
        let mut r = match cancel.run(crate::twins::run(id, stack.as_mut())).await {
            Ok(r) => r,
            Err(why) => {
                reports.extend(cut_short(&ids[i..], why, "during the scenario", t));
                return Ok(Some(why));
            }
        };
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
        r.floor = scenario::floor::of(id, stack.shape(), age);
        eprintln!(
            "stackproof: scenario {id}: {verdict} in {:.1}s{}",
            r.duration.as_secs_f64(),
            r.floor.as_ref().map_or(String::new(), |f| format!(
                " (the stack's own waiting: {:.0}s)",
                f.wait.as_secs_f64()
            ))
        );
        for c in &r.checks {
            if let scenario::Outcome::Skipped(why) = &c.outcome {
                eprintln!("stackproof: {id} skipped: {why}");
            }
        }
        if let Some(dir) = report::write_artifacts(report_dir, &r)? {
            eprintln!("stackproof: {id}'s files in {}", dir.display());
        }
        if !r.passed() {
            let repro = format!(
                "stackproof repro <this bundle>   (or: cargo run -- run --platform {} --scenario {id})",
                kind.name()
            );
            let bundle = report::bundle::write_bundle(report_dir, &r, stack.as_ref(), &repro);
            match cancel.run(bundle).await {
                Ok(b) => {
                    let b = b?;
                    crate::repro::record_scenario(&b, kind, id, &r)?;
                    eprintln!("stackproof: failure bundle in {}", b.display());
                    bundles.push((id.to_string(), b));
                }
                Err(why) => {
                    // The scenario's verdict stands; only its bundle is cut.
                    reports.push(r);
                    reports.extend(not_run(&ids[i + 1..], why));
                    return Ok(Some(why));
                }
            }
        }
        reports.push(r);
    }
    // The user's assertion files last, on the same stack (`run --check`).
    if !checks.is_empty() {
        let files = async {
            let target = crate::assertions::Target::of(stack.as_mut()).await;
            let on = crate::assertions::run::on_platform;
            on(checks, stack.as_ref(), &target, kind, report_dir).await
        };
        match cancel.run(files).await {
            Ok(done) => reports.extend(done?.0),
            Err(why) => return Ok(Some(why)),
        }
    }
    Ok(None)
}

/// Every selected id: the scenarios, then each `--check` file's report id.
fn selected(ids: &[&str], checks: &[CheckFile]) -> Vec<String> {
    let files = checks.iter().map(|(p, _)| crate::assertions::report_id(p));
    ids.iter().map(|i| i.to_string()).chain(files).collect()
}

#[cfg(test)]
mod tests;
