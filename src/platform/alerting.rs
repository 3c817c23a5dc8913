//! What a scenario asks of a platform's alerting: the receivers the harness
//! serves, the notification timings, and the two HA switches a negative
//! twin turns off.

use std::time::Duration;

use crate::sink::smtp::SmtpCredentials;
use crate::stack::alertmanager::NotifyTiming;

/// How to set up the Alertmanagers and the replicas' alerting.
#[derive(Debug, Clone)]
pub struct AlertSetup {
    /// The SMTP server's `host:port` (the harness's mail sink).
    pub smarthost: String,
    /// Who Alertmanager logs in as; the password goes into a 0600 file.
    pub smtp_credentials: SmtpCredentials,
    pub from: String,
    pub to: String,
    /// The webhook receiver's URL.
    pub webhook_url: String,
    pub timing: NotifyTiming,
    /// How many Alertmanagers run.
    pub alertmanagers: usize,
    /// Gossip between them (`--cluster.peer`); off: each notifies alone.
    pub clustered: bool,
    /// See [`crate::stack::alertmanager::Cluster::peer_timeout`].
    pub peer_timeout: Duration,
    /// Each replica drops its replica label from alerts; off: both
    /// replicas' alerts differ in it.
    pub drop_replica_label: bool,
}

/// The Alertmanagers a [`AlertSetup`] started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alertmanagers {
    /// Each one's HTTP base URL, by index.
    pub urls: Vec<String>,
}
