//! How each component is configured and started.

pub mod config;
pub mod loki;
