//! Writing a small executable (a stand-in program, a wrapper script) that is
//! run right after.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes `contents` to `path` as an executable file (mode 755).
///
/// A child process writes it, not this one: while this process holds a file
/// open for writing, a child that another thread forks at that instant
/// inherits the descriptor, and running the file then fails with "Text file
/// busy" (ETXTBSY) until that child has exec'd. Test binaries run many
/// threads that spawn programs, so the race shows up there.
pub fn write_executable(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(contents.as_ref());
    let status = child.wait()?;
    written?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "writing {} failed ({status})",
            path.display()
        )))
    }
}

/// Whether `p` is a file someone may run.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_runs_right_after_and_a_bad_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hello");
        write_executable(&p, "#!/bin/sh\necho hello \"$1\"\n").unwrap();
        let out = Command::new(&p).arg("there").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello there\n");
        let bad = dir.path().join("no-such-dir").join("x");
        assert!(write_executable(&bad, "").is_err());
        assert!(is_executable(&p));
        assert!(!is_executable(dir.path()), "a directory is not a program");
    }
}
