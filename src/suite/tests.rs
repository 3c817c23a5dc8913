use super::*;

#[tokio::test]
async fn an_interrupted_run_is_reported_as_such_and_never_as_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = Token::new();
    cancel.cancel(Interrupt::Sigint);
    let ids = ["ha_dedup", "logs", "compactor"];
    let out = run_until(
        PlatformKind::Local,
        &KubeTarget::default(),
        &ids,
        &[],
        dir.path(),
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(out.interrupted, Some(Interrupt::Sigint));
    assert_eq!(out.ready_secs, None, "nothing was started");
    assert_eq!(
        out.totals,
        Totals {
            passed: 0,
            failed: 1,
            skipped: 2,
            errors: 0,
        }
    );
    let why = out.reports[0].expect_failed(INTERRUPTED);
    assert!(
        why.starts_with("interrupted by SIGINT before the stack was started after "),
        "{why}"
    );
    assert!(why.ends_with("so this scenario has no verdict"), "{why}");
    assert!(matches!(
        &out.reports[2].checks[0].outcome,
        scenario::Outcome::Skipped(s) if s == "not run: the run was interrupted by SIGINT"
    ));

    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let mut lines = summary.lines();
    assert!(lines.next().unwrap().starts_with("# stackproof — local"));
    assert_eq!(lines.next(), Some(""));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("**Interrupted by SIGINT after "),
        "{summary}"
    );
    assert!(
        summary.contains("| `ha_dedup` | interrupted | ❌ failed |"),
        "{summary}"
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<failure message="interrupted by SIGINT"#),
        "{junit}"
    );
}

#[test]
fn cutting_short_no_scenario_reports_nothing() {
    assert!(cut_short(&[], Interrupt::Sigterm, "x", Instant::now()).is_empty());
}
