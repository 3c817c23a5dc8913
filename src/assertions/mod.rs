//! `stackproof check`: the user's own assertions, in YAML, against a stack
//! stackproof started or one given by URLs (read-only: only queries, bucket
//! listings and reads). Each file becomes one report entry, each assertion
//! one check, in the same JUnit and summary as the scenarios.

pub mod bucket;
pub mod logql;
pub mod objstore_file;
pub mod promql;
pub mod run;
pub mod schema;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::client::loki::LokiClient;
use crate::client::objstore::{Objstore, S3Target};
use crate::client::prom::PromClient;
use crate::data::exporter::now_ms;
use crate::eventually::{Eventually, Probe};
use crate::platform::{Need, Platform};
use crate::scenario::{CheckReport, Outcome, ScenarioReport};
use schema::AssertionFile;

/// Where the assertions are asked. A part left out skips the assertions
/// that need it, with the reason.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Thanos Query (or a Prometheus) base URL.
    pub query: Option<String>,
    /// Loki base URL.
    pub loki: Option<String>,
    /// The bucket.
    pub s3: Option<S3Target>,
    /// Why there is no Loki, when `loki` is None (else a generic hint).
    pub no_loki_reason: Option<String>,
}

impl Target {
    /// The stack of a running platform: its Thanos Query and bucket, and
    /// its Loki where it provides one (started on first use), else why not.
    pub async fn of(platform: &mut dyn Platform) -> Self {
        let e = platform.endpoints();
        let (query, s3) = (Some(e.query.clone()), Some(e.s3.clone()));
        let (loki, no_loki_reason) = match platform.provides(Need::Loki) {
            Err(why) => (None, Some(why)),
            Ok(()) => match platform.loki().await {
                Ok(l) => (Some(l.client().base().to_owned()), None),
                Err(e) => (None, Some(format!("Loki did not start: {e}"))),
            },
        };
        Target {
            query,
            loki,
            s3,
            no_loki_reason,
        }
    }
}

/// The report id of assertion file `path`.
pub fn report_id(path: &Path) -> String {
    format!("check:{}", path.display())
}

/// Loads every file, collecting every file's error so one run shows them
/// all.
pub fn load_all(
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, AssertionFile)>, Vec<schema::SchemaError>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match schema::load(p) {
            Ok(f) => ok.push((p.clone(), f)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

/// Runs every assertion of `file` against `target`, in file order: PromQL,
/// then LogQL, then bucket.
pub async fn run_file(path: &Path, file: &AssertionFile, target: &Target) -> ScenarioReport {
    let started = Instant::now();
    let mut report = ScenarioReport::new(&report_id(path));
    let prom = target.query.as_deref().map(PromClient::new);
    let loki = target.loki.as_deref().map(LokiClient::new);
    let store = target.s3.clone().map(Objstore::new);
    let budget = |own: Option<schema::Dur>| own.or(file.within).map(|d| d.0);
    for a in &file.promql {
        let name = format!("promql: {}", a.name.value);
        let outcome = match &prom {
            None => skipped("no Thanos Query: pass --query URL, or --platform to start a stack"),
            Some(c) => settle(&name, budget(a.within), || promql::evaluate(a, c, now_ms())).await,
        };
        push(&mut report, name, outcome);
    }
    for a in &file.logql {
        let name = format!("logql: {}", a.name.value);
        let outcome = match &loki {
            None => skipped(
                target
                    .no_loki_reason
                    .as_deref()
                    .unwrap_or("no Loki: pass --loki URL, or --platform to start a stack"),
            ),
            Some(c) => settle(&name, budget(a.within), || logql::evaluate(a, c, now_ms())).await,
        };
        push(&mut report, name, outcome);
    }
    for a in &file.bucket {
        let name = format!("bucket: {}", a.name.value);
        let outcome = match &store {
            None => skipped(
                "no bucket: pass --objstore-config FILE (Thanos' objstore.yml), or --platform to start a stack",
            ),
            Some(s) => settle(&name, budget(a.within), || bucket::evaluate(a, s)).await,
        };
        push(&mut report, name, outcome);
    }
    report.duration = started.elapsed();
    report
}

fn skipped(why: &str) -> (Outcome, Duration) {
    (Outcome::Skipped(why.to_owned()), Duration::ZERO)
}

fn push(report: &mut ScenarioReport, name: String, (outcome, duration): (Outcome, Duration)) {
    report.checks.push(CheckReport {
        name,
        outcome,
        duration,
    });
}

/// Asks once, or polls for at most `within` until the answer holds; the
/// failure is the last answer's, with how long it was polled.
async fn settle<F, Fut>(name: &str, within: Option<Duration>, mut ask: F) -> (Outcome, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let result = match within {
        None => ask().await,
        Some(limit) => Eventually::new(format!("`{name}` to hold"), limit)
            .until(|| {
                let fut = ask();
                async move {
                    match fut.await {
                        Ok(()) => Probe::Ready(()),
                        Err(m) => Probe::NotYet(m),
                    }
                }
            })
            .await
            .map_err(|e| {
                format!(
                    "{}\n(still so after {:.1}s of polling)",
                    e.last,
                    e.waited.as_secs_f64()
                )
            }),
    };
    let outcome = match result {
        Ok(()) => Outcome::Passed,
        Err(m) => Outcome::Failed(m),
    };
    (outcome, started.elapsed())
}
