//! The daemon address and the UDP emitter.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;

use crate::segment::{Segment, Subsegment};
use crate::Error;

/// The environment variable the SDKs read the daemon address from.
pub const DAEMON_ADDRESS_ENV: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// The address used when it is unset: the daemon on this host, UDP and TCP.
pub const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";
/// The line every datagram starts with.
pub const PROTOCOL_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// The largest datagram sent (header included): the most a UDP/IPv4 datagram can carry,
/// just under the daemon's 64 KiB.
pub const MAX_DATAGRAM_BYTES: usize = 65_507;
const WARN_EVERY_MS: u64 = 60_000;

/// Where the daemon listens: UDP for segments, TCP for the sampling API proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Segment documents go here.
    pub udp: SocketAddr,
    /// `GetSamplingRules` and `SamplingTargets` go here.
    pub tcp: SocketAddr,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], 2000));
        DaemonConfig {
            udp: addr,
            tcp: addr,
        }
    }
}

impl DaemonConfig {
    /// Reads `AWS_XRAY_DAEMON_ADDRESS`; unset or blank gives `127.0.0.1:2000`.
    pub fn from_env() -> Result<DaemonConfig, Error> {
        match std::env::var(DAEMON_ADDRESS_ENV) {
            Ok(v) if !v.trim().is_empty() => DaemonConfig::parse(&v),
            _ => Ok(DaemonConfig::default()),
        }
    }

    /// Parses `host:port` (UDP and TCP at one address) or `tcp:host:port udp:host:port` (either
    /// order), as the SDKs do. Hosts may be names (resolved now, first address wins) or IPs,
    /// IPv6 in brackets.
    pub fn parse(s: &str) -> Result<DaemonConfig, Error> {
        let bad = || Error::InvalidDaemonAddress(s.to_string());
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [single] => {
                let addr = resolve(single).ok_or_else(bad)?;
                Ok(DaemonConfig {
                    udp: addr,
                    tcp: addr,
                })
            }
            [a, b] => {
                let (mut udp, mut tcp) = (None, None);
                for part in [a, b] {
                    let (proto, rest) = part.split_once(':').ok_or_else(bad)?;
                    let slot = match proto {
                        "udp" => &mut udp,
                        "tcp" => &mut tcp,
                        _ => return Err(bad()),
                    };
                    if slot.is_some() {
                        return Err(bad());
                    }
                    *slot = Some(resolve(rest).ok_or_else(bad)?);
                }
                Ok(DaemonConfig {
                    udp: udp.ok_or_else(bad)?,
                    tcp: tcp.ok_or_else(bad)?,
                })
            }
            _ => Err(bad()),
        }
    }
}

fn resolve(hostport: &str) -> Option<SocketAddr> {
    let (host, port) = hostport.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || (host.contains(':') && !hostport.starts_with('[')) {
        return None;
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs().ok()?.next()
}

/// Sends segment documents to the daemon over UDP from a non-blocking socket. Never blocks and
/// never fails: what cannot be sent is counted in [`Emitter::dropped`] and logged at most once
/// a minute. Share it with an `Arc`.
#[derive(Debug)]
pub struct Emitter {
    socket: UdpSocket,
    target: SocketAddr,
    sent: AtomicU64,
    dropped: AtomicU64,
    created: Instant,
    last_warn_ms: AtomicU64,
}

impl Emitter {
    /// Binds an ephemeral UDP port (on `0.0.0.0` or `[::]`, matching the daemon's family).
    pub fn new(config: &DaemonConfig) -> Result<Emitter, Error> {
        let local: SocketAddr = if config.udp.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(Emitter {
            socket,
            target: config.udp,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            created: Instant::now(),
            last_warn_ms: AtomicU64::new(u64::MAX),
        })
    }

    /// The daemon's UDP address.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Datagrams sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Documents not sent (socket errors, or too big even after streaming).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sends a segment in one datagram. If it is too big, its completed subsegments are sent
    /// first as their own documents (recursively, deepest first, as the SDK's streaming does)
    /// and the segment follows without them; whatever still does not fit is dropped. Returns
    /// whether everything was sent.
    pub fn emit(&self, segment: &Segment) -> bool {
        match serde_json::to_value(segment) {
            Ok(v) => self.stream(v),
            Err(e) => self.drop_one(&e.to_string()),
        }
    }

    /// Sends a subsegment on its own (it needs `parent_id` and `trace_id`), streaming its
    /// children as [`Emitter::emit`] does.
    pub fn emit_subsegment(&self, subsegment: &Subsegment) -> bool {
        match serde_json::to_value(subsegment) {
            Ok(v) => self.stream(v),
            Err(e) => self.drop_one(&e.to_string()),
        }
    }

    fn stream(&self, mut doc: Value) -> bool {
        let datagram = frame(&doc);
        if datagram.len() <= MAX_DATAGRAM_BYTES {
            return self.send(&datagram);
        }
        let Some(obj) = doc.as_object_mut() else {
            return self.drop_one("document is not an object");
        };
        let children = match obj.remove("subsegments") {
            Some(Value::Array(c)) => c,
            _ => Vec::new(),
        };
        let (done, open): (Vec<Value>, Vec<Value>) = children
            .into_iter()
            .partition(|c| c.get("in_progress") != Some(&Value::Bool(true)));
        if done.is_empty() {
            return self.drop_one("document too big for one datagram");
        }
        if !open.is_empty() {
            obj.insert("subsegments".into(), Value::Array(open));
        }
        let id = obj.get("id").cloned().unwrap_or(Value::Null);
        let trace_id = obj.get("trace_id").cloned().unwrap_or(Value::Null);
        let mut ok = true;
        for mut child in done {
            if let Some(c) = child.as_object_mut() {
                c.insert("type".into(), "subsegment".into());
                c.insert("parent_id".into(), id.clone());
                c.entry("trace_id").or_insert_with(|| trace_id.clone());
            }
            ok &= self.stream(child);
        }
        ok & self.stream(doc)
    }

    fn send(&self, datagram: &[u8]) -> bool {
        match self.socket.send_to(datagram, self.target) {
            Ok(_) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => self.drop_one(&e.to_string()),
        }
    }

    fn drop_one(&self, why: &str) -> bool {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.created.elapsed().as_millis() as u64;
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if (last == u64::MAX || now.saturating_sub(last) >= WARN_EVERY_MS)
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(daemon = %self.target, dropped = n, "could not send an X-Ray document: {why}");
        }
        false
    }
}

fn frame(doc: &Value) -> Vec<u8> {
    let mut out = PROTOCOL_HEADER.as_bytes().to_vec();
    // Writing a Value to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, doc);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_daemon_addresses() {
        let a: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        assert_eq!(DaemonConfig::default(), DaemonConfig { udp: a, tcp: a });
        assert_eq!(
            DaemonConfig::parse("127.0.0.1:2000").unwrap(),
            DaemonConfig::default()
        );
        let c = DaemonConfig::parse("tcp:127.0.0.1:2000 udp:127.0.0.2:2001").unwrap();
        assert_eq!((c.tcp, c.udp), (a, "127.0.0.2:2001".parse().unwrap()));
        let c = DaemonConfig::parse(" udp:127.0.0.2:2001  tcp:127.0.0.1:2000 ").unwrap();
        assert_eq!((c.tcp, c.udp), (a, "127.0.0.2:2001".parse().unwrap()));
        let c = DaemonConfig::parse("[::1]:3000").unwrap();
        assert_eq!(c.udp, "[::1]:3000".parse().unwrap());
        assert_eq!(
            DaemonConfig::parse("localhost:2000").unwrap().udp.port(),
            2000
        );
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:",
            ":2000",
            "127.0.0.1:70000",
            "127.0.0.1:x",
            "tcp:127.0.0.1:2000",
            "tcp:127.0.0.1:2000 tcp:127.0.0.1:2001",
            "tcp:127.0.0.1:2000 foo:127.0.0.1:2001",
            "tcp:127.0.0.1:2000 udp:127.0.0.1",
            "a:1 b:2 c:3",
            "::1:2000",
        ] {
            assert!(
                matches!(
                    DaemonConfig::parse(bad),
                    Err(Error::InvalidDaemonAddress(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn emitter_is_shareable() {
        fn check<T: Send + Sync>() {}
        check::<Emitter>();
    }
}
