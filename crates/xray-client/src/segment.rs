//! The X-Ray segment document: [`Segment`] and [`Subsegment`], serialised as the Python SDK does.
//!
//! Field names follow the segment document reference; empty optional sections are omitted,
//! `in_progress` is always written (`false` once ended) and `fault`/`error`/`throttle`
//! appear only when set, as in the SDK's `to_dict`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{new_entity_id, TraceId};

/// Longest segment/subsegment name X-Ray accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// An annotation value: X-Ray indexes strings, numbers and booleans only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Annotation {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
}

macro_rules! annotation_from {
    ($($t:ty => $v:ident $(as $c:ty)?),*) => {$(
        impl From<$t> for Annotation {
            fn from(x: $t) -> Self { Annotation::$v(x $(as $c)?) }
        }
    )*};
}
annotation_from!(bool => Bool, i64 => Int, i32 => Int as i64, u32 => Int as i64, f64 => Float, String => String);

impl From<&str> for Annotation {
    fn from(s: &str) -> Self {
        Annotation::String(s.to_string())
    }
}

/// The `http` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    /// What was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// What was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The full URL (scheme, host, path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The client's address (or the `X-Forwarded-For` value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `client_ip` came from `X-Forwarded-For`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub x_forwarded_for: bool,
    /// (Subsegments) the downstream call carried the tracing header.
    #[serde(default, skip_serializing_if = "is_false")]
    pub traced: bool,
}

/// `http.response`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The body's length in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The `cause` section: the exceptions that made an entity fail.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// The process's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Paths to libraries or modules in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The exceptions, innermost last.
    #[serde(default)]
    pub exceptions: Vec<ExceptionDoc>,
}

/// One exception in `cause.exceptions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExceptionDoc {
    /// 16 hex digits, unique within the trace.
    pub id: String,
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The exception type (class name).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The error came from a downstream service. Always written, as the Python SDK does.
    #[serde(default)]
    pub remote: bool,
    /// Stack frames left out of `stack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// Exceptions skipped between this one and its cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// The id of the exception that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The stack, innermost frame first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

/// One stack frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StackFrame {
    /// The source file.
    pub path: String,
    /// The line number.
    pub line: u32,
    /// The function.
    pub label: String,
}

/// A segment: the work one service did for one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The service's name (sanitised: see [`sanitize_name`]).
    pub name: String,
    /// 16 hex digits.
    pub id: String,
    /// The trace this segment belongs to.
    pub trace_id: TraceId,
    /// The upstream segment/subsegment id from the tracing header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Epoch seconds.
    pub start_time: f64,
    /// Epoch seconds; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Not ended yet.
    #[serde(default)]
    pub in_progress: bool,
    /// The resource type, e.g. `AWS::ECS::Container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The user, indexed for search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The served HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// AWS resource information (`aws.xray` carries the SDK and the sampling rule name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Value>,
    /// The service (`version`, `runtime`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Value>,
    /// A server error (5xx or an exception).
    #[serde(default, skip_serializing_if = "is_false")]
    pub fault: bool,
    /// A client error (4xx).
    #[serde(default, skip_serializing_if = "is_false")]
    pub error: bool,
    /// Throttled (429).
    #[serde(default, skip_serializing_if = "is_false")]
    pub throttle: bool,
    /// The exceptions behind `fault`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Indexed key/values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Annotation>,
    /// Namespace → key → any JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, BTreeMap<String, Value>>,
    /// Embedded subsegments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Subsegment>,
}

/// A subsegment: a unit of work inside a segment, such as a downstream call or a query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subsegment {
    /// 16 hex digits.
    pub id: String,
    /// The unit's name (sanitised).
    pub name: String,
    /// Epoch seconds.
    pub start_time: f64,
    /// Epoch seconds; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Not ended yet.
    #[serde(default)]
    pub in_progress: bool,
    /// Always `"subsegment"`, as the SDK writes it (required when sent on its own).
    #[serde(rename = "type", default = "subsegment_type")]
    pub kind: String,
    /// `"aws"`, `"remote"` or `"local"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The enclosing segment/subsegment id (set by `add_subsegment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The trace id (set by `add_subsegment` on a segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// A downstream HTTP call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// A downstream AWS call (`operation`, `region`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Value>,
    /// A SQL query (`url`, `sanitized_query`, `database_type`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Value>,
    /// A server error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fault: bool,
    /// A client error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub error: bool,
    /// Throttled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub throttle: bool,
    /// The exceptions behind `fault`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Indexed key/values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Annotation>,
    /// Namespace → key → any JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, BTreeMap<String, Value>>,
    /// Nested subsegments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Subsegment>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn subsegment_type() -> String {
    "subsegment".to_string()
}

/// Keeps the characters X-Ray allows in names (letters, digits, space separators and
/// `_ . : / % & # = + \ - @`) and the first [`MAX_NAME_CHARS`] of them; logs when it changes
/// the name, as the SDK does.
pub fn sanitize_name(name: &str) -> String {
    let allowed = |c: char| {
        c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/%&#=+\\-@".contains(c)
    };
    let clean: String = name
        .chars()
        .filter(|&c| allowed(c))
        .take(MAX_NAME_CHARS)
        .collect();
    if clean != name {
        tracing::warn!(
            name,
            "removed characters X-Ray does not allow from a segment name"
        );
    }
    clean
}

/// The environment variable that overrides the service (segment) name, as in the SDKs.
pub const TRACING_NAME_ENV: &str = "AWS_XRAY_TRACING_NAME";

/// The segment name to use: `AWS_XRAY_TRACING_NAME` when set and not blank, else `default`
/// (the SDK's recorder lets the variable win over the configured name).
pub fn tracing_name(default: &str) -> String {
    match std::env::var(TRACING_NAME_ENV) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_string(),
    }
}

/// Whether an annotation key is one the SDK accepts: ASCII letters, digits and `_`.
pub fn is_valid_annotation_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn set_trace_id(subs: &mut [Subsegment], trace_id: TraceId) {
    for s in subs {
        s.trace_id.get_or_insert(trace_id);
        set_trace_id(&mut s.subsegments, trace_id);
    }
}

macro_rules! entity_methods {
    ($t:ty) => {
        impl $t {
            /// Adds an indexed annotation. Keys other than ASCII letters, digits and `_` are
            /// dropped with a warning, as the SDK does; returns whether it was kept.
            pub fn put_annotation(&mut self, key: &str, value: impl Into<Annotation>) -> bool {
                if !is_valid_annotation_key(key) {
                    tracing::warn!(
                        key,
                        "ignoring an annotation whose key has unsupported characters"
                    );
                    return false;
                }
                self.annotations.insert(key.to_string(), value.into());
                true
            }

            /// Adds metadata under `namespace` (`"default"` when `None`). Namespaces starting
            /// with `AWS.` are reserved and dropped with a warning; returns whether it was kept.
            pub fn put_metadata(
                &mut self,
                key: &str,
                value: impl Into<Value>,
                namespace: Option<&str>,
            ) -> bool {
                let ns = namespace.unwrap_or("default");
                if ns.starts_with("AWS.") {
                    tracing::warn!(
                        namespace = ns,
                        "the metadata namespace prefix 'AWS.' is reserved; dropped"
                    );
                    return false;
                }
                self.metadata
                    .entry(ns.to_string())
                    .or_default()
                    .insert(key.to_string(), value.into());
                true
            }

            /// Records an exception: sets `fault` and appends to `cause.exceptions` (with the
            /// working directory), as the SDK's `add_exception` does. Returns the exception id.
            pub fn add_exception(
                &mut self,
                kind: &str,
                message: &str,
                stack: Vec<StackFrame>,
            ) -> String {
                let doc = ExceptionDoc {
                    id: new_entity_id(),
                    message: Some(message.to_string()),
                    kind: kind.to_string(),
                    stack,
                    ..ExceptionDoc::default()
                };
                let id = doc.id.clone();
                self.add_exception_doc(doc);
                id
            }

            /// Records a fully described exception (remote, truncated, cause …); sets `fault`.
            pub fn add_exception_doc(&mut self, doc: ExceptionDoc) {
                self.fault = true;
                let cause = self.cause.get_or_insert_with(Cause::default);
                if cause.working_directory.is_none() {
                    cause.working_directory = std::env::current_dir()
                        .ok()
                        .map(|d| d.display().to_string());
                }
                cause.exceptions.push(doc);
            }

            /// Sets `http.request`.
            pub fn set_http_request(&mut self, request: HttpRequest) {
                self.http.get_or_insert_with(Http::default).request = Some(request);
            }

            /// Sets `http.response` and applies [`Self::apply_status_code`].
            pub fn set_http_response(&mut self, status: u16, content_length: Option<u64>) {
                self.http.get_or_insert_with(Http::default).response = Some(HttpResponse {
                    status: Some(status),
                    content_length,
                });
                self.apply_status_code(status);
            }

            /// The SDK's flags for a status: ≥ 500 fault; 429 throttle and error; other 4xx error.
            pub fn apply_status_code(&mut self, status: u16) {
                match status {
                    500.. => self.fault = true,
                    429 => {
                        self.throttle = true;
                        self.error = true;
                    }
                    400..=499 => self.error = true,
                    _ => {}
                }
            }

            /// Ends the entity now.
            pub fn end(&mut self) {
                self.end_at(crate::now_epoch());
            }

            /// Ends the entity at `end_time` (epoch seconds).
            pub fn end_at(&mut self, end_time: f64) {
                self.end_time = Some(end_time);
                self.in_progress = false;
            }

            /// The JSON document.
            pub fn to_document(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }
    };
}

entity_methods!(Segment);
entity_methods!(Subsegment);

impl Segment {
    /// Begins a segment now, in progress, with a new id. `parent_id` is the upstream id from
    /// the tracing header. `aws.xray` names this SDK, as the Python SDK names itself.
    pub fn begin(name: &str, trace_id: TraceId, parent_id: Option<String>) -> Segment {
        Segment {
            name: sanitize_name(name),
            id: new_entity_id(),
            trace_id,
            parent_id,
            start_time: crate::now_epoch(),
            end_time: None,
            in_progress: true,
            origin: None,
            user: None,
            http: None,
            aws: Some(serde_json::json!({
                "xray": {"sdk": "X-Ray for Rust (xray-client)", "sdk_version": env!("CARGO_PKG_VERSION")}
            })),
            service: None,
            fault: false,
            error: false,
            throttle: false,
            cause: None,
            annotations: BTreeMap::new(),
            metadata: BTreeMap::new(),
            subsegments: Vec::new(),
        }
    }

    /// Embeds `sub`, setting its `parent_id` to this segment and the trace id on it and on
    /// its descendants.
    pub fn add_subsegment(&mut self, mut sub: Subsegment) {
        sub.parent_id = Some(self.id.clone());
        set_trace_id(std::slice::from_mut(&mut sub), self.trace_id);
        self.subsegments.push(sub);
    }

    /// Records the centralized sampling rule that sampled this segment
    /// (`aws.xray.sampling_rule_name`), as the SDK's recorder does.
    pub fn set_rule_name(&mut self, rule_name: &str) {
        let aws = self.aws.get_or_insert_with(|| serde_json::json!({}));
        if !aws.is_object() {
            *aws = serde_json::json!({});
        }
        if let Some(obj) = aws.as_object_mut() {
            let xray = obj.entry("xray").or_insert_with(|| serde_json::json!({}));
            if let Some(x) = xray.as_object_mut() {
                x.insert("sampling_rule_name".into(), rule_name.into());
            }
        }
    }
}

impl Subsegment {
    /// Begins a subsegment now, in progress, with a new id and no namespace.
    pub fn begin(name: &str) -> Subsegment {
        Subsegment {
            id: new_entity_id(),
            name: sanitize_name(name),
            start_time: crate::now_epoch(),
            end_time: None,
            in_progress: true,
            kind: subsegment_type(),
            namespace: None,
            parent_id: None,
            trace_id: None,
            http: None,
            aws: None,
            sql: None,
            fault: false,
            error: false,
            throttle: false,
            cause: None,
            annotations: BTreeMap::new(),
            metadata: BTreeMap::new(),
            subsegments: Vec::new(),
        }
    }

    /// Sets the namespace (`"remote"` for a downstream HTTP call, `"aws"`, `"local"`).
    pub fn with_namespace(mut self, namespace: &str) -> Subsegment {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Nests `sub` in this subsegment, setting its `parent_id` (and the trace id, if this
    /// subsegment has one already).
    pub fn add_subsegment(&mut self, mut sub: Subsegment) {
        sub.parent_id = Some(self.id.clone());
        if let Some(t) = self.trace_id {
            set_trace_id(std::slice::from_mut(&mut sub), t);
        }
        self.subsegments.push(sub);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seg() -> Segment {
        let t = TraceId::parse_xray("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let mut s = Segment::begin("cruddur", t, Some("53995c3f42cd8ad8".into()));
        s.id = "70de5b6f19ff9a0a".into();
        s.start_time = 1478293361.271;
        s.aws = None;
        s
    }

    #[test]
    fn minimal_segment_shape() {
        let mut s = seg();
        let v: Value = serde_json::from_str(&s.to_document()).unwrap();
        assert_eq!(
            v,
            json!({"name": "cruddur", "id": "70de5b6f19ff9a0a", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                   "parent_id": "53995c3f42cd8ad8", "start_time": 1478293361.271, "in_progress": true})
        );
        s.end_at(1478293361.449);
        let v: Value = serde_json::from_str(&s.to_document()).unwrap();
        assert_eq!(v["in_progress"], json!(false));
        assert_eq!(v["end_time"], json!(1478293361.449));
        assert!(
            Segment::begin("x", TraceId::new(), None).aws.unwrap()["xray"]["sdk_version"]
                .is_string()
        );
    }

    #[test]
    fn full_segment_shape() {
        let mut s = seg();
        s.set_http_request(HttpRequest {
            method: Some("GET".into()),
            url: Some("https://api.example.com/api/activities/home".into()),
            client_ip: Some("10.0.0.1".into()),
            x_forwarded_for: true,
            ..HttpRequest::default()
        });
        s.set_http_response(503, Some(12));
        assert!(s.put_annotation("user_id", "andrew"));
        assert!(s.put_annotation("n", 3));
        assert!(s.put_annotation("ok", true));
        assert!(!s.put_annotation("bad-key", 1));
        assert!(!s.put_annotation("", 1));
        assert!(s.put_metadata("rows", json!([1, 2]), None));
        assert!(s.put_metadata("q", "select 1", Some("db")));
        assert!(!s.put_metadata("k", 1, Some("AWS.reserved")));
        s.set_rule_name("Home");
        let mut sub = Subsegment::begin("home_activities").with_namespace("local");
        sub.id = "0123456789abcdef".into();
        sub.start_time = 1.0;
        let mut inner = Subsegment::begin("query");
        inner.id = "1111111111111111".into();
        inner.start_time = 1.5;
        inner.end_at(1.6);
        sub.add_subsegment(inner);
        sub.end_at(2.0);
        s.add_subsegment(sub);
        let id = s.add_exception(
            "ValueError",
            "boom",
            vec![StackFrame {
                path: "app.py".into(),
                line: 7,
                label: "home".into(),
            }],
        );
        let v: Value = serde_json::from_str(&s.to_document()).unwrap();
        assert_eq!(
            v["http"],
            json!({"request": {"method": "GET", "url": "https://api.example.com/api/activities/home",
            "client_ip": "10.0.0.1", "x_forwarded_for": true}, "response": {"status": 503, "content_length": 12}})
        );
        assert_eq!(
            (v["fault"].clone(), v.get("error"), v.get("throttle")),
            (json!(true), None, None)
        );
        assert_eq!(
            v["annotations"],
            json!({"user_id": "andrew", "n": 3, "ok": true})
        );
        assert_eq!(
            v["metadata"],
            json!({"default": {"rows": [1, 2]}, "db": {"q": "select 1"}})
        );
        assert_eq!(v["aws"], json!({"xray": {"sampling_rule_name": "Home"}}));
        let exc = &v["cause"]["exceptions"][0];
        assert_eq!(
            exc,
            &json!({"id": id, "message": "boom", "type": "ValueError", "remote": false,
            "stack": [{"path": "app.py", "line": 7, "label": "home"}]})
        );
        assert!(v["cause"]["working_directory"].is_string());
        assert!(v["cause"].get("paths").is_none());
        assert_eq!(
            v["subsegments"],
            json!([{"id": "0123456789abcdef", "name": "home_activities", "start_time": 1.0, "end_time": 2.0,
                "in_progress": false, "type": "subsegment", "namespace": "local", "parent_id": "70de5b6f19ff9a0a",
                "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "subsegments": [{"id": "1111111111111111", "name": "query", "start_time": 1.5, "end_time": 1.6,
                    "in_progress": false, "type": "subsegment", "parent_id": "0123456789abcdef",
                    "trace_id": "1-5759e988-bd862e3fe1be46a994272793"}]}])
        );
        let back: Segment = serde_json::from_str(&s.to_document()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn status_code_flags() {
        for (status, f, e, t) in [
            (200, false, false, false),
            (404, false, true, false),
            (429, false, true, true),
            (500, true, false, false),
        ] {
            let mut s = Subsegment::begin("x");
            s.set_http_response(status, None);
            assert_eq!((s.fault, s.error, s.throttle), (f, e, t), "{status}");
        }
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("my app? (v2)!"), "my app v2");
        assert_eq!(
            sanitize_name("héllo_wörld.io:80/a%b&c#d=e+f\\g-h@i"),
            "héllo_wörld.io:80/a%b&c#d=e+f\\g-h@i"
        );
        assert_eq!(sanitize_name(&"a".repeat(300)).len(), MAX_NAME_CHARS);
        assert_eq!(sanitize_name("tab\there"), "tabhere");
        assert_eq!(Subsegment::begin("<x>").name, "x");
    }
}
