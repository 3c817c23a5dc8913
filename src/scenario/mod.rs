//! Scenarios by stable id, and what they report.

pub mod blocks_in_bucket;
pub mod compactor;
pub mod ha_dedup;
pub mod history_from_bucket;
pub mod log_chunks;
pub mod logs;
pub mod object_storage_outage;

use std::time::{Duration, Instant};

use crate::platform::Platform;

/// How one check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// What was expected, what was seen: words a person can act on.
    Failed(String),
    /// Why it could not run, and how to get what it needs.
    Skipped(String),
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
    pub facts: Vec<(String, String)>,
    pub duration: Duration,
}

impl ScenarioReport {
    /// An empty report for scenario `id`.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            checks: Vec::new(),
            facts: Vec::new(),
            duration: Duration::ZERO,
        }
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
    pub fn fact(&mut self, key: &str, value: impl Into<String>) {
        self.facts.push((key.to_owned(), value.into()));
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The failed checks with their messages.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checks.iter().filter_map(|c| match &c.outcome {
            Outcome::Failed(m) => Some((c.name.as_str(), m.as_str())),
            _ => None,
        })
    }

    /// Panics, naming every failed check, unless all passed (for tests).
    pub fn assert_passed(&self) {
        let failed: Vec<_> = self.failures().collect();
        assert!(failed.is_empty(), "{} failed: {failed:#?}", self.id);
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
];

/// Ids from the design that later work will add; asking for one says so.
pub const PLANNED: &[&str] = &["alerting", "upgrade", "heap_profile"];

/// How long a scenario waits for blocks in the bucket: a 30 s block is cut
/// once the head spans 45 s (checked every minute) and shipped within 30 s.
pub const BLOCK_WAIT: Duration = Duration::from_secs(180);

/// How long `object_storage_outage` keeps the object store down: longer
/// than two block cuts (30 s blocks, cut when the head spans 45 s).
pub const OUTAGE: Duration = Duration::from_secs(70);

/// Runs scenario `id` on `platform`.
pub async fn run(id: &str, platform: &mut dyn Platform) -> ScenarioReport {
    let started = Instant::now();
    let mut report = match id {
        ha_dedup::ID => ha_dedup::run(platform, &ha_dedup::Params::default()).await,
        blocks_in_bucket::ID => blocks_in_bucket::run(platform, BLOCK_WAIT).await,
        history_from_bucket::ID => history_from_bucket::run(platform, BLOCK_WAIT).await,
        compactor::ID => compactor::run(platform).await,
        object_storage_outage::ID => object_storage_outage::run(platform, OUTAGE, BLOCK_WAIT).await,
        logs::ID => logs::run_on(&platform.endpoints().s3).await,
        log_chunks::ID => log_chunks::run_on(&platform.endpoints().s3).await,
        other => {
            ScenarioReport::skipped(other, &format!("scenario `{other}` is not implemented yet"))
        }
    };
    report.duration = started.elapsed();
    report
}
