//! Request validation with AWS's own wording: every bound of botocore's model is checked here
//! (botocore itself only checks `min`, protocol facts §G.7) and reported as the Coral
//! framework does, e.g. `1 validation error detected: Value '10000' at 'samplingRule.priority'
//! failed to satisfy constraint: Member must have value less than or equal to 9999`.
//!
//! Wording: `Value <v> at '<path>' failed to satisfy constraint: Member must …`, several joined
//! by `; `, paths in lowerCamelCase with list items as `<list>.<n>.member` (1-based), null as
//! `Value null`, map entry rules as `Map keys must satisfy constraint: [...]`. **[inference]**
//! for the exact decapitalisation of upper-case-led members (`hTTPMethod`, `uRLPath`): Coral
//! lowers the first character only. Lengths are counted in UTF-16 units, as Java does.

use std::collections::BTreeMap;

use super::shapes::{
    CreateGroupRequest, CreateSamplingRuleRequest, DeleteSamplingRuleRequest, GetGroupsRequest,
    GetSamplingTargetsRequest, GroupRef, ListTagsForResourceRequest, PutEncryptionConfigRequest,
    PutResourcePolicyRequest, SamplingRateBoost, SamplingRule, SamplingRuleInput,
    SamplingRuleUpdate, Tag, TagInput, TagResourceRequest, UntagResourceRequest,
    UpdateGroupRequest, UpdateIndexingRuleRequest, UpdateSamplingRuleRequest,
    UpdateTraceSegmentDestinationRequest,
};
use super::ControlError;

/// `RuleName` length 1-32 (model shape `RuleName`).
pub const RULE_NAME_LEN_MAX: usize = 32;
/// `ResourceARN` of a rule ≤ 500 (model `ResourceARN`).
pub const RESOURCE_ARN_LEN_MAX: usize = 500;
/// `Priority` 1-9999 (model `Priority`; 10000 is the Default rule's).
pub const PRIORITY_MIN: i64 = 1;
pub const PRIORITY_MAX: i64 = 9999;
/// `ServiceName`, `ServiceType`, `Host` ≤ 64 (model).
pub const SERVICE_NAME_LEN_MAX: usize = 64;
pub const SERVICE_TYPE_LEN_MAX: usize = 64;
pub const HOST_LEN_MAX: usize = 64;
/// `HTTPMethod` ≤ 10 (model).
pub const HTTP_METHOD_LEN_MAX: usize = 10;
/// `URLPath` ≤ 128 (model).
pub const URL_PATH_LEN_MAX: usize = 128;
/// `Version` ≥ 1 (model).
pub const VERSION_MIN: i64 = 1;
/// `AttributeMap` ≤ 5 entries, keys and values 1-32 (model `AttributeMap`, `AttributeKey`,
/// `AttributeValue`).
pub const ATTRIBUTES_MAX: usize = 5;
pub const ATTRIBUTE_KEY_LEN_MAX: usize = 32;
pub const ATTRIBUTE_VALUE_LEN_MAX: usize = 32;
/// `TagList` ≤ 200 items; `TagKey` 1-128; `TagValue` 0-256 (model).
pub const TAG_LIST_MAX: usize = 200;
pub const TAG_KEY_LEN_MAX: usize = 128;
pub const TAG_VALUE_LEN_MAX: usize = 256;
/// `SamplingStatisticsDocumentList` and the boost list ≤ 25 (model).
pub const STATISTICS_DOCUMENTS_MAX: usize = 25;
/// `ClientID` exactly 24 characters (model min = max = 24; the SDK sends 24 hex digits).
pub const CLIENT_ID_LEN: usize = 24;
/// `GroupName` 1-32, `GroupARN` 1-400 (model).
pub const GROUP_NAME_LEN_MAX: usize = 32;
pub const GROUP_ARN_LEN_MAX: usize = 400;
/// `GetGroupsNextToken` 1-100 (model).
pub const GROUPS_NEXT_TOKEN_LEN_MAX: usize = 100;
/// `AmazonResourceName` (tagging) 1-1011 (model).
pub const TAGGING_ARN_LEN_MAX: usize = 1011;
/// `EncryptionKeyId` 1-3000 (model).
pub const ENCRYPTION_KEY_ID_LEN_MAX: usize = 3000;
/// `PolicyName` 1-128, pattern `[\w+=,.@-]+` (model).
pub const POLICY_NAME_LEN_MAX: usize = 128;
pub const POLICY_NAME_PATTERN: &str = r"[\w+=,.@-]+";
/// Model enums.
pub const ENCRYPTION_TYPES: &[&str] = &["NONE", "KMS"];
pub const TRACE_SEGMENT_DESTINATIONS: &[&str] = &["XRay", "CloudWatchLogs"];

/// A collector of constraint violations, rendered into one `InvalidRequestException`.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<String>,
}

/// Java's `String.length()`: UTF-16 code units.
fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A double as Java's `Double.toString` prints common values (`1.0`, `0.05`, `1.5`).
fn java_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn java_map(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn java_string_list(l: &[String]) -> String {
    format!("[{}]", l.join(", "))
}

fn length_rules(min: Option<usize>, max: Option<usize>) -> Vec<String> {
    let mut rules = Vec::new();
    if let Some(max) = max {
        rules.push(format!(
            "Member must have length less than or equal to {max}"
        ));
    }
    if let Some(min) = min {
        rules.push(format!(
            "Member must have length greater than or equal to {min}"
        ));
    }
    rules
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, value: Option<String>, path: &str, rule: &str) {
        let value = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        self.items.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {rule}"
        ));
    }

    /// Required member: `Value null at '…' … Member must not be null`.
    pub fn required<'a, T>(&mut self, path: &str, v: Option<&'a T>) -> Option<&'a T> {
        if v.is_none() {
            self.push(None, path, "Member must not be null");
        }
        v
    }

    /// String length bounds (UTF-16 units).
    pub fn str_len(&mut self, path: &str, v: &str, min: Option<usize>, max: Option<usize>) {
        let len = java_len(v);
        if let Some(max) = max {
            if len > max {
                self.push(
                    Some(v.to_string()),
                    path,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
        if let Some(min) = min {
            if len < min {
                self.push(
                    Some(v.to_string()),
                    path,
                    &format!("Member must have length greater than or equal to {min}"),
                );
            }
        }
    }

    /// Optional string with length bounds.
    pub fn opt_str_len(
        &mut self,
        path: &str,
        v: Option<&String>,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        if let Some(v) = v {
            self.str_len(path, v, min, max);
        }
    }

    /// Integer range.
    pub fn int_range(&mut self, path: &str, v: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(max) = max {
            if v > max {
                self.push(
                    Some(v.to_string()),
                    path,
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
        if let Some(min) = min {
            if v < min {
                self.push(
                    Some(v.to_string()),
                    path,
                    &format!("Member must have value greater than or equal to {min}"),
                );
            }
        }
    }

    /// Double range; the model writes the bounds as integers (`"min":0,"max":1`).
    pub fn f64_range(&mut self, path: &str, v: f64, min: Option<i64>, max: Option<i64>) {
        if let Some(max) = max {
            if v > max as f64 {
                self.push(
                    Some(java_double(v)),
                    path,
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
        if let Some(min) = min {
            if v < min as f64 {
                self.push(
                    Some(java_double(v)),
                    path,
                    &format!("Member must have value greater than or equal to {min}"),
                );
            }
        }
    }

    /// List/map item count; `rendered` is the value as Java would print it.
    pub fn count(&mut self, path: &str, rendered: String, n: usize, max: usize) {
        if n > max {
            self.push(
                Some(rendered),
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Enum membership: `Member must satisfy enum value set: [NONE, KMS]`.
    pub fn one_of(&mut self, path: &str, v: &str, allowed: &[&str]) {
        if !allowed.contains(&v) {
            self.push(
                Some(v.to_string()),
                path,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Map of strings with per-key and per-value length bounds.
    #[allow(clippy::too_many_arguments)]
    pub fn string_map(
        &mut self,
        path: &str,
        m: &BTreeMap<String, String>,
        max_entries: usize,
        key: (Option<usize>, Option<usize>),
        value: (Option<usize>, Option<usize>),
    ) {
        self.count(path, java_map(m), m.len(), max_entries);
        let bad = |s: &str, (min, max): (Option<usize>, Option<usize>)| {
            let len = java_len(s);
            min.is_some_and(|min| len < min) || max.is_some_and(|max| len > max)
        };
        if m.keys().any(|k| bad(k, key)) {
            self.push(
                Some(java_map(m)),
                path,
                &format!(
                    "Map keys must satisfy constraint: [{}]",
                    length_rules(key.0, key.1).join(", ")
                ),
            );
        }
        if m.values().any(|v| bad(v, value)) {
            self.push(
                Some(java_map(m)),
                path,
                &format!(
                    "Map value must satisfy constraint: [{}]",
                    length_rules(value.0, value.1).join(", ")
                ),
            );
        }
    }

    /// `Ok(())` when nothing was violated, else the `InvalidRequestException`.
    pub fn finish(self) -> Result<(), ControlError> {
        if self.items.is_empty() {
            return Ok(());
        }
        let n = self.items.len();
        let plural = if n == 1 { "error" } else { "errors" };
        Err(ControlError::InvalidRequest(format!(
            "{n} validation {plural} detected: {}",
            self.items.join("; ")
        )))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn boost(v: &mut Violations, path: &str, b: &SamplingRateBoost) {
    if let Some(r) = v.required(&format!("{path}.maxRate"), b.max_rate.as_ref()) {
        v.f64_range(&format!("{path}.maxRate"), *r, Some(0), Some(1));
    }
    if let Some(c) = v.required(
        &format!("{path}.cooldownWindowMinutes"),
        b.cooldown_window_minutes.as_ref(),
    ) {
        v.int_range(&format!("{path}.cooldownWindowMinutes"), *c, Some(0), None);
    }
}

fn tag_list(v: &mut Violations, path: &str, tags: &[TagInput]) -> Vec<Tag> {
    let rendered = serde_json::to_string(tags).unwrap_or_default();
    v.count(path, rendered, tags.len(), TAG_LIST_MAX);
    let mut out = Vec::with_capacity(tags.len().min(TAG_LIST_MAX));
    for (i, t) in tags.iter().enumerate() {
        let item = format!("{path}.{}.member", i + 1);
        let key = v.required(&format!("{item}.key"), t.key.as_ref());
        if let Some(k) = key {
            v.str_len(&format!("{item}.key"), k, Some(1), Some(TAG_KEY_LEN_MAX));
        }
        let value = v.required(&format!("{item}.value"), t.value.as_ref());
        if let Some(val) = value {
            v.str_len(&format!("{item}.value"), val, None, Some(TAG_VALUE_LEN_MAX));
        }
        if let (Some(k), Some(val)) = (key, value) {
            out.push(Tag {
                key: k.clone(),
                value: val.clone(),
            });
        }
    }
    out
}

/// One string member and its (min, max) length bounds.
type StringBound<'a> = (&'a str, Option<&'a String>, Option<usize>, Option<usize>);

/// The members of a `SamplingRule` with bounds, shared by create (`required`) and update.
fn rule_strings(v: &mut Violations, path: &str, fields: [StringBound<'_>; 7]) {
    for (name, value, min, max) in fields {
        v.opt_str_len(&format!("{path}.{name}"), value, min, max);
    }
}

/// A validated new rule: a complete [`SamplingRule`] whose `RuleARN` is still empty.
fn sampling_rule(v: &mut Violations, path: &str, r: &SamplingRuleInput) -> Option<SamplingRule> {
    let p = |m: &str| format!("{path}.{m}");
    // RuleName is optional in the model but the service names every rule by it [inference].
    let rule_name = v.required(&p("ruleName"), r.rule_name.as_ref());
    let resource_arn = v.required(&p("resourceARN"), r.resource_arn.as_ref());
    let priority = v.required(&p("priority"), r.priority.as_ref());
    let fixed_rate = v.required(&p("fixedRate"), r.fixed_rate.as_ref());
    let reservoir_size = v.required(&p("reservoirSize"), r.reservoir_size.as_ref());
    let service_name = v.required(&p("serviceName"), r.service_name.as_ref());
    let service_type = v.required(&p("serviceType"), r.service_type.as_ref());
    let host = v.required(&p("host"), r.host.as_ref());
    let http_method = v.required(&p("hTTPMethod"), r.http_method.as_ref());
    let url_path = v.required(&p("uRLPath"), r.url_path.as_ref());
    let version = v.required(&p("version"), r.version.as_ref());
    rule_strings(
        v,
        path,
        [
            ("ruleName", rule_name, Some(1), Some(RULE_NAME_LEN_MAX)),
            (
                "resourceARN",
                resource_arn,
                None,
                Some(RESOURCE_ARN_LEN_MAX),
            ),
            (
                "serviceName",
                service_name,
                None,
                Some(SERVICE_NAME_LEN_MAX),
            ),
            (
                "serviceType",
                service_type,
                None,
                Some(SERVICE_TYPE_LEN_MAX),
            ),
            ("host", host, None, Some(HOST_LEN_MAX)),
            ("hTTPMethod", http_method, None, Some(HTTP_METHOD_LEN_MAX)),
            ("uRLPath", url_path, None, Some(URL_PATH_LEN_MAX)),
        ],
    );
    if let Some(x) = priority {
        v.int_range(&p("priority"), *x, Some(PRIORITY_MIN), Some(PRIORITY_MAX));
    }
    if let Some(x) = fixed_rate {
        v.f64_range(&p("fixedRate"), *x, Some(0), Some(1));
    }
    if let Some(x) = reservoir_size {
        v.int_range(&p("reservoirSize"), *x, Some(0), None);
    }
    if let Some(x) = version {
        v.int_range(&p("version"), *x, Some(VERSION_MIN), None);
    }
    if let Some(a) = &r.attributes {
        v.string_map(
            &p("attributes"),
            a,
            ATTRIBUTES_MAX,
            (Some(1), Some(ATTRIBUTE_KEY_LEN_MAX)),
            (Some(1), Some(ATTRIBUTE_VALUE_LEN_MAX)),
        );
    }
    if let Some(b) = &r.sampling_rate_boost {
        boost(v, &p("samplingRateBoost"), b);
    }
    Some(SamplingRule {
        rule_name: rule_name?.clone(),
        rule_arn: String::new(),
        resource_arn: resource_arn?.clone(),
        priority: *priority?,
        fixed_rate: *fixed_rate?,
        reservoir_size: *reservoir_size?,
        service_name: service_name?.clone(),
        service_type: service_type?.clone(),
        host: host?.clone(),
        http_method: http_method?.clone(),
        url_path: url_path?.clone(),
        version: *version?,
        attributes: r.attributes.clone().unwrap_or_default(),
        sampling_rate_boost: r.sampling_rate_boost.clone(),
    })
}

/// CreateSamplingRule: the rule (ARN not yet assigned) and its tags.
pub fn create_sampling_rule(
    req: &CreateSamplingRuleRequest,
) -> Result<(SamplingRule, Vec<Tag>), ControlError> {
    let mut v = Violations::new();
    let rule = v
        .required("samplingRule", req.sampling_rule.as_ref())
        .and_then(|r| sampling_rule(&mut v, "samplingRule", r));
    let tags = req
        .tags
        .as_deref()
        .map(|t| tag_list(&mut v, "tags", t))
        .unwrap_or_default();
    v.finish()?;
    rule.map(|r| (r, tags))
        .ok_or_else(|| ControlError::InvalidRequest("Invalid sampling rule".into()))
}

/// UpdateSamplingRule: the update, checked member by member. The model gives Priority,
/// FixedRate and ReservoirSize no bounds on the update shape (`NullableInteger`/`Double`);
/// the service applies the rule's bounds, reported here in the same wording **[inference]**.
pub fn update_sampling_rule(
    req: &UpdateSamplingRuleRequest,
) -> Result<SamplingRuleUpdate, ControlError> {
    let mut v = Violations::new();
    let path = "samplingRuleUpdate";
    let Some(u) = v.required(path, req.sampling_rule_update.as_ref()) else {
        v.finish()?;
        return Err(ControlError::InvalidRequest(String::new()));
    };
    rule_strings(
        &mut v,
        path,
        [
            (
                "ruleName",
                u.rule_name.as_ref(),
                Some(1),
                Some(RULE_NAME_LEN_MAX),
            ),
            (
                "resourceARN",
                u.resource_arn.as_ref(),
                None,
                Some(RESOURCE_ARN_LEN_MAX),
            ),
            (
                "serviceName",
                u.service_name.as_ref(),
                None,
                Some(SERVICE_NAME_LEN_MAX),
            ),
            (
                "serviceType",
                u.service_type.as_ref(),
                None,
                Some(SERVICE_TYPE_LEN_MAX),
            ),
            ("host", u.host.as_ref(), None, Some(HOST_LEN_MAX)),
            (
                "hTTPMethod",
                u.http_method.as_ref(),
                None,
                Some(HTTP_METHOD_LEN_MAX),
            ),
            ("uRLPath", u.url_path.as_ref(), None, Some(URL_PATH_LEN_MAX)),
        ],
    );
    if let Some(x) = u.priority {
        v.int_range(
            &format!("{path}.priority"),
            x,
            Some(PRIORITY_MIN),
            Some(PRIORITY_MAX),
        );
    }
    if let Some(x) = u.fixed_rate {
        v.f64_range(&format!("{path}.fixedRate"), x, Some(0), Some(1));
    }
    if let Some(x) = u.reservoir_size {
        v.int_range(&format!("{path}.reservoirSize"), x, Some(0), None);
    }
    if let Some(a) = &u.attributes {
        v.string_map(
            &format!("{path}.attributes"),
            a,
            ATTRIBUTES_MAX,
            (Some(1), Some(ATTRIBUTE_KEY_LEN_MAX)),
            (Some(1), Some(ATTRIBUTE_VALUE_LEN_MAX)),
        );
    }
    if let Some(b) = &u.sampling_rate_boost {
        boost(&mut v, &format!("{path}.samplingRateBoost"), b);
    }
    v.finish()?;
    Ok(u.clone())
}

/// How a request names a rule or group: by name, else by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Name(String),
    Arn(String),
}

/// Message when neither a name nor an ARN is given **[inference]**.
pub const MSG_RULE_REF_MISSING: &str = "RuleName or RuleARN must be specified";
pub const MSG_GROUP_REF_MISSING: &str = "GroupName or GroupARN must be specified";

/// DeleteSamplingRule: RuleName or RuleARN (model `String`, unbounded).
pub fn delete_sampling_rule(req: &DeleteSamplingRuleRequest) -> Result<Ref, ControlError> {
    match (&req.rule_name, &req.rule_arn) {
        (Some(n), _) => Ok(Ref::Name(n.clone())),
        (None, Some(a)) => Ok(Ref::Arn(a.clone())),
        (None, None) => Err(ControlError::InvalidRequest(MSG_RULE_REF_MISSING.into())),
    }
}

/// One validated statistics document.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsReport {
    pub rule_name: String,
    pub client_id: String,
    pub timestamp: f64,
    pub request_count: i64,
    pub sampled_count: i64,
    pub borrow_count: i64,
}

/// GetSamplingTargets: every document complete and in bounds.
pub fn get_sampling_targets(
    req: &GetSamplingTargetsRequest,
) -> Result<Vec<StatisticsReport>, ControlError> {
    let mut v = Violations::new();
    let path = "samplingStatisticsDocuments";
    let docs = v
        .required(path, req.sampling_statistics_documents.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    v.count(
        path,
        serde_json::to_string(docs).unwrap_or_default(),
        docs.len(),
        STATISTICS_DOCUMENTS_MAX,
    );
    let mut out = Vec::with_capacity(docs.len().min(STATISTICS_DOCUMENTS_MAX));
    for (i, d) in docs.iter().enumerate() {
        let item = format!("{path}.{}.member", i + 1);
        let p = |m: &str| format!("{item}.{m}");
        let rule = v.required(&p("ruleName"), d.rule_name.as_ref());
        let client = v.required(&p("clientID"), d.client_id.as_ref());
        let ts = v.required(&p("timestamp"), d.timestamp.as_ref());
        let requests = v.required(&p("requestCount"), d.request_count.as_ref());
        let sampled = v.required(&p("sampledCount"), d.sampled_count.as_ref());
        v.opt_str_len(&p("ruleName"), rule, Some(1), Some(RULE_NAME_LEN_MAX));
        v.opt_str_len(
            &p("clientID"),
            client,
            Some(CLIENT_ID_LEN),
            Some(CLIENT_ID_LEN),
        );
        for (m, x) in [
            ("requestCount", requests),
            ("sampledCount", sampled),
            ("borrowCount", d.borrow_count.as_ref()),
        ] {
            if let Some(x) = x {
                v.int_range(&p(m), *x, Some(0), None);
            }
        }
        if let (Some(rule), Some(client), Some(ts), Some(requests), Some(sampled)) =
            (rule, client, ts, requests, sampled)
        {
            out.push(StatisticsReport {
                rule_name: rule.clone(),
                client_id: client.clone(),
                timestamp: *ts,
                request_count: *requests,
                sampled_count: *sampled,
                borrow_count: d.borrow_count.unwrap_or(0),
            });
        }
    }
    if let Some(boosts) = &req.sampling_boost_statistics_documents {
        let path = "samplingBoostStatisticsDocuments";
        v.count(
            path,
            serde_json::to_string(boosts).unwrap_or_default(),
            boosts.len(),
            STATISTICS_DOCUMENTS_MAX,
        );
        for (i, b) in boosts.iter().enumerate() {
            let item = format!("{path}.{}.member", i + 1);
            let p = |m: &str| format!("{item}.{m}");
            let rule = v.required(&p("ruleName"), b.rule_name.as_ref());
            v.opt_str_len(&p("ruleName"), rule, Some(1), Some(RULE_NAME_LEN_MAX));
            let service = v.required(&p("serviceName"), b.service_name.as_ref());
            v.opt_str_len(&p("serviceName"), service, None, Some(SERVICE_NAME_LEN_MAX));
            v.required(&p("timestamp"), b.timestamp.as_ref());
            for (m, x) in [
                ("anomalyCount", b.anomaly_count.as_ref()),
                ("totalCount", b.total_count.as_ref()),
                ("sampledAnomalyCount", b.sampled_anomaly_count.as_ref()),
            ] {
                if let Some(x) = v.required(&p(m), x) {
                    v.int_range(&p(m), *x, Some(0), None);
                }
            }
        }
    }
    v.finish()?;
    Ok(out)
}

/// A validated CreateGroup.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGroup {
    pub name: String,
    pub filter_expression: Option<String>,
    pub insights: super::shapes::InsightsConfiguration,
    pub tags: Vec<Tag>,
}

/// CreateGroup: GroupName 1-32 (required), tags.
pub fn create_group(req: &CreateGroupRequest) -> Result<NewGroup, ControlError> {
    let mut v = Violations::new();
    let name = v.required("groupName", req.group_name.as_ref());
    v.opt_str_len("groupName", name, Some(1), Some(GROUP_NAME_LEN_MAX));
    let tags = req
        .tags
        .as_deref()
        .map(|t| tag_list(&mut v, "tags", t))
        .unwrap_or_default();
    v.finish()?;
    Ok(NewGroup {
        name: name.cloned().unwrap_or_default(),
        filter_expression: req.filter_expression.clone(),
        insights: req.insights_configuration.unwrap_or_default(),
        tags,
    })
}

fn group_ref_of(v: &mut Violations, name: Option<&String>, arn: Option<&String>) -> Option<Ref> {
    v.opt_str_len("groupName", name, Some(1), Some(GROUP_NAME_LEN_MAX));
    v.opt_str_len("groupARN", arn, Some(1), Some(GROUP_ARN_LEN_MAX));
    match (name, arn) {
        (Some(n), _) => Some(Ref::Name(n.clone())),
        (None, Some(a)) => Some(Ref::Arn(a.clone())),
        (None, None) => None,
    }
}

/// GetGroup / DeleteGroup: GroupName 1-32 or GroupARN 1-400.
pub fn group_ref(req: &GroupRef) -> Result<Ref, ControlError> {
    let mut v = Violations::new();
    let r = group_ref_of(&mut v, req.group_name.as_ref(), req.group_arn.as_ref());
    v.finish()?;
    r.ok_or_else(|| ControlError::InvalidRequest(MSG_GROUP_REF_MISSING.into()))
}

/// UpdateGroup: the reference, checked like [`group_ref`].
pub fn update_group(req: &UpdateGroupRequest) -> Result<Ref, ControlError> {
    let mut v = Violations::new();
    let r = group_ref_of(&mut v, req.group_name.as_ref(), req.group_arn.as_ref());
    v.finish()?;
    r.ok_or_else(|| ControlError::InvalidRequest(MSG_GROUP_REF_MISSING.into()))
}

/// GetGroups: NextToken 1-100.
pub fn get_groups(req: &GetGroupsRequest) -> Result<(), ControlError> {
    let mut v = Violations::new();
    v.opt_str_len(
        "nextToken",
        req.next_token.as_ref(),
        Some(1),
        Some(GROUPS_NEXT_TOKEN_LEN_MAX),
    );
    v.finish()
}

fn tagging_arn(v: &mut Violations, arn: Option<&String>) -> Option<String> {
    let arn = v.required("resourceARN", arn);
    v.opt_str_len("resourceARN", arn, Some(1), Some(TAGGING_ARN_LEN_MAX));
    arn.cloned()
}

/// TagResource: ResourceARN 1-1011 and Tags (required, ≤ 200).
pub fn tag_resource(req: &TagResourceRequest) -> Result<(String, Vec<Tag>), ControlError> {
    let mut v = Violations::new();
    let arn = tagging_arn(&mut v, req.resource_arn.as_ref());
    let tags = v
        .required("tags", req.tags.as_ref())
        .map(|t| tag_list(&mut v, "tags", t))
        .unwrap_or_default();
    v.finish()?;
    Ok((arn.unwrap_or_default(), tags))
}

/// UntagResource: ResourceARN and TagKeys (required, ≤ 200, each 1-128).
pub fn untag_resource(req: &UntagResourceRequest) -> Result<(String, Vec<String>), ControlError> {
    let mut v = Violations::new();
    let arn = tagging_arn(&mut v, req.resource_arn.as_ref());
    let keys = v
        .required("tagKeys", req.tag_keys.as_ref())
        .cloned()
        .unwrap_or_default();
    v.count("tagKeys", java_string_list(&keys), keys.len(), TAG_LIST_MAX);
    for (i, k) in keys.iter().enumerate() {
        v.str_len(
            &format!("tagKeys.{}.member", i + 1),
            k,
            Some(1),
            Some(TAG_KEY_LEN_MAX),
        );
    }
    v.finish()?;
    Ok((arn.unwrap_or_default(), keys))
}

/// ListTagsForResource: ResourceARN.
pub fn list_tags_for_resource(req: &ListTagsForResourceRequest) -> Result<String, ControlError> {
    let mut v = Violations::new();
    let arn = tagging_arn(&mut v, req.resource_arn.as_ref());
    v.finish()?;
    Ok(arn.unwrap_or_default())
}

/// PutEncryptionConfig: Type (required, `NONE` | `KMS`), KeyId 1-3000.
pub fn put_encryption_config(req: &PutEncryptionConfigRequest) -> Result<(), ControlError> {
    let mut v = Violations::new();
    if let Some(t) = v.required("type", req.r#type.as_ref()) {
        v.one_of("type", t, ENCRYPTION_TYPES);
    }
    v.opt_str_len(
        "keyId",
        req.key_id.as_ref(),
        Some(1),
        Some(ENCRYPTION_KEY_ID_LEN_MAX),
    );
    v.finish()
}

/// UpdateTraceSegmentDestination: Destination `XRay` | `CloudWatchLogs`.
pub fn update_trace_segment_destination(
    req: &UpdateTraceSegmentDestinationRequest,
) -> Result<(), ControlError> {
    let mut v = Violations::new();
    if let Some(d) = &req.destination {
        v.one_of("destination", d, TRACE_SEGMENT_DESTINATIONS);
    }
    v.finish()
}

/// UpdateIndexingRule: Name and Rule required; `Probabilistic.DesiredSamplingPercentage`
/// required when the union member is given.
pub fn update_indexing_rule(req: &UpdateIndexingRuleRequest) -> Result<(), ControlError> {
    let mut v = Violations::new();
    v.required("name", req.name.as_ref());
    if let Some(rule) = v.required("rule", req.rule.as_ref()) {
        if let Some(p) = &rule.probabilistic {
            v.required(
                "rule.probabilistic.desiredSamplingPercentage",
                p.desired_sampling_percentage.as_ref(),
            );
        }
    }
    v.finish()
}

/// Java's `\w` (ASCII word character) plus `+=,.@-`: the model's `PolicyName` pattern.
fn policy_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// PutResourcePolicy: PolicyName 1-128 matching `[\w+=,.@-]+`, PolicyDocument required.
pub fn put_resource_policy(req: &PutResourcePolicyRequest) -> Result<(), ControlError> {
    let mut v = Violations::new();
    if let Some(n) = v.required("policyName", req.policy_name.as_ref()) {
        v.str_len("policyName", n, Some(1), Some(POLICY_NAME_LEN_MAX));
        if !n.is_empty() && !n.chars().all(policy_name_char) {
            v.push(
                Some(n.clone()),
                "policyName",
                &format!("Member must satisfy regular expression pattern: {POLICY_NAME_PATTERN}"),
            );
        }
    }
    v.required("policyDocument", req.policy_document.as_ref());
    v.finish()
}

/// DeleteResourcePolicy: PolicyName as for put.
pub fn delete_resource_policy(
    req: &super::shapes::DeleteResourcePolicyRequest,
) -> Result<String, ControlError> {
    let mut v = Violations::new();
    let name = v.required("policyName", req.policy_name.as_ref());
    if let Some(n) = name {
        v.str_len("policyName", n, Some(1), Some(POLICY_NAME_LEN_MAX));
        if !n.is_empty() && !n.chars().all(policy_name_char) {
            v.push(
                Some(n.clone()),
                "policyName",
                &format!("Member must satisfy regular expression pattern: {POLICY_NAME_PATTERN}"),
            );
        }
    }
    v.finish()?;
    Ok(name.cloned().unwrap_or_default())
}
