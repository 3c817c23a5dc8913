//! `stackproof repro BUNDLE`: replays what failed — a scenario, or an
//! assertion file — from its failure bundle, with the bundle's versions,
//! platform and parameters, and says whether it failed the same way (the
//! same checks failed; messages carry times, so they are shown, not
//! compared).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{ReportError, write};
use crate::scenario::ScenarioReport;
use crate::session::{Session, SessionError};
use crate::suite::{KubeTarget, PlatformKind};
use crate::versions::{Versions, VersionsError};

/// The recipe's file name inside a bundle.
pub const RECIPE: &str = "repro.json";

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replay {
    /// A scenario by id, with its default parameters.
    Scenario { id: String },
    /// An assertion file, copied into the bundle (path relative to it).
    Check { file: String },
}

/// Everything `repro` needs, written beside the bundle's README.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    pub replay: Replay,
    pub platform: String,
    /// The scenario's parameters. Every scenario runs with its defaults
    /// (there is no way to change them from the command line), so the
    /// stackproof revision pins them.
    pub parameters: String,
    /// How the data was made. The exporter's series are functions of the
    /// scrape time and the log lines carry a fresh run id: there is no
    /// random seed to carry over.
    pub data: String,
    pub stackproof_version: String,
    /// The checks that failed, and their messages.
    pub failed: Vec<(String, String)>,
}

/// Errors replaying a bundle.
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    #[error(
        "{path} is not a failure bundle ({RECIPE}: {message})\nhint: bundles are the directories under <report-dir>/bundles/"
    )]
    NotABundle { path: PathBuf, message: String },
    #[error("the bundle's platform `{0}` is unknown")]
    Platform(String),
    #[error(transparent)]
    Versions(#[from] VersionsError),
    #[error(transparent)]
    Check(#[from] crate::assertions::schema::SchemaError),
    #[error(transparent)]
    Session(#[from] Box<SessionError>),
}

impl Recipe {
    /// The recipe for `report`, which failed on `kind`.
    pub fn new(replay: Replay, kind: PlatformKind, report: &ScenarioReport) -> Self {
        Self {
            replay,
            platform: kind.name().to_owned(),
            parameters: "defaults of this stackproof revision".into(),
            data: "known functions of time; no random seed".into(),
            stackproof_version: env!("CARGO_PKG_VERSION").into(),
            failed: report
                .failures()
                .map(|(n, m)| (n.to_owned(), m.to_owned()))
                .collect(),
        }
    }

    /// Writes `DIR/repro.json`.
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let text = serde_json::to_string_pretty(self).expect("a recipe serialises");
        write(&dir.join(RECIPE), &text)
    }

    /// Reads `BUNDLE/repro.json`.
    pub fn read(bundle: &Path) -> Result<Self, ReproError> {
        let not = |message: String| ReproError::NotABundle {
            path: bundle.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(bundle.join(RECIPE)).map_err(|e| not(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| not(e.to_string()))
    }
}

/// Writes the recipe of scenario (or twin) `id`, which failed, into its
/// bundle `dir`.
pub fn record_scenario(
    dir: &Path,
    kind: PlatformKind,
    id: &str,
    report: &ScenarioReport,
) -> Result<(), ReportError> {
    let replay = Replay::Scenario { id: id.to_owned() };
    Recipe::new(replay, kind, report).write(dir)
}

/// What a replay found.
#[derive(Debug)]
pub struct ReproOutcome {
    pub recipe: Recipe,
    pub report: ScenarioReport,
}

impl ReproOutcome {
    /// The same checks failed as in the bundle (and no others).
    pub fn same_failure(&self) -> bool {
        let was: BTreeSet<&str> = self.recipe.failed.iter().map(|(n, _)| n.as_str()).collect();
        let now: BTreeSet<&str> = self.report.failures().map(|(n, _)| n).collect();
        !was.is_empty() && was == now
    }

    /// What happened then and now, check by check, for people.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (name, then) in &self.recipe.failed {
            let now = self.report.failure_of(name).unwrap_or("passed");
            s.push_str(&format!("- {name}\n    then: {then}\n    now:  {now}\n"));
        }
        for (name, now) in self.report.failures() {
            if !self.recipe.failed.iter().any(|(n, _)| n == name) {
                s.push_str(&format!("- {name} (new)\n    now:  {now}\n"));
            }
        }
        let verdict = if self.same_failure() {
            "failed the same way"
        } else if self.report.passed() {
            "did NOT fail this time"
        } else {
            "failed differently"
        };
        format!("stackproof repro: {} {verdict}\n{s}", self.report.id)
    }
}

/// Replays `bundle`: the bundle's versions (local platform), its platform,
/// the same scenario or assertion file.
pub async fn replay(bundle: &Path) -> Result<ReproOutcome, ReproError> {
    let recipe = Recipe::read(bundle)?;
    let kind = match recipe.platform.as_str() {
        "local" => PlatformKind::Local,
        "kind" => PlatformKind::Kind,
        "cluster" => PlatformKind::Cluster,
        other => return Err(ReproError::Platform(other.to_owned())),
    };
    let versions_file = bundle.join("versions.toml");
    let versions = match std::fs::read_to_string(&versions_file) {
        Ok(text) => Some(Versions::parse(
            &text,
            &versions_file.display().to_string(),
        )?),
        // An older bundle: today's pins, said so.
        Err(_) => {
            eprintln!("stackproof repro: the bundle has no versions.toml: using today's pins");
            None
        }
    };
    if kind != PlatformKind::Local {
        eprintln!(
            "stackproof repro: on the {} platform the images come from the charts' pins of this revision",
            kind.name()
        );
    }
    eprintln!("stackproof repro: starting the {} stack…", kind.name());
    let mut session = Session::start(kind, &KubeTarget::default(), versions)
        .await
        .map_err(Box::new)?;
    let report = match &recipe.replay {
        Replay::Scenario { id } => crate::twins::run(id, session.platform.as_mut()).await,
        Replay::Check { file } => {
            let path = bundle.join(file);
            let parsed = crate::assertions::schema::load(&path)?;
            crate::assertions::run_file(&path, &parsed, &session.target()).await
        }
    };
    drop(session);
    Ok(ReproOutcome { recipe, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn failed(id: &str, checks: &[(&str, Result<(), &str>)]) -> ScenarioReport {
        let mut r = ScenarioReport::new(id);
        for (name, res) in checks {
            r.check(name, Instant::now(), res.map_err(str::to_owned));
        }
        r
    }

    #[test]
    fn a_scenario_recipe_round_trips_and_verdicts_compare_failed_checks() {
        let dir = tempfile::tempdir().unwrap();
        let then = failed(
            "ha_dedup",
            &[
                ("one series", Err("2 series where 1 expected")),
                ("no hole", Ok(())),
            ],
        );
        record_scenario(dir.path(), PlatformKind::Local, "ha_dedup", &then).unwrap();
        let recipe = Recipe::read(dir.path()).unwrap();
        assert_eq!(
            recipe.replay,
            Replay::Scenario {
                id: "ha_dedup".into()
            }
        );
        assert_eq!(recipe.platform, "local");
        assert_eq!(
            recipe.failed,
            vec![("one series".into(), "2 series where 1 expected".into())]
        );

        let same = ReproOutcome {
            recipe: recipe.clone(),
            report: failed(
                "ha_dedup",
                &[
                    ("one series", Err("3 series where 1 expected")),
                    ("no hole", Ok(())),
                ],
            ),
        };
        assert!(same.same_failure());
        assert!(same.describe().starts_with(
            "stackproof repro: ha_dedup failed the same way\n- one series\n    then: 2 series"
        ));
        let other = ReproOutcome {
            recipe: recipe.clone(),
            report: failed(
                "ha_dedup",
                &[("one series", Ok(())), ("no hole", Err("a hole"))],
            ),
        };
        assert!(!other.same_failure());
        let text = other.describe();
        assert!(text.contains("failed differently"), "{text}");
        assert!(text.contains("- no hole (new)\n    now:  a hole"), "{text}");
        let fixed = ReproOutcome {
            recipe,
            report: failed("ha_dedup", &[("one series", Ok(()))]),
        };
        assert!(fixed.describe().contains("did NOT fail this time"));
    }

    #[test]
    fn a_directory_without_a_recipe_is_not_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let e = Recipe::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is not a failure bundle (repro.json: "), "{e}");
        assert!(
            e.contains("hint: bundles are the directories under <report-dir>/bundles/"),
            "{e}"
        );
    }
}
