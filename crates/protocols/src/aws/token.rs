//! Opaque pagination tokens (`nextToken`, `NextToken`): a small serde state, MessagePack-encoded,
//! with a version byte and a truncated HMAC-SHA256 tag under a per-process key, in base64url.
//!
//! Decoding checks length, alphabet, version and tag (constant time) before it parses anything,
//! so a forged or garbage token is refused as [`TokenError`], which services answer with
//! [`AwsError::invalid_token`] (X-Ray `InvalidRequestException`, Logs
//! `InvalidParameterException`). Encoding is deterministic: the state must carry the position,
//! so successive pages get different tokens (botocore's paginator raises "The same next token
//! was received twice"), while Logs' GetLogEvents can hand back the caller's token unchanged at
//! the end of a stream, as AWS does. The `scope` (e.g. the operation name) is bound into the tag,
//! so a token from one operation is refused by another.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::error::AwsError;
use super::sigv4::hmac_sha256;

/// Format version in the first byte; bump when the layout changes.
pub const TOKEN_VERSION: u8 = 1;
/// Tag bytes kept from HMAC-SHA256. 128 bits (NIST SP 800-107 allows truncation to ≥ 64 bits
/// for MACs); the full 32 bytes would push small tokens past X-Ray GetGroups' 100-character
/// `NextToken` limit (botocore `xray/2016-04-12/service-2.json`, `GetGroupsNextToken` max 100).
pub const TAG_BYTES: usize = 16;
/// Longest token we decode. Our choice: our states are a few dozen bytes; 2 KiB bounds the
/// work spent on a hostile token.
pub const TOKEN_CHARS_MAX: usize = 2048;
/// Longest state we encode (bytes of MessagePack). Keeps issued tokens ≤ `TOKEN_CHARS_MAX`:
/// 4/3 × (1 + 1024 + 16) = 1388 characters.
pub const STATE_BYTES_MAX: usize = 1024;
const _: () = assert!((1 + STATE_BYTES_MAX + TAG_BYTES).div_ceil(3) * 4 <= TOKEN_CHARS_MAX);

/// Domain separation for the tag: these keys sign nothing else, but a label costs nothing.
const TAG_LABEL: &[u8] = b"waggle-pagination-token";

/// The per-process key. `Debug` does not print it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    /// A fresh key from the OS random source. Tokens from an earlier process are then refused,
    /// which clients see as an expired token and restart listing.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| TokenError::NoRandomness)?;
        Ok(TokenKey(bytes))
    }

    fn tag(&self, scope: &str, body: &[u8]) -> [u8; TAG_BYTES] {
        let mut input = Vec::with_capacity(TAG_LABEL.len() + 2 + scope.len() + body.len());
        input.extend_from_slice(TAG_LABEL);
        input.extend_from_slice(&u16::try_from(scope.len()).unwrap_or(u16::MAX).to_be_bytes());
        input.extend_from_slice(scope.as_bytes());
        input.extend_from_slice(body);
        let full = hmac_sha256(&self.0, &input);
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is too long")]
    TooLong,
    #[error("token is not base64url")]
    NotBase64,
    #[error("token is too short")]
    TooShort,
    #[error("token has an unknown version")]
    Version,
    #[error("token tag does not match")]
    Tampered,
    #[error("token state does not decode")]
    State,
    #[error("state does not encode or is too large")]
    Encode,
    #[error("the OS random source failed")]
    NoRandomness,
}

impl From<TokenError> for AwsError {
    fn from(_: TokenError) -> Self {
        AwsError::invalid_token()
    }
}

/// Encode `state` for `scope`.
pub fn encode<T: Serialize>(key: &TokenKey, scope: &str, state: &T) -> Result<String, TokenError> {
    let payload = rmp_serde::to_vec(state).map_err(|_| TokenError::Encode)?;
    if payload.len() > STATE_BYTES_MAX {
        return Err(TokenError::Encode);
    }
    let mut raw = Vec::with_capacity(1 + payload.len() + TAG_BYTES);
    raw.push(TOKEN_VERSION);
    raw.extend_from_slice(&payload);
    let tag = key.tag(scope, &raw);
    raw.extend_from_slice(&tag);
    Ok(URL_SAFE_NO_PAD.encode(raw))
}

/// Decode a token issued by [`encode`] with the same key and scope.
pub fn decode<T: DeserializeOwned>(
    key: &TokenKey,
    scope: &str,
    token: &str,
) -> Result<T, TokenError> {
    if token.len() > TOKEN_CHARS_MAX {
        return Err(TokenError::TooLong);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| TokenError::NotBase64)?;
    if raw.len() < 1 + TAG_BYTES {
        return Err(TokenError::TooShort);
    }
    let (signed, tag) = raw.split_at(raw.len() - TAG_BYTES);
    if !bool::from(key.tag(scope, signed).ct_eq(tag)) {
        return Err(TokenError::Tampered);
    }
    // The tag covers the version byte, so only our own (older or newer) layouts get here.
    if signed[0] != TOKEN_VERSION {
        return Err(TokenError::Version);
    }
    rmp_serde::from_slice(&signed[1..]).map_err(|_| TokenError::State)
}
