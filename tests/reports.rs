//! Reports through the binary: a stack that cannot start still leaves
//! junit.xml, summary.md, report.json and a bundle with every component's
//! log (never the run's secret); `--format json` parses; `--fail-on-skip`
//! exits 4; `ha_dedup`'s picture is written and linked; `doctor` says what
//! each platform needs and exits on the default platform's verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `stackproof ARGS` with `env` set, in a TMPDIR of its own (`tmp`), so
/// that the run directories it makes are known.
fn stackproof(args: &[&str], env: &[(&str, &str)], tmp: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackproof"))
        .args(args)
        .envs(env.iter().copied())
        .env("TMPDIR", tmp)
        .env("STACKPROOF_QUIET", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run stackproof")
}

/// `stackproof run --scenario ha_dedup --scenario logs --format json
/// EXTRA --report-dir TMP/report`, and that report directory.
fn run_json(extra: &[&str], env: &[(&str, &str)], tmp: &Path) -> (Output, PathBuf) {
    let report = tmp.join("report");
    let mut args = vec![
        "run",
        "--scenario",
        "ha_dedup",
        "--scenario",
        "logs",
        "--format",
        "json",
        "--report-dir",
        report.to_str().unwrap(),
    ];
    args.extend(extra);
    (stackproof(&args, env, tmp), report)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every file under `dir`, concatenated.
fn everything_in(dir: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.push_str(&everything_in(&p));
        } else {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    all
}

/// No run directory left in `tmp`, and no process whose command line
/// names `tmp` (every component's arguments name its run directory).
fn assert_nothing_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("stackproof-"))
        .map(|e| e.path())
        .collect();
    // The runs root outlives a run on purpose (it is where the next run
    // looks for what a killed one left); only its markers must be gone.
    let (roots, left): (Vec<_>, Vec<_>) = left.into_iter().partition(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(stackproof::runs::ROOT_NAME))
    });
    assert!(left.is_empty(), "run directories left: {left:?}");
    for root in roots {
        let markers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert!(
            markers.is_empty(),
            "run markers left in {}: {markers:?}",
            root.display()
        );
    }
    let needle = tmp.to_string_lossy().into_owned();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(!cmd.contains(&needle), "process left: {cmd}");
        }
    }
}

#[test]
fn a_missing_binary_leaves_an_error_per_scenario_and_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, report) = run_json(
        &[],
        &[("STACKPROOF_THANOS_BIN", "/nonexistent/thanos")],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the JSON report");
    assert_eq!(v["schema"], "stackproof.report/v1");
    assert_eq!(v["status"], "could_not_run");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["totals"]["errors"], 2);
    let why = v["start_error"].as_str().unwrap();
    assert!(
        why.contains("thanos v0.42.4 not found at /nonexistent/thanos"),
        "{why}"
    );
    for s in v["scenarios"].as_array().unwrap() {
        assert_eq!(s["checks"][0]["outcome"], "error", "{s}");
        assert!(
            s["bundle"]
                .as_str()
                .unwrap()
                .ends_with("bundles/stack-start")
        );
    }
    let junit = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"errors="2""#), "{junit}");
    assert!(junit.contains("<error message=\"the local platform could not start"));
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(
        summary.contains("**0 passed, 0 failed, 0 skipped, 2 errors**"),
        "{summary}"
    );
    assert!(
        summary.contains("| `logs` | the stack started | 💥 error |"),
        "{summary}"
    );
    let readme = std::fs::read_to_string(report.join("bundles/stack-start/README.md")).unwrap();
    assert!(readme.contains("scripts/install thanos"), "{readme}");
    assert_eq!(
        std::fs::read_to_string(report.join("report.json"))
            .unwrap()
            .trim(),
        stdout.trim()
    );
    assert!(
        stderr.contains("stackproof: the stack did not start: "),
        "{stderr}"
    );
    assert_nothing_left(tmp.path());
}

/// A `thanos` that prints its bucket configuration (the run's secret
/// included), writes the secret where the test can find it, and dies.
const FAKE_THANOS: &str = r#"#!/bin/sh
for a in "$@"; do
  case "$a" in --objstore.config-file=*) f="${a#*=}";; esac
done
if [ -n "$f" ]; then
  cat "$f"
  sed -n 's/^ *secret_key: *"*\([^"]*\)"*$/\1/p' "$f" > "$SECRET_OUT"
fi
echo "fake thanos: refusing to start ($1)" >&2
exit 1
"#;

#[test]
fn a_stack_that_dies_starting_leaves_every_log_and_never_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let thanos = bin.join("thanos");
    stackproof::exec_file::write_executable(&thanos, FAKE_THANOS).unwrap();
    let secret_out = bin.join("secret");
    let out = stackproof(
        &[
            "run",
            "--scenario",
            "ha_dedup",
            "--report-dir",
            report.to_str().unwrap(),
        ],
        &[
            ("STACKPROOF_THANOS_BIN", thanos.to_str().unwrap()),
            ("SECRET_OUT", secret_out.to_str().unwrap()),
        ],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let secret = std::fs::read_to_string(&secret_out).expect("the fake thanos saw the secret");
    let secret = secret.lines().next().unwrap_or_default().trim().to_owned();
    assert!(secret.len() >= 16, "a real secret: {secret:?}");

    let bundle = report.join("bundles/stack-start");
    for c in [
        "s3",
        "prometheus-0",
        "prometheus-1",
        "sidecar-0",
        "sidecar-1",
        "query",
    ] {
        assert!(
            bundle.join(format!("logs/{c}.log")).is_file(),
            "no log of {c}"
        );
    }
    let sidecar = std::fs::read_to_string(bundle.join("logs/sidecar-0.log")).unwrap();
    assert!(
        sidecar.contains("fake thanos: refusing to start (sidecar)"),
        "{sidecar}"
    );
    assert!(
        sidecar.contains("[REDACTED]"),
        "the config was logged, redacted: {sidecar}"
    );
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(
        summary.contains("| `ha_dedup` | the stack started | 💥 error |"),
        "{summary}"
    );
    assert!(
        summary.contains("sidecar-"),
        "the reason names the sidecar: {summary}"
    );

    let all = everything_in(&report);
    assert!(!all.contains(&secret), "the secret leaked into the report");
    assert!(
        !stdout.contains(&secret) && !stderr.contains(&secret),
        "the secret leaked"
    );
    assert_nothing_left(tmp.path());
}

#[test]
fn fail_on_skip_json_and_the_kill_window_picture_on_a_real_run() {
    let tmp = tempfile::tempdir().unwrap();
    // No Loki: the log scenario is skipped.
    let (out, report) = run_json(
        &["--fail-on-skip"],
        &[("STACKPROOF_LOKI_BIN", "/nonexistent/loki")],
        tmp.path(),
    );
    let (stdout, stderr) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the JSON report");
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(v["status"], "skipped");
    assert_eq!(v["totals"]["failed"], 0, "{stdout}");
    assert_eq!(v["totals"]["skipped"], 1, "{stdout}");
    assert!(
        stderr.contains("--fail-on-skip: 1 check(s) skipped; exit 4"),
        "{stderr}"
    );
    let svg = v["scenarios"][0]["artifacts"][0].as_str().unwrap();
    assert!(svg.ends_with("/ha_dedup/kill-window.svg"), "{svg}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.contains("s hole: "), "replica 0's hole is marked");
    let summary = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(summary.contains("](ha_dedup/kill-window.svg)"), "{summary}");
    assert_nothing_left(tmp.path());
}

#[test]
fn doctor_says_what_each_platform_needs_and_exits_on_the_default_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stackproof(&["doctor"], &[], tmp.path());
    let (stdout, stderr) = text(&out);
    // The pinned binaries are installed wherever the tests run (scripts/test).
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("local (default): can run\n"), "{stdout}");
    for section in ["\nkind: ", "\ncluster: "] {
        assert!(stdout.contains(section), "{stdout}");
    }
    assert!(
        stdout.contains("  ok       thanos        v0.42.4 (pinned)  "),
        "{stdout}"
    );

    let out = stackproof(
        &["doctor"],
        &[("STACKPROOF_THANOS_BIN", "/nonexistent")],
        tmp.path(),
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("local (default): cannot run\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  missing  thanos        thanos v0.42.4 not found at /nonexistent; hint: run `scripts/install thanos`"),
        "{stdout}"
    );
}
