//! The commands for people at the stack: `up`, `check`, `repro`. The
//! work is in the library (`session`, `assertions`, `repro`); here are the
//! words, the signal scope and the exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stackproof::assertions::run::{Stack, check};
use stackproof::assertions::{Target, objstore_file};
use stackproof::cancel::SignalScope;
use stackproof::report::Totals;
use stackproof::session::Session;
use stackproof::suite::{KubeTarget, PlatformKind};

/// Exit status of a run in which no check passed or failed (everything
/// skipped, or nothing selected): not green, not a failure either.
pub const NOTHING_RAN: u8 = 3;

/// 0 when something passed and nothing failed, 1 on a failure,
/// [`NOTHING_RAN`] when every check was skipped.
pub fn exit_for(t: &Totals) -> ExitCode {
    if t.failed > 0 {
        ExitCode::FAILURE
    } else if t.nothing_ran() {
        eprintln!(
            "stackproof: nothing ran: every check was skipped ({} skipped); exit {NOTHING_RAN}",
            t.skipped
        );
        ExitCode::from(NOTHING_RAN)
    } else {
        ExitCode::SUCCESS
    }
}

/// `stackproof up`: start, print every URL, wait for SIGINT/SIGTERM, stop.
pub async fn up(kind: PlatformKind, kube: KubeTarget) -> anyhow::Result<ExitCode> {
    let scope = SignalScope::enter();
    let session = match scope.token().run(Session::start(kind, &kube, None)).await {
        Err(why) => {
            return Ok(super::interrupted(
                &format!("starting the {} stack", kind.name()),
                why,
            ));
        }
        Ok(s) => s.with_context(|| format!("start the {} stack", kind.name()))?,
    };
    print!("{}", session.describe());
    println!(
        "ready in {:.1}s; Ctrl-C stops everything",
        session.ready_secs
    );
    // SIGTERM as well as Ctrl-C: both must stop the stack through its
    // Drop, which the signal thread's exit would skip.
    let why = scope.token().wait().await;
    drop(session);
    Ok(super::interrupted("`stackproof up`", why))
}

/// Where `check` asks, from its flags.
pub struct CheckArgs {
    pub files: Vec<PathBuf>,
    pub platform: Option<PlatformKind>,
    pub kube: KubeTarget,
    pub query: Option<String>,
    pub loki: Option<String>,
    pub objstore_config: Option<PathBuf>,
    pub report_dir: PathBuf,
}

/// `stackproof check FILE...`.
pub async fn check_files(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let given = a.query.is_some() || a.loki.is_some() || a.objstore_config.is_some();
    let stack = match (a.platform, given) {
        (Some(_), true) => anyhow::bail!(
            "--platform starts a stack; --query, --loki and --objstore-config name an existing one: pass one or the other"
        ),
        (Some(kind), false) => Stack::Start(kind, a.kube),
        (None, true) => Stack::Given(Target {
            query: a.query,
            loki: a.loki,
            s3: a
                .objstore_config
                .as_deref()
                .map(objstore_file::read)
                .transpose()?,
            no_loki_reason: None,
        }),
        // Nothing named: the local stack, as `run` does.
        (None, false) => Stack::Start(PlatformKind::Local, a.kube),
    };
    let scope = SignalScope::enter();
    let out = match scope
        .token()
        .run(check(&a.files, &stack, &a.report_dir))
        .await
    {
        Err(why) => return Ok(super::interrupted("stackproof check", why)),
        Ok(out) => out.context("stackproof check")?,
    };
    print_summary(&a.report_dir);
    for b in &out.bundles {
        println!(
            "stackproof: failure bundle in {} (replay: stackproof repro {})",
            b.display(),
            b.display()
        );
    }
    let t = out.totals;
    println!(
        "stackproof check: {} passed, {} failed, {} skipped in {:.1}s; report in {}",
        t.passed,
        t.failed,
        t.skipped,
        out.wall_secs,
        a.report_dir.display()
    );
    Ok(exit_for(&t))
}

/// Every `--check` file of `run`, parsed before anything starts.
pub fn load_checks(paths: &[PathBuf]) -> anyhow::Result<Vec<stackproof::suite::CheckFile>> {
    stackproof::assertions::load_all(paths).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{}", all.join("\n"))
    })
}

/// `stackproof repro BUNDLE`: 0 when it failed the same way, 1 when not.
pub async fn repro(bundle: &Path) -> anyhow::Result<ExitCode> {
    let scope = SignalScope::enter();
    let out = match scope.token().run(stackproof::repro::replay(bundle)).await {
        Err(why) => return Ok(super::interrupted("stackproof repro", why)),
        Ok(out) => out.with_context(|| format!("replay {}", bundle.display()))?,
    };
    print!("{}", out.describe());
    Ok(if out.same_failure() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_summary(report_dir: &Path) {
    println!(
        "{}",
        std::fs::read_to_string(report_dir.join("summary.md")).unwrap_or_default()
    );
}
