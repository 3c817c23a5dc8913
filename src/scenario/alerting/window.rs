//! One alert window: a rule on the known counter (`stackproof_counter_total`
//! is the sample's time in seconds) true exactly from `t0` to `t1`, so the
//! harness knows when the condition starts and ends; then what the mail
//! sink and the webhook receive for it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ALERTNAME, Sinks, secs};
use crate::check::alerts::{group_labels, of_case, parse_label_sets};
use crate::check::gaps::fmt_time;
use crate::client::alertmanager::AlertmanagerClient;
use crate::data::exporter::{KnownSeries, now_ms};
use crate::eventually::{Eventually, Probe, hold_for};
use crate::platform::{Alertmanagers, Platform, StackShape};
use crate::scenario::{FactValue, ScenarioReport};
use crate::sink::mail::Mail;
use crate::sink::webhook::WebhookSink;
use crate::stack::prometheus::{AlertRule, rule_file};

/// Timings derived from the stack's shape, each with its reason.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Rules are evaluated every scrape interval (`evaluation_interval`).
    pub eval: Duration,
    pub scrape: Duration,
    /// Two evaluations: both replicas' copies (evaluated up to one interval
    /// apart) reach Alertmanager before its first notification.
    pub group_wait: Duration,
    /// Five evaluations: the resolved notification waits for the next
    /// group interval; short keeps the scenario short.
    pub group_interval: Duration,
    /// Longer than the scenario: any second email is a duplicate, never a
    /// reminder.
    pub repeat_interval: Duration,
    /// The second Alertmanager waits this long before notifying, so the
    /// first one's notification log reaches it (gossip every 100 ms on
    /// loopback: 20 rounds).
    pub peer_timeout: Duration,
    /// From loading the rules to the condition becoming true: a reload of
    /// both replicas takes well under a second, plus however long a changed
    /// rule file takes to reach them ([`StackShape::config_reload`]);
    /// checked, not assumed.
    pub rule_lead: Duration,
    /// Added to each computed bound before a wait gives up: the machine is
    /// shared (2 cores), the bounds are not deadlines.
    pub grace: Duration,
}

impl Timing {
    /// The timings for `shape`.
    pub fn of(shape: &StackShape) -> Self {
        let eval = shape.scrape_interval;
        Self {
            eval,
            scrape: shape.scrape_interval,
            group_wait: eval * 2,
            group_interval: eval * 5,
            repeat_interval: Duration::from_secs(3600),
            peer_timeout: crate::stack::alertmanager::PEER_TIMEOUT,
            rule_lead: Duration::from_secs(5) + shape.config_reload,
            grace: Duration::from_secs(20),
        }
    }

    /// Condition true → firing email: the sample is scraped, the rule
    /// evaluates, group_wait passes, and the second Alertmanager in line
    /// waits one peer timeout when the first is down.
    pub fn firing_bound(&self) -> Duration {
        self.scrape + self.eval + self.group_wait + self.peer_timeout
    }

    /// Condition false → resolved email: scrape, evaluation, the next group
    /// interval, and a peer timeout as above.
    pub fn resolved_bound(&self) -> Duration {
        self.scrape + self.eval + self.group_interval + self.peer_timeout
    }

    /// How long the condition holds: past the latest expected firing email
    /// by two group intervals, so a duplicate or a change the fault causes
    /// is notified while the alert still fires.
    pub fn window(&self) -> Duration {
        self.firing_bound() + self.group_interval * 2
    }

    /// After the resolved email, how long a duplicate could still come: each
    /// other Alertmanager's peer wait, then one group interval.
    pub fn quiet(&self) -> Duration {
        self.peer_timeout * 2 + self.group_interval
    }
}

/// What happens to the stack during a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// SIGKILL Prometheus replica 0 right after the firing email.
    KillReplica0WhileFiring,
    /// SIGKILL Alertmanager 0 before the condition becomes true.
    KillAlertmanager0,
}

/// A rule loaded whose condition is true in `[t0, t1)`.
#[derive(Debug)]
pub struct Window {
    case: String,
    t0: i64,
    t1: i64,
    /// When the firing email is due from: `t0`, or for a rule that never
    /// fires, when it would have been true had it been an ordinary one.
    due: i64,
    timing: Timing,
    alertmanagers: Vec<String>,
}

/// What arrived for one window.
#[derive(Debug)]
pub struct Watched {
    pub case: String,
    pub firing: Vec<Mail>,
    pub resolved: Vec<Mail>,
    /// Set when no firing email came: what was waited for and what
    /// Alertmanager held.
    pub no_email_reason: Option<String>,
    /// Whether the fault really happened while it had to (Ok for none).
    pub fault_held: Result<(), String>,
    t0: i64,
    t1: i64,
}

impl Window {
    /// Loads a rule for `case` true from `rule_lead` from now, for
    /// [`Timing::window`].
    pub async fn open(
        p: &mut dyn Platform,
        alertmanagers: &Alertmanagers,
        timing: &Timing,
        case: &str,
    ) -> Result<Self, String> {
        // Whole seconds: the counter's value is the sample time in seconds.
        let t0 = next_second(now_ms() + timing.rule_lead.as_millis() as i64);
        Self::load(p, alertmanagers, timing, case, t0, t0).await
    }

    /// Loads a rule for `case` whose condition only holds a day from now.
    pub async fn never(
        p: &mut dyn Platform,
        alertmanagers: &Alertmanagers,
        timing: &Timing,
        case: &str,
    ) -> Result<Self, String> {
        let due = next_second(now_ms() + timing.rule_lead.as_millis() as i64);
        let t0 = next_second(now_ms() + 86_400_000);
        Self::load(p, alertmanagers, timing, case, t0, due).await
    }

    async fn load(
        p: &mut dyn Platform,
        alertmanagers: &Alertmanagers,
        timing: &Timing,
        case: &str,
        t0: i64,
        due: i64,
    ) -> Result<Self, String> {
        let t1 = t0 + timing.window().as_millis() as i64;
        let group = format!("stackproof-{case}");
        let counter = KnownSeries::Counter.metric();
        let (s0, s1) = (t0 / 1000, t1 / 1000);
        let rule = AlertRule {
            alert: ALERTNAME.to_owned(),
            expr: format!("{counter} >= {s0} and {counter} < {s1}"),
            labels: BTreeMap::from([
                ("severity".to_owned(), "page".to_owned()),
                ("case".to_owned(), case.to_owned()),
            ]),
            annotations: BTreeMap::from([(
                "summary".to_owned(),
                format!("{counter} in [{s0}, {s1})"),
            )]),
        };
        let rules = rule_file(&group, vec![rule]);
        p.load_alert_rules(&group, &rules)
            .await
            .map_err(|e| format!("load the rule of case {case}: {e}"))?;
        let loaded = now_ms();
        if loaded >= due {
            return Err(format!(
                "the rule of case {case} was loaded at {}, after its condition became true at {}: \
                 the firing time cannot be measured (rule lead {} too short for this machine)",
                fmt_time(loaded),
                fmt_time(due),
                secs(timing.rule_lead)
            ));
        }
        Ok(Self {
            case: case.to_owned(),
            t0,
            t1,
            due,
            timing: timing.clone(),
            alertmanagers: alertmanagers.urls.clone(),
        })
    }

    /// Causes `fault`, waits for the firing email, then the resolved one,
    /// then a quiet period, and returns every email of the case.
    pub async fn watch(
        self,
        p: &mut dyn Platform,
        sinks: &Sinks,
        fault: Fault,
    ) -> Result<Watched, String> {
        let mut fault_held = Ok(());
        if fault == Fault::KillAlertmanager0 {
            p.kill_alertmanager(0).await.map_err(|e| e.to_string())?;
            fault_held = down("alertmanager-0", &self.alertmanagers[0]).await;
        }
        let firing_by =
            self.due + (self.timing.firing_bound() + self.timing.grace).as_millis() as i64;
        let no_email_reason = match self.wait_for(sinks, "firing", firing_by).await {
            Ok(()) => None,
            Err(waited) => Some(self.no_email(waited).await),
        };
        if no_email_reason.is_none() {
            if fault == Fault::KillReplica0WhileFiring {
                p.kill_replica(0).await.map_err(|e| e.to_string())?;
                let at = now_ms();
                fault_held = if at < self.t1 {
                    down("prometheus-0", &p.endpoints().prometheus[0]).await
                } else {
                    Err(format!(
                        "replica 0 was killed at {}, after the alert's condition ended at {}",
                        fmt_time(at),
                        fmt_time(self.t1)
                    ))
                };
            }
            let resolved_by =
                self.t1 + (self.timing.resolved_bound() + self.timing.grace).as_millis() as i64;
            // A missing resolved email is the resolved check's to report.
            let _ = self.wait_for(sinks, "resolved", resolved_by).await;
            hold_for("a quiet period for duplicates", self.timing.quiet(), || {
                Ok(())
            })
            .await?;
        }
        let mails = sinks.mail.mails();
        Ok(Watched {
            firing: of_case(&mails, &self.case, "firing"),
            resolved: of_case(&mails, &self.case, "resolved"),
            case: self.case,
            no_email_reason,
            fault_held,
            t0: self.t0,
            t1: self.t1,
        })
    }

    /// Waits until a `status` email of the case arrived, at most until
    /// `by_ms`; Err with the seconds waited.
    async fn wait_for(&self, sinks: &Sinks, status: &str, by_ms: i64) -> Result<(), f64> {
        let started = now_ms();
        let budget = Duration::from_millis((by_ms - started).max(0) as u64);
        Eventually::new(format!("a {status} email for case {}", self.case), budget)
            .max_delay(Duration::from_millis(200))
            .until(|| {
                let n = of_case(&sinks.mail.mails(), &self.case, status).len();
                async move {
                    if n > 0 {
                        Probe::Ready(())
                    } else {
                        Probe::NotYet(format!("{} emails in all", sinks.mail.mails().len()))
                    }
                }
            })
            .await
            .map_err(|e| e.waited.as_secs_f64())
    }

    async fn no_email(&self, waited: f64) -> String {
        let mut shown = Vec::new();
        for url in &self.alertmanagers {
            shown.push(AlertmanagerClient::new(url).describe().await);
        }
        format!(
            "no email in {waited:.0}s for case {} (condition true from {}, expected within {}); \
             Alertmanager's API shows: {}",
            self.case,
            fmt_time(self.t0),
            secs(self.timing.firing_bound()),
            shown.join("; ")
        )
    }
}

impl Watched {
    /// Latencies and counts as report facts.
    pub fn facts(&self, report: &mut ScenarioReport) {
        let c = &self.case;
        if let Some(m) = self.firing.first() {
            report.fact(
                &format!("{c}: condition true → firing email"),
                FactValue::seconds_of_ms(m.received_at_ms - self.t0, 2),
            );
        }
        if let Some(m) = self.resolved.first() {
            report.fact(
                &format!("{c}: condition false → resolved email"),
                FactValue::seconds_of_ms(m.received_at_ms - self.t1, 2),
            );
        }
        report.fact(
            &format!("{c}: emails"),
            format!(
                "{} firing, {} resolved",
                self.firing.len(),
                self.resolved.len()
            ),
        );
    }
}

/// Each email's group key names a group Alertmanager notified the webhook
/// about, with the same status.
pub fn group_keys_match(w: &Watched, webhook: &WebhookSink) -> Result<(), String> {
    let notes = webhook.notifications();
    let mut wrong = Vec::new();
    for m in w.firing.iter().chain(&w.resolved) {
        let labels = group_labels(m);
        let status = m
            .header(crate::stack::alertmanager::headers::STATUS)
            .unwrap_or("?");
        let found = notes.iter().any(|n| {
            n.status == status
                && parse_label_sets(n.group_key.split_once(':').map_or("", |(_, l)| l)).pop()
                    == Some(labels.clone())
        });
        if !found {
            wrong.push(format!(
                "{status} email with group key {:?} matches no webhook notification (webhook keys: {:?})",
                m.header(crate::stack::alertmanager::headers::GROUP_KEY),
                notes.iter().map(|n| n.group_key.as_str()).collect::<Vec<_>>()
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

/// `ms` rounded up to a whole second (the epoch is positive).
fn next_second(ms: i64) -> i64 {
    (ms + 999) / 1000 * 1000
}

/// The fault proved: `url` no longer answers.
async fn down(name: &str, url: &str) -> Result<(), String> {
    match crate::client::http::HttpApi::new(url)
        .status("/-/ready")
        .await
    {
        Err(_) => Ok(()),
        Ok(status) => Err(format!(
            "{name} still answers at {url} (HTTP {status}) after the kill"
        )),
    }
}
