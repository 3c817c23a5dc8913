//! Is the Loki binary Loki 3? Its schema, config keys and APIs differ from
//! Loki 2's: an older Loki would fail later with errors that do not say
//! why. Asked once, before Loki starts: from the Go build info when the
//! binary has it (the module path `github.com/grafana/loki/v3` is Loki 3
//! whatever version it was stamped with, a source build included), else
//! from what `loki --version` prints.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The binary is not Loki 3: what it is instead, and what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is not Loki 3: {found}\nhint: point STACKPROOF_LOKI_BIN at a Loki 3 binary, or unset it and run scripts/install-loki"
)]
pub struct NotLoki3 {
    pub path: PathBuf,
    pub found: String,
}

const LOKI3_MODULE: &str = "github.com/grafana/loki/v3";
const LOKI_MODULE: &str = "github.com/grafana/loki";
/// `loki --version` prints at once; this only bounds a binary that hangs.
const VERSION_LIMIT: Duration = Duration::from_secs(10);

/// Ok when `bin` is Loki 3.
pub async fn check(bin: &Path) -> Result<(), NotLoki3> {
    let found = match crate::buildinfo::read(bin) {
        Some(info) => from_build(&info.path, &info.modules),
        None => from_version_output(&version_output(bin).await),
    };
    found.map_or(Ok(()), |found| {
        Err(NotLoki3 {
            path: bin.to_owned(),
            found,
        })
    })
}

/// None: Loki 3; Some: what it is instead.
fn from_build(path: &str, modules: &[(String, String)]) -> Option<String> {
    if path.starts_with(&format!("{LOKI3_MODULE}/")) {
        return None;
    }
    let version = modules
        .iter()
        .find(|(m, _)| m == LOKI_MODULE)
        .map_or("", |(_, v)| v.as_str());
    Some(if path.starts_with(&format!("{LOKI_MODULE}/")) {
        format!(
            "it was built from {LOKI_MODULE} {version} (Loki 2 or older; Loki 3 is {LOKI3_MODULE})"
        )
    } else {
        format!("it is the Go program {path}")
    })
}

async fn version_output(bin: &Path) -> String {
    let run = tokio::process::Command::new(bin)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(VERSION_LIMIT, run).await {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            text
        }
        Ok(Err(e)) => format!("cannot run it: {e}"),
        Err(_) => format!("`--version` did not answer in {VERSION_LIMIT:?}"),
    }
}

/// None: Loki 3; Some: what the output says instead.
fn from_version_output(out: &str) -> Option<String> {
    let first = out.lines().next().unwrap_or("").trim();
    let major = first
        .split_once("version ")
        .and_then(|(_, v)| v.trim_start_matches('v').split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(3) if first.to_ascii_lowercase().contains("loki") => None,
        _ => Some(format!("`--version` says: {first}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loki3_by_module_path_or_version_line() {
        assert!(from_build("github.com/grafana/loki/v3/cmd/loki", &[]).is_none());
        assert!(
            from_version_output(
                "loki, version 3.7.7 (branch: HEAD, revision: abc)\n  build user: x"
            )
            .is_none()
        );
    }

    #[test]
    fn anything_else_says_what_it_is() {
        let m = vec![(LOKI_MODULE.to_owned(), "v2.9.4".to_owned())];
        let found = from_build("github.com/grafana/loki/cmd/loki", &m).unwrap();
        assert!(
            found.contains("github.com/grafana/loki v2.9.4 (Loki 2 or older"),
            "{found}"
        );
        let found = from_build("github.com/prometheus/prometheus/cmd/prometheus", &[]).unwrap();
        assert!(
            found.contains("Go program github.com/prometheus"),
            "{found}"
        );
        let found = from_version_output("loki, version 2.9.4 (branch: HEAD)\n").unwrap();
        assert_eq!(
            found,
            "`--version` says: loki, version 2.9.4 (branch: HEAD)"
        );
        assert!(from_version_output("").is_some());
        assert!(from_version_output("prometheus, version 3.1.0").is_some());
    }
}
