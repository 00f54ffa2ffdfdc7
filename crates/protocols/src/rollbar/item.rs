//! `POST /api/1/item/`: the payload's wire structs (named as RD `api/items_post.md` spells
//! them), the bounded decode (size, form encoding, UTF-8, depth, JSON) and Rollbar's
//! validation, each failure with the status and `{"err":1,"message":…}` body Rollbar gives.

use super::{
    Answer, Level, Limits, CODE_VERSION_CHARS_MAX, ENVIRONMENT_CHARS_MAX, FRAMES_PER_TRACE_MAX,
    JSON_DEPTH_MAX, PERSON_FIELD_CHARS_MAX, PERSON_ID_CHARS_MAX, TRACES_PER_CHAIN_MAX,
    UUID_CHARS_MAX,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Header carrying the token (RD; pyrollbar, rollbar.js and rollbar-mcp-server send it).
pub const TOKEN_HEADER: &str = "X-Rollbar-Access-Token";

/// Platforms that need a `post_client_item` token (RD: "A post_client_item token must be used
/// if the platform is browser, android, ios, flash, or client").
pub const CLIENT_PLATFORMS: [&str; 5] = ["browser", "android", "ios", "flash", "client"];

// ---- Wire structs -------------------------------------------------------------------------

/// The request body: `{"access_token": …, "data": {…}}` (for clients and tests that build
/// payloads; [`decode`] reads the body itself). `Debug` hides the token.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Data>,
}

/// `data`: one occurrence. Every documented key is typed; the rest is in `extra` ("you can
/// send us whatever data you want and we'll store it", RD).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Data {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Unix seconds (pyrollbar sends an int; floats are accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifier: Option<Notifier>,
    /// Trace context some integrations put at the top level (not in RD; read by
    /// [`super::translate`] for linking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<Value>,
    /// pyrollbar ≥ 1.4 session/baggage attributes `[{key, value}]` (protocol facts §D.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data.body`: exactly one of `trace`, `trace_chain`, `message`, `crash_report`, plus
/// optional `telemetry`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_chain: Option<Vec<Trace>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_report: Option<CrashReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Vec<Telemetry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One exception with its frames, most recent call last (RD).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Trace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<Frame>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Exception>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// An integer per RD; kept as JSON because SDKs differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// `{pre: [...], post: [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argspec: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub varargspec: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywordspec: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locals: Option<Value>,
    /// Deprecated (RD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// Deprecated (RD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kwargs: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exception {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `body.message`: `body` plus arbitrary keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrashReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One telemetry event (`level`, `type` log|network|dom|navigation|error|manual, `source`,
/// `timestamp_ms`, `body`). Kept as sent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Telemetry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Value>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    #[serde(rename = "GET", default, skip_serializing_if = "Option::is_none")]
    pub get: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string: Option<Value>,
    #[serde(rename = "POST", default, skip_serializing_if = "Option::is_none")]
    pub post: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// An IP, or `"$remote_ip"` (replaced by the caller's address: [`Submission::resolve_remote_ip`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ip: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Person {
    /// A string per RD; numbers are accepted and read as their decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Person {
    /// The id as text (strings as they are, numbers in decimal).
    pub fn id_text(&self) -> Option<String> {
        match self.id.as_ref()? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Server {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    /// Deprecated (RD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Notifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("data", &self.data)
            .finish()
    }
}

// ---- Decoded ------------------------------------------------------------------------------

/// Which of the four body kinds an occurrence has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    Trace,
    TraceChain,
    Message,
    CrashReport,
}

impl BodyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Trace => "trace",
            BodyKind::TraceChain => "trace_chain",
            BodyKind::Message => "message",
            BodyKind::CrashReport => "crash_report",
        }
    }
}

/// A valid payload: the token it carried, the typed `data`, and `data` exactly as sent (what
/// the occurrence API returns).
#[derive(Clone, PartialEq)]
pub struct Submission {
    token: String,
    pub data: Data,
    pub raw_data: Value,
    pub kind: BodyKind,
    /// `data.level`, or the default: error for exceptions and crash reports, info for
    /// messages (RD).
    pub level: Level,
    /// `data.environment` (validated present, ≤ 255 characters).
    pub environment: String,
}

impl Submission {
    /// The access token (header first, then body `access_token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A client-side platform needs a `post_client_item` (or `post_server_item`) token.
    pub fn is_client_side(&self) -> bool {
        self.data
            .platform
            .as_deref()
            .is_some_and(|p| CLIENT_PLATFORMS.iter().any(|c| p.eq_ignore_ascii_case(c)))
    }

    /// `data.uuid`, or `fresh` (the caller's uuid4) when the client sent none (RD: "If you did
    /// not, one will be generated for you"). Also writes it into `data` and `raw_data`.
    pub fn ensure_uuid(&mut self, fresh: impl FnOnce() -> String) -> String {
        if let Some(u) = self.data.uuid.as_ref().filter(|u| !u.is_empty()) {
            return u.clone();
        }
        let u = fresh();
        self.data.uuid = Some(u.clone());
        if let Value::Object(m) = &mut self.raw_data {
            m.insert("uuid".into(), Value::String(u.clone()));
        }
        u
    }

    /// Replaces `request.user_ip = "$remote_ip"` with the caller's address (RD).
    pub fn resolve_remote_ip(&mut self, remote_ip: &str) {
        if let Some(req) = self.data.request.as_mut() {
            if req.user_ip.as_deref() == Some("$remote_ip") {
                req.user_ip = Some(remote_ip.to_owned());
                if let Some(Value::Object(r)) = self
                    .raw_data
                    .as_object_mut()
                    .and_then(|m| m.get_mut("request"))
                {
                    r.insert("user_ip".into(), Value::String(remote_ip.to_owned()));
                }
            }
        }
    }

    /// Occurrence time in Unix nanoseconds: `data.timestamp` (seconds) if sane, else `now_ns`.
    pub fn time_ns(&self, now_ns: i64) -> i64 {
        self.data
            .timestamp
            .as_ref()
            .and_then(|n| n.as_f64())
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1.0e11)
            .map(|s| (s * 1e9) as i64)
            .unwrap_or(now_ns)
    }

    /// The traces of an exception occurrence in the order sent (`trace` alone, or the chain:
    /// pyrollbar puts the raised exception first, then its `__cause__`/`__context__`).
    pub fn traces(&self) -> &[Trace] {
        let Some(body) = self.data.body.as_ref() else {
            return &[];
        };
        if let Some(t) = body.trace.as_ref() {
            std::slice::from_ref(t)
        } else {
            body.trace_chain.as_deref().unwrap_or(&[])
        }
    }
}

/// `Debug` never prints the token.
impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("token", &"***")
            .field("kind", &self.kind)
            .field("level", &self.level)
            .field("environment", &self.environment)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

// ---- Errors -------------------------------------------------------------------------------

/// Why a payload was refused before any token check, with Rollbar's status (RD "Response
/// Codes"). Messages: RD's where it gives one, ours otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// 413 — RD's example error body is `"request entity too large"`.
    #[error("request entity too large")]
    TooLarge,
    /// 400 — "No JSON payload was found" (RD).
    #[error("No JSON payload was found.")]
    NoPayload,
    /// 400 — "or it could not be decoded" (RD).
    #[error("Could not decode JSON payload: {0}")]
    BadJson(String),
    /// 401 — RD's wording.
    #[error("No access token was found in the request.")]
    NoToken,
    /// 400 — no `data` object.
    #[error("Payload is missing the 'data' key.")]
    NoData,
    /// 422 — "one or more semantic errors. The response will contain a message key describing
    /// the errors" (RD). Each entry names its path.
    #[error("Invalid format: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl ItemError {
    pub fn status(&self) -> u16 {
        match self {
            ItemError::TooLarge => 413,
            ItemError::NoPayload | ItemError::BadJson(_) | ItemError::NoData => 400,
            ItemError::NoToken => 401,
            ItemError::Invalid(_) => 422,
        }
    }

    pub fn answer(&self) -> Answer {
        Answer::error(self.status(), &self.to_string())
    }
}

// ---- Decode -------------------------------------------------------------------------------

/// Decodes a (decompressed) request body. `content_type` selects form decoding
/// (`application/x-www-form-urlencoded` with `payload=<json>` as the only parameter, RD);
/// `header_token` is the `X-Rollbar-Access-Token` value, which wins over body `access_token`.
pub fn decode(
    body: &[u8],
    content_type: Option<&str>,
    header_token: Option<&str>,
    limits: Limits,
) -> Result<Submission, ItemError> {
    if body.len() > limits.payload_bytes_max {
        return Err(ItemError::TooLarge);
    }
    let is_form = content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    let form_json;
    let json: &[u8] = if is_form {
        form_json = form_payload(body).ok_or(ItemError::NoPayload)?;
        &form_json
    } else {
        body
    };
    if json.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ItemError::NoPayload);
    }
    if crate::xray::segment::json_depth(json, JSON_DEPTH_MAX) > JSON_DEPTH_MAX {
        return Err(ItemError::Invalid(vec![format!(
            "payload nests deeper than {JSON_DEPTH_MAX} levels"
        )]));
    }
    let text =
        std::str::from_utf8(json).map_err(|e| ItemError::BadJson(format!("invalid UTF-8: {e}")))?;
    let mut root: Value =
        serde_json::from_str(text).map_err(|e| ItemError::BadJson(e.to_string()))?;
    let Some(obj) = root.as_object_mut() else {
        return Err(ItemError::BadJson("expected a JSON object".into()));
    };
    let body_token = match obj.get("access_token") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    let token = header_token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or(body_token)
        .ok_or(ItemError::NoToken)?;
    let raw_data = match obj.remove("data") {
        Some(d @ Value::Object(_)) => d,
        Some(_) => return Err(ItemError::Invalid(vec!["data must be an object".into()])),
        None => return Err(ItemError::NoData),
    };
    let data =
        Data::deserialize(&raw_data).map_err(|e| ItemError::Invalid(vec![format!("data: {e}")]))?;
    let (kind, level, environment) = validate(&data)?;
    Ok(Submission {
        token,
        data,
        raw_data,
        kind,
        level,
        environment,
    })
}

/// The `payload` parameter of a form body (percent-decoded, `+` as space).
fn form_payload(body: &[u8]) -> Option<Vec<u8>> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let rest = pair.strip_prefix(b"payload=")?;
        let plus: Vec<u8> = rest
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        Some(percent_encoding::percent_decode(&plus).collect())
    })
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Rollbar's semantic checks; every failure is listed (RD: "The response will contain a
/// message key describing the errors").
fn validate(data: &Data) -> Result<(BodyKind, Level, String), ItemError> {
    let mut errs = Vec::new();
    let environment = match data.environment.as_deref().map(str::trim) {
        None | Some("") => {
            errs.push("data.environment is required".to_owned());
            String::new()
        }
        Some(e) if chars(e) > ENVIRONMENT_CHARS_MAX => {
            errs.push(format!(
                "data.environment is longer than {ENVIRONMENT_CHARS_MAX} characters"
            ));
            String::new()
        }
        Some(e) => e.to_owned(),
    };
    let mut kind = BodyKind::Message;
    match data.body.as_ref() {
        None => errs.push("data.body is required".to_owned()),
        Some(body) => {
            let present: Vec<BodyKind> = [
                body.trace.as_ref().map(|_| BodyKind::Trace),
                body.trace_chain.as_ref().map(|_| BodyKind::TraceChain),
                body.message.as_ref().map(|_| BodyKind::Message),
                body.crash_report.as_ref().map(|_| BodyKind::CrashReport),
            ]
            .into_iter()
            .flatten()
            .collect();
            if present.len() != 1 {
                errs.push(
                    "data.body must contain exactly one of: trace, trace_chain, message, crash_report"
                        .to_owned(),
                );
            }
            if let Some(k) = present.first() {
                kind = *k;
            }
            if let Some(t) = body.trace.as_ref() {
                check_trace(t, "data.body.trace", &mut errs);
            }
            if let Some(chain) = body.trace_chain.as_ref() {
                if chain.is_empty() {
                    errs.push("data.body.trace_chain must contain at least one trace".into());
                } else if chain.len() > TRACES_PER_CHAIN_MAX {
                    errs.push(format!(
                        "data.body.trace_chain has more than {TRACES_PER_CHAIN_MAX} traces"
                    ));
                } else {
                    for (i, t) in chain.iter().enumerate() {
                        check_trace(t, &format!("data.body.trace_chain[{i}]"), &mut errs);
                    }
                }
            }
            if let Some(m) = body.message.as_ref() {
                if m.body.is_none() {
                    errs.push("data.body.message.body is required".into());
                }
            }
            if let Some(c) = body.crash_report.as_ref() {
                if c.raw.is_none() {
                    errs.push("data.body.crash_report.raw is required".into());
                }
            }
        }
    }
    let level = match data.level.as_deref() {
        None => match kind {
            BodyKind::Message => Level::Info,
            _ => Level::Error,
        },
        Some(l) => Level::parse(l).unwrap_or_else(|| {
            errs.push(
                "data.level must be one of: critical, error, warning, info, debug".to_owned(),
            );
            Level::Error
        }),
    };
    if data
        .uuid
        .as_deref()
        .is_some_and(|u| chars(u) > UUID_CHARS_MAX)
    {
        errs.push(format!(
            "data.uuid is longer than {UUID_CHARS_MAX} characters"
        ));
    }
    if data
        .code_version
        .as_deref()
        .is_some_and(|v| chars(v) > CODE_VERSION_CHARS_MAX)
    {
        errs.push(format!(
            "data.code_version is longer than {CODE_VERSION_CHARS_MAX} characters"
        ));
    }
    if let Some(p) = data.person.as_ref() {
        if p.id_text()
            .is_some_and(|id| chars(&id) > PERSON_ID_CHARS_MAX)
        {
            errs.push(format!(
                "data.person.id is longer than {PERSON_ID_CHARS_MAX} characters"
            ));
        }
        for (name, v) in [("username", &p.username), ("email", &p.email)] {
            if v.as_deref()
                .is_some_and(|s| chars(s) > PERSON_FIELD_CHARS_MAX)
            {
                errs.push(format!(
                    "data.person.{name} is longer than {PERSON_FIELD_CHARS_MAX} characters"
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok((kind, level, environment))
    } else {
        Err(ItemError::Invalid(errs))
    }
}

fn check_trace(t: &Trace, path: &str, errs: &mut Vec<String>) {
    match t.frames.as_ref() {
        None => errs.push(format!("{path}.frames is required")),
        Some(f) if f.len() > FRAMES_PER_TRACE_MAX => errs.push(format!(
            "{path}.frames has more than {FRAMES_PER_TRACE_MAX} frames"
        )),
        Some(f) => {
            if let Some(i) = f.iter().position(|fr| fr.filename.is_none()) {
                errs.push(format!("{path}.frames[{i}].filename is required"));
            }
        }
    }
    match t.exception.as_ref() {
        None => errs.push(format!("{path}.exception is required")),
        Some(e) if e.class.as_deref().is_none_or(str::is_empty) => {
            errs.push(format!("{path}.exception.class is required"))
        }
        Some(_) => {}
    }
}
