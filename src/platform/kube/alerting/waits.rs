//! The waits of alerting on Kubernetes: each polls an API the way a person
//! would check it, and on timeout says what it saw last.

use std::time::Duration;

use crate::client::alertmanager::AlertmanagerClient;
use crate::client::prom::PromClient;
use crate::eventually::{Eventually, Probe};
use crate::platform::PlatformError;

/// Until Alertmanager at `url` runs a config that sends to `smarthost`.
pub(super) async fn wait_config(
    url: &str,
    smarthost: &str,
    within: Duration,
) -> Result<(), PlatformError> {
    let client = AlertmanagerClient::new(url);
    Eventually::new(
        format!("{url} to load the config that mails {smarthost}"),
        within,
    )
    .max_delay(Duration::from_secs(1))
    .until(|| {
        let client = client.clone();
        async move {
            match client.config().await {
                Ok(c) if c.contains(smarthost) => Probe::Ready(()),
                Ok(c) => Probe::NotYet(format!(
                    "its config names {}",
                    c.lines()
                        .find(|l| l.contains("smarthost"))
                        .map_or("no smarthost", str::trim)
                )),
                Err(e) => Probe::NotYet(e.to_string()),
            }
        }
    })
    .await?;
    Ok(())
}

/// Until Alertmanager at `url` reports its cluster ready with `peers`.
pub(super) async fn wait_cluster(
    url: &str,
    peers: usize,
    within: Duration,
) -> Result<(), PlatformError> {
    let client = AlertmanagerClient::new(url);
    Eventually::new(
        format!("{url} to report cluster ready with {peers} peers"),
        within,
    )
    .max_delay(Duration::from_secs(1))
    .until(|| {
        let client = client.clone();
        async move {
            match client.cluster().await {
                Ok(c) if c.status == "ready" && c.peers == peers => Probe::Ready(()),
                Ok(c) => Probe::NotYet(format!("cluster {} with {} peer(s)", c.status, c.peers)),
                Err(e) => Probe::NotYet(e.to_string()),
            }
        }
    })
    .await?;
    Ok(())
}

/// Until `ok` holds for `data.<array.0>[].<array.1>` of `url` + `path`.
pub(super) async fn wait_listed(
    url: &str,
    path: &str,
    (array, field): (&str, &str),
    what: &str,
    ok: impl Fn(&[String]) -> bool,
    within: Duration,
) -> Result<(), PlatformError> {
    let client = PromClient::new(url);
    let ok = &ok;
    let client = &client;
    Eventually::new(format!("{url}{path} to list {what}"), within)
        .max_delay(Duration::from_secs(1))
        .until(|| async move {
            let body = match client.get_text(path).await {
                Ok(b) => b,
                Err(e) => return Probe::NotYet(e.to_string()),
            };
            let v: serde_json::Value = match serde_json::from_str(&body) {
                Ok(v) => v,
                Err(e) => return Probe::NotYet(format!("not JSON: {e}")),
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
