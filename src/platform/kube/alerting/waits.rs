//! The wait of alerting on Kubernetes of its own (the others every
//! platform shares: [`crate::platform::alerting_waits`]): it polls an API
//! the way a person would check it, and on timeout says what it saw last.

use std::time::Duration;

use crate::client::alertmanager::AlertmanagerClient;
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
