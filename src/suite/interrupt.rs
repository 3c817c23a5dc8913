//! What an interrupted run reports: the scenario cut short fails, the rest
//! are skipped, and the summary says it is not a pass.

use std::time::Instant;

use crate::cancel::Interrupt;
use crate::scenario::ScenarioReport;

/// The reports of scenarios a run `why` interrupted: the first of `ids`
/// (the one running, or about to) gets a failed check [`INTERRUPTED`], so an
/// interrupted run is never a pass; the rest are [`not_run`].
pub(super) fn cut_short(
    ids: &[&str],
    why: Interrupt,
    during: &str,
    since: Instant,
) -> Vec<ScenarioReport> {
    let Some((current, rest)) = ids.split_first() else {
        return Vec::new();
    };
    let mut r = ScenarioReport::new(current);
    r.check(
        INTERRUPTED,
        since,
        Err(format!(
            "interrupted by {why} {during} after {:.1}s: the run was cancelled and every \
             component stopped, so this scenario has no verdict",
            since.elapsed().as_secs_f64()
        )),
    );
    r.duration = since.elapsed();
    let mut reports = vec![r];
    reports.extend(not_run(rest, why));
    reports
}

/// Skipped reports for scenarios an interrupt kept from running.
pub(super) fn not_run(ids: &[&str], why: Interrupt) -> impl Iterator<Item = ScenarioReport> {
    let reason = format!("not run: the run was interrupted by {why}");
    ids.iter()
        .map(move |id| ScenarioReport::skipped(id, &reason))
}

/// The name of the failed check an interrupted scenario reports.
pub const INTERRUPTED: &str = "interrupted";

/// Puts a line saying the run was interrupted under the summary's title, so
/// nobody reads its counts as a finished run.
pub(super) fn note_interrupted(summary: &mut String, why: Interrupt, after: std::time::Duration) {
    let note = format!(
        "\n**Interrupted by {why} after {:.1}s: not a pass.** The run was cancelled and \
         {}; scenarios it did not finish are reported failed (`{INTERRUPTED}`) or \
         skipped (not run).\n",
        after.as_secs_f64(),
        crate::cancel::teardown_words()
    );
    let at = summary.find('\n').map_or(summary.len(), |i| i + 1);
    summary.insert_str(at, &note);
}
