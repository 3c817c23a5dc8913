//! stackproof: an end-to-end harness that proves a Prometheus HA + Thanos +
//! S3 + Loki 3 stack keeps every sample and every log line.
//!
//! The pieces: [`platform`] runs the stack (real programs), [`data`] writes
//! known data into it, [`client`] reads it back, [`check`] compares, and
//! [`scenario`] strings these into the named scenarios that [`report`]
//! writes up.

pub mod assertions;
pub mod buildinfo;
pub mod cancel;
pub mod check;
pub mod client;
pub mod data;
pub mod doctor;
pub mod eventually;
pub mod exec_file;
pub mod platform;
pub mod ports;
pub mod process;
pub mod procfs;
mod progress;
pub mod report;
pub mod repro;
pub mod runs;
pub mod scenario;
pub mod secret;
pub mod session;
pub mod sink;
pub mod stack;
pub mod suite;
pub mod twins;
pub mod upgrade;
pub mod versions;
