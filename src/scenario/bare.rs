//! A platform for unit tests that provides no [`Need`] and panics on every
//! fault: a scenario run on it must be skipped before it touches anything.

use std::time::Duration;

use async_trait::async_trait;

use crate::client::objstore::{S3Credentials, S3Target};
use crate::platform::{
    CompactPass, CompactRun, ComponentInfo, Endpoints, ExtraQuery, LokiService, Need, Platform,
    PlatformError, StackShape,
};

/// Endpoints on port 9 (discard): any call would fail a check, not skip it.
pub struct Bare(Endpoints, StackShape);

impl Bare {
    /// A bare platform with local-like shape.
    pub fn new() -> Self {
        let s3 = S3Target {
            endpoint: "127.0.0.1:9".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: S3Credentials::generate(),
        };
        let endpoints = Endpoints {
            query: "http://127.0.0.1:9".into(),
            prometheus: Vec::new(),
            sidecars: Vec::new(),
            store: None,
            s3,
        };
        let shape = StackShape {
            scrape_interval: Duration::from_secs(1),
            block_duration: Duration::from_secs(30),
            replica_label: "replica".into(),
            cluster: "c".into(),
            replicas: 2,
            config_reload: Duration::ZERO,
        };
        Self(endpoints, shape)
    }
}

#[async_trait]
impl Platform for Bare {
    fn name(&self) -> &'static str {
        "bare"
    }
    fn endpoints(&self) -> &Endpoints {
        &self.0
    }
    fn shape(&self) -> &StackShape {
        &self.1
    }
    fn components(&self) -> Vec<ComponentInfo> {
        Vec::new()
    }
    fn provides(&self, need: Need) -> Result<(), String> {
        Err(format!("the bare platform provides no {need:?}"))
    }
    async fn kill_replica(&mut self, _: usize) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn restart_replica(&mut self, _: usize) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn remove_replica_data(&mut self, _: usize) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn stop_object_storage(&mut self) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn start_object_storage(&mut self) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn start_extra_query(&mut self, _: ExtraQuery) -> Result<String, PlatformError> {
        unreachable!("no fault expected")
    }
    async fn sidecar_credentials(&mut self, _: usize, _: bool) -> Result<(), PlatformError> {
        unreachable!("no fault expected")
    }
    async fn compact_once(&mut self, _: &CompactRun) -> Result<CompactPass, PlatformError> {
        unreachable!("no compactor expected")
    }
    async fn collect_diagnostics(&self, _: &std::path::Path) -> Vec<String> {
        Vec::new()
    }
    async fn loki(&mut self) -> Result<&mut dyn LokiService, PlatformError> {
        unreachable!("no Loki expected")
    }
}
