//! Clients for the components' APIs.

pub mod objstore;
pub mod prom;
