//! Credentials and the one layer that checks them. Each credential kind is one
//! [`Credential`] implementation, put in front of whole routers by [`require`] (HTTP, via
//! [`crate::edge::Routes::mount`]) or [`grpc_layer`] (tonic), never checked inside a handler,
//! so a route cannot forget it. The check sees only the request head and runs before any
//! body byte is read; the protocol's [`crate::edge::Render`] words the refusal natively.
//!
//! Today's kind is [`ApiKeys`]: the Honeycomb/Waggle API key, accepted as
//! `X-Honeycomb-Team`, `Authorization: Bearer <key>` or the basic-auth password. Adding a
//! kind (AWS SigV4 for X-Ray and CloudWatch Logs, Rollbar access tokens with their scopes) is
//! one new `Credential` impl mounted on that protocol's routes. SigV4 signs the payload's
//! hash, so its layer will check the key id, date and signed headers from the head and
//! verify the signature over the (already bounded) body afterwards.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::{from_fn, Next};
use axum::Router;
use subtle::{Choice, ConstantTimeEq};

use crate::edge::{Refusal, Render};
use crate::AppState;

/// A kind of credential, decided from the request head alone.
pub trait Credential: Clone + Send + Sync + 'static {
    /// True if the request may proceed.
    fn verify(&self, headers: &HeaderMap) -> bool;
}

/// Puts `credential` in front of every route of `router`; refusals are rendered by `render`.
pub(crate) fn require<C: Credential>(
    router: Router<AppState>,
    credential: C,
    render: Render,
) -> Router<AppState> {
    router.layer(from_fn(move |req: Request, next: Next| {
        let credential = credential.clone();
        async move {
            // The UI gateway checked the UI credential already (`crate::ui`).
            if crate::ui::trusted(req.extensions()) || credential.verify(req.headers()) {
                next.run(req).await
            } else {
                render(req.headers(), &Refusal::Unauthenticated)
            }
        }
    }))
}

/// The same check for gRPC, as a tonic interceptor layer: it runs on the request's
/// metadata before tonic reads or decodes the message, and answers `UNAUTHENTICATED`.
pub(crate) fn grpc_layer<C: Credential>(
    credential: C,
) -> tonic::service::InterceptorLayer<impl tonic::service::Interceptor + Clone> {
    tonic::service::InterceptorLayer::new(move |req: tonic::Request<()>| {
        if credential.verify(&req.metadata().clone().into_headers()) {
            Ok(req)
        } else {
            Err(tonic::Status::unauthenticated(
                Refusal::Unauthenticated.message(),
            ))
        }
    })
}

/// Longest API key accepted, in bytes (our choice: Honeycomb's keys are 22–64 characters;
/// 256 leaves room for any generated secret). Keys are compared in buffers of this width, so
/// a comparison takes the same time whatever the presented or configured key's length.
pub const API_KEY_BYTES_MAX: usize = 256;

/// A configured key cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("an API key is empty (after trimming spaces); remove it or give it a value")]
    Empty,
    #[error("an API key is longer than {API_KEY_BYTES_MAX} bytes")]
    TooLong,
}

/// A key in a fixed-width buffer with its length, compared as a whole by `subtle`.
#[derive(Clone)]
struct Padded {
    bytes: [u8; API_KEY_BYTES_MAX],
    len: u64,
}

impl Padded {
    /// None for a key over [`API_KEY_BYTES_MAX`] (such a key is never configured, so it is
    /// refused without comparing; the bound is public, not a secret).
    fn new(key: &str) -> Option<Self> {
        let raw = key.as_bytes();
        if raw.len() > API_KEY_BYTES_MAX {
            return None;
        }
        let mut bytes = [0u8; API_KEY_BYTES_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Self {
            bytes,
            len: raw.len() as u64,
        })
    }

    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes[..].ct_eq(&other.bytes[..]) & self.len.ct_eq(&other.len)
    }
}

/// The accepted Honeycomb/Waggle API keys, each kept in a fixed-width buffer so every
/// comparison covers [`API_KEY_BYTES_MAX`] bytes (the key's length does not show in
/// timing). With none configured (the loopback default) every request is accepted.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Arc<[Padded]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl ApiKeys {
    /// Keys as configured: each is trimmed; an empty one is refused, so a stray comma or an
    /// unset variable cannot silently open or weaken the server.
    pub fn new<I, S>(keys: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = keys
            .into_iter()
            .map(|k| {
                let k = k.as_ref().trim();
                if k.is_empty() {
                    Err(KeyError::Empty)
                } else {
                    Padded::new(k).ok_or(KeyError::TooLong)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys: keys.into() })
    }

    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// Compares against every key without stopping early (`subtle`), so neither which key
    /// matched nor how much of it shows in timing.
    fn accepts(&self, presented: &str) -> bool {
        let Some(presented) = Padded::new(presented.trim()) else {
            return false;
        };
        let mut ok = Choice::from(0);
        for k in self.keys.iter() {
            ok |= k.ct_eq(&presented);
        }
        ok.into()
    }

    /// The key a request presents, if any: `X-Honeycomb-Team` (or libhoney's older
    /// `X-Hny-Team`), else `Authorization` with the `Bearer` or `Basic` scheme (scheme names
    /// are case-insensitive, RFC 9110 §11.1).
    fn presented(headers: &HeaderMap) -> Option<String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(k) = header("x-honeycomb-team").or_else(|| header("x-hny-team")) {
            return Some(k.to_string());
        }
        let auth = header("authorization")?.trim();
        let (scheme, rest) = auth.split_once([' ', '\t'])?;
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(rest.trim().to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(raw).ok()?;
            return text.split_once(':').map(|(_, p)| p.to_string());
        }
        None
    }
}

impl Credential for ApiKeys {
    fn verify(&self, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        Self::presented(headers).is_some_and(|k| self.accepts(&k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn every_presentation_and_case() {
        let keys = ApiKeys::new([" secret ", "other"]).unwrap();
        assert!(keys.verify(&with("x-honeycomb-team", "secret")));
        assert!(keys.verify(&with("x-hny-team", "other")));
        for scheme in ["Bearer", "bearer", "BEARER"] {
            assert!(keys.verify(&with("authorization", &format!("{scheme} secret"))));
        }
        // "user:secret" and ":other" in base64.
        assert!(keys.verify(&with("authorization", "basic dXNlcjpzZWNyZXQ=")));
        assert!(keys.verify(&with("authorization", "Basic Om90aGVy")));
        assert!(!keys.verify(&HeaderMap::new()));
        assert!(!keys.verify(&with("x-honeycomb-team", "secre")));
        assert!(!keys.verify(&with("x-honeycomb-team", "secretsecret")));
        assert!(!keys.verify(&with("authorization", "Token secret")));
        assert!(!keys.verify(&with("authorization", "Bearer")));
    }

    #[test]
    fn empty_keys_are_refused_and_none_is_open() {
        assert_eq!(ApiKeys::new(["a", "  "]).unwrap_err(), KeyError::Empty);
        let long = "k".repeat(API_KEY_BYTES_MAX + 1);
        assert_eq!(
            ApiKeys::new([long.as_str()]).unwrap_err(),
            KeyError::TooLong
        );
        let keys = ApiKeys::new(["secret"]).unwrap();
        assert!(!keys.verify(&with("x-honeycomb-team", &long)));
        assert!(ApiKeys::new(Vec::<String>::new()).unwrap().is_open());
        assert!(ApiKeys::default().verify(&HeaderMap::new()));
        assert!(!format!("{:?}", ApiKeys::new(["secret"]).unwrap()).contains("secret"));
    }
}
