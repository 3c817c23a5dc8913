//! A local stand-in for GitHub's release downloads, and release archives
//! made of stand-in programs or of the built binaries.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stackproof::versions::Versions;

// ---- a release server ------------------------------------------------------

#[derive(Clone, Default)]
pub struct Route {
    pub body: Arc<Vec<u8>>,
    /// Waits this long before answering.
    pub delay: Duration,
    /// Sends this many bytes of the body, then hangs.
    pub stall_after: Option<usize>,
}

#[derive(Clone)]
pub struct Server {
    pub base: String,
    pub routes: Arc<Mutex<HashMap<String, Route>>>,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start() -> Self {
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

    pub fn put(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    pub fn requests(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    pub fn total_requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

// ---- release archives --------------------------------------------------------

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn os_arch() -> (&'static str, &'static str) {
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
pub fn release_path(name: &str) -> String {
    let v = Versions::load_default().unwrap();
    let url = v.component(name).unwrap().release.clone().unwrap();
    let (os, arch) = os_arch();
    let url = url.replace("@OS@", os).replace("@ARCH@", arch);
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

pub fn sha256(path: &Path) -> String {
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
pub fn pack(dir: &Path, asset: &str, files: &[(&str, Source)]) -> Vec<u8> {
    let stem = asset.trim_end_matches(".tar.gz");
    let stage = dir.join(format!("stage-{stem}"));
    std::fs::create_dir_all(stage.join(stem)).unwrap();
    for (name, src) in files {
        let to = stage.join(stem).join(name);
        match src {
            Source::Script(text) => {
                stackproof::exec_file::write_executable(&to, text).unwrap();
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

pub enum Source {
    Script(String),
    File(PathBuf),
}

pub fn stand_in(name: &str) -> (&str, Source) {
    (
        name,
        Source::Script(format!("#!/bin/sh\necho '{name} stand-in'\n")),
    )
}

/// Serves component `names`' release archive (they share one) with its
/// checksum file; returns the archive's sha256.
pub fn serve_release(
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
