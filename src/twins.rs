//! The negative twins by id (`<scenario>/<fault>`), so that `run
//! --scenario` can show a broken setup being caught from the command line,
//! and `repro` can replay a twin's bundle. Each id runs the twin function
//! its scenario module already has; nothing here judges anything.

use std::time::Duration;

use crate::platform::{Need, Platform};
use crate::scenario::{self, ScenarioReport};

/// Every twin id with what it breaks.
pub const TWINS: &[(&str, &str)] = &[
    (
        NO_REPLICA_LABEL,
        "a Thanos Query without --query.replica-label",
    ),
    (ALL_REPLICAS_DOWN, "every replica down for 30 s"),
    (
        WRONG_CREDENTIALS,
        "replica 1's sidecar with wrong bucket credentials",
    ),
    (NO_STORE_GATEWAY, "local data removed and no store gateway"),
    (
        STORE_NOT_DOWN,
        "an object storage outage whose stop does nothing",
    ),
    (
        NAIVE_DEDUP,
        "the compactor's default (naive) merge of the replicas",
    ),
    (NO_COMPACTOR, "the backfill without a compactor pass"),
    (
        SKIPPED_SEQ,
        "log lines with sequence numbers 40–49 of one stream skipped",
    ),
    (DUPLICATED, "one log line pushed twice"),
    (
        TOO_OLD,
        "log lines 8 days old, past Loki's reject_old_samples_max_age",
    ),
    (
        LABEL_DISCOVERY,
        "Loki with service_name / detected_level discovery on",
    ),
    (
        LOKI_WRONG_CREDENTIALS,
        "Loki restarted with a wrong secret key",
    ),
    (
        SLOW_FLUSH,
        "Loki at its default flush settings (30 m idle): no chunk in time",
    ),
    (
        REPLICA_LABEL_KEPT,
        "both replicas send alerts with their replica label",
    ),
    (NOT_CLUSTERED, "two Alertmanagers that do not gossip"),
    (NO_RULE_FIRING, "a rule whose condition never holds"),
    (
        NO_PROFILE,
        "the object store, which serves no heap profile, profiled too",
    ),
    (
        DOWNGRADE,
        "the downgrade: the pinned Prometheus 3.x rolled back to Debian's 2.42 on 3.x's data",
    ),
    (
        LOST_DATA_DIR,
        "each replica's new Prometheus started on an emptied data dir",
    ),
    (
        UNEXPLAINED,
        "a query whose answers differ between 2.42 and 3.x for no catalogued reason",
    ),
];

const NO_REPLICA_LABEL: &str = "ha_dedup/no_replica_label";
const ALL_REPLICAS_DOWN: &str = "ha_dedup/all_replicas_down";
const WRONG_CREDENTIALS: &str = "blocks_in_bucket/wrong_credentials";
const NO_STORE_GATEWAY: &str = "history_from_bucket/no_store_gateway";
const STORE_NOT_DOWN: &str = "object_storage_outage/store_not_down";
const NAIVE_DEDUP: &str = "compactor/naive_dedup";
const NO_COMPACTOR: &str = "compactor/no_compactor";
const SKIPPED_SEQ: &str = "logs/skipped_seq";
const DUPLICATED: &str = "logs/duplicated";
const TOO_OLD: &str = "logs/too_old";
const LABEL_DISCOVERY: &str = "logs/label_discovery";
const LOKI_WRONG_CREDENTIALS: &str = "log_chunks_in_bucket/wrong_credentials";
const SLOW_FLUSH: &str = "log_chunks_in_bucket/slow_flush";
const REPLICA_LABEL_KEPT: &str = "alerting/replica_label_kept";
const NOT_CLUSTERED: &str = "alerting/not_clustered";
const NO_RULE_FIRING: &str = "alerting/no_rule_firing";
const NO_PROFILE: &str = "heap_profile/component_without_profile";
const DOWNGRADE: &str = "upgrade/downgrade";
const LOST_DATA_DIR: &str = "upgrade/lost_data_dir";
const UNEXPLAINED: &str = "upgrade/unexplained_difference";

/// True for a twin id.
pub fn is_twin(id: &str) -> bool {
    TWINS.iter().any(|(t, _)| *t == id)
}

/// Runs scenario or twin `id` on `p`. A twin's checks are expected to
/// fail: that is the proof that the harness catches the fault.
pub async fn run(id: &str, p: &mut dyn Platform) -> ScenarioReport {
    let started = std::time::Instant::now();
    use scenario::{
        alerting as a, blocks_in_bucket as b, compactor as c, ha_dedup as h,
        history_from_bucket as s, log_chunks as l, object_storage_outage as o,
    };
    // Skipped before anything is broken, as the runner does for scenarios.
    let needs: &[Need] = match id {
        WRONG_CREDENTIALS => &[Need::SidecarCredentials],
        DOWNGRADE | LOST_DATA_DIR => &[Need::RollPrometheus],
        NAIVE_DEDUP | NO_COMPACTOR => &[Need::CompactOnce],
        // The same platforms as the scenario: the twin stands for it.
        STORE_NOT_DOWN => &[Need::ObjectStorageOutage],
        SKIPPED_SEQ
        | DUPLICATED
        | TOO_OLD
        | LABEL_DISCOVERY
        | LOKI_WRONG_CREDENTIALS
        | SLOW_FLUSH => &[Need::Loki],
        _ => &[],
    };
    if let Some(why) = needs.iter().find_map(|n| p.provides(*n).err()) {
        return ScenarioReport::skipped(id, &why);
    }
    let wait = scenario::timing::block_wait(p.shape());
    let outage = scenario::timing::outage(p.shape());
    let mut r = match id {
        NO_REPLICA_LABEL => h::twin_without_replica_label(p).await,
        ALL_REPLICAS_DOWN => h::twin_all_replicas_down(p, Duration::from_secs(30)).await,
        WRONG_CREDENTIALS => b::twin_wrong_credentials(p, wait).await,
        NO_STORE_GATEWAY => s::twin_without_store_gateway(p, wait).await,
        STORE_NOT_DOWN => o::twin_store_not_down(p, outage, wait).await,
        NAIVE_DEDUP => c::twin_naive_dedup(p).await,
        NO_COMPACTOR => c::twin_without_compactor(p).await,
        SKIPPED_SEQ
        | DUPLICATED
        | TOO_OLD
        | LABEL_DISCOVERY
        | LOKI_WRONG_CREDENTIALS
        | SLOW_FLUSH => match p.loki().await {
            Ok(loki) => match id {
                SKIPPED_SEQ => scenario::logs::twin_skipped_seq(loki).await,
                DUPLICATED => scenario::logs::twin_duplicated(loki).await,
                TOO_OLD => scenario::logs::twin_too_old(loki).await,
                LABEL_DISCOVERY => scenario::logs::twin_label_discovery(loki).await,
                SLOW_FLUSH => l::twin_slow_flush(loki).await,
                _ => l::twin_wrong_credentials(loki).await,
            },
            Err(e) => scenario::logs::loki_unavailable(id, e),
        },
        REPLICA_LABEL_KEPT => a::twin_replica_label_kept(p).await,
        NOT_CLUSTERED => a::twin_not_clustered(p).await,
        NO_RULE_FIRING => a::twin_no_rule_firing(p).await,
        NO_PROFILE => scenario::heap_profile::twin_component_without_profile(p).await,
        DOWNGRADE => scenario::upgrade::twin_downgrade(p).await,
        LOST_DATA_DIR => scenario::upgrade::twin_lost_data_dir(p).await,
        UNEXPLAINED => scenario::upgrade::twin_unexplained_difference().await,
        other => return scenario::run(other, p).await,
    };
    r.duration = started.elapsed();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_ids_name_their_scenario() {
        for (id, what) in TWINS {
            let (scenario, fault) = id.split_once('/').unwrap();
            assert!(scenario::IDS.contains(&scenario), "{id}");
            assert!(!fault.is_empty() && !what.is_empty());
            assert!(is_twin(id));
        }
        assert!(!is_twin("ha_dedup"));
    }
}
