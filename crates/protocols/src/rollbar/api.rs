//! The read/write API's shapes as Rollbar returns them (RD `api/items.md`, `api/occurrences.md`,
//! `api/deploys.md`; item fields per rollbar-mcp-server `src/types/index.ts`): item and item
//! list (`page`, `total_count`, 100 per page), the `item_by_counter` 301, occurrences
//! (`instances`, 20 per page, newest first), PATCH bodies, and deploys (model, decode, list).

use super::items::{ItemState, ItemStatus, Items, Patch};
use super::translate::fields;
use super::{Answer, Level, DEPLOY_COMMENT_BYTES_MAX, DEPLOY_FIELD_CHARS_MAX, JSON_DEPTH_MAX};
use model::Event;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// "100 items are returned per page" (RD `api/items.md`).
pub const ITEMS_PAGE_SIZE: usize = 100;
/// "20 occurrences are returned per page" (RD `api/occurrences.md`).
pub const INSTANCES_PAGE_SIZE: usize = 20;
/// "20 deploys are returned per page" (RD `api/deploys.md`).
pub const DEPLOYS_PAGE_SIZE: usize = 20;
/// Deploys kept per project (our choice: years of daily deploys; the oldest is dropped).
pub const DEPLOYS_PER_PROJECT_MAX: usize = 10_000;
/// Largest PATCH or deploy body (our choice: a deploy comment is ≤ 64 KB, RD; form encoding can
/// triple it).
pub const WRITE_BODY_BYTES_MAX: usize = 256 * 1024;
/// Most values one repeatable list parameter (`status=…&status=…`, `ids=`) may carry (our choice).
pub const LIST_PARAM_VALUES_MAX: usize = 1000;

/// 404 (RD `api/overview.md`).
pub fn not_found() -> Answer {
    Answer::error(404, "Not found")
}

/// An item as the API shows it.
pub fn item_json(item: &ItemState) -> Json {
    json!({
        "id": item.id,
        "counter": item.counter,
        "project_id": item.project_id,
        "environment": item.environment,
        "framework": item.framework,
        "platform": item.platform,
        "language": item.language,
        "title": item.title,
        "level": item.level.as_str(),
        "status": item.status.as_str(),
        "hash": item.hash.as_str(),
        "total_occurrences": item.total_occurrences,
        "unique_occurrences": Json::Null,
        "first_occurrence_id": item.first_occurrence_id,
        "first_occurrence_timestamp": item.first_occurrence_timestamp,
        "last_occurrence_id": item.last_occurrence_id,
        "last_occurrence_timestamp": item.last_occurrence_timestamp,
        "last_activated_timestamp": item.last_activated_timestamp,
        "last_resolved_timestamp": item.last_resolved_timestamp,
        "activating_occurrence_id": item.activating_occurrence_id,
        "resolved_in_version": item.resolved_in_version,
        "assigned_user_id": item.assigned_user_id,
        "code_versions": item.code_versions,
        "max_level": item.max_level.as_str(),
    })
}

/// `GET /api/1/item/:id`.
pub fn item_answer(item: &ItemState) -> Answer {
    Answer::ok(item_json(item))
}

/// `GET /api/1/item_by_counter/:counter`: "a 301 redirect" with `Location` and a body naming
/// the item (RD `api/items.md`).
pub fn item_by_counter_answer(item_id: u64, access_token: &str) -> Answer {
    let path = format!("/api/1/item/{item_id}");
    let uri = format!("{path}?access_token={}", enc(access_token));
    let mut a = Answer::ok(json!({"itemId": item_id, "path": path, "uri": uri}));
    a.status = 301;
    a.headers.push(("Location", uri));
    a
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /api/1/items/` filters (RD `api/items.md`): repeatable `status`, `level`,
/// `environment`, `framework`; `ids` (comma-separated); `page` from 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemsQuery {
    pub status: Vec<ItemStatus>,
    pub level: Vec<Level>,
    pub environment: Vec<String>,
    pub framework: Vec<String>,
    pub ids: Vec<u64>,
    pub page: usize,
}

impl ItemsQuery {
    /// From decoded query pairs. Unknown values are a 422 (our wording).
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Answer> {
        let mut q = ItemsQuery {
            page: 1,
            ..Default::default()
        };
        let mut n = 0usize;
        let bad = |what: &str, v: &str| Answer::error(422, &format!("invalid {what}: {v:?}"));
        for (k, v) in pairs {
            n += 1;
            if n > LIST_PARAM_VALUES_MAX {
                return Err(Answer::error(422, "too many query parameters"));
            }
            if v.is_empty() {
                continue;
            }
            match k {
                "status" => q
                    .status
                    .push(ItemStatus::parse(v).ok_or_else(|| bad("status", v))?),
                "level" => q
                    .level
                    .push(Level::parse(v).ok_or_else(|| bad("level", v))?),
                "environment" => q.environment.push(v.to_owned()),
                "framework" => q.framework.push(v.to_owned()),
                "ids" => {
                    for id in v.split(',').filter(|s| !s.trim().is_empty()) {
                        q.ids.push(id.trim().parse().map_err(|_| bad("ids", v))?);
                        if q.ids.len() > LIST_PARAM_VALUES_MAX {
                            return Err(Answer::error(422, "too many ids"));
                        }
                    }
                }
                "page" => {
                    q.page = v
                        .parse()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad("page", v))?
                }
                _ => {}
            }
        }
        Ok(q)
    }

    pub fn matches(&self, item: &ItemState) -> bool {
        (self.status.is_empty() || self.status.contains(&item.status))
            && (self.level.is_empty() || self.level.contains(&item.level))
            && (self.environment.is_empty() || self.environment.contains(&item.environment))
            && (self.framework.is_empty()
                || item
                    .framework
                    .as_ref()
                    .is_some_and(|f| self.framework.contains(f)))
            && (self.ids.is_empty() || self.ids.contains(&item.id))
    }
}

/// `GET /api/1/items/`: `{"page":…,"total_count":…,"items":[…]}`, newest counter first.
pub fn items_page(items: &Items, project_id: u64, q: &ItemsQuery) -> Answer {
    let matching: Vec<&ItemState> = items
        .project_items(project_id)
        .filter(|i| q.matches(i))
        .collect();
    let skip = q.page.saturating_sub(1).saturating_mul(ITEMS_PAGE_SIZE);
    let page: Vec<Json> = matching
        .iter()
        .skip(skip)
        .take(ITEMS_PAGE_SIZE)
        .map(|i| item_json(i))
        .collect();
    Answer::ok(json!({"page": q.page, "total_count": matching.len(), "items": page}))
}

/// One occurrence (`instance`): `{id, item_id, project_id, timestamp, version, data}` where
/// `data` is the payload's `data` as sent (RD: "similar to the Raw JSON section").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: u64,
    pub item_id: u64,
    pub project_id: u64,
    pub timestamp: i64,
    pub version: u32,
    pub data: Json,
}

impl Instance {
    /// Rebuilds an instance from the wide event [`super::translate`] made.
    pub fn from_event(ev: &Event, project_id: u64) -> Option<Instance> {
        let int = |k: &str| match ev.get(k)? {
            model::Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        };
        let data = ev
            .get(fields::DATA)
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Json::Null);
        Some(Instance {
            id: int(fields::OCCURRENCE_ID)?,
            item_id: int(fields::ITEM_ID)?,
            project_id,
            timestamp: ev.time_ns.div_euclid(1_000_000_000),
            version: 2,
            data,
        })
    }
}

/// `GET /api/1/instance/:id`.
pub fn instance_answer(i: &Instance) -> Answer {
    Answer::ok(serde_json::to_value(i).unwrap_or(Json::Null))
}

/// `GET /api/1/item/:id/instances/` and `/api/1/instances/`: `{"page":n,"instances":[…]}`;
/// the caller passes one page (≤ [`INSTANCES_PAGE_SIZE`], newest first).
pub fn instances_page(page: usize, instances: &[Instance]) -> Answer {
    let list: Vec<Json> = instances
        .iter()
        .take(INSTANCES_PAGE_SIZE)
        .map(|i| serde_json::to_value(i).unwrap_or(Json::Null))
        .collect();
    Answer::ok(json!({"page": page, "instances": list}))
}

/// `DELETE /api/1/instance/:id` (RD `api/occurrences.md`).
pub fn instance_deleted() -> Answer {
    Answer::json_body(
        200,
        &json!({"err": 0, "message": "The instance has been deleted"}),
    )
}

// ---- PATCH --------------------------------------------------------------------------------

/// The PATCH body (RD `api/items.md`), as JSON.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct PatchBody {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolved_in_version: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// `null` unassigns; absent leaves it.
    #[serde(default, deserialize_with = "some_option")]
    pub assigned_user_id: Option<Option<u64>>,
}

fn some_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// Parses a PATCH body into a [`Patch`], or the 400/422 answer.
pub fn parse_patch(body: &[u8]) -> Result<Patch, Answer> {
    if body.len() > WRITE_BODY_BYTES_MAX {
        return Err(Answer::error(413, "request entity too large"));
    }
    if crate::xray::segment::json_depth(body, JSON_DEPTH_MAX) > JSON_DEPTH_MAX {
        return Err(Answer::error(400, "Could not decode JSON body"));
    }
    let b: PatchBody = serde_json::from_slice(body)
        .map_err(|e| Answer::error(400, &format!("Could not decode JSON body: {e}")))?;
    let status =
        match b.status.as_deref() {
            None => None,
            Some(s) => Some(ItemStatus::parse(s).ok_or_else(|| {
                Answer::error(422, "status must be one of: active, resolved, muted")
            })?),
        };
    let level = match b.level.as_deref() {
        None => None,
        Some(l) => Some(Level::parse(l).ok_or_else(|| {
            Answer::error(
                422,
                "level must be one of: critical, error, warning, info, debug",
            )
        })?),
    };
    Ok(Patch {
        status,
        resolved_in_version: b.resolved_in_version,
        level,
        title: b.title,
        assigned_user_id: b.assigned_user_id,
    })
}

// ---- Deploys ------------------------------------------------------------------------------

/// A deploy (RD `api/deploys.md`; `status` as Rollbar's deploy API names it:
/// `started|succeeded|failed|timed_out`, default `succeeded`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub id: u64,
    pub project_id: u64,
    pub environment: String,
    pub revision: String,
    pub local_username: Option<String>,
    pub rollbar_username: Option<String>,
    pub comment: Option<String>,
    pub status: String,
    /// Unix seconds.
    pub start_time: i64,
    pub finish_time: i64,
}

/// A `POST /api/1/deploy/` body before it gets an id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeployInput {
    pub environment: String,
    pub revision: String,
    pub local_username: Option<String>,
    pub rollbar_username: Option<String>,
    pub comment: Option<String>,
    pub status: Option<String>,
    access_token: Option<String>,
}

impl DeployInput {
    /// The body's `access_token`, if any (the query string and header are the caller's).
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }
}

const DEPLOY_STATUSES: [&str; 4] = ["started", "succeeded", "failed", "timed_out"];

/// Decodes a deploy from JSON (rollbar.js) or a form (`curl -F` / `-d`, RD), then validates it.
pub fn decode_deploy(body: &[u8], content_type: Option<&str>) -> Result<DeployInput, Answer> {
    if body.len() > WRITE_BODY_BYTES_MAX {
        return Err(Answer::error(413, "request entity too large"));
    }
    let is_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut fields: Vec<(String, String)> = Vec::new();
    if is_json {
        if crate::xray::segment::json_depth(body, JSON_DEPTH_MAX) > JSON_DEPTH_MAX {
            return Err(Answer::error(400, "Could not decode JSON body"));
        }
        let v: Json = serde_json::from_slice(body)
            .map_err(|e| Answer::error(400, &format!("Could not decode JSON body: {e}")))?;
        let Json::Object(m) = v else {
            return Err(Answer::error(
                400,
                "Could not decode JSON body: expected an object",
            ));
        };
        for (k, v) in m {
            if let Some(s) = match v {
                Json::String(s) => Some(s),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            } {
                fields.push((k, s));
            }
        }
    } else {
        for pair in body.split(|b| *b == b'&') {
            let pair: Vec<u8> = pair
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            let mut kv = pair.splitn(2, |b| *b == b'=');
            let k = percent_encoding::percent_decode(kv.next().unwrap_or_default())
                .decode_utf8_lossy()
                .into_owned();
            let v = percent_encoding::percent_decode(kv.next().unwrap_or_default())
                .decode_utf8_lossy()
                .into_owned();
            if !k.is_empty() {
                fields.push((k, v));
            }
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut errs = Vec::new();
    let environment = get("environment").unwrap_or_else(|| {
        errs.push("environment is required".to_owned());
        String::new()
    });
    let revision = get("revision")
        .or_else(|| get("head_long"))
        .unwrap_or_else(|| {
            errs.push("revision is required".to_owned());
            String::new()
        });
    for (name, v) in [("environment", &environment), ("revision", &revision)] {
        if v.chars().count() > DEPLOY_FIELD_CHARS_MAX {
            errs.push(format!(
                "{name} is longer than {DEPLOY_FIELD_CHARS_MAX} characters"
            ));
        }
    }
    let local_username = get("local_username");
    if local_username
        .as_deref()
        .is_some_and(|u| u.chars().count() > DEPLOY_FIELD_CHARS_MAX)
    {
        errs.push(format!(
            "local_username is longer than {DEPLOY_FIELD_CHARS_MAX} characters"
        ));
    }
    let comment = get("comment");
    if comment
        .as_deref()
        .is_some_and(|c| c.len() > DEPLOY_COMMENT_BYTES_MAX)
    {
        errs.push("comment is longer than 64kb".to_owned());
    }
    let status = get("status");
    if status
        .as_deref()
        .is_some_and(|s| !DEPLOY_STATUSES.contains(&s))
    {
        errs.push("status must be one of: started, succeeded, failed, timed_out".to_owned());
    }
    if !errs.is_empty() {
        return Err(Answer::error(422, &errs.join("; ")));
    }
    Ok(DeployInput {
        environment,
        revision,
        local_username,
        rollbar_username: get("rollbar_username"),
        comment,
        status,
        access_token: get("access_token"),
    })
}

/// Deploys of all projects, newest last; bounded per project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deploys {
    next_id: u64,
    deploys: Vec<Deploy>,
}

impl Deploys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a deploy at `now_s` and returns it.
    pub fn add(&mut self, project_id: u64, input: DeployInput, now_s: i64) -> &Deploy {
        self.next_id += 1;
        let in_project = self
            .deploys
            .iter()
            .filter(|d| d.project_id == project_id)
            .count();
        if in_project >= DEPLOYS_PER_PROJECT_MAX {
            if let Some(pos) = self.deploys.iter().position(|d| d.project_id == project_id) {
                self.deploys.remove(pos);
            }
        }
        self.deploys.push(Deploy {
            id: self.next_id,
            project_id,
            environment: input.environment,
            revision: input.revision,
            local_username: input.local_username,
            rollbar_username: input.rollbar_username,
            comment: input.comment,
            status: input.status.unwrap_or_else(|| "succeeded".to_owned()),
            start_time: now_s,
            finish_time: now_s,
        });
        let last = self.deploys.len() - 1;
        &self.deploys[last]
    }

    pub fn get(&self, project_id: u64, id: u64) -> Option<&Deploy> {
        self.deploys
            .iter()
            .find(|d| d.id == id && d.project_id == project_id)
    }

    /// One page (from 1) of a project's deploys, newest first.
    pub fn page(&self, project_id: u64, page: usize) -> Vec<&Deploy> {
        self.deploys
            .iter()
            .rev()
            .filter(|d| d.project_id == project_id)
            .skip(page.saturating_sub(1).saturating_mul(DEPLOYS_PAGE_SIZE))
            .take(DEPLOYS_PAGE_SIZE)
            .collect()
    }
}

/// `POST /api/1/deploy/` answer. Rollbar's documented body is not known (protocol facts §D.3
/// **[unverified]**); deploy scripts read `data.deploy_id`, so both that and the usual
/// `result` are given.
pub fn deploy_created(d: &Deploy) -> Answer {
    Answer::json_body(
        200,
        &json!({"err": 0, "data": {"deploy_id": d.id}, "result": serde_json::to_value(d).unwrap_or(Json::Null)}),
    )
}

/// `GET /api/1/deploy/:id`.
pub fn deploy_answer(d: &Deploy) -> Answer {
    Answer::ok(serde_json::to_value(d).unwrap_or(Json::Null))
}

/// `GET /api/1/deploys/`: `{"page":n,"deploys":[…]}`.
pub fn deploys_page(page: usize, deploys: &[&Deploy]) -> Answer {
    let list: Vec<Json> = deploys
        .iter()
        .map(|d| serde_json::to_value(d).unwrap_or(Json::Null))
        .collect();
    Answer::ok(json!({"page": page, "deploys": list}))
}
