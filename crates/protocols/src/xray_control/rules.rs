//! Sampling rules state: the undeletable `Default` rule plus up to [`RULES_MAX`] user rules,
//! create/update/delete with AWS's errors, the `LastRuleModification` clock, and matching a
//! request to the rule an SDK would pick.
//!
//! The Default rule is the real service's (protocol facts §A.4: Priority 10000, FixedRate
//! 0.05, ReservoirSize 1, every matcher `*`, Version 1, CreatedAt 0). Only its FixedRate and
//! ReservoirSize may change: any other change is refused with "Invalid update request for
//! default sampling rule" (the service's text, quoted in hashicorp/terraform-provider-aws
//! #49597).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shapes::{
    GetSamplingRulesResponse, SamplingRule, SamplingRuleRecord, SamplingRuleUpdate,
};
use super::validate::Ref;
use super::wildcard::wildcard_match;
use super::{ControlError, Partition};

/// Most user rules: "Sampling rules: 25 per Region" (AWS X-Ray endpoints and quotas,
/// https://docs.aws.amazon.com/general/latest/gr/xray.html; we read it as excluding the
/// built-in Default rule **[inference]**).
pub const RULES_MAX: usize = 25;

/// The built-in rule's name, priority and defaults (protocol facts §A.4).
pub const DEFAULT_RULE_NAME: &str = "Default";
pub const DEFAULT_RULE_PRIORITY: i64 = 10000;
pub const DEFAULT_RULE_FIXED_RATE: f64 = 0.05;
pub const DEFAULT_RULE_RESERVOIR_SIZE: i64 = 1;

/// Service messages. The Default-update text is AWS's (module docs); the others are
/// **[inference]**, modelled on the service's sentence style.
pub const MSG_DEFAULT_UPDATE: &str = "Invalid update request for default sampling rule";
pub const MSG_DEFAULT_DELETE: &str = "Cannot delete the default sampling rule";
pub const MSG_RULE_LIMIT: &str = "You have reached the maximum number of sampling rules.";

fn msg_exists(name: &str) -> String {
    format!("A sampling rule with name {name} already exists")
}

fn msg_not_found(r: &Ref) -> String {
    match r {
        Ref::Name(n) => format!("Sampling rule does not exist: {n}"),
        Ref::Arn(a) => format!("Sampling rule does not exist: {a}"),
    }
}

/// The request attributes a rule is matched against. `None` or empty means "not known",
/// which matches any pattern (the SDK's `match`: a missing request value matches implicitly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamplingRequest {
    pub service_name: Option<String>,
    pub service_type: Option<String>,
    pub host: Option<String>,
    pub http_method: Option<String>,
    pub url_path: Option<String>,
    pub resource_arn: Option<String>,
    /// Every rule attribute must be present here and match by wildcard (the service-side
    /// semantics of `Attributes`; the Python SDK ignores rules with attributes).
    pub attributes: BTreeMap<String, String>,
}

fn field_matches(pattern: &str, value: Option<&String>) -> bool {
    match value {
        None => true,
        Some(v) if v.is_empty() => true,
        Some(v) => wildcard_match(pattern, v),
    }
}

impl SamplingRule {
    /// Does this rule apply to `req`? (the SDK's `SamplingRule.match`, plus ResourceARN and
    /// attributes as the service defines them).
    pub fn matches(&self, req: &SamplingRequest) -> bool {
        field_matches(&self.host, req.host.as_ref())
            && field_matches(&self.http_method, req.http_method.as_ref())
            && field_matches(&self.url_path, req.url_path.as_ref())
            && field_matches(&self.service_name, req.service_name.as_ref())
            && field_matches(&self.service_type, req.service_type.as_ref())
            && field_matches(&self.resource_arn, req.resource_arn.as_ref())
            && self.attributes.iter().all(|(k, pattern)| {
                req.attributes
                    .get(k)
                    .is_some_and(|v| wildcard_match(pattern, v))
            })
    }

    /// Would the Python SDK use this rule? (`_is_rule_valid`: Version 1, ResourceARN `*`,
    /// non-empty ServiceType, no Attributes; protocol facts §A.2.)
    pub fn usable_by_python_sdk(&self) -> bool {
        self.version == 1
            && self.resource_arn == "*"
            && !self.service_type.is_empty()
            && self.attributes.is_empty()
    }
}

/// The sampling rules of one account and region, persisted as one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRules {
    partition: Partition,
    /// Every rule, the Default rule included, in creation order.
    records: Vec<SamplingRuleRecord>,
    /// Epoch seconds of the last create/update/delete (GetSamplingTargets'
    /// `LastRuleModification`).
    last_rule_modification: f64,
}

impl SamplingRules {
    /// A fresh account: only the Default rule. `LastRuleModification` starts at `now`, not 0:
    /// aws-xray-sdk-node 3.0.1 rejected a 0 as invalid (aws/aws-xray-sdk-node#287), and an
    /// SDK that loaded rules after `now` will not refetch.
    pub fn new(partition: Partition, now: f64) -> Self {
        let default = SamplingRule {
            rule_name: DEFAULT_RULE_NAME.into(),
            rule_arn: partition.arn(&format!("sampling-rule/{DEFAULT_RULE_NAME}")),
            resource_arn: "*".into(),
            priority: DEFAULT_RULE_PRIORITY,
            fixed_rate: DEFAULT_RULE_FIXED_RATE,
            reservoir_size: DEFAULT_RULE_RESERVOIR_SIZE,
            service_name: "*".into(),
            service_type: "*".into(),
            host: "*".into(),
            http_method: "*".into(),
            url_path: "*".into(),
            version: 1,
            attributes: BTreeMap::new(),
            sampling_rate_boost: None,
        };
        Self {
            partition,
            records: vec![SamplingRuleRecord {
                sampling_rule: default,
                created_at: 0.0,
                modified_at: 0.0,
            }],
            last_rule_modification: now,
        }
    }

    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// The rule ARN for a name.
    pub fn arn_for(&self, name: &str) -> String {
        self.partition.arn(&format!("sampling-rule/{name}"))
    }

    pub fn last_rule_modification(&self) -> f64 {
        self.last_rule_modification
    }

    fn touch(&mut self, now: f64) {
        // Never run the clock backwards (a wall-clock step back must not hide a change).
        self.last_rule_modification = self.last_rule_modification.max(now);
    }

    /// Every record, in creation order (Default first).
    pub fn records(&self) -> &[SamplingRuleRecord] {
        &self.records
    }

    /// GetSamplingRules: all rules in one page (at most 26, so no NextToken), ordered by
    /// (Priority, RuleName) as the SDK evaluates them.
    pub fn get_sampling_rules(&self) -> GetSamplingRulesResponse {
        let mut records = self.records.clone();
        records.sort_by(|a, b| {
            (a.sampling_rule.priority, &a.sampling_rule.rule_name)
                .cmp(&(b.sampling_rule.priority, &b.sampling_rule.rule_name))
        });
        GetSamplingRulesResponse {
            sampling_rule_records: records,
            next_token: None,
        }
    }

    /// The rule named `name` (names are case-sensitive).
    pub fn get(&self, name: &str) -> Option<&SamplingRuleRecord> {
        self.records
            .iter()
            .find(|r| r.sampling_rule.rule_name == name)
    }

    fn position(&self, r: &Ref) -> Option<usize> {
        self.records.iter().position(|rec| match r {
            Ref::Name(n) => &rec.sampling_rule.rule_name == n,
            Ref::Arn(a) => &rec.sampling_rule.rule_arn == a,
        })
    }

    /// Is `arn` one of our rule ARNs?
    pub fn contains_arn(&self, arn: &str) -> bool {
        self.records.iter().any(|r| r.sampling_rule.rule_arn == arn)
    }

    /// CreateSamplingRule with a validated rule (see [`super::validate::create_sampling_rule`]).
    pub fn create(
        &mut self,
        mut rule: SamplingRule,
        now: f64,
    ) -> Result<SamplingRuleRecord, ControlError> {
        if self.get(&rule.rule_name).is_some() {
            return Err(ControlError::InvalidRequest(msg_exists(&rule.rule_name)));
        }
        let user_rules = self
            .records
            .iter()
            .filter(|r| r.sampling_rule.rule_name != DEFAULT_RULE_NAME)
            .count();
        if user_rules >= RULES_MAX {
            return Err(ControlError::RuleLimitExceeded(MSG_RULE_LIMIT.into()));
        }
        rule.rule_arn = self.arn_for(&rule.rule_name);
        let record = SamplingRuleRecord {
            sampling_rule: rule,
            created_at: now,
            modified_at: now,
        };
        self.records.push(record.clone());
        self.touch(now);
        Ok(record)
    }

    /// UpdateSamplingRule with a validated update.
    pub fn update(
        &mut self,
        u: &SamplingRuleUpdate,
        now: f64,
    ) -> Result<SamplingRuleRecord, ControlError> {
        let r = match (&u.rule_name, &u.rule_arn) {
            (Some(n), _) => Ref::Name(n.clone()),
            (None, Some(a)) => Ref::Arn(a.clone()),
            (None, None) => {
                return Err(ControlError::InvalidRequest(
                    super::validate::MSG_RULE_REF_MISSING.into(),
                ))
            }
        };
        let i = self
            .position(&r)
            .ok_or_else(|| ControlError::InvalidRequest(msg_not_found(&r)))?;
        let record = &mut self.records[i];
        let rule = &mut record.sampling_rule;
        if rule.rule_name == DEFAULT_RULE_NAME {
            let differs =
                |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
            let changes_matchers = differs(&u.resource_arn, &rule.resource_arn)
                || differs(&u.host, &rule.host)
                || differs(&u.service_name, &rule.service_name)
                || differs(&u.service_type, &rule.service_type)
                || differs(&u.http_method, &rule.http_method)
                || differs(&u.url_path, &rule.url_path)
                || u.priority.is_some_and(|p| p != rule.priority)
                || u.attributes.as_ref().is_some_and(|a| !a.is_empty());
            if changes_matchers {
                return Err(ControlError::InvalidRequest(MSG_DEFAULT_UPDATE.into()));
            }
        }
        let set = |slot: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        };
        set(&mut rule.resource_arn, &u.resource_arn);
        set(&mut rule.host, &u.host);
        set(&mut rule.service_name, &u.service_name);
        set(&mut rule.service_type, &u.service_type);
        set(&mut rule.http_method, &u.http_method);
        set(&mut rule.url_path, &u.url_path);
        if let Some(p) = u.priority {
            rule.priority = p;
        }
        if let Some(f) = u.fixed_rate {
            rule.fixed_rate = f;
        }
        if let Some(s) = u.reservoir_size {
            rule.reservoir_size = s;
        }
        if let Some(a) = &u.attributes {
            rule.attributes.clone_from(a);
        }
        if let Some(b) = &u.sampling_rate_boost {
            rule.sampling_rate_boost = Some(b.clone());
        }
        record.modified_at = now;
        let out = record.clone();
        self.touch(now);
        Ok(out)
    }

    /// DeleteSamplingRule; answers the deleted record.
    pub fn delete(&mut self, r: &Ref, now: f64) -> Result<SamplingRuleRecord, ControlError> {
        let i = self
            .position(r)
            .ok_or_else(|| ControlError::InvalidRequest(msg_not_found(r)))?;
        if self.records[i].sampling_rule.rule_name == DEFAULT_RULE_NAME {
            return Err(ControlError::InvalidRequest(MSG_DEFAULT_DELETE.into()));
        }
        let record = self.records.remove(i);
        self.touch(now);
        Ok(record)
    }

    /// The rule the SDK would choose for `req`: the first match in (Priority, RuleName)
    /// order; the Default rule matches everything as the fallback.
    pub fn match_request(&self, req: &SamplingRequest) -> Option<&SamplingRule> {
        let mut rules: Vec<&SamplingRule> = self.records.iter().map(|r| &r.sampling_rule).collect();
        rules.sort_by(|a, b| (a.priority, &a.rule_name).cmp(&(b.priority, &b.rule_name)));
        rules
            .iter()
            .find(|r| r.rule_name == DEFAULT_RULE_NAME || r.matches(req))
            .copied()
    }
}
