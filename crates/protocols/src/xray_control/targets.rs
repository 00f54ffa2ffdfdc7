//! Reservoir quotas (GetSamplingTargets) and rolling statistics
//! (GetSamplingStatisticSummaries).
//!
//! The real service splits each rule's `ReservoirSize` (traces per second, fleet-wide) across
//! the services that report statistics for it ("X-Ray calculates a new reservoir for each
//! service based on the recent sampling results of all services that called
//! GetSamplingTargets": API reference, `SamplingTargetDocument`). We do the same, per SDK
//! client (`ClientID`), and keep one invariant: **the quotas still valid at any instant sum to
//! at most `ReservoirSize`**. A client's fair share is `ReservoirSize / n` over the `n` clients
//! active in the last [`ACTIVE_WINDOW_S`] (the remainder going to the first clients in
//! ClientID order); a share is granted only out of what other clients' unexpired grants leave
//! free, so a newcomer may get 0 until the others' next refresh shrinks theirs. Before its
//! first answer an SDK has no quota and borrows 1/s (protocol facts §A.4); a 0 quota with a
//! fresh TTL stops borrowing, leaving only FixedRate.
//!
//! A rule update that shrinks `ReservoirSize` takes effect as old grants expire (at most
//! [`QUOTA_TTL_S`] later).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rules::SamplingRules;
use super::shapes::{
    GetSamplingStatisticSummariesResponse, GetSamplingTargetsRequest, GetSamplingTargetsResponse,
    SamplingStatisticSummary, SamplingTargetDocument, UnprocessedStatistics,
};
use super::validate::{self, StatisticsReport};
use super::ControlError;

/// `Interval` we answer: 10 s, as the service does (developer guide `xray-api-sampling.md`
/// example; the SDK's target poller also runs every 10 s).
pub const TARGET_INTERVAL_S: i64 = 10;

/// How long a granted quota lives: our choice, 15 s = one 10 s poll interval plus 5 s for the
/// SDK's poll jitter (≤ 0.1 s), a slow round trip and its whole-second TTL comparison, so a
/// live client never drops to borrowing between refreshes (which would exceed the reservoir).
pub const QUOTA_TTL_S: f64 = 15.0;

/// A client counts toward a rule's split if it reported within this window: our choice,
/// 3 poll intervals, so one missed poll does not hand its share to others.
pub const ACTIVE_WINDOW_S: f64 = 3.0 * TARGET_INTERVAL_S as f64;

/// Most clients tracked per rule: our choice (a fleet of 1,000 SDK processes per rule is far
/// beyond a self-hosted deployment). Further clients get quota 0, untracked, so the
/// invariant holds.
pub const CLIENTS_PER_RULE_MAX: usize = 1000;

/// Statistics summary window: 10 s (one SDK reporting interval), our choice.
pub const SUMMARY_WINDOW_S: f64 = 10.0;

/// Windows of history kept per rule: our choice, 60 × 10 s = the last 10 minutes.
pub const SUMMARY_WINDOWS_MAX: usize = 60;

/// UnprocessedStatistics for a rule that does not exist **[inference]**: ErrorCode "400",
/// Message "Rule not found" (not confirmed against the service).
pub const UNKNOWN_RULE_ERROR_CODE: &str = "400";
pub const UNKNOWN_RULE_MESSAGE: &str = "Rule not found";

/// One client's standing with one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Client {
    last_seen: f64,
    quota: i64,
    quota_expires: f64,
}

/// One summary window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Window {
    start: f64,
    request_count: i64,
    borrow_count: i64,
    sampled_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct RuleState {
    clients: BTreeMap<String, Client>,
    windows: Vec<Window>,
}

/// The quota allocator and statistics of every rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingTargets {
    rules: BTreeMap<String, RuleState>,
}

impl SamplingTargets {
    pub fn new() -> Self {
        Self::default()
    }

    /// GetSamplingTargets: validate the request, then [`Self::report`].
    pub fn get_sampling_targets(
        &mut self,
        rules: &SamplingRules,
        req: &GetSamplingTargetsRequest,
        now: f64,
    ) -> Result<GetSamplingTargetsResponse, ControlError> {
        let reports = validate::get_sampling_targets(req)?;
        Ok(self.report(rules, &reports, now))
    }

    /// Record validated statistics and answer each rule's target.
    pub fn report(
        &mut self,
        rules: &SamplingRules,
        reports: &[StatisticsReport],
        now: f64,
    ) -> GetSamplingTargetsResponse {
        // Forget rules that were deleted.
        self.rules.retain(|name, _| rules.get(name).is_some());
        let mut docs: Vec<SamplingTargetDocument> = Vec::new();
        let mut unprocessed = Vec::new();
        for r in reports {
            let Some(record) = rules.get(&r.rule_name) else {
                unprocessed.push(UnprocessedStatistics {
                    rule_name: Some(r.rule_name.clone()),
                    error_code: Some(UNKNOWN_RULE_ERROR_CODE.into()),
                    message: Some(UNKNOWN_RULE_MESSAGE.into()),
                });
                continue;
            };
            let rule = &record.sampling_rule;
            let state = self.rules.entry(r.rule_name.clone()).or_default();
            state.record(r, now);
            let quota = state.grant(&r.client_id, rule.reservoir_size, now);
            let doc = SamplingTargetDocument {
                rule_name: rule.rule_name.clone(),
                fixed_rate: rule.fixed_rate,
                reservoir_quota: Some(quota),
                reservoir_quota_ttl: Some(now + QUOTA_TTL_S),
                interval: Some(TARGET_INTERVAL_S),
                sampling_boost: None,
            };
            // One document per rule (a repeated rule in one request keeps the last answer).
            match docs.iter_mut().find(|d| d.rule_name == doc.rule_name) {
                Some(d) => *d = doc,
                None => docs.push(doc),
            }
        }
        GetSamplingTargetsResponse {
            sampling_target_documents: docs,
            last_rule_modification: rules.last_rule_modification(),
            unprocessed_statistics: unprocessed,
            unprocessed_boost_statistics: Vec::new(),
        }
    }

    /// GetSamplingStatisticSummaries: each rule's most recent window, by rule name.
    pub fn statistic_summaries(&self) -> GetSamplingStatisticSummariesResponse {
        let summaries = self
            .rules
            .iter()
            .filter_map(|(name, s)| s.windows.last().map(|w| summary(name, w)))
            .collect();
        GetSamplingStatisticSummariesResponse {
            sampling_statistic_summaries: summaries,
            next_token: None,
        }
    }

    /// Every retained window of one rule, oldest first.
    pub fn history(&self, rule_name: &str) -> Vec<SamplingStatisticSummary> {
        self.rules
            .get(rule_name)
            .map(|s| s.windows.iter().map(|w| summary(rule_name, w)).collect())
            .unwrap_or_default()
    }

    /// Clients counted toward `rule_name`'s split at `now` (for tests and metrics).
    pub fn active_clients(&self, rule_name: &str, now: f64) -> usize {
        self.rules
            .get(rule_name)
            .map(|s| s.active(now).count())
            .unwrap_or(0)
    }
}

fn summary(name: &str, w: &Window) -> SamplingStatisticSummary {
    SamplingStatisticSummary {
        rule_name: name.to_string(),
        timestamp: w.start,
        request_count: w.request_count,
        borrow_count: w.borrow_count,
        sampled_count: w.sampled_count,
    }
}

impl RuleState {
    fn active(&self, now: f64) -> impl Iterator<Item = (&String, &Client)> {
        self.clients
            .iter()
            .filter(move |(_, c)| c.last_seen >= now - ACTIVE_WINDOW_S)
    }

    /// Add the counts to the window containing `now` (server time: client clocks vary).
    fn record(&mut self, r: &StatisticsReport, now: f64) {
        let start = (now / SUMMARY_WINDOW_S).floor() * SUMMARY_WINDOW_S;
        if self.windows.last().is_none_or(|w| w.start != start) {
            self.windows.push(Window {
                start,
                request_count: 0,
                borrow_count: 0,
                sampled_count: 0,
            });
            if self.windows.len() > SUMMARY_WINDOWS_MAX {
                let excess = self.windows.len() - SUMMARY_WINDOWS_MAX;
                self.windows.drain(..excess);
            }
        }
        if let Some(w) = self.windows.last_mut() {
            w.request_count = w.request_count.saturating_add(r.request_count);
            w.borrow_count = w.borrow_count.saturating_add(r.borrow_count);
            w.sampled_count = w.sampled_count.saturating_add(r.sampled_count);
        }
    }

    /// Grant `client` its share of `size` per second (see the module docs).
    fn grant(&mut self, client: &str, size: i64, now: f64) -> i64 {
        // Drop clients that are neither active nor holding an unexpired grant.
        self.clients
            .retain(|_, c| c.last_seen >= now - ACTIVE_WINDOW_S || c.quota_expires > now);
        if !self.clients.contains_key(client) && self.clients.len() >= CLIENTS_PER_RULE_MAX {
            return 0;
        }
        let size = size.max(0);
        let entry = self.clients.entry(client.to_string()).or_insert(Client {
            last_seen: now,
            quota: 0,
            quota_expires: now,
        });
        entry.last_seen = now;
        let active: Vec<&String> = self.active(now).map(|(id, _)| id).collect();
        let n = i64::try_from(active.len().max(1)).unwrap_or(i64::MAX);
        let rank = active
            .iter()
            .position(|id| id.as_str() == client)
            .unwrap_or(0);
        let rank = i64::try_from(rank).unwrap_or(i64::MAX);
        let fair = size / n + i64::from(rank < size % n);
        let held_by_others: i64 = self
            .clients
            .iter()
            .filter(|(id, c)| id.as_str() != client && c.quota_expires > now)
            .map(|(_, c)| c.quota)
            .fold(0i64, i64::saturating_add);
        let quota = fair.min(size.saturating_sub(held_by_others)).max(0);
        if let Some(c) = self.clients.get_mut(client) {
            c.quota = quota;
            // The SDK compares whole seconds (`int(TTL) >= int(now)`), so it keeps using a
            // grant until the end of the TTL's second: count it held until then.
            c.quota_expires = (now + QUOTA_TTL_S).floor() + 1.0;
        }
        quota
    }
}
