//! Tags per resource ARN (sampling rules and groups): TagResource, UntagResource,
//! ListTagsForResource, and tags given at creation.
//!
//! Limits from the API reference (CreateSamplingRule / CreateGroup `Tags`): at most 50
//! user-applied tags per resource, keys ≤ 128 and values ≤ 256 characters (the lengths are
//! also model bounds, checked in [`super::validate`]), and the `aws:` key prefix is reserved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shapes::Tag;
use super::ControlError;

/// "Maximum number of user-applied tags per resource: 50" (API reference, CreateSamplingRule
/// `Tags`).
pub const TAGS_PER_RESOURCE_MAX: usize = 50;

/// Reserved key prefix ("Don't use aws: as a prefix for keys; it's reserved for AWS use").
pub const RESERVED_PREFIX: &str = "aws:";

/// Messages **[inference]**: the service's exact text was not confirmed.
pub const MSG_TOO_MANY_TAGS: &str = "Tag limit exceeded: a resource can have at most 50 tags";
pub const MSG_RESERVED_PREFIX: &str = "Tag keys cannot start with the reserved prefix aws:";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceTags {
    by_arn: BTreeMap<String, BTreeMap<String, String>>,
}

impl ResourceTags {
    pub fn new() -> Self {
        Self::default()
    }

    /// Check that `tags` may be added to `arn` without changing anything.
    pub fn check(&self, arn: &str, tags: &[Tag]) -> Result<(), ControlError> {
        if tags.iter().any(|t| t.key.starts_with(RESERVED_PREFIX)) {
            return Err(ControlError::InvalidRequest(MSG_RESERVED_PREFIX.into()));
        }
        let mut keys: Vec<&str> = self
            .by_arn
            .get(arn)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.extend(tags.iter().map(|t| t.key.as_str()));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > TAGS_PER_RESOURCE_MAX {
            return Err(ControlError::TooManyTags {
                message: MSG_TOO_MANY_TAGS.into(),
                resource_name: Some(arn.to_string()),
            });
        }
        Ok(())
    }

    /// Add or overwrite tags (all or nothing).
    pub fn tag(&mut self, arn: &str, tags: &[Tag]) -> Result<(), ControlError> {
        self.check(arn, tags)?;
        if tags.is_empty() {
            return Ok(());
        }
        let map = self.by_arn.entry(arn.to_string()).or_default();
        for t in tags {
            map.insert(t.key.clone(), t.value.clone());
        }
        Ok(())
    }

    /// Remove the given keys (absent keys are ignored).
    pub fn untag(&mut self, arn: &str, keys: &[String]) {
        if let Some(map) = self.by_arn.get_mut(arn) {
            for k in keys {
                map.remove(k);
            }
            if map.is_empty() {
                self.by_arn.remove(arn);
            }
        }
    }

    /// The resource's tags, by key.
    pub fn list(&self, arn: &str) -> Vec<Tag> {
        self.by_arn
            .get(arn)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| Tag {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forget a deleted resource's tags.
    pub fn remove(&mut self, arn: &str) {
        self.by_arn.remove(arn);
    }
}
