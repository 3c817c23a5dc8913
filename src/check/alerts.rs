//! Checks over the emails the mail sink received: how many per alert group
//! and status, and what they say. Pure functions over [`Mail`]s, so each
//! wording is unit-tested on the exact failure a negative twin causes.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::alertmanager::fmt_labels;
use crate::sink::mail::Mail;
use crate::stack::alertmanager::headers;

/// Label sets in the notation the config templates: `{a="b",c="d"}`, one
/// or more, `;`-separated; Alertmanager's group key is `{}:` + one of them.
pub fn parse_label_sets(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let mut labels = BTreeMap::new();
        for pair in split_pairs(inner) {
            if let Some((k, v)) = pair.split_once('=') {
                labels.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
            }
        }
        out.push(labels);
        rest = &rest[open + close + 1..];
    }
    out
}

/// `a="b", c="d,e"` → the pairs, commas inside quotes kept.
fn split_pairs(inner: &str) -> Vec<&str> {
    let mut pairs = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in inner.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pairs.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < inner.len() {
        pairs.push(&inner[start..]);
    }
    pairs.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The group labels of a mail, from its group-key header (`{}:{…}`: the
/// route's key, then the group's labels).
pub fn group_labels(m: &Mail) -> BTreeMap<String, String> {
    let key = m.header(headers::GROUP_KEY).unwrap_or_default();
    let labels = key.split_once(':').map_or(key, |(_, l)| l);
    parse_label_sets(labels).pop().unwrap_or_default()
}

/// The labels of every alert a mail lists.
pub fn alert_labels(m: &Mail) -> Vec<BTreeMap<String, String>> {
    parse_label_sets(m.header(headers::ALERTS).unwrap_or_default())
}

/// The mails about alerts of scenario case `case` with status `status`.
pub fn of_case(mails: &[Mail], case: &str, status: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.header(headers::STATUS) == Some(status))
        .filter(|m| {
            alert_labels(m)
                .iter()
                .any(|l| l.get("case").map(String::as_str) == Some(case))
        })
        .cloned()
        .collect()
}

/// Exactly one `status` email per alert group, where an alert group is its
/// labels less `replica_label` (what a person on call sees as one alert).
/// The error names the kind of duplicate: groups that differ only in the
/// replica label, or the same group sent by several Alertmanagers.
pub fn one_email_per_group(
    mails: &[Mail],
    status: &str,
    replica_label: &str,
) -> Result<(), String> {
    if mails.is_empty() {
        return Err(format!("no {status} email"));
    }
    let mut by_group: BTreeMap<String, Vec<&Mail>> = BTreeMap::new();
    for m in mails {
        let mut g = group_labels(m);
        g.remove(replica_label);
        by_group.entry(fmt_labels(&g)).or_default().push(m);
    }
    let mut problems = Vec::new();
    for (group, ms) in &by_group {
        if ms.len() == 1 {
            continue;
        }
        let replicas: BTreeSet<String> = ms
            .iter()
            .filter_map(|m| group_labels(m).get(replica_label).cloned())
            .collect();
        let senders: BTreeSet<&str> = ms
            .iter()
            .map(|m| m.header(headers::SENDER).unwrap_or("?"))
            .collect();
        let n = ms.len();
        problems.push(if replicas.len() > 1 {
            let list: Vec<String> = replicas
                .iter()
                .map(|r| format!("{replica_label}={r:?}"))
                .collect();
            format!(
                "{n} {status} emails for one alert group {group}: their group keys differ only in \
                 {} — the replica label reaches Alertmanager; drop it in every Prometheus with \
                 alert_relabel_configs (action: labeldrop, regex: {replica_label})",
                list.join(", ")
            )
        } else if senders.len() > 1 {
            format!(
                "{n} {status} emails for alert group {group}, sent by {} Alertmanagers ({}): they \
                 did not deduplicate — are they clustered (--cluster.peer) and settled?",
                senders.len(),
                senders.into_iter().collect::<Vec<_>>().join(", ")
            )
        } else {
            format!(
                "{n} {status} emails for alert group {group} from {}: sent again within \
                 repeat_interval",
                senders.into_iter().collect::<Vec<_>>().join(", ")
            )
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What a correct email of case `case` carries.
#[derive(Debug, Clone)]
pub struct ExpectedMail<'a> {
    pub alertname: &'a str,
    pub case: &'a str,
    pub to: &'a str,
    pub username: &'a str,
    pub replica_label: &'a str,
    /// Labels every alert must carry with these values.
    pub labels: &'a [(&'a str, &'a str)],
}

/// Subject, recipients, login and labels of one email are right, and no
/// alert in it carries the replica label.
pub fn content_is_right(m: &Mail, e: &ExpectedMail) -> Result<(), String> {
    let status = m.header(headers::STATUS).unwrap_or("?");
    let want_subject = format!(
        "[{}] {} case={}",
        status.to_uppercase(),
        e.alertname,
        e.case
    );
    let mut wrong = Vec::new();
    if m.header("Subject") != Some(want_subject.as_str()) {
        wrong.push(format!(
            "subject {:?} where {want_subject:?} expected",
            m.header("Subject")
        ));
    }
    if m.envelope_to != [e.to] || m.header("To") != Some(e.to) {
        wrong.push(format!(
            "sent to {:?} (To: {:?}) where {} expected",
            m.envelope_to,
            m.header("To"),
            e.to
        ));
    }
    if m.auth_user.as_deref() != Some(e.username) {
        wrong.push(format!(
            "logged in as {:?}, not as the generated user",
            m.auth_user
        ));
    }
    let alerts = alert_labels(m);
    if alerts.len() != 1 {
        wrong.push(format!("{} alerts listed where 1 expected", alerts.len()));
    }
    for a in &alerts {
        if let Some(r) = a.get(e.replica_label) {
            wrong.push(format!(
                "alert {} carries {}={r:?}: the replica label must be dropped",
                fmt_labels(a),
                e.replica_label
            ));
        }
        for (k, v) in e
            .labels
            .iter()
            .chain([&("alertname", e.alertname), &("case", e.case)])
        {
            if a.get(*k).map(String::as_str) != Some(*v) {
                wrong.push(format!("alert {} lacks {k}={v:?}", fmt_labels(a)));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{status} email {:?}: {}",
            m.header("Subject"),
            wrong.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(status: &str, key: &str, sender: &str, alerts: &str) -> Mail {
        let subject = format!("[{}] StackproofWindow case=main", status.to_uppercase());
        Mail::parse(
            "am@x",
            &["oncall@x".into()],
            Some("u"),
            &format!(
                "Subject: {subject}\r\nTo: oncall@x\r\nX-Stackproof-Status: {status}\r\n\
                 X-Stackproof-Group-Key: {key}\r\nX-Stackproof-Alertmanager: {sender}\r\n\
                 X-Stackproof-Alerts: {alerts}\r\n\r\nbody\r\n"
            ),
        )
    }

    fn expected<'a>(labels: &'a [(&'a str, &'a str)]) -> ExpectedMail<'a> {
        ExpectedMail {
            alertname: "StackproofWindow",
            case: "main",
            to: "oncall@x",
            username: "u",
            replica_label: "replica",
            labels,
        }
    }

    const KEY: &str = r#"{}:{alertname="StackproofWindow",case="main",cluster="stackproof"}"#;
    const ALERT: &str = r#"{alertname="StackproofWindow",case="main",cluster="stackproof"};"#;

    #[test]
    fn one_email_passes() {
        let m = mail("firing", KEY, "http://a", ALERT);
        assert_eq!(
            one_email_per_group(std::slice::from_ref(&m), "firing", "replica"),
            Ok(())
        );
        assert_eq!(
            content_is_right(&m, &expected(&[("cluster", "stackproof")])),
            Ok(())
        );
    }

    #[test]
    fn a_kept_replica_label_is_named() {
        let k0 = r#"{}:{alertname="StackproofWindow", case="main", replica="0"}"#;
        let k1 = r#"{}:{alertname="StackproofWindow", case="main", replica="1"}"#;
        let a = mail(
            "firing",
            k0,
            "http://a",
            r#"{alertname="StackproofWindow",case="main",replica="0"};"#,
        );
        let b = mail(
            "firing",
            k1,
            "http://a",
            r#"{alertname="StackproofWindow",case="main",replica="1"};"#,
        );
        let err = one_email_per_group(&[a.clone(), b.clone()], "firing", "replica").unwrap_err();
        assert!(
            err.starts_with(
                "2 firing emails for one alert group {alertname=\"StackproofWindow\",case=\"main\"}"
            ),
            "{err}"
        );
        assert!(
            err.contains("differ only in replica=\"0\", replica=\"1\""),
            "{err}"
        );
        assert!(err.contains("labeldrop"), "{err}");
        let c = content_is_right(&a, &expected(&[])).unwrap_err();
        assert!(c.contains("carries replica=\"0\""), "{c}");
    }

    #[test]
    fn duplicates_from_unclustered_alertmanagers_are_named() {
        let a = mail("firing", KEY, "http://127.0.0.1:1", ALERT);
        let b = mail("firing", KEY, "http://127.0.0.1:2", ALERT);
        let err = one_email_per_group(&[a.clone(), b.clone()], "firing", "replica").unwrap_err();
        assert!(
            err.contains("sent by 2 Alertmanagers (http://127.0.0.1:1, http://127.0.0.1:2)"),
            "{err}"
        );
        assert!(err.contains("--cluster.peer"), "{err}");
        assert_eq!(
            one_email_per_group(&[], "resolved", "replica").unwrap_err(),
            "no resolved email"
        );
    }

    #[test]
    fn mails_are_sorted_by_case_and_status() {
        let a = mail("firing", KEY, "s", ALERT);
        let b = mail("resolved", KEY, "s", ALERT);
        let c = mail(
            "firing",
            KEY,
            "s",
            r#"{alertname="StackproofWindow",case="other"};"#,
        );
        let all = [a, b, c];
        assert_eq!(of_case(&all, "main", "firing").len(), 1);
        assert_eq!(of_case(&all, "main", "resolved").len(), 1);
        assert_eq!(of_case(&all, "other", "firing").len(), 1);
        assert_eq!(group_labels(&all[0])["cluster"], "stackproof");
    }
}
