//! Credentials: which keys are accepted, and how each protocol presents one.

use http::HeaderMap;

/// Configured keys. With none configured (the loopback default) every request is accepted.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Keys accepted as Honeycomb `X-Honeycomb-Team`, OTLP `x-honeycomb-team` or
    /// `Authorization: Bearer`, and for Waggle's read APIs.
    pub api_keys: Vec<String>,
}

impl Credentials {
    pub fn is_open(&self) -> bool {
        self.api_keys.is_empty()
    }

    fn accepts(&self, key: &str) -> bool {
        // Constant-time compare per key, so timing does not reveal a prefix.
        self.api_keys.iter().any(|k| {
            k.len() == key.len()
                && k.bytes()
                    .zip(key.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }

    /// True if the request carries an accepted key (or none are configured).
    pub fn check(&self, headers: &HeaderMap) -> bool {
        if self.is_open() {
            return true;
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(k) = header("x-honeycomb-team").or_else(|| header("x-hny-team")) {
            return self.accepts(k.trim());
        }
        if let Some(auth) = header("authorization") {
            if let Some(token) = auth.strip_prefix("Bearer ") {
                return self.accepts(token.trim());
            }
            if let Some(b64) = auth.strip_prefix("Basic ") {
                use base64::Engine;
                if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                    if let Ok(text) = String::from_utf8(raw) {
                        let password = text.split_once(':').map(|(_, p)| p).unwrap_or("");
                        return self.accepts(password);
                    }
                }
            }
        }
        false
    }
}
