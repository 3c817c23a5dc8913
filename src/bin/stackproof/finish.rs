//! The end of `run` and `check`: `report.json` beside `summary.md`, the
//! report on stdout (the summary for people, the JSON for machines), the
//! closing line on stderr, and the exit status (see `report::status`).

use std::process::ExitCode;

use clap::ValueEnum;
use stackproof::report::json::{self, RunView};
use stackproof::report::status::RunStatus;

/// What `run` and `check` print on stdout.
#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `summary.md`, then one closing line.
    #[default]
    Text,
    /// The JSON report only (schema `stackproof.report/v1`, README).
    Json,
}

/// Writes `report.json`, prints per `format`, returns the exit status.
pub fn finish(v: &RunView<'_>, format: Format) -> anyhow::Result<ExitCode> {
    let text = json::render(v);
    let path = v.report_dir.join("report.json");
    std::fs::write(&path, &text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    match format {
        Format::Json => println!("{text}"),
        Format::Text => println!(
            "{}",
            std::fs::read_to_string(v.report_dir.join("summary.md")).unwrap_or_default()
        ),
    }
    for (id, b) in v.bundles {
        // Only a bundle with a recipe can be replayed (not a failed start's).
        let replay = if b.join("repro.json").exists() {
            format!(" (replay: stackproof repro {})", b.display())
        } else {
            String::new()
        };
        eprintln!("stackproof: {id}: bundle in {}{replay}", b.display());
    }
    let t = v.totals;
    let line = match v.status {
        RunStatus::Interrupted(why) => format!(
            "stackproof: interrupted by {why} after {:.1}s, not a pass ({}); {}; report in {}",
            v.wall_secs,
            t.counts(),
            stackproof::cancel::teardown_words(),
            v.report_dir.display()
        ),
        _ => format!(
            "stackproof {}: {} in {:.1}s; report in {}",
            v.command,
            t.counts(),
            v.wall_secs,
            v.report_dir.display()
        ),
    };
    // The closing line goes where the summary went: stdout for people, and
    // stderr when stdout is the JSON document.
    match format {
        Format::Text => println!("{line}"),
        Format::Json => eprintln!("{line}"),
    }
    match v.status {
        RunStatus::CouldNotRun => eprintln!(
            "stackproof: the stack did not start: {}",
            v.start_error.unwrap_or("a check could not be made")
        ),
        RunStatus::NothingRan => eprintln!(
            "stackproof: nothing ran: every check was skipped ({} skipped); exit {}",
            t.skipped,
            v.status.exit_code()
        ),
        RunStatus::Skipped => eprintln!(
            "stackproof: --fail-on-skip: {} check(s) skipped; exit {}",
            t.skipped,
            v.status.exit_code()
        ),
        RunStatus::Interrupted(_) | RunStatus::Failed | RunStatus::Passed => {}
    }
    Ok(ExitCode::from(v.status.exit_code()))
}
