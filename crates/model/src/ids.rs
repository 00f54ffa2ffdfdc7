//! Trace and span ids in every form a client may send: W3C/OTLP hex, X-Ray
//! `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`, 16-hex-digit (64-bit) trace ids and UUID-shaped ids.

use std::fmt;

/// Why an id string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is all zeros, which OTLP and W3C define as invalid")]
    AllZero,
    #[error("trace id {0:?} is neither 32 hex digits, 16 hex digits, a UUID nor an X-Ray id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)")]
    BadTraceId(String),
    #[error("span id {0:?} is not 16 hex digits")]
    BadSpanId(String),
    #[error("id has {0} bytes; expected {1}")]
    BadLength(usize, usize),
}

/// A 128-bit trace id. The X-Ray form `1-5759e988-bd862e3fe1be46a994272793` is the same id
/// as the W3C form `5759e988bd862e3fe1be46a994272793` (OTel's X-Ray id generator puts the epoch
/// seconds in the first 8 hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

/// Longest id string we look at before refusing it (our choice: a UUID is 36 characters,
/// X-Ray 35; anything much longer is not an id).
pub const ID_TEXT_LEN_MAX: usize = 64;

fn hex_into(text: &str, out: &mut [u8]) -> bool {
    text.len() == out.len() * 2 && hex::decode_to_slice(text, out).is_ok()
}

impl TraceId {
    /// Reads a trace id from bytes as OTLP carries it (exactly 16, not all zero).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        let arr: [u8; 16] = bytes
            .try_into()
            .map_err(|_| IdError::BadLength(bytes.len(), 16))?;
        if arr == [0; 16] {
            return Err(IdError::AllZero);
        }
        Ok(Self(arr))
    }

    /// Parses any accepted text form: 32 hex digits (any case, optional `0x`), 16 hex digits
    /// (a 64-bit id, zero-extended as Zipkin/Jaeger do), a UUID with dashes, or X-Ray
    /// `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(IdError::Empty);
        }
        if t.len() > ID_TEXT_LEN_MAX {
            return Err(IdError::BadTraceId(
                t.chars().take(ID_TEXT_LEN_MAX).collect(),
            ));
        }
        let t = t.strip_prefix("0x").unwrap_or(t);
        let mut out = [0u8; 16];
        let ok = if let Some(rest) = t.strip_prefix("1-") {
            // X-Ray: 1-{8 hex epoch}-{24 hex}
            let mut parts = rest.split('-');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) if a.len() == 8 && b.len() == 24 => {
                    hex_into(a, &mut out[..4]) && hex_into(b, &mut out[4..])
                }
                _ => false,
            }
        } else if t.len() == 36 && t.as_bytes().get(8) == Some(&b'-') {
            let compact: String = t.chars().filter(|c| *c != '-').collect();
            hex_into(&compact, &mut out)
        } else if t.len() == 16 {
            hex_into(t, &mut out[8..])
        } else {
            hex_into(t, &mut out)
        };
        if !ok {
            return Err(IdError::BadTraceId(t.to_string()));
        }
        if out == [0; 16] {
            return Err(IdError::AllZero);
        }
        Ok(Self(out))
    }

    /// Lowercase hex as Honeycomb shows it: 32 digits, or 16 when the high 8 bytes are zero
    /// (husky's `shouldTrimTraceId`).
    pub fn to_honeycomb_hex(&self) -> String {
        if self.0[..8] == [0; 8] {
            hex::encode(&self.0[8..])
        } else {
            hex::encode(self.0)
        }
    }

    /// Full 32-digit lowercase hex (W3C / OTLP JSON / Tempo).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// X-Ray form `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`.
    pub fn to_xray(&self) -> String {
        let h = self.to_hex();
        format!("1-{}-{}", &h[..8], &h[8..])
    }

    /// The id as two big-endian halves (how the store keeps it).
    pub fn halves(&self) -> (u64, u64) {
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi.copy_from_slice(&self.0[..8]);
        lo.copy_from_slice(&self.0[8..]);
        (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
    }

    pub fn from_halves(hi: u64, lo: u64) -> Self {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&hi.to_be_bytes());
        out[8..].copy_from_slice(&lo.to_be_bytes());
        Self(out)
    }
}

impl SpanId {
    /// Reads a span id from bytes as OTLP carries it (exactly 8, not all zero).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        let arr: [u8; 8] = bytes
            .try_into()
            .map_err(|_| IdError::BadLength(bytes.len(), 8))?;
        if arr == [0; 8] {
            return Err(IdError::AllZero);
        }
        Ok(Self(arr))
    }

    /// Parses 16 hex digits (any case, optional `0x`).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(IdError::Empty);
        }
        let t = t.strip_prefix("0x").unwrap_or(t);
        let mut out = [0u8; 8];
        if !hex_into(t, &mut out) {
            return Err(IdError::BadSpanId(
                t.chars().take(ID_TEXT_LEN_MAX).collect(),
            ));
        }
        Self::from_bytes(&out)
    }

    /// Any string as a span id: 16 hex digits parse exactly; other ids (Beeline UUIDs, free
    /// text) are hashed with FNV-1a 64 so parent/child links between them still resolve.
    pub fn parse_or_hash(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return None;
        }
        if let Ok(id) = Self::parse(text) {
            return Some(id);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Some(Self(h.max(1).to_be_bytes()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    pub fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_and_w3c_are_the_same_trace() {
        let a = TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let b = TraceId::parse("5759E988BD862E3FE1BE46A994272793").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_xray(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(a.to_hex(), "5759e988bd862e3fe1be46a994272793");
    }

    #[test]
    fn short_and_uuid_forms() {
        let t = TraceId::parse("00000000000000000000000000000abc").unwrap();
        assert_eq!(t.to_honeycomb_hex(), "0000000000000abc");
        assert_eq!(TraceId::parse("0000000000000abc").unwrap(), t);
        let u = TraceId::parse("c6b6b2b1-1111-2222-3333-444455556666").unwrap();
        assert_eq!(u.to_hex(), "c6b6b2b1111122223333444455556666");
        let (hi, lo) = u.halves();
        assert_eq!(TraceId::from_halves(hi, lo), u);
    }

    #[test]
    fn invalid_ids_are_refused() {
        for bad in [
            "",
            "xyz",
            "0000000000000000000000000000000",
            "00000000000000000000000000000000",
            "1-zz-12",
        ] {
            assert!(TraceId::parse(bad).is_err(), "{bad}");
        }
        assert!(SpanId::parse("0000000000000000").is_err());
        assert!(SpanId::from_bytes(&[1, 2, 3]).is_err());
        assert_eq!(
            SpanId::parse("00f067aa0ba902b7").unwrap().to_hex(),
            "00f067aa0ba902b7"
        );
        assert!(SpanId::parse_or_hash("not-hex").is_some());
    }
}
