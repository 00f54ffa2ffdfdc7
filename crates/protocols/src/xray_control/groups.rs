//! Groups: the built-in `Default` group (no filter expression) plus user groups with a
//! filter expression kept as text, validated by a callback (the filter-expression parser
//! lives elsewhere).
//!
//! ARN forms: `arn:aws:xray:<region>:<account>:group/<name>/<unique id>` (developer guide
//! `xray-api-configuration.md`), and `…:group/Default` for the built-in group (as the
//! GetGroups answer in `shared/protocols/captures` shows). The unique id is 52 characters of
//! RFC 4648 base32 (upper case, no padding) of 32 injected random bytes **[inference]**: the
//! service's id alphabet and length were not confirmed.

use serde::{Deserialize, Serialize};

use super::shapes::{GetGroupsResponse, Group, InsightsConfiguration};
use super::validate::{NewGroup, Ref};
use super::{ControlError, Partition};

/// The built-in group's name; user groups may not take it (protocol facts §B).
pub const DEFAULT_GROUP_NAME: &str = "Default";

/// Most user groups: "Groups: 25 per Region" **[inference]** (AWS X-Ray endpoints and
/// quotas page, not confirmed; CreateGroup's model lists no limit exception, so the refusal is
/// an InvalidRequestException).
pub const GROUPS_MAX: usize = 25;

/// Random bytes behind a group's unique id (base32 of 32 bytes = 52 characters).
pub const GROUP_ID_BYTES: usize = 32;

/// Messages **[inference]**.
pub const MSG_GROUP_EXISTS: &str = "Group already exists";
pub const MSG_GROUP_NOT_FOUND: &str = "Group not found";
pub const MSG_DEFAULT_RESERVED: &str = "Default is a reserved group name";
pub const MSG_DEFAULT_IMMUTABLE: &str = "The Default group cannot be modified or deleted";
pub const MSG_GROUP_LIMIT: &str = "You have reached the maximum number of groups";

/// A filter-expression checker: `Err(message)` for an invalid expression.
pub type ExpressionCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// Unpadded RFC 4648 base32 (`A-Z2-7`).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn insights_or_default(i: InsightsConfiguration) -> InsightsConfiguration {
    InsightsConfiguration {
        insights_enabled: Some(i.insights_enabled.unwrap_or(false)),
        notifications_enabled: Some(i.notifications_enabled.unwrap_or(false)),
    }
}

/// The groups of one account and region, persisted as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    partition: Partition,
    default: Group,
    groups: Vec<Group>,
}

impl Groups {
    pub fn new(partition: Partition) -> Self {
        let default = Group {
            group_name: DEFAULT_GROUP_NAME.into(),
            group_arn: partition.arn(&format!("group/{DEFAULT_GROUP_NAME}")),
            filter_expression: None,
            insights_configuration: insights_or_default(InsightsConfiguration::default()),
        };
        Self {
            partition,
            default,
            groups: Vec::new(),
        }
    }

    fn find(&self, r: &Ref) -> Option<&Group> {
        std::iter::once(&self.default)
            .chain(self.groups.iter())
            .find(|g| match r {
                Ref::Name(n) => &g.group_name == n,
                Ref::Arn(a) => &g.group_arn == a,
            })
    }

    fn user_position(&self, r: &Ref) -> Result<usize, ControlError> {
        if let Some(g) = self.find(r) {
            if g.group_name == DEFAULT_GROUP_NAME {
                return Err(ControlError::InvalidRequest(MSG_DEFAULT_IMMUTABLE.into()));
            }
        }
        self.groups
            .iter()
            .position(|g| match r {
                Ref::Name(n) => &g.group_name == n,
                Ref::Arn(a) => &g.group_arn == a,
            })
            .ok_or_else(|| ControlError::InvalidRequest(MSG_GROUP_NOT_FOUND.into()))
    }

    /// Is `arn` one of our group ARNs?
    pub fn contains_arn(&self, arn: &str) -> bool {
        self.find(&Ref::Arn(arn.to_string())).is_some()
    }

    /// CreateGroup (tags are the caller's: see [`super::state::ControlState`]).
    pub fn create(
        &mut self,
        g: &NewGroup,
        check: ExpressionCheck<'_>,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Group, ControlError> {
        if g.name == DEFAULT_GROUP_NAME {
            return Err(ControlError::InvalidRequest(MSG_DEFAULT_RESERVED.into()));
        }
        if self.find(&Ref::Name(g.name.clone())).is_some() {
            return Err(ControlError::InvalidRequest(MSG_GROUP_EXISTS.into()));
        }
        if self.groups.len() >= GROUPS_MAX {
            return Err(ControlError::InvalidRequest(MSG_GROUP_LIMIT.into()));
        }
        if let Some(e) = &g.filter_expression {
            check(e).map_err(ControlError::InvalidRequest)?;
        }
        let mut id = [0u8; GROUP_ID_BYTES];
        random(&mut id);
        let group = Group {
            group_name: g.name.clone(),
            group_arn: self
                .partition
                .arn(&format!("group/{}/{}", g.name, base32(&id))),
            filter_expression: g.filter_expression.clone(),
            insights_configuration: insights_or_default(g.insights),
        };
        self.groups.push(group.clone());
        Ok(group)
    }

    /// GetGroup.
    pub fn get(&self, r: &Ref) -> Result<Group, ControlError> {
        self.find(r)
            .cloned()
            .ok_or_else(|| ControlError::InvalidRequest(MSG_GROUP_NOT_FOUND.into()))
    }

    /// GetGroups: Default first, then user groups in creation order; one page (≤ 26).
    pub fn list(&self) -> GetGroupsResponse {
        GetGroupsResponse {
            groups: std::iter::once(&self.default)
                .chain(self.groups.iter())
                .cloned()
                .collect(),
            next_token: None,
        }
    }

    /// UpdateGroup: a present FilterExpression replaces the old one (checked first); a present
    /// InsightsConfiguration replaces the members it carries.
    pub fn update(
        &mut self,
        r: &Ref,
        filter_expression: Option<&String>,
        insights: Option<InsightsConfiguration>,
        check: ExpressionCheck<'_>,
    ) -> Result<Group, ControlError> {
        let i = self.user_position(r)?;
        if let Some(e) = filter_expression {
            check(e).map_err(ControlError::InvalidRequest)?;
        }
        let g = &mut self.groups[i];
        if let Some(e) = filter_expression {
            g.filter_expression = Some(e.clone());
        }
        if let Some(new) = insights {
            let old = g.insights_configuration;
            g.insights_configuration = InsightsConfiguration {
                insights_enabled: new.insights_enabled.or(old.insights_enabled),
                notifications_enabled: new.notifications_enabled.or(old.notifications_enabled),
            };
        }
        Ok(g.clone())
    }

    /// DeleteGroup; answers the deleted group (its ARN lets the caller drop its tags).
    pub fn delete(&mut self, r: &Ref) -> Result<Group, ControlError> {
        let i = self.user_position(r)?;
        Ok(self.groups.remove(i))
    }
}
