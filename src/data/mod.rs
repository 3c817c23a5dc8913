//! Known data the harness writes into the stack.

pub mod exporter;
pub mod loggen;
