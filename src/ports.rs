//! Free ports on 127.0.0.1, never handed out twice by one harness process.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// No free port could be found.
#[derive(Debug, thiserror::Error)]
#[error("no free port on 127.0.0.1 after {tries} tries: {last}")]
pub struct PortError {
    tries: usize,
    last: String,
}

/// Where the kernel takes the local ports of outgoing connections
/// (`net.ipv4.ip_local_port_range`; Linux's default when unreadable).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A port on 127.0.0.1 that was free a moment ago and that this process has
/// not handed out before. A port someone else holds is never returned.
///
/// Chosen below the ephemeral range: a component binds its port seconds
/// after it was chosen, and a port from that range (what binding port 0
/// gives) can meanwhile become the local end of any outgoing connection on
/// the machine — `bind: address already in use` at random.
pub fn free_port() -> Result<u16, PortError> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let top = ephemeral_start().max(2048);
    let bottom = top.saturating_sub(12_000).max(1024);
    let mut last = String::new();
    for _ in 0..256 {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), bottom..top);
        let mut given = GIVEN.lock().unwrap();
        if given.contains(&port) {
            last = format!("port {port} already handed out");
            continue;
        }
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => {
                given.insert(port);
                return Ok(port);
            }
            Err(e) => last = format!("port {port}: {e}"),
        }
    }
    Err(PortError { tries: 256, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken = held.local_addr().unwrap().port();
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let set: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(set.len(), ports.len());
        assert!(!set.contains(&taken));
        let start = ephemeral_start();
        for p in ports {
            assert!(p < start, "{p} is in the ephemeral range from {start}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
        }
    }
}
