//! The alerting waits every platform makes, whatever runs the components:
//! each polls an API the way a person would check it, and on timeout says
//! what it saw last.

use std::time::Duration;

use crate::client::alertmanager::AlertmanagerClient;
use crate::client::http::HttpApi;
use crate::eventually::{Eventually, Probe};
use crate::platform::PlatformError;

/// Longest pause between two polls: a reload or a gossip round is seen
/// within it.
const POLL_MAX: Duration = Duration::from_millis(250);

/// Until Alertmanager at `url` reports its cluster `status` (`ready`, or
/// `disabled` when alone) with `peers` members.
pub(crate) async fn wait_cluster(
    url: &str,
    status: &str,
    peers: usize,
    within: Duration,
) -> Result<(), PlatformError> {
    let client = &AlertmanagerClient::new(url);
    Eventually::new(
        format!("{url} to report cluster {status} with {peers} peer(s)"),
        within,
    )
    .max_delay(POLL_MAX)
    .until(|| async move {
        match client.cluster().await {
            Ok(c) if c.status == status && c.peers == peers => Probe::Ready(()),
            Ok(c) => Probe::NotYet(format!("cluster {} with {} peer(s)", c.status, c.peers)),
            Err(e) => Probe::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// Until `ok` holds for `data.<array.0>[].<array.1>` of `url` + `path` (a
/// Prometheus API list: active Alertmanagers, rule groups).
pub(crate) async fn wait_listed(
    url: &str,
    path: &str,
    (array, field): (&str, &str),
    what: &str,
    ok: impl Fn(&[String]) -> bool,
    within: Duration,
) -> Result<(), PlatformError> {
    let api = &HttpApi::new(url);
    let ok = &ok;
    Eventually::new(format!("{url}{path} to list {what}"), within)
        .max_delay(POLL_MAX)
        .until(|| async move {
            let v: serde_json::Value = match api.get_json(path, &[]).await {
                Ok(v) => v,
                Err(e) => return Probe::NotYet(e.to_string()),
            };
            let listed: Vec<String> = v["data"][array]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x[field].as_str().map(str::to_owned))
                .collect();
            if ok(&listed) {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{what}: {listed:?}"))
            }
        })
        .await?;
    Ok(())
}
