//! What the scenarios assert, as pure functions over observations.

pub mod alerts;
pub mod blocks;
pub mod chunks;
pub mod compaction;
pub mod dedup;
pub mod gaps;
pub mod logseq;
pub mod outage;
pub mod served;
