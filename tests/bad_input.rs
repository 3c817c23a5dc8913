//! Bad input, one test per case: the message says what is wrong and what to
//! do. Through the `stackproof` binary where a user meets it (a run that
//! cannot start exits 2 and says why; a platform that cannot run makes
//! every scenario skipped with the reason, exit 3), through the library
//! where the case needs a running stack or a port held on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::child::Harness;
use stackproof::platform::local::LocalStack;
use stackproof::versions::Versions;

/// A run that cannot start says why within seconds: the limit only keeps
/// a broken check from hanging the test.
const SAY_LIMIT: Duration = Duration::from_secs(120);

/// `stackproof run --scenario heap_profile` with `envs`, to its end, its
/// report in a dir of its own: exit code and output.
fn run(extra: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    run_scenario("heap_profile", extra, envs)
}

/// [`run`] of scenario `id`.
fn run_scenario(id: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let report = tempfile::tempdir().unwrap();
    let mut args = vec!["run", "--scenario", id];
    args.extend(extra);
    args.extend(["--report-dir", report.path().to_str().unwrap()]);
    let mut h = Harness::spawn(&args, envs);
    h.watch_to_end(SAY_LIMIT, "a run with bad input")
}

fn executable(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    stackproof::exec_file::write_executable(&p, text).unwrap();
    p
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

/// A real Prometheus binary whose embedded build info says another version
/// (the version bytes patched, same length), and a real binary of another
/// program (promtool) given as Prometheus.
#[test]
fn a_binary_of_the_wrong_version_or_program_is_named() {
    let v = Versions::load_default().unwrap();
    let real = v.binary("prometheus").expect("scripts/install prometheus");
    let pinned = v.component("prometheus").unwrap().version.clone();
    let module = v.component("prometheus").unwrap().module.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&real).unwrap();
    let from = format!("mod\t{module}\t{pinned}\t");
    let old = "v0.300.0";
    assert_eq!(old.len(), pinned.len(), "a same-length version");
    let to = format!("mod\t{module}\t{old}\t");
    let mut patched = 0;
    while let Some(at) = bytes.windows(from.len()).position(|w| w == from.as_bytes()) {
        bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
        patched += 1;
    }
    assert!(
        patched > 0,
        "no build info line `{from}` in {}",
        real.display()
    );
    let old_bin = dir.path().join("prometheus");
    stackproof::exec_file::write_executable(&old_bin, bytes).unwrap();

    let (code, out) = run(
        &[],
        &[("STACKPROOF_PROMETHEUS_BIN", old_bin.to_str().unwrap())],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "prometheus at {} is {module}/cmd/prometheus {old}, but fixtures/versions.toml pins {module}/cmd/prometheus {pinned}",
            old_bin.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("hint: point STACKPROOF_PROMETHEUS_BIN at a prometheus built from {module}/cmd/prometheus {pinned}, or unset it and run `scripts/install prometheus`")),
        "{out}"
    );

    let promtool = v.binary("promtool").expect("scripts/install promtool");
    let (code, out) = run(
        &[],
        &[("STACKPROOF_PROMETHEUS_BIN", promtool.to_str().unwrap())],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "prometheus at {} is {module}/cmd/promtool {pinned}, but fixtures/versions.toml pins {module}/cmd/prometheus {pinned}",
            promtool.display()
        )),
        "{out}"
    );
}

/// A port taken between the moment stackproof chose it and the moment the
/// component binds it: the component's exit names the bind error and says
/// what to do.
#[test]
fn a_busy_port_is_named_with_what_to_do() {
    use stackproof::process::{ProcessSpec, RunningProcess};
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "scrape_configs: []\n").unwrap();
    let bin = Versions::load_default()
        .unwrap()
        .binary("prometheus")
        .expect("scripts/install prometheus");
    let args = stackproof::stack::config::prometheus_args(
        &cfg,
        &dir.path().join("data"),
        port,
        Duration::from_secs(30),
    );
    let mut p = RunningProcess::spawn(
        ProcessSpec::new("prometheus-0", bin).args(args),
        &dir.path().join("prometheus-0.log"),
    )
    .unwrap();
    let err = stackproof::eventually::poll_for(SAY_LIMIT, || p.exited_early())
        .expect("prometheus exits on a busy port")
        .to_string();
    assert!(
        err.contains("prometheus-0 exited with exit status: 1"),
        "{err}"
    );
    assert!(err.contains("address already in use"), "{err}");
    assert!(
        err.contains(
            "hint: a port it was given was taken by another process after stackproof chose it"
        ),
        "{err}"
    );
    assert!(err.contains("run it again"), "{err}");
}

/// TMPDIR that is no directory: the run dir cannot be made.
#[test]
fn an_unwritable_temp_dir_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let (code, out) = run(&[], &[("TMPDIR", file.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "cannot create a run directory in {}: Not a directory",
            file.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: set TMPDIR to a directory you can write to"),
        "{out}"
    );
}

#[test]
fn a_broken_versions_file_names_its_line_and_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(stackproof::versions::default_versions_path())
        .unwrap()
        .replacen("version = \"v0.42.4\"", "version = 0.42", 1);
    let line = text.lines().position(|l| l == "version = 0.42").unwrap() + 1;
    let broken = dir.path().join("versions.toml");
    std::fs::write(&broken, text).unwrap();
    let (code, out) = run(&[], &[("STACKPROOF_VERSIONS", broken.to_str().unwrap())]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{}, line {line}: key `version`: invalid type",
            broken.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: fix that line: each component is a [table] with `kind`"),
        "{out}"
    );
}

/// The stack's own bucket with a wrong secret key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_s3_credentials_are_named_with_what_to_check() {
    let stack = LocalStack::builder().start().await.expect("local stack");
    use stackproof::platform::Platform;
    let mut target = stack.endpoints().s3.clone();
    let right = target.credentials.secret_key.clone();
    target.credentials.secret_key = "not-the-secret".into();
    let store = stackproof::client::objstore::Objstore::new(target.clone());
    let ak = &target.credentials.access_key;
    // A HEAD answer has no body, so no error code: its 403 says the same.
    for (err, why) in [
        (
            store.list("").await.unwrap_err().to_string(),
            "ListObjectsV2 on {e}: the credentials were refused (SignatureDoesNotMatch)",
        ),
        (
            store.head_bucket().await.unwrap_err().to_string(),
            "HeadBucket on {e}: the credentials were refused (HTTP 403 Forbidden)",
        ),
    ] {
        eprintln!("{err}");
        let e = format!("{}/{}", target.endpoint, target.bucket);
        let why = why.replace("{e}", &e);
        assert!(
            err.starts_with(&format!("S3 {why} for access key `{ak}`\n")),
            "{err}"
        );
        assert!(
            err.contains("hint: check the access key and secret key"),
            "{err}"
        );
        assert!(
            !err.contains(&right) && !err.contains("not-the-secret"),
            "{err}"
        );
    }

    // As a user meets it: `check --objstore-config` with that secret.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("objstore.yml");
    std::fs::write(&wrong, stackproof::stack::config::thanos_objstore(&target)).unwrap();
    let file = dir.path().join("bucket.yml");
    std::fs::write(
        &file,
        "bucket:\n  - name: a block of the stack\n    blocks: {cluster: stackproof}\n    expect: {at_least: 1}\n",
    )
    .unwrap();
    let report = dir.path().join("report");
    let query = stack.endpoints().query.clone();
    let (code, out) = tokio::task::block_in_place(|| {
        let args = [
            "check",
            file.to_str().unwrap(),
            "--query",
            &query,
            "--objstore-config",
            wrong.to_str().unwrap(),
            "--report-dir",
            report.to_str().unwrap(),
        ];
        Harness::spawn(&args, &[]).watch_to_end(SAY_LIMIT, "check with a wrong secret")
    });
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the credentials were refused (SignatureDoesNotMatch) for access key `{ak}`"
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: check the access key and secret key"),
        "{out}"
    );
    assert!(
        !out.contains(&right) && !out.contains("not-the-secret"),
        "{out}"
    );
}

/// `--platform cluster` with a kubeconfig whose API server is nowhere.
#[test]
fn an_unreachable_cluster_is_named_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\ncontexts:\n- name: gone\n  context: {cluster: gone, user: u}\nclusters:\n- name: gone\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let (code, out) = run(
        &[
            "--platform",
            "cluster",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(3), "nothing ran: {out}");
    assert!(
        out.contains(&format!(
            "heap_profile skipped: the cluster is unreachable: API server https://127.0.0.1:1 (context `gone` of {}): 127.0.0.1:1: Connection refused",
            kc.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("is the cluster running, and are this kubeconfig and context the ones you meant (--kubeconfig, --context)?"),
        "{out}"
    );
}

/// A "Loki" that says it is 2.9.4, as an old Loki does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loki_that_is_not_loki_3_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let old = executable(
        dir.path(),
        "loki",
        "#!/bin/sh\necho 'loki, version 2.9.4 (branch: HEAD, revision: f599ebc)'\n",
    );
    let err = stackproof::platform::loki_version::check(&old)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{} is not Loki 3: `--version` says: loki, version 2.9.4 (branch: HEAD, revision: f599ebc)\nhint: point STACKPROOF_LOKI_BIN at a Loki 3 binary, or unset it and run scripts/install-loki",
            old.display()
        )
    );
    // The log scenarios fail on it, with those words, before it starts.
    let (code, out) = run_scenario(
        "logs",
        &[],
        &[("STACKPROOF_LOKI_BIN", old.to_str().unwrap())],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "{} is not Loki 3: `--version` says: loki, version 2.9.4",
            old.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: point STACKPROOF_LOKI_BIN at a Loki 3 binary"),
        "{out}"
    );
    // And a real Loki 3, where one is here, passes.
    if let Ok(loki) = stackproof::platform::loki::find_binary() {
        stackproof::platform::loki_version::check(&loki)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", loki.display()));
    }
}
