//! Honeycomb's query and management APIs over the store: saved queries (`/1/queries`), query
//! results (`/1/query_results`), columns, datasets, markers, derived columns, and Waggle's
//! BubbleUp endpoint. Every query goes spec → plan → SQL through the `query` crate.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use query::plan::{Plan, PlanContext, ALL_DATASETS};
use query::spec::QuerySpec;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{MetaDoc, Store};

use crate::edge::{Protocol, Routes};
use crate::AppState;

/// Query results kept for `GET /1/query_results/{id}`, at most (our choice: clients fetch a
/// result within seconds of creating it).
pub const RESULTS_KEPT_MAX: usize = 256;
/// Bytes of kept results (serialized JSON), at most (our choice: 64 MiB; a breakdown result at
/// the 10,000-row `disable_series` limit is ~2 MiB, a typical one a few KiB). A result larger
/// than [`RESULT_BYTES_MAX`] is answered but not kept.
pub const RESULTS_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Largest single kept result (our choice: an eighth of the cache, so one query cannot evict
/// everything else).
pub const RESULT_BYTES_MAX: usize = RESULTS_BYTES_MAX / 8;
const _: () = assert!(RESULT_BYTES_MAX <= RESULTS_BYTES_MAX);
/// Largest query spec body (our choice: a spec with 100 breakdowns and 100 filters is < 64 KiB).
pub const SPEC_BYTES_MAX: usize = 256 * 1024;

const DOC_QUERY: &str = "honeycomb.query";
const DOC_MARKER: &str = "honeycomb.marker";
const DOC_DERIVED: &str = "honeycomb.derived_column";

/// Finished query results by id, as serialized JSON, oldest evicted first; bounded by count
/// and by bytes.
pub struct ResultCache {
    inner: Mutex<Kept>,
    bytes_max: usize,
    one_max: usize,
}

#[derive(Default)]
struct Kept {
    items: VecDeque<(String, bytes::Bytes)>,
    bytes: usize,
}

impl Default for ResultCache {
    fn default() -> Self {
        Self::with_bytes_max(RESULTS_BYTES_MAX, RESULT_BYTES_MAX)
    }
}

impl ResultCache {
    pub fn with_bytes_max(bytes_max: usize, one_max: usize) -> Self {
        Self {
            inner: Mutex::new(Kept::default()),
            bytes_max,
            one_max: one_max.min(bytes_max),
        }
    }

    /// Keeps a result; false if it is too large to keep.
    fn put(&self, id: String, body: bytes::Bytes) -> bool {
        if body.len() > self.one_max {
            return false;
        }
        let Ok(mut kept) = self.inner.lock() else {
            return false;
        };
        while kept.items.len() >= RESULTS_KEPT_MAX || kept.bytes + body.len() > self.bytes_max {
            match kept.items.pop_front() {
                Some((_, old)) => kept.bytes -= old.len(),
                None => break,
            }
        }
        kept.bytes += body.len();
        kept.items.push_back((id, body));
        true
    }

    fn get(&self, id: &str) -> Option<bytes::Bytes> {
        self.inner
            .lock()
            .ok()?
            .items
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.clone())
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner.lock().map(|k| k.bytes).unwrap_or(0)
    }
}

pub(crate) const PROTOCOL: Protocol = Protocol {
    name: "honeycomb_query",
    body_max: SPEC_BYTES_MAX,
    render: crate::honeycomb::refuse,
};

pub(crate) fn routes() -> Routes {
    Routes::new(PROTOCOL)
        .post("/1/queries/{dataset}", create_query)
        .get("/1/queries/{dataset}/{id}", get_query)
        .post("/1/query_results/{dataset}", create_result)
        .get("/1/query_results/{dataset}/{id}", get_result)
        .get("/1/columns/{dataset}", columns)
        .get("/1/datasets", datasets)
        .get("/1/datasets/{dataset}", dataset_one)
        .get("/1/markers/{dataset}", list_markers)
        .post("/1/markers/{dataset}", create_marker)
        .put("/1/markers/{dataset}/{id}", update_marker)
        .delete("/1/markers/{dataset}/{id}", delete_marker)
        .get("/1/derived_columns/{dataset}", list_derived)
        .post("/1/derived_columns/{dataset}", create_derived)
        .get("/1/derived_columns/{dataset}/{id}", get_derived)
        .put("/1/derived_columns/{dataset}/{id}", update_derived)
        .delete("/1/derived_columns/{dataset}/{id}", delete_derived)
        .post("/api/waggle/bubbleup/{dataset}", bubbleup)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Honeycomb's RFC 7807 validation error, naming the field.
fn invalid(field: &str, message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({
            "error": format!("{field} {message}"),
            "status": 422,
            "type": "https://api.honeycomb.io/problems/validation-failed",
            "title": "The provided input is invalid.",
            "type_detail": [{ "field": field, "code": "invalid", "description": message }],
        })),
    )
        .into_response()
}

fn internal() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn new_id(len: usize) -> String {
    // Ids only need to be unique, not secret: time plus a process-wide counter, hashed.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let seed = (crate::now_ns() as u64) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{:016x}", x));
    }
    out.truncate(len);
    out
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    crate::blocking(f).await.map_err(|_| internal())?
}

fn parse_spec(body: &[u8]) -> Result<QuerySpec, Response> {
    if body.len() > SPEC_BYTES_MAX {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("query spec is larger than {SPEC_BYTES_MAX} bytes"),
        ));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    QuerySpec::from_json(&v).map_err(|e| invalid(&e.field, &e.message))
}

fn plan(
    store: &dyn Store,
    spec: &QuerySpec,
    dataset: &str,
    limit_override: Option<u32>,
) -> Result<Plan, Response> {
    let catalog = store.catalog();
    let derived = saved_derived(store, dataset)?;
    Plan::from_spec(
        spec,
        &PlanContext {
            dataset,
            catalog: &catalog,
            now_s: crate::now_ns() / 1_000_000_000,
            limit_override,
            derived: &derived,
        },
    )
    .map(|mut p| {
        p.uniform_weights = store.max_sample_rate() <= 1;
        p
    })
    .map_err(|e| match e {
        query::PlanError::Spec(s) => invalid(&s.field, &s.message),
        query::PlanError::Unsupported { field, message } => invalid(&field, &message),
    })
}

/// Saved derived columns visible to a dataset: its own and the environment-wide ones.
fn saved_derived(store: &dyn Store, dataset: &str) -> Result<Vec<(String, String)>, Response> {
    let mut out = Vec::new();
    let mut scopes = vec![ALL_DATASETS.to_string()];
    if dataset != ALL_DATASETS {
        scopes.push(dataset.to_lowercase());
    }
    for scope in scopes {
        for doc in store
            .list_docs(DOC_DERIVED, Some(&scope))
            .map_err(|_| internal())?
        {
            let alias = doc.body["alias"].as_str().unwrap_or_default().to_string();
            let expr = doc.body["expression"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !alias.is_empty() {
                out.retain(|(a, _)| *a != alias);
                out.push((alias, expr));
            }
        }
    }
    Ok(out)
}

/// Runs a plan: totals, and series unless disabled. Returns Honeycomb's `data` object.
fn execute(store: &dyn Store, plan: &Plan, series: bool) -> Result<Value, Response> {
    let totals_sql = query::sql::render_totals(plan, &query::DuckDb);
    let totals = store.run_sql(&totals_sql.sql).map_err(|e| {
        tracing::error!(error = %e, sql = %totals_sql.sql, "query failed");
        internal()
    })?;
    let series_rows = if series {
        let s = query::sql::render_series(plan, &query::DuckDb);
        Some(store.run_sql(&s.sql).map_err(|e| {
            tracing::error!(error = %e, sql = %s.sql, "series query failed");
            internal()
        })?)
    } else {
        None
    };
    query::results::honeycomb_data(plan, &totals, series_rows.as_deref()).map_err(|e| {
        tracing::error!(error = %e, "result shaping failed");
        internal()
    })
}

async fn create_query(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let spec = match parse_spec(&body) {
        Ok(sp) => sp,
        Err(r) => return r,
    };
    let store = s.store.clone();
    let result = run_blocking(move || {
        plan(store.as_ref(), &spec, &dataset, None)?;
        let id = new_id(11);
        let mut body = serde_json::to_value(&spec).map_err(|_| internal())?;
        body["id"] = json!(id);
        store
            .put_doc(&MetaDoc {
                kind: DOC_QUERY.into(),
                id: id.clone(),
                dataset: dataset.to_lowercase(),
                body: body.clone(),
                created_ns: crate::now_ns(),
            })
            .map_err(|_| internal())?;
        Ok(body)
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn get_query(
    State(s): State<AppState>,
    Path((_dataset, id)): Path<(String, String)>,
) -> Response {
    let store = s.store.clone();
    match run_blocking(move || store.get_doc(DOC_QUERY, &id).map_err(|_| internal())).await {
        Ok(Some(doc)) => Json(doc.body).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "query not found"),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct ResultRequest {
    query_id: Option<String>,
    #[serde(default)]
    disable_series: bool,
    limit: Option<u32>,
}

/// A dataset name as one URL path segment.
fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// The result's links, relative to the server: built from the request's `Host` they would
/// let any caller put a host of its choosing into answers (and `Location`) others read.
fn links(dataset: &str, id: &str) -> Value {
    let ds = path_segment(dataset);
    json!({
        "query_url": format!("/ui/datasets/{ds}/result/{id}"),
        "graph_image_url": format!("/ui/datasets/{ds}/result/{id}/snapshot"),
    })
}

async fn create_result(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let req: ResultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
            )
        }
    };
    let Some(query_id) = req.query_id.filter(|q| !q.is_empty()) else {
        return invalid("query_id", "is required");
    };
    if req.limit.is_some() && !req.disable_series {
        return invalid("limit", "is only allowed together with disable_series");
    }
    if req
        .limit
        .is_some_and(|l| l > query::spec::LIMIT_MAX_DISABLE_SERIES)
    {
        return invalid(
            "limit",
            &format!("must be at most {}", query::spec::LIMIT_MAX_DISABLE_SERIES),
        );
    }
    let store = s.store.clone();
    let ds = dataset.clone();
    let outcome = run_blocking(move || {
        let doc = store
            .get_doc(DOC_QUERY, &query_id)
            .map_err(|_| internal())?
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "query not found"))?;
        let spec = QuerySpec::from_json(&doc.body).map_err(|e| invalid(&e.field, &e.message))?;
        let p = plan(store.as_ref(), &spec, &ds, req.limit)?;
        let data = execute(store.as_ref(), &p, !req.disable_series)?;
        Ok((doc.body, data, p.warnings))
    })
    .await;
    let (query_body, data, warnings) = match outcome {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = new_id(11);
    let mut result = json!({
        "id": id,
        "complete": true,
        "query": query_body,
        "data": data,
        "links": links(&dataset, &id),
    });
    if !warnings.is_empty() {
        result["warnings"] = json!(warnings);
    }
    let body = match serde_json::to_vec(&result) {
        Ok(b) => bytes::Bytes::from(b),
        Err(_) => return internal(),
    };
    if !s.results.put(id.clone(), body.clone()) {
        tracing::info!(bytes = body.len(), "query result too large to keep for GET");
    }
    let mut resp = (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    let location = format!("/1/query_results/{}/{id}", path_segment(&dataset));
    if let Ok(loc) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

async fn get_result(
    State(s): State<AppState>,
    Path((_dataset, id)): Path<(String, String)>,
) -> Response {
    match s.results.get(&id) {
        Some(v) => (
            [
                (header::CACHE_CONTROL, "private, max-age=86400"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            v,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "query result not found"),
    }
}

#[derive(Debug, Deserialize)]
struct ColumnsQuery {
    key_name: Option<String>,
}

fn column_json(c: &store::DatasetColumn) -> Value {
    let created = query::results::rfc3339(c.created_ns);
    json!({
        "id": format!("{:x}", fnv(&c.name)),
        "key_name": c.name,
        "type": c.ty.honeycomb_name(),
        "description": "",
        "hidden": false,
        "last_written": created,
        "created_at": created,
        "updated_at": created,
    })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Fixed columns every event can have, listed with the attribute columns.
fn fixed_columns() -> Vec<store::DatasetColumn> {
    use model::value::ColumnType;
    [
        (model::schema::COL_NAME, ColumnType::String),
        (model::schema::COL_SERVICE, ColumnType::String),
        (model::schema::COL_DURATION_MS, ColumnType::Float),
        (model::schema::FIELD_TRACE_ID, ColumnType::String),
        (model::schema::FIELD_SPAN_ID, ColumnType::String),
        (model::schema::FIELD_PARENT_ID, ColumnType::String),
    ]
    .into_iter()
    .map(|(n, ty)| store::DatasetColumn {
        name: n.to_string(),
        ty,
        created_ns: 0,
    })
    .collect()
}

async fn columns(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    Query(q): Query<ColumnsQuery>,
) -> Response {
    let store = s.store.clone();
    let ds = (dataset != ALL_DATASETS).then(|| dataset.clone());
    let cols =
        match run_blocking(move || store.dataset_columns(ds.as_deref()).map_err(|_| internal()))
            .await
        {
            Ok(c) => c,
            Err(r) => return r,
        };
    let mut all = fixed_columns();
    all.extend(cols);
    if let Some(k) = q.key_name {
        return match all.iter().find(|c| c.name == k) {
            Some(c) => Json(column_json(c)).into_response(),
            None => error(StatusCode::NOT_FOUND, "column not found"),
        };
    }
    Json(all.iter().map(column_json).collect::<Vec<_>>()).into_response()
}

fn dataset_json(d: &store::DatasetInfo, columns: usize) -> Value {
    json!({
        "name": d.name,
        "slug": d.name.to_lowercase(),
        "description": "",
        "expand_json_depth": 0,
        "settings": { "delete_protected": false },
        "regular_columns_count": columns,
        "last_written_at": d.last_ns.map(query::results::rfc3339),
        "created_at": d.first_ns.map(query::results::rfc3339),
    })
}

async fn datasets(State(s): State<AppState>) -> Response {
    let store = s.store.clone();
    let out = run_blocking(move || {
        let ds = store.datasets().map_err(|_| internal())?;
        let mut out = Vec::new();
        for d in &ds {
            let n = store
                .dataset_columns(Some(&d.name))
                .map(|c| c.len())
                .unwrap_or(0);
            out.push(dataset_json(d, n));
        }
        Ok(out)
    })
    .await;
    match out {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn dataset_one(State(s): State<AppState>, Path(dataset): Path<String>) -> Response {
    let store = s.store.clone();
    let out = run_blocking(move || {
        let ds = store.datasets().map_err(|_| internal())?;
        let d = ds
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(&dataset))
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "dataset not found"))?;
        let n = store
            .dataset_columns(Some(&d.name))
            .map(|c| c.len())
            .unwrap_or(0);
        Ok(dataset_json(d, n))
    })
    .await;
    match out {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

// ---- markers -------------------------------------------------------------------------

fn marker_from_body(body: &[u8], id: &str, existing: Option<&Value>) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "marker must be a JSON object",
        ));
    };
    let now_s = crate::now_ns() / 1_000_000_000;
    let now = query::results::rfc3339(crate::now_ns());
    let get_i = |k: &str| obj.get(k).and_then(Value::as_i64);
    let get_s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    for k in ["start_time", "end_time"] {
        if obj
            .get(k)
            .is_some_and(|v| !v.is_null() && v.as_i64().is_none())
        {
            return Err(invalid(k, "must be a Unix time in seconds"));
        }
    }
    let prev = |k: &str| existing.and_then(|e| e.get(k)).cloned();
    let start = get_i("start_time")
        .map(Value::from)
        .or_else(|| prev("start_time"))
        .unwrap_or(json!(now_s));
    Ok(json!({
        "id": id,
        "start_time": start,
        "end_time": get_i("end_time").map(Value::from).or_else(|| prev("end_time")).unwrap_or(Value::Null),
        "message": get_s("message").map(Value::from).or_else(|| prev("message")).unwrap_or(json!("")),
        "type": get_s("type").map(Value::from).or_else(|| prev("type")).unwrap_or(json!("")),
        "url": get_s("url").map(Value::from).or_else(|| prev("url")).unwrap_or(json!("")),
        "color": Value::Null,
        "created_at": prev("created_at").unwrap_or(json!(now.clone())),
        "updated_at": now,
    }))
}

async fn list_markers(State(s): State<AppState>, Path(dataset): Path<String>) -> Response {
    list_docs(s, DOC_MARKER, dataset).await
}

async fn list_docs(s: AppState, kind: &'static str, dataset: String) -> Response {
    let store = s.store.clone();
    let ds = dataset.to_lowercase();
    match run_blocking(move || {
        let filter = (ds != ALL_DATASETS).then_some(ds);
        store
            .list_docs(kind, filter.as_deref())
            .map_err(|_| internal())
    })
    .await
    {
        Ok(docs) => Json(docs.into_iter().map(|d| d.body).collect::<Vec<_>>()).into_response(),
        Err(r) => r,
    }
}

async fn create_marker(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    create_doc(s, DOC_MARKER, dataset, new_id(6), &body, marker_from_body).await
}

async fn save(
    s: AppState,
    kind: &'static str,
    dataset: String,
    id: String,
    body: Value,
    status: StatusCode,
) -> Response {
    let store = s.store.clone();
    let doc = MetaDoc {
        kind: kind.into(),
        id,
        dataset: dataset.to_lowercase(),
        body: body.clone(),
        created_ns: crate::now_ns(),
    };
    match run_blocking(move || store.put_doc(&doc).map_err(|_| internal())).await {
        Ok(()) => (status, Json(body)).into_response(),
        Err(r) => r,
    }
}

async fn existing_doc(s: &AppState, kind: &'static str, id: &str) -> Result<MetaDoc, Response> {
    let store = s.store.clone();
    let id = id.to_string();
    run_blocking(move || store.get_doc(kind, &id).map_err(|_| internal()))
        .await?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not found"))
}

/// Parses a document body into its stored JSON (given its id and the previous version).
type DocParser = fn(&[u8], &str, Option<&Value>) -> Result<Value, Response>;

async fn create_doc(
    s: AppState,
    kind: &'static str,
    dataset: String,
    id: String,
    body: &[u8],
    parse: DocParser,
) -> Response {
    match parse(body, &id, None) {
        Ok(doc) => save(s, kind, dataset, id, doc, StatusCode::CREATED).await,
        Err(r) => r,
    }
}

async fn update_doc(
    s: AppState,
    kind: &'static str,
    (dataset, id): (String, String),
    body: &[u8],
    parse: DocParser,
) -> Response {
    let prev = match existing_doc(&s, kind, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match parse(body, &id, Some(&prev.body)) {
        Ok(doc) => save(s, kind, dataset, id, doc, StatusCode::OK).await,
        Err(r) => r,
    }
}

async fn update_marker(
    State(s): State<AppState>,
    Path(key): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    update_doc(s, DOC_MARKER, key, &body, marker_from_body).await
}

async fn delete_doc_handler(s: AppState, kind: &'static str, id: String) -> Response {
    let prev = match existing_doc(&s, kind, &id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let store = s.store.clone();
    match run_blocking(move || store.delete_doc(kind, &id).map_err(|_| internal())).await {
        Ok(_) => Json(prev.body).into_response(),
        Err(r) => r,
    }
}

async fn delete_marker(
    State(s): State<AppState>,
    Path((_dataset, id)): Path<(String, String)>,
) -> Response {
    delete_doc_handler(s, DOC_MARKER, id).await
}

// ---- derived columns -------------------------------------------------------------------

fn derived_from_body(body: &[u8], id: &str, existing: Option<&Value>) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    let prev = |k: &str| existing.and_then(|e| e.get(k)).cloned();
    let alias = v
        .get("alias")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| prev("alias").and_then(|a| a.as_str().map(str::to_string)))
        .ok_or_else(|| invalid("alias", "is required"))?;
    let expression = v
        .get("expression")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| prev("expression").and_then(|a| a.as_str().map(str::to_string)))
        .ok_or_else(|| invalid("expression", "is required"))?;
    if alias.is_empty() || alias.len() > 255 {
        return Err(invalid("alias", "must be 1-255 characters"));
    }
    if expression.is_empty() || expression.len() > 4095 {
        return Err(invalid("expression", "must be 1-4095 characters"));
    }
    if let Err(e) = query::derived::parse(&expression) {
        return Err(invalid("expression", &e.to_string()));
    }
    let now = query::results::rfc3339(crate::now_ns());
    Ok(json!({
        "id": id,
        "alias": alias,
        "expression": expression,
        "description": v.get("description").cloned().or_else(|| prev("description")).unwrap_or(json!("")),
        "created_at": prev("created_at").unwrap_or(json!(now.clone())),
        "updated_at": now,
    }))
}

async fn list_derived(State(s): State<AppState>, Path(dataset): Path<String>) -> Response {
    list_docs(s, DOC_DERIVED, dataset).await
}

async fn create_derived(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    create_doc(
        s,
        DOC_DERIVED,
        dataset,
        new_id(11),
        &body,
        derived_from_body,
    )
    .await
}

async fn get_derived(
    State(s): State<AppState>,
    Path((_dataset, id)): Path<(String, String)>,
) -> Response {
    match existing_doc(&s, DOC_DERIVED, &id).await {
        Ok(d) => Json(d.body).into_response(),
        Err(r) => r,
    }
}

async fn update_derived(
    State(s): State<AppState>,
    Path(key): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    update_doc(s, DOC_DERIVED, key, &body, derived_from_body).await
}

async fn delete_derived(
    State(s): State<AppState>,
    Path((_dataset, id)): Path<(String, String)>,
) -> Response {
    delete_doc_handler(s, DOC_DERIVED, id).await
}

// ---- BubbleUp ----------------------------------------------------------------------------

/// `POST /api/waggle/bubbleup/{dataset}`:
/// `{"query": <query spec: the baseline's time range and filters>,
///   "selection": {"filters": [...], "filter_combination": "AND"}
///              | {"start_time": s, "end_time": s, "column": "duration_ms", "low": x, "high": y},
///   "top_values": 10}`
async fn bubbleup(
    State(s): State<AppState>,
    Path(dataset): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let spec = match QuerySpec::from_json(v.get("query").unwrap_or(&json!({}))) {
        Ok(sp) => sp,
        Err(e) => return invalid(&format!("query.{}", e.field), &e.message),
    };
    let Some(sel) = v.get("selection").cloned() else {
        return invalid(
            "selection",
            "is required: filters, or a time × value region",
        );
    };
    let top = v
        .get("top_values")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .clamp(1, 50) as usize;
    let store = s.store.clone();
    let out = run_blocking(move || {
        let base = plan(store.as_ref(), &spec, &dataset, None)?;
        let catalog = store.catalog();
        let selection = selection_from_json(&sel, &catalog, &dataset)?;
        let columns = query::bubbleup::candidate_columns(&catalog);
        // Pass 1: exact selection and baseline sizes (reads two narrow columns).
        let totals_sql = query::bubbleup::render(
            &query::bubbleup::BubbleUpQuery {
                base: &base,
                selection: selection.clone(),
                columns: Vec::new(),
                top_values: top,
                sample: None,
            },
            &query::DuckDb,
        );
        let totals = store.run_sql(&totals_sql).map_err(|e| {
            tracing::error!(error = %e, "bubbleup totals failed");
            internal()
        })?;
        let exact = query::bubbleup::rank(&[], &totals);
        // Pass 2: value distributions, from a block sample when a side is large.
        let scanned = exact.selection_count + exact.baseline_count;
        let percents = (
            query::bubbleup::sample_percent(exact.selection_count, scanned),
            query::bubbleup::sample_percent(exact.baseline_count, scanned),
        );
        let sample = (percents.0 < 100.0 || percents.1 < 100.0).then_some(percents);
        let q = query::bubbleup::BubbleUpQuery {
            base: &base,
            selection,
            columns: columns.clone(),
            top_values: top,
            sample,
        };
        let sql = query::bubbleup::render(&q, &query::DuckDb);
        let rows = store.run_sql(&sql).map_err(|e| {
            tracing::error!(error = %e, "bubbleup failed");
            internal()
        })?;
        let mut ranked = query::bubbleup::rank(&columns, &rows);
        let sampled_selection = ranked.selection_count;
        let sampled_baseline = ranked.baseline_count;
        ranked.selection_count = exact.selection_count;
        ranked.baseline_count = exact.baseline_count;
        let mut out = serde_json::to_value(ranked).map_err(|_| internal())?;
        if let Some((ps, pb)) = sample {
            out["sampled"] = json!({
                "selection_percent": ps, "baseline_percent": pb,
                "selection_events_read": sampled_selection, "baseline_events_read": sampled_baseline,
            });
        }
        Ok(out)
    })
    .await;
    match out {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

fn selection_from_json(
    sel: &Value,
    catalog: &model::schema::Catalog,
    dataset: &str,
) -> Result<query::bubbleup::Selection, Response> {
    if let Some(column) = sel.get("column").and_then(Value::as_str) {
        let num = |k: &str| {
            sel.get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| invalid(&format!("selection.{k}"), "must be a number"))
        };
        let secs = |k: &str| {
            sel.get(k)
                .and_then(Value::as_i64)
                .ok_or_else(|| invalid(&format!("selection.{k}"), "must be Unix seconds"))
        };
        let mut warnings = Vec::new();
        return Ok(query::bubbleup::Selection::Region {
            start_ns: secs("start_time")?.saturating_mul(1_000_000_000),
            end_ns: secs("end_time")?.saturating_mul(1_000_000_000),
            column: query::plan::resolve_column(column, catalog, &mut warnings),
            low: num("low")?,
            high: num("high")?,
        });
    }
    // A filter selection: reuse the spec parser for its filters.
    let spec_json = json!({
        "filters": sel.get("filters").cloned().unwrap_or(json!([])),
        "filter_combination": sel.get("filter_combination").cloned().unwrap_or(json!("AND")),
    });
    let spec = QuerySpec::from_json(&spec_json)
        .map_err(|e| invalid(&format!("selection.{}", e.field), &e.message))?;
    let p = Plan::from_spec(
        &spec,
        &PlanContext {
            dataset,
            catalog,
            now_s: crate::now_ns() / 1_000_000_000,
            limit_override: None,
            derived: &[],
        },
    )
    .map_err(|e| invalid("selection", &e.to_string()))?;
    Ok(query::bubbleup::Selection::Predicate(p.predicate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_cache_is_bounded_by_bytes() {
        let cache = ResultCache::with_bytes_max(1000, 400);
        let body = |n: usize| bytes::Bytes::from(vec![b'x'; n]);
        for i in 0..10 {
            assert!(cache.put(format!("r{i}"), body(300)));
            assert!(cache.bytes() <= 1000, "{} bytes kept", cache.bytes());
        }
        // Oldest evicted first: the last three fit, the earlier ones are gone.
        assert!(cache.get("r9").is_some() && cache.get("r7").is_some());
        assert!(cache.get("r6").is_none() && cache.get("r0").is_none());
        // One result over the per-result cap is answered but never kept.
        assert!(!cache.put("huge".into(), body(401)));
        assert!(cache.get("huge").is_none() && cache.get("r9").is_some());
    }
}
