//! The whole of `stackproof check`: load every file (stop at the first
//! bad one, naming each), reach the stack (given by URLs, or started on a
//! platform), run the files, write `junit.xml` and `summary.md`, and for a
//! file that failed on a started stack, a bundle `stackproof repro` replays.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::schema::{AssertionFile, SchemaError};
use super::{Target, load_all, run_file};
use crate::platform::Platform;
use crate::report::{self, ReportError, Totals};
use crate::scenario::ScenarioReport;
use crate::session::{Session, SessionError};
use crate::suite::{KubeTarget, PlatformKind};

/// Where the assertions run.
#[derive(Debug, Clone)]
pub enum Stack {
    /// An existing stack: only read from.
    Given(Target),
    /// A stack stackproof starts, and stops afterwards.
    Start(PlatformKind, KubeTarget),
}

/// Errors that keep `check` from running the files.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Schema(Vec<SchemaError>),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What a check run found.
#[derive(Debug)]
pub struct CheckOutcome {
    pub reports: Vec<ScenarioReport>,
    pub totals: Totals,
    pub wall_secs: f64,
    /// The bundles written for failed files.
    pub bundles: Vec<PathBuf>,
}

/// Runs `files` against `stack`, writing the report into `report_dir`.
pub async fn check(
    files: &[PathBuf],
    stack: &Stack,
    report_dir: &Path,
) -> Result<CheckOutcome, CheckError> {
    let started = Instant::now();
    // Every file is read before anything starts: a typo costs no stack.
    let loaded = load_all(files).map_err(CheckError::Schema)?;
    let mut reports = Vec::new();
    let mut bundles = Vec::new();
    let platform_name = match stack {
        Stack::Given(target) => {
            for (path, file) in &loaded {
                reports.push(run_file(path, file, target).await);
            }
            "given".to_owned()
        }
        Stack::Start(kind, kube) => {
            eprintln!("stackproof: starting the {} stack…", kind.name());
            let session = Session::start(*kind, kube, None).await?;
            eprint!("{}", session.describe());
            let target = session.target();
            let platform = session.platform.as_ref();
            let (r, b) = on_platform(&loaded, platform, &target, *kind, report_dir).await?;
            reports.extend(r);
            bundles.extend(b);
            kind.name().to_owned()
        }
    };
    report::write(
        &report_dir.join("junit.xml"),
        &report::junit::render("stackproof", &reports),
    )?;
    report::write(
        &report_dir.join("summary.md"),
        &report::summary::render(&platform_name, &reports),
    )?;
    Ok(CheckOutcome {
        totals: report::totals(&reports),
        reports,
        wall_secs: started.elapsed().as_secs_f64(),
        bundles,
    })
}

/// Runs `files` against a stack stackproof started on `kind`, writing a
/// bundle for each file that failed; returns the reports and the bundles.
pub async fn on_platform(
    files: &[(PathBuf, AssertionFile)],
    platform: &dyn Platform,
    target: &Target,
    kind: PlatformKind,
    report_dir: &Path,
) -> Result<(Vec<ScenarioReport>, Vec<PathBuf>), ReportError> {
    let mut reports = Vec::new();
    let mut bundles = Vec::new();
    for (path, file) in files {
        let r = run_file(path, file, target).await;
        if !r.passed() {
            bundles.push(bundle(report_dir, &r, platform, path, kind).await?);
        }
        reports.push(r);
    }
    Ok((reports, bundles))
}

/// The scenarios' failure bundle, plus the assertion file and the recipe
/// `stackproof repro` replays.
async fn bundle(
    report_dir: &Path,
    r: &ScenarioReport,
    platform: &dyn Platform,
    file: &Path,
    kind: PlatformKind,
) -> Result<PathBuf, ReportError> {
    let copy = format!(
        "assertions/{}",
        file.file_name().map_or("assertions.yml".into(), |n| n
            .to_string_lossy()
            .into_owned())
    );
    let again = format!(
        "stackproof repro <this bundle>   (or: stackproof check --platform {} {})",
        kind.name(),
        file.display()
    );
    let dir = report::bundle::write_bundle(report_dir, r, platform, &again).await?;
    let text = std::fs::read_to_string(file).map_err(|source| ReportError {
        path: file.to_owned(),
        source,
    })?;
    report::write(&dir.join(&copy), &text)?;
    let recipe = crate::repro::Recipe::new(crate::repro::Replay::Check { file: copy }, kind, r);
    recipe.write(&dir)?;
    Ok(dir)
}
