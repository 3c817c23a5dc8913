//! `alerting`: an alert firing on both Prometheus replicas reaches a
//! clustered Alertmanager pair and yields exactly one email per alert group
//! over real SMTP (firing, then resolved), also while replica 0 dies and
//! while one Alertmanager is down. Its twins break the HA set-up through
//! the same functions and must be reported.

mod window;

use std::time::{Duration, Instant};

use super::ScenarioReport;
use crate::check::alerts::{ExpectedMail, content_is_right, one_email_per_group};
use crate::platform::{AlertSetup, Alertmanagers, Platform};
use crate::sink::smtp::{MailSink, SmtpCredentials};
use crate::sink::webhook::WebhookSink;
use crate::stack::alertmanager::NotifyTiming;
use window::{Fault, Timing, Window};

/// The scenario id.
pub const ID: &str = "alerting";

/// Check names, shared by the scenario and its negative twins.
pub mod checks {
    pub const FIRING_ONCE: &str = "exactly one firing email per alert group";
    pub const RESOLVED_ONCE: &str = "exactly one resolved email per alert group";
    pub const CONTENT: &str = "subject, recipient, login and labels right, no replica label";
    pub const GROUP_KEY: &str = "the templated group key equals Alertmanager's (webhook)";
    pub const KILLED_WHILE_FIRING: &str =
        "replica 0 killed while the alert fires: still one firing and one resolved email";
    pub const ALERTMANAGER_DOWN: &str = "one Alertmanager killed: the alert is still delivered";
}

/// The alert every case's rule raises.
pub const ALERTNAME: &str = "StackproofWindow";
const FROM: &str = "alertmanager@stackproof.invalid";
const TO: &str = "oncall@stackproof.invalid";

/// The harness's receivers, alive for one scenario run.
struct Sinks {
    mail: MailSink,
    webhook: WebhookSink,
    credentials: SmtpCredentials,
}

impl Sinks {
    /// Listens on `ip`: where the stack's Alertmanagers reach this machine.
    async fn start(ip: std::net::IpAddr) -> Result<Self, String> {
        let credentials = SmtpCredentials::generate();
        Ok(Self {
            mail: MailSink::start_on(ip, credentials.clone())
                .await
                .map_err(|e| format!("start the mail sink on {ip}: {e}"))?,
            webhook: WebhookSink::start_on(ip)
                .await
                .map_err(|e| format!("start the webhook receiver on {ip}: {e}"))?,
            credentials,
        })
    }

    fn setup(&self, timing: &Timing, clustered: bool, drop_replica_label: bool) -> AlertSetup {
        AlertSetup {
            smarthost: self.mail.addr().to_string(),
            smtp_credentials: self.credentials.clone(),
            from: FROM.into(),
            to: TO.into(),
            webhook_url: self.webhook.url(),
            timing: NotifyTiming {
                group_wait: timing.group_wait,
                group_interval: timing.group_interval,
                repeat_interval: timing.repeat_interval,
            },
            alertmanagers: 2,
            clustered,
            peer_timeout: timing.peer_timeout,
            drop_replica_label,
        }
    }
}

/// Runs the scenario: one clustered pair, a case with replica 0 killed
/// while firing, then a case with Alertmanager 0 killed.
pub async fn run(p: &mut dyn Platform) -> ScenarioReport {
    let mut report = ScenarioReport::new(ID);
    if let Err(why) = p.alerting_support() {
        return ScenarioReport::skipped(ID, &why);
    }
    if let Err(e) = run_inner(p, &mut report).await {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    report
}

async fn run_inner(p: &mut dyn Platform, report: &mut ScenarioReport) -> Result<(), String> {
    let (timing, sinks, ams) = set_up(p, Rig::Ha).await?;

    let t = Instant::now();
    let main = Window::open(p, &ams, &timing, "main")
        .await?
        .watch(p, &sinks, Fault::KillReplica0WhileFiring)
        .await?;
    check_case(report, &main, &sinks, p.shape().replica_label.as_str(), t);
    report.check(checks::KILLED_WHILE_FIRING, t, main.fault_held.clone());
    main.facts(report);
    p.restart_replica(0)
        .await
        .map_err(|e| format!("restart replica 0: {e}"))?;

    let t = Instant::now();
    let down = Window::open(p, &ams, &timing, "alertmanager-down")
        .await?
        .watch(p, &sinks, Fault::KillAlertmanager0)
        .await?;
    down.facts(report);
    let firing = down.firing.len();
    let resolved = down.resolved.len();
    report.fact(
        "emails with alertmanager-0 killed (at-least-once)",
        format!("{firing} firing, {resolved} resolved"),
    );
    let delivered = match (firing, resolved) {
        (0, _) | (_, 0) => Err(format!(
            "with alertmanager-0 killed, {firing} firing and {resolved} resolved emails arrived \
             (at least one of each expected): the other Alertmanager did not take over"
        )),
        _ => down.fault_held.clone(),
    };
    report.check(checks::ALERTMANAGER_DOWN, t, delivered);
    Ok(())
}

/// The per-case checks shared by the scenario and its twins.
fn check_case(
    report: &mut ScenarioReport,
    w: &window::Watched,
    sinks: &Sinks,
    replica_label: &str,
    t: Instant,
) {
    report.check(
        checks::FIRING_ONCE,
        t,
        w.no_email_reason.clone().map_or_else(
            || one_email_per_group(&w.firing, "firing", replica_label),
            Err,
        ),
    );
    report.check(
        checks::RESOLVED_ONCE,
        t,
        one_email_per_group(&w.resolved, "resolved", replica_label),
    );
    let expected = ExpectedMail {
        alertname: ALERTNAME,
        case: &w.case,
        to: TO,
        username: &sinks.credentials.username,
        replica_label,
        labels: &[("severity", "page")],
    };
    let content: Result<Vec<()>, String> = w
        .firing
        .iter()
        .chain(&w.resolved)
        .map(|m| content_is_right(m, &expected))
        .collect();
    report.check(checks::CONTENT, t, content.map(|_| ()));
    report.check(
        checks::GROUP_KEY,
        t,
        window::group_keys_match(w, &sinks.webhook),
    );
}

/// Twin: the replicas keep their replica label on alerts. Must fail
/// [`checks::FIRING_ONCE`] naming the replica label.
pub async fn twin_replica_label_kept(p: &mut dyn Platform) -> ScenarioReport {
    twin(p, "replica-label-kept", Rig::ReplicaLabelKept, false).await
}

/// Twin: the two Alertmanagers run alone. Must fail [`checks::FIRING_ONCE`]
/// naming both senders.
pub async fn twin_not_clustered(p: &mut dyn Platform) -> ScenarioReport {
    twin(p, "not-clustered", Rig::NotClustered, false).await
}

/// Twin: a rule whose condition never holds in the window. Must fail
/// [`checks::FIRING_ONCE`] with "no email in N s" and what Alertmanager's
/// API shows.
pub async fn twin_no_rule_firing(p: &mut dyn Platform) -> ScenarioReport {
    twin(p, "no-rule-firing", Rig::Ha, true).await
}

/// How the Alertmanagers and replicas are set up.
#[derive(Debug, Clone, Copy)]
enum Rig {
    /// Clustered Alertmanagers, replica label dropped: the right set-up.
    Ha,
    ReplicaLabelKept,
    NotClustered,
}

impl Rig {
    /// `(clustered, replica label dropped)`.
    fn switches(self) -> (bool, bool) {
        match self {
            Rig::Ha => (true, true),
            Rig::ReplicaLabelKept => (true, false),
            Rig::NotClustered => (false, true),
        }
    }
}

/// Starts the sinks and sets alerting up as `rig` says.
async fn set_up(p: &mut dyn Platform, rig: Rig) -> Result<(Timing, Sinks, Alertmanagers), String> {
    let (clustered, drop_replica_label) = rig.switches();
    let timing = Timing::of(p.shape());
    let sinks = Sinks::start(p.receiver_ip()).await?;
    let ams = p
        .configure_alerting(&sinks.setup(&timing, clustered, drop_replica_label))
        .await
        .map_err(|e| format!("set up alerting: {e}"))?;
    Ok((timing, sinks, ams))
}

/// One window of `case` on `rig`, no fault, judged by the scenario's own
/// checks; `never`: the rule's condition does not hold in it.
async fn twin(p: &mut dyn Platform, case: &str, rig: Rig, never: bool) -> ScenarioReport {
    let (clustered, drop_replica_label) = rig.switches();
    if let Err(why) = p
        .alerting_support()
        .and_then(|()| p.alerting_rig_support(clustered, drop_replica_label))
    {
        return ScenarioReport::skipped(ID, &why);
    }
    let mut report = ScenarioReport::new(ID);
    let r: Result<(), String> = async {
        let (timing, sinks, ams) = set_up(p, rig).await?;
        let t = Instant::now();
        let window = if never {
            Window::never(p, &ams, &timing, case).await?
        } else {
            Window::open(p, &ams, &timing, case).await?
        };
        let w = window.watch(p, &sinks, Fault::None).await?;
        let label = p.shape().replica_label.clone();
        check_case(&mut report, &w, &sinks, &label, t);
        w.facts(&mut report);
        Ok(())
    }
    .await;
    if let Err(e) = r {
        report.check("scenario ran to the end", Instant::now(), Err(e));
    }
    report
}

/// How long a duration is, for facts.
/// One alert window's own waiting, in its worst phase: the rule's lead,
/// the condition held, the resolved email's latency and the quiet period
/// for duplicates.
pub fn window_floor(shape: &crate::platform::StackShape) -> Duration {
    let t = Timing::of(shape);
    t.rule_lead + t.window() + t.resolved_bound() + t.quiet()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Outcome;
    use crate::scenario::bare::Bare;

    #[tokio::test]
    async fn where_alerting_is_not_set_up_the_scenario_and_its_twins_skip_untouched() {
        // Bare panics on any fault: reaching one fails this test.
        let mut p = Bare::new();
        for r in [
            run(&mut p).await,
            twin_replica_label_kept(&mut p).await,
            twin_not_clustered(&mut p).await,
            twin_no_rule_firing(&mut p).await,
        ] {
            assert_eq!(r.checks.len(), 1, "{r:#?}");
            assert_eq!(
                r.checks[0].outcome,
                Outcome::Skipped("alerting is not set up on the bare platform yet".into())
            );
        }
    }
}
