//! Waits on Kubernetes objects: kube-rs `await_condition` (a watch, no
//! polling) wrapped in one deadline. A condition here is a function over
//! `Option<&K>` ("not found" is an observation, not an error) that either
//! holds or says what it saw instead, so a timeout names what was pending
//! and what was last seen, e.g. "timed out after 300s waiting for
//! statefulset stackproof/prometheus-sp-prometheus to be ready; last seen:
//! 1/2 replicas ready".

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::wait::await_condition;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::error::KubeError;

/// Waits until `check` holds for object `name`, at most `timeout`.
/// Returns the object as last seen (None when the condition holds for a
/// missing object, e.g. "pod gone").
pub async fn until<K, C>(
    api: &Api<K>,
    name: &str,
    what: impl Into<String>,
    timeout: Duration,
    check: C,
) -> Result<Option<K>, KubeError>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
    C: Fn(Option<&K>) -> Result<(), String> + Send,
{
    let what = what.into();
    let last = Arc::new(Mutex::new(String::from(
        "nothing yet (no answer from the API server)",
    )));
    let seen = last.clone();
    let cond = move |obj: Option<&K>| match check(obj) {
        Ok(()) => true,
        Err(s) => {
            *seen.lock().expect("wait state") = s;
            false
        }
    };
    let start = Instant::now();
    match tokio::time::timeout(timeout, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(obj)) => Ok(obj),
        Ok(Err(e)) => Err(KubeError::Watch {
            what,
            message: e.to_string(),
        }),
        Err(_) => Err(KubeError::Timeout {
            what,
            waited: start.elapsed(),
            last: last.lock().expect("wait state").clone(),
        }),
    }
}

/// Pod exists, is Running and its `Ready` condition is True (kube-rs'
/// `is_pod_running` is phase only: a Running pod may not serve yet).
pub fn pod_ready(obj: Option<&Pod>) -> Result<(), String> {
    let Some(pod) = obj else {
        return Err("pod not found".into());
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return Err("pod is terminating".into());
    }
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    if phase == "Running" && ready {
        return Ok(());
    }
    // Say why: a waiting container's reason (ImagePullBackOff, CrashLoopBackOff…).
    let waiting: Vec<String> = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|cs| {
            let w = cs.state.as_ref()?.waiting.as_ref()?;
            Some(format!(
                "{} {}",
                cs.name,
                w.reason.clone().unwrap_or_default()
            ))
        })
        .collect();
    let mut s = format!("phase {phase}, not ready");
    if !waiting.is_empty() {
        s.push_str(&format!(" (waiting: {})", waiting.join(", ")));
    }
    Err(s)
}

/// Pod is gone (deleted, not merely terminating).
pub fn pod_gone(obj: Option<&Pod>) -> Result<(), String> {
    match obj {
        None => Ok(()),
        Some(p) if p.metadata.deletion_timestamp.is_some() => Err("pod still terminating".into()),
        Some(p) => Err(format!(
            "pod exists (phase {})",
            p.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default()
        )),
    }
}

/// A pod other than the one with `old_uid` exists under the same name and
/// is Ready: what a StatefulSet does after a pod was deleted.
pub fn pod_replaced_and_ready(
    old_uid: Option<String>,
) -> impl Fn(Option<&Pod>) -> Result<(), String> + Send {
    move |obj| {
        if let (Some(p), Some(old)) = (obj, old_uid.as_deref())
            && p.metadata.uid.as_deref() == Some(old)
        {
            return Err("the deleted pod is still there".into());
        }
        pod_ready(obj)
    }
}

/// Deployment rolled out: observed its generation, every replica updated
/// and available (zero replicas: none left).
pub fn deployment_available(obj: Option<&Deployment>) -> Result<(), String> {
    let Some(d) = obj else {
        return Err("deployment not found".into());
    };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    let observed = st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let total = st.replicas.unwrap_or(0);
    if observed && available == want && updated == want && total == want {
        Ok(())
    } else {
        Err(format!(
            "{available}/{want} replicas available, {updated} updated, {total} present{}",
            if observed {
                ""
            } else {
                ", new spec not yet observed"
            }
        ))
    }
}

/// StatefulSet has every replica of its spec ready (and no extra ones).
pub fn statefulset_ready(obj: Option<&StatefulSet>) -> Result<(), String> {
    let Some(s) = obj else {
        return Err("statefulset not found".into());
    };
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = s.status.clone().unwrap_or_default();
    let observed = st.observed_generation.unwrap_or(0) >= s.metadata.generation.unwrap_or(0);
    let ready = st.ready_replicas.unwrap_or(0);
    if observed && ready == want && st.replicas == want {
        Ok(())
    } else {
        Err(format!(
            "{ready}/{want} replicas ready, {} present{}",
            st.replicas,
            if observed {
                ""
            } else {
                ", new spec not yet observed"
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::kube::mock::{self, Reply};
    use serde_json::json;

    fn pod(phase: &str, ready: bool, uid: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": uid, "resourceVersion": "1"},
            "status": {
                "phase": phase,
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [{
                    "name": "prometheus", "image": "i", "imageID": "", "ready": ready, "restartCount": 0,
                    "state": if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "ImagePullBackOff"}}) }
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn pod_ready_needs_the_ready_condition_not_just_running() {
        assert!(pod_ready(Some(&pod("Running", true, "a"))).is_ok());
        let e = pod_ready(Some(&pod("Running", false, "a"))).unwrap_err();
        assert!(
            e.contains("not ready") && e.contains("ImagePullBackOff"),
            "{e}"
        );
        assert_eq!(pod_ready(None).unwrap_err(), "pod not found");
    }

    #[test]
    fn pod_gone_holds_only_for_a_missing_pod() {
        assert!(pod_gone(None).is_ok());
        assert!(pod_gone(Some(&pod("Running", true, "a"))).is_err());
    }

    #[test]
    fn a_replaced_pod_must_have_a_new_uid_and_be_ready() {
        let c = pod_replaced_and_ready(Some("old".into()));
        assert!(
            c(Some(&pod("Running", true, "old")))
                .unwrap_err()
                .contains("still there")
        );
        assert!(c(Some(&pod("Pending", false, "new"))).is_err());
        assert!(c(Some(&pod("Running", true, "new"))).is_ok());
        assert!(c(None).is_err());
    }

    fn deployment(want: i32, available: i32, generation: i64, observed: i64) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": generation},
            "spec": {"replicas": want, "selector": {}, "template": {}},
            "status": {"observedGeneration": observed, "replicas": available, "availableReplicas": available, "updatedReplicas": available}
        }))
        .unwrap()
    }

    #[test]
    fn deployment_available_counts_replicas_and_generation() {
        assert!(deployment_available(Some(&deployment(1, 1, 2, 2))).is_ok());
        assert!(deployment_available(Some(&deployment(0, 0, 3, 3))).is_ok());
        let e = deployment_available(Some(&deployment(1, 1, 3, 2))).unwrap_err();
        assert!(e.contains("not yet observed"), "{e}");
        let e = deployment_available(Some(&deployment(2, 1, 1, 1))).unwrap_err();
        assert!(e.starts_with("1/2 replicas available"), "{e}");
        assert!(deployment_available(None).is_err());
    }

    #[test]
    fn statefulset_ready_counts_ready_replicas() {
        let s = |ready: i32| -> StatefulSet {
            serde_json::from_value(json!({
                "metadata": {"name": "s", "generation": 1},
                "spec": {"replicas": 2, "selector": {}, "serviceName": "s", "template": {}},
                "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": ready}
            }))
            .unwrap()
        };
        assert!(statefulset_ready(Some(&s(2))).is_ok());
        assert_eq!(
            statefulset_ready(Some(&s(1))).unwrap_err(),
            "1/2 replicas ready, 2 present"
        );
        assert_eq!(
            statefulset_ready(None).unwrap_err(),
            "statefulset not found"
        );
    }

    #[tokio::test]
    async fn until_returns_when_a_watch_event_satisfies_the_condition() {
        let not_ready = serde_json::to_value(pod("Pending", false, "u1")).unwrap();
        let ready = serde_json::to_value(pod("Running", true, "u1")).unwrap();
        let api = mock::serve(move |req| {
            if req.query.contains("watch=true") {
                Reply::watch(vec![json!({"type": "MODIFIED", "object": ready.clone()})])
            } else if req.method == "GET" {
                Reply::list("PodList", vec![not_ready.clone()])
            } else {
                Reply::status(404)
            }
        });
        let pods: Api<Pod> = Api::namespaced(api.client.clone(), "ns");
        let got = until(
            &pods,
            "p",
            "pod ns/p to be ready",
            Duration::from_secs(10),
            pod_ready,
        )
        .await
        .unwrap();
        assert!(pod_ready(got.as_ref()).is_ok());
        let reqs = api.requests();
        assert!(reqs[0].path == "/api/v1/namespaces/ns/pods", "{reqs:?}");
        assert!(
            reqs[0].query.contains("fieldSelector=metadata.name%3Dp"),
            "{reqs:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_names_what_was_pending_and_what_was_last_seen() {
        let not_ready = serde_json::to_value(pod("Pending", false, "u1")).unwrap();
        let api = mock::serve(move |req| {
            if req.query.contains("watch=true") {
                // The API server answers the watch with nothing new: hang.
                Reply::Hang
            } else {
                Reply::list("PodList", vec![not_ready.clone()])
            }
        });
        let pods: Api<Pod> = Api::namespaced(api.client.clone(), "ns");
        let err = until(
            &pods,
            "p",
            "pod ns/p to be ready",
            Duration::from_millis(300),
            pod_ready,
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("waiting for pod ns/p to be ready"), "{msg}");
        assert!(
            msg.contains(
                "last seen: phase Pending, not ready (waiting: prometheus ImagePullBackOff)"
            ),
            "{msg}"
        );
    }
}
