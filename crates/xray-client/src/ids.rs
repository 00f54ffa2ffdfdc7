//! Trace ids and segment (entity) ids.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 128-bit trace id: 4 bytes of epoch seconds (big-endian) then 12 random bytes, written
/// by X-Ray as `1-{8 hex epoch}-{24 hex}` and by W3C trace context as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// A new id for a trace starting now: the current epoch seconds, then 12 random bytes
    /// (as the OpenTelemetry X-Ray id generator and the X-Ray SDKs do).
    pub fn new() -> TraceId {
        let secs = crate::now_epoch() as u32;
        let mut random = [0u8; 12];
        crate::fill_random(&mut random);
        TraceId::from_parts(secs, random)
    }

    /// An id from its epoch seconds and its 12 random bytes.
    pub fn from_parts(epoch_seconds: u32, random: [u8; 12]) -> TraceId {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&epoch_seconds.to_be_bytes());
        b[4..].copy_from_slice(&random);
        TraceId(b)
    }

    /// An id from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> TraceId {
        TraceId(bytes)
    }

    /// The id's 16 bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// The epoch seconds in the id's first 4 bytes.
    pub fn epoch_seconds(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// X-Ray form: `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn to_xray(&self) -> String {
        format!("1-{}-{}", hex(&self.0[..4]), hex(&self.0[4..]))
    }

    /// W3C form: 32 lowercase hex digits.
    pub fn to_w3c(&self) -> String {
        hex(&self.0)
    }

    /// Parses the X-Ray form (version `1`, 8 then 24 hex digits, either case).
    pub fn parse_xray(s: &str) -> Option<TraceId> {
        let rest = s.trim().strip_prefix("1-")?;
        let (epoch, random) = rest.split_once('-')?;
        if epoch.len() != 8 || random.len() != 24 {
            return None;
        }
        let mut b = [0u8; 16];
        unhex(epoch, &mut b[..4])?;
        unhex(random, &mut b[4..])?;
        Some(TraceId(b))
    }

    /// Parses the W3C form: 32 hex digits, not all zero (W3C's invalid id).
    pub fn from_w3c(s: &str) -> Option<TraceId> {
        let s = s.trim();
        if s.len() != 32 {
            return None;
        }
        let mut b = [0u8; 16];
        unhex(s, &mut b)?;
        (b != [0u8; 16]).then_some(TraceId(b))
    }
}

impl Default for TraceId {
    fn default() -> Self {
        TraceId::new()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xray())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_xray())
    }
}

impl std::str::FromStr for TraceId {
    type Err = ();
    /// Either form: X-Ray (`1-…-…`) or W3C (32 hex digits).
    fn from_str(s: &str) -> Result<Self, ()> {
        TraceId::parse_xray(s)
            .or_else(|| TraceId::from_w3c(s))
            .ok_or(())
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_xray())
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TraceId::parse_xray(&s).ok_or_else(|| serde::de::Error::custom("invalid X-Ray trace id"))
    }
}

/// A new segment/subsegment/exception id: 16 lowercase hex digits, random, never all zero.
pub fn new_entity_id() -> String {
    loop {
        let mut b = [0u8; 8];
        crate::fill_random(&mut b);
        if b != [0u8; 8] {
            return hex(&b);
        }
    }
}

/// Whether `s` is an entity id: 16 hex digits.
pub fn is_entity_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return None;
    }
    for (i, pair) in s.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn new_id_has_epoch_prefix_and_both_forms() {
        let before = crate::now_epoch() as u32;
        let id = TraceId::new();
        let after = crate::now_epoch() as u32;
        assert!(id.epoch_seconds() >= before && id.epoch_seconds() <= after);
        let x = id.to_xray();
        assert_eq!(x.len(), 35);
        assert_eq!(&x[2..10], format!("{:08x}", id.epoch_seconds()));
        assert_eq!(TraceId::parse_xray(&x), Some(id));
        let w = id.to_w3c();
        assert_eq!(w.len(), 32);
        assert_eq!(w, x[2..10].to_string() + &x[11..]);
        assert_eq!(TraceId::from_w3c(&w), Some(id));
        assert_eq!(id.to_string(), x);
        assert_ne!(TraceId::new(), id);
    }

    #[test]
    fn parse_known_and_invalid_ids() {
        let id = TraceId::parse_xray("1-5759E988-BD862E3FE1BE46A994272793").unwrap();
        assert_eq!(id.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(id.epoch_seconds(), 0x5759e988);
        assert_eq!(TraceId::from_bytes(id.to_bytes()), id);
        for bad in [
            "",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759e98-bd862e3fe1be46a9942727930",
            "1-5759e988-bd862e3fe1be46a99427279",
            "1-5759e988-bd862e3fe1be46a99427279g",
            "1-5759e988bd862e3fe1be46a994272793",
        ] {
            assert_eq!(TraceId::parse_xray(bad), None, "{bad}");
        }
        assert_eq!(TraceId::from_w3c(&"0".repeat(32)), None);
        assert_eq!(TraceId::from_w3c("abc"), None);
        assert_eq!(
            "5759e988bd862e3fe1be46a994272793".parse::<TraceId>(),
            Ok(id)
        );
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"1-5759e988-bd862e3fe1be46a994272793\""
        );
    }

    #[test]
    fn entity_ids_are_16_hex() {
        let a = new_entity_id();
        assert!(is_entity_id(&a));
        assert_eq!(a, a.to_lowercase());
        assert_ne!(a, new_entity_id());
        assert!(!is_entity_id("xyz"));
    }
}
