//! Centralized rules: the wire shapes of `GetSamplingRules`/`SamplingTargets`, the rule cache,
//! and the per-rule reservoir, after the Python SDK's `sampling` package.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{wildcard, SamplingRequest};

/// The cache is not used once this long has passed since rules were last fetched.
pub(crate) const CACHE_TTL_SECS: f64 = 3600.0;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GetSamplingRulesResponse {
    pub sampling_rule_records: Vec<SamplingRuleRecord>,
    pub next_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SamplingRuleRecord {
    pub sampling_rule: Option<RuleDef>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RuleDef {
    rule_name: Option<String>,
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    priority: Option<i64>,
    fixed_rate: Option<f64>,
    reservoir_size: Option<u64>,
    service_name: Option<String>,
    service_type: Option<String>,
    host: Option<String>,
    #[serde(rename = "HTTPMethod")]
    http_method: Option<String>,
    #[serde(rename = "URLPath")]
    url_path: Option<String>,
    version: Option<i64>,
    attributes: Option<HashMap<String, String>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticsDocument {
    pub rule_name: String,
    #[serde(rename = "ClientID")]
    pub client_id: String,
    pub timestamp: f64,
    pub request_count: u64,
    pub sampled_count: u64,
    pub borrow_count: u64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SamplingTargetsResponse {
    pub sampling_target_documents: Vec<TargetDoc>,
    pub last_rule_modification: Option<f64>,
    pub unprocessed_statistics: Vec<Unprocessed>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TargetDoc {
    pub rule_name: String,
    pub fixed_rate: Option<f64>,
    pub reservoir_quota: Option<i64>,
    #[serde(rename = "ReservoirQuotaTTL")]
    pub reservoir_quota_ttl: Option<f64>,
    pub interval: Option<f64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct Unprocessed {
    pub rule_name: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReservoirDecision {
    Take,
    Borrow,
    No,
}

/// A rule's reservoir: the quota X-Ray assigned (valid until its TTL) or, without one, one
/// borrowed request a second.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reservoir {
    pub quota: Option<i64>,
    pub ttl: Option<f64>,
    this_sec: i64,
    taken_this_sec: i64,
    borrowed_this_sec: i64,
    report_interval: f64,
    report_elapsed: u64,
}

impl Reservoir {
    fn new() -> Reservoir {
        Reservoir {
            report_interval: 1.0,
            ..Reservoir::default()
        }
    }

    fn borrow_or_take(&mut self, now: i64, can_borrow: bool) -> ReservoirDecision {
        if now != self.this_sec {
            self.taken_this_sec = 0;
            self.borrowed_this_sec = 0;
            self.this_sec = now;
        }
        if let (Some(quota), Some(ttl)) = (self.quota, self.ttl) {
            if quota >= 0 && ttl >= now as f64 {
                if self.taken_this_sec >= quota {
                    return ReservoirDecision::No;
                }
                self.taken_this_sec += 1;
                return ReservoirDecision::Take;
            }
        }
        if can_borrow && self.borrowed_this_sec < 1 {
            self.borrowed_this_sec += 1;
            return ReservoirDecision::Borrow;
        }
        ReservoirDecision::No
    }

    fn load_quota(&mut self, quota: Option<i64>, ttl: Option<f64>, interval: Option<f64>) {
        if quota.is_some() {
            self.quota = quota;
        }
        if ttl.is_some() {
            self.ttl = ttl.map(f64::floor);
        }
        if let Some(i) = interval {
            // Intervals are counted in target polls of 10 s.
            self.report_interval = i / 10.0;
        }
    }

    fn time_to_report(&mut self) -> bool {
        if (self.report_elapsed + 1) as f64 >= self.report_interval {
            self.report_elapsed = 0;
            true
        } else {
            self.report_elapsed += 1;
            false
        }
    }
}

/// One centralized rule with its reservoir and the statistics since the last report.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub name: String,
    pub priority: i64,
    pub rate: f64,
    can_borrow: bool,
    service: Option<String>,
    service_type: Option<String>,
    host: Option<String>,
    method: Option<String>,
    path: Option<String>,
    pub reservoir: Reservoir,
    pub request_count: u64,
    pub borrow_count: u64,
    pub sampled_count: u64,
}

impl Rule {
    /// A rule the SDK handles: version 1, any resource (`*`), with a service type, and no
    /// attributes; `None` for the rest (or for records missing required fields).
    pub fn from_def(d: RuleDef) -> Option<Rule> {
        if d.version != Some(1)
            || d.resource_arn.as_deref() != Some("*")
            || d.service_type.as_deref().is_none_or(str::is_empty)
            || d.attributes.as_ref().is_some_and(|a| !a.is_empty())
        {
            return None;
        }
        Some(Rule {
            name: d.rule_name?,
            priority: d.priority?,
            rate: d.fixed_rate?,
            can_borrow: d.reservoir_size? > 0,
            service: d.service_name,
            service_type: d.service_type,
            host: d.host,
            method: d.http_method,
            path: d.url_path,
            reservoir: Reservoir::new(),
            request_count: 0,
            borrow_count: 0,
            sampled_count: 0,
        })
    }

    fn matches(&self, req: &SamplingRequest, service_type: Option<&str>) -> bool {
        let m = |pat: &Option<String>, val: &str| {
            val.is_empty() || pat.as_deref().is_some_and(|p| wildcard::matches(p, val))
        };
        m(&self.host, &req.host)
            && m(&self.method, &req.method)
            && m(&self.path, &req.url_path)
            && m(&self.service, &req.service_name)
            && m(&self.service_type, service_type.unwrap_or(""))
    }

    /// The SDK's `_process_matched_rule`: count the request, take or borrow from the reservoir,
    /// else sample at the fixed rate (`draw` is uniform in [0, 1)).
    pub fn sample(&mut self, now: i64, draw: impl FnOnce() -> f64) -> bool {
        self.request_count += 1;
        match self.reservoir.borrow_or_take(now, self.can_borrow) {
            ReservoirDecision::Borrow => {
                self.borrow_count += 1;
                true
            }
            ReservoirDecision::Take => {
                self.sampled_count += 1;
                true
            }
            ReservoirDecision::No if draw() <= self.rate => {
                self.sampled_count += 1;
                true
            }
            ReservoirDecision::No => false,
        }
    }
}

/// The fetched rules, sorted by priority then name.
#[derive(Debug, Default)]
pub(crate) struct RuleCache {
    pub rules: Vec<Rule>,
    pub last_updated: Option<f64>,
}

impl RuleCache {
    /// The first matching rule, or the `Default` rule when reached unmatched; none when the
    /// cache was never loaded or is more than an hour old.
    pub fn matched(
        &mut self,
        req: &SamplingRequest,
        service_type: Option<&str>,
        now: f64,
    ) -> Option<&mut Rule> {
        match self.last_updated {
            Some(t) if now <= t + CACHE_TTL_SECS => {}
            _ => return None,
        }
        self.rules
            .iter_mut()
            .find(|r| r.matches(req, service_type) || r.name == "Default")
    }

    /// Replaces the rules, carrying reservoirs and statistics over from same-named old rules.
    pub fn load_rules(&mut self, mut rules: Vec<Rule>, now: f64) {
        let mut old: HashMap<String, Rule> =
            self.rules.drain(..).map(|r| (r.name.clone(), r)).collect();
        for r in &mut rules {
            if let Some(o) = old.remove(&r.name) {
                r.reservoir = o.reservoir;
                r.request_count = o.request_count;
                r.borrow_count = o.borrow_count;
                r.sampled_count = o.sampled_count;
            }
        }
        rules.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        self.rules = rules;
        self.last_updated = Some(now);
    }

    /// Statistics of the rules due a report (matched since the last one, and at their report
    /// interval), resetting their counters.
    pub fn take_statistics(&mut self, client_id: &str, now: f64) -> Vec<StatisticsDocument> {
        let mut docs = Vec::new();
        for r in &mut self.rules {
            if r.request_count > 0 && r.reservoir.time_to_report() {
                docs.push(StatisticsDocument {
                    rule_name: r.name.clone(),
                    client_id: client_id.to_string(),
                    timestamp: now,
                    request_count: std::mem::take(&mut r.request_count),
                    sampled_count: std::mem::take(&mut r.sampled_count),
                    borrow_count: std::mem::take(&mut r.borrow_count),
                });
            }
        }
        docs
    }

    /// Applies new quotas, TTLs, report intervals and rates.
    pub fn load_targets(&mut self, targets: &[TargetDoc]) {
        for t in targets {
            if let Some(r) = self.rules.iter_mut().find(|r| r.name == t.rule_name) {
                r.reservoir
                    .load_quota(t.reservoir_quota, t.reservoir_quota_ttl, t.interval);
                if let Some(rate) = t.fixed_rate {
                    r.rate = rate;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn def(name: &str, priority: i64, path: &str, reservoir: u64, rate: f64) -> RuleDef {
        serde_json::from_value(serde_json::json!({
            "RuleName": name, "RuleARN": format!("arn:aws:xray:us-east-1:1:sampling-rule/{name}"),
            "ResourceARN": "*", "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": path,
            "Version": 1, "Attributes": {}
        }))
        .unwrap()
    }

    #[test]
    fn invalid_rules_are_skipped() {
        assert!(Rule::from_def(def("a", 1, "*", 1, 0.1)).is_some());
        let mut d = def("a", 1, "*", 1, 0.1);
        d.version = Some(2);
        assert!(Rule::from_def(d).is_none());
        let mut d = def("a", 1, "*", 1, 0.1);
        d.resource_arn = Some("arn:x".into());
        assert!(Rule::from_def(d).is_none());
        let mut d = def("a", 1, "*", 1, 0.1);
        d.service_type = None;
        assert!(Rule::from_def(d).is_none());
        let mut d = def("a", 1, "*", 1, 0.1);
        d.attributes = Some([("k".to_string(), "v".to_string())].into());
        assert!(Rule::from_def(d).is_none());
        let mut d = def("a", 1, "*", 1, 0.1);
        d.priority = None;
        assert!(Rule::from_def(d).is_none());
    }

    #[test]
    fn cache_order_default_fallback_and_expiry() {
        let mut c = RuleCache::default();
        let req = SamplingRequest::new("svc", "h", "GET", "/api/x");
        assert!(c.matched(&req, None, 10.0).is_none());
        let rules = [
            def("Default", 10000, "*", 1, 0.05),
            def("b", 5, "/api/*", 1, 0.5),
            def("a", 5, "/api/*", 1, 0.5),
            def("z", 1, "/other", 1, 0.5),
        ];
        c.load_rules(rules.into_iter().filter_map(Rule::from_def).collect(), 10.0);
        let names: Vec<_> = c.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["z", "a", "b", "Default"]);
        assert_eq!(c.matched(&req, None, 10.0).unwrap().name, "a");
        let other = SamplingRequest::new("svc", "h", "GET", "/nope");
        assert_eq!(c.matched(&other, None, 10.0).unwrap().name, "Default");
        assert!(c.matched(&req, None, 10.0 + CACHE_TTL_SECS + 1.0).is_none());
    }

    #[test]
    fn reservoir_borrows_then_takes_quota_until_ttl() {
        let mut r = Reservoir::new();
        assert_eq!(r.borrow_or_take(100, true), ReservoirDecision::Borrow);
        assert_eq!(r.borrow_or_take(100, true), ReservoirDecision::No);
        assert_eq!(r.borrow_or_take(100, false), ReservoirDecision::No);
        assert_eq!(r.borrow_or_take(101, true), ReservoirDecision::Borrow);
        r.load_quota(Some(2), Some(102.9), Some(20.0));
        assert_eq!(r.borrow_or_take(101, true), ReservoirDecision::Take);
        assert_eq!(r.borrow_or_take(101, true), ReservoirDecision::Take);
        assert_eq!(r.borrow_or_take(101, true), ReservoirDecision::No);
        assert_eq!(r.borrow_or_take(102, true), ReservoirDecision::Take);
        assert_eq!(r.borrow_or_take(103, true), ReservoirDecision::Borrow);
        // Interval 20 s: report every second target poll.
        assert!(!r.time_to_report());
        assert!(r.time_to_report());
        assert!(!r.time_to_report());
    }

    #[test]
    fn statistics_are_reported_once_then_reset() {
        let mut c = RuleCache::default();
        c.load_rules(vec![Rule::from_def(def("r", 1, "*", 1, 0.0)).unwrap()], 0.0);
        let req = SamplingRequest::default();
        let rule = c.matched(&req, None, 0.0).unwrap();
        assert!(rule.sample(5, || 0.5));
        assert!(!rule.sample(5, || 0.5));
        let stats = c.take_statistics("cid", 5.5);
        assert_eq!(
            stats,
            vec![StatisticsDocument {
                rule_name: "r".into(),
                client_id: "cid".into(),
                timestamp: 5.5,
                request_count: 2,
                sampled_count: 0,
                borrow_count: 1
            }]
        );
        assert!(c.take_statistics("cid", 6.0).is_empty());
        // Reloading the rule keeps its counters and reservoir.
        c.matched(&req, None, 0.0).unwrap().sample(5, || 0.0);
        c.load_rules(vec![Rule::from_def(def("r", 1, "*", 1, 0.0)).unwrap()], 1.0);
        assert_eq!((c.rules[0].request_count, c.rules[0].sampled_count), (1, 1));
    }
}
