use super::*;

#[test]
fn command_lines_redact_secrets_and_quote() {
    let spec = ProcessSpec::new("s3", "/bin/weed")
        .args(["mini", "-s3.key=hunter2", "a b"])
        .secret("hunter2");
    assert_eq!(
        spec.command_line(),
        "/bin/weed mini -s3.key=[REDACTED] 'a b'"
    );
}

#[test]
fn dropping_kills_the_whole_group_grandchildren_included() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sh.log");
    let spec = ProcessSpec::new("sh", "/bin/sh")
        .args(["-c", "sleep 300 & echo $!; sleep 300 & echo $!; wait"]);
    let p = RunningProcess::spawn(spec, &log).unwrap();
    let leader = p.pid();
    let kids: Vec<u32> = crate::eventually::block_on_poll("two grandchildren pids", || {
        let pids: Vec<u32> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        (pids.len() == 2).then_some(pids)
    });
    assert!(kids.iter().all(|k| pid_alive(*k)));
    drop(p);
    assert!(!pid_alive(leader));
    for k in kids {
        crate::eventually::block_on_poll("grandchild gone", || (!pid_alive(k)).then_some(()));
    }
    assert!(!live_process_groups().contains(&(leader as i32)));
}

#[test]
fn exited_early_reports_status_command_and_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    let spec = ProcessSpec::new("broken", "/bin/sh")
        .args(["-c", "echo token=s3cret failing; exit 3"])
        .secret("s3cret");
    let mut p = RunningProcess::spawn(spec, &log).unwrap();
    let err = crate::eventually::block_on_poll("exit", || p.exited_early()).to_string();
    assert!(err.contains("broken exited with exit status: 3"), "{err}");
    assert!(err.contains("token=[REDACTED] failing"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(err.contains("/bin/sh -c"), "{err}");
}

#[test]
fn a_missing_program_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = RunningProcess::spawn(
        ProcessSpec::new("thanos", "/nonexistent/thanos"),
        &dir.path().join("l"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot start thanos (/nonexistent/thanos)"),
        "{err}"
    );
}
