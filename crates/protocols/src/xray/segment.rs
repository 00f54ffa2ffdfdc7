//! Segment and subsegment documents: wire structs named as the X-Ray developer guide spells
//! them (`xray-api-segmentdocuments.md`), bounded parsing, and the per-document validation the
//! service answers in `PutTraceSegments.UnprocessedTraceSegments` (source notes §A.5, §A.6).
//!
//! Error codes: `MissingParam` and `JSONFormatError` as moto answers them (moto
//! `moto/xray/models.py`, verified against moto 5.2.4); `InvalidTraceId` with the service's own
//! message text (developer guide, `xray-api-sendingdata.md`); everything else structural is
//! `InvalidSegment` **[inference: the service's codes for these cases are not documented]**.

use super::{
    DOCUMENT_BYTES_MAX, ENTITIES_PER_DOCUMENT_MAX, JSON_DEPTH_MAX, NAME_CHARS_MAX,
    SUBSEGMENT_DEPTH_MAX, TRACE_ID_AGE_MAX_S, TRACE_ID_FUTURE_MAX_S,
};
use model::{SpanId, TraceId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value as J};
use std::collections::BTreeMap;

// ---- Wire structs -------------------------------------------------------------------------

/// A segment document, an independent subsegment (`type: "subsegment"`), or an embedded
/// subsegment: the guide's segment and subsegment fields differ only in which are required, so
/// one struct carries both. Required fields are `Option` so validation can name what is missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<bool>,
    /// `"subsegment"` on independent subsegments (the Python SDK also sets it on embedded ones).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Subsegments: `aws`, `remote` (the Python SDK also uses `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Segments: the AWS resource type, e.g. `AWS::EC2::Instance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred: Option<bool>,
    /// `{version}` per the guide; the Python SDK sends `{runtime, runtime_version}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Map<String, J>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Aws>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, AnnotationValue>>,
    /// Any JSON, namespaced (`{"default": {...}}`); not indexed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, J>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Sql>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precursor_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsegments: Option<Vec<SegmentDocument>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<i64>,
}

/// `aws`: the subsegment keys the contract flattens, `xray`, and everything else kept as JSON
/// (`ec2`, `ecs`, `eks`, `elastic_beanstalk`, `cloudwatch_logs`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aws {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray: Option<AwsXray>,
    #[serde(flatten)]
    pub other: Map<String, J>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsXray {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rule_name: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, J>,
}

/// `cause`: the id of an exception recorded on a child, or the exception details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cause {
    ExceptionId(String),
    Detail(CauseDetail),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Vec<Exception>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<i64>,
    /// Id of the exception that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<StackFrame>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sql {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `call` or `statement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

/// An annotation value: string, number or boolean only (guide: "Annotations: key-value pairs
/// with string, number, or Boolean values"). Objects and arrays fail to parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnnotationValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

// ---- Results ------------------------------------------------------------------------------

/// One refused document, as `UnprocessedTraceSegments` lists it (`Id` only when known).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "ErrorCode")]
    pub error_code: &'static str,
    #[serde(rename = "Message")]
    pub message: String,
    /// Why, in our words (for logs and counters; not part of the AWS shape).
    #[serde(skip)]
    pub detail: String,
}

pub const CODE_MISSING_PARAM: &str = "MissingParam";
pub const CODE_JSON_FORMAT: &str = "JSONFormatError";
pub const CODE_INVALID_TRACE_ID: &str = "InvalidTraceId";
pub const CODE_INVALID_SEGMENT: &str = "InvalidSegment";

impl Rejection {
    fn new(id: Option<&str>, code: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let message = if code == CODE_MISSING_PARAM || code == CODE_JSON_FORMAT {
            detail.clone()
        } else {
            // The service's own text (developer guide, xray-api-sendingdata.md).
            format!("Invalid segment. ErrorCode: {code}")
        };
        Rejection {
            id: id.map(|s| s.chars().take(64).collect()),
            error_code: code,
            message,
            detail,
        }
    }
}

/// A validated document: ids parsed, required fields present, bounds checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub trace_id: TraceId,
    pub id: SpanId,
    /// True for an independent subsegment (`type: "subsegment"` at the top level).
    pub independent: bool,
    pub body: SegmentDocument,
}

/// What a body held: the documents that passed and the ones that did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub rejected: Vec<Rejection>,
}

/// Why a body could not be read at all (the datagram path counts these by reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    InvalidUtf8,
    TooDeep,
    BadJson,
    NoDocuments,
}

// ---- Parsing ------------------------------------------------------------------------------

/// JSON nesting depth of `bytes`, scanning at most until `max` is exceeded (returns `max + 1`
/// then). Strings are skipped with their escapes; no allocation.
pub fn json_depth(bytes: &[u8], max: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_str, mut esc) = (false, false);
    for &b in bytes {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > max {
                        return deepest;
                    }
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Splits a body into its documents: one JSON object, or an array of them. Checks size, UTF-8
/// and depth before parsing; the documents stay raw text until [`parse_one`].
pub fn split_body(body: &[u8], size_max: usize) -> Result<Vec<&RawValue>, BodyError> {
    if body.len() > size_max {
        return Err(BodyError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| BodyError::InvalidUtf8)?;
    if json_depth(body, JSON_DEPTH_MAX) > JSON_DEPTH_MAX {
        return Err(BodyError::TooDeep);
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let docs: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| BodyError::BadJson)?;
        if docs.is_empty() {
            return Err(BodyError::NoDocuments);
        }
        Ok(docs)
    } else {
        let doc: &RawValue = serde_json::from_str(text).map_err(|_| BodyError::BadJson)?;
        Ok(vec![doc])
    }
}

/// Parses one document's text as `PutTraceSegments` does for each `TraceSegmentDocuments`
/// string: a body that is an array yields one result per element. `now_s` is the caller's
/// clock (Unix seconds) for the trace-id age check.
pub fn parse_documents(text: &[u8], now_s: i64) -> Parsed {
    let mut out = Parsed::default();
    match split_body(text, DOCUMENT_BYTES_MAX) {
        Ok(raws) => {
            for raw in raws {
                match parse_one(raw.get(), now_s) {
                    Ok(d) => out.documents.push(d),
                    Err(r) => out.rejected.push(r),
                }
            }
        }
        Err(e) => out.rejected.push(body_rejection(e)),
    }
    out
}

/// The answer for a body that could not be split (one rejection, no id).
pub fn body_rejection(e: BodyError) -> Rejection {
    match e {
        BodyError::TooLarge => Rejection::new(
            None,
            CODE_INVALID_SEGMENT,
            format!("segment document is larger than {DOCUMENT_BYTES_MAX} bytes"),
        ),
        BodyError::TooDeep => Rejection::new(
            None,
            CODE_INVALID_SEGMENT,
            format!("segment document nests deeper than {JSON_DEPTH_MAX} levels"),
        ),
        BodyError::NoDocuments => Rejection::new(
            None,
            CODE_INVALID_SEGMENT,
            "empty array of segment documents",
        ),
        // moto: `BadSegmentException(code="JSONFormatError", message="Bad JSON data")`.
        BodyError::InvalidUtf8 | BodyError::BadJson => {
            Rejection::new(None, CODE_JSON_FORMAT, "Bad JSON data")
        }
    }
}

/// Just enough of a document to name it in a rejection when the full parse fails.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<J>,
}

/// Parses and validates one document (an object's raw text).
pub fn parse_one(text: &str, now_s: i64) -> Result<Document, Rejection> {
    let body: SegmentDocument = match serde_json::from_str(text) {
        Ok(b) => b,
        Err(e) => {
            let id = serde_json::from_str::<IdOnly>(text)
                .ok()
                .and_then(|d| d.id)
                .and_then(|v| v.as_str().map(str::to_owned));
            let code = if e.is_syntax() || e.is_eof() {
                CODE_JSON_FORMAT
            } else {
                CODE_INVALID_SEGMENT
            };
            let detail = if code == CODE_JSON_FORMAT {
                "Bad JSON data".to_string()
            } else {
                format!("segment document has a field of the wrong type: {e}")
            };
            return Err(Rejection::new(id.as_deref(), code, detail));
        }
    };
    validate(body, now_s)
}

/// The service's checks on a parsed document (§A.5, §A.6).
pub fn validate(body: SegmentDocument, now_s: i64) -> Result<Document, Rejection> {
    // moto: `if "id" not in data: raise BadSegmentException(code="MissingParam",
    // message="Missing segment ID")` — with no Id.
    let Some(id_text) = body.id.as_deref() else {
        return Err(Rejection::new(
            None,
            CODE_MISSING_PARAM,
            "Missing segment ID",
        ));
    };
    let rid = Some(id_text);
    // moto answers "Missing segment ID" for these too (a copy-paste); we name the field.
    if body.name.is_none() {
        return Err(Rejection::new(
            rid,
            CODE_MISSING_PARAM,
            "Missing segment name",
        ));
    }
    let Some(trace_text) = body.trace_id.as_deref() else {
        return Err(Rejection::new(rid, CODE_MISSING_PARAM, "Missing trace_id"));
    };
    if body.start_time.is_none() {
        return Err(Rejection::new(
            rid,
            CODE_MISSING_PARAM,
            "Missing start_time",
        ));
    }
    let id = parse_entity_id(id_text).ok_or_else(|| {
        Rejection::new(
            rid,
            CODE_INVALID_SEGMENT,
            format!("id {id_text:?} is not 16 hex digits"),
        )
    })?;
    let trace_id = parse_xray_trace_id(trace_text, now_s).map_err(|why| {
        Rejection::new(
            rid,
            CODE_INVALID_TRACE_ID,
            format!("trace_id {trace_text:?}: {why}"),
        )
    })?;
    let independent = body.type_.as_deref() == Some("subsegment");
    if independent && body.parent_id.is_none() {
        return Err(Rejection::new(
            rid,
            CODE_MISSING_PARAM,
            "Missing parent_id (required on an independent subsegment)",
        ));
    }
    let mut entities = 0usize;
    check_entity(&body, 0, &mut entities)
        .map_err(|why| Rejection::new(rid, CODE_INVALID_SEGMENT, why))?;
    Ok(Document {
        trace_id,
        id,
        independent,
        body,
    })
}

/// Checks one entity and its subsegments (iteratively bounded by depth).
fn check_entity(e: &SegmentDocument, depth: usize, entities: &mut usize) -> Result<(), String> {
    *entities += 1;
    if *entities > ENTITIES_PER_DOCUMENT_MAX {
        return Err(format!(
            "document has more than {ENTITIES_PER_DOCUMENT_MAX} segments and subsegments"
        ));
    }
    if depth > SUBSEGMENT_DEPTH_MAX {
        return Err(format!(
            "subsegments nest deeper than {SUBSEGMENT_DEPTH_MAX} levels"
        ));
    }
    let what = if depth == 0 { "segment" } else { "subsegment" };
    let id = e.id.as_deref().ok_or_else(|| format!("{what} has no id"))?;
    if parse_entity_id(id).is_none() {
        return Err(format!("{what} id {id:?} is not 16 hex digits"));
    }
    let name = e
        .name
        .as_deref()
        .ok_or_else(|| format!("{what} {id} has no name"))?;
    if name.trim().is_empty() {
        return Err(format!("{what} {id} has an empty name"));
    }
    if name.chars().count() > NAME_CHARS_MAX {
        return Err(format!(
            "{what} {id} name is longer than {NAME_CHARS_MAX} characters"
        ));
    }
    let start = e
        .start_time
        .ok_or_else(|| format!("{what} {id} has no start_time"))?;
    if !(start.is_finite() && start > 0.0 && start < EPOCH_S_MAX) {
        return Err(format!("{what} {id} start_time {start} is not a Unix time"));
    }
    let in_progress = e.in_progress == Some(true);
    match (e.end_time, in_progress) {
        (Some(_), true) => {
            return Err(format!(
                "{what} {id} has both end_time and in_progress: true"
            ))
        }
        (None, false) => {
            return Err(format!(
                "{what} {id} has neither end_time nor in_progress: true"
            ))
        }
        (Some(end), false) if !(end.is_finite() && end > 0.0 && end < EPOCH_S_MAX) => {
            return Err(format!("{what} {id} end_time {end} is not a Unix time"))
        }
        _ => {}
    }
    if let Some(p) = e.parent_id.as_deref() {
        if parse_entity_id(p).is_none() {
            return Err(format!("{what} {id} parent_id {p:?} is not 16 hex digits"));
        }
    }
    if let Some(Cause::ExceptionId(x)) = &e.cause {
        if parse_entity_id(x).is_none() {
            return Err(format!(
                "{what} {id} cause {x:?} is neither an object nor a 16-hex exception id"
            ));
        }
    }
    for sub in e.subsegments.iter().flatten() {
        check_entity(sub, depth + 1, entities)?;
    }
    Ok(())
}

/// Latest start/end time accepted (our choice: the year 2262, where `i64` nanoseconds end).
pub const EPOCH_S_MAX: f64 = 9.2e9;

/// A 16-hex entity id (exactly 16 digits; X-Ray ids are lowercase but case is not checked).
pub fn parse_entity_id(text: &str) -> Option<SpanId> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    SpanId::parse(text).ok()
}

/// An X-Ray trace id `1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx` whose epoch is within
/// [`TRACE_ID_AGE_MAX_S`] before and [`TRACE_ID_FUTURE_MAX_S`] after `now_s`.
pub fn parse_xray_trace_id(text: &str, now_s: i64) -> Result<TraceId, String> {
    let b = text.as_bytes();
    let shaped = b.len() == 35
        && b.starts_with(b"1-")
        && b.get(10) == Some(&b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 0 | 1 | 10) || c.is_ascii_hexdigit());
    if !shaped {
        return Err("not of the form 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx (hex)".into());
    }
    let epoch = text
        .get(2..10)
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .ok_or("epoch is not hex")?;
    if epoch < now_s.saturating_sub(TRACE_ID_AGE_MAX_S) {
        return Err(format!(
            "epoch {epoch} is more than {} days before now",
            TRACE_ID_AGE_MAX_S / 86_400
        ));
    }
    if epoch > now_s.saturating_add(TRACE_ID_FUTURE_MAX_S) {
        return Err(format!("epoch {epoch} is in the future"));
    }
    TraceId::parse(text).map_err(|e| e.to_string())
}
