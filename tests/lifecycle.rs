//! Nothing leaks from the library's own guards: after drop, after a panic
//! inside a test, after SIGINT while the stack starts or twice, and `up`'s
//! URLs and credentials file go with it. The child-process leak matrix
//! (pass, failure, panic, SIGINT, SIGTERM, SIGKILL) is `tests/leaks.rs`.

mod common;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::child::Harness;
use nix::sys::signal::Signal;
use stackproof::eventually::poll_for;

use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;
use stackproof::process::pid_alive;

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

/// Generous: the stack starts in 6–11 s alone, slower beside big builds.
const START_LIMIT: Duration = Duration::from_secs(300);

/// Ctrl-C while the stack is still starting: what was started so far is
/// dropped with the abandoned start.
#[test]
fn sigint_while_the_stack_starts_leaves_nothing() {
    let mut h = Harness::isolated(&["up"], &[]);
    poll_for(START_LIMIT, || {
        (!h.run_dirs().is_empty() && !h.components().is_empty()).then_some(())
    })
    .expect("a run dir and a first component");
    let (code, out) = h.stop_with(&[Signal::SIGINT], "SIGINT while the stack starts");
    assert_eq!(code, Some(130), "{out}");
    // Almost always the start is cut; when the stack was ready first, `up`
    // still sees the (sticky) interrupt at once.
    assert!(
        out.contains("starting the local stack interrupted by SIGINT")
            || out.contains("`stackproof up` interrupted by SIGINT"),
        "{out}"
    );
    h.assert_nothing_left();
}

/// A second signal while the first one's cancellation cleans up forces the
/// old exit (kill every group, remove run dirs, exit 128 + that signal).
/// SIGINT then SIGTERM: two different signals are both delivered, where a
/// second SIGINT sent before the first is handled would merge with it.
/// Whichever path ends the process, it exits 130 or 143 and leaves nothing.
#[test]
fn a_second_signal_still_exits_and_leaves_nothing() {
    let mut h = Harness::isolated(&["up"], &[]);
    h.wait_line("ready in", START_LIMIT);
    h.components();
    let (code, out) = h.stop_with(&[Signal::SIGINT, Signal::SIGTERM], "SIGINT then SIGTERM");
    let forced = out.contains("while the run was being cancelled: forcing");
    eprintln!(
        "SIGINT then SIGTERM: exit {code:?}, {}",
        if forced {
            "the second one took the forced path"
        } else {
            "the cancelled run ended before the second one"
        }
    );
    // The forced exit (143) races the cancelled run's own return (130)
    // once the run's cleanup is done: either code is right.
    assert!(
        matches!(code, Some(130) | Some(143)),
        "exit {code:?}:\n{out}"
    );
    h.assert_nothing_left();
}

/// `up` on the local platform prints every URL and where the credentials
/// file is (never the secret in it), and Ctrl-C leaves no process, port or
/// directory — the credentials file's included.
#[test]
fn up_prints_every_url_and_sigint_leaves_nothing() {
    let mut h = Harness::isolated(&["up", "--platform", "local"], &[]);
    h.wait_line("ready in", START_LIMIT);
    let lines = h.lines();
    let value = |key: &str| {
        lines
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(key)
                    .map(|r| r.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no `{key}` line in {lines:#?}"))
    };
    let mut urls = vec![value("Thanos Query"), value("store gateway")];
    for i in 0..2 {
        urls.push(value(&format!("Prometheus {i}")));
        urls.push(value(&format!("sidecar {i}")));
    }
    let s3 = value("S3 endpoint");
    assert!(s3.ends_with(" bucket stackproof"), "{s3}");
    urls.push(s3.split_whitespace().next().unwrap().to_owned());
    assert!(
        value("Loki").starts_with("http://127.0.0.1:")
            || value("Loki").starts_with("not started: ")
    );
    let creds = PathBuf::from(value("credentials").split_whitespace().next().unwrap());
    let text = std::fs::read_to_string(&creds).unwrap();
    let target = stackproof::assertions::objstore_file::parse(&text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", creds.display());
    let ports: Vec<u16> = urls
        .iter()
        .map(|u| {
            let rest = u
                .strip_prefix("http://127.0.0.1:")
                .unwrap_or_else(|| panic!("{u} is not on 127.0.0.1"));
            rest.parse().unwrap()
        })
        .collect();
    for p in &ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok(),
            "nothing on {p}"
        );
    }
    h.components();
    let (code, out) = h.stop_with(&[Signal::SIGINT], "SIGINT to `up --platform local`");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        !out.contains(&target.credentials.secret_key),
        "the secret was printed"
    );
    h.assert_nothing_left();
    assert!(!creds.exists(), "{} survived", creds.display());
    for p in &ports {
        // Free again: bound by nobody (a leaked listener would refuse).
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok(),
            "port {p} still taken"
        );
    }
}
