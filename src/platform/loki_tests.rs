//! Finding the Loki binary (unit tests of `platform::loki`).

use super::*;

fn exe(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
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
