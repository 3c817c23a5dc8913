//! The report of a run whose stack did not start: an error per selected
//! scenario (so CI shows every scenario that did not run, and why) and a
//! bundle with every component's log as the failed start left it.

use std::path::{Path, PathBuf};

use super::{ReportError, write};
use crate::platform::salvage::SalvagedLog;
use crate::scenario::ScenarioReport;

/// The name of the check each scenario reports when the stack did not start.
pub const STACK_STARTED: &str = "the stack started";

/// The bundle's directory name under `bundles/`.
pub const BUNDLE: &str = "stack-start";

/// One errored report per id in `ids`, each saying `why`.
pub fn errored(ids: &[String], why: &str) -> Vec<ScenarioReport> {
    ids.iter()
        .map(|id| ScenarioReport::errored(id, STACK_STARTED, why))
        .collect()
}

/// Writes `DIR/bundles/stack-start/`: `README.md` (what failed, the
/// scenarios it kept from running, the command that retries), `logs/` (each
/// component's salvaged log) and the versions the run used. `why` and the
/// logs come from the platform with its secrets already redacted.
pub fn write_bundle(
    dir: &Path,
    platform: &str,
    ids: &[String],
    why: &str,
    logs: &[SalvagedLog],
) -> Result<PathBuf, ReportError> {
    let out = dir.join("bundles").join(BUNDLE);
    // A bundle from an earlier failed start must not lend this one its logs.
    let _ = std::fs::remove_dir_all(&out);
    let mut text = format!(
        "# the {platform} stack did not start\n\n{why}\n\nNot run: {}\n\n\
         Retry:\n\n    stackproof run --platform {platform}{}\n\n## Component logs\n\n",
        ids.iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", "),
        ids.iter()
            .map(|i| format!(" --scenario {i}"))
            .collect::<String>()
    );
    if logs.is_empty() {
        text.push_str(
            "None: no component had started (or the platform keeps no log of a failed start).\n",
        );
    }
    for l in logs {
        text.push_str(&format!("- `{}`: logs/{}.log\n", l.name, l.name));
        write(&out.join("logs").join(format!("{}.log", l.name)), &l.text)?;
    }
    if let Ok(v) = std::fs::read_to_string(crate::versions::default_versions_path()) {
        write(&out.join("versions.toml"), &v)?;
    }
    write(&out.join("README.md"), &text)?;
    Ok(out)
}

/// A start that failed on its own (no signal): says so, and returns an
/// errored report per selected id and the bundle with the salvaged logs.
pub fn report(
    platform: &str,
    all: &[String],
    why: &str,
    logs: &[SalvagedLog],
    report_dir: &Path,
) -> Result<(Vec<ScenarioReport>, PathBuf), ReportError> {
    let bundle = write_bundle(report_dir, platform, all, why, logs)?;
    eprintln!(
        "stackproof: the stack did not start: every selected scenario is reported as an error; \
         the start's logs are in {}",
        bundle.display()
    );
    Ok((errored(all, why), bundle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Outcome;

    #[test]
    fn every_scenario_errs_and_the_bundle_holds_each_log() {
        let reports = errored(&["ha_dedup".into(), "logs".into()], "query never ready");
        assert_eq!(reports.len(), 2);
        assert_eq!(
            reports[1].checks[0].outcome,
            Outcome::Error("query never ready".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let logs = [SalvagedLog {
            name: "query".into(),
            text: "level=error msg=boom".into(),
        }];
        let b = write_bundle(dir.path(), "local", &["ha_dedup".into()], "why", &logs).unwrap();
        let readme = std::fs::read_to_string(b.join("README.md")).unwrap();
        assert!(
            readme.contains("# the local stack did not start"),
            "{readme}"
        );
        assert!(readme.contains("--scenario ha_dedup"), "{readme}");
        assert!(readme.contains("logs/query.log"), "{readme}");
        let log = std::fs::read_to_string(b.join("logs/query.log")).unwrap();
        assert_eq!(log, "level=error msg=boom");
    }
}
