//! How each component is configured and started.

pub mod alertmanager;
pub mod config;
pub mod loki;
pub mod prometheus;
pub mod yaml;
