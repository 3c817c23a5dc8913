//! `scripts/install`'s download path, against a local HTTP server standing in
//! for GitHub's release downloads (`STACKPROOF_RELEASE_BASE`): a good archive
//! is checked and installed, a tampered one refused, a second run reuses, a
//! concurrent run waits for the lock, an interrupt leaves nothing half-made,
//! and apt's policy-rc.d never outlives the run. Every run uses a temporary
//! `STACKPROOF_CACHE`: the real cache is only read (the built binaries packed
//! as release archives), never written. No network, no Go build, no apt.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use stackproof::versions::{Versions, cache_dir};

// ---- a release server ------------------------------------------------------

#[derive(Clone, Default)]
struct Route {
    body: Arc<Vec<u8>>,
    /// Waits this long before answering.
    delay: Duration,
    /// Sends this many bytes of the body, then hangs.
    stall_after: Option<usize>,
}

#[derive(Clone)]
struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server {
            base: format!("http://{}", listener.local_addr().unwrap()),
            routes: Arc::default(),
            seen: Arc::default(),
        };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.answer(stream));
            }
        });
        server
    }

    fn answer(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        self.seen.lock().unwrap().push(path.clone());
        let route = self.routes.lock().unwrap().get(&path).cloned();
        let mut w = stream;
        let Some(r) = route else {
            let _ = w.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        std::thread::sleep(r.delay);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            r.body.len()
        );
        let _ = w.write_all(head.as_bytes());
        match r.stall_after {
            Some(n) => {
                let _ = w.write_all(&r.body[..n]);
                let _ = w.flush();
                std::thread::sleep(Duration::from_secs(120));
            }
            None => {
                let _ = w.write_all(&r.body);
            }
        }
    }

    fn put(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    fn requests(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    fn total_requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

// ---- release archives --------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn os_arch() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        o => o,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    (os, arch)
}

/// The server path of component `name`'s archive (`/owner/repo/…/x.tar.gz`).
fn release_path(name: &str) -> String {
    let v = Versions::load_default().unwrap();
    let url = v.component(name).unwrap().release.clone().unwrap();
    let (os, arch) = os_arch();
    let url = url.replace("@OS@", os).replace("@ARCH@", arch);
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .or_else(|_| {
            Command::new("shasum")
                .args(["-a", "256"])
                .arg(path)
                .output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// A `.tar.gz` of `<stem>/<file>` for each (file name, content or source
/// path), as the official releases are laid out.
fn pack(dir: &Path, asset: &str, files: &[(&str, Source)]) -> Vec<u8> {
    let stem = asset.trim_end_matches(".tar.gz");
    let stage = dir.join(format!("stage-{stem}"));
    std::fs::create_dir_all(stage.join(stem)).unwrap();
    for (name, src) in files {
        let to = stage.join(stem).join(name);
        match src {
            Source::Script(text) => {
                std::fs::write(&to, text).unwrap();
                chmod_755(&to);
            }
            Source::File(path) => std::os::unix::fs::symlink(path, &to).unwrap(),
        }
    }
    let out = dir.join(asset);
    // -h: the real binaries are symlinked in; gzip -1: they are large.
    let st = Command::new("tar")
        .args(["-ch", "--use-compress-program=gzip -1", "-f"])
        .arg(&out)
        .arg("-C")
        .arg(&stage)
        .arg(stem)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out).unwrap()
}

fn chmod_755(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

enum Source {
    Script(String),
    File(PathBuf),
}

fn stand_in(name: &str) -> (&str, Source) {
    (
        name,
        Source::Script(format!("#!/bin/sh\necho '{name} stand-in'\n")),
    )
}

/// Serves component `names`' release archive (they share one) with its
/// checksum file; returns the archive's sha256.
fn serve_release(
    server: &Server,
    dir: &Path,
    files: &[(&str, Source)],
    archive_of: &str,
) -> String {
    let path = release_path(archive_of);
    let (dir_path, asset) = path.rsplit_once('/').unwrap();
    let bytes = pack(dir, asset, files);
    let sum = sha256(&dir.join(asset));
    server.put(
        &format!("{dir_path}/sha256sums.txt"),
        Route {
            body: Arc::new(format!("0000000000000000000000000000000000000000000000000000000000000000  other.tar.gz\n{sum}  {asset}\n").into_bytes()),
            ..Route::default()
        },
    );
    server.put(
        &path,
        Route {
            body: Arc::new(bytes),
            ..Route::default()
        },
    );
    sum
}

// ---- running scripts/install -------------------------------------------------

/// `scripts/install`, none of this environment's `STACKPROOF_*` passed on.
fn script() -> Command {
    let mut c = Command::new(repo().join("scripts/install"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STACKPROOF_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn install_cmd(cache: &Path, server: &Server, args: &[&str]) -> Command {
    let mut c = script();
    c.args(args)
        .env("STACKPROOF_CACHE", cache)
        .env("STACKPROOF_RELEASE_BASE", &server.base)
        .env("STACKPROOF_DOWNLOAD", "only")
        .env("STACKPROOF_SKIP_DEBIAN", "1")
        .stdin(Stdio::null());
    c
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(c: Command) -> (Output, String, String, Duration) {
    let started = Instant::now();
    let (out, so, se) = wait_output(spawn(c));
    let took = started.elapsed();
    eprintln!("(in {took:.2?})");
    (out, so, se, took)
}

fn bin(cache: &Path, name: &str) -> PathBuf {
    let v = Versions::load_default().unwrap();
    let c = v.component(name).unwrap();
    cache.join(format!("bin/{name}-{}/{}", c.version, c.binary))
}

/// Everything under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            v.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Nothing half-made: no download or build directory, no `.tmp`, no
/// component directory (only `logs/` with its lock files may be there).
fn assert_nothing_half_made(cache: &Path) {
    let left: Vec<String> = tree(cache)
        .into_iter()
        .filter(|p| !(p == "logs" || p.starts_with("logs/") && p.ends_with(".lock")))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        cache.display()
    );
}

/// Processes whose command line names `needle` (curl left running…).
fn processes_naming(needle: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                v.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    v
}

/// Spawns `cmd` as a command typed at a terminal: its own process group
/// (which Ctrl-C signals), SIGINT not ignored (a shell started in the
/// background with SIGINT ignored could not trap it, and this test may run
/// in one).
fn spawn_as_from_a_terminal(mut cmd: Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: signal(2) is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigDfl)
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    spawn(cmd)
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_output(child: Child) -> (Output, String, String) {
    let out = child.wait_with_output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!("--- {:?}\nstdout:\n{so}stderr:\n{se}", out.status);
    (out, so, se)
}

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
            "upgrade" => vec!["prometheus_legacy"],
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

// ---- apt's policy-rc.d --------------------------------------------------------

/// A PATH whose apt-get, dpkg-query and sudo are stand-ins: apt-get records
/// whether the policy file forbids starts, then does `behaviour`.
fn fake_apt(dir: &Path, policy: &Path, behaviour: &str) -> String {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let apt = format!(
        "#!/bin/sh\n[ \"$1\" = update ] && exit 0\n\
         if [ -x '{p}' ] && grep -q 'exit 101' '{p}'; then echo forbidden; else echo allowed; fi >>'{d}/apt-saw'\n\
         {behaviour}\n",
        p = policy.display(),
        d = dir.display()
    );
    for (name, text) in [
        ("apt-get", apt.as_str()),
        ("dpkg-query", "#!/bin/sh\nexit 1\n"),
        ("sudo", "#!/bin/sh\nexec \"$@\"\n"),
    ] {
        std::fs::write(bin.join(name), text).unwrap();
        chmod_755(&bin.join(name));
    }
    format!("{}:/usr/bin:/bin", bin.display())
}

fn apt_cmd(dir: &Path, policy: &Path, path: &str) -> Command {
    let mut c = script();
    c.arg("prometheus_legacy")
        .env("STACKPROOF_CACHE", dir.join("cache"))
        .env("STACKPROOF_POLICY_RC_D", policy)
        .env("PATH", path)
        .stdin(Stdio::null());
    c
}

#[test]
fn policy_rc_d_forbids_starts_during_apt_and_never_outlives_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let policy = dir.join("policy-rc.d");

    // apt fails: the run fails, the policy is gone.
    let path = fake_apt(dir, &policy, "echo 'E: no such version' >&2; exit 100");
    let (out, _, stderr, _) = run(apt_cmd(dir, &policy, &path));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("'apt-get install prometheus=2.42.0+ds-5+deb12u1' failed"),
        "{stderr}"
    );
    assert!(!policy.exists());

    // apt interrupted (Ctrl-C): the policy is gone.
    let path = fake_apt(dir, &policy, "exec sleep 60");
    let child = spawn_as_from_a_terminal(apt_cmd(dir, &policy, &path));
    let saw = dir.join("apt-saw");
    wait_until("apt-get", Duration::from_secs(30), || {
        std::fs::read_to_string(&saw).is_ok_and(|s| s.lines().count() == 2)
    });
    killpg(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let (out, _, stderr) = wait_output(child);
    assert_eq!(out.status.code(), Some(130));
    assert!(
        stderr.contains("scripts/install: interrupted: removing partial files"),
        "{stderr}"
    );
    assert!(!policy.exists(), "policy-rc.d left behind after Ctrl-C");
    assert_eq!(
        std::fs::read_to_string(&saw).unwrap(),
        "forbidden\nforbidden\n",
        "apt ran without a policy forbidding service starts"
    );

    // A policy-rc.d of the machine's own is left exactly as it was.
    let own = "#!/bin/sh\n# the owner's\nexit 0\n";
    std::fs::write(&policy, own).unwrap();
    let path = fake_apt(dir, &policy, "exit 100");
    let (out, _, _, _) = run(apt_cmd(dir, &policy, &path));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), own);

    // And nothing is ever killed by name.
    let script = std::fs::read_to_string(repo().join("scripts/install")).unwrap();
    for word in ["pkill", "killall", "kill -9"] {
        assert!(!script.contains(word), "scripts/install uses {word}");
    }
}
