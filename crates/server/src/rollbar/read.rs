//! The read/write API (`read` and `write` scopes) and deploys: items from the items document,
//! occurrences from the stored `Error` events through the query crate's SQL (newest first,
//! one bounded page), PATCH and deploys as persisted document changes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use model::schema::{Catalog, FIELD_TIMESTAMP};
use model::{Event, SignalKind, Value};
use protocols::rollbar::api::{self, Instance, ItemsQuery, INSTANCES_PAGE_SIZE};
use protocols::rollbar::items::PatchError;
use protocols::rollbar::tokens::{Need, RateHeaders};
use protocols::rollbar::translate::fields;
use protocols::rollbar::{Access, Answer, ItemError};
use query::plan::{compare, resolve_column, CmpOp, EventList, Plan};
use store::MetaDoc;

use super::{header, internal, respond, unavailable, RollbarState};
use crate::AppState;

/// Deepest occurrence page served (our choice: 500 pages × 20 = 10,000 occurrences back;
/// each page is one bounded `LIMIT 20 OFFSET n` scan).
pub const INSTANCE_PAGES_MAX: usize = 500;
/// Deepest deploy page served (our choice: the per-project cap is 10,000 deploys = 500 pages).
pub const DEPLOY_PAGES_MAX: usize = 500;
/// Honeycomb's marker document kind (`honeycomb_query`): a deploy becomes a marker on its
/// project's dataset.
const MARKER_DOC_KIND: &str = "honeycomb.marker";

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A request the token allows: its project, the token itself and the rate headers every
/// answer carries (none for the UI gateway, which has no token and no rate window).
struct Granted {
    access: Access,
    token: String,
    rate: Option<RateHeaders>,
}

impl Granted {
    fn answer(&self, mut a: Answer) -> Response {
        if let Some(rate) = &self.rate {
            rate.apply(&mut a);
        }
        respond(a)
    }
}

fn pairs(q: Pairs) -> Result<Vec<(String, String)>, Answer> {
    q.map(|Query(v)| v)
        .map_err(|_| Answer::error(400, "Could not decode the query string."))
}

/// Token from `X-Rollbar-Access-Token`, else `access_token` in the query (RD
/// `api/overview.md`), else `body_token`; then scope and rate checks.
fn grant(
    rb: &RollbarState,
    headers: &HeaderMap,
    query: &[(String, String)],
    body_token: Option<&str>,
    need: Need,
) -> Result<Granted, Answer> {
    rb.counters.inc(&rb.counters.api_requests);
    if let Some(g) = rb.ui_grant(headers)? {
        return Ok(g);
    }
    let token = header(headers, protocols::rollbar::item::TOKEN_HEADER)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.trim())
                .filter(|t| !t.is_empty())
        })
        .or(body_token.map(str::trim).filter(|t| !t.is_empty()))
        .ok_or_else(|| {
            rb.counters.inc(&rb.counters.unauthorized);
            ItemError::NoToken.answer()
        })?
        .to_owned();
    let (access, rate) = rb.authorize(&token, need)?;
    Ok(Granted {
        access,
        token,
        rate: Some(rate),
    })
}

impl RollbarState {
    /// A request from the UI gateway (`crate::ui`): the project named by
    /// [`crate::ui::UI_PROJECT_HEADER`] (or the first), every scope, no rate window.
    fn ui_grant(&self, headers: &HeaderMap) -> Result<Option<Granted>, Answer> {
        use subtle::ConstantTimeEq;
        let Some(presented) = header(headers, crate::ui::UI_GRANT_HEADER) else {
            return Ok(None);
        };
        if self.ui_secret.is_empty()
            || !bool::from(presented.as_bytes().ct_eq(self.ui_secret.as_bytes()))
        {
            return Ok(None);
        }
        let projects = self.config.projects.projects();
        let project = match header(headers, crate::ui::UI_PROJECT_HEADER) {
            Some(name) => projects.iter().find(|p| p.name == name),
            None => projects.first(),
        }
        .ok_or_else(|| Answer::error(404, "No such project."))?;
        Ok(Some(Granted {
            access: Access {
                project: project.clone(),
                token_index: usize::MAX,
                limit: protocols::rollbar::tokens::RateLimit::default(),
            },
            token: String::new(),
            rate: None,
        }))
    }
}

fn parse_id(s: &str) -> Option<u64> {
    s.trim().parse().ok().filter(|id| *id > 0)
}

fn page_param(query: &[(String, String)], max: usize) -> Result<usize, Answer> {
    match query.iter().find(|(k, _)| k == "page") {
        None => Ok(1),
        Some((_, v)) if v.is_empty() => Ok(1),
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=max).contains(p))
            .ok_or_else(|| Answer::error(422, &format!("page must be between 1 and {max}"))),
    }
}

macro_rules! try_answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(a) => return respond(a),
        }
    };
    ($g:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(a) => return $g.answer(a),
        }
    };
}

// ---- Items --------------------------------------------------------------------------------

pub(super) async fn list_items(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let filters = try_answer!(
        g,
        ItemsQuery::parse(q.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    );
    let items = try_answer!(g, s.rollbar.items.get(&s.store).await);
    g.answer(api::items_page(&items, g.access.project.id, &filters))
}

pub(super) async fn get_item(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let items = try_answer!(g, s.rollbar.items.get(&s.store).await);
    match parse_id(&id)
        .and_then(|id| items.get(id))
        .filter(|i| i.project_id == g.access.project.id)
    {
        Some(item) => g.answer(api::item_answer(item)),
        None => g.answer(api::not_found()),
    }
}

pub(super) async fn item_by_counter(
    State(s): State<AppState>,
    Path(counter): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let items = try_answer!(g, s.rollbar.items.get(&s.store).await);
    match parse_id(&counter).and_then(|c| items.by_counter(g.access.project.id, c)) {
        Some(item) => g.answer(api::item_by_counter_answer(item.id, &g.token)),
        None => g.answer(api::not_found()),
    }
}

pub(super) async fn patch_item(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Write));
    let body = try_answer!(
        g,
        body.map_err(|_| Answer::error(413, "request entity too large"))
    );
    let patch = try_answer!(g, api::parse_patch(&body));
    let Some(id) = parse_id(&id) else {
        return g.answer(api::not_found());
    };
    let rb = s.rollbar.clone();
    let _writer = rb.items.writer.lock().await;
    let items = try_answer!(g, rb.items.get(&s.store).await);
    let mut next = (*items).clone();
    let now_s = crate::now_ns().div_euclid(1_000_000_000);
    let json = match next.patch(g.access.project.id, id, &patch, now_s) {
        Ok(item) => api::item_json(item),
        Err(PatchError::NotFound) => return g.answer(api::not_found()),
        Err(PatchError::Invalid(m)) => return g.answer(Answer::error(422, &m)),
    };
    let next = Arc::new(next);
    if let Err(a) = rb.items.persist(&s.store, next.clone()).await {
        rb.counters.inc(&rb.counters.storage_errors);
        return g.answer(a);
    }
    rb.recorder.written(next.next_occurrence_id());
    rb.items.swap(next);
    g.answer(Answer::ok(json))
}

// ---- Occurrences --------------------------------------------------------------------------

/// The SQL for occurrences of one project whose `key` column equals `value`, newest
/// (highest occurrence id) first: columns occurrence id, item id, time, data.
fn occurrences_sql(
    catalog: &Catalog,
    dataset: &str,
    key: &str,
    value: i64,
    limit: u32,
    offset: usize,
) -> String {
    let mut warnings = Vec::new();
    let mut col = |name: &str| resolve_column(name, catalog, &mut warnings);
    let key = col(key);
    let occurrence = col(fields::OCCURRENCE_ID);
    let list = EventList {
        columns: vec![
            occurrence.clone(),
            col(fields::ITEM_ID),
            col(FIELD_TIMESTAMP),
            col(fields::DATA),
        ],
        order: vec![(occurrence, true)],
    };
    let plan = super::replay::occurrences_plan(
        dataset,
        compare(&key, CmpOp::Eq, &Value::Int(value)),
        limit,
    );
    let sql = query::sql::render_event_list(&plan, &list, &query::DuckDb);
    // `render_event_list` ends with its LIMIT; the page's offset is ours.
    format!("{sql} OFFSET {offset}")
}

fn int(v: &Option<Value>) -> Option<i64> {
    match v.as_ref()? {
        Value::Int(i) => Some(*i),
        Value::Float(f) => Some(*f as i64),
        Value::Str(s) => s.parse().ok(),
        Value::Bool(_) => None,
    }
}

/// Runs [`occurrences_sql`] and rebuilds each row as the event `translate` made, then as an
/// [`Instance`].
async fn occurrences(
    s: &AppState,
    access: &Access,
    key: &'static str,
    value: i64,
    limit: u32,
    offset: usize,
) -> Result<Vec<Instance>, Answer> {
    let store = s.store.clone();
    let dataset = access.project.name.clone();
    let project_id = access.project.id;
    crate::blocking(move || {
        let sql = occurrences_sql(&store.catalog(), &dataset, key, value, limit, offset);
        let rows = store.run_sql(&sql).map_err(|e| {
            tracing::warn!(error = %e, "Rollbar occurrence query failed");
            unavailable()
        })?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let mut ev = Event::new(dataset.as_str(), int(row.get(2)?)?, SignalKind::Error);
                ev.set(fields::OCCURRENCE_ID, Value::Int(int(row.first()?)?));
                ev.set(fields::ITEM_ID, Value::Int(int(row.get(1)?)?));
                if let Some(Some(Value::Str(d))) = row.get(3) {
                    ev.set(fields::DATA, Value::Str(d.clone()));
                }
                Instance::from_event(&ev, project_id)
            })
            .collect())
    })
    .await
    .map_err(|_| internal())?
}

pub(super) async fn item_instances(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let page = try_answer!(g, page_param(&q, INSTANCE_PAGES_MAX));
    let items = try_answer!(g, s.rollbar.items.get(&s.store).await);
    let Some(item) = parse_id(&id)
        .and_then(|id| items.get(id))
        .filter(|i| i.project_id == g.access.project.id)
    else {
        return g.answer(api::not_found());
    };
    let offset = (page - 1) * INSTANCES_PAGE_SIZE;
    let list = try_answer!(
        g,
        occurrences(
            &s,
            &g.access,
            fields::ITEM_ID,
            item.id as i64,
            INSTANCES_PAGE_SIZE as u32,
            offset
        )
        .await
    );
    g.answer(api::instances_page(page, &list))
}

pub(super) async fn get_instance(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let Some(id) = parse_id(&id).and_then(|i| i64::try_from(i).ok()) else {
        return g.answer(api::not_found());
    };
    let list = try_answer!(
        g,
        occurrences(&s, &g.access, fields::OCCURRENCE_ID, id, 1, 0).await
    );
    match list.first() {
        Some(i) => g.answer(api::instance_answer(i)),
        None => g.answer(api::not_found()),
    }
}

// ---- Deploys ------------------------------------------------------------------------------

pub(super) async fn post_deploy(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let q = try_answer!(pairs(q));
    let body = try_answer!(body.map_err(|_| Answer::error(413, "request entity too large")));
    let input = match api::decode_deploy(&body, header(&headers, "content-type")) {
        Ok(i) => i,
        Err(a) => {
            s.rollbar.counters.inc(&s.rollbar.counters.api_requests);
            return respond(a);
        }
    };
    let g = try_answer!(grant(
        &s.rollbar,
        &headers,
        &q,
        input.access_token(),
        Need::PostDeploy
    ));
    let rb = s.rollbar.clone();
    let _writer = rb.deploys.writer.lock().await;
    let deploys = try_answer!(g, rb.deploys.get(&s.store).await);
    let mut next = (*deploys).clone();
    let now_ns = crate::now_ns();
    let deploy = next
        .add(g.access.project.id, input, now_ns.div_euclid(1_000_000_000))
        .clone();
    let next = Arc::new(next);
    if let Err(a) = rb.deploys.persist(&s.store, next.clone()).await {
        rb.counters.inc(&rb.counters.storage_errors);
        return g.answer(a);
    }
    rb.deploys.swap(next);
    // The marker is a convenience view of the deploy: a failure to write it is logged, the
    // deploy itself is committed.
    let store = s.store.clone();
    let dataset = g.access.project.name.to_lowercase();
    let now = query::results::rfc3339(now_ns);
    let marker = MetaDoc {
        kind: MARKER_DOC_KIND.into(),
        id: format!("rollbar-deploy-{}-{}", deploy.project_id, deploy.id),
        dataset,
        body: serde_json::json!({
            "id": format!("rollbar-deploy-{}-{}", deploy.project_id, deploy.id),
            "start_time": deploy.start_time,
            "end_time": serde_json::Value::Null,
            "message": format!("deploy {} to {}", deploy.revision, deploy.environment),
            "type": "deploy",
            "url": "",
            "color": serde_json::Value::Null,
            "created_at": now,
            "updated_at": now,
        }),
        created_ns: now_ns,
    };
    if let Ok(Err(e)) = crate::blocking(move || store.put_doc(&marker)).await {
        tracing::warn!(error = %e, "cannot write the deploy's Honeycomb marker");
    }
    g.answer(api::deploy_created(&deploy))
}

pub(super) async fn list_deploys(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let page = try_answer!(g, page_param(&q, DEPLOY_PAGES_MAX));
    let deploys = try_answer!(g, s.rollbar.deploys.get(&s.store).await);
    let list = deploys.page(g.access.project.id, page);
    g.answer(api::deploys_page(page, &list))
}

pub(super) async fn get_deploy(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let deploys = try_answer!(g, s.rollbar.deploys.get(&s.store).await);
    match parse_id(&id).and_then(|id| deploys.get(g.access.project.id, id)) {
        Some(d) => g.answer(api::deploy_answer(d)),
        None => g.answer(api::not_found()),
    }
}

// ---- RQL ----------------------------------------------------------------------------------

/// RQL jobs kept for their results (our choice: results are small — ≤ 1,000 rows — and a job
/// is read right after it is created; the oldest is dropped past this).
pub const RQL_JOBS_MAX: usize = 1000;
/// End of an RQL query's window: 2100-01-01T00:00:00Z. RQL has no time range (it reads all
/// occurrences) and occurrence times come from the client's `data.timestamp`, which may run
/// ahead of our clock, so "now" would be the wrong end.
const RQL_END_S: i64 = 4_102_444_800;
/// Largest `POST /api/1/rql/jobs` body (our choice: the query is ≤ 4 KB of text).
const RQL_BODY_BYTES_MAX: usize = 64 * 1024;

/// One finished job (jobs run when created; their status is `success` or `failed`).
#[derive(Clone)]
pub(super) struct RqlJob {
    project_id: u64,
    json: serde_json::Value,
    result: serde_json::Value,
}

/// Jobs by id, oldest first.
#[derive(Default)]
pub(super) struct RqlJobs {
    next_id: u64,
    jobs: std::collections::BTreeMap<u64, RqlJob>,
}

/// Runs a parsed query over the project's occurrences (all time) through the shared plan.
fn run_rql(
    store: &dyn store::Store,
    dataset: &str,
    rql: &protocols::rollbar::rql::Rql,
) -> Result<serde_json::Value, String> {
    let now_s = crate::now_ns().div_euclid(1_000_000_000);
    let spec = query::QuerySpec::from_json(&rql.spec(0, RQL_END_S.max(now_s.saturating_add(1))))
        .map_err(|e| format!("{}: {}", e.field, e.message))?;
    let catalog = store.catalog();
    let mut plan = Plan::from_spec(
        &spec,
        &query::plan::PlanContext {
            dataset,
            catalog: &catalog,
            now_s,
            limit_override: None,
            derived: &[],
        },
    )
    .map_err(|e| match e {
        query::PlanError::Spec(s) => format!("{}: {}", s.field, s.message),
        query::PlanError::Unsupported { field, message } => format!("{field}: {message}"),
    })?;
    plan.uniform_weights = store.max_sample_rate() <= 1;
    let sql = query::sql::render_totals(&plan, &query::DuckDb);
    let rows = store.run_sql(&sql.sql).map_err(|e| {
        tracing::warn!(error = %e, "RQL query failed");
        "the query could not be run".to_string()
    })?;
    let results = query::results::results_json(&plan, &rows).map_err(|e| {
        tracing::warn!(error = %e, "RQL result shaping failed");
        "the query could not be run".to_string()
    })?;
    let list = results.as_array().cloned().unwrap_or_default();
    Ok(rql.result(&list))
}

pub(super) async fn post_rql_job(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    let body = try_answer!(
        g,
        body.ok()
            .filter(|b| b.len() <= RQL_BODY_BYTES_MAX)
            .ok_or_else(|| Answer::error(413, "request entity too large"))
    );
    let v: serde_json::Value = try_answer!(
        g,
        serde_json::from_slice(&body).map_err(|_| Answer::error(400, "Could not parse JSON body"))
    );
    let Some(text) = v.get("query_string").and_then(serde_json::Value::as_str) else {
        return g.answer(Answer::error(422, "query_string is required"));
    };
    let text = text.to_owned();
    let parsed = protocols::rollbar::rql::parse(&text);
    let store = s.store.clone();
    let dataset = g.access.project.name.clone();
    let ran = match parsed {
        Err(m) => Err(m),
        Ok(rql) => match crate::blocking(move || run_rql(&*store, &dataset, &rql)).await {
            Ok(r) => r,
            Err(_) => return g.answer(internal()),
        },
    };
    let now_s = crate::now_ns().div_euclid(1_000_000_000);
    let rb = s.rollbar.clone();
    let Ok(mut jobs) = rb.rql.lock() else {
        return g.answer(internal());
    };
    jobs.next_id += 1;
    let id = jobs.next_id;
    let (status, result) = match ran {
        Ok(r) => ("success", r),
        Err(m) => (
            "failed",
            serde_json::json!({"errors": [m], "warnings": [], "rows": [], "columns": []}),
        ),
    };
    let json = serde_json::json!({
        "id": id,
        "project_id": g.access.project.id,
        "query_string": text,
        "status": status,
        "job_hash": format!("{:016x}", id),
        "date_created": now_s,
        "date_modified": now_s,
    });
    jobs.jobs.insert(
        id,
        RqlJob {
            project_id: g.access.project.id,
            json: json.clone(),
            result,
        },
    );
    while jobs.jobs.len() > RQL_JOBS_MAX {
        jobs.jobs.pop_first();
    }
    drop(jobs);
    g.answer(Answer::ok(json))
}

fn find_job(rb: &RollbarState, project_id: u64, id: &str) -> Result<Option<RqlJob>, Answer> {
    let jobs = rb.rql.lock().map_err(|_| internal())?;
    Ok(parse_id(id)
        .and_then(|id| jobs.jobs.get(&id))
        .filter(|j| j.project_id == project_id)
        .cloned())
}

pub(super) async fn get_rql_job(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    match try_answer!(g, find_job(&s.rollbar, g.access.project.id, &id)) {
        Some(job) => g.answer(Answer::ok(job.json)),
        None => g.answer(api::not_found()),
    }
}

pub(super) async fn get_rql_result(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Pairs,
) -> Response {
    let q = try_answer!(pairs(q));
    let g = try_answer!(grant(&s.rollbar, &headers, &q, None, Need::Read));
    match try_answer!(g, find_job(&s.rollbar, g.access.project.id, &id)) {
        Some(job) => {
            let mut out = job.json;
            out["result"] = job.result;
            g.answer(Answer::ok(out))
        }
        None => g.answer(api::not_found()),
    }
}
