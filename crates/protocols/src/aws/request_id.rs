//! AWS-style request ids (`x-amzn-RequestId`): random UUIDs in version-4 form, e.g.
//! `0c6a6e4f-5b1a-4d2e-9c1f-3f6b7a8e9d10`.
//!
//! Randomness comes from the OS (`getrandom`, already in the dependency tree through other
//! crates, one syscall per id) rather than the `uuid` or `rand` crates: a request id needs 16
//! unpredictable-enough bytes and a formatter, nothing else. If the OS source fails, a
//! process-local SplitMix64 stream seeded from the clock and a counter keeps ids unique.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A request id. `Display` is the lower-case hyphenated UUID form AWS uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 16]);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            bytes = fallback_bytes();
        }
        Self::from_random_bytes(bytes)
    }

    /// Deterministic id from 16 bytes (tests); the version and variant bits are set.
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
        RequestId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fallback_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut state = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    out[8..].copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_ids_differ() {
        assert_ne!(fallback_bytes(), fallback_bytes());
    }
}
