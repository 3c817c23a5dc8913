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

/// A port on 127.0.0.1 that was free a moment ago and that this process has
/// not handed out before. A port someone else holds is never returned.
pub fn free_port() -> Result<u16, PortError> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut last = String::new();
    for _ in 0..64 {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
            Ok(addr) => {
                let mut given = GIVEN.lock().unwrap();
                if given.insert(addr.port()) {
                    return Ok(addr.port());
                }
                last = format!("port {} already handed out", addr.port());
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(PortError { tries: 64, last })
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
        for p in ports {
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
        }
    }
}
