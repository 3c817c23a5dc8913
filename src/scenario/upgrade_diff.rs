//! `upgrade`'s rule and query diff: the catalogue's probes and the user's
//! rules and queries evaluated on A and B ([`crate::upgrade::run`]), every
//! difference listed with the change that explains it.

use std::time::{Duration, Instant};

use super::upgrade::checks;
use super::{Artifact, CheckReport, Outcome, ScenarioReport};
use crate::upgrade::catalogue::{Catalogue, UserProbe, query_list_probes, rule_file_probes};
use crate::upgrade::diff::{Difference, differences, render};
use crate::upgrade::pair::{Pair, PairSpec};
use crate::upgrade::run::{DiffError, run_diff};

/// Runs the diff of `pair` with `spec`'s user inputs into `report`.
pub(super) async fn diff(pair: &Pair, spec: &PairSpec, report: &mut ScenarioReport) {
    let t = Instant::now();
    let inputs = || -> Result<(Catalogue, Vec<UserProbe>), DiffError> {
        let catalogue = Catalogue::load_default()?;
        let mut user = Vec::new();
        for f in &spec.rule_files {
            user.extend(rule_file_probes(f)?);
        }
        for f in &spec.query_lists {
            user.extend(query_list_probes(f)?);
        }
        Ok((catalogue, user))
    };
    let (catalogue, user) = match inputs() {
        Ok(x) => x,
        Err(e) => return report.check(checks::DIFF_EXPLAINED, t, Err(e.to_string())),
    };
    let run = match run_diff(pair, &catalogue, &user).await {
        Ok(run) => run,
        Err(DiffError::Missing(why)) => {
            for name in [checks::DIFF_EXPLAINED, checks::CATALOGUE_SHOWN] {
                skip(report, name, &why);
            }
            return;
        }
        Err(e) => {
            return report.check(
                checks::DIFF_EXPLAINED,
                t,
                Err(format!("the diff could not be made: {e}")),
            );
        }
    };
    let diffs = differences(&run.recorded, &catalogue);
    let explained = diffs.iter().filter(|d| d.explained_by.is_some()).count();
    report.fact(
        "rule and query diff",
        format!(
            "{} probes, {} differences ({explained} explained by the catalogue)",
            run.recorded.len(),
            diffs.len()
        ),
    );
    report.fact("warnings new in B's log", run.b_warnings.len().to_string());
    for (side, m) in ["A", "B"].iter().zip(run.memory) {
        report.fact(
            &format!("{side} memory on the diff's data"),
            format!(
                "heap in use {:.1} MiB, RSS {:.1} MiB, {} head series",
                m.heap_inuse / 1048576.0,
                m.rss / 1048576.0,
                m.head_series
            ),
        );
    }
    let mut md = render(
        &pair.a.to_string(),
        &pair.b.to_string(),
        run.recorded.len(),
        &diffs,
    );
    if !run.b_warnings.is_empty() {
        md.push_str("## Warnings in B's log that A's does not have\n\n");
        for w in &run.b_warnings {
            md.push_str(&format!("- {w}\n"));
        }
    }
    report.artifacts.push(Artifact {
        name: "upgrade-diff.md".into(),
        bytes: md.into_bytes(),
    });
    report.artifacts.push(Artifact {
        name: "upgrade-diff-recorded.json".into(),
        bytes: serde_json::to_vec_pretty(&run.recorded).unwrap_or_default(),
    });
    report.check(checks::DIFF_EXPLAINED, t, all_explained(&diffs));
    match (pair.a.version, pair.b.version) {
        (Some(a), Some(b)) if a.0 == 2 && b.0 == 3 => {
            report.check(
                checks::CATALOGUE_SHOWN,
                t,
                catalogue_shown(&catalogue, &diffs),
            );
        }
        _ => skip(
            report,
            checks::CATALOGUE_SHOWN,
            &format!("{} → {} is not a 2 → 3 upgrade", pair.a, pair.b),
        ),
    }
}

fn skip(report: &mut ScenarioReport, name: &str, why: &str) {
    report.checks.push(CheckReport {
        name: name.to_owned(),
        outcome: Outcome::Skipped(why.to_owned()),
        duration: Duration::ZERO,
    });
}

/// Every difference explained, or the unexplained ones with both answers.
pub fn all_explained(diffs: &[Difference]) -> Result<(), String> {
    let open: Vec<String> = diffs
        .iter()
        .filter(|d| d.explained_by.is_none())
        .map(|d| format!("`{}` ({}): A: {}; B: {}", d.text, d.origin, d.a, d.b))
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} difference(s) no catalogued change explains; look at each before the upgrade:\n{}",
            open.len(),
            open.join("\n")
        ))
    }
}

/// Every catalogued change shows as a difference on its own probes, and
/// the diff names it as their explanation.
pub fn catalogue_shown(catalogue: &Catalogue, diffs: &[Difference]) -> Result<(), String> {
    let missing: Vec<String> = catalogue
        .changes
        .iter()
        .filter(|c| {
            !diffs.iter().any(|d| {
                d.origin == c.id && d.explained_by.as_ref().is_some_and(|(id, _)| *id == c.id)
            })
        })
        .map(|c| format!("`{}` ({})", c.id, c.title))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} catalogued change(s) made no difference on their probes, or were not named as its explanation: {}",
            missing.len(),
            missing.join("; ")
        ))
    }
}
