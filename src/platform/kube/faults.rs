//! Faults through the Kubernetes API: what `kill_replica`, `restart_replica`,
//! `remove_replica_data` and the object-storage outage do on kind and on a
//! staging cluster.
//!
//! Killing a replica is more than deleting its pod: the StatefulSet would
//! recreate it within seconds, and the scenario needs it to stay down. So
//! the operator is paused (`spec.paused` on the Prometheus resource, else it
//! would undo the next step), the StatefulSet's window of ordinals is
//! narrowed to the replicas still alive (`spec.ordinals.start` +
//! `spec.replicas`), and the pod is deleted with a grace period of 0 — a
//! SIGKILL, as on the local platform. Restarting widens the window again,
//! waits for the pod to be Ready on its own volume, and unpauses the
//! operator once every replica is back.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::error::KubeError;

/// Deletes a pod at once (grace period 0). Returns its uid, None when it
/// was already gone.
pub async fn delete_pod_now(pods: &Api<Pod>, name: &str) -> Result<Option<String>, KubeError> {
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    match pods.delete(name, &dp).await {
        Ok(either) => Ok(either.left().and_then(|p| p.metadata.uid)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(KubeError::Api {
            what: format!("delete pod {name}"),
            source: e,
        }),
    }
}

/// Deletes a PersistentVolumeClaim (a missing one is fine).
pub async fn delete_pvc(pvcs: &Api<PersistentVolumeClaim>, name: &str) -> Result<(), KubeError> {
    match pvcs.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(KubeError::Api {
            what: format!("delete persistentvolumeclaim {name}"),
            source: e,
        }),
    }
}

/// Sets a Deployment's replica count.
pub async fn scale_deployment(
    deployments: &Api<Deployment>,
    name: &str,
    replicas: i32,
) -> Result<(), KubeError> {
    deployments
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map_err(KubeError::api(format!(
            "scale deployment {name} to {replicas}"
        )))?;
    Ok(())
}

/// The Prometheus kind of prometheus-operator.
pub fn prometheus_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "Prometheus"),
        "prometheuses",
    )
}

/// The Alertmanager kind of prometheus-operator.
pub fn alertmanager_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "Alertmanager"),
        "alertmanagers",
    )
}

/// Pauses or resumes the operator's reconciliation of one Prometheus.
pub async fn set_prometheus_paused(
    client: &Client,
    ns: &str,
    name: &str,
    paused: bool,
) -> Result<(), KubeError> {
    set_paused(client, ns, &prometheus_resource(), name, paused).await
}

/// Pauses or resumes the operator's reconciliation of one of its
/// resources (`resource`: Prometheus or Alertmanager), so that a narrowed
/// StatefulSet stays as the harness set it.
pub async fn set_paused(
    client: &Client,
    ns: &str,
    resource: &ApiResource,
    name: &str,
    paused: bool,
) -> Result<(), KubeError> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, resource);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": paused}})),
    )
    .await
    .map_err(KubeError::api(format!(
        "{} {} {ns}/{name}",
        if paused { "pause" } else { "resume" },
        resource.kind.to_lowercase()
    )))?;
    Ok(())
}

/// Which ordinals a StatefulSet of `replicas` keeps running when `killed`
/// are down: `(start, count)`. A StatefulSet runs a contiguous range of
/// ordinals, so the survivors must be one.
pub fn alive_window(replicas: usize, killed: &BTreeSet<usize>) -> Result<(i32, i32), String> {
    let alive: Vec<usize> = (0..replicas).filter(|i| !killed.contains(i)).collect();
    match (alive.first(), alive.last()) {
        (None, _) | (_, None) => Ok((0, 0)),
        (Some(&first), Some(&last)) if last - first + 1 == alive.len() => {
            Ok((first as i32, alive.len() as i32))
        }
        _ => Err(format!(
            "replicas {alive:?} alive out of {replicas}: a StatefulSet can only keep a contiguous range running"
        )),
    }
}

/// Runs ordinals `start .. start + count` of a StatefulSet.
pub async fn set_statefulset_window(
    sets: &Api<StatefulSet>,
    name: &str,
    start: i32,
    count: i32,
) -> Result<(), KubeError> {
    sets.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": count, "ordinals": {"start": start}}})),
    )
    .await
    .map_err(KubeError::api(format!(
        "set statefulset {name} to {count} replica(s) from ordinal {start}"
    )))?;
    Ok(())
}

/// The claim a StatefulSet made for pod `pod` from its first volume claim
/// template: `<template>-<pod>`.
pub fn claim_name(set: &StatefulSet, pod: &str) -> Option<String> {
    let tmpl = set
        .spec
        .as_ref()?
        .volume_claim_templates
        .as_ref()?
        .first()?;
    Some(format!("{}-{pod}", tmpl.metadata.name.as_deref()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::kube::mock::{self, Reply};

    #[test]
    fn the_alive_window_is_the_contiguous_range_of_survivors() {
        let k = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(alive_window(2, &k(&[])), Ok((0, 2)));
        assert_eq!(alive_window(2, &k(&[0])), Ok((1, 1)));
        assert_eq!(alive_window(2, &k(&[1])), Ok((0, 1)));
        assert_eq!(alive_window(2, &k(&[0, 1])), Ok((0, 0)));
        assert_eq!(alive_window(3, &k(&[0, 2])), Ok((1, 1)));
        assert!(
            alive_window(3, &k(&[1]))
                .unwrap_err()
                .contains("contiguous")
        );
    }

    #[test]
    fn the_claim_name_follows_the_statefulset_template() {
        let s: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "prometheus-sp-prometheus"},
            "spec": {"selector": {}, "serviceName": "x", "template": {},
                     "volumeClaimTemplates": [{"metadata": {"name": "prometheus-sp-prometheus-db"}}]}
        }))
        .unwrap();
        assert_eq!(
            claim_name(&s, "prometheus-sp-prometheus-0").as_deref(),
            Some("prometheus-sp-prometheus-db-prometheus-sp-prometheus-0")
        );
    }

    #[tokio::test]
    async fn a_pod_kill_is_a_delete_with_grace_period_zero() {
        let api = mock::serve(|req| {
            if req.method == "DELETE" {
                Reply::ok(
                    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u-1"}}),
                )
            } else {
                Reply::status(404)
            }
        });
        let pods: Api<Pod> = Api::namespaced(api.client.clone(), "ns");
        assert_eq!(
            delete_pod_now(&pods, "p").await.unwrap().as_deref(),
            Some("u-1")
        );
        let req = &api.requests()[0];
        assert_eq!(req.path, "/api/v1/namespaces/ns/pods/p");
        assert_eq!(req.json()["gracePeriodSeconds"], 0, "{}", req.json());
    }

    #[tokio::test]
    async fn deleting_a_missing_pod_or_claim_is_fine_other_errors_are_not() {
        let api = mock::serve(|req| {
            if req.path.ends_with("/forbidden") {
                Reply::status(403)
            } else {
                Reply::status(404)
            }
        });
        let pods: Api<Pod> = Api::namespaced(api.client.clone(), "ns");
        assert_eq!(delete_pod_now(&pods, "gone").await.unwrap(), None);
        let e = delete_pod_now(&pods, "forbidden").await.unwrap_err();
        assert!(e.to_string().starts_with("delete pod forbidden:"), "{e}");
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(api.client.clone(), "ns");
        delete_pvc(&pvcs, "gone").await.unwrap();
    }

    #[tokio::test]
    async fn scaling_and_windows_are_merge_patches() {
        let api = mock::serve(Reply::object_for);
        let deps: Api<Deployment> = Api::namespaced(api.client.clone(), "ns");
        scale_deployment(&deps, "stackproof-s3", 0).await.unwrap();
        let sets: Api<StatefulSet> = Api::namespaced(api.client.clone(), "ns");
        set_statefulset_window(&sets, "prometheus-sp-prometheus", 1, 1)
            .await
            .unwrap();
        set_prometheus_paused(&api.client, "ns", "sp-prometheus", true)
            .await
            .unwrap();
        let reqs = api.requests();
        assert_eq!(
            api.calls(),
            [
                "PATCH /apis/apps/v1/namespaces/ns/deployments/stackproof-s3",
                "PATCH /apis/apps/v1/namespaces/ns/statefulsets/prometheus-sp-prometheus",
                "PATCH /apis/monitoring.coreos.com/v1/namespaces/ns/prometheuses/sp-prometheus",
            ]
        );
        assert!(
            reqs.iter()
                .all(|r| r.content_type == "application/merge-patch+json")
        );
        assert_eq!(reqs[0].json(), json!({"spec": {"replicas": 0}}));
        assert_eq!(
            reqs[1].json(),
            json!({"spec": {"replicas": 1, "ordinals": {"start": 1}}})
        );
        assert_eq!(reqs[2].json(), json!({"spec": {"paused": true}}));
    }
}
