//! Known data the harness writes into the stack.

pub mod backfill;
pub mod exporter;
pub mod loggen;
