//! Clients for the components' APIs.

pub mod loki;
pub mod objstore;
pub mod prom;
