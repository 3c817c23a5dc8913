//! Finding the user's Loki binary: `STACKPROOF_LOKI_BIN`, else the pinned
//! release `scripts/install-loki` put in the cache, else `loki` on `PATH`.

use std::path::PathBuf;

use super::loki::{ENV_BIN, LokiPlatformError};

use crate::exec_file::is_executable;

/// The pinned Loki version of `fixtures/versions.toml`, when it reads.
pub fn pinned_version() -> Option<String> {
    let text = std::fs::read_to_string(crate::versions::default_versions_path()).ok()?;
    let v: toml::Value = toml::from_str(&text).ok()?;
    Some(v.get("loki")?.get("version")?.as_str()?.to_owned())
}

/// Where `scripts/install-loki` puts the pinned release.
pub fn cached_binary() -> Option<PathBuf> {
    let v = pinned_version()?;
    Some(crate::versions::cache_dir().join(format!("bin/loki-{v}/loki")))
}

/// Finds the Loki binary: `$STACKPROOF_LOKI_BIN`, else the pinned release
/// in the cache, else `loki` on `PATH`.
pub fn find_binary() -> Result<PathBuf, LokiPlatformError> {
    find_binary_in(
        std::env::var_os(ENV_BIN),
        cached_binary(),
        std::env::var_os("PATH"),
    )
}

fn find_binary_in(
    env: Option<std::ffi::OsString>,
    cached: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
) -> Result<PathBuf, LokiPlatformError> {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(LokiPlatformError::Missing {
                detail: format!("{ENV_BIN}={} is not an executable file", p.display()),
            })
        };
    }
    if let Some(c) = cached.filter(|c| is_executable(c)) {
        return Ok(c);
    }
    if let Some(found) = path
        .as_deref()
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("loki"))
        .find(|p| is_executable(p))
    {
        return Ok(found);
    }
    Err(LokiPlatformError::Missing {
        detail: format!("{ENV_BIN} is unset and no `loki` is on PATH"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::loki::MISSING_REASON;

    fn exe(dir: &std::path::Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        crate::exec_file::write_executable(&p, "#!/bin/sh\n").unwrap();
        p
    }

    #[test]
    fn the_env_variable_wins_then_the_cache_then_path() {
        let d = tempfile::tempdir().unwrap();
        let env_bin = exe(d.path(), "my-loki");
        let cached = exe(d.path(), "cached-loki");
        let path_dir = d.path().join("bin");
        std::fs::create_dir(&path_dir).unwrap();
        let on_path = exe(&path_dir, "loki");
        let path = Some(path_dir.clone().into_os_string());
        assert_eq!(
            find_binary_in(
                Some(env_bin.clone().into()),
                Some(cached.clone()),
                path.clone()
            )
            .unwrap(),
            env_bin
        );
        assert_eq!(
            find_binary_in(None, Some(cached.clone()), path.clone()).unwrap(),
            cached
        );
        assert_eq!(
            find_binary_in(None, Some(d.path().join("absent")), path.clone()).unwrap(),
            on_path
        );
    }

    #[test]
    fn absence_is_one_line_saying_what_and_how() {
        let d = tempfile::tempdir().unwrap();
        let err = find_binary_in(None, None, Some(d.path().as_os_str().to_owned())).unwrap_err();
        assert!(err.is_missing());
        let msg = err.to_string();
        assert_eq!(msg.lines().count(), 1, "{msg}");
        assert!(msg.starts_with(MISSING_REASON), "{msg}");
        assert!(msg.contains("no `loki` is on PATH"), "{msg}");
        let err = find_binary_in(Some("/nonexistent/loki".into()), None, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("STACKPROOF_LOKI_BIN=/nonexistent/loki is not an executable file")
        );
        // A non-executable file is not a binary.
        let plain = d.path().join("loki");
        std::fs::write(&plain, "").unwrap();
        assert!(find_binary_in(None, None, Some(d.path().as_os_str().to_owned())).is_err());
    }

    #[test]
    fn the_pinned_version_comes_from_versions_toml() {
        let v = pinned_version().expect("[loki] version in fixtures/versions.toml");
        assert!(v.starts_with('3'), "{v}");
        let c = cached_binary().unwrap();
        assert!(c.ends_with(format!("bin/loki-{v}/loki")), "{}", c.display());
    }
}
