//! The two Prometheus builds of an upgrade, A (before) and B (after): each
//! named by its `fixtures/versions.toml` entry or given as a binary's path,
//! with the version it is, and what Prometheus says about which version
//! reads whose TSDB.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::versions::Versions;

/// The Go module Prometheus is built from.
const MODULE: &str = "github.com/prometheus/prometheus";

/// A Prometheus version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromVersion(pub u32, pub u32, pub u32);

impl fmt::Display for PromVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl PromVersion {
    /// The release a Go module version of Prometheus is: `v0.316.0` is
    /// 3.16.0 (3.x maps to `v0.3MM.P`), `v0.55.1` is 2.55.1.
    pub fn from_module(v: &str) -> Option<Self> {
        let mut it = v.strip_prefix("v0.")?.split(['.', '-', '+']);
        let minor: u32 = it.next()?.parse().ok()?;
        let patch: u32 = it.next()?.parse().ok()?;
        Some(if minor >= 300 {
            Self(3, minor - 300, patch)
        } else {
            Self(2, minor, patch)
        })
    }

    /// The version in `prometheus --version`'s first line
    /// (`prometheus, version 2.42.0+ds (branch: …)`).
    pub fn from_version_output(text: &str) -> Option<Self> {
        let v = text.lines().next()?.split("version ").nth(1)?;
        let v = v.split([' ', '+', '-']).next()?;
        let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
        Some(Self(it.next()??, it.next()??, it.next()??))
    }
}

/// The oldest Prometheus that reads a TSDB written by `writer`, when older
/// ones cannot: "a Prometheus v3 TSDB can only be read by a Prometheus
/// v2.55 or newer" (Prometheus' migration guide, "TSDB format and
/// downgrade").
pub fn oldest_reader(writer: PromVersion) -> Option<PromVersion> {
    (writer.0 >= 3).then_some(PromVersion(2, 55, 0))
}

/// Why `reader` cannot open what `writer` wrote, in words a person acts
/// on; None where Prometheus says it can.
pub fn unreadable(writer: PromVersion, reader: PromVersion) -> Option<String> {
    let oldest = oldest_reader(writer)?;
    (reader < oldest).then(|| {
        format!(
            "Prometheus {reader} cannot read a TSDB written by Prometheus {writer}: the oldest \
             version that can is {}.{} (Prometheus' migration guide, \"TSDB format and \
             downgrade\"); roll back to {}.{} or newer (fixtures/versions.toml's \
             prometheus_v2_55), or lose the data written since the upgrade",
            oldest.0, oldest.1, oldest.0, oldest.1
        )
    })
}

/// One side of an upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prom {
    /// As given: a versions.toml entry or a path.
    pub name: String,
    pub binary: PathBuf,
    /// None when neither its build info nor `--version` says.
    pub version: Option<PromVersion>,
}

impl fmt::Display for Prom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "Prometheus {v} ({})", self.name),
            None => write!(f, "Prometheus of unknown version ({})", self.name),
        }
    }
}

impl Prom {
    /// `spec` as a versions.toml entry, else as a path to a binary. Err:
    /// one line saying what is missing and how to get it.
    pub fn resolve(spec: &str, versions: &Versions) -> Result<Self, String> {
        let binary = if versions.component(spec).is_ok() {
            versions.binary(spec).map_err(|e| {
                let first = e.to_string();
                format!(
                    "upgrade needs {spec}: run scripts/install {spec} ({})",
                    first.lines().next().unwrap_or_default()
                )
            })?
        } else if Path::new(spec).is_file() {
            PathBuf::from(spec)
        } else {
            return Err(format!(
                "upgrade needs `{spec}`: neither an entry of fixtures/versions.toml nor a \
                 Prometheus binary (give an entry such as prometheus_v2_55, or a path)"
            ));
        };
        let version = version_of(&binary);
        Ok(Self {
            name: spec.to_owned(),
            binary,
            version,
        })
    }
}

/// The Prometheus version of the binary at `path`: its Go build info's
/// Prometheus module version, else what `--version` prints.
pub fn version_of(path: &Path) -> Option<PromVersion> {
    if let Some(v) = crate::buildinfo::read(path)
        .as_ref()
        .and_then(|i| i.version_of(MODULE).map(str::to_owned))
        .and_then(|v| PromVersion::from_module(&v))
    {
        return Some(v);
    }
    let out = std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    PromVersion::from_version_output(&text)
}

/// The pair an upgrade runs, by name (`--from`, `--to`), and the user's
/// own rule files and query lists its diff evaluates on both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSpec {
    pub from: String,
    pub to: String,
    pub rule_files: Vec<PathBuf>,
    pub query_lists: Vec<PathBuf>,
}

impl Default for PairSpec {
    /// Debian's 2.42 → the pinned 3.x, no user input.
    fn default() -> Self {
        Self::new("prometheus_legacy", "prometheus")
    }
}

impl PairSpec {
    /// `from` → `to`, no user input.
    pub fn new(from: &str, to: &str) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            rule_files: Vec::new(),
            query_lists: Vec::new(),
        }
    }
}

/// A resolved pair.
#[derive(Debug, Clone)]
pub struct Pair {
    pub a: Prom,
    pub b: Prom,
}

impl PairSpec {
    /// Both sides from the repository's versions file, or the skip line.
    pub fn resolve_default(&self) -> Result<Pair, String> {
        Versions::load_default()
            .map_err(|e| e.to_string())
            .and_then(|v| self.resolve(&v))
    }

    /// Both sides, or the skip line for the first that is missing.
    pub fn resolve(&self, versions: &Versions) -> Result<Pair, String> {
        Ok(Pair {
            a: Prom::resolve(&self.from, versions)?,
            b: Prom::resolve(&self.to, versions)?,
        })
    }
}

static CHOSEN: std::sync::OnceLock<PairSpec> = std::sync::OnceLock::new();

/// Sets the pair `run --scenario upgrade --from A --to B` asked for (once,
/// before the run); later calls are ignored.
pub fn choose(spec: PairSpec) {
    let _ = CHOSEN.set(spec);
}

/// The pair chosen on the command line, else the default.
pub fn chosen() -> PairSpec {
    CHOSEN.get().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_versions_map_to_releases() {
        assert_eq!(
            PromVersion::from_module("v0.316.0"),
            Some(PromVersion(3, 16, 0))
        );
        assert_eq!(
            PromVersion::from_module("v0.55.1"),
            Some(PromVersion(2, 55, 1))
        );
        assert_eq!(PromVersion::from_module("v2.55.1"), None);
    }

    #[test]
    fn version_output_is_read() {
        let debian = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)\n  build user: x";
        assert_eq!(
            PromVersion::from_version_output(debian),
            Some(PromVersion(2, 42, 0))
        );
        assert_eq!(
            PromVersion::from_version_output("prometheus, version  (branch: , revision: )"),
            None
        );
    }

    #[test]
    fn a_missing_side_is_one_line_with_the_install_command() {
        let text = "[prometheus_v2_55]\nkind = \"go\"\nversion = \"v0.0.0-none\"\nbinary = \"prometheus\"\n";
        let v = Versions::parse(text, "v.toml").unwrap();
        let why = PairSpec::new("prometheus_v2_55", "/nonexistent/prometheus")
            .resolve(&v)
            .unwrap_err();
        assert!(
            why.starts_with(
                "upgrade needs prometheus_v2_55: run scripts/install prometheus_v2_55 ("
            ),
            "{why}"
        );
        assert!(!why.contains('\n'), "{why}");
        let why = Prom::resolve("/nonexistent/prometheus", &v).unwrap_err();
        assert!(
            why.contains("neither an entry of fixtures/versions.toml nor a Prometheus binary"),
            "{why}"
        );
    }

    #[test]
    fn only_2_55_and_newer_read_a_3x_tsdb() {
        let v3 = PromVersion(3, 16, 0);
        let msg = unreadable(v3, PromVersion(2, 42, 0)).unwrap();
        assert!(
            msg.starts_with("Prometheus 2.42.0 cannot read a TSDB written by Prometheus 3.16.0"),
            "{msg}"
        );
        assert!(msg.contains("the oldest version that can is 2.55"), "{msg}");
        assert_eq!(unreadable(v3, PromVersion(2, 55, 1)), None);
        assert_eq!(
            unreadable(PromVersion(2, 55, 1), PromVersion(2, 42, 0)),
            None
        );
    }
}
