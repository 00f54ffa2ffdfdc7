//! Amazon CloudWatch Logs (awsJson1_1: `POST /` with `X-Amz-Target: Logs_20140328.<Op>`) on
//! the main HTTP port, behind the shared SigV4 edge (`crate::aws`).
//!
//! The pure pieces do the work: `protocols::cloudwatch_logs::state::LogsState` (one
//! serializable document per region, one method per operation), `translate` (log events ⇄
//! wide events, trace linking) and the query crate's filter patterns and Logs Insights, which
//! compile to the shared plan and run through `query::sql` and `Store::run_sql` like every
//! other read API (`read`, `insights`). Events go through the ingest pipeline; a
//! PutLogEvents answer means they are committed.
//!
//! Routing: `POST /` on the main HTTP port is this service's (no other protocol uses it);
//! the operation comes from `X-Amz-Target`.
//!
//! Persistence: control operations clone the region's state, change the clone, write it to
//! the store and only then make it visible (as X-Ray's `with_control`). PutLogEvents reserves
//! its stream positions in memory, commits the events, then persists the state; concurrent
//! requests share one document write (`Region::persisted` tracks which version is on disk).

mod insights;
mod live_tail;
mod ops;
mod read;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use protocols::aws::target::{self, LOGS_TARGET_PREFIX};
use protocols::aws::token::TokenKey;
use protocols::aws::{AwsError, ErrorKind, Service};
use protocols::cloudwatch_logs::state::LogsState;
use protocols::cloudwatch_logs::Partition;

use crate::aws::{AwsAuth, AwsEdge, AwsRequest};
use crate::AppState;

/// Store document kind of a region's log groups and streams (id = region).
pub const STATE_DOC_KIND: &str = "cloudwatch_logs.state";
/// Store document holding the pagination token key (id [`TOKEN_KEY_DOC_ID`]), so tokens
/// handed out before a restart stay valid after it.
pub const TOKEN_KEY_DOC_KIND: &str = "cloudwatch_logs.token_key";
pub const TOKEN_KEY_DOC_ID: &str = "default";

/// CloudWatch Logs settings.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    /// Account id in ARNs.
    pub account_id: String,
    /// Region of unsigned requests (local mode).
    pub region: String,
    pub auth: AwsAuth,
}

/// Counters CloudWatch Logs exposes in `/api/waggle/stats` (STYLE habit 11).
#[derive(Debug, Default)]
pub struct LogsCounters {
    pub requests: AtomicU64,
    /// Log events committed.
    pub events_accepted: AtomicU64,
    /// Log events answered in `rejectedLogEventsInfo` (too old, too new, expired).
    pub events_rejected: AtomicU64,
    /// PutLogEvents refused with ThrottlingException (the ingest queue was full).
    pub refused_overload: AtomicU64,
    /// Answers that were errors, by `__type`.
    pub errors: Mutex<BTreeMap<&'static str, u64>>,
    pub queries_started: AtomicU64,
}

impl LogsCounters {
    fn error(&self, code: &'static str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "requests": g(&self.requests),
            "events_accepted": g(&self.events_accepted),
            "events_rejected": g(&self.events_rejected),
            "refused_overload": g(&self.refused_overload),
            "errors": self.errors.lock().map(|m| serde_json::json!(*m)).unwrap_or_default(),
            "queries_started": g(&self.queries_started),
        })
    }
}

/// One region's state: the document, the version of the last change and the version
/// known to be in the store.
struct Region {
    state: LogsState,
    version: u64,
    persisted: u64,
}

/// CloudWatch Logs' shared state.
pub struct LogsService {
    pub config: LogsConfig,
    key: TokenKey,
    regions: Mutex<HashMap<String, Region>>,
    /// Serializes document writes, so an older snapshot never overwrites a newer one.
    persist_lock: Mutex<()>,
    queries: insights::Queries,
    tail_sessions: live_tail::Sessions,
    pub counters: LogsCounters,
}

impl LogsService {
    /// Loads (or creates and stores) the token key. Blocking: call before serving.
    pub fn open(config: LogsConfig, store: &dyn store::Store) -> Result<Self, store::StoreError> {
        let key = match store.get_doc(TOKEN_KEY_DOC_KIND, TOKEN_KEY_DOC_ID)? {
            Some(d) => d.body.as_str().and_then(hex32).map(TokenKey::from_bytes),
            None => None,
        };
        let key = match key {
            Some(k) => k,
            None => {
                let mut bytes = [0u8; 32];
                for chunk in bytes.chunks_mut(16) {
                    let id = protocols::aws::RequestId::new();
                    chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
                }
                store.put_doc(&store::MetaDoc {
                    kind: TOKEN_KEY_DOC_KIND.into(),
                    id: TOKEN_KEY_DOC_ID.into(),
                    dataset: String::new(),
                    body: serde_json::Value::String(
                        bytes.iter().map(|b| format!("{b:02x}")).collect(),
                    ),
                    created_ns: crate::now_ns(),
                })?;
                TokenKey::from_bytes(bytes)
            }
        };
        Ok(Self {
            config,
            key,
            regions: Mutex::new(HashMap::new()),
            persist_lock: Mutex::new(()),
            queries: insights::Queries::default(),
            tail_sessions: live_tail::Sessions::default(),
            counters: LogsCounters::default(),
        })
    }
}

fn hex32(h: &str) -> Option<[u8; 32]> {
    let b = h.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(&b[2 * i..2 * i + 2]).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The CloudWatch Logs router: `POST /` (the operation is in `X-Amz-Target`) under the
/// SigV4 edge. A `POST /` naming another service is answered as AWS answers an unknown
/// operation.
pub fn routes(logs: &LogsService) -> Router<AppState> {
    let edge = Arc::new(AwsEdge {
        service: Service::CloudWatchLogs,
        auth: logs.config.auth.clone(),
        default_region: logs.config.region.clone(),
        unsigned_paths: &[],
    });
    Router::new()
        .route("/", post(handle))
        .layer(axum::middleware::from_fn_with_state(
            edge,
            crate::aws::sigv4_layer,
        ))
}

async fn handle(
    State(s): State<AppState>,
    Extension(aws): Extension<AwsRequest>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(logs) = s.cloudwatch_logs.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    logs.counters.requests.fetch_add(1, Ordering::Relaxed);
    let op = headers
        .get("x-amz-target")
        .and_then(|v| target::operation_for(Some(v.as_bytes()), LOGS_TARGET_PREFIX).ok())
        .unwrap_or("")
        .to_owned();
    let result = if op == "StartLiveTail" {
        live_tail::start(&s, &logs, &aws, &body)
            .await
            .map(Answer::Stream)
    } else {
        ops::dispatch(&s, &logs, &aws, &op, &body)
            .await
            .map(Answer::Json)
    };
    let mut response = match result {
        Ok(Answer::Stream(r)) => r,
        Ok(Answer::Json(v)) => {
            let body = serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec());
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                HeaderName::from_static("content-type"),
                HeaderValue::from_static(target::JSON_1_1_CONTENT_TYPE),
            );
            r
        }
        Err(e) => {
            logs.counters.error(e.kind.code(Service::CloudWatchLogs));
            if e.kind.is_fault() {
                tracing::warn!(op = %op, error = %e, "cloudwatch logs: fault");
            }
            crate::aws::into_response(e.render(Service::CloudWatchLogs, &aws.request_id))
        }
    };
    if let Ok(v) = HeaderValue::from_str(&aws.request_id.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    response
}

enum Answer {
    Json(serde_json::Value),
    /// An event-stream response (StartLiveTail).
    Stream(Response),
}

/// Unix milliseconds (every Logs timestamp).
pub(crate) fn now_ms() -> i64 {
    crate::now_ns().div_euclid(1_000_000)
}

fn internal() -> AwsError {
    AwsError::internal()
}

impl LogsService {
    /// Loads the region on first use (under the `regions` lock).
    fn region_entry<'a>(
        &self,
        all: &'a mut HashMap<String, Region>,
        store: &dyn store::Store,
        region: &str,
    ) -> Result<&'a mut Region, AwsError> {
        if !all.contains_key(region) {
            let loaded = store
                .get_doc(STATE_DOC_KIND, region)
                .map_err(|_| AwsError::unavailable())?
                .and_then(|d| serde_json::from_value::<LogsState>(d.body).ok());
            let state = loaded.unwrap_or_else(|| {
                LogsState::new(Partition::new(region, self.config.account_id.clone()))
            });
            all.insert(
                region.to_owned(),
                Region {
                    state,
                    version: 0,
                    persisted: 0,
                },
            );
        }
        all.get_mut(region).ok_or_else(internal)
    }

    fn write_doc(
        store: &dyn store::Store,
        region: &str,
        state: &LogsState,
    ) -> Result<(), AwsError> {
        let body = serde_json::to_value(state).map_err(|_| internal())?;
        store
            .put_doc(&store::MetaDoc {
                kind: STATE_DOC_KIND.into(),
                id: region.to_owned(),
                dataset: String::new(),
                body,
                created_ns: crate::now_ns(),
            })
            .map_err(|_| AwsError::unavailable())
    }
}

/// Runs `f` on the region's state. `mutate`: on a clone that is stored before it replaces
/// the visible state.
pub(crate) async fn with_state<T: Send + 'static>(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    mutate: bool,
    f: impl FnOnce(&mut LogsState) -> Result<T, AwsError> + Send + 'static,
) -> Result<T, AwsError> {
    let store = s.store.clone();
    let logs = logs.clone();
    let region = region.to_owned();
    crate::blocking(move || {
        let _persist = if mutate {
            Some(logs.persist_lock.lock().map_err(|_| internal())?)
        } else {
            None
        };
        let mut all = logs.regions.lock().map_err(|_| internal())?;
        let r = logs.region_entry(&mut all, store.as_ref(), &region)?;
        if !mutate {
            return f(&mut r.state);
        }
        let mut next = r.state.clone();
        let out = f(&mut next)?;
        LogsService::write_doc(store.as_ref(), &region, &next)?;
        r.state = next;
        r.version += 1;
        r.persisted = r.version;
        Ok(out)
    })
    .await
    .map_err(|_| internal())?
}

/// Runs `f` on the visible state without storing it yet (PutLogEvents reserving stream
/// positions); returns the version to hand [`persist`] once the events are committed.
pub(crate) async fn reserve<T: Send + 'static>(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    f: impl FnOnce(&mut LogsState) -> Result<T, AwsError> + Send + 'static,
) -> Result<(T, u64), AwsError> {
    let store = s.store.clone();
    let logs = logs.clone();
    let region = region.to_owned();
    crate::blocking(move || {
        let mut all = logs.regions.lock().map_err(|_| internal())?;
        let r = logs.region_entry(&mut all, store.as_ref(), &region)?;
        let out = f(&mut r.state)?;
        r.version += 1;
        Ok((out, r.version))
    })
    .await
    .map_err(|_| internal())?
}

/// Stores the region's state if `version` is not on disk yet. Requests waiting here behind
/// one write find their version already stored by it.
pub(crate) async fn persist(
    s: &AppState,
    logs: &Arc<LogsService>,
    region: &str,
    version: u64,
) -> Result<(), AwsError> {
    let store = s.store.clone();
    let logs = logs.clone();
    let region = region.to_owned();
    crate::blocking(move || {
        let _persist = logs.persist_lock.lock().map_err(|_| internal())?;
        let (snapshot, v) = {
            let mut all = logs.regions.lock().map_err(|_| internal())?;
            let r = logs.region_entry(&mut all, store.as_ref(), &region)?;
            if r.persisted >= version {
                return Ok(());
            }
            (r.state.clone(), r.version)
        };
        LogsService::write_doc(store.as_ref(), &region, &snapshot)?;
        let mut all = logs.regions.lock().map_err(|_| internal())?;
        if let Some(r) = all.get_mut(&region) {
            r.persisted = r.persisted.max(v);
        }
        Ok(())
    })
    .await
    .map_err(|_| internal())?
}

pub(crate) fn unknown_operation(op: &str) -> AwsError {
    if op.is_empty() {
        return AwsError::new(
            ErrorKind::UnknownOperation,
            "The X-Amz-Target header does not name a CloudWatch Logs operation.",
        );
    }
    AwsError::new(
        ErrorKind::UnknownOperation,
        format!("Waggle does not implement the CloudWatch Logs operation {op}."),
    )
}
