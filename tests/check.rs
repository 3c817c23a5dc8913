//! `stackproof check` and `stackproof repro` as a user runs them: the
//! example files pass against a real stack given by URLs and against one
//! the binary starts; every kind of assertion fails with words a person can
//! act on; a bundle from a failed file is replayed and fails the same way;
//! the run's secret appears in no report; a run where everything was
//! skipped is not green.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::child::Harness;
use stackproof::platform::Platform;
use stackproof::platform::local::LocalStack;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/assertions")
        .join(name)
        .display()
        .to_string()
}

/// Runs `stackproof ARGS`, echoing and collecting its output; calls
/// `while_running` with the lines so far each time lines arrive.
fn stackproof(args: &[&str], while_running: impl FnMut(&[String])) -> (Option<i32>, String) {
    // Bounded by the files' own `within` budgets (at most 180 s here).
    Harness::spawn(args, &[("STACKPROOF_QUIET", "1")]).watch_to_end_with(
        Duration::from_secs(600),
        &format!("stackproof {}", args.join(" ")),
        while_running,
    )
}

/// Every file under `dir`, read as text, joined.
fn everything_in(dir: &Path) -> String {
    let mut all = String::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    all
}

/// What `failing.yml` must say, assertion by assertion: what was asked,
/// what was expected and what came instead.
const FAILING_WORDS: &[&str] = &[
    "`count(stackproof_gauge)` at ",
    "1 of 1 samples are not 2: 1 at ",
    "samples are not 3600 ± 1: {cluster=\"stackproof\"",
    "2 series where 1 expected: {__name__=\"stackproof_gauge\"",
    "cluster=\"stackproof\" where cluster=\"production\" expected",
    "2 series carry the label `replica` where none may",
    "1 hole(s) longer than 7s; the longest: ",
    "with no sample, from ",
    "samples are not 3: 1 at ",
    "0 blocks with external labels {replica=\"7\"} in bucket `stackproof` where at least 1 expected",
    "0 objects under `nothing-here/` in bucket `stackproof` where at least 1 expected",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_pass_and_every_kind_fails_against_a_stack_given_by_urls() {
    let stack = LocalStack::builder().start().await.expect("local stack");
    let e = stack.endpoints().clone();
    let secret = e.s3.credentials.secret_key.clone();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("objstore.yml");
    std::fs::write(&creds, stackproof::stack::config::thanos_objstore(&e.s3)).unwrap();
    let creds = creds.display().to_string();
    let report = dir.path().join("report");
    let report_arg = report.display().to_string();
    let given = [
        "--query",
        &e.query,
        "--objstore-config",
        &creds,
        "--report-dir",
        &report_arg,
    ];

    let mut args = vec!["check"];
    args.extend(given);
    let stack_yml = example("stack.yml");
    args.push(&stack_yml);
    let (code, out) = stackproof(&args, |_| {});
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("stackproof check: 6 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    let junit = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"tests="6""#) && junit.contains(r#"failures="0""#),
        "{junit}"
    );

    let mut args = vec!["check"];
    args.extend(given);
    let failing = example("failing.yml");
    args.push(&failing);
    let (code, out) = stackproof(&args, |_| {});
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("0 passed, 9 failed, 0 skipped"), "{out}");
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    for words in FAILING_WORDS {
        assert!(
            summary.contains(words),
            "{words:?} missing from:\n{summary}"
        );
    }
    assert!(
        !report.join("bundles").exists(),
        "a stack given by URLs is only read: no bundle"
    );
    assert!(
        !everything_in(&report).contains(&secret),
        "the secret leaked into the report"
    );
    assert!(!out.contains(&secret), "the secret leaked into the output");
    drop(stack);
}

#[test]
fn a_started_stack_checks_the_examples_and_a_failure_replays_the_same_way() {
    let report = tempfile::tempdir().unwrap();
    let report_arg = report.path().display().to_string();
    let (stack_yml, failing) = (example("stack.yml"), example("failing.yml"));
    let mut secret = None;
    let (code, out) = stackproof(
        &[
            "check",
            "--platform",
            "local",
            "--report-dir",
            &report_arg,
            &stack_yml,
            &failing,
        ],
        |lines| {
            // The credentials file lives as long as the stack: read the
            // secret from it while stack.yml waits for its first block.
            if secret.is_none()
                && let Some(path) = lines
                    .iter()
                    .find_map(|l| l.trim().strip_prefix("credentials"))
                    .and_then(|r| r.split_whitespace().next())
                && let Ok(text) = std::fs::read_to_string(path)
            {
                let t = stackproof::assertions::objstore_file::parse(&text).unwrap();
                secret = Some(t.credentials.secret_key);
            }
        },
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("stackproof check: 6 passed, 9 failed, 0 skipped"),
        "{out}"
    );
    let secret = secret.expect("the credentials file was printed and readable");
    assert!(!out.contains(&secret), "the secret leaked into the output");
    assert!(
        !everything_in(report.path()).contains(&secret),
        "the secret leaked into the report or the bundle"
    );
    let bundle: PathBuf = std::fs::read_dir(report.path().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("failing-yml"))
        .expect("a bundle for failing.yml");
    for f in [
        "repro.json",
        "versions.toml",
        "assertions/failing.yml",
        "logs/query.log",
    ] {
        assert!(
            bundle.join(f).exists(),
            "{f} missing from {}",
            bundle.display()
        );
    }

    let (code, out) = stackproof(&["repro", &bundle.display().to_string()], |_| {});
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("failing.yml failed the same way"), "{out}");
    assert!(
        out.contains("- bucket: objects under a prefix\n    then: 0 objects"),
        "{out}"
    );
}

#[test]
fn a_run_where_everything_was_skipped_is_not_green() {
    let report = tempfile::tempdir().unwrap();
    // No Loki given: every LogQL assertion is skipped, nothing is asked.
    let (code, out) = stackproof(
        &[
            "check",
            "--query",
            "http://127.0.0.1:9",
            "--report-dir",
            &report.path().display().to_string(),
            &example("logs.yml"),
        ],
        |_| {},
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("0 passed, 0 failed, 3 skipped"), "{out}");
    assert!(
        out.contains("stackproof: nothing ran: every check was skipped (3 skipped); exit 3"),
        "{out}"
    );
    assert!(out.contains("no Loki: pass --loki URL"), "{out}");
}

#[test]
fn a_bad_file_is_named_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "promql:\n  - name: a\n    query: up\n    expect:\n      serie: 1\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    let (code, out) = stackproof(&["check", "--platform", "local", &bad], |_| {});
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{bad}:5:7: unknown field `serie`, expected one of series,"
        )),
        "{out}"
    );
    assert!(!out.contains("starting the local stack"), "{out}");
}

/// `run --check FILE`: the user's assertions on the scenarios' stack, in
/// the same junit.xml and summary.md as the scenarios.
#[test]
fn run_with_check_puts_assertions_beside_the_scenarios() {
    let report = tempfile::tempdir().unwrap();
    let (code, out) = stackproof(
        &[
            "run",
            "--platform",
            "local",
            "--scenario",
            "logs",
            "--check",
            &example("failing.yml"),
            "--report-dir",
            &report.path().display().to_string(),
        ],
        |_| {},
    );
    assert_eq!(code, Some(1), "{out}");
    let junit = std::fs::read_to_string(report.path().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testsuite name="logs""#), "{junit}");
    assert!(
        junit.contains(r#"failing.yml" tests="9" disabled="0" errors="0" failures="9""#),
        "{junit}"
    );
    let summary = std::fs::read_to_string(report.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("| promql: series count | ❌ failed |"),
        "{summary}"
    );
    let bundles: Vec<_> = std::fs::read_dir(report.path().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        bundles.len() == 1 && bundles[0].ends_with("failing-yml"),
        "{bundles:?}"
    );
}

/// A negative twin run from the command line fails and leaves a bundle;
/// `repro` replays it on a fresh stack and it fails the same way.
#[test]
fn repro_of_a_failing_twin_fails_the_same_way() {
    let report = tempfile::tempdir().unwrap();
    let (code, out) = stackproof(
        &[
            "run",
            "--platform",
            "local",
            "--scenario",
            "ha_dedup/no_replica_label",
            "--report-dir",
            &report.path().display().to_string(),
        ],
        |_| {},
    );
    assert_eq!(code, Some(1), "{out}");
    let bundle = std::fs::read_dir(report.path().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .expect("a bundle");
    let recipe = std::fs::read_to_string(bundle.join("repro.json")).unwrap();
    assert!(
        recipe.contains(r#""id": "ha_dedup/no_replica_label""#),
        "{recipe}"
    );
    let readme = std::fs::read_to_string(bundle.join("README.md")).unwrap();
    assert!(
        readme.contains("stackproof repro <this bundle>"),
        "{readme}"
    );

    let (code, out) = stackproof(&["repro", &bundle.display().to_string()], |_| {});
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("failed the same way"), "{out}");
    assert!(
        out.contains("2 series where 1 expected (replica=0, replica=1)"),
        "{out}"
    );
}
