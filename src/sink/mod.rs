//! Endpoints the harness serves for the stack to deliver to: a mail sink
//! speaking real SMTP and a webhook receiver, both values whose `Drop`
//! closes them. They listen on 127.0.0.1, or, where the stack runs in
//! containers (kind), on the one host address those containers reach: the
//! platform says which ([`crate::platform::Platform::receiver_ip`]).

pub mod mail;
pub mod smtp;
pub mod webhook;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// An accept loop on one local address; dropping it closes the listener
/// and aborts every connection it is serving.
#[derive(Debug)]
pub(crate) struct LoopbackServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LoopbackServer {
    /// Listens on `ip` at a free port and runs `conn` for each connection.
    pub(crate) async fn start<F, Fut>(ip: IpAddr, conn: F) -> std::io::Result<Self>
    where
        F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the loop drops it,
            // which aborts each of them.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        conns.spawn(conn(stream, peer));
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Self { addr, task })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
