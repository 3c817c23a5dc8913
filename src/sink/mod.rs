//! Endpoints the harness serves for the stack to deliver to: a mail sink
//! speaking real SMTP and a webhook receiver, both on 127.0.0.1 and both
//! values whose `Drop` closes them.

pub mod mail;
pub mod smtp;
pub mod webhook;
