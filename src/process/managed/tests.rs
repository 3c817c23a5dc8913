use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// What a caller of [`ManagedProcess::wait_ready`] turns failures into.
#[derive(Debug)]
enum Failed {
    Process(ProcessError),
    Wait(WaitError),
}

impl From<ProcessError> for Failed {
    fn from(e: ProcessError) -> Self {
        Failed::Process(e)
    }
}

impl From<WaitError> for Failed {
    fn from(e: WaitError) -> Self {
        Failed::Wait(e)
    }
}

/// Started, then awaited with a probe that never holds.
async fn started_and_never_ready(
    dir: &tempfile::TempDir,
    name: &str,
    script: &str,
    timeout: Duration,
) -> (ManagedProcess, Result<(), Failed>) {
    let mut m = sh(dir, name, script);
    m.start().unwrap();
    let r = m
        .wait_ready(format!("{name} to answer"), timeout, || async {
            Probe::NotYet("connection refused".into())
        })
        .await;
    (m, r)
}

fn sh(dir: &tempfile::TempDir, name: &str, script: &str) -> ManagedProcess {
    ManagedProcess::new(
        ProcessSpec::new(name, "/bin/sh").args(["-c", script]),
        dir.path().join(format!("{name}.log")),
    )
}

#[tokio::test]
async fn ready_once_the_probe_holds_while_it_lives() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = sh(&dir, "sleeper", "sleep 30");
    m.start().unwrap();
    let probes = &AtomicU32::new(0);
    let n: Result<u32, Failed> = m
        .wait_ready("the third probe", Duration::from_secs(10), || async move {
            match probes.fetch_add(1, Ordering::SeqCst) {
                n if n >= 2 => Probe::Ready(n),
                _ => Probe::NotYet("too early".into()),
            }
        })
        .await;
    assert_eq!(n.unwrap(), 2);
    assert!(m.is_running());
    assert_eq!(m.starts(), 1);
    // Running: a second start does nothing.
    m.start().unwrap();
    assert_eq!(m.starts(), 1);
    let took = m.stop(Duration::from_secs(10)).await.unwrap();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(!m.is_started());
}

#[tokio::test]
async fn dying_while_awaited_is_its_exit_status_and_log_not_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = "echo cannot bind; exit 3";
    let (mut m, r) = started_and_never_ready(&dir, "broken", script, Duration::from_secs(30)).await;
    match r {
        Err(Failed::Process(e)) => {
            let msg = e.to_string();
            assert!(msg.contains("broken exited with exit status: 3"), "{msg}");
            assert!(msg.contains("cannot bind"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!m.is_started());
    // Started again on the next start.
    m.start().unwrap();
    assert_eq!(m.starts(), 2);
}

#[tokio::test]
async fn alive_but_never_ready_is_a_timeout_naming_what_was_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let (mut m, r) =
        started_and_never_ready(&dir, "slow", "sleep 30", Duration::from_millis(300)).await;
    match r {
        Err(Failed::Wait(e)) => {
            assert_eq!(e.what, "slow to answer");
            assert_eq!(e.last, "connection refused");
        }
        other => panic!("{other:?}"),
    }
    assert!(m.is_running());
}

#[tokio::test]
async fn waiting_for_one_never_started_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = sh(&dir, "idle", "true");
    let r: Result<(), Failed> = m
        .wait_ready("x", Duration::from_secs(1), || async { Probe::Ready(()) })
        .await;
    assert!(
        matches!(r, Err(Failed::Process(ProcessError::NotStarted { .. }))),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_stop_past_its_grace_kills_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = sh(&dir, "stubborn", "trap '' TERM; echo up; sleep 30 & wait");
    m.start().unwrap();
    let pid = m.pid().unwrap();
    let _: Result<(), Failed> = m
        .wait_ready("the trap set", Duration::from_secs(10), || {
            let up = m_log_has(&dir, "stubborn", "up");
            async move {
                if up {
                    Probe::Ready(())
                } else {
                    Probe::NotYet("no output".into())
                }
            }
        })
        .await;
    let err = m.stop(Duration::from_millis(300)).await.unwrap_err();
    assert!(err.what.contains("stubborn to exit after SIGTERM"), "{err}");
    assert!(!m.is_started());
    assert!(!pid_alive(pid));
}

fn m_log_has(dir: &tempfile::TempDir, name: &str, text: &str) -> bool {
    std::fs::read_to_string(dir.path().join(format!("{name}.log"))).is_ok_and(|l| l.contains(text))
}

#[tokio::test]
async fn a_one_shot_command_is_waited_for_until_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = sh(&dir, "pass", "exit 0");
    m.start().unwrap();
    let status = m
        .wait_exit("the pass", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(status.success());
    let mut slow = sh(&dir, "slow", "sleep 30");
    slow.start().unwrap();
    let pid = slow.pid().unwrap();
    assert!(
        slow.wait_exit("the slow pass", Duration::from_millis(200))
            .await
            .is_err()
    );
    assert!(!pid_alive(pid));
}
