//! The waiting a scenario cannot avoid: what the stack itself needs
//! (scrape interval, block cut, upload, outage length, flush and group
//! periods), computed from the platform's shape with no margin. The
//! report sets it beside the scenario's wall time (`scripts/bench`): the
//! ratio is what the harness and the machine add to the stack's own
//! latency.

use std::time::Duration;

use crate::platform::StackShape;
use crate::scenario::timing::SIDECAR_SYNC;
use crate::scenario::{alerting, blocks_in_bucket, ha_dedup, history_from_bucket};
use crate::scenario::{log_chunks, object_storage_outage, upgrade};
use crate::stack::loki::FlushSettings;

/// A scenario's unavoidable waiting, and what it is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Floor {
    pub wait: Duration,
    pub why: String,
}

/// The store gateway's block sync (`--sync-block-duration=3s`).
const GATEWAY_SYNC: Duration = Duration::from_secs(3);

/// The floor of scenario `id` on a stack of `shape` that has been up for
/// `stack_age` when the scenario starts (a block the stack already cut is
/// not waited for again). None for a scenario whose time is work, not
/// waiting (`compactor`: promtool and the compactor on eleven days of
/// data; `logs`: a push and queries; `heap_profile`: fetching profiles),
/// and for the negative twins (they end at their fault).
pub fn of(id: &str, shape: &StackShape, stack_age: Duration) -> Option<Floor> {
    let s = |d: Duration| format!("{:.0}s", d.as_secs_f64());
    // A block from every replica in the bucket: Prometheus cuts once its
    // head spans 1.5 block durations, the sidecar ships it at its next sync.
    let block = shape.block_duration * 3 / 2 + SIDECAR_SYNC;
    let first_block = block.saturating_sub(stack_age);
    let first_block_why = format!(
        "first blocks {} (cut at 1.5 × {} block, shipped within the {} sidecar sync, less the stack's {} up)",
        s(first_block),
        s(shape.block_duration),
        s(SIDECAR_SYNC),
        s(stack_age)
    );
    let floor = match id {
        ha_dedup::ID => {
            let p = ha_dedup::Params::default();
            Floor {
                wait: p.warm_up + p.outage + p.cool_down,
                why: format!(
                    "{} both replicas, {} replica 0 dead, {} both again",
                    s(p.warm_up),
                    s(p.outage),
                    s(p.cool_down)
                ),
            }
        }
        blocks_in_bucket::ID | history_from_bucket::ID => Floor {
            wait: first_block + GATEWAY_SYNC,
            why: format!("{first_block_why}, {} store gateway sync", s(GATEWAY_SYNC)),
        },
        object_storage_outage::ID => {
            let outage = super::timing::outage(shape);
            Floor {
                wait: first_block + outage + SIDECAR_SYNC,
                why: format!(
                    "{first_block_why}, {} store down, the blocks cut meanwhile shipped within {}",
                    s(outage),
                    s(SIDECAR_SYNC)
                ),
            }
        }
        log_chunks::ID => {
            let f = FlushSettings::STACK;
            Floor {
                wait: super::timing::loki_flush_promise(&f),
                why: format!(
                    "Loki's flush: {} idle + 1.2 × {} check",
                    s(f.idle),
                    s(f.check_period)
                ),
            }
        }
        alerting::ID => {
            let w = alerting::window_floor(shape);
            Floor {
                wait: w * 2,
                why: format!(
                    "two alert windows of {} (lead, firing, resolved, quiet)",
                    s(w)
                ),
            }
        }
        upgrade::ID => Floor {
            // A starts on empty data dirs: the stack's age does not help.
            wait: shape.block_duration * 3 / 2,
            why: format!(
                "A's first block on each replica (cut at 1.5 × {} block from A's fresh start)",
                s(shape.block_duration)
            ),
        },
        _ => return None,
    };
    Some(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> StackShape {
        StackShape {
            scrape_interval: Duration::from_secs(1),
            block_duration: Duration::from_secs(30),
            replica_label: "replica".into(),
            cluster: "c".into(),
            replicas: 2,
            config_reload: Duration::ZERO,
        }
    }

    #[test]
    fn floors_follow_the_shape_and_the_stacks_age() {
        let f = |id, age| of(id, &local(), Duration::from_secs(age)).map(|f| f.wait.as_secs());
        assert_eq!(f(ha_dedup::ID, 0), Some(40));
        // 45 s to the cut, 30 s to the upload, 3 s to the gateway.
        assert_eq!(f(blocks_in_bucket::ID, 0), Some(78));
        assert_eq!(f(blocks_in_bucket::ID, 60), Some(18));
        assert_eq!(f(blocks_in_bucket::ID, 600), Some(3));
        assert_eq!(f(object_storage_outage::ID, 600), Some(55 + 30));
        assert_eq!(f("compactor", 0), None);
        assert_eq!(f("ha_dedup/no_replica_label", 0), None);
        let why = of(ha_dedup::ID, &local(), Duration::ZERO).unwrap().why;
        assert!(why.contains("30s replica 0 dead"), "{why}");
    }
}
