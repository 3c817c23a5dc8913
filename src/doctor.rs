//! `stackproof doctor`: for each platform, what it needs, what is here
//! (with versions), what is missing and the command that gets it. The
//! verdicts are the checks the runs themselves make (`Versions::binary`,
//! `loki::find_binary`, `kind::images::ready_to_run`,
//! `cluster::availability`); this module only lists and words them.

use std::path::Path;
use std::time::Duration;

use crate::platform::kind::INSTALL_HINT;
use crate::platform::kube::cmd;
use crate::suite::{KubeTarget, PlatformKind};
use crate::versions::Versions;

/// The binaries the local stack cannot start without.
pub const LOCAL_REQUIRED: &[&str] = &["prometheus", "thanos", "seaweedfs"];

/// One thing a platform needs, and whether it is here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    /// What it is for, when only some scenarios need it.
    pub for_what: Option<&'static str>,
    /// `Ok(version and where)` or `Err(what is missing and how to get it)`.
    pub found: Result<String, String>,
}

/// A platform's needs and verdict.
#[derive(Debug, Clone)]
pub struct PlatformDoctor {
    pub kind: PlatformKind,
    pub needs: &'static str,
    pub items: Vec<Item>,
    /// The platform's own availability check: Err says why it cannot run.
    pub can_run: Result<(), String>,
}

/// Every platform, local (the default) first.
pub async fn diagnose(target: &KubeTarget) -> Vec<PlatformDoctor> {
    vec![local().await, kind().await, cluster(target).await]
}

async fn local() -> PlatformDoctor {
    let needs = "the pinned binaries (scripts/install); a Loki 3 binary for the log scenarios";
    let versions = match Versions::load_default() {
        Ok(v) => v,
        Err(e) => {
            return PlatformDoctor {
                kind: PlatformKind::Local,
                needs,
                items: Vec::new(),
                can_run: Err(e.to_string()),
            };
        }
    };
    let mut items = Vec::new();
    let optional: [(&str, &'static str); 5] = [
        ("promtool", "the compactor scenario"),
        ("alertmanager", "the alerting scenario"),
        ("prometheus_legacy", "the upgrade scenario's default A"),
        ("promtool_legacy", "the upgrade scenario's diff"),
        ("prometheus_v2_55", "the upgrade scenario's 2.55 → 3.x"),
    ];
    let names = LOCAL_REQUIRED.iter().map(|n| (*n, None));
    for (name, for_what) in names.chain(optional.iter().map(|(n, w)| (*n, Some(*w)))) {
        let found = match versions.binary(name) {
            // The install cache is one directory per pinned version (the Go
            // builds carry no version of their own); an override is asked.
            Ok(p) if p.starts_with(crate::versions::cache_dir()) => {
                let pinned = versions.component(name).map(|c| c.version.clone());
                Ok(format!(
                    "{} (pinned)  {}",
                    pinned.unwrap_or_default(),
                    p.display()
                ))
            }
            Ok(p) => Ok(present(&p, &version_args(name)).await),
            Err(e) => Err(e.to_string().replace('\n', "; ")),
        };
        items.push(Item {
            name: name.to_owned(),
            for_what,
            found,
        });
    }
    let loki = match crate::platform::loki::find_binary() {
        Ok(p) => Ok(present(&p, &["--version"]).await),
        Err(e) => Err(e.to_string()),
    };
    items.push(Item {
        name: "loki".into(),
        for_what: Some("the log scenarios; skipped without it"),
        found: loki,
    });
    let can_run = items
        .iter()
        .filter(|i| i.for_what.is_none())
        .find_map(|i| i.found.clone().err())
        .map_or(Ok(()), Err);
    PlatformDoctor {
        kind: PlatformKind::Local,
        needs,
        items,
        can_run,
    }
}

async fn kind() -> PlatformDoctor {
    let mut items = vec![tool("docker", &["--version"], "install Docker").await];
    for (t, args) in TOOLS {
        items.push(tool(t, args, &format!("run {INSTALL_HINT}")).await);
    }
    PlatformDoctor {
        kind: PlatformKind::Kind,
        needs: "a Docker engine, kind, helm, kubectl, the packaged charts and the node image \
                (scripts/kind-offline builds them all from pinned sources)",
        items,
        can_run: crate::platform::kind::images::ready_to_run().await,
    }
}

async fn cluster(target: &KubeTarget) -> PlatformDoctor {
    let mut items = Vec::new();
    for (t, args) in &TOOLS[1..] {
        items.push(tool(t, args, &format!("run {INSTALL_HINT}")).await);
    }
    let bucket = crate::platform::cluster::s3_from_env(|k| std::env::var(k).ok());
    items.push(Item {
        name: "bucket".into(),
        for_what: None,
        // Only the endpoint and bucket: the keys are never shown.
        found: bucket.map(|s| format!("{} bucket {}", s.url(), s.bucket)),
    });
    PlatformDoctor {
        kind: PlatformKind::Cluster,
        needs: "a kubeconfig and context (--kubeconfig, --context), helm, kubectl, and a bucket \
                (STACKPROOF_S3_* variables)",
        items,
        can_run: crate::platform::cluster::availability(
            target.kubeconfig.as_deref(),
            target.context.as_deref(),
        ),
    }
}

/// The Kubernetes tools and how each says its version.
const TOOLS: [(&str, &[&str]); 3] = [
    ("kind", &["version"]),
    ("helm", &["version", "--short"]),
    ("kubectl", &["version", "--client"]),
];

/// `name` as the platforms find it (PATH, else the build cache).
async fn tool(name: &str, args: &[&str], get: &str) -> Item {
    let p = cmd::resolve(name);
    let found = if p.contains('/') {
        Ok(present(Path::new(&p), args).await)
    } else {
        match cmd::find_in(&p, &std::env::var_os("PATH").unwrap_or_default()) {
            Some(path) => Ok(present(&path, args).await),
            None => Err(format!(
                "{name} not found on PATH nor in the build cache: {get}"
            )),
        }
    };
    Item {
        name: name.to_owned(),
        for_what: None,
        found,
    }
}

fn version_args(component: &str) -> Vec<&'static str> {
    match component {
        "seaweedfs" => vec!["version"],
        _ => vec!["--version"],
    }
}

/// `<its version line>  <path>`: the first line the binary prints when
/// asked its version (10 s at most; a binary that will not say is still
/// present).
async fn present(path: &Path, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(path)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let line = match out {
        Ok(Ok(o)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(no version printed)")
                .chars()
                .take(70)
                .collect()
        }
        Ok(Err(e)) => format!("(cannot run: {e})"),
        Err(_) => "(no version within 10s)".to_owned(),
    };
    format!("{line}  {}", path.display())
}

/// The doctor's report: a section per platform.
pub fn render(platforms: &[PlatformDoctor]) -> String {
    let mut s = String::new();
    for p in platforms {
        let default = if p.kind == PlatformKind::Local {
            " (default)"
        } else {
            ""
        };
        s.push_str(&format!(
            "{}{default}: {}\n  needs: {}\n",
            p.kind.name(),
            match &p.can_run {
                Ok(()) => "can run".to_owned(),
                Err(_) => "cannot run".to_owned(),
            },
            p.needs
        ));
        for i in &p.items {
            let what = i
                .for_what
                .map(|w| format!(" (for {w})"))
                .unwrap_or_default();
            match &i.found {
                Ok(v) => s.push_str(&format!("  ok       {:<13} {v}{what}\n", i.name)),
                Err(e) => s.push_str(&format!("  missing  {:<13} {e}{what}\n", i.name)),
            }
        }
        if let Err(why) = &p.can_run {
            s.push_str(&format!("  why not: {why}\n"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_per_platform_with_what_is_missing_and_how_to_get_it() {
        let p = PlatformDoctor {
            kind: PlatformKind::Local,
            needs: "binaries",
            items: vec![
                Item {
                    name: "thanos".into(),
                    for_what: None,
                    found: Err("thanos v1 not found; hint: run `scripts/install thanos`".into()),
                },
                Item {
                    name: "loki".into(),
                    for_what: Some("logs"),
                    found: Ok("loki 3.7.7  /usr/bin/loki".into()),
                },
            ],
            can_run: Err("thanos v1 not found".into()),
        };
        let text = render(&[p]);
        assert!(text.starts_with("local (default): cannot run\n"), "{text}");
        assert!(
            text.contains(
                "  missing  thanos        thanos v1 not found; hint: run `scripts/install thanos`\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  ok       loki          loki 3.7.7  /usr/bin/loki (for logs)\n"),
            "{text}"
        );
        assert!(text.contains("  why not: thanos v1 not found\n"), "{text}");
    }
}
