//! Putting the known data into the bucket, and finding its blocks there.

use std::time::Instant;

use super::{Backfilled, ID, Stop, checks};
use crate::check::blocks::BlockMeta;
use crate::check::gaps::fmt_time;
use crate::client::objstore::Objstore;
use crate::data::backfill::{self, Backfill, CLUSTER_PREFIX};
use crate::data::exporter::now_ms;
use crate::platform::{Need, Platform};
use crate::scenario::ScenarioReport;
use crate::scenario::blocks_in_bucket::read_all_blocks;

/// Writes the plan's OpenMetrics per replica, makes a block of each with
/// promtool and uploads it with the replica's labels under a cluster label
/// of its own, so nothing else in the bucket is touched.
pub(super) async fn backfill(
    p: &mut dyn Platform,
    report: &mut ScenarioReport,
    tag: &str,
) -> Result<Backfilled, Stop> {
    if let Err(why) = p.provides(Need::CompactOnce) {
        return Err(Stop::Skip(format!(
            "{why}; or run it locally: stackproof run --platform local --scenario {ID}"
        )));
    }
    let promtool = crate::versions::Versions::load_default()
        .and_then(|v| v.binary("promtool"))
        .map_err(|e| Stop::Skip(format!("needs promtool to make blocks: {e}")))?;
    let shape = p.shape().clone();
    let plan = Backfill::standard(now_ms());
    let cluster = format!("{CLUSTER_PREFIX}{tag}{}", now_ms());
    let store = Objstore::new(p.endpoints().s3.clone());
    let t = Instant::now();
    let result = async {
        let dir = tempfile::Builder::new()
            .prefix("stackproof-backfill-")
            .tempdir()
            .map_err(|e| format!("create a directory for the blocks: {e}"))?;
        let mut uploads = Vec::new();
        for r in 0..plan.replicas {
            let block = backfill::create_block(
                &promtool,
                &dir.path().join(r.to_string()),
                &plan.openmetrics(r),
            )
            .map_err(|e| e.to_string())?;
            let labels = vec![
                ("cluster".to_owned(), cluster.clone()),
                (shape.replica_label.clone(), r.to_string()),
            ];
            uploads.push(
                backfill::upload_block(&store, &block, &labels)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok::<_, String>(uploads)
    }
    .await;
    report.check(
        checks::BACKFILL,
        t,
        result.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let uploads = result.map_err(|_| Stop::Failed)?;
    report.fact(
        "backfilled",
        format!(
            "{} blocks, {} → {}, one sample a minute, cluster={cluster}",
            uploads.len(),
            fmt_time(plan.start_ms),
            fmt_time(plan.end_ms())
        ),
    );
    Ok(Backfilled {
        plan,
        cluster,
        uploads,
    })
}

/// The complete blocks in the bucket labelled `cluster=<cluster>`.
pub(super) async fn cluster_blocks(
    store: &Objstore,
    cluster: &str,
) -> Result<Vec<BlockMeta>, String> {
    let (blocks, _) = read_all_blocks(store).await?;
    Ok(blocks
        .into_iter()
        .map(|b| b.meta)
        .filter(|m| m.label("cluster") == Some(cluster))
        .collect())
}
