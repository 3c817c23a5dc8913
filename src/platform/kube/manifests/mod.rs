//! Our own manifests (`fixtures/kind/*.yaml`, compiled in so the harness
//! runs from any directory): rendered from `@NAME@` placeholders, parsed
//! as multi-document YAML, and server-side applied in document order
//! through discovery + `Patch::Apply`, the way `kubectl apply
//! --server-side` does it.

use std::collections::HashMap;

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope, pinned_kind};
use kube::{Api, Client};

use super::error::KubeError;

/// The field manager of everything stackproof applies.
pub const FIELD_MANAGER: &str = "stackproof";

/// The fixtures, by file name.
pub mod fixtures {
    /// MinIO in the cluster.
    pub const OBJECT_STORE_MINIO: &str =
        include_str!("../../../../fixtures/kind/object-store-minio.yaml");
    /// SeaweedFS in the cluster.
    pub const OBJECT_STORE_SEAWEEDFS: &str =
        include_str!("../../../../fixtures/kind/object-store-seaweedfs.yaml");
    /// The synthetic exporter.
    pub const EXPORTER: &str = include_str!("../../../../fixtures/kind/exporter.yaml");
    /// Thanos store gateway and compactor.
    pub const THANOS: &str = include_str!("../../../../fixtures/kind/thanos.yaml");
    /// A Thanos Query.
    pub const THANOS_QUERY: &str = include_str!("../../../../fixtures/kind/thanos-query.yaml");
    /// kube-prometheus-stack values.
    pub const KPS_VALUES: &str =
        include_str!("../../../../fixtures/kind/kube-prometheus-stack.values.yaml");
    /// Loki chart values.
    pub const LOKI_VALUES: &str = include_str!("../../../../fixtures/kind/loki.values.yaml");
}

/// Replaces every `@NAME@` with its value; a placeholder without a value is
/// an error naming it (a half-rendered manifest is never applied).
pub fn render(name: &str, template: &str, vars: &[(&str, String)]) -> Result<String, KubeError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if len > 0 && after[len..].starts_with('@') {
            let key = &after[..len];
            let value = vars
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v)
                .ok_or_else(|| KubeError::Manifest {
                    name: name.into(),
                    message: format!("placeholder @{key}@ has no value"),
                })?;
            out.push_str(value);
            rest = &after[len + 1..];
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses multi-document YAML into objects (empty documents skipped); each
/// must carry `apiVersion`, `kind` and `metadata.name`.
pub fn parse(name: &str, yaml: &str) -> Result<Vec<DynamicObject>, KubeError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_str_multiple(yaml).map_err(|e| KubeError::Manifest {
            name: name.into(),
            message: e.to_string(),
        })?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .enumerate()
        .map(|(i, d)| {
            let obj: DynamicObject =
                serde_json::from_value(d).map_err(|e| KubeError::Manifest {
                    name: format!("{name} document {}", i + 1),
                    message: e.to_string(),
                })?;
            let what = |m: &str| KubeError::Manifest {
                name: format!("{name} document {}", i + 1),
                message: m.into(),
            };
            let types = obj
                .types
                .as_ref()
                .ok_or_else(|| what("no apiVersion/kind"))?;
            if types.api_version.is_empty() || types.kind.is_empty() {
                return Err(what("empty apiVersion or kind"));
            }
            if obj.metadata.name.as_deref().is_none_or(str::is_empty) {
                return Err(what("no metadata.name"));
            }
            Ok(obj)
        })
        .collect()
}

/// `Kind/name` of an object, for messages.
pub fn describe(obj: &DynamicObject) -> String {
    format!(
        "{}/{}",
        obj.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
        obj.metadata.name.as_deref().unwrap_or("?")
    )
}

fn gvk_of(obj: &DynamicObject) -> GroupVersionKind {
    let t = obj.types.clone().unwrap_or_default();
    let (group, version) = match t.api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), t.api_version.clone()),
    };
    GroupVersionKind::gvk(&group, &version, &t.kind)
}

/// Server-side applies objects into one namespace, resolving each kind
/// once through discovery (so CRD kinds work as soon as they exist).
pub struct Applier {
    client: Client,
    namespace: String,
    kinds: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>,
}

impl Applier {
    /// An applier for `namespace`.
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            kinds: HashMap::new(),
        }
    }

    async fn api_for(&mut self, obj: &DynamicObject) -> Result<Api<DynamicObject>, KubeError> {
        let gvk = gvk_of(obj);
        if !self.kinds.contains_key(&gvk) {
            let found = pinned_kind(&self.client, &gvk)
                .await
                .map_err(KubeError::api(format!(
                    "discover {}/{} {}",
                    gvk.group, gvk.version, gvk.kind
                )))?;
            self.kinds.insert(gvk.clone(), found);
        }
        let (ar, caps) = &self.kinds[&gvk];
        Ok(match caps.scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), &self.namespace, ar),
            Scope::Cluster => Api::all_with(self.client.clone(), ar),
        })
    }

    /// Applies one object (force: stackproof owns what it applies).
    pub async fn apply(&mut self, obj: &DynamicObject) -> Result<DynamicObject, KubeError> {
        let api = self.api_for(obj).await?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        let mut obj = obj.clone();
        // The namespace is the run's, whatever the document says.
        obj.metadata.namespace = None;
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .map_err(KubeError::api(format!(
                "apply {} in namespace {}",
                describe(&obj),
                self.namespace
            )))
    }

    /// Applies every object in order; stops at the first failure.
    pub async fn apply_all(&mut self, objs: &[DynamicObject]) -> Result<(), KubeError> {
        for obj in objs {
            self.apply(obj).await?;
        }
        Ok(())
    }

    /// Deletes an object; a missing one is fine.
    pub async fn delete(&mut self, obj: &DynamicObject) -> Result<(), KubeError> {
        let api = self.api_for(obj).await?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &Default::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(KubeError::Api {
                what: format!("delete {} in namespace {}", describe(obj), self.namespace),
                source: e,
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
