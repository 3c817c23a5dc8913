//! The commands for people at the stack: `up`, `check`, `repro`. The
//! work is in the library (`session`, `assertions`, `repro`); here are the
//! words, the signal scope and the exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stackproof::assertions::run::{Stack, check};
use stackproof::assertions::{Target, objstore_file};
use stackproof::cancel::SignalScope;
use stackproof::report::json::RunView;
use stackproof::report::safe_name;
use stackproof::report::status::RunStatus;
use stackproof::session::Session;
use stackproof::suite::{KubeTarget, PlatformKind};

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
    pub format: super::finish::Format,
    pub fail_on_skip: bool,
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
    let bundles: Vec<(String, PathBuf)> = out
        .bundles
        .iter()
        .map(|b| {
            let dir = b.file_name().unwrap_or_default().to_string_lossy();
            let id = out
                .reports
                .iter()
                .find(|r| safe_name(&r.id) == dir)
                .map_or_else(|| dir.to_string(), |r| r.id.clone());
            (id, b.clone())
        })
        .collect();
    let status = RunStatus::of(&out.totals, false, None, a.fail_on_skip);
    let platform = match &stack {
        Stack::Given(_) => "given",
        Stack::Start(kind, _) => kind.name(),
    };
    super::finish::finish(
        &RunView {
            command: "check",
            platform,
            reports: &out.reports,
            totals: out.totals,
            status,
            wall_secs: out.wall_secs,
            ready_secs: None,
            start_error: None,
            report_dir: &a.report_dir,
            bundles: &bundles,
        },
        a.format,
    )
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
