//! Scenarios by stable id, and what they report.

pub mod alerting;
#[cfg(test)]
pub(crate) mod bare;
pub mod blocks_in_bucket;
pub mod compactor;
mod fact;
pub mod floor;
pub mod ha_dedup;
mod ha_dedup_picture;
pub mod heap_profile;
pub mod history_from_bucket;
pub mod log_chunks;
pub mod logs;
mod logs_twins;
pub mod object_storage_outage;
pub mod served;
pub mod timing;
pub mod upgrade;
mod upgrade_diff;

use std::time::{Duration, Instant};

use crate::platform::{Need, Platform};

pub use fact::{Fact, FactValue};

/// How one check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// What was expected, what was seen: words a person can act on.
    Failed(String),
    /// Why it could not run, and how to get what it needs.
    Skipped(String),
    /// The check could not be made at all (the stack did not start): not
    /// a verdict on the stack's behaviour, but never a pass either.
    Error(String),
}

/// One check of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Everything a scenario run found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioReport {
    pub id: String,
    pub checks: Vec<CheckReport>,
    /// Measured facts worth a line in the report (e.g. a hole's span).
    pub facts: Vec<Fact>,
    /// Files the scenario captured (heap profiles, `ha_dedup`'s picture);
    /// the runner writes them into the report dir under `<id>/`, and
    /// `summary.md` links them.
    pub artifacts: Vec<Artifact>,
    pub duration: Duration,
    /// The stack's own waiting in this scenario (set by the runner), for
    /// the wall-time ratio in the report.
    pub floor: Option<floor::Floor>,
}

/// A file a scenario captured for the report.
#[derive(Clone, PartialEq)]
pub struct Artifact {
    /// File name, no directories.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Artifact({}, {} bytes)", self.name, self.bytes.len())
    }
}

impl ScenarioReport {
    /// An empty report for scenario `id`.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            checks: Vec::new(),
            facts: Vec::new(),
            artifacts: Vec::new(),
            duration: Duration::ZERO,
            floor: None,
        }
    }

    /// A report whose only check, `check`, could not be made: `why`.
    pub fn errored(id: &str, check: &str, why: &str) -> Self {
        let mut r = Self::new(id);
        r.checks.push(CheckReport {
            name: check.to_owned(),
            outcome: Outcome::Error(why.to_owned()),
            duration: Duration::ZERO,
        });
        r
    }

    /// A report whose every check is skipped for `reason`.
    pub fn skipped(id: &str, reason: &str) -> Self {
        let mut r = Self::new(id);
        r.checks.push(CheckReport {
            name: id.to_owned(),
            outcome: Outcome::Skipped(reason.to_owned()),
            duration: Duration::ZERO,
        });
        r
    }

    /// Records a check's result.
    pub fn check(&mut self, name: &str, started: Instant, result: Result<(), String>) {
        self.checks.push(CheckReport {
            name: name.to_owned(),
            outcome: match result {
                Ok(()) => Outcome::Passed,
                Err(e) => Outcome::Failed(e),
            },
            duration: started.elapsed(),
        });
    }

    /// Records a measured fact.
    pub fn fact(&mut self, key: &str, value: impl Into<FactValue>) {
        self.facts.push(Fact {
            key: key.to_owned(),
            value: value.into(),
        });
    }

    /// The value of fact `key`, when measured.
    pub fn fact_value(&self, key: &str) -> Option<&FactValue> {
        self.facts.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    /// Fact `key` in seconds, when it is a span.
    pub fn fact_seconds(&self, key: &str) -> Option<f64> {
        self.fact_value(key).and_then(FactValue::as_seconds)
    }

    /// Fact `key`, when it is a count.
    pub fn fact_count(&self, key: &str) -> Option<u64> {
        self.fact_value(key).and_then(FactValue::as_count)
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The failed checks (and those that could not be made) with their
    /// messages.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checks.iter().filter_map(|c| match &c.outcome {
            Outcome::Failed(m) | Outcome::Error(m) => Some((c.name.as_str(), m.as_str())),
            _ => None,
        })
    }

    /// True when at least one check passed and none failed: what a test
    /// may call a pass. A report whose every check was skipped (no Loki, a
    /// platform that cannot cause the fault) proved nothing.
    pub fn proved_something(&self) -> bool {
        self.passed() && self.checks.iter().any(|c| c.outcome == Outcome::Passed)
    }

    /// Panics, naming every failed check, unless none failed and at least
    /// one passed (for tests): an all-skipped (or empty) report is no pass.
    pub fn assert_passed(&self) {
        let failed: Vec<_> = self.failures().collect();
        assert!(failed.is_empty(), "{} failed: {failed:#?}", self.id);
        assert!(
            self.proved_something(),
            "{}: no check passed, so nothing was proved (all skipped?): {:#?}",
            self.id,
            self.checks
        );
    }

    /// The message of check `name`, which must have failed (for negative
    /// twins' tests); panics with the whole report when it did not.
    pub fn expect_failed(&self, name: &str) -> &str {
        self.failure_of(name)
            .unwrap_or_else(|| panic!("{}: check {name:?} must have failed: {self:#?}", self.id))
    }

    /// The message of the failed check named `name`, if it failed.
    pub fn failure_of(&self, name: &str) -> Option<&str> {
        self.failures().find(|(n, _)| *n == name).map(|(_, m)| m)
    }
}

/// Every scenario id this build can run, in suite order.
pub const IDS: &[&str] = &[
    ha_dedup::ID,
    blocks_in_bucket::ID,
    history_from_bucket::ID,
    compactor::ID,
    object_storage_outage::ID,
    logs::ID,
    log_chunks::ID,
    alerting::ID,
    upgrade::ID,
    // Last: the profiles show what the whole run left in memory.
    heap_profile::ID,
];

/// Ids from the design that later work will add; asking for one says so.
pub const PLANNED: &[&str] = &[];

/// What scenario `id` needs beyond the stack every platform runs.
pub fn needs(id: &str) -> &'static [Need] {
    match id {
        compactor::ID => &[Need::CompactOnce],
        object_storage_outage::ID => &[Need::ObjectStorageOutage],
        logs::ID | log_chunks::ID => &[Need::Loki],
        upgrade::ID => &[Need::RollPrometheus],
        _ => &[],
    }
}

/// Why `platform` cannot run scenario `id`, if it cannot: the first need it
/// does not provide, in its own words.
pub fn unavailable(id: &str, platform: &dyn Platform) -> Option<String> {
    needs(id).iter().find_map(|n| platform.provides(*n).err())
}

/// Runs scenario `id` on `platform`.
pub async fn run(id: &str, platform: &mut dyn Platform) -> ScenarioReport {
    let started = Instant::now();
    // Skipped before anything is written or broken.
    if let Some(why) = unavailable(id, platform) {
        return ScenarioReport::skipped(id, &why);
    }
    let shape = platform.shape().clone();
    let (wait, outage) = (timing::block_wait(&shape), timing::outage(&shape));
    let mut report = match id {
        ha_dedup::ID => ha_dedup::run(platform, &ha_dedup::Params::default()).await,
        blocks_in_bucket::ID => blocks_in_bucket::run(platform, wait).await,
        history_from_bucket::ID => history_from_bucket::run(platform, wait).await,
        compactor::ID => compactor::run(platform).await,
        object_storage_outage::ID => object_storage_outage::run(platform, outage, wait).await,
        logs::ID => logs::run(platform, &logs::Params::default()).await,
        log_chunks::ID => log_chunks::run(platform).await,
        alerting::ID => alerting::run(platform).await,
        heap_profile::ID => heap_profile::run(platform).await,
        upgrade::ID => upgrade::run(platform).await,
        other => {
            ScenarioReport::skipped(other, &format!("scenario `{other}` is not implemented yet"))
        }
    };
    report.duration = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_all_skipped_report_is_not_a_pass() {
        let r = ScenarioReport::skipped("logs", "no Loki");
        assert!(r.passed(), "no failure");
        assert!(!r.proved_something());
        let panic = std::panic::catch_unwind(|| r.assert_passed()).unwrap_err();
        let msg = panic.downcast_ref::<String>().unwrap();
        assert!(msg.contains("nothing was proved"), "{msg}");
        assert!(std::panic::catch_unwind(|| ScenarioReport::new("x").assert_passed()).is_err());
        let mut ok = ScenarioReport::skipped("logs", "part skipped");
        ok.check("one check", Instant::now(), Ok(()));
        ok.assert_passed();
    }

    #[tokio::test]
    async fn a_scenario_the_platform_cannot_provide_is_skipped_before_it_starts() {
        let mut p = bare::Bare::new();
        for id in IDS.iter().filter(|id| !needs(id).is_empty()) {
            // Bare panics on any fault: reaching one fails this test.
            let r = run(id, &mut p).await;
            assert_eq!(r.checks.len(), 1, "{r:#?}");
            match &r.checks[0].outcome {
                Outcome::Skipped(why) => {
                    assert!(why.starts_with("the bare platform provides no"), "{why}")
                }
                other => panic!("{id}: expected a skip, got {other:?}"),
            }
        }
    }
}
