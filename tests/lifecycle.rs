//! Nothing leaks: after drop, after a panic, after SIGTERM, no component
//! process is left and the run directory is gone. Bad input is named.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::process::pid_alive;
use stackproof::versions::Versions;

fn pids_and_root(stack: &LocalStack) -> (Vec<u32>, PathBuf) {
    let pids: Vec<u32> = stack.components().iter().filter_map(|c| c.pid).collect();
    assert!(
        pids.len() >= 7,
        "expected every component running: {pids:?}"
    );
    (pids, stack.root().to_owned())
}

fn assert_gone(pids: &[u32], root: &std::path::Path) {
    for p in pids {
        assert!(!pid_alive(*p), "pid {p} survived");
    }
    assert!(!root.exists(), "{} survived", root.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stack_kills_everything_and_removes_its_dir() {
    let stack = LocalStack::builder().start().await.expect("local stack");
    let (pids, root) = pids_and_root(&stack);
    assert!(pids.iter().all(|p| pid_alive(*p)));
    drop(stack);
    assert_gone(&pids, &root);
}

#[test]
fn a_panic_inside_a_test_leaves_nothing() {
    let seen: Mutex<Option<(Vec<u32>, PathBuf)>> = Mutex::new(None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let stack = LocalStack::builder().start().await.expect("local stack");
            *seen.lock().unwrap() = Some(pids_and_root(&stack));
            panic!("a scenario panicked");
        })
    }));
    assert!(outcome.is_err());
    let (pids, root) = seen.lock().unwrap().take().expect("stack started");
    assert_gone(&pids, &root);
}

#[test]
fn sigterm_to_the_harness_stops_every_component() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackproof"))
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    let mut root = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(dir) = line.strip_prefix("stackproof local stack in ") {
            root = Some(PathBuf::from(dir.trim()));
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 2
            && words[1] == "pid"
            && let Ok(p) = words[2].parse::<u32>()
        {
            pids.push(p);
        }
        if line.starts_with("ready in") {
            break;
        }
    }
    let root = root.expect("`stackproof up` printed its directory");
    assert!(pids.len() >= 7, "{pids:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "{status}");
    for p in &pids {
        stackproof::eventually::block_on_poll(&format!("pid {p} to die"), || {
            (!pid_alive(*p)).then_some(())
        });
    }
    assert!(!root.exists(), "{} survived", root.display());
}

#[tokio::test]
async fn a_missing_binary_is_named_with_the_install_script() {
    let text = std::fs::read_to_string(stackproof::versions::default_versions_path()).unwrap();
    // Point the [thanos] table at a version that is not installed.
    let (head, tail) = text.split_at(text.find("[thanos]").unwrap());
    let start = tail.find("version = \"").unwrap() + "version = \"".len();
    let end = start + tail[start..].find('"').unwrap();
    let text = format!(
        "{head}{}v0.0.0-not-installed{}",
        &tail[..start],
        &tail[end..]
    );
    let versions = Versions::parse(&text, "test").unwrap();
    let err = LocalStack::builder()
        .versions(versions)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("thanos v0.0.0-not-installed not found"),
        "{err}"
    );
    assert!(err.contains("scripts/install thanos"), "{err}");
}
