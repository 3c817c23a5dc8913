//! Upgrade validation A → B: the pair of Prometheus builds, and the rule
//! and query diff of the two over the same data. The rolling upgrade
//! itself is the `upgrade` scenario ([`crate::scenario::upgrade`]).

pub mod catalogue;
pub mod diff;
pub mod pair;
pub mod run;

#[cfg(test)]
mod tests;
