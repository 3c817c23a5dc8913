//! Deploying the stack into a new namespace: the S3 Secret, the object
//! store (kind), our manifests, the charts, then waiting until both
//! replicas' data is queryable.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use super::error::KubeError;
use super::guard::Teardown;
use super::helm::{self, HelmTarget, ValuesParams};
use super::loki::{KubeLoki, LOKI_SECRET};
use super::manifests::{self, Applier, FIELD_MANAGER, fixtures};
use super::names::*;
use super::pins;
use super::platform::KubePlatform;
use super::portforward::Target;
use super::s3_server;
use super::wait;
use crate::client::objstore::{S3Credentials, S3Target};
use crate::platform::{Endpoints, Stores};

impl KubePlatform {
    /// Deploys the stack into a new namespace and waits until both
    /// replicas' data is queryable through Thanos Query.
    ///
    /// On failure the error carries every pod's state in the namespace
    /// (phase, readiness, why a container waits), read before anything is
    /// cleaned up; `teardown` runs after that (on success, when the
    /// platform is dropped).
    pub async fn deploy(
        client: Client,
        opts: KubeStackOptions,
        teardown: Teardown,
    ) -> Result<Self, KubeError> {
        let ns = opts.namespace();
        match Self::deploy_inner(client.clone(), opts).await {
            Ok(mut s) => {
                s.teardown = teardown;
                Ok(s)
            }
            // A namespace that was not ours holds nothing of this run.
            Err(e @ KubeError::Env { .. }) => Err(e),
            Err(e) => Err(KubeError::Deploy {
                pods: pod_summary(&client, &ns).await,
                namespace: ns,
                source: Box::new(e),
            }),
        }
    }

    async fn deploy_inner(client: Client, opts: KubeStackOptions) -> Result<Self, KubeError> {
        let started = Instant::now();
        let ns = opts.namespace();
        let names = Names::new(&opts.fullname);
        create_namespace(&client, &ns, &opts.run_id).await?;

        // The bucket as pods see it and as the harness sees it.
        let (in_cluster, server) = match &opts.object_store {
            ObjectStore::InCluster { server, bucket } => (
                S3Target {
                    endpoint: s3_server::in_cluster_endpoint(&ns),
                    bucket: bucket.clone(),
                    region: "us-east-1".into(),
                    insecure: true,
                    credentials: S3Credentials::generate(),
                },
                Some(*server),
            ),
            ObjectStore::External(t) => (t.clone(), None),
        };
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        secrets
            .patch(
                S3_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(s3_secret(&ns, &opts.run_id, &in_cluster)),
            )
            .await
            .map_err(KubeError::api(format!("apply secret {ns}/{S3_SECRET}")))?;
        secrets
            .patch(
                LOKI_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(loki_secret(&ns, &in_cluster.credentials)),
            )
            .await
            .map_err(KubeError::api(format!("apply secret {ns}/{LOKI_SECRET}")))?;
        // Before the chart: the Alertmanagers mount it when they start.
        secrets
            .patch(
                super::alerting::CONFIG_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(super::alerting::placeholder_config_secret()),
            )
            .await
            .map_err(KubeError::api(format!(
                "apply secret {ns}/{}",
                super::alerting::CONFIG_SECRET
            )))?;

        let mut stack = KubePlatform {
            client: client.clone(),
            ns: ns.clone(),
            names: names.clone(),
            endpoints: Endpoints {
                query: String::new(),
                prometheus: Vec::new(),
                sidecars: Vec::new(),
                store: None,
                s3: in_cluster.clone(),
            },
            forwards: Vec::new(),
            components: Vec::new(),
            killed: BTreeSet::new(),
            extras: 0,
            compactions: 0,
            loki: None,
            alertmanager_url: None,
            alertmanager_urls: Vec::new(),
            alertmanagers_down: false,
            ready_after: Duration::ZERO,
            teardown: Teardown::new(),
            opts,
        };
        let mut applier = Applier::new(client.clone(), &ns);
        let replica_label = stack.opts.shape.replica_label.clone();
        let vars = |extra: &[(&'static str, String)]| {
            let mut v = vec![
                ("NAMESPACE", ns.clone()),
                ("S3_SECRET", S3_SECRET.to_owned()),
                ("THANOS_IMAGE", pins::THANOS_IMAGE.to_owned()),
                ("EXPORTER_IMAGE", pins::EXPORTER_IMAGE.to_owned()),
                ("REPLICA_LABEL", replica_label.clone()),
            ];
            v.extend_from_slice(extra);
            v
        };

        // 1. Object storage first: every writer needs the bucket.
        if let Some(server) = server {
            let text = manifests::render(
                "object store",
                server.template(),
                &vars(&[("S3_IMAGE", server.image().to_owned())]),
            )?;
            applier
                .apply_all(&manifests::parse(server.name(), &text)?)
                .await?;
            stack.component(
                "s3",
                &format!("deployment/{}", s3_server::S3_NAME),
                server.container(),
                None,
            );
        }
        // 2. Everything else at once: it all starts in parallel.
        let exporter = manifests::render("exporter.yaml", fixtures::EXPORTER, &vars(&[]))?;
        applier
            .apply_all(&manifests::parse("exporter.yaml", &exporter)?)
            .await?;
        let thanos = manifests::render("thanos.yaml", fixtures::THANOS, &vars(&[]))?;
        applier
            .apply_all(&manifests::parse("thanos.yaml", &thanos)?)
            .await?;
        let query = query_manifest(&ns, &names, QUERY, &stack.query_labels(), Stores::All)?;
        applier
            .apply_all(&manifests::parse("thanos-query.yaml", &query)?)
            .await?;
        stack.helm_install(&in_cluster).await?;

        // 3. Wait, naming what is pending.
        let t = stack.opts.timeout;
        if server.is_some() {
            stack.wait_deployment(s3_server::S3_NAME, t).await?;
            let fwd = stack
                .forward(Target::Service {
                    name: s3_server::S3_NAME.into(),
                    port: s3_server::S3_PORT,
                })
                .await?;
            stack.endpoints.s3 = S3Target {
                endpoint: fwd,
                ..in_cluster.clone()
            };
            stack.wait_bucket(true).await?;
        } else {
            stack.wait_bucket(false).await?;
        }
        // Not the compactor: it only matters to the compactor scenario, which
        // waits on its metrics; a halted one must not stop the whole stack.
        for d in [EXPORTER, STORE, QUERY] {
            stack.wait_deployment(d, t).await?;
        }
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
        let sts = names.statefulset();
        wait::until(
            &sets,
            &sts,
            format!("statefulset {ns}/{sts} to be ready"),
            t,
            wait::statefulset_ready,
        )
        .await?;
        let loki = names.loki();
        if stack.opts.loki {
            wait::until(
                &sets,
                loki,
                format!("statefulset {ns}/{loki} to be ready"),
                t,
                wait::statefulset_ready,
            )
            .await?;
        }

        // 4. Port-forwards for everything the scenarios reach.
        stack.endpoints.query = stack
            .forwarded_component(
                "query",
                &format!("deployment/{QUERY}"),
                "query",
                Target::Service {
                    name: QUERY.into(),
                    port: 10902,
                },
            )
            .await?;
        let store = stack
            .forwarded_component(
                "store",
                &format!("deployment/{STORE}"),
                "store",
                Target::Service {
                    name: STORE.into(),
                    port: 10902,
                },
            )
            .await?;
        stack.endpoints.store = Some(store);
        stack.component("compact", &format!("deployment/{COMPACT}"), "compact", None);
        stack.component(
            "exporter",
            &format!("deployment/{EXPORTER}"),
            "exporter",
            None,
        );
        for i in 0..stack.opts.shape.replicas {
            let pod = names.pod(i);
            let p = stack
                .forwarded_component(
                    &format!("prometheus-{i}"),
                    &format!("pod/{pod}"),
                    "prometheus",
                    Target::Pod {
                        name: pod.clone(),
                        port: 9090,
                    },
                )
                .await?;
            let s = stack
                .forwarded_component(
                    &format!("sidecar-{i}"),
                    &format!("pod/{pod}"),
                    "thanos-sidecar",
                    Target::Pod {
                        name: pod.clone(),
                        port: 10902,
                    },
                )
                .await?;
            stack.endpoints.prometheus.push(p);
            stack.endpoints.sidecars.push(s);
        }
        if stack.opts.loki {
            let loki_url = stack
                .forwarded_component(
                    "loki",
                    &format!("statefulset/{loki}"),
                    "loki",
                    Target::Service {
                        name: loki.into(),
                        port: 3100,
                    },
                )
                .await?;
            stack.loki = Some(KubeLoki {
                client: stack.client.clone(),
                ns: ns.clone(),
                name: loki.to_owned(),
                url: loki_url,
                bucket: stack.endpoints.s3.clone(),
                in_cluster: in_cluster.clone(),
                timeout: stack.opts.timeout,
                wrong_key: None,
            });
        }
        let am = names.alertmanager_pod();
        let am_url = stack
            .forwarded_component(
                "alertmanager",
                &format!("pod/{am}"),
                "alertmanager",
                Target::Pod {
                    name: am.clone(),
                    port: 9093,
                },
            )
            .await?;
        stack.alertmanager_url = Some(am_url);
        stack.component(
            "operator",
            &format!("deployment/{}", names.operator()),
            "kube-prometheus-stack",
            None,
        );

        // 5. The data flows end to end.
        let all: Vec<String> = (0..stack.opts.shape.replicas)
            .map(|i| i.to_string())
            .collect();
        crate::platform::local::wait_replicas_in_query(
            &stack.endpoints.query,
            &stack.opts.shape.replica_label,
            &all,
            crate::data::exporter::now_ms(),
        )
        .await
        .map_err(|e| KubeError::Manifest {
            name: "stack".into(),
            message: format!("deployed, but the data does not flow: {e}"),
        })?;
        stack.ready_after = started.elapsed();
        Ok(stack)
    }

    pub(super) fn query_labels(&self) -> Vec<String> {
        vec![self.opts.shape.replica_label.clone()]
    }

    pub(super) fn values_params(&self, s3: &S3Target) -> ValuesParams {
        ValuesParams {
            namespace: self.ns.clone(),
            fullname: self.opts.fullname.clone(),
            scrape_interval: self.opts.shape.scrape_interval,
            block_duration: self.opts.shape.block_duration,
            replica_label: self.opts.shape.replica_label.clone(),
            cluster: self.opts.shape.cluster.clone(),
            replicas: self.opts.shape.replicas,
            s3_secret: S3_SECRET.into(),
            bucket: s3.bucket.clone(),
            s3_endpoint: s3.endpoint.clone(),
            s3_region: s3.region.clone(),
            s3_insecure: s3.insecure,
        }
    }

    /// Where helm finds the cluster.
    pub fn helm_target(&self) -> HelmTarget<'_> {
        HelmTarget {
            kubeconfig: &self.opts.kubeconfig,
            context: self.opts.context.as_deref(),
            namespace: &self.ns,
        }
    }

    pub(super) async fn helm_install(&self, s3: &S3Target) -> Result<(), KubeError> {
        let p = self.values_params(s3);
        let dir = self.opts.run_dir.join("values");
        let t = self.helm_target();
        helm::install(
            &pins::KUBE_PROMETHEUS_STACK,
            &self.opts.fullname,
            &helm::kube_prometheus_stack_values(&p)?,
            &dir.join("kube-prometheus-stack.yaml"),
            &t,
            self.opts.skip_crds,
        )
        .await?;
        if !self.opts.loki {
            return Ok(());
        }
        helm::install(
            &pins::LOKI,
            pins::LOKI.release,
            &helm::loki_values(&p)?,
            &dir.join("loki.yaml"),
            &t,
            false,
        )
        .await
    }

    /// The helm releases this stack installed (for cleanup).
    pub fn releases(&self) -> Vec<String> {
        let mut r = vec![self.opts.fullname.clone()];
        if self.opts.loki {
            r.push(pins::LOKI.release.to_owned());
        }
        r
    }
}
