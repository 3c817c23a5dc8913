//! Can the kubeconfig's API server be reached? Asked before the cluster
//! platform is chosen, so a kubeconfig pointing nowhere is said in one line
//! (which server, which context, which file) instead of as a Kubernetes
//! client error deep in the stack's start.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// An API server that answers at all does so within this.
const CONNECT_LIMIT: Duration = Duration::from_secs(3);

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(default)]
    clusters: Vec<NamedCluster>,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Deserialize)]
struct Cluster {
    server: String,
}

/// The context to use and its API server's URL.
fn server(text: &str, context: Option<&str>) -> Result<(String, String), String> {
    let kc: Kubeconfig =
        serde_saphyr::from_str(text).map_err(|e| format!("it does not parse: {e}"))?;
    let ctx = context
        .map(str::to_owned)
        .or(kc.current_context)
        .ok_or("it has no current-context and no --context was given")?;
    let c = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx)
        .ok_or_else(|| format!("it has no context `{ctx}`"))?;
    let cl = kc
        .clusters
        .iter()
        .find(|cl| cl.name == c.context.cluster)
        .ok_or_else(|| format!("its context `{ctx}` names no cluster it has"))?;
    Ok((ctx, cl.cluster.server.clone()))
}

/// Ok when a TCP connection to the API server of `context` (default: the
/// current one) in `kubeconfig` opens; else one line saying which server
/// is unreachable and what to look at.
pub fn probe(kubeconfig: &Path, context: Option<&str>) -> Result<(), String> {
    let shown = kubeconfig.display();
    let text = std::fs::read_to_string(kubeconfig)
        .map_err(|e| format!("cannot read the kubeconfig {shown}: {e}"))?;
    let (ctx, server) = server(&text, context)
        .map_err(|e| format!("the kubeconfig {shown} cannot be used: {e}"))?;
    let unreachable = |why: String| {
        format!(
            "the cluster is unreachable: API server {server} (context `{ctx}` of {shown}): {why}; is the cluster running, and are this kubeconfig and context the ones you meant (--kubeconfig, --context)?"
        )
    };
    let url = url::Url::parse(&server).map_err(|e| unreachable(format!("not a URL: {e}")))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_LIMIT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(unreachable(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: ca, user: u}\n- name: b\n  context: {cluster: cb, user: u}\nclusters:\n- name: ca\n  cluster: {server: 'https://127.0.0.1:1'}\n- name: cb\n  cluster: {server: 'https://10.0.0.2:6443'}\nusers:\n- name: u\n  user: {}\n";

    #[test]
    fn the_context_picks_the_server() {
        assert_eq!(
            server(KC, None).unwrap(),
            ("a".into(), "https://127.0.0.1:1".into())
        );
        assert_eq!(server(KC, Some("b")).unwrap().1, "https://10.0.0.2:6443");
        assert!(
            server(KC, Some("c"))
                .unwrap_err()
                .contains("no context `c`")
        );
    }

    #[test]
    fn a_server_pointing_nowhere_is_named_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, KC).unwrap();
        let e = probe(&kc, None).unwrap_err();
        assert!(
            e.starts_with(
                "the cluster is unreachable: API server https://127.0.0.1:1 (context `a` of "
            ),
            "{e}"
        );
        assert!(e.contains("refused"), "{e}");
        assert!(e.contains("--kubeconfig, --context"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
