//! Running the CLIs the Kubernetes platforms need (kind, helm, docker):
//! bounded in time, their stderr kept for the error. Command lines never
//! carry secrets: credentials travel in Kubernetes Secrets.

use std::time::Duration;

use super::error::KubeError;

/// Where `program` runs from: PATH when it is there, else the build cache
/// of `scripts/kind-offline` (kind, helm and kubectl are pinned components
/// there), else its bare name, which fails as "not found" with the hint.
pub fn resolve(program: &str) -> String {
    resolve_in(program, &std::env::var_os("PATH").unwrap_or_default())
}

/// [`resolve`] with PATH given as `path_var`.
pub fn resolve_in(program: &str, path_var: &std::ffi::OsStr) -> String {
    if program.contains('/') || find_in(program, path_var).is_some() {
        return program.to_owned();
    }
    let component = match program {
        "kubectl" => "kubernetes",
        other => other,
    };
    crate::versions::Versions::load_default()
        .ok()
        .and_then(|v| {
            let c = v.component(component).ok()?;
            (c.group.as_deref() == Some("kind")).then_some(())?;
            let dir = v.binary(component).ok()?.parent()?.to_owned();
            Some(dir.join(program))
        })
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| program.to_owned())
}

/// Runs `program args…`, at most `timeout`; returns its stdout.
pub async fn run(program: &str, args: &[String], timeout: Duration) -> Result<String, KubeError> {
    let program = &resolve(program);
    let command = command_line(program, args);
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout, child).await {
        Err(_) => {
            return Err(KubeError::Command {
                command,
                status: format!("no exit after {}s, killed", timeout.as_secs()),
                stderr: String::new(),
            });
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KubeError::ToolMissing {
                tool: tool_name(program),
                hint: "run scripts/install-kind-tools (or scripts/kind-offline where nothing can be downloaded)".into(),
            });
        }
        Ok(Err(e)) => {
            return Err(KubeError::Command {
                command,
                status: e.to_string(),
                stderr: String::new(),
            });
        }
        Ok(Ok(o)) => o,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(KubeError::Command {
            command,
            status: out.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr), 1500),
        })
    }
}

/// Runs a command to the end from a `Drop` (no runtime needed).
pub fn run_blocking(program: &str, args: &[String]) -> Result<(), KubeError> {
    let program = &resolve(program);
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(KubeError::io(format!(
            "run {}",
            command_line(program, args)
        )))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(KubeError::Command {
            command: command_line(program, args),
            status: out.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr), 1500),
        })
    }
}

/// `program` itself, or inside `dir` when one is given (tests point the
/// cleanup paths at recording stand-ins this way).
pub fn program_in(dir: Option<&std::path::Path>, program: &str) -> String {
    match dir {
        Some(d) => d.join(program).display().to_string(),
        None => program.to_owned(),
    }
}

/// Whether `program` is an executable on PATH.
pub fn on_path(program: &str) -> bool {
    find_in(program, &std::env::var_os("PATH").unwrap_or_default()).is_some()
}

/// Whether `program` can be run: on PATH, or the pinned build in the cache
/// that [`resolve`] falls back to.
pub fn available(program: &str) -> bool {
    let p = resolve(program);
    p.contains('/') || on_path(&p)
}

/// The executable `program` in the directories of `path_var` (a PATH value).
pub fn find_in(program: &str, path_var: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    std::env::split_paths(path_var)
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// A command line a person can paste.
pub fn command_line(program: &str, args: &[String]) -> String {
    let mut s = program.to_owned();
    for a in args {
        s.push(' ');
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$".contains(c)) {
            s.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            s.push_str(a);
        }
    }
    s
}

fn tool_name(program: &str) -> &'static str {
    match program.rsplit('/').next().unwrap_or(program) {
        "kind" => "kind",
        "helm" => "helm",
        "docker" => "docker",
        "kubectl" => "kubectl",
        _ => "a required program",
    }
}

/// The last `max` bytes of `s` (at a char boundary), trimmed.
fn tail(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_command_reports_its_line_status_and_stderr() {
        let e = run(
            "sh",
            &["-c".into(), "echo boom >&2; exit 3".into()],
            Duration::from_secs(10),
        )
        .await
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "`sh -c 'echo boom >&2; exit 3'` failed (exit status: 3): boom"
        );
    }

    #[tokio::test]
    async fn a_missing_program_points_at_the_install_script() {
        let e = run("kind-not-here-xyz", &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("run scripts/install-kind-tools (or scripts/kind-offline where nothing can be downloaded)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_hung_command_is_killed_at_its_deadline() {
        let e = run("sleep", &["30".into()], Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no exit after 0s, killed"), "{e}");
    }

    /// A directory with stand-ins for `names` that append their command
    /// line to `calls.log` in it.
    pub(crate) fn recording_tools(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        for n in names {
            let p = dir.path().join(n);
            crate::exec_file::write_executable(
                &p,
                format!("#!/bin/sh\necho \"{n} $*\" >> '{}'\n", log.display()),
            )
            .unwrap();
        }
        dir
    }

    /// What the stand-ins recorded, one command per line.
    pub(crate) fn recorded(dir: &tempfile::TempDir) -> Vec<String> {
        std::fs::read_to_string(dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn tails_are_cut_at_char_boundaries() {
        assert_eq!(tail("ééé", 3), "…é");
        assert!(on_path("sh"));
        assert!(!on_path("kind-not-here-xyz"));
    }
}
