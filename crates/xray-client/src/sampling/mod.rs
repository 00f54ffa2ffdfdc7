//! Sampling decisions: centralized rules polled through the daemon, with the local rules as
//! fallback, after the Python SDK's `DefaultSampler`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::emitter::DaemonConfig;
use crate::header::TraceHeader;

mod centralized;
pub mod local;
pub mod wildcard;

use centralized::{GetSamplingRulesResponse, Rule, RuleCache, SamplingTargetsResponse};
pub use local::LocalSampler;

/// What a sampling decision looks at. Empty fields match any rule, as in the SDK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SamplingRequest {
    /// The segment (service) name.
    pub service_name: String,
    /// The request's `Host`.
    pub host: String,
    /// The HTTP method.
    pub method: String,
    /// The URL path.
    pub url_path: String,
    /// The resource type (`AWS::ECS::Container`, …); when `None`, the sampler's `origin`.
    pub service_type: Option<String>,
}

impl SamplingRequest {
    /// A request without a service type.
    pub fn new(service_name: &str, host: &str, method: &str, url_path: &str) -> SamplingRequest {
        SamplingRequest {
            service_name: service_name.into(),
            host: host.into(),
            method: method.into(),
            url_path: url_path.into(),
            service_type: None,
        }
    }
}

/// A sampling decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Record and send the segment.
    pub sample: bool,
    /// The centralized rule that decided (put it on the segment with
    /// [`crate::Segment::set_rule_name`] when sampled); `None` for local rules and upstream
    /// decisions.
    pub rule_name: Option<String>,
}

/// A small deterministic random generator (SplitMix64), seedable for tests.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Rng {
        let mut b = [0u8; 8];
        if getrandom::fill(&mut b).is_err() {
            b = ((crate::now_epoch() * 1e9) as u64).to_le_bytes();
        }
        Rng(u64::from_le_bytes(b))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Knobs of the [`Sampler`]; the defaults are the SDK's.
#[derive(Clone, Debug)]
pub struct SamplerOptions {
    /// How often rules are fetched (300 s).
    pub rule_interval: Duration,
    /// Up to this much is added to each rule wait (5 s).
    pub rule_jitter: Duration,
    /// How often statistics are reported and targets fetched (10 s).
    pub target_interval: Duration,
    /// Up to this much is added to each target wait (100 ms).
    pub target_jitter: Duration,
    /// Timeout of one call to the daemon (2 s).
    pub request_timeout: Duration,
    /// The fallback rules (the SDK's default: 1/s then 5 %).
    pub local: LocalSampler,
    /// Seed for the fixed-rate draws and the jitter (random when `None`).
    pub seed: Option<u64>,
    /// The service type requests without one are matched as (the SDK's recorder `origin`).
    pub origin: Option<String>,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            rule_interval: Duration::from_secs(300),
            rule_jitter: Duration::from_secs(5),
            target_interval: Duration::from_secs(10),
            target_jitter: Duration::from_millis(100),
            request_timeout: Duration::from_secs(2),
            local: LocalSampler::new(),
            seed: None,
            origin: None,
        }
    }
}

/// A snapshot of one centralized rule, for inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSnapshot {
    /// `RuleName`.
    pub name: String,
    /// `Priority`.
    pub priority: i64,
    /// The current fixed rate.
    pub fixed_rate: f64,
    /// The assigned reservoir quota per second, once targets arrived.
    pub reservoir_quota: Option<i64>,
    /// Until when (epoch seconds) the quota holds.
    pub quota_ttl: Option<f64>,
    /// Matched requests since the last report.
    pub request_count: u64,
    /// Requests sampled from the quota or the fixed rate since the last report.
    pub sampled_count: u64,
    /// Requests sampled by borrowing since the last report.
    pub borrow_count: u64,
}

struct State {
    cache: RuleCache,
    local: LocalSampler,
    rng: Rng,
}

struct Inner {
    state: Mutex<State>,
    daemon: DaemonConfig,
    client_id: String,
    options: SamplerOptions,
    http: Option<reqwest::Client>,
    started: AtomicBool,
    wake: Arc<Notify>,
    failing: AtomicBool,
    poll_errors: AtomicU64,
}

/// The centralized sampler: decides from the rules the daemon proxies from X-Ray, reporting
/// statistics and taking quotas, and falls back to the local rules while it has none (never
/// fetched, daemon unreachable, or last fetched over an hour ago). Decisions never wait on
/// I/O. Cheap to clone (shared state); `Send + Sync`.
#[derive(Clone)]
pub struct Sampler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("daemon", &self.inner.daemon)
            .field("client_id", &self.inner.client_id)
            .finish()
    }
}

impl Sampler {
    /// A sampler polling the daemon's TCP address. `client_id` identifies this process in
    /// statistics (24 random hex digits when `None`, as the SDK makes).
    pub fn new(daemon: DaemonConfig, client_id: Option<String>) -> Sampler {
        Sampler::with_options(daemon, client_id, SamplerOptions::default())
    }

    /// As [`Sampler::new`], with other intervals, fallback rules, seed or origin.
    pub fn with_options(
        daemon: DaemonConfig,
        client_id: Option<String>,
        options: SamplerOptions,
    ) -> Sampler {
        let client_id = client_id.unwrap_or_else(|| {
            let mut b = [0u8; 12];
            crate::fill_random(&mut b);
            crate::ids::hex(&b)
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(options.request_timeout)
            .build()
            .ok();
        let rng = options
            .seed
            .map(Rng::seeded)
            .unwrap_or_else(Rng::from_entropy);
        let local = options.local.clone();
        Sampler {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    cache: RuleCache::default(),
                    local,
                    rng,
                }),
                daemon,
                client_id,
                options,
                http,
                started: AtomicBool::new(false),
                wake: Arc::new(Notify::new()),
                failing: AtomicBool::new(false),
                poll_errors: AtomicU64::new(0),
            }),
        }
    }

    /// The client id sent with statistics.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Spawns the pollers on the current tokio runtime: rules at once and every
    /// `rule_interval` (sooner when X-Ray says they changed), statistics and targets every
    /// `target_interval`. They stop once every clone of the sampler is dropped. Returns
    /// `false` (and polls nothing) when already started or when not on a tokio runtime.
    pub fn start(&self) -> bool {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "xray sampler: start() outside a tokio runtime; using local sampling rules only"
            );
            return false;
        };
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return false;
        }
        let (weak, wake) = (Arc::downgrade(&self.inner), self.inner.wake.clone());
        rt.spawn(async move {
            loop {
                let Some(wait) = Self::tick(&weak, true).await else {
                    break;
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = wake.notified() => {}
                }
            }
        });
        let weak = Arc::downgrade(&self.inner);
        rt.spawn(async move {
            let mut wait = Self::interval(&weak, false);
            while let Some(w) = wait {
                tokio::time::sleep(w).await;
                wait = Self::tick(&weak, false).await;
            }
        });
        true
    }

    fn interval(weak: &Weak<Inner>, rules: bool) -> Option<Duration> {
        let inner = weak.upgrade()?;
        let o = &inner.options;
        let (base, jitter) = if rules {
            (o.rule_interval, o.rule_jitter)
        } else {
            (o.target_interval, o.target_jitter)
        };
        let draw = lock(&inner.state).rng.next_f64();
        Some(base + jitter.mul_f64(draw))
    }

    async fn tick(weak: &Weak<Inner>, rules: bool) -> Option<Duration> {
        let sampler = Sampler {
            inner: weak.upgrade()?,
        };
        if rules {
            sampler.refresh_rules().await;
        } else {
            sampler.report_targets().await;
        }
        drop(sampler);
        Self::interval(weak, rules)
    }

    /// Decides now.
    pub fn decide(&self, req: &SamplingRequest) -> Decision {
        self.decide_at(req, crate::now_epoch())
    }

    /// Decides as if the time were `now` (epoch seconds): the first matching centralized rule
    /// (by priority, then name; `Default` last) counts the request and samples from its
    /// reservoir or at its fixed rate; with no usable rules, the local sampler decides.
    pub fn decide_at(&self, req: &SamplingRequest, now: f64) -> Decision {
        let now_sec = now.floor();
        let service_type = req
            .service_type
            .as_deref()
            .or(self.inner.options.origin.as_deref());
        let mut guard = lock(&self.inner.state);
        let State { cache, local, rng } = &mut *guard;
        match cache.matched(req, service_type, now_sec) {
            Some(rule) => {
                let sample = rule.sample(now_sec as i64, || rng.next_f64());
                tracing::debug!(rule = %rule.name, sample, "xray sampling decision");
                Decision {
                    sample,
                    rule_name: Some(rule.name.clone()),
                }
            }
            None => local.decide_at(req, now),
        }
    }

    /// The decision for a request carrying `header`: an upstream `Sampled=1`/`Sampled=0`
    /// wins; otherwise (`Sampled=?` or absent) this sampler decides, as the SDK's
    /// `calculate_sampling_decision` does.
    pub fn decide_with_header(&self, header: &TraceHeader, req: &SamplingRequest) -> Decision {
        match header.sampled.decision() {
            Some(sample) => Decision {
                sample,
                rule_name: None,
            },
            None => self.decide(req),
        }
    }

    /// The centralized rules held now.
    pub fn rules(&self) -> Vec<RuleSnapshot> {
        lock(&self.inner.state)
            .cache
            .rules
            .iter()
            .map(|r| RuleSnapshot {
                name: r.name.clone(),
                priority: r.priority,
                fixed_rate: r.rate,
                reservoir_quota: r.reservoir.quota,
                quota_ttl: r.reservoir.ttl,
                request_count: r.request_count,
                sampled_count: r.sampled_count,
                borrow_count: r.borrow_count,
            })
            .collect()
    }

    /// Failed calls to the daemon so far.
    pub fn poll_errors(&self) -> u64 {
        self.inner.poll_errors.load(Ordering::Relaxed)
    }

    /// Fetches the rules now (all pages of `GetSamplingRules`) and loads the valid ones. The
    /// poller calls this; it is public for callers that drive polling themselves. Returns
    /// whether the call succeeded.
    pub async fn refresh_rules(&self) -> bool {
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let body = serde_json::json!({ "NextToken": token });
            let page: GetSamplingRulesResponse = match self.post("GetSamplingRules", &body).await {
                Some(p) => p,
                None => return false,
            };
            rules.extend(
                page.sampling_rule_records
                    .into_iter()
                    .filter_map(|r| r.sampling_rule)
                    .filter_map(Rule::from_def),
            );
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        tracing::debug!(rules = rules.len(), "fetched X-Ray sampling rules");
        // As the SDK: an empty answer leaves the cache (and its age) as it was.
        if !rules.is_empty() {
            lock(&self.inner.state)
                .cache
                .load_rules(rules, crate::now_epoch().floor());
        }
        true
    }

    /// Reports the statistics of the rules due a report and loads the targets X-Ray answers
    /// with (quota, TTL, interval, rate); wakes the rule poller when rules changed since they
    /// were fetched. Does nothing (and returns `true`) when no rule is due. Returns whether
    /// the call succeeded.
    pub async fn report_targets(&self) -> bool {
        let now = crate::now_epoch();
        let docs = lock(&self.inner.state)
            .cache
            .take_statistics(&self.inner.client_id, now);
        if docs.is_empty() {
            return true;
        }
        let body = serde_json::json!({ "SamplingStatisticsDocuments": docs });
        let Some(resp) = self
            .post::<SamplingTargetsResponse>("SamplingTargets", &body)
            .await
        else {
            return false;
        };
        for u in &resp.unprocessed_statistics {
            tracing::debug!(rule = ?u.rule_name, code = ?u.error_code, message = ?u.message, "X-Ray did not process sampling statistics");
        }
        let stale = {
            let mut st = lock(&self.inner.state);
            st.cache.load_targets(&resp.sampling_target_documents);
            matches!((resp.last_rule_modification, st.cache.last_updated), (Some(m), Some(u)) if m > u)
        };
        if stale {
            tracing::info!("X-Ray sampling rules changed; fetching them now");
            self.inner.wake.notify_one();
        }
        true
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        body: &serde_json::Value,
    ) -> Option<T> {
        let http = self.inner.http.as_ref()?;
        let url = format!("http://{}/{op}", self.inner.daemon.tcp);
        let result = async {
            let resp = http
                .post(&url)
                .json(body)
                .send()
                .await?
                .error_for_status()?;
            resp.json::<T>().await
        }
        .await;
        match result {
            Ok(v) => {
                if self.inner.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(daemon = %self.inner.daemon.tcp, "X-Ray daemon reachable again; using centralized sampling rules");
                }
                Some(v)
            }
            Err(e) => {
                self.inner.poll_errors.fetch_add(1, Ordering::Relaxed);
                if self.inner.failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(error = %e, "{op} failed again");
                } else {
                    tracing::warn!(daemon = %self.inner.daemon.tcp, error = %e,
                        "{op} through the X-Ray daemon failed; sampling falls back to local rules until it answers");
                }
                None
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_uniform_and_deterministic() {
        let (mut a, mut b) = (Rng::seeded(42), Rng::seeded(42));
        let xs: Vec<f64> = (0..10_000).map(|_| a.next_f64()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert_eq!(
            xs[..5],
            (0..5).map(|_| b.next_f64()).collect::<Vec<_>>()[..]
        );
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.48..0.52).contains(&mean), "{mean}");
    }

    #[test]
    fn sampler_without_rules_uses_local_and_header_wins() {
        fn check<T: Send + Sync>() {}
        check::<Sampler>();
        let opts = SamplerOptions {
            local: LocalSampler::new().with_rng(Rng::seeded(3)),
            ..SamplerOptions::default()
        };
        let s = Sampler::with_options(DaemonConfig::default(), None, opts);
        assert_eq!(s.client_id().len(), 24);
        let req = SamplingRequest::default();
        assert!(s.decide_at(&req, 100.2).sample);
        let more = (0..1000)
            .filter(|_| s.decide_at(&req, 100.7).sample)
            .count();
        assert!(more < 150, "{more}");
        let h = TraceHeader::parse("Sampled=0");
        assert!(!s.decide_with_header(&h, &req).sample);
        let h = TraceHeader::parse("Sampled=1");
        assert_eq!(
            s.decide_with_header(&h, &req),
            Decision {
                sample: true,
                rule_name: None
            }
        );
        assert!(s.rules().is_empty());
        assert!(!s.start(), "no runtime here");
    }
}
