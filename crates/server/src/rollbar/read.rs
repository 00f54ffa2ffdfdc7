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
use query::plan::{compare, resolve_column, CmpOp, EventList, Plan, Predicate};
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
/// answer carries.
struct Granted {
    access: Access,
    token: String,
    rate: RateHeaders,
}

impl Granted {
    fn answer(&self, mut a: Answer) -> Response {
        self.rate.apply(&mut a);
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
        rate,
    })
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
    let plan = Plan {
        dataset: Some(dataset.to_owned()),
        start_ns: 0,
        end_ns: i64::MAX,
        predicate: Predicate::and(vec![compare(&key, CmpOp::Eq, &Value::Int(value))]),
        group_by: Vec::new(),
        aggregates: Vec::new(),
        havings: Vec::new(),
        orders: Vec::new(),
        limit,
        granularity_ns: 1,
        warnings: Vec::new(),
        uniform_weights: true,
    };
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
