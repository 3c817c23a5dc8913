//! Waiting for the store gateway to load the new blocks and for Thanos
//! Query to answer from them.

use super::answers::{res_name_param, scalar};
use super::{Backfilled, LOAD_WAIT};
use crate::check::compaction::{RES_1H, RES_5M, parse_loaded, res_name};
use crate::client::prom::{PromClient, QueryOptions};
use crate::data::backfill::GAUGE;
use crate::eventually::{Eventually, Probe};
use crate::platform::Platform;

/// Waits until the store gateway has loaded every block in `expect` and
/// none of the cluster's others (the ones they replaced).
pub(super) async fn wait_loaded(
    p: &dyn Platform,
    cluster: &str,
    expect: &[String],
) -> Result<(), String> {
    let Some(url) = p.endpoints().store.clone() else {
        return Err(
            "no store gateway runs on this stack: downsampled blocks cannot be queried".into(),
        );
    };
    let client = PromClient::new(&url);
    Eventually::new(
        format!("the store gateway at {url} to load blocks {expect:?} of cluster={cluster} and nothing else of it"),
        LOAD_WAIT,
    )
    .until(|| async {
        let body = match client.get_text("/api/v1/blocks?view=loaded").await {
            Ok(b) => b,
            Err(e) => return Probe::NotYet(e.to_string()),
        };
        match parse_loaded(&body) {
            Ok(all) => {
                let mut have: Vec<String> = all
                    .iter()
                    .filter(|m| m.label("cluster") == Some(cluster))
                    .map(|m| m.ulid.clone())
                    .collect();
                have.sort();
                let mut want = expect.to_vec();
                want.sort();
                if have == want {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!("loaded {have:?}"))
                }
            }
            Err(e) => Probe::NotYet(e),
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// Waits until Thanos Query answers for the backfilled cluster at every
/// resolution.
pub(super) async fn wait_queryable(query: &PromClient, b: &Backfilled) -> Result<(), String> {
    let at = b.plan.day_ends()[0] - 1;
    let q = format!("count_over_time({GAUGE}{{cluster=\"{}\"}}[1d])", b.cluster);
    Eventually::new(
        format!(
            "Thanos Query at {} to answer {q} at raw, 5m and 1h",
            query.base()
        ),
        LOAD_WAIT,
    )
    .until(|| async {
        for res in [0, RES_5M, RES_1H] {
            let opts = QueryOptions {
                max_source_resolution: Some(res_name_param(res).into()),
                ..QueryOptions::strict_dedup()
            };
            if let Err(e) = scalar(query, &q, at, &opts).await {
                return Probe::NotYet(format!("at {}: {e}", res_name(res)));
            }
        }
        Probe::Ready(())
    })
    .await
    .map_err(|e| e.to_string())
}
