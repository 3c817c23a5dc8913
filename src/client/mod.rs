//! Clients for the components' APIs.

pub mod alertmanager;
pub mod http;
pub mod loki;
pub mod objstore;
pub mod pprof;
pub mod prom;

/// The whole chain of an error (e.g. reqwest's: "error sending request:
/// connection refused") on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
