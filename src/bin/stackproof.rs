//! `stackproof`: run the scenario suite, bring a stack up, measure, check
//! the machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stackproof::cancel::{self, Interrupt, SignalScope};
use stackproof::report::json::RunView;
use stackproof::report::status::RunStatus;
use stackproof::suite::{self, PlatformKind};

#[path = "stackproof/bench.rs"]
mod bench;
#[path = "stackproof/finish.rs"]
mod finish;
#[path = "stackproof/people.rs"]
mod people;

/// Proves a Prometheus HA + Thanos + S3 + Loki 3 stack keeps every sample.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlatformArg {
    Local,
    Kind,
    Cluster,
}

impl From<PlatformArg> for PlatformKind {
    fn from(p: PlatformArg) -> Self {
        match p {
            PlatformArg::Local => PlatformKind::Local,
            PlatformArg::Kind => PlatformKind::Kind,
            PlatformArg::Cluster => PlatformKind::Cluster,
        }
    }
}

/// Where `--platform cluster` finds its cluster.
#[derive(clap::Args)]
struct KubeArgs {
    /// Kubeconfig for `--platform cluster` (default: KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for `--platform cluster`.
    #[arg(long)]
    context: Option<String>,
}

impl From<KubeArgs> for suite::KubeTarget {
    fn from(k: KubeArgs) -> Self {
        suite::KubeTarget {
            kubeconfig: k.kubeconfig,
            context: k.context,
        }
    }
}

/// How `run` and `check` report and what they count as a pass.
#[derive(clap::Args)]
struct OutArgs {
    /// `text` (summary.md on stdout) or `json` (the report, schema
    /// stackproof.report/v1, on stdout; also written as report.json).
    #[arg(long, value_enum, default_value = "text")]
    format: finish::Format,
    /// Exit 4 when any check was skipped (e.g. no Loki), for CI that
    /// expects every scenario to run. Everything skipped is exit 3 anyway.
    #[arg(long)]
    fail_on_skip: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios and write junit.xml, summary.md and failure bundles.
    Run {
        #[arg(long, value_enum, default_value = "local")]
        platform: PlatformArg,
        /// Scenario id (repeatable); default: every implemented scenario.
        #[arg(long = "scenario")]
        scenarios: Vec<String>,
        #[arg(long, default_value = "target/stackproof")]
        report_dir: PathBuf,
        /// An assertion file (repeatable) checked on the same stack after
        /// the scenarios, into the same report (see `check`).
        #[arg(long = "check")]
        checks: Vec<PathBuf>,
        /// `upgrade`'s Prometheus before: an entry of
        /// fixtures/versions.toml or a binary's path (default:
        /// prometheus_legacy, Debian's 2.42).
        #[arg(long)]
        from: Option<String>,
        /// `upgrade`'s Prometheus after (default: prometheus, the pinned 3.x).
        #[arg(long)]
        to: Option<String>,
        /// A Prometheus rule file (repeatable) whose expressions `upgrade`
        /// evaluates on A and on B, listing every difference.
        #[arg(long = "rules")]
        rule_files: Vec<PathBuf>,
        /// A file of PromQL queries, one per line (repeatable), compared
        /// the same way.
        #[arg(long = "queries")]
        query_lists: Vec<PathBuf>,
        #[command(flatten)]
        kube: KubeArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Start the stack, print every URL and the credentials file, keep it
    /// up until Ctrl-C, then leave nothing behind.
    Up {
        #[arg(long, value_enum, default_value = "local")]
        platform: PlatformArg,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// Check assertion files (YAML: PromQL, LogQL, bucket) against a stack
    /// started here (`--platform`, the default: local) or an existing one
    /// (`--query`, `--loki`, `--objstore-config`; only read from).
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum)]
        platform: Option<PlatformArg>,
        /// Thanos Query (or Prometheus) base URL of an existing stack.
        #[arg(long)]
        query: Option<String>,
        /// Loki base URL of an existing stack.
        #[arg(long)]
        loki: Option<String>,
        /// The bucket: a Thanos objstore.yml (type S3), e.g. the one `up` prints.
        #[arg(long)]
        objstore_config: Option<PathBuf>,
        #[arg(long, default_value = "target/stackproof")]
        report_dir: PathBuf,
        #[command(flatten)]
        kube: KubeArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Replay a failure bundle (same versions, platform, scenario or file)
    /// and say whether it failed the same way (exit 0) or not (exit 1).
    Repro { bundle: PathBuf },
    /// Print timings and memory: stack ready (N starts), ha_dedup, peak RSS.
    Bench {
        #[arg(long, default_value_t = 3)]
        starts: usize,
        /// Also time the ha_dedup scenario.
        #[arg(long)]
        scenario: bool,
        /// Also run the compactor scenario this many times on one stack
        /// and time its compactor passes.
        #[arg(long, default_value_t = 0)]
        compactor: usize,
    },
    /// For each platform (local, kind, cluster): what it needs, what is
    /// here with versions, what is missing and the command that gets it.
    /// Exit 0 when the default platform (local) can run, 1 when not.
    Doctor,
    /// List scenario ids.
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STACKPROOF_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(real_main(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A signal can make a step fail before the run sees it cancelled
            // (Ctrl-C reaches a child such as `kind create cluster` too):
            // the exit code still says the run was interrupted.
            match cancel::received() {
                Some(why) => ExitCode::from(why.exit_code()),
                None => ExitCode::from(2),
            }
        }
    }
}

/// Says what `what` an interrupt cut short and returns 128 + signal.
fn interrupted(what: &str, why: Interrupt) -> ExitCode {
    eprintln!(
        "stackproof: {what} interrupted by {why}: {}",
        cancel::teardown_words()
    );
    ExitCode::from(why.exit_code())
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    // Before anything starts: a signal outside a run (no SignalScope held)
    // then still kills what was started and exits.
    stackproof::process::install_signal_cleanup();
    match cli.cmd {
        Cmd::List => {
            for id in stackproof::scenario::IDS {
                println!("{id}");
            }
            for id in stackproof::scenario::PLANNED {
                println!("{id} (not implemented yet)");
            }
            for (id, what) in stackproof::twins::TWINS {
                println!("{id} (negative twin: {what}; must fail)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Doctor => doctor().await,
        Cmd::Run {
            platform,
            scenarios,
            report_dir,
            checks,
            from,
            to,
            rule_files,
            query_lists,
            kube,
            out,
        } => {
            let ids = suite::select(&scenarios)?;
            let default = stackproof::upgrade::pair::PairSpec::default();
            stackproof::upgrade::pair::choose(stackproof::upgrade::pair::PairSpec {
                from: from.unwrap_or(default.from),
                to: to.unwrap_or(default.to),
                rule_files,
                query_lists,
            });
            let target = kube.into();
            let checks = people::load_checks(&checks)?;
            let kind: PlatformKind = platform.into();
            let o = suite::run(kind, &target, &ids, &checks, &report_dir)
                .await
                .context("stackproof run")?;
            let status = RunStatus::of(
                &o.totals,
                o.start_error.is_some(),
                o.interrupted,
                out.fail_on_skip,
            );
            finish::finish(
                &RunView {
                    command: "run",
                    platform: kind.name(),
                    reports: &o.reports,
                    totals: o.totals,
                    status,
                    wall_secs: o.wall_secs,
                    ready_secs: o.ready_secs,
                    start_error: o.start_error.as_deref(),
                    report_dir: &o.report_dir,
                    bundles: &o.bundles,
                },
                out.format,
            )
        }
        Cmd::Up { platform, kube } => people::up(platform.into(), kube.into()).await,
        Cmd::Check {
            files,
            platform,
            query,
            loki,
            objstore_config,
            report_dir,
            kube,
            out,
        } => {
            people::check_files(people::CheckArgs {
                format: out.format,
                fail_on_skip: out.fail_on_skip,
                files,
                platform: platform.map(Into::into),
                kube: kube.into(),
                query,
                loki,
                objstore_config,
                report_dir,
            })
            .await
        }
        Cmd::Repro { bundle } => people::repro(&bundle).await,
        Cmd::Bench {
            starts,
            scenario,
            compactor,
        } => {
            let scope = SignalScope::enter();
            match scope
                .token()
                .run(bench::bench(starts, scenario, compactor))
                .await
            {
                Ok(code) => code,
                Err(why) => Ok(interrupted("bench", why)),
            }
        }
    }
}

/// `stackproof doctor`: every platform's needs; exit 0 when the default
/// (local) platform can run, 1 when it cannot.
async fn doctor() -> anyhow::Result<ExitCode> {
    let platforms = stackproof::doctor::diagnose(&suite::KubeTarget::default()).await;
    print!("{}", stackproof::doctor::render(&platforms));
    let local_ok = platforms
        .iter()
        .find(|p| p.kind == PlatformKind::Local)
        .is_some_and(|p| p.can_run.is_ok());
    Ok(if local_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
