//! `fixtures/versions.toml`: the one place where component versions live, and
//! where the harness finds each component's binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How a component gets onto the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Built by `scripts/install` from a Go module.
    Go,
    /// Installed by `scripts/install` from a Debian package.
    Debian,
    /// Provided by the user (Loki: AGPL, never built here).
    External,
    /// Kubernetes' own binaries, built by `scripts/kind-offline` from the
    /// `k8s.io/kubernetes` module with its staging modules at
    /// `staging_version` (they are separate modules on the proxy).
    Kubernetes,
}

/// One table of `versions.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub kind: Kind,
    pub version: String,
    pub binary: String,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub package: Option<String>,
    #[serde(default)]
    pub stub_dirs: Option<String>,
    #[serde(default)]
    pub tags: Option<String>,
    /// `kind`: built only by `scripts/kind-offline` (the offline image set),
    /// not by a plain `scripts/install`.
    #[serde(default)]
    pub group: Option<String>,
    /// Extra `-ldflags` for `go build`; `@VERSION@` is the component's version.
    #[serde(default)]
    pub ldflags: Option<String>,
    /// Kubernetes only: the version of its staging modules (`k8s.io/api` …).
    #[serde(default)]
    pub staging_version: Option<String>,
    /// The official release archive's URL (`@OS@`, `@ARCH@` filled in by
    /// `scripts/install`), downloaded instead of building where it can be.
    #[serde(default)]
    pub release: Option<String>,
    /// The release's checksum file, beside the archive (`sha256sums.txt`).
    #[serde(default)]
    pub checksums: Option<String>,
}

/// Errors reading the versions file or finding a binary it pins.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin}, line {line}: {message}\nhint: fix that line: each component is a [table] with `kind` (go, debian, external or kubernetes), `version` and `binary` (the comment at the top of fixtures/versions.toml says what each key means)"
    )]
    Parse {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("component '{0}' is not pinned in fixtures/versions.toml")]
    Unknown(String),
    #[error(
        "{component} {version} not found at {path}\nhint: run `scripts/install {component}` (or set {env} to a binary)"
    )]
    BinaryMissing {
        component: String,
        version: String,
        path: PathBuf,
        env: String,
    },
    /// A Go binary whose build info names another program or version.
    #[error(
        "{component} at {path} is {found}, but fixtures/versions.toml pins {expected}\nhint: point {env} at a {component} built from {expected}, or unset it and run `scripts/install {component}`"
    )]
    WrongBuild {
        component: String,
        path: PathBuf,
        /// Main package and version, as the binary's build info says.
        found: String,
        /// Main package and version, as pinned.
        expected: String,
        env: String,
    },
}

/// The parsed versions file.
#[derive(Debug, Clone)]
pub struct Versions {
    components: BTreeMap<String, Component>,
}

/// The versions file: `$STACKPROOF_VERSIONS` when set, else the
/// repository's own, found from the crate root.
pub fn default_versions_path() -> PathBuf {
    match std::env::var_os("STACKPROOF_VERSIONS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/versions.toml"),
    }
}

/// Where `scripts/install` caches binaries: `$STACKPROOF_CACHE` or
/// `~/.cache/stackproof`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STACKPROOF_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/stackproof")
}

impl Versions {
    /// Reads and parses a versions file.
    pub fn load(path: &Path) -> Result<Self, VersionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| VersionsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Reads the repository's own versions file.
    pub fn load_default() -> Result<Self, VersionsError> {
        Self::load(&default_versions_path())
    }

    /// Parses versions-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, VersionsError> {
        let components: BTreeMap<String, Component> =
            toml::from_str(text).map_err(|e: toml::de::Error| {
                let line = e.span().map_or(0, |s| {
                    text[..s.start.min(text.len())].lines().count().max(1)
                });
                // Point at the offending line even when the span ends on it.
                let line = e.span().map_or(line, |s| {
                    let upto = &text[..s.start.min(text.len())];
                    upto.matches('\n').count() + 1
                });
                let mut message = e.message().to_owned();
                if let Some(key) = key_of_line(text, line) {
                    message = format!("key `{key}`: {message}");
                }
                VersionsError::Parse {
                    origin: origin.to_owned(),
                    line,
                    message,
                }
            })?;
        Ok(Self { components })
    }

    /// The pinned component named `name`.
    pub fn component(&self, name: &str) -> Result<&Component, VersionsError> {
        self.components
            .get(name)
            .ok_or_else(|| VersionsError::Unknown(name.to_owned()))
    }

    /// Every pinned component, by name.
    pub fn components(&self) -> impl Iterator<Item = (&str, &Component)> {
        self.components.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The binary of `name`: `$STACKPROOF_<NAME>_BIN` when set, else the
    /// install cache (Go), the package path (Debian) or PATH (external).
    pub fn binary(&self, name: &str) -> Result<PathBuf, VersionsError> {
        let c = self.component(name)?;
        let env = format!("STACKPROOF_{}_BIN", name.to_ascii_uppercase());
        let path = if let Some(p) = std::env::var_os(&env) {
            PathBuf::from(p)
        } else {
            match c.kind {
                Kind::Go | Kind::Kubernetes => cache_dir()
                    .join("bin")
                    .join(format!("{name}-{}", c.version))
                    .join(&c.binary),
                Kind::Debian => PathBuf::from(&c.binary),
                Kind::External => which(&c.binary).unwrap_or_else(|| PathBuf::from(&c.binary)),
            }
        };
        if is_executable(&path) {
            if c.kind == Kind::Go {
                check_build(name, c, &path, &env)?;
            }
            Ok(path)
        } else {
            Err(VersionsError::BinaryMissing {
                component: name.to_owned(),
                version: c.version.clone(),
                path,
                env,
            })
        }
    }
}

/// A Go binary's embedded build info must name the pinned program and
/// version. Without build info (a script, a build without modules) or with
/// a `(devel)` main module, nothing proves it wrong: it is accepted.
fn check_build(name: &str, c: &Component, path: &Path, env: &str) -> Result<(), VersionsError> {
    let (Some(module), Some(info)) = (&c.module, crate::buildinfo::read(path)) else {
        return Ok(());
    };
    let package = match c.package.as_deref() {
        Some(p) if p != "." => format!("{module}/{p}"),
        _ => module.clone(),
    };
    // Only a real version is evidence; `(devel)` is a source build.
    let version = info
        .version_of(module)
        .filter(|v| v.starts_with('v'))
        .unwrap_or(&c.version);
    if info.path == package && version == c.version {
        return Ok(());
    }
    Err(VersionsError::WrongBuild {
        component: name.to_owned(),
        path: path.to_owned(),
        found: format!("{} {version}", info.path),
        expected: format!("{package} {}", c.version),
        env: env.to_owned(),
    })
}

fn key_of_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.starts_with('[')).then(|| k.to_owned())
}

use crate::exec_file::is_executable;

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_file_parses_and_pins_every_component() {
        let v = Versions::load_default().unwrap();
        for name in [
            "prometheus",
            "thanos",
            "seaweedfs",
            "alertmanager",
            "promtool",
        ] {
            let c = v.component(name).unwrap();
            assert_eq!(c.kind, Kind::Go, "{name}");
            assert!(c.module.is_some() && c.package.is_some(), "{name}");
        }
        assert_eq!(v.component("prometheus_legacy").unwrap().kind, Kind::Debian);
        assert_eq!(v.component("loki").unwrap().kind, Kind::External);
    }

    #[test]
    fn a_wrong_type_names_its_line_and_key() {
        let text = "[thanos]\nkind = \"go\"\nversion = 42\nbinary = \"thanos\"\n";
        let err = Versions::parse(text, "versions.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("versions.toml, line 3: key `version`"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_kind_names_its_line_and_key() {
        let text = "[thanos]\nkind = \"docker\"\nversion = \"v1\"\nbinary = \"thanos\"\n";
        let err = Versions::parse(text, "v.toml").unwrap_err().to_string();
        assert!(err.contains("line 2: key `kind`"), "{err}");
        assert!(err.contains("docker"), "{err}");
    }

    #[test]
    fn a_missing_key_names_the_table_line() {
        let text =
            "[a]\nkind = \"go\"\nbinary = \"x\"\n\n[thanos]\nkind = \"go\"\nbinary = \"thanos\"\n";
        let err = Versions::parse(text, "v.toml").unwrap_err().to_string();
        assert!(err.contains("missing field `version`"), "{err}");
        assert!(err.contains("line 1") || err.contains("line 5"), "{err}");
    }

    #[test]
    fn broken_syntax_names_its_line() {
        let text = "[thanos]\nkind = \"go\"\nversion = \"v1\nbinary = \"thanos\"\n";
        let err = Versions::parse(text, "v.toml").unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_missing_binary_names_it_and_the_install_script() {
        let text = "[thanos]\nkind = \"go\"\nversion = \"v0.0.0-none\"\nbinary = \"thanos\"\n";
        let v = Versions::parse(text, "v.toml").unwrap();
        let err = v.binary("thanos").unwrap_err().to_string();
        assert!(err.contains("thanos v0.0.0-none not found"), "{err}");
        assert!(err.contains("scripts/install thanos"), "{err}");
        assert!(matches!(v.binary("nope"), Err(VersionsError::Unknown(_))));
    }
}
