//! What a run leaves to undo, undone on drop.

use std::path::PathBuf;

use super::cmd;
use super::helm::{self, HelmTarget};

/// Removes a run's namespace and helm releases when dropped (unless
/// `STACKPROOF_KEEP=1`): used where the cluster outlives the run (the
/// `cluster` platform, a reused kind cluster). Blocking CLI calls, so it
/// works from `Drop` whatever the runtime is doing.
#[derive(Debug)]
pub struct NamespaceGuard {
    /// The run's namespace.
    pub namespace: String,
    /// Helm releases in it (uninstalled first: they own cluster-scoped objects).
    pub releases: Vec<String>,
    /// Kubeconfig file.
    pub kubeconfig: PathBuf,
    /// Context in it.
    pub context: Option<String>,
    /// Where helm and kubectl are (None: PATH).
    pub tool_dir: Option<PathBuf>,
}

impl NamespaceGuard {
    /// The commands that undo the run, in order (also printed when kept).
    pub fn cleanup_commands(&self) -> Vec<(String, Vec<String>)> {
        let t = HelmTarget {
            kubeconfig: &self.kubeconfig,
            context: self.context.as_deref(),
            namespace: &self.namespace,
        };
        let mut cmds: Vec<(String, Vec<String>)> = self
            .releases
            .iter()
            .map(|r| {
                (
                    cmd::program_in(self.tool_dir.as_deref(), "helm"),
                    helm::uninstall_args(r, &t),
                )
            })
            .collect();
        let mut k = vec![
            "delete".to_owned(),
            "namespace".to_owned(),
            self.namespace.clone(),
            "--ignore-not-found".to_owned(),
            "--wait=false".to_owned(),
            "--kubeconfig".to_owned(),
            self.kubeconfig.display().to_string(),
        ];
        if let Some(c) = &self.context {
            k.push("--context".into());
            k.push(c.clone());
        }
        cmds.push((cmd::program_in(self.tool_dir.as_deref(), "kubectl"), k));
        cmds
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let cmds = self.cleanup_commands();
        if crate::process::keep_requested() {
            eprintln!(
                "STACKPROOF_KEEP=1: namespace {} left in place; remove it with:",
                self.namespace
            );
            for (p, a) in &cmds {
                eprintln!("  {}", cmd::command_line(p, a));
            }
            return;
        }
        for (p, a) in &cmds {
            if let Err(e) = cmd::run_blocking(p, a) {
                eprintln!(
                    "stackproof: cleanup step failed: {e}\nhint: {}",
                    cmd::command_line(p, a)
                );
            }
        }
    }
}

/// Everything a run must undo besides its port-forwards, in the order it
/// is undone: the namespace before the cluster that holds it, the run
/// directory last (collected logs stay readable until then). A kind cluster
/// the run created, a namespace on a cluster that outlives it, or both.
#[derive(Default)]
pub struct Teardown {
    steps: Vec<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Teardown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Teardown({} steps)", self.steps.len())
    }
}

impl Teardown {
    /// Nothing to undo yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `guard`, undone (dropped) after every guard added before it.
    pub fn then(mut self, guard: impl Send + Sync + 'static) -> Self {
        self.steps.push(Box::new(guard));
        self
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        // Vec drops front to back already; draining says the order is meant.
        for step in self.steps.drain(..) {
            drop(step);
        }
    }
}
