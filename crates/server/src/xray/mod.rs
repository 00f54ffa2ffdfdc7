//! AWS X-Ray: the service's REST API (restJson1, every operation botocore lists, on the main
//! HTTP port and on the daemon's TCP port) and the daemon's UDP receiver (`daemon`).
//!
//! Reads and writes go through the same store and query path as every other protocol:
//! segments become wide events (`protocols::xray::translate`), filter expressions compile to
//! the shared plan (`query::xray`), and traces that arrived over OTLP are answered here too
//! (`protocols::xray::encode`). Sampling rules, groups, tags and account settings are one
//! store document per region (`protocols::xray_control::state::ControlState`).

pub mod daemon;
mod ops;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use model::{SpanId, TraceId};
use protocols::aws::{AwsError, ErrorKind, Service};
use protocols::xray::Resolved;
use protocols::xray_control::state::ControlState;
use protocols::xray_control::targets::SamplingTargets;
use protocols::xray_control::{ControlError, Partition};

use crate::aws::{AwsAuth, AwsEdge, AwsRequest};
use crate::AppState;

/// Every X-Ray operation with its path (botocore `xray/2016-04-12/service-2.json`: all are
/// `POST` to a fixed path). Operations Waggle does not serve still get an AWS-shaped answer
/// naming them, never a 404 page.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("BatchGetTraces", "/Traces"),
    ("CancelTraceRetrieval", "/CancelTraceRetrieval"),
    ("CreateGroup", "/CreateGroup"),
    ("CreateSamplingRule", "/CreateSamplingRule"),
    ("DeleteGroup", "/DeleteGroup"),
    ("DeleteResourcePolicy", "/DeleteResourcePolicy"),
    ("DeleteSamplingRule", "/DeleteSamplingRule"),
    ("GetEncryptionConfig", "/EncryptionConfig"),
    ("GetGroup", "/GetGroup"),
    ("GetGroups", "/Groups"),
    ("GetIndexingRules", "/GetIndexingRules"),
    ("GetInsight", "/Insight"),
    ("GetInsightEvents", "/InsightEvents"),
    ("GetInsightImpactGraph", "/InsightImpactGraph"),
    ("GetInsightSummaries", "/InsightSummaries"),
    ("GetRetrievedTracesGraph", "/GetRetrievedTracesGraph"),
    ("GetSamplingRules", "/GetSamplingRules"),
    (
        "GetSamplingStatisticSummaries",
        "/SamplingStatisticSummaries",
    ),
    ("GetSamplingTargets", "/SamplingTargets"),
    ("GetServiceGraph", "/ServiceGraph"),
    (
        "GetTimeSeriesServiceStatistics",
        "/TimeSeriesServiceStatistics",
    ),
    ("GetTraceGraph", "/TraceGraph"),
    ("GetTraceSegmentDestination", "/GetTraceSegmentDestination"),
    ("GetTraceSummaries", "/TraceSummaries"),
    ("ListResourcePolicies", "/ListResourcePolicies"),
    ("ListRetrievedTraces", "/ListRetrievedTraces"),
    ("ListTagsForResource", "/ListTagsForResource"),
    ("PutEncryptionConfig", "/PutEncryptionConfig"),
    ("PutResourcePolicy", "/PutResourcePolicy"),
    ("PutTelemetryRecords", "/TelemetryRecords"),
    ("PutTraceSegments", "/TraceSegments"),
    ("StartTraceRetrieval", "/StartTraceRetrieval"),
    ("TagResource", "/TagResource"),
    ("UntagResource", "/UntagResource"),
    ("UpdateGroup", "/UpdateGroup"),
    ("UpdateIndexingRule", "/UpdateIndexingRule"),
    ("UpdateSamplingRule", "/UpdateSamplingRule"),
    (
        "UpdateTraceSegmentDestination",
        "/UpdateTraceSegmentDestination",
    ),
];

/// Paths the X-Ray SDKs call without a signature (they poll the daemon, which signs for
/// them; protocol notes §A.2): served even when AWS credentials are configured.
pub const UNSIGNED_PATHS: &[&str] = &["/GetSamplingRules", "/SamplingTargets"];

/// Store document kind of the control-plane state (one document per region).
pub const CONTROL_DOC_KIND: &str = "xray.control";

/// Segment ids remembered to name the dataset of independent subsegments, at most (our
/// choice: ~100 B each, 200k ≈ 20 MB; the SDK streams subsegments within seconds of their
/// segment, so a cleared map only costs a fallback dataset).
pub const RECENT_SEGMENTS_MAX: usize = 200_000;

/// X-Ray settings.
#[derive(Debug, Clone)]
pub struct XrayConfig {
    /// The daemon's address: UDP for segments, TCP for the SDKs' sampling calls and the API.
    pub daemon_addr: SocketAddr,
    /// Account id in ARNs.
    pub account_id: String,
    /// Region of unsigned requests and the UDP daemon.
    pub region: String,
    pub auth: AwsAuth,
}

/// Counters the X-Ray edges expose (STYLE habit 11).
#[derive(Debug, Default)]
pub struct XrayCounters {
    pub datagrams: AtomicU64,
    pub segments_accepted: AtomicU64,
    pub segments_rejected: AtomicU64,
    /// Events dropped because the ingest queue stayed full (UDP has no retry).
    pub dropped_overload: AtomicU64,
    /// Datagrams dropped, by reason.
    pub dropped: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    pub api_requests: AtomicU64,
}

impl XrayCounters {
    pub fn drop_reason(&self, reason: &'static str) {
        if let Ok(mut m) = self.dropped.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "datagrams": g(&self.datagrams),
            "segments_accepted": g(&self.segments_accepted),
            "segments_rejected": g(&self.segments_rejected),
            "dropped_overload": g(&self.dropped_overload),
            "datagrams_dropped": self.dropped.lock().map(|m| serde_json::json!(*m)).unwrap_or_default(),
            "api_requests": g(&self.api_requests),
        })
    }
}

/// X-Ray's shared state.
pub struct XrayState {
    pub config: XrayConfig,
    /// Control-plane state by region, loaded from the store on first use.
    control: Mutex<HashMap<String, ControlState>>,
    /// Sampling statistics and quotas by region (not persisted: they describe the last
    /// minute).
    targets: Mutex<HashMap<String, SamplingTargets>>,
    /// Recent segment ids → dataset, for independent subsegments.
    segments: Mutex<HashMap<(u64, u64), String>>,
    /// Trace retrievals by token (StartTraceRetrieval), bounded.
    retrievals: Mutex<HashMap<String, ops::Retrieval>>,
    pub counters: XrayCounters,
}

impl XrayState {
    pub fn new(config: XrayConfig) -> Self {
        Self {
            config,
            control: Mutex::new(HashMap::new()),
            targets: Mutex::new(HashMap::new()),
            segments: Mutex::new(HashMap::new()),
            retrievals: Mutex::new(HashMap::new()),
            counters: XrayCounters::default(),
        }
    }

    /// Remembers the segments of a batch so later independent subsegments find their
    /// dataset.
    pub(crate) fn remember_segments(&self, events: &[model::Event]) {
        let Ok(mut m) = self.segments.lock() else {
            return;
        };
        for e in events {
            let is_segment = matches!(
                e.get(protocols::xray::translate::fields::TYPE),
                Some(model::Value::Str(t)) if t == "segment"
            );
            if let (true, Some(t), Some(s)) = (is_segment, e.trace_id, e.span_id) {
                if m.len() >= RECENT_SEGMENTS_MAX {
                    m.clear();
                }
                m.insert((t.halves().1, s.as_u64()), e.dataset.clone());
            }
        }
    }

    /// The resolver `translate` uses for independent subsegments: a subsegment's parent is
    /// a segment (or a subsegment of one) seen recently.
    pub(crate) fn resolve(&self, trace: TraceId, parent: SpanId) -> Option<Resolved> {
        let m = self.segments.lock().ok()?;
        m.get(&(trace.halves().1, parent.as_u64()))
            .map(|dataset| Resolved {
                dataset: dataset.clone(),
                segment_id: Some(parent),
            })
    }
}

/// The X-Ray router: one route per operation, all under the SigV4 edge.
pub fn routes(xray: &XrayState) -> Router<AppState> {
    let edge = Arc::new(AwsEdge {
        service: Service::XRay,
        auth: xray.config.auth.clone(),
        default_region: xray.config.region.clone(),
        unsigned_paths: UNSIGNED_PATHS,
    });
    let mut r = Router::new();
    for (_, path) in OPERATIONS {
        r = r.route(path, post(handle));
    }
    r.layer(axum::middleware::from_fn_with_state(
        edge,
        crate::aws::sigv4_layer,
    ))
}

/// An X-Ray error answer: the plumbing's kinds, or the control plane's own.
pub(crate) enum XrayError {
    Aws(AwsError),
    Control(ControlError),
}

impl From<AwsError> for XrayError {
    fn from(e: AwsError) -> Self {
        XrayError::Aws(e)
    }
}

impl From<ControlError> for XrayError {
    fn from(e: ControlError) -> Self {
        XrayError::Control(e)
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> XrayError {
    XrayError::Aws(AwsError::new(ErrorKind::InvalidParameter, message.into()))
}

pub(crate) fn internal() -> XrayError {
    XrayError::Aws(AwsError::internal())
}

fn render(e: XrayError, aws: &AwsRequest) -> Response {
    match e {
        XrayError::Aws(e) => crate::aws::into_response(e.render(Service::XRay, &aws.request_id)),
        XrayError::Control(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = (status, axum::Json(e.body())).into_response();
            if let Ok(v) = HeaderValue::from_str(e.code()) {
                r.headers_mut()
                    .insert(HeaderName::from_static("x-amzn-errortype"), v);
            }
            r
        }
    }
}

async fn handle(
    State(s): State<AppState>,
    Extension(aws): Extension<AwsRequest>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some(xray) = s.xray.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    xray.counters.api_requests.fetch_add(1, Ordering::Relaxed);
    let op = OPERATIONS
        .iter()
        .find(|(_, p)| *p == uri.path())
        .map_or("", |(op, _)| *op);
    let result = ops::dispatch(&s, &xray, &aws, op, &body).await;
    let mut response = match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => render(e, &aws),
    };
    if let Ok(v) = HeaderValue::from_str(&aws.request_id.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    response
}

/// Seconds since the epoch, as X-Ray's timestamps are.
pub(crate) fn now_s() -> f64 {
    crate::now_ns() as f64 / 1e9
}

/// The control state of a region, loaded or created, under the caller's closure; a change
/// is persisted before it becomes visible (`mutate`).
pub(crate) async fn with_control<T: Send + 'static>(
    s: &AppState,
    xray: &Arc<XrayState>,
    region: &str,
    mutate: bool,
    f: impl FnOnce(&mut ControlState) -> Result<T, XrayError> + Send + 'static,
) -> Result<T, XrayError> {
    let store = s.store.clone();
    let xray = xray.clone();
    let region = region.to_string();
    crate::blocking(move || {
        let mut all = xray.control.lock().map_err(|_| internal())?;
        if !all.contains_key(&region) {
            let loaded = store
                .get_doc(CONTROL_DOC_KIND, &region)
                .map_err(|_| internal())?
                .and_then(|d| serde_json::from_value::<ControlState>(d.body).ok());
            let state = loaded.unwrap_or_else(|| {
                ControlState::new(
                    Partition::new(region.clone(), xray.config.account_id.clone()),
                    now_s(),
                )
            });
            all.insert(region.clone(), state);
        }
        let current = all.get_mut(&region).ok_or_else(internal)?;
        if !mutate {
            return f(current);
        }
        let mut next = current.clone();
        let out = f(&mut next)?;
        let body = serde_json::to_value(&next).map_err(|_| internal())?;
        store
            .put_doc(&store::MetaDoc {
                kind: CONTROL_DOC_KIND.into(),
                id: region.clone(),
                dataset: String::new(),
                body,
                created_ns: crate::now_ns(),
            })
            .map_err(|_| XrayError::Aws(AwsError::unavailable()))?;
        *current = next;
        Ok(out)
    })
    .await
    .map_err(|_| internal())?
}
