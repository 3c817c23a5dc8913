//! The `logs` scenario's negative twins: each pushes through
//! [`run_with`], the scenario's own checks, with one thing broken.

use std::time::{Duration, Instant};

use super::ScenarioReport;
use super::logs::run_with;
use crate::data::loggen::{LogGen, new_run_id};
use crate::platform::LokiService;
use crate::platform::loki::LokiPlatformError;

/// Negative twin: the generator skips `app=api level=info` seq 40–49; the
/// sequence check must name that range.
pub async fn twin_skipped_seq(loki: &mut dyn LokiService) -> ScenarioReport {
    let g =
        LogGen::recent(new_run_id(), 60, Duration::from_secs(1)).skip("app=api level=info", 40, 49);
    run_with(loki, "logs/twin: skipped sequence numbers", &g).await
}

/// Negative twin: the generator pushes `app=billing level=warn` seq 17
/// twice; the sequence check must name it.
pub async fn twin_duplicated(loki: &mut dyn LokiService) -> ScenarioReport {
    let g = LogGen::recent(new_run_id(), 60, Duration::from_secs(1))
        .duplicate("app=billing level=warn", 17);
    run_with(loki, "logs/twin: duplicated lines", &g).await
}

/// Negative twin: lines 8 days old, past the stack's
/// `reject_old_samples_max_age: 168h`: Loki refuses the push, and the push
/// check must say so with Loki's own answer.
pub async fn twin_too_old(loki: &mut dyn LokiService) -> ScenarioReport {
    let mut g = LogGen::recent(new_run_id(), 10, Duration::from_secs(1));
    g.start_ns -= EIGHT_DAYS.as_nanos() as i64;
    run_with(loki, "logs/twin: lines too old", &g).await
}

/// Older than the stack's `reject_old_samples_max_age` (7 days).
const EIGHT_DAYS: Duration = Duration::from_secs(8 * 86_400);

/// Negative twin: Loki restarted with `service_name` / `detected_level`
/// discovery on adds labels nobody pushed; the labels and series checks
/// must name them. Loki gets discovery off again afterwards.
pub async fn twin_label_discovery(loki: &mut dyn LokiService) -> ScenarioReport {
    let id = "logs/twin: label discovery on";
    match loki.set_label_discovery(true).await {
        Err(LokiPlatformError::Unsupported(why)) => return ScenarioReport::skipped(id, &why),
        Err(e) => {
            return ScenarioReport::errored(
                id,
                "Loki restarts with label discovery on",
                &e.to_string(),
            );
        }
        Ok(()) => {}
    }
    let g = LogGen::recent(new_run_id(), 20, Duration::from_secs(1));
    let mut report = run_with(loki, id, &g).await;
    if let Err(e) = loki.set_label_discovery(false).await {
        report.check(
            "Loki restarts with label discovery off",
            Instant::now(),
            Err(e.to_string()),
        );
    }
    report
}
