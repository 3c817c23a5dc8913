//! Unit tests of the alerting set-up on Kubernetes.

use std::time::Duration;

use super::*;
use crate::sink::smtp::SmtpCredentials;
use crate::stack::alertmanager::NotifyTiming;

#[test]
fn the_rule_file_becomes_the_prometheusrule_spec() {
    let obj = prometheus_rule("groups:\n  - name: g\n    rules: []\n").unwrap();
    assert_eq!(obj.metadata.name.as_deref(), Some(RULE_NAME));
    assert_eq!(obj.data["spec"]["groups"][0]["name"], "g");
    assert!(prometheus_rule("groups: [").is_err());
}

#[test]
fn the_operator_builds_only_the_ha_pair() {
    let setup = |clustered, drop| AlertSetup {
        smarthost: "172.18.0.1:2525".into(),
        smtp_credentials: SmtpCredentials::generate(),
        from: "a@b".into(),
        to: "c@d".into(),
        webhook_url: "http://172.18.0.1:1/alerts".into(),
        timing: NotifyTiming {
            group_wait: Duration::from_secs(2),
            group_interval: Duration::from_secs(5),
            repeat_interval: Duration::from_secs(3600),
        },
        alertmanagers: ALERTMANAGERS,
        clustered,
        peer_timeout: Duration::from_secs(2),
        drop_replica_label: drop,
    };
    assert_eq!(unsupported(&setup(true, true)), None);
    assert!(unsupported(&setup(false, true)).unwrap().contains("gossip"));
    assert!(
        unsupported(&setup(true, false))
            .unwrap()
            .contains("replica label")
    );
}

#[test]
fn the_password_is_a_key_of_its_own_never_in_the_config() {
    let s = config_secret("route: {}\n", "hunter2");
    let data = s.data.unwrap();
    assert_eq!(data[PASSWORD_KEY].0, b"hunter2");
    assert!(!String::from_utf8_lossy(&data[CONFIG_KEY].0).contains("hunter2"));
    assert!(PASSWORD_FILE.ends_with(PASSWORD_KEY));
}

#[test]
fn the_placeholder_config_sends_nothing() {
    let s = placeholder_config_secret();
    let y = String::from_utf8(s.data.unwrap()[CONFIG_KEY].0.clone()).unwrap();
    let v = crate::stack::yaml::parsed(&y);
    assert_eq!(v["route"]["receiver"], "none");
}
