//! What the scenarios assert, as pure functions over observations.

pub mod dedup;
pub mod gaps;
pub mod logseq;
