//! Configured AWS access keys: parse the flag/env form `AKID:SECRET,AKID2:SECRET2` into a
//! lookup the SigV4 verifier uses. Secrets never appear in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;

/// Most keys in one configuration. Our choice: a local telemetry sink needs a handful; the cap
/// bounds a mistaken paste of a large file into the variable.
pub const KEYS_MAX: usize = 256;
/// Longest access key id. IAM documents 16–128 characters
/// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_AccessKey.html).
pub const ACCESS_KEY_ID_CHARS_MAX: usize = 128;
/// Longest secret we accept. Our choice: AWS secrets are 40 characters; 1 KiB allows any
/// hand-made test secret.
pub const SECRET_CHARS_MAX: usize = 1024;

/// A secret access key. `Debug` prints `Secret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for signing-key derivation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Access key id → secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    keys: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("credential #{index} is empty (expected AKID:SECRET, comma-separated)")]
    EmptyEntry { index: usize },
    #[error("credential #{index} has no ':' between access key id and secret")]
    MissingColon { index: usize },
    #[error("credential #{index} has an empty access key id")]
    EmptyAccessKeyId { index: usize },
    #[error("credential #{index} has an empty secret")]
    EmptySecret { index: usize },
    #[error(
        "credential #{index}: access key id must be 1-{ACCESS_KEY_ID_CHARS_MAX} letters or digits"
    )]
    BadAccessKeyId { index: usize },
    #[error("credential #{index}: secret longer than {SECRET_CHARS_MAX} characters")]
    SecretTooLong { index: usize },
    #[error("access key id {access_key_id} is listed twice")]
    Duplicate { access_key_id: String },
    #[error("more than {KEYS_MAX} credentials")]
    TooMany,
}

impl Credentials {
    /// Parse `AKID:SECRET,AKID2:SECRET2`. Whitespace around entries and around each side of
    /// the first `:` is trimmed; empty entries, empty sides and repeated ids are errors (a
    /// typo should fail at start-up, not lock clients out later).
    pub fn parse(spec: &str) -> Result<Self, CredentialsError> {
        let mut keys = BTreeMap::new();
        for (i, entry) in spec.split(',').enumerate() {
            let index = i + 1;
            if index > KEYS_MAX {
                return Err(CredentialsError::TooMany);
            }
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(CredentialsError::EmptyEntry { index });
            }
            let (id, secret) = entry
                .split_once(':')
                .ok_or(CredentialsError::MissingColon { index })?;
            let (id, secret) = (id.trim(), secret.trim());
            if id.is_empty() {
                return Err(CredentialsError::EmptyAccessKeyId { index });
            }
            if secret.is_empty() {
                return Err(CredentialsError::EmptySecret { index });
            }
            if id.len() > ACCESS_KEY_ID_CHARS_MAX || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(CredentialsError::BadAccessKeyId { index });
            }
            if secret.chars().count() > SECRET_CHARS_MAX {
                return Err(CredentialsError::SecretTooLong { index });
            }
            if keys.insert(id.to_owned(), Secret::new(secret)).is_some() {
                return Err(CredentialsError::Duplicate {
                    access_key_id: id.to_owned(),
                });
            }
        }
        Ok(Credentials { keys })
    }

    /// One key (tests, programmatic configuration).
    pub fn single(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(access_key_id.into(), Secret::new(secret));
        Credentials { keys }
    }

    pub fn secret(&self, access_key_id: &str) -> Option<&Secret> {
        self.keys.get(access_key_id)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn access_key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

impl std::str::FromStr for Credentials {
    type Err = CredentialsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Credentials::parse(s)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.keys().map(|k| (k, "***")))
            .finish()
    }
}
