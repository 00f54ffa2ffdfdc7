//! Rollbar: the item API (`POST /api/1/item/`), the read/write API (items, occurrences,
//! PATCH) and deploys, over the pure `protocols::rollbar` module.
//!
//! Occurrences are wide `Error` events committed through the ingest pipeline like every other
//! protocol's data (dataset = the project's name), so Honeycomb queries and traces see them and
//! the occurrence API reads them back through the store's SQL path (`read`). Items — the groups
//! with their counters and status — and deploys are two store documents
//! (`protocols::rollbar::Items`, `protocols::rollbar::api::Deploys`), each changed as
//! clone → change → persist → swap under one writer lock, so a reader never sees a change the
//! store does not hold. Item ingest commits occurrences in groups and treats the items
//! document as a checkpoint that a start completes from the stored events (`ingest`,
//! `replay`).

mod ingest;
mod read;
mod replay;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use protocols::rollbar::api::Deploys;
use protocols::rollbar::tokens::{Need, RateHeaders, RateLimiter};
use protocols::rollbar::{Access, Answer, Items, Limits, Projects, RecentUuids};
use serde::de::DeserializeOwned;
use serde::Serialize;
use store::{MetaDoc, Store};

use crate::AppState;

/// Store document kind and id of the items of every project (one document, see module docs).
pub const ITEMS_DOC_KIND: &str = "rollbar.items";
/// Store document kind and id of the deploys of every project.
pub const DEPLOYS_DOC_KIND: &str = "rollbar.deploys";
/// The one id both documents use.
pub const DOC_ID: &str = "all";

/// Rollbar settings.
#[derive(Debug, Clone)]
pub struct RollbarConfig {
    /// Projects and access tokens (`Projects::local()`: no tokens, any token accepted).
    pub projects: Arc<Projects>,
    pub limits: Limits,
    /// Serve local mode (no tokens configured) even when a listener is not on loopback
    /// (`--insecure`). Without it, local mode on an exposed address refuses every token.
    pub local_mode_exposed: bool,
}

impl Default for RollbarConfig {
    fn default() -> Self {
        RollbarConfig {
            projects: Arc::new(Projects::local()),
            limits: Limits::default(),
            local_mode_exposed: false,
        }
    }
}

/// Counters the Rollbar edge exposes in `/api/waggle/stats` (STYLE habit 11).
#[derive(Debug, Default)]
pub struct RollbarCounters {
    /// `POST /api/1/item/` calls.
    pub item_requests: AtomicU64,
    /// Occurrences committed.
    pub accepted: AtomicU64,
    /// Occurrences whose uuid was already stored (answered 200, stored once).
    pub duplicates: AtomicU64,
    /// Payloads refused by decoding or validation (400, 413, 422).
    pub invalid: AtomicU64,
    /// Requests refused for their token (401, 403).
    pub unauthorized: AtomicU64,
    /// Requests over their token's rate limit (429).
    pub rate_limited: AtomicU64,
    /// Occurrences refused because the ingest queue was full (429).
    pub refused_overload: AtomicU64,
    /// Commits or document writes that failed (503).
    pub storage_errors: AtomicU64,
    pub items_created: AtomicU64,
    pub items_reactivated: AtomicU64,
    /// Read/write API and deploy calls.
    pub api_requests: AtomicU64,
}

impl RollbarCounters {
    pub(crate) fn inc(&self, field: &AtomicU64) {
        self.add(field, 1);
    }

    pub(crate) fn add(&self, field: &AtomicU64, n: u64) {
        let _ = self;
        field.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "item_requests": g(&self.item_requests),
            "accepted": g(&self.accepted),
            "duplicates": g(&self.duplicates),
            "invalid": g(&self.invalid),
            "unauthorized": g(&self.unauthorized),
            "rate_limited": g(&self.rate_limited),
            "refused_overload": g(&self.refused_overload),
            "storage_errors": g(&self.storage_errors),
            "items_created": g(&self.items_created),
            "items_reactivated": g(&self.items_reactivated),
            "api_requests": g(&self.api_requests),
        })
    }
}

/// What a document does once after loading, before anyone reads it.
trait AfterLoad: Sized {
    fn after_load(&mut self, store: &dyn Store, projects: &Projects) -> Result<(), Answer>;
}

impl AfterLoad for Deploys {
    fn after_load(&mut self, _: &dyn Store, _: &Projects) -> Result<(), Answer> {
        Ok(())
    }
}

impl AfterLoad for Items {
    /// Completes the checkpoint from the store: replays the occurrences committed after it
    /// (`replay`), then reserves any id committed events carry beyond that (occurrences of a
    /// project no longer configured), so none is handed out twice.
    fn after_load(&mut self, store: &dyn Store, projects: &Projects) -> Result<(), Answer> {
        use protocols::rollbar::translate::fields;
        use query::Dialect;
        let started = std::time::Instant::now();
        let replayed = replay::replay_stored(self, store, projects).map_err(|e| {
            tracing::warn!(error = %e, "cannot replay the stored Rollbar occurrences");
            unavailable()
        })?;
        if replayed > 0 {
            tracing::info!(
                replayed,
                ms = started.elapsed().as_millis() as u64,
                "Rollbar items completed from stored occurrences"
            );
        }
        let catalog = store.catalog();
        let mut cols = Vec::new();
        for key in [fields::OCCURRENCE_ID, fields::ITEM_ID, fields::COUNTER] {
            match (catalog.get(key), catalog.get_overflow(key)) {
                (Some(c), None) => cols.push(query::DuckDb.ident(&c.name)),
                // No occurrence was ever stored.
                (None, None) => return Ok(()),
                // Spilled to the overflow column (a column budget was reached): ids stay as
                // the document has them.
                _ => {
                    tracing::warn!(key, "Rollbar id column spilled; ids not reconciled");
                    return Ok(());
                }
            }
        }
        let sql = format!(
            "SELECT lower(\"__dataset\"), max({o}), max({i}), max({c}) FROM events \
             WHERE {o} IS NOT NULL GROUP BY 1",
            o = cols[0],
            i = cols[1],
            c = cols[2]
        );
        let rows = store.run_sql(&sql).map_err(|e| {
            tracing::warn!(error = %e, "cannot read the Rollbar ids of stored occurrences");
            unavailable()
        })?;
        let id = |v: Option<&Option<model::Value>>| match v {
            Some(Some(model::Value::Int(n))) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        let (mut max_occurrence, mut max_item, mut counters) = (0, 0, Vec::new());
        for row in &rows {
            max_occurrence = max_occurrence.max(id(row.get(1)));
            max_item = max_item.max(id(row.get(2)));
            let dataset = match row.first() {
                Some(Some(model::Value::Str(d))) => d.as_str(),
                _ => continue,
            };
            if let Some(p) = projects
                .projects()
                .iter()
                .find(|p| p.name.to_lowercase() == dataset)
            {
                counters.push((p.id, id(row.get(3))));
            }
        }
        self.reserve_ids(max_item, max_occurrence, &counters);
        Ok(())
    }
}

/// One persisted document as readers see it: loaded on first use, replaced whole after each
/// persisted change. Writers hold `writer` from clone to swap.
struct Doc<T> {
    kind: &'static str,
    projects: Arc<Projects>,
    current: tokio::sync::OnceCell<RwLock<Arc<T>>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl<T: Clone + Default + Serialize + DeserializeOwned + AfterLoad + Send + Sync + 'static> Doc<T> {
    fn new(kind: &'static str, projects: Arc<Projects>) -> Self {
        Doc {
            kind,
            projects,
            current: tokio::sync::OnceCell::new(),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The current state (loaded from the store on first use).
    async fn get(&self, store: &Arc<dyn Store>) -> Result<Arc<T>, Answer> {
        let cell = self
            .current
            .get_or_try_init(|| async {
                let store = store.clone();
                let kind = self.kind;
                let projects = self.projects.clone();
                let state = crate::blocking(move || {
                    let loaded = store.get_doc(kind, DOC_ID).map_err(|e| {
                        tracing::warn!(error = %e, kind, "cannot load the Rollbar document");
                        unavailable()
                    })?;
                    let mut state = match loaded {
                        None => T::default(),
                        Some(doc) => serde_json::from_value(doc.body).map_err(|e| {
                            // Starting empty would hand out item counters again: refuse.
                            tracing::error!(error = %e, kind, "stored Rollbar document does not parse");
                            internal()
                        })?,
                    };
                    state.after_load(&*store, &projects)?;
                    Ok::<_, Answer>(state)
                })
                .await
                .map_err(|_| internal())??;
                Ok::<_, Answer>(RwLock::new(Arc::new(state)))
            })
            .await?;
        cell.read().map(|g| g.clone()).map_err(|_| internal())
    }

    /// Writes `next` to the store (on a blocking thread).
    async fn persist(&self, store: &Arc<dyn Store>, next: Arc<T>) -> Result<(), Answer> {
        let store = store.clone();
        let kind = self.kind;
        crate::blocking(move || {
            let body = serde_json::to_value(&*next).map_err(|_| internal())?;
            store
                .put_doc(&MetaDoc {
                    kind: kind.into(),
                    id: DOC_ID.into(),
                    dataset: String::new(),
                    body,
                    created_ns: crate::now_ns(),
                })
                .map_err(|e| {
                    tracing::warn!(error = %e, kind, "cannot persist the Rollbar document");
                    unavailable()
                })
        })
        .await
        .map_err(|_| internal())?
    }

    /// Makes `next` what readers see (after it was persisted, or after the events it
    /// describes were committed).
    fn swap(&self, next: Arc<T>) {
        if let Some(cell) = self.current.get() {
            if let Ok(mut g) = cell.write() {
                *g = next;
            }
        }
    }
}

/// Rollbar's shared state.
pub struct RollbarState {
    pub config: RollbarConfig,
    /// Local mode may answer (tokens configured, or every listener on loopback, or
    /// `local_mode_exposed`).
    local_open: bool,
    items: Doc<Items>,
    /// Item ingest's group commit (`ingest`).
    recorder: ingest::Recorder,
    deploys: Doc<Deploys>,
    /// Per-token windows (not persisted: they describe the current minute).
    rate: Mutex<RateLimiter>,
    /// RQL jobs and their results (not persisted: a job is read right after it runs).
    rql: Mutex<read::RqlJobs>,
    pub counters: RollbarCounters,
    /// The UI gateway's per-process secret (`crate::ui::UI_GRANT_HEADER`).
    pub(crate) ui_secret: Arc<str>,
}

impl RollbarState {
    /// `listeners`: the addresses the Rollbar routes are served on (for local mode's
    /// loopback rule).
    pub fn new(config: RollbarConfig, listeners: &[SocketAddr]) -> Self {
        let local_open = !config.projects.is_local()
            || config.local_mode_exposed
            || listeners.iter().all(|a| a.ip().is_loopback());
        let projects = config.projects.clone();
        RollbarState {
            config,
            local_open,
            items: Doc::new(ITEMS_DOC_KIND, projects.clone()),
            recorder: ingest::Recorder::default(),
            deploys: Doc::new(DEPLOYS_DOC_KIND, projects),
            rate: Mutex::new(RateLimiter::new()),
            rql: Mutex::new(read::RqlJobs::default()),
            counters: RollbarCounters::default(),
            ui_secret: crate::ui::new_grant_secret().into(),
        }
    }

    /// Loads the recent uuids from the stored occurrences (once).
    async fn recent_uuids(&self, store: &Arc<dyn Store>) -> Result<(), Answer> {
        self.recorder
            .recent
            .get_or_try_init(|| async {
                let store = store.clone();
                let projects = self.config.projects.clone();
                crate::blocking(move || replay::recent_uuids(&*store, &projects))
                    .await
                    .map_err(|_| internal())?
                    .map(Mutex::new)
                    .map_err(|e| {
                        tracing::warn!(error = %e, "cannot read the recent Rollbar uuids");
                        unavailable()
                    })
            })
            .await
            .map(|_| ())
    }

    /// The recent uuids ([`RollbarState::recent_uuids`] loaded them).
    fn recent_lock(&self) -> Result<std::sync::MutexGuard<'_, RecentUuids>, ()> {
        self.recorder.recent.get().ok_or(())?.lock().map_err(|_| ())
    }

    /// Checks a token for `need`, then counts the call against its rate window.
    pub(crate) fn authorize(
        &self,
        token: &str,
        need: Need,
    ) -> Result<(Access, RateHeaders), Answer> {
        if self.config.projects.is_local() && !self.local_open {
            self.counters.inc(&self.counters.unauthorized);
            return Err(Answer::error(
                403,
                "No Rollbar access tokens are configured and this server listens beyond loopback: \
                 set --rollbar-tokens (or pass --insecure).",
            ));
        }
        let access = self.config.projects.authorize(token, need).map_err(|e| {
            self.counters.inc(&self.counters.unauthorized);
            e.answer()
        })?;
        let now_s = crate::now_ns().div_euclid(1_000_000_000);
        let checked = self
            .rate
            .lock()
            .map_err(|_| internal())?
            .check(&access, now_s);
        match checked {
            Ok(h) => Ok((access, h)),
            Err(limited) => {
                self.counters.inc(&self.counters.rate_limited);
                Err(limited.answer())
            }
        }
    }
}

/// Every Rollbar route (`/api/1/…`, with and without the trailing slash the SDKs use).
pub fn routes() -> Router<AppState> {
    let both = |r: Router<AppState>, path: &str, m: axum::routing::MethodRouter<AppState>| {
        r.route(path, m.clone()).route(&format!("{path}/"), m)
    };
    let mut r = Router::new();
    r = both(
        r,
        "/api/1/item",
        post(ingest::post_item).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/items",
        get(read::list_items).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/item/{id}",
        get(read::get_item)
            .patch(read::patch_item)
            .fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/item_by_counter/{counter}",
        get(read::item_by_counter).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/item/{id}/instances",
        get(read::item_instances).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/instance/{id}",
        get(read::get_instance).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/deploy",
        post(read::post_deploy).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/deploys",
        get(read::list_deploys).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/deploy/{id}",
        get(read::get_deploy).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/rql/jobs",
        post(read::post_rql_job).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/rql/job/{id}",
        get(read::get_rql_job).fallback(method_not_allowed),
    );
    r = both(
        r,
        "/api/1/rql/job/{id}/result",
        get(read::get_rql_result).fallback(method_not_allowed),
    );
    r.route("/api/1/{*rest}", any(not_found))
}

/// Rollbar's routes under the shared request timeout (its body limits and token checks are
/// Rollbar's own, answered in Rollbar's shape by the handlers).
pub(crate) fn bounded(limits: &crate::edge::Limits) -> Router<AppState> {
    crate::edge::time_out(routes(), limits.request_timeout, refuse)
}

fn refuse(_: &HeaderMap, refusal: &crate::edge::Refusal) -> Response {
    respond(Answer::error(refusal.status().as_u16(), &refusal.message()))
}

async fn not_found() -> Response {
    respond(protocols::rollbar::api::not_found())
}

async fn method_not_allowed() -> Response {
    respond(Answer::error(405, "Method not allowed"))
}

/// 500 in Rollbar's shape; the cause is logged, never sent (STYLE habit 4).
pub(crate) fn internal() -> Answer {
    Answer::error(500, "Internal server error")
}

/// 503 in Rollbar's shape: storage could not commit; the client may retry.
pub(crate) fn unavailable() -> Answer {
    Answer::error(503, "Service temporarily unavailable; retry later.")
}

/// Copies an answer onto a response as it is.
pub(crate) fn respond(a: Answer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, a.body).into_response();
    for (k, v) in &a.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

/// A header's value as text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
