//! `scripts/install`'s download path, against a local HTTP server standing in
//! for GitHub's release downloads (`STACKPROOF_RELEASE_BASE`): a good archive
//! is checked and installed, a tampered one refused, a second run reuses, a
//! concurrent run waits for the lock, an interrupt leaves nothing half-made,
//! and apt's policy-rc.d never outlives the run. Every run uses a temporary
//! `STACKPROOF_CACHE`: the real cache is only read (the built binaries packed
//! as release archives), never written. No network, no Go build, no apt.

#[path = "install/apt.rs"]
mod apt;
#[path = "install/release.rs"]
mod release;
#[path = "install/run.rs"]
mod run;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use stackproof::versions::{Versions, cache_dir};

use release::*;
use run::*;

// ---- the tests ---------------------------------------------------------------

/// A temporary cache (`cache`), the server's files (`srv`), a server.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, dir) = (tmp.path().join("cache"), tmp.path().join("srv"));
    std::fs::create_dir_all(&dir).unwrap();
    (tmp, cache, dir, Server::start())
}

/// Thanos' release served (a stand-in), its archive's route changed by
/// `change`; returns the archive's path and sha256.
fn thanos_served(server: &Server, dir: &Path, change: impl FnOnce(&mut Route)) -> (String, String) {
    let sum = serve_release(server, dir, &[stand_in("thanos")], "thanos");
    let path = release_path("thanos");
    let mut route = server.routes.lock().unwrap()[&path].clone();
    change(&mut route);
    server.put(&path, route);
    (path, sum)
}

#[test]
fn release_archives_are_checked_installed_and_then_reused() {
    let (_tmp, cache, dir, server) = setup();
    let mut sums = HashMap::new();
    sums.insert(
        "prometheus",
        serve_release(
            &server,
            &dir,
            &[stand_in("prometheus"), stand_in("promtool")],
            "prometheus",
        ),
    );
    sums.insert(
        "thanos",
        serve_release(&server, &dir, &[stand_in("thanos")], "thanos"),
    );
    sums.insert(
        "alertmanager",
        serve_release(
            &server,
            &dir,
            &[stand_in("alertmanager"), stand_in("amtool")],
            "alertmanager",
        ),
    );
    sums.insert("promtool", sums["prometheus"].clone());

    let names = ["prometheus", "promtool", "thanos", "alertmanager"];
    let (out, stdout, _, cold) = run(install_cmd(&cache, &server, &names));
    assert!(out.status.success());
    for name in names {
        let b = bin(&cache, name);
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}"));
        assert!(
            line.ends_with(&format!(
                "{} downloaded (sha256 {})",
                b.display(),
                sums[name]
            )),
            "{line}"
        );
        let ran = Command::new(&b).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            format!("{name} stand-in\n")
        );
    }
    // prometheus and promtool share one archive, fetched once.
    assert_eq!(server.requests(&release_path("prometheus")), 1);
    assert!(
        tree(&cache).iter().all(|p| !p.starts_with("download.")),
        "{:?}",
        tree(&cache)
    );

    let before = server.total_requests();
    let (out, stdout, _, warm) = run(install_cmd(&cache, &server, &names));
    assert!(out.status.success());
    assert_eq!(stdout.lines().count(), names.len(), "{stdout}");
    assert!(stdout.lines().all(|l| l.ends_with(" reused")), "{stdout}");
    assert_eq!(
        server.total_requests(),
        before,
        "a second run asked the server"
    );
    eprintln!("install from the local release server: cold {cold:.2?}, warm {warm:.2?}");
}

#[test]
fn the_built_binaries_packed_as_release_archives_install_and_run() {
    let v = Versions::load_default().unwrap();
    let real = |name: &str| {
        let c = v.component(name).unwrap();
        cache_dir().join(format!("bin/{name}-{}/{}", c.version, c.binary))
    };
    let names = ["prometheus", "promtool", "thanos", "alertmanager"];
    if let Some(missing) = names.iter().find(|n| !real(n).is_file()) {
        eprintln!(
            "skipped: {} is not built yet (scripts/install {missing})",
            real(missing).display()
        );
        return;
    }
    let (_tmp, cache, dir, server) = setup();
    let started = Instant::now();
    let file = |n: &'static str| (n, Source::File(real(n)));
    serve_release(
        &server,
        &dir,
        &[file("prometheus"), file("promtool")],
        "prometheus",
    );
    serve_release(&server, &dir, &[file("thanos")], "thanos");
    serve_release(&server, &dir, &[file("alertmanager")], "alertmanager");
    eprintln!("packed the built binaries in {:.2?}", started.elapsed());
    let (out, _, _, took) = run(install_cmd(&cache, &server, &names));
    assert!(out.status.success());
    eprintln!("installed them from the local release server in {took:.2?}");
    for name in names {
        let b = bin(&cache, name);
        assert_eq!(sha256(&b), sha256(&real(name)), "{name}");
        let ran = Command::new(&b).arg("--version").output().unwrap();
        assert!(ran.status.success(), "{name} --version: {ran:?}");
        let text = String::from_utf8_lossy(&ran.stdout).to_string()
            + &String::from_utf8_lossy(&ran.stderr);
        assert!(text.contains("version"), "{name} --version: {text}");
    }
}

#[test]
fn a_tampered_archive_is_refused_and_nothing_is_installed() {
    let (_tmp, cache, dir, server) = setup();
    let (path, good) = thanos_served(&server, &dir, |r| {
        let mut bytes = r.body.to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        r.body = Arc::new(bytes);
    });
    let (out, stdout, stderr, _) = run(install_cmd(&cache, &server, &["thanos"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    let asset = path.rsplit('/').next().unwrap();
    assert!(
        stderr.contains(&format!(
            "scripts/install: thanos: checksum mismatch for {asset}: sha256sums.txt says {good}, the download is "
        )) && stderr.contains("refusing it (corrupted or tampered with); nothing installed"),
        "{stderr}"
    );
    assert_nothing_half_made(&cache);

    // An archive the checksum file does not list is refused too.
    server.put(
        &format!("{}/sha256sums.txt", path.rsplit_once('/').unwrap().0),
        Route {
            body: Arc::new(format!("{good}  thanos-0.0.0.linux-amd64.tar.gz\n").into_bytes()),
            ..Route::default()
        },
    );
    let (out, _, stderr, _) = run(install_cmd(&cache, &server, &["thanos"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!("thanos: {asset} is not listed in "))
            && stderr.contains("refusing to install an unchecked archive"),
        "{stderr}"
    );
    assert_nothing_half_made(&cache);
}

#[test]
fn a_concurrent_run_waits_for_the_lock_then_reuses() {
    let (_tmp, cache, dir, server) = setup();
    let (path, _) = thanos_served(&server, &dir, |r| r.delay = Duration::from_secs(2));

    let first = spawn(install_cmd(&cache, &server, &["thanos"]));
    // The first run holds the lock once it asks for the archive.
    wait_until("the first run's request", Duration::from_secs(30), || {
        server.requests(&path) == 1
    });
    let second = spawn(install_cmd(&cache, &server, &["thanos"]));
    let (a, a_out, _) = wait_output(first);
    let (b, b_out, b_err) = wait_output(second);
    assert!(a.status.success() && b.status.success());
    assert!(a_out.contains(" downloaded (sha256 "), "{a_out}");
    assert!(
        b_err.contains("waiting for another scripts/install working on it"),
        "{b_err}"
    );
    assert!(b_out.trim_end().ends_with(" reused"), "{b_out}");
    assert_eq!(server.requests(&path), 1);
}

#[test]
fn an_interrupt_mid_download_removes_the_partial_files_and_stops_curl() {
    for (signal, code, word, group) in [
        (Signal::SIGINT, 130, "interrupted", true),
        (Signal::SIGTERM, 143, "terminated", false),
    ] {
        let (_tmp, cache, dir, server) = setup();
        let (path, _) = thanos_served(&server, &dir, |r| r.stall_after = Some(r.body.len() / 2));

        // Ctrl-C signals the terminal's whole process group; SIGTERM is
        // sent to the script alone.
        let child = spawn_as_from_a_terminal(install_cmd(&cache, &server, &["thanos"]));
        let pid = Pid::from_raw(child.id() as i32);
        wait_until("the archive request", Duration::from_secs(30), || {
            server.requests(&path) == 1
        });
        // Half the archive is on disk.
        wait_until("the partial download", Duration::from_secs(30), || {
            tree(&cache).iter().any(|p| p.ends_with(".part"))
        });
        if group {
            killpg(pid, signal).unwrap();
        } else {
            kill(pid, signal).unwrap();
        }
        let started = Instant::now();
        let (out, _, stderr) = wait_output(child);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{signal}: the script took {:.2?} to end",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(code), "{signal}");
        assert!(
            stderr.contains(&format!("scripts/install: {word}: removing partial files")),
            "{stderr}"
        );
        assert_nothing_half_made(&cache);
        let left = processes_naming(&cache.display().to_string());
        assert!(left.is_empty(), "{signal}: still running: {left:?}");
    }
}

#[test]
fn without_the_download_it_builds_and_with_download_only_it_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A port nothing listens on: "no internet".
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = Server {
        base,
        routes: Arc::default(),
        seen: Arc::default(),
    };
    let (out, _, stderr, _) = run(install_cmd(&cache, &server, &["thanos"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("thanos: download unavailable (curl: (7) ")
            && stderr.contains(") and STACKPROOF_DOWNLOAD=only"),
        "{stderr}"
    );
    assert_nothing_half_made(&cache);

    // STACKPROOF_DOWNLOAD=auto falls back to the Go build; with no `go` on
    // PATH that build stops at once (this test never builds anything).
    let path = "/usr/bin:/bin";
    if path
        .split(':')
        .any(|d| Path::new(d).join("go").exists() || !Path::new(d).join("curl").exists())
    {
        eprintln!("skipped the fallback half: needs curl and no go in {path}");
        return;
    }
    let mut c = install_cmd(&cache, &server, &["thanos"]);
    c.env("STACKPROOF_DOWNLOAD", "auto").env("PATH", path);
    let (out, stdout, stderr, _) = run(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("thanos             v0.42.4                                  download unavailable (curl: (7) ")
            && stderr.contains("): building from the Go module")
            && stderr.contains("thanos: go is not on PATH"),
        "{stderr}"
    );
    assert_nothing_half_made(&cache);
}

fn list(args: &[&str]) -> Result<Vec<String>, String> {
    let mut c = script();
    c.env("STACKPROOF_CACHE", "/nonexistent/never-made")
        .arg("--list")
        .args(args);
    let out = c.output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_scenarios_name_what_they_need_and_only_that() {
    let ids = stackproof::scenario::IDS
        .iter()
        .chain(stackproof::scenario::PLANNED);
    for id in ids {
        let got = list(&["--scenarios", id]).unwrap_or_else(|e| panic!("{id}: {e}"));
        for base in ["prometheus", "thanos", "seaweedfs"] {
            assert!(got.iter().any(|g| g == base), "{id}: {got:?}");
        }
        let extra: Vec<&str> = match *id {
            "compactor" => vec!["promtool"],
            "alerting" => vec!["alertmanager"],
            "logs" | "log_chunks_in_bucket" => vec!["loki"],
            "upgrade" => vec!["prometheus_legacy", "promtool_legacy", "prometheus_v2_55"],
            _ => vec![],
        };
        assert_eq!(got.len(), 3 + extra.len(), "{id}: {got:?}");
        assert!(
            extra.iter().all(|e| got.iter().any(|g| g == e)),
            "{id}: {got:?}"
        );
    }
    assert_eq!(
        list(&["--scenarios", "compactor,alerting"]).unwrap(),
        [
            "prometheus",
            "promtool",
            "thanos",
            "alertmanager",
            "seaweedfs"
        ]
    );
    // The default: what every scenario needs; no Debian package, no kind set.
    assert_eq!(
        list(&[]).unwrap(),
        [
            "prometheus",
            "promtool",
            "thanos",
            "alertmanager",
            "seaweedfs",
            "loki"
        ]
    );
    let e = list(&["--scenarios", "ha_dedup,nope"]).unwrap_err();
    assert!(
        e.contains("unknown scenario 'nope' (known: ha_dedup "),
        "{e}"
    );
    assert!(!Path::new("/nonexistent/never-made").exists());
}

#[test]
fn release_urls_name_the_pinned_versions() {
    let v = Versions::load_default().unwrap();
    let mut with_release = Vec::new();
    for (name, c) in v.components() {
        let Some(url) = &c.release else { continue };
        with_release.push(name.to_owned());
        assert_eq!(c.checksums.as_deref(), Some("sha256sums.txt"), "{name}");
        assert!(url.starts_with("https://github.com/"), "{name}: {url}");
        assert!(url.contains("@OS@-@ARCH@.tar.gz"), "{name}: {url}");
        // Prometheus 3.x's module version is v0.3MM.P.
        let plain = c.version.trim_start_matches('v');
        let release_version = match plain.strip_prefix("0.3") {
            Some(rest) if c.module.as_deref() == Some("github.com/prometheus/prometheus") => {
                let (minor, patch) = rest.split_once('.').unwrap();
                format!("3.{}.{patch}", minor.trim_start_matches('0').max("0"))
            }
            _ => plain.to_owned(),
        };
        assert!(
            url.contains(&format!("/download/v{release_version}/"))
                && url.contains(&format!("-{release_version}.@OS@")),
            "{name} {}: {url}",
            c.version
        );
    }
    assert_eq!(
        with_release,
        ["alertmanager", "prometheus", "promtool", "thanos"]
    );
}
