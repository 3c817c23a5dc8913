//! Debian's package: apt runs under a policy-rc.d that forbids service
//! starts, and that policy-rc.d never outlives the run (failure, Ctrl-C);
//! one of the machine's own is left alone. apt-get, dpkg-query and sudo
//! are stand-ins: nothing is installed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::release::repo;
use super::run::{run, script, spawn_as_from_a_terminal, wait_output, wait_until};

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
        stackproof::exec_file::write_executable(&bin.join(name), text).unwrap();
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
