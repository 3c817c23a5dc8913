//! How long scenarios wait, computed from the stack's shape so that the
//! same scenario is right on the local stack's 30 s blocks and on
//! Kubernetes' 2-minute ones. Each bound is the stack's own latency plus a
//! margin for a slow machine; a poll returns as soon as its condition holds,
//! so a bound only costs time when something is wrong.

use std::time::Duration;

use crate::platform::StackShape;
use crate::stack::loki::FlushSettings;

/// The Thanos sidecar's shipper looks for new blocks every 30 s (fixed in
/// Thanos, not a flag).
pub const SIDECAR_SYNC: Duration = Duration::from_secs(30);

/// Room for a loaded 2-core machine (listing, scheduling, a slow scrape).
const MARGIN: Duration = Duration::from_secs(60);

/// How long until data written now is in a block in the bucket: Prometheus
/// cuts the head into a block once it spans 1.5 × the block duration (on
/// the first append after that), the sidecar ships it within its sync
/// period. Local (30 s blocks): 135 s; Kubernetes (2 min): 270 s.
pub fn block_wait(shape: &StackShape) -> Duration {
    shape.block_duration * 3 / 2 + SIDECAR_SYNC + MARGIN
}

/// How long `object_storage_outage` keeps the object store down: once
/// running, the head is cut every block duration, so an outage of 1.5 ×
/// the block duration plus a few scrapes holds at least one cut per
/// replica whatever its phase. Local: 55 s; Kubernetes: 190 s.
pub fn outage(shape: &StackShape) -> Duration {
    shape.block_duration * 3 / 2 + shape.scrape_interval * 10
}

/// A refused connection costs the sidecar's S3 client its retries (ten,
/// backing off to 1 s) before the operation counts as failed.
const S3_CLIENT_RETRIES: Duration = Duration::from_secs(10);

/// How long `object_storage_outage` keeps the store down past its hold,
/// at most, until every sidecar has counted a failed bucket operation: a
/// sidecar only touches the bucket when it has a block to ship, so the one
/// cut late in the hold is tried at its next sync (within
/// [`SIDECAR_SYNC`]), and fails once its client's retries are spent. Usually
/// nothing: a 55 s hold spans a sync after a cut. A store that never went
/// down costs this in full. 60 s, whatever the block duration.
pub fn outage_seen() -> Duration {
    SIDECAR_SYNC + S3_CLIENT_RETRIES + MARGIN / 3
}

/// Room, beyond Loki's own periods, for its flush of a few chunks to the
/// S3 server (one PUT each) and the harness's listing, on a loaded 2-core
/// machine.
const LOKI_FLUSH_MARGIN: Duration = Duration::from_secs(20);

/// How long after the last line is pushed every stream's chunk must be in
/// the bucket by Loki's own flush, as `flush` promises: the chunk turns
/// idle after `chunk_idle_period`, the ingester finds it at its next check
/// (`flush_check_period` + Loki's 20 % jitter) and flushes it. The stack's
/// promise (5 s idle, 1 s checks): 26.2 s. No `/flush`: what users rely
/// on is the flush their config promises.
pub fn loki_flush_wait(flush: &FlushSettings) -> Duration {
    loki_flush_promise(flush) + LOKI_FLUSH_MARGIN
}

/// Loki's own flush latency for `flush`, no margin: idle period, then the
/// next check with its 20 % jitter.
pub fn loki_flush_promise(flush: &FlushSettings) -> Duration {
    flush.idle + flush.check_period * 6 / 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(block: u64) -> StackShape {
        StackShape {
            scrape_interval: Duration::from_secs(1),
            block_duration: Duration::from_secs(block),
            replica_label: "replica".into(),
            cluster: "c".into(),
            replicas: 2,
            config_reload: Duration::ZERO,
        }
    }

    #[test]
    fn waits_follow_the_block_duration() {
        assert_eq!(block_wait(&shape(30)), Duration::from_secs(135));
        assert_eq!(block_wait(&shape(120)), Duration::from_secs(270));
        assert_eq!(outage(&shape(30)), Duration::from_secs(55));
        assert_eq!(outage(&shape(120)), Duration::from_secs(190));
        assert_eq!(outage_seen(), Duration::from_secs(60));
        assert_eq!(
            loki_flush_wait(&FlushSettings::STACK),
            Duration::from_millis(26_200)
        );
        // Loki left at its defaults would need over half an hour.
        assert!(loki_flush_wait(&FlushSettings::LOKI_DEFAULTS) > Duration::from_secs(1800));
        // The outage always spans a whole block duration: one cut at least.
        for b in [30, 60, 120, 7200] {
            assert!(outage(&shape(b)) > Duration::from_secs(b));
        }
    }
}
