//! `stackproof`: run the scenario suite, bring a stack up, measure, check
//! the machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stackproof::cancel::{self, Interrupt, SignalScope};
use stackproof::platform::local::LocalStack;
use stackproof::report::json::RunView;
use stackproof::report::status::RunStatus;
use stackproof::suite::{self, PlatformKind};

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
            kube,
            out,
        } => {
            let ids = suite::select(&scenarios)?;
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
            match scope.token().run(bench(starts, scenario, compactor)).await {
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

/// `min … median … max` of `values`, in seconds, over their count.
fn spread(values: &mut [f64]) -> String {
    values.sort_by(|a, b| a.total_cmp(b));
    match values {
        [] => "no values".into(),
        v => format!(
            "min {:.2}s median {:.2}s max {:.2}s over {}",
            v[0],
            v[v.len() / 2],
            v[v.len() - 1],
            v.len()
        ),
    }
}

async fn bench(starts: usize, with_scenario: bool, compactor: usize) -> anyhow::Result<ExitCode> {
    let mut readies = Vec::new();
    for i in 0..starts {
        let t = std::time::Instant::now();
        let stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let ready = stack.ready_after().as_secs_f64();
        readies.push(ready);
        println!(
            "bench: start {}: stack ready (both replicas queryable) in {ready:.2}s",
            i + 1
        );
        let rss: u64 = stack.peak_rss().iter().map(|(_, b)| b).sum();
        println!(
            "bench: start {}: peak RSS of the stack at ready {:.0} MiB",
            i + 1,
            rss as f64 / 1048576.0
        );
        drop(stack);
        println!(
            "bench: start {}: teardown done, {:.2}s total",
            i + 1,
            t.elapsed().as_secs_f64()
        );
    }
    if !readies.is_empty() {
        println!("bench: stack ready: {} starts", spread(&mut readies));
    }
    if with_scenario {
        let mut stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let params = stackproof::scenario::ha_dedup::Params::default();
        let r = stackproof::scenario::run(stackproof::scenario::ha_dedup::ID, &mut stack).await;
        let wall = r.checks.iter().map(|c| c.duration).sum::<Duration>();
        let unavoidable = params.warm_up + params.outage + params.cool_down;
        let total = r.duration.max(wall);
        println!(
            "bench: ha_dedup: {} in {:.1}s (checks {:.1}s)",
            if r.proved_something() {
                "passed"
            } else {
                "FAILED"
            },
            total.as_secs_f64(),
            wall.as_secs_f64()
        );
        println!(
            "bench: ha_dedup: unavoidable waiting (warm-up + outage + cool-down) {:.0}s",
            unavoidable.as_secs_f64()
        );
        for (name, b) in stack.peak_rss() {
            println!("bench: peak RSS {name:<14} {:.0} MiB", b as f64 / 1048576.0);
        }
        let rss: u64 = stack.peak_rss().iter().map(|(_, b)| b).sum();
        println!(
            "bench: peak RSS of the stack (sum) {:.0} MiB",
            rss as f64 / 1048576.0
        );
    }
    if compactor > 0 {
        use stackproof::scenario::compactor as c;
        let mut stack = LocalStack::builder()
            .start()
            .await
            .context("start the local stack")?;
        let (mut passes, mut walls) = (Vec::new(), Vec::new());
        for i in 0..compactor {
            let r = stackproof::scenario::run(c::ID, &mut stack).await;
            let pass = r
                .facts
                .iter()
                .find(|(k, _)| k == "compactor pass")
                .and_then(|(_, v)| v.trim_end_matches('s').parse::<f64>().ok());
            println!(
                "bench: compactor {}: {} in {:.1}s, compactor pass {}",
                i + 1,
                if r.proved_something() {
                    "passed"
                } else {
                    "FAILED"
                },
                r.duration.as_secs_f64(),
                pass.map_or("not run".into(), |p| format!("{p:.1}s"))
            );
            walls.push(r.duration.as_secs_f64());
            passes.extend(pass);
        }
        println!("bench: compactor scenario: {} runs", spread(&mut walls));
        println!(
            "bench: compactor pass (11 days × 2 replicas × 2 series): {} passes",
            spread(&mut passes)
        );
    }
    Ok(ExitCode::SUCCESS)
}
