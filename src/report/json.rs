//! The machine-readable report (`--format json`, and `report.json` beside
//! `summary.md`): one schema, [`SCHEMA`], documented in the README.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::status::RunStatus;
use super::{Totals, artifact_path};
use crate::scenario::{Outcome, ScenarioReport};

/// The schema's name and version; a change that breaks readers bumps it.
pub const SCHEMA: &str = "stackproof.report/v1";

/// What the JSON report is made from.
#[derive(Debug)]
pub struct RunView<'a> {
    /// `run` or `check`.
    pub command: &'a str,
    pub platform: &'a str,
    pub reports: &'a [ScenarioReport],
    pub totals: Totals,
    pub status: RunStatus,
    pub wall_secs: f64,
    pub ready_secs: Option<f64>,
    pub start_error: Option<&'a str>,
    pub report_dir: &'a Path,
    /// Bundles by report id.
    pub bundles: &'a [(String, PathBuf)],
}

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    command: &'a str,
    platform: &'a str,
    status: &'static str,
    exit_code: u8,
    totals: Totals,
    wall_secs: f64,
    ready_secs: Option<f64>,
    interrupted: Option<&'static str>,
    start_error: Option<&'a str>,
    report_dir: String,
    scenarios: Vec<Scenario<'a>>,
}

#[derive(Serialize)]
struct Scenario<'a> {
    id: &'a str,
    duration_secs: f64,
    /// The stack's own waiting (no margin), where the scenario waits.
    floor_secs: Option<f64>,
    floor_why: Option<&'a str>,
    checks: Vec<Check<'a>>,
    facts: Vec<Fact<'a>>,
    artifacts: Vec<String>,
    bundle: Option<String>,
}

#[derive(Serialize)]
struct Check<'a> {
    name: &'a str,
    outcome: &'static str,
    message: Option<&'a str>,
    duration_secs: f64,
}

#[derive(Serialize)]
struct Fact<'a> {
    name: &'a str,
    /// As people read it.
    value: String,
    /// The same as a number in `unit`, where it is one.
    number: Option<f64>,
    unit: Option<&'static str>,
}

/// The JSON report of `v` (pretty-printed; paths as given).
pub fn render(v: &RunView<'_>) -> String {
    let path = |p: &Path| p.display().to_string();
    let scenarios = v
        .reports
        .iter()
        .map(|r| Scenario {
            id: &r.id,
            duration_secs: r.duration.as_secs_f64(),
            floor_secs: r.floor.as_ref().map(|f| f.wait.as_secs_f64()),
            floor_why: r.floor.as_ref().map(|f| f.why.as_str()),
            checks: r
                .checks
                .iter()
                .map(|c| {
                    let (outcome, message) = match &c.outcome {
                        Outcome::Passed => ("passed", None),
                        Outcome::Failed(m) => ("failed", Some(m.as_str())),
                        Outcome::Skipped(m) => ("skipped", Some(m.as_str())),
                        Outcome::Error(m) => ("error", Some(m.as_str())),
                    };
                    Check {
                        name: &c.name,
                        outcome,
                        message,
                        duration_secs: c.duration.as_secs_f64(),
                    }
                })
                .collect(),
            facts: r
                .facts
                .iter()
                .map(|f| {
                    let number = f.value.number();
                    Fact {
                        name: &f.key,
                        value: f.value.to_string(),
                        number: number.map(|(n, _)| n),
                        unit: number.map(|(_, u)| u),
                    }
                })
                .collect(),
            artifacts: r
                .artifacts
                .iter()
                .map(|a| path(&v.report_dir.join(artifact_path(&r.id, &a.name))))
                .collect(),
            bundle: v
                .bundles
                .iter()
                .find(|(id, _)| *id == r.id || id == super::start_failure::BUNDLE)
                .map(|(_, b)| path(b)),
        })
        .collect();
    let report = Report {
        schema: SCHEMA,
        command: v.command,
        platform: v.platform,
        status: v.status.name(),
        exit_code: v.status.exit_code(),
        totals: v.totals,
        wall_secs: v.wall_secs,
        ready_secs: v.ready_secs,
        interrupted: match v.status {
            RunStatus::Interrupted(why) => Some(why.name()),
            _ => None,
        },
        start_error: v.start_error,
        report_dir: path(v.report_dir),
        scenarios,
    };
    serde_json::to_string_pretty(&report).expect("a report serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::totals;
    use crate::scenario::FactValue;

    #[test]
    fn the_documented_fields_parse_back() {
        let mut r = ScenarioReport::new("ha_dedup");
        r.check("x", std::time::Instant::now(), Err("2 series".into()));
        r.fact("hole", FactValue::seconds_of_ms(31_000, 1));
        r.fact("note", "in words");
        let reports = [r];
        let t = totals(&reports);
        let bundles = [("ha_dedup".to_owned(), PathBuf::from("out/bundles/ha_dedup"))];
        let text = render(&RunView {
            command: "run",
            platform: "local",
            reports: &reports,
            totals: t,
            status: RunStatus::of(&t, false, None, false),
            wall_secs: 1.5,
            ready_secs: Some(6.0),
            start_error: None,
            report_dir: Path::new("out"),
            bundles: &bundles,
        });
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["status"], "failed");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["totals"]["failed"], 1);
        assert_eq!(v["scenarios"][0]["checks"][0]["outcome"], "failed");
        assert_eq!(v["scenarios"][0]["checks"][0]["message"], "2 series");
        assert_eq!(v["scenarios"][0]["facts"][0]["value"], "31.0s");
        assert_eq!(v["scenarios"][0]["facts"][0]["number"], 31.0);
        assert_eq!(v["scenarios"][0]["facts"][0]["unit"], "s");
        assert_eq!(v["scenarios"][0]["facts"][1]["value"], "in words");
        assert!(v["scenarios"][0]["facts"][1]["number"].is_null());
        assert_eq!(v["scenarios"][0]["bundle"], "out/bundles/ha_dedup");
        assert!(v["interrupted"].is_null());
    }
}
