//! The kind cluster: created through the `kind` CLI with a unique name (or
//! reused when `STACKPROOF_KIND_CLUSTER` names one), its kubeconfig kept in
//! the run directory (the user's `~/.kube/config` is never touched), and
//! deleted when the value is dropped unless `STACKPROOF_KEEP=1` or the
//! cluster was reused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::platform::kube::cmd;
use crate::platform::kube::error::KubeError;
use crate::process::keep_requested;

/// The kind cluster config, compiled in (`kind/cluster.yaml`).
pub const CLUSTER_CONFIG: &str = include_str!("../../../kind/cluster.yaml");

/// Env var naming a cluster to reuse (created if missing, never deleted).
pub const REUSE_VAR: &str = "STACKPROOF_KIND_CLUSTER";

/// The one-line hint of every "cannot run here" message.
pub const INSTALL_HINT: &str = "scripts/install-kind-tools";

/// Whether the kind platform can run on this machine; if not, one line
/// saying what is missing and how to get it.
pub async fn availability() -> Result<(), String> {
    availability_in(&std::env::var_os("PATH").unwrap_or_default()).await
}

/// This machine as a kind cluster's pods reach it: the gateway of kind's
/// Docker network (`kind`, or `KIND_EXPERIMENTAL_DOCKER_NETWORK` as kind
/// itself reads it). Pod traffic leaves the node masqueraded to the node's
/// address on that network, and the host answers on the gateway, an
/// address of a bridge only the machine's containers are on.
pub async fn host_ip() -> Result<std::net::IpAddr, KubeError> {
    let network =
        std::env::var("KIND_EXPERIMENTAL_DOCKER_NETWORK").unwrap_or_else(|_| "kind".into());
    let out = cmd::run(
        &cmd::resolve("docker"),
        &[
            "network".into(),
            "inspect".into(),
            network.clone(),
            "--format".into(),
            "{{range .IPAM.Config}}{{.Gateway}} {{end}}".into(),
        ],
        Duration::from_secs(15),
    )
    .await?;
    first_ipv4(&out).ok_or_else(|| KubeError::Env {
        var: format!("docker network {network}"),
        message: format!("has no IPv4 gateway (gateways: {:?})", out.trim()),
    })
}

/// The first IPv4 address among whitespace-separated words.
fn first_ipv4(words: &str) -> Option<std::net::IpAddr> {
    words
        .split_whitespace()
        .filter_map(|w| w.parse::<std::net::Ipv4Addr>().ok())
        .map(std::net::IpAddr::V4)
        .next()
}

/// [`availability`] with the programs looked up in `path_var` (a PATH value).
pub async fn availability_in(path_var: &std::ffi::OsStr) -> Result<(), String> {
    let Some(docker) = cmd::find_in("docker", path_var) else {
        return Err(format!(
            "Docker not found (no `docker` on PATH): the kind platform needs a Docker engine; \
             install Docker, then run {INSTALL_HINT} for kind, kubectl and helm"
        ));
    };
    let info = cmd::run(
        &docker.display().to_string(),
        &[
            "info".into(),
            "--format".into(),
            "{{.ServerVersion}}".into(),
        ],
        Duration::from_secs(15),
    )
    .await;
    if let Err(e) = info {
        // Docker's own words ("Cannot connect to the Docker daemon at …").
        let why = match &e {
            KubeError::Command { stderr, .. } if !stderr.trim().is_empty() => stderr.clone(),
            other => other.to_string(),
        };
        let first: String = why
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        return Err(format!(
            "Docker engine not reachable (`docker info`: {first}): start Docker; kind, kubectl and helm come from {INSTALL_HINT}"
        ));
    }
    let missing: Vec<&str> = ["kind", "helm"]
        .into_iter()
        .filter(|t| {
            cmd::find_in(t, path_var).is_none()
                && !std::path::Path::new(&cmd::resolve_in(t, path_var)).is_absolute()
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} not found on PATH: run {INSTALL_HINT}",
            missing.join(" and ")
        ));
    }
    Ok(())
}

/// A random lowercase id (names in Kubernetes and kind must be DNS labels).
pub fn run_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A kind cluster this run uses.
#[derive(Debug)]
pub struct KindCluster {
    name: String,
    /// Created by this run and not to be reused: deleted on drop.
    owned: bool,
    kubeconfig: PathBuf,
    /// Where `kind` is (None: PATH).
    tool_dir: Option<PathBuf>,
}

impl KindCluster {
    /// Creates a cluster named `stackproof-<id>`, or uses the one
    /// `STACKPROOF_KIND_CLUSTER` names (creating it when missing, and
    /// keeping it). `dir` receives the kubeconfig.
    pub async fn create_or_reuse(id: &str, dir: &Path) -> Result<Self, KubeError> {
        let reuse = std::env::var(REUSE_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let (name, owned) = match reuse {
            Some(n) => (n.trim().to_owned(), false),
            None => (format!("stackproof-{id}"), true),
        };
        let kubeconfig = dir.join("kubeconfig");
        let existing = cmd::run(
            "kind",
            &["get".into(), "clusters".into()],
            Duration::from_secs(30),
        )
        .await?;
        let cluster = KindCluster {
            name: name.clone(),
            owned,
            kubeconfig: kubeconfig.clone(),
            tool_dir: None,
        };
        if existing.lines().any(|l| l.trim() == name) {
            eprintln!("stackproof: reusing kind cluster {name}");
            let cfg = cmd::run(
                "kind",
                &[
                    "get".into(),
                    "kubeconfig".into(),
                    "--name".into(),
                    name.clone(),
                ],
                Duration::from_secs(30),
            )
            .await?;
            // Client keys: owner-only file, never printed.
            crate::platform::kube::helm::write_private(&kubeconfig, &cfg)?;
        } else {
            let config = dir.join("kind-cluster.yaml");
            crate::platform::kube::helm::write_private(&config, CLUSTER_CONFIG)?;
            eprintln!("stackproof: creating kind cluster {name}…");
            // From here on, a failure drops `cluster`, which deletes it.
            cmd::run(
                "kind",
                &create_args(&name, &config, &kubeconfig),
                Duration::from_secs(600),
            )
            .await?;
        }
        Ok(cluster)
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Whether it is deleted on drop.
    pub fn owned(&self) -> bool {
        self.owned
    }

    /// A client for it.
    pub async fn client(&self) -> Result<Client, KubeError> {
        client_from_kubeconfig(&self.kubeconfig, None).await
    }
}

/// `kind create cluster` arguments: our config, our kubeconfig file.
pub fn create_args(name: &str, config: &Path, kubeconfig: &Path) -> Vec<String> {
    vec![
        "create".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--config".into(),
        config.display().to_string(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--wait".into(),
        "120s".into(),
    ]
}

/// `kind delete cluster` arguments.
pub fn delete_args(name: &str, kubeconfig: &Path) -> Vec<String> {
    vec![
        "delete".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
    ]
}

/// A client from a kubeconfig file and context.
pub async fn client_from_kubeconfig(
    path: &Path,
    context: Option<&str>,
) -> Result<Client, KubeError> {
    let kc = Kubeconfig::read_from(path).map_err(|e| KubeError::Env {
        var: format!("kubeconfig {}", path.display()),
        message: e.to_string(),
    })?;
    let opts = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| KubeError::Env {
            var: format!(
                "kubeconfig {} context {}",
                path.display(),
                context.unwrap_or("(current)")
            ),
            message: e.to_string(),
        })?;
    Client::try_from(config).map_err(KubeError::api("build a Kubernetes client"))
}

impl Drop for KindCluster {
    fn drop(&mut self) {
        if !self.owned {
            eprintln!(
                "stackproof: kind cluster {} was reused: left running",
                self.name
            );
            return;
        }
        if keep_requested() {
            eprintln!(
                "STACKPROOF_KEEP=1: kind cluster {} left running (kubeconfig {}); remove it with: kind delete cluster --name {}",
                self.name,
                self.kubeconfig.display(),
                self.name
            );
            return;
        }
        let kind = cmd::program_in(self.tool_dir.as_deref(), "kind");
        if let Err(e) = cmd::run_blocking(&kind, &delete_args(&self.name, &self.kubeconfig)) {
            eprintln!(
                "stackproof: could not delete kind cluster {}: {e}\nhint: kind delete cluster --name {}",
                self.name, self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_config_is_a_kind_cluster_with_a_pinned_node_image() {
        let v: serde_json::Value = serde_saphyr::from_str(CLUSTER_CONFIG).unwrap();
        assert_eq!(v["kind"], "Cluster");
        assert_eq!(v["apiVersion"], "kind.x-k8s.io/v1alpha4");
        let image = v["nodes"][0]["image"].as_str().unwrap();
        assert!(image.starts_with("kindest/node:v1."), "{image}");
    }

    #[test]
    fn kind_writes_its_kubeconfig_into_the_run_dir_not_the_users() {
        let a = create_args(
            "stackproof-ab12cd",
            Path::new("/run/c.yaml"),
            Path::new("/run/kubeconfig"),
        );
        assert_eq!(
            cmd::command_line("kind", &a),
            "kind create cluster --name stackproof-ab12cd --config /run/c.yaml --kubeconfig /run/kubeconfig --wait 120s"
        );
        let d = delete_args("stackproof-ab12cd", Path::new("/run/kubeconfig"));
        assert_eq!(
            cmd::command_line("kind", &d),
            "kind delete cluster --name stackproof-ab12cd --kubeconfig /run/kubeconfig"
        );
    }

    #[test]
    fn dropping_an_owned_cluster_deletes_it_and_a_reused_one_is_left() {
        if keep_requested() {
            eprintln!("STACKPROOF_KEEP is set: drop deletes nothing, not tested");
            return;
        }
        let tools = cmd::tests::recording_tools(&["kind"]);
        let cluster = |name: &str, owned| KindCluster {
            name: name.into(),
            owned,
            kubeconfig: "/run/kubeconfig".into(),
            tool_dir: Some(tools.path().to_owned()),
        };
        drop(cluster("stackproof-ab12cd", true));
        drop(cluster("mine", false));
        assert_eq!(
            cmd::tests::recorded(&tools),
            ["kind delete cluster --name stackproof-ab12cd --kubeconfig /run/kubeconfig"]
        );
    }

    #[test]
    fn the_gateway_is_the_networks_first_ipv4_address() {
        assert_eq!(
            first_ipv4("fc00:f853:ccd:e793::1 172.18.0.1 "),
            Some(std::net::IpAddr::from([172, 18, 0, 1]))
        );
        assert_eq!(first_ipv4("fc00::1 "), None);
    }

    #[test]
    fn run_ids_are_dns_labels() {
        let id = run_id();
        assert_eq!(id.len(), 6);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(run_id(), run_id());
    }

    #[tokio::test]
    async fn a_kubeconfig_context_that_does_not_exist_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kubeconfig");
        std::fs::write(
            &p,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n\
             users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: kind-x\n  context: {cluster: c, user: u}\ncurrent-context: kind-x\n",
        )
        .unwrap();
        client_from_kubeconfig(&p, None).await.unwrap();
        let e = match client_from_kubeconfig(&p, Some("staging")).await {
            Ok(_) => panic!("a context that is not in the kubeconfig was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("context staging"), "{e}");
    }
}
