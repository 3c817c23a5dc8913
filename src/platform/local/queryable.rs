//! Waiting until Thanos Query serves fresh data from given replicas; the
//! kube platform and the HA scenario wait the same way.

use std::time::Duration;

use super::READY_TIMEOUT;
use crate::client::prom::{PromClient, QueryOptions};
use crate::eventually::{Eventually, Probe};
use crate::platform::PlatformError;

/// Waits until `query` returns the exporter's gauge from each replica in
/// `replicas` with a sample at or after `since_ms`.
pub async fn wait_replicas_in_query(
    query: &str,
    replica_label: &str,
    replicas: &[String],
    since_ms: i64,
) -> Result<(), PlatformError> {
    let client = PromClient::new(query);
    let metric = crate::data::exporter::KnownSeries::Gauge.metric();
    Eventually::new(
        format!("Thanos Query to return {metric} from replicas {replicas:?}"),
        READY_TIMEOUT,
    )
    .max_delay(Duration::from_millis(500))
    .until(|| {
        let client = client.clone();
        async move {
            let now = crate::data::exporter::now_ms();
            match client
                .query(
                    &format!("timestamp({metric})"),
                    now,
                    // A progress probe, not a check: while a replica is down
                    // on purpose, its sidecar fails every strict query until
                    // Thanos marks it unhealthy; the others' data still counts.
                    &QueryOptions {
                        dedup: Some(false),
                        partial_response: Some(true),
                        max_source_resolution: None,
                    },
                )
                .await
            {
                Ok(r) => {
                    let fresh: Vec<String> = r
                        .series
                        .iter()
                        .filter(|s| {
                            s.samples
                                .iter()
                                .any(|(_, v)| (*v * 1000.0) as i64 >= since_ms)
                        })
                        .filter_map(|s| s.labels.get(replica_label).cloned())
                        .collect();
                    if replicas.iter().all(|r| fresh.contains(r)) {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(format!("fresh samples from replicas {fresh:?}"))
                    }
                }
                Err(e) => Probe::NotYet(e.to_string()),
            }
        }
    })
    .await?;
    Ok(())
}
