//! Local sampling rules: the SDK's rules file and its default (1 request a second, then 5 %).

use serde_json::Value;

use super::{wildcard, Decision, Rng, SamplingRequest};
use crate::Error;

/// The SDK's built-in local rules (`default_sampling_rule.json`).
pub const DEFAULT_RULES_JSON: &str =
    r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05}, "rules": []}"#;

#[derive(Clone, Debug)]
struct LocalRule {
    host: Option<String>,
    method: Option<String>,
    path: Option<String>,
    fixed_target: f64,
    rate: f64,
    this_sec: i64,
    used_this_sec: u64,
}

impl LocalRule {
    fn parse(v: &Value, host_key: &str, default: bool) -> Result<LocalRule, Error> {
        let bad = |m: &str| Error::InvalidSamplingRules(m.to_string());
        let num = |k: &str| {
            v.get(k)
                .and_then(Value::as_f64)
                .filter(|x| *x >= 0.0)
                .ok_or_else(|| {
                    bad("all rules must have non-negative values for fixed_target and rate")
                })
        };
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let rule = LocalRule {
            host: text(host_key),
            method: text("http_method"),
            path: text("url_path"),
            fixed_target: num("fixed_target")?,
            rate: num("rate")?,
            this_sec: 0,
            used_this_sec: 0,
        };
        let given = [&rule.host, &rule.method, &rule.path]
            .iter()
            .filter(|x| x.is_some())
            .count();
        if default && given > 0 {
            return Err(bad(&format!(
                "the default rule must not specify url_path, {host_key} or http_method"
            )));
        }
        if !default && given < 3 {
            return Err(bad(&format!(
                "all non-default rules must have url_path, {host_key} and http_method"
            )));
        }
        Ok(rule)
    }

    fn applies(&self, req: &SamplingRequest) -> bool {
        let m = |pat: &Option<String>, val: &str| {
            val.is_empty() || pat.as_deref().is_some_and(|p| wildcard::matches(p, val))
        };
        m(&self.host, &req.host) && m(&self.method, &req.method) && m(&self.path, &req.url_path)
    }

    fn take(&mut self, now_sec: i64) -> bool {
        if now_sec != self.this_sec {
            self.used_this_sec = 0;
            self.this_sec = now_sec;
        }
        if self.used_this_sec as f64 >= self.fixed_target {
            return false;
        }
        self.used_this_sec += 1;
        true
    }
}

/// The local sampler: custom rules in file order (first match wins), then the default rule.
/// Each rule samples its first `fixed_target` requests each second, then a `rate` fraction.
#[derive(Clone, Debug)]
pub struct LocalSampler {
    rules: Vec<LocalRule>,
    default: LocalRule,
    rng: Rng,
}

impl Default for LocalSampler {
    fn default() -> Self {
        LocalSampler::new()
    }
}

impl LocalSampler {
    /// The SDK's default: 1 request a second, then 5 %, no custom rules.
    pub fn new() -> LocalSampler {
        let default = LocalRule {
            host: None,
            method: None,
            path: None,
            fixed_target: 1.0,
            rate: 0.05,
            this_sec: 0,
            used_this_sec: 0,
        };
        LocalSampler {
            rules: Vec::new(),
            default,
            rng: Rng::from_entropy(),
        }
    }

    /// Loads a rules document in the SDK's format: `version` 1 (rules match `service_name`) or
    /// 2 (rules match `host`), a required `default` with `fixed_target` and `rate` only, and
    /// optional `rules` each with the host key, `http_method`, `url_path`, `fixed_target`, `rate`.
    pub fn from_json(json: &str) -> Result<LocalSampler, Error> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| Error::InvalidSamplingRules(e.to_string()))?;
        LocalSampler::from_value(&v)
    }

    /// As [`LocalSampler::from_json`], from parsed JSON.
    pub fn from_value(v: &Value) -> Result<LocalSampler, Error> {
        let host_key = match v.get("version").and_then(Value::as_f64) {
            Some(1.0) => "service_name",
            Some(2.0) => "host",
            _ => {
                return Err(Error::InvalidSamplingRules(format!(
                    "manifest version {} is not supported",
                    v["version"]
                )))
            }
        };
        let default = v
            .get("default")
            .ok_or_else(|| Error::InvalidSamplingRules("a default rule must be provided".into()))?;
        let default = LocalRule::parse(default, host_key, true)?;
        let rules = match v.get("rules") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|r| LocalRule::parse(r, host_key, false))
                .collect::<Result<_, _>>()?,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(Error::InvalidSamplingRules("rules must be a list".into())),
        };
        Ok(LocalSampler {
            rules,
            default,
            rng: Rng::from_entropy(),
        })
    }

    /// Replaces the random source (for deterministic tests).
    pub fn with_rng(mut self, rng: Rng) -> LocalSampler {
        self.rng = rng;
        self
    }

    /// Decides now.
    pub fn decide(&mut self, req: &SamplingRequest) -> Decision {
        self.decide_at(req, crate::now_epoch())
    }

    /// Decides as if the time were `now` (epoch seconds). Empty request fields match any rule.
    pub fn decide_at(&mut self, req: &SamplingRequest, now: f64) -> Decision {
        let now_sec = now.floor() as i64;
        let rule = match self.rules.iter_mut().find(|r| r.applies(req)) {
            Some(r) => r,
            None => &mut self.default,
        };
        let sample = rule.take(now_sec) || self.rng.next_f64() < rule.rate;
        Decision {
            sample,
            rule_name: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(host: &str, method: &str, path: &str) -> SamplingRequest {
        SamplingRequest::new("svc", host, method, path)
    }

    #[test]
    fn default_rule_one_per_second_then_five_percent() {
        let mut s = LocalSampler::new().with_rng(Rng::seeded(7));
        let r = SamplingRequest::default();
        let mut sampled = 0;
        let n = 20_000;
        for i in 0..n {
            let first = s.decide_at(&r, 1000.0 + (i / 100) as f64 + 0.5);
            if i % 100 == 0 {
                assert!(first.sample, "first request of a second is sampled");
            } else if first.sample {
                sampled += 1;
            }
        }
        let rate = sampled as f64 / (n - n / 100) as f64;
        assert!((0.04..0.06).contains(&rate), "{rate}");
        assert_eq!(s.decide_at(&r, 5000.0).rule_name, None);
    }

    #[test]
    fn custom_rules_and_versions() {
        let json = r#"{"version": 2, "rules": [
            {"description": "moves", "host": "*", "http_method": "POST", "url_path": "/api/move/*", "fixed_target": 0, "rate": 0.0},
            {"host": "*.example.com", "http_method": "*", "url_path": "*", "fixed_target": 2, "rate": 0.0}],
            "default": {"fixed_target": 0, "rate": 1.0}}"#;
        let mut s = LocalSampler::from_json(json)
            .unwrap()
            .with_rng(Rng::seeded(1));
        assert!(!s.decide_at(&req("a", "post", "/api/move/up"), 1.0).sample);
        assert!(s.decide_at(&req("a", "GET", "/api/move/up"), 1.0).sample);
        let r = req("api.example.com", "GET", "/");
        assert!(s.decide_at(&r, 1.0).sample && s.decide_at(&r, 1.0).sample);
        assert!(!s.decide_at(&r, 1.0).sample);
        assert!(s.decide_at(&r, 2.0).sample);

        let v1 = r#"{"version": 1, "rules": [{"service_name": "*", "http_method": "*", "url_path": "/x", "fixed_target": 0, "rate": 0}],
            "default": {"fixed_target": 0, "rate": 1}}"#;
        let mut s = LocalSampler::from_json(v1).unwrap();
        assert!(!s.decide_at(&req("h", "GET", "/x"), 1.0).sample);
        assert!(s.decide_at(&req("h", "GET", "/y"), 1.0).sample);
    }

    #[test]
    fn invalid_manifests() {
        for bad in [
            r#"{"version": 3, "default": {"fixed_target": 1, "rate": 0.1}}"#,
            r#"{"version": 2}"#,
            r#"{"version": 2, "default": {"fixed_target": -1, "rate": 0.1}}"#,
            r#"{"version": 2, "default": {"fixed_target": 1}}"#,
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1, "url_path": "/"}}"#,
            r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"host": "*", "fixed_target": 1, "rate": 0.1}]}"#,
            r#"{"version": 1, "default": {"fixed_target": 1, "rate": 0.1}, "rules": [{"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 0.1}]}"#,
            "not json",
        ] {
            assert!(
                matches!(
                    LocalSampler::from_json(bad),
                    Err(Error::InvalidSamplingRules(_))
                ),
                "{bad}"
            );
        }
        assert!(LocalSampler::from_json(DEFAULT_RULES_JSON).is_ok());
    }
}
