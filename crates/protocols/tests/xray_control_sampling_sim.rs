//! Simulation: three fake Python-SDK clients (the algorithm of aws-xray-sdk 2.15.0
//! `core/sampling/*`, protocol facts §A.4) poll our GetSamplingRules/GetSamplingTargets for 60
//! simulated seconds. The fake SDK reads the answers as JSON with the SDK's required keys.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::collections::BTreeMap;

use serde_json::Value;
use waggle_protocols::xray_control::shapes::{
    CreateSamplingRuleRequest, GetSamplingRulesRequest, GetSamplingTargetsRequest,
    SamplingStatisticsDocument, UpdateSamplingRuleRequest,
};
use waggle_protocols::xray_control::state::ControlState;
use waggle_protocols::xray_control::targets::SamplingTargets;
use waggle_protocols::xray_control::Partition;

const T0: f64 = 1_800_000_000.0;

/// xorshift64*: deterministic stand-in for Python's `random.random()`.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Rule {
    name: String,
    priority: i64,
    rate: f64,
    reservoir_size: i64,
    service: String,
    // reservoir
    quota: Option<i64>,
    ttl: Option<i64>,
    this_sec: i64,
    taken: i64,
    borrowed: i64,
    // statistics since last report
    requests: i64,
    sampled: i64,
    borrows: i64,
}

enum Decision {
    Take,
    Borrow,
    Rate,
    No,
}

struct Client {
    id: String,
    rules: Vec<Rule>,
    last_updated: i64,
    next_target: f64,
    rule_wake: bool,
}

impl Client {
    /// RulePoller._refresh_cache → connector.fetch_sampling_rules → RuleCache.load_rules.
    fn fetch_rules(&mut self, state: &ControlState, now: f64) {
        let resp =
            serde_json::to_value(state.get_sampling_rules(&GetSamplingRulesRequest::default()))
                .unwrap();
        let mut new_rules = Vec::new();
        for rec in resp["SamplingRuleRecords"].as_array().unwrap() {
            let r = &rec["SamplingRule"];
            // _is_rule_valid
            let valid = r.get("Version") == Some(&Value::from(1))
                && r.get("ResourceARN") == Some(&Value::from("*"))
                && r.get("ServiceType")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                && r.get("Attributes")
                    .is_none_or(|a| a.as_object().is_none_or(|o| o.is_empty()));
            if !valid {
                continue;
            }
            // The keys the SDK dereferences without .get() (indexing panics if absent).
            let name = r["RuleName"].as_str().unwrap().to_string();
            let _ = (
                &r["Host"],
                &r["HTTPMethod"],
                &r["URLPath"],
                &r["ServiceType"],
            );
            let mut rule = Rule {
                name: name.clone(),
                priority: r["Priority"].as_i64().unwrap(),
                rate: r["FixedRate"].as_f64().unwrap(),
                reservoir_size: r["ReservoirSize"].as_i64().unwrap(),
                service: r["ServiceName"].as_str().unwrap().to_string(),
                ..Rule::default()
            };
            // merge: keep reservoir and counters of the old rule of that name
            if let Some(old) = self.rules.iter().find(|o| o.name == name) {
                rule.quota = old.quota;
                rule.ttl = old.ttl;
                rule.this_sec = old.this_sec;
                rule.taken = old.taken;
                rule.borrowed = old.borrowed;
                rule.requests = old.requests;
                rule.sampled = old.sampled;
                rule.borrows = old.borrows;
            }
            new_rules.push(rule);
        }
        new_rules.sort_by_key(|r| (r.priority, r.name.clone()));
        self.rules = new_rules;
        self.last_updated = now as i64;
    }

    /// TargetPoller._do_work → connector.fetch_sampling_target → RuleCache.load_targets.
    fn poll_targets(&mut self, state: &ControlState, targets: &mut SamplingTargets, now: f64) {
        let now_i = now as i64;
        let docs: Vec<SamplingStatisticsDocument> = self
            .rules
            .iter_mut()
            .filter(|r| r.requests > 0)
            .map(|r| {
                let d = SamplingStatisticsDocument {
                    rule_name: Some(r.name.clone()),
                    client_id: Some(self.id.clone()),
                    timestamp: Some(now_i as f64),
                    request_count: Some(r.requests),
                    sampled_count: Some(r.sampled),
                    borrow_count: Some(r.borrows),
                };
                r.requests = 0;
                r.sampled = 0;
                r.borrows = 0;
                d
            })
            .collect();
        if docs.is_empty() {
            return;
        }
        // The request goes over the wire as the SDK writes it.
        let body = serde_json::json!({ "SamplingStatisticsDocuments": docs });
        let req: GetSamplingTargetsRequest = serde_json::from_value(body).unwrap();
        let resp = serde_json::to_value(
            targets
                .get_sampling_targets(&state.rules, &req, now)
                .unwrap(),
        )
        .unwrap();
        for doc in resp["SamplingTargetDocuments"].as_array().unwrap() {
            let name = doc["RuleName"].as_str().unwrap();
            let rate = doc["FixedRate"].as_f64().unwrap();
            if let Some(rule) = self.rules.iter_mut().find(|r| r.name == name) {
                rule.rate = rate;
                if let Some(q) = doc.get("ReservoirQuota").and_then(Value::as_i64) {
                    rule.quota = Some(q);
                }
                if let Some(t) = doc.get("ReservoirQuotaTTL").and_then(Value::as_f64) {
                    rule.ttl = Some(t as i64);
                }
                assert_eq!(doc["Interval"].as_i64(), Some(10));
            }
        }
        let freshness = resp["LastRuleModification"].as_f64().unwrap() as i64;
        if freshness > self.last_updated {
            self.rule_wake = true;
        }
    }

    /// DefaultSampler.should_trace for a request of service `backend-flask`.
    fn should_trace(&mut self, now: f64, rng: &mut Rng) -> Decision {
        let now = now as i64;
        let Some(rule) = self
            .rules
            .iter_mut()
            .find(|r| r.name == "Default" || r.service == "*" || r.service == "backend-flask")
        else {
            return Decision::No;
        };
        rule.requests += 1;
        if now != rule.this_sec {
            rule.taken = 0;
            rule.borrowed = 0;
            rule.this_sec = now;
        }
        let fresh = matches!((rule.quota, rule.ttl), (Some(q), Some(t)) if q >= 0 && t >= now);
        if fresh {
            if rule.taken < rule.quota.unwrap_or(0) {
                rule.taken += 1;
                rule.sampled += 1;
                return Decision::Take;
            }
        } else if rule.reservoir_size > 0 && rule.borrowed < 1 {
            rule.borrowed += 1;
            rule.borrows += 1;
            return Decision::Borrow;
        }
        if rng.next() <= rule.rate {
            rule.sampled += 1;
            Decision::Rate
        } else {
            Decision::No
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Second {
    requests: i64,
    take: i64,
    borrow: i64,
    rate: i64,
}

#[test]
fn three_sdk_clients_share_the_reservoir_and_pick_up_a_rule_update() {
    let mut state = ControlState::new(Partition::new("us-west-2", "123456789012"), T0 - 100.0);
    let seed: CreateSamplingRuleRequest =
        serde_json::from_str(include_str!("fixtures/xray/seed-xray.json")).unwrap();
    state.create_sampling_rule(&seed, T0 - 50.0).unwrap();
    let mut targets = SamplingTargets::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let mut clients: Vec<Client> = (0..3)
        .map(|k| Client {
            id: format!("{:024x}", 0xabc000 + k),
            rules: Vec::new(),
            last_updated: 0,
            next_target: 0.0,
            rule_wake: false,
        })
        .collect();
    let starts = [0.0, 0.3, 0.7];
    for (c, s) in clients.iter_mut().zip(starts) {
        c.fetch_rules(&state, T0 + s);
        c.next_target = T0 + s + 10.0 + rng.next() / 10.0;
    }

    let update_at = T0 + 40.0;
    let mut updated = false;
    let mut seconds: BTreeMap<i64, Second> = BTreeMap::new();
    let mut first_quota_at: Vec<Option<f64>> = vec![None; 3];
    let mut rate_after_update: Vec<Option<f64>> = vec![None; 3];
    let step = 0.01;
    let mut tick = 0u64;
    loop {
        let now = T0 + tick as f64 * step;
        if now > T0 + 60.0 {
            break;
        }
        if !updated && now >= update_at {
            let req: UpdateSamplingRuleRequest = serde_json::from_value(serde_json::json!({
                "SamplingRuleUpdate": {"RuleName": "Cruddur", "FixedRate": 0.5}
            }))
            .unwrap();
            state.update_sampling_rule(&req, now).unwrap();
            updated = true;
        }
        for (k, c) in clients.iter_mut().enumerate() {
            if now < T0 + starts[k] {
                continue;
            }
            if c.rule_wake && tick.is_multiple_of(100) {
                c.rule_wake = false;
                c.fetch_rules(&state, now);
            }
            if now >= c.next_target {
                c.poll_targets(&state, &mut targets, now);
                c.next_target = now + 10.0 + rng.next() / 10.0;
                let cruddur = c.rules.iter().find(|r| r.name == "Cruddur").unwrap();
                if first_quota_at[k].is_none() && cruddur.quota.is_some() {
                    first_quota_at[k] = Some(now);
                }
                if updated && (cruddur.rate - 0.5).abs() < 1e-9 && rate_after_update[k].is_none() {
                    rate_after_update[k] = Some(now);
                }
            }
            // 20 requests per second per client, offset per client.
            if (tick + 2 * k as u64).is_multiple_of(5) {
                let s = seconds.entry(now as i64).or_default();
                s.requests += 1;
                match c.should_trace(now, &mut rng) {
                    Decision::Take => s.take += 1,
                    Decision::Borrow => s.borrow += 1,
                    Decision::Rate => s.rate += 1,
                    Decision::No => {}
                }
            }
        }
        tick += 1;
    }

    let reservoir = 5; // the seed rule's ReservoirSize
    let all_quota = first_quota_at
        .iter()
        .map(|t| t.expect("every client got a target"))
        .fold(0.0, f64::max);
    for (&sec, s) in &seconds {
        // The invariant: quota-sampled requests never exceed ReservoirSize in any second.
        assert!(s.take <= reservoir, "second {sec}: {} taken", s.take);
        // Before its first target an SDK borrows at most 1/s; after, never (fresh TTL).
        assert!(s.borrow <= 3, "second {sec}: {} borrowed", s.borrow);
        if sec as f64 > all_quota + 1.0 {
            assert_eq!(s.borrow, 0, "second {sec}: borrowed with a fresh quota");
            assert!(s.take + s.borrow <= reservoir);
        }
    }
    // Once the split has converged (every client refreshed twice), the reservoir is used fully.
    for sec in (T0 as i64 + 25)..(T0 as i64 + 40) {
        assert_eq!(
            seconds[&sec].take, reservoir,
            "second {sec}: reservoir not used fully"
        );
    }
    assert_eq!(targets.active_clients("Cruddur", T0 + 39.0), 3);

    // Fixed rate over the requests the reservoir did not take: 0.1 before, 0.5 after.
    let rate_of = |from: i64, to: i64| {
        let (mut rest, mut rate) = (0, 0);
        for sec in from..to {
            let s = seconds[&sec];
            rest += s.requests - s.take - s.borrow;
            rate += s.rate;
        }
        rate as f64 / rest as f64
    };
    let before = rate_of(T0 as i64 + 12, T0 as i64 + 40);
    assert!(
        (0.06..0.14).contains(&before),
        "fixed rate before update {before}"
    );
    // The new FixedRate reaches every client at its next target poll after the update
    // (within one 10 s interval), and LastRuleModification makes each refetch its rules.
    for (k, t) in rate_after_update.iter().enumerate() {
        let t = t.unwrap_or_else(|| panic!("client {k} never saw FixedRate 0.5"));
        assert!(t >= update_at && t <= update_at + 10.2, "client {k} at {t}");
    }
    for c in &clients {
        assert!(
            c.last_updated >= update_at as i64,
            "{} did not refetch rules",
            c.id
        );
        let rule = c.rules.iter().find(|r| r.name == "Cruddur").unwrap();
        assert_eq!(rule.rate, 0.5);
        assert!(rule.quota.is_some(), "merge kept the reservoir");
    }
    let after = rate_of(T0 as i64 + 51, T0 as i64 + 60);
    assert!(
        (0.4..0.6).contains(&after),
        "fixed rate after update {after}"
    );

    // Statistics summaries add up to what the clients reported.
    let summaries = targets.statistic_summaries().sampling_statistic_summaries;
    let cruddur = summaries.iter().find(|s| s.rule_name == "Cruddur").unwrap();
    assert!(cruddur.request_count > 0);
    let history = targets.history("Cruddur");
    let reported: i64 = history.iter().map(|w| w.request_count).sum();
    let seen: i64 = seconds.values().map(|s| s.requests).sum();
    // Requests after each client's last report are not reported yet.
    assert!(
        reported <= seen && reported >= seen - 3 * 20 * 11,
        "{reported} vs {seen}"
    );
    let sampled: i64 = history.iter().map(|w| w.sampled_count).sum();
    assert!(sampled > 0 && sampled < reported);
}
