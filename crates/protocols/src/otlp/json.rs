//! OTLP/JSON → prost messages, written against the spec's JSON mapping (otlp-honeycomb.md §3)
//! instead of opentelemetry-proto's serde, which silently drops data (§4.1). Lenient where
//! real emitters differ: hex ids in any case (base64 fallback when it gives the right length),
//! 64-bit integers as strings or numbers, enums as integers or names, camelCase or snake_case
//! keys, `null` as "absent". Unknown fields are ignored. An error inside one span / log record /
//! data point rejects that item (reported with its JSON path); errors outside items fail the
//! whole request.

use super::ANY_VALUE_DEPTH_MAX;
use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile, ExponentialHistogram, ExponentialHistogramDataPoint,
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value as J};

/// Longest piece of offending input quoted back in an error message (our choice).
const QUOTE_LEN_MAX: usize = 64;

/// Parses a body as JSON (serde_json's recursion limit of 128 bounds nesting).
pub fn parse(body: &[u8]) -> Result<J, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

/// A conversion error with the JSON path to it (innermost segment first while unwinding).
#[derive(Debug)]
pub(crate) struct JErr {
    path: Vec<String>,
    msg: String,
}

impl JErr {
    fn new(msg: impl Into<String>) -> Self {
        JErr {
            path: Vec::new(),
            msg: msg.into(),
        }
    }

    fn at(mut self, seg: impl std::fmt::Display) -> Self {
        self.path.push(seg.to_string());
        self
    }

    fn render(&self, prefix: &str) -> String {
        let mut p = prefix.to_string();
        for seg in self.path.iter().rev() {
            if !p.is_empty() && !seg.starts_with('[') {
                p.push('.');
            }
            p.push_str(seg);
        }
        if p.is_empty() {
            self.msg.clone()
        } else {
            format!("{p}: {}", self.msg)
        }
    }
}

type R<T> = Result<T, JErr>;

fn quote(v: &J) -> String {
    let s = v.to_string();
    if s.len() <= QUOTE_LEN_MAX {
        s
    } else {
        format!("{}…", super::attrs::truncate(&s, QUOTE_LEN_MAX))
    }
}

fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

// ---- Field access -------------------------------------------------------------------------

/// A field by its lowerCamelCase name or the original snake_case name (proto3 JSON parsers
/// accept both); `null` counts as absent.
fn get<'a>(m: &'a Map<String, J>, camel: &str, snake: &str) -> Option<&'a J> {
    match m.get(camel) {
        Some(J::Null) | None => match m.get(snake) {
            Some(J::Null) | None => None,
            Some(v) => Some(v),
        },
        Some(v) => Some(v),
    }
}

fn object(v: &J) -> R<&Map<String, J>> {
    match v {
        J::Object(m) => Ok(m),
        other => Err(JErr::new(format!(
            "expected an object, found {}",
            kind_of(other)
        ))),
    }
}

/// An optional nested message.
fn message<'a>(m: &'a Map<String, J>, camel: &str, snake: &str) -> R<Option<&'a Map<String, J>>> {
    match get(m, camel, snake) {
        None => Ok(None),
        Some(v) => object(v).map(Some).map_err(|e| e.at(camel)),
    }
}

/// A repeated field (absent or null → empty).
fn list<'a>(m: &'a Map<String, J>, camel: &str, snake: &str) -> R<&'a [J]> {
    match get(m, camel, snake) {
        None => Ok(&[]),
        Some(J::Array(a)) => Ok(a),
        Some(other) => {
            Err(JErr::new(format!("expected an array, found {}", kind_of(other))).at(camel))
        }
    }
}

fn string(m: &Map<String, J>, camel: &str, snake: &str) -> R<String> {
    match get(m, camel, snake) {
        None => Ok(String::new()),
        Some(J::String(s)) => Ok(s.clone()),
        Some(other) => {
            Err(JErr::new(format!("expected a string, found {}", kind_of(other))).at(camel))
        }
    }
}

fn bool_value(v: &J) -> R<bool> {
    match v {
        J::Bool(b) => Ok(*b),
        J::String(s) if s == "true" => Ok(true),
        J::String(s) if s == "false" => Ok(false),
        other => Err(JErr::new(format!(
            "expected true or false, found {}",
            quote(other)
        ))),
    }
}

fn boolean(m: &Map<String, J>, camel: &str, snake: &str) -> R<bool> {
    match get(m, camel, snake) {
        None => Ok(false),
        Some(v) => bool_value(v).map_err(|e| e.at(camel)),
    }
}

/// An integral value from a JSON number or decimal string (proto3 JSON writes 64-bit integers
/// as strings; 32-bit ones may be quoted too). Exponent forms are accepted when integral.
fn integer(v: &J) -> R<i128> {
    let bad = || JErr::new(format!("expected an integer, found {}", quote(v)));
    match v {
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                float_to_int(n.as_f64().ok_or_else(bad)?).ok_or_else(bad)
            }
        }
        J::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i128>() {
                return Ok(i);
            }
            float_to_int(t.parse::<f64>().map_err(|_| bad())?).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn float_to_int(f: f64) -> Option<i128> {
    // 2^100 is far outside every target type; the range check below rejects it.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 1.3e30).then_some(f as i128)
}

fn ranged<T: TryFrom<i128>>(v: &J, what: &str) -> R<T> {
    let i = integer(v)?;
    T::try_from(i).map_err(|_| JErr::new(format!("{i} is out of range for {what}")))
}

fn u64_field(m: &Map<String, J>, camel: &str, snake: &str) -> R<u64> {
    match get(m, camel, snake) {
        None => Ok(0),
        Some(v) => ranged(v, "uint64").map_err(|e| e.at(camel)),
    }
}

fn u32_field(m: &Map<String, J>, camel: &str, snake: &str) -> R<u32> {
    match get(m, camel, snake) {
        None => Ok(0),
        Some(v) => ranged(v, "uint32").map_err(|e| e.at(camel)),
    }
}

fn i32_field(m: &Map<String, J>, camel: &str, snake: &str) -> R<i32> {
    match get(m, camel, snake) {
        None => Ok(0),
        Some(v) => ranged(v, "int32").map_err(|e| e.at(camel)),
    }
}

/// A double: a JSON number, or a string holding a number, `NaN`, `Infinity` or `-Infinity`.
fn double(v: &J) -> R<f64> {
    match v {
        J::Number(n) => n
            .as_f64()
            .ok_or_else(|| JErr::new(format!("{n} is not a double"))),
        J::String(s) => match s.trim() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            t => t
                .parse::<f64>()
                .map_err(|_| JErr::new(format!("expected a number, found {}", quote(v)))),
        },
        other => Err(JErr::new(format!(
            "expected a number, found {}",
            quote(other)
        ))),
    }
}

fn double_field(m: &Map<String, J>, camel: &str, snake: &str) -> R<Option<f64>> {
    match get(m, camel, snake) {
        None => Ok(None),
        Some(v) => double(v).map(Some).map_err(|e| e.at(camel)),
    }
}

/// An enum: an integer (quoted or not), or its proto name (the spec forbids names; accepting
/// them is harmless). Names match with or without the type prefix, case-insensitively.
fn enumeration(m: &Map<String, J>, camel: &str, snake: &str, names: &[(&str, i32)]) -> R<i32> {
    let Some(v) = get(m, camel, snake) else {
        return Ok(0);
    };
    if let J::String(s) = v {
        let upper = s.trim().to_ascii_uppercase();
        if let Some((_, n)) = names
            .iter()
            .find(|(name, _)| *name == upper || name.ends_with(&format!("_{upper}")))
        {
            return Ok(*n);
        }
        if upper.parse::<i64>().is_err() {
            let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            return Err(JErr::new(format!(
                "unknown value {} (expected an integer or one of {})",
                quote(v),
                known.join(", ")
            ))
            .at(camel));
        }
    }
    ranged(v, "an enum").map_err(|e| e.at(camel))
}

const SPAN_KINDS: &[(&str, i32)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
];
const STATUS_CODES: &[(&str, i32)] = &[
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];
const TEMPORALITIES: &[(&str, i32)] = &[
    ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
    ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
];
const SEVERITIES: &[(&str, i32)] = &[
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
];

/// A trace or span id: hex of exactly `len` bytes (any case, optional `0x`), a 16-hex-digit
/// trace id (zero-extended, as Jaeger/Zipkin 64-bit ids are), or base64 that decodes to exactly
/// `len` bytes (what Go's protojson and husky's tests send). Empty → empty (absent).
fn id(m: &Map<String, J>, camel: &str, snake: &str, len: usize) -> R<Vec<u8>> {
    let Some(v) = get(m, camel, snake) else {
        return Ok(Vec::new());
    };
    let J::String(s) = v else {
        return Err(JErr::new(format!("expected a hex string, found {}", kind_of(v))).at(camel));
    };
    let t = s.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    let hex_text = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex_text.len() == len * 2 {
        if let Ok(bytes) = hex::decode(hex_text) {
            return Ok(bytes);
        }
    }
    if len == 16 && hex_text.len() == 16 {
        if let Ok(low) = hex::decode(hex_text) {
            let mut bytes = vec![0u8; 8];
            bytes.extend(low);
            return Ok(bytes);
        }
    }
    if let Some(bytes) = base64_any(t).filter(|b| b.len() == len) {
        return Ok(bytes);
    }
    Err(JErr::new(format!(
        "{} is not a valid id: expected {} hex digits",
        quote(v),
        len * 2
    ))
    .at(camel))
}

fn base64_any(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

// ---- Common messages ----------------------------------------------------------------------

fn any_value(v: &J, depth: usize) -> R<Option<any_value::Value>> {
    use any_value::Value as V;
    if depth > ANY_VALUE_DEPTH_MAX {
        return Err(JErr::new(format!(
            "value nests deeper than {ANY_VALUE_DEPTH_MAX} levels"
        )));
    }
    let m = match v {
        J::Null => return Ok(None),
        other => object(other)?,
    };
    if let Some(s) = get(m, "stringValue", "string_value") {
        return match s {
            J::String(s) => Ok(Some(V::StringValue(s.clone()))),
            other => Err(
                JErr::new(format!("expected a string, found {}", kind_of(other))).at("stringValue"),
            ),
        };
    }
    if let Some(b) = get(m, "boolValue", "bool_value") {
        return bool_value(b)
            .map(|b| Some(V::BoolValue(b)))
            .map_err(|e| e.at("boolValue"));
    }
    if let Some(i) = get(m, "intValue", "int_value") {
        return ranged(i, "int64")
            .map(|i| Some(V::IntValue(i)))
            .map_err(|e| e.at("intValue"));
    }
    if let Some(d) = get(m, "doubleValue", "double_value") {
        return double(d)
            .map(|d| Some(V::DoubleValue(d)))
            .map_err(|e| e.at("doubleValue"));
    }
    if let Some(a) = message(m, "arrayValue", "array_value")? {
        let mut values = Vec::new();
        for (i, item) in list(a, "values", "values")
            .map_err(|e| e.at("arrayValue"))?
            .iter()
            .enumerate()
        {
            let value = any_value(item, depth + 1)
                .map_err(|e| e.at(format!("[{i}]")).at("values").at("arrayValue"))?;
            values.push(AnyValue { value });
        }
        return Ok(Some(V::ArrayValue(ArrayValue { values })));
    }
    if let Some(l) = message(m, "kvlistValue", "kvlist_value")? {
        let values =
            key_values(l, "values", "values", depth + 1).map_err(|e| e.at("kvlistValue"))?;
        return Ok(Some(V::KvlistValue(KeyValueList { values })));
    }
    if let Some(b) = get(m, "bytesValue", "bytes_value") {
        let J::String(s) = b else {
            return Err(
                JErr::new(format!("expected base64 text, found {}", kind_of(b))).at("bytesValue"),
            );
        };
        return base64_any(s.trim())
            .map(|b| Some(V::BytesValue(b)))
            .ok_or_else(|| JErr::new(format!("{} is not base64", quote(b))).at("bytesValue"));
    }
    Ok(None) // empty AnyValue is legal
}

fn key_values(m: &Map<String, J>, camel: &str, snake: &str, depth: usize) -> R<Vec<KeyValue>> {
    let items = list(m, camel, snake)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let wrap = |e: JErr| e.at(format!("[{i}]")).at(camel);
        let kv = object(item).map_err(wrap)?;
        let key = string(kv, "key", "key").map_err(wrap)?;
        let value = match get(kv, "value", "value") {
            None => None,
            Some(v) => Some(AnyValue {
                value: any_value(v, depth).map_err(|e| wrap(e.at("value")))?,
            }),
        };
        out.push(KeyValue {
            key,
            value,
            key_strindex: 0,
        });
    }
    Ok(out)
}

fn attributes(m: &Map<String, J>) -> R<Vec<KeyValue>> {
    key_values(m, "attributes", "attributes", 0)
}

fn resource(m: &Map<String, J>) -> R<Option<Resource>> {
    let Some(r) = message(m, "resource", "resource")? else {
        return Ok(None);
    };
    let wrap = |e: JErr| e.at("resource");
    Ok(Some(Resource {
        attributes: attributes(r).map_err(wrap)?,
        dropped_attributes_count: u32_field(
            r,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )
        .map_err(wrap)?,
        entity_refs: Vec::new(),
    }))
}

fn scope(m: &Map<String, J>) -> R<Option<InstrumentationScope>> {
    let Some(s) = message(m, "scope", "scope")? else {
        return Ok(None);
    };
    let wrap = |e: JErr| e.at("scope");
    Ok(Some(InstrumentationScope {
        name: string(s, "name", "name").map_err(wrap)?,
        version: string(s, "version", "version").map_err(wrap)?,
        attributes: attributes(s).map_err(wrap)?,
        dropped_attributes_count: u32_field(
            s,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )
        .map_err(wrap)?,
    }))
}

/// Top level: the request object and its one repeated field.
fn top<'a>(v: &'a J, camel: &str, snake: &str) -> Result<&'a [J], String> {
    let m = object(v).map_err(|e| e.render(""))?;
    list(m, camel, snake).map_err(|e| e.render(""))
}

// ---- Traces -------------------------------------------------------------------------------

/// Converts an `ExportTraceServiceRequest`; the second value lists one reason per span refused.
pub fn traces(v: &J) -> Result<(ExportTraceServiceRequest, Vec<String>), String> {
    let mut rejects = Vec::new();
    let mut req = ExportTraceServiceRequest::default();
    for (ri, rs) in top(v, "resourceSpans", "resource_spans")?
        .iter()
        .enumerate()
    {
        let here = format!("resourceSpans[{ri}]");
        let rs = object(rs).map_err(|e| e.render(&here))?;
        let mut out = ResourceSpans {
            resource: resource(rs).map_err(|e| e.render(&here))?,
            schema_url: string(rs, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
            ..Default::default()
        };
        for (si, ss) in list(rs, "scopeSpans", "scope_spans")
            .map_err(|e| e.render(&here))?
            .iter()
            .enumerate()
        {
            let here = format!("{here}.scopeSpans[{si}]");
            let ss = object(ss).map_err(|e| e.render(&here))?;
            let mut scoped = ScopeSpans {
                scope: scope(ss).map_err(|e| e.render(&here))?,
                schema_url: string(ss, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
                ..Default::default()
            };
            for (pi, sp) in list(ss, "spans", "spans")
                .map_err(|e| e.render(&here))?
                .iter()
                .enumerate()
            {
                match span_of(sp) {
                    Ok(s) => scoped.spans.push(s),
                    Err(e) => rejects.push(e.render(&format!("{here}.spans[{pi}]"))),
                }
            }
            out.scope_spans.push(scoped);
        }
        req.resource_spans.push(out);
    }
    Ok((req, rejects))
}

fn span_of(v: &J) -> R<Span> {
    let m = object(v)?;
    let mut events = Vec::new();
    for (i, e) in list(m, "events", "events")?.iter().enumerate() {
        let wrap = |err: JErr| err.at(format!("[{i}]")).at("events");
        let e = object(e).map_err(wrap)?;
        events.push(span::Event {
            time_unix_nano: u64_field(e, "timeUnixNano", "time_unix_nano").map_err(wrap)?,
            name: string(e, "name", "name").map_err(wrap)?,
            attributes: attributes(e).map_err(wrap)?,
            dropped_attributes_count: u32_field(
                e,
                "droppedAttributesCount",
                "dropped_attributes_count",
            )
            .map_err(wrap)?,
        });
    }
    let mut links = Vec::new();
    for (i, l) in list(m, "links", "links")?.iter().enumerate() {
        let wrap = |err: JErr| err.at(format!("[{i}]")).at("links");
        let l = object(l).map_err(wrap)?;
        links.push(span::Link {
            trace_id: id(l, "traceId", "trace_id", 16).map_err(wrap)?,
            span_id: id(l, "spanId", "span_id", 8).map_err(wrap)?,
            trace_state: string(l, "traceState", "trace_state").map_err(wrap)?,
            attributes: attributes(l).map_err(wrap)?,
            dropped_attributes_count: u32_field(
                l,
                "droppedAttributesCount",
                "dropped_attributes_count",
            )
            .map_err(wrap)?,
            flags: u32_field(l, "flags", "flags").map_err(wrap)?,
        });
    }
    let status = match message(m, "status", "status")? {
        None => None,
        Some(s) => Some(Status {
            message: string(s, "message", "message").map_err(|e| e.at("status"))?,
            code: enumeration(s, "code", "code", STATUS_CODES).map_err(|e| e.at("status"))?,
        }),
    };
    Ok(Span {
        trace_id: id(m, "traceId", "trace_id", 16)?,
        span_id: id(m, "spanId", "span_id", 8)?,
        trace_state: string(m, "traceState", "trace_state")?,
        parent_span_id: id(m, "parentSpanId", "parent_span_id", 8)?,
        flags: u32_field(m, "flags", "flags")?,
        name: string(m, "name", "name")?,
        kind: enumeration(m, "kind", "kind", SPAN_KINDS)?,
        start_time_unix_nano: u64_field(m, "startTimeUnixNano", "start_time_unix_nano")?,
        end_time_unix_nano: u64_field(m, "endTimeUnixNano", "end_time_unix_nano")?,
        attributes: attributes(m)?,
        dropped_attributes_count: u32_field(
            m,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )?,
        events,
        dropped_events_count: u32_field(m, "droppedEventsCount", "dropped_events_count")?,
        links,
        dropped_links_count: u32_field(m, "droppedLinksCount", "dropped_links_count")?,
        status,
    })
}

// ---- Logs ---------------------------------------------------------------------------------

/// Converts an `ExportLogsServiceRequest`; the second value lists one reason per record refused.
pub fn logs(v: &J) -> Result<(ExportLogsServiceRequest, Vec<String>), String> {
    let mut rejects = Vec::new();
    let mut req = ExportLogsServiceRequest::default();
    for (ri, rl) in top(v, "resourceLogs", "resource_logs")?.iter().enumerate() {
        let here = format!("resourceLogs[{ri}]");
        let rl = object(rl).map_err(|e| e.render(&here))?;
        let mut out = ResourceLogs {
            resource: resource(rl).map_err(|e| e.render(&here))?,
            schema_url: string(rl, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
            ..Default::default()
        };
        for (si, sl) in list(rl, "scopeLogs", "scope_logs")
            .map_err(|e| e.render(&here))?
            .iter()
            .enumerate()
        {
            let here = format!("{here}.scopeLogs[{si}]");
            let sl = object(sl).map_err(|e| e.render(&here))?;
            let mut scoped = ScopeLogs {
                scope: scope(sl).map_err(|e| e.render(&here))?,
                schema_url: string(sl, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
                ..Default::default()
            };
            for (li, lr) in list(sl, "logRecords", "log_records")
                .map_err(|e| e.render(&here))?
                .iter()
                .enumerate()
            {
                match log_of(lr) {
                    Ok(r) => scoped.log_records.push(r),
                    Err(e) => rejects.push(e.render(&format!("{here}.logRecords[{li}]"))),
                }
            }
            out.scope_logs.push(scoped);
        }
        req.resource_logs.push(out);
    }
    Ok((req, rejects))
}

fn log_of(v: &J) -> R<LogRecord> {
    let m = object(v)?;
    let body = match get(m, "body", "body") {
        None => None,
        Some(b) => Some(AnyValue {
            value: any_value(b, 0).map_err(|e| e.at("body"))?,
        }),
    };
    Ok(LogRecord {
        time_unix_nano: u64_field(m, "timeUnixNano", "time_unix_nano")?,
        observed_time_unix_nano: u64_field(m, "observedTimeUnixNano", "observed_time_unix_nano")?,
        severity_number: enumeration(m, "severityNumber", "severity_number", SEVERITIES)?,
        severity_text: string(m, "severityText", "severity_text")?,
        body,
        attributes: attributes(m)?,
        dropped_attributes_count: u32_field(
            m,
            "droppedAttributesCount",
            "dropped_attributes_count",
        )?,
        flags: u32_field(m, "flags", "flags")?,
        trace_id: id(m, "traceId", "trace_id", 16)?,
        span_id: id(m, "spanId", "span_id", 8)?,
        event_name: string(m, "eventName", "event_name")?,
    })
}

// ---- Metrics ------------------------------------------------------------------------------

/// Converts an `ExportMetricsServiceRequest`; the second value lists one reason per data point
/// refused (a malformed metric refuses all of its points).
pub fn metrics(v: &J) -> Result<(ExportMetricsServiceRequest, Vec<String>), String> {
    let mut rejects = Vec::new();
    let mut req = ExportMetricsServiceRequest::default();
    for (ri, rm) in top(v, "resourceMetrics", "resource_metrics")?
        .iter()
        .enumerate()
    {
        let here = format!("resourceMetrics[{ri}]");
        let rm = object(rm).map_err(|e| e.render(&here))?;
        let mut out = ResourceMetrics {
            resource: resource(rm).map_err(|e| e.render(&here))?,
            schema_url: string(rm, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
            ..Default::default()
        };
        for (si, sm) in list(rm, "scopeMetrics", "scope_metrics")
            .map_err(|e| e.render(&here))?
            .iter()
            .enumerate()
        {
            let here = format!("{here}.scopeMetrics[{si}]");
            let sm = object(sm).map_err(|e| e.render(&here))?;
            let mut scoped = ScopeMetrics {
                scope: scope(sm).map_err(|e| e.render(&here))?,
                schema_url: string(sm, "schemaUrl", "schema_url").map_err(|e| e.render(&here))?,
                ..Default::default()
            };
            for (mi, mv) in list(sm, "metrics", "metrics")
                .map_err(|e| e.render(&here))?
                .iter()
                .enumerate()
            {
                let at = format!("{here}.metrics[{mi}]");
                match metric_of(mv, &at, &mut rejects) {
                    Ok(m) => scoped.metrics.push(m),
                    Err(e) => {
                        let n = count_points(mv).max(1);
                        let reason = e.render(&at);
                        for _ in 0..n {
                            rejects.push(reason.clone());
                        }
                    }
                }
            }
            out.scope_metrics.push(scoped);
        }
        req.resource_metrics.push(out);
    }
    Ok((req, rejects))
}

const METRIC_DATA_KEYS: &[(&str, &str)] = &[
    ("gauge", "gauge"),
    ("sum", "sum"),
    ("histogram", "histogram"),
    ("exponentialHistogram", "exponential_histogram"),
    ("summary", "summary"),
];

/// How many data points a (possibly malformed) metric object lists, for counting rejections.
fn count_points(v: &J) -> usize {
    let J::Object(m) = v else { return 1 };
    METRIC_DATA_KEYS
        .iter()
        .filter_map(|(c, s)| get(m, c, s))
        .filter_map(|d| match d {
            J::Object(d) => match get(d, "dataPoints", "data_points") {
                Some(J::Array(a)) => Some(a.len()),
                _ => None,
            },
            _ => None,
        })
        .sum()
}

/// Converts each data point, refusing bad ones individually (reasons appended to `rejects`).
fn points<T>(
    d: &Map<String, J>,
    at: &str,
    rejects: &mut Vec<String>,
    one: impl Fn(&Map<String, J>) -> R<T>,
) -> R<Vec<T>> {
    let items = list(d, "dataPoints", "data_points")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, p) in items.iter().enumerate() {
        match object(p).and_then(&one) {
            Ok(x) => out.push(x),
            Err(e) => rejects.push(e.render(&format!("{at}.dataPoints[{i}]"))),
        }
    }
    Ok(out)
}

fn metric_of(v: &J, at: &str, rejects: &mut Vec<String>) -> R<Metric> {
    let m = object(v)?;
    let present: Vec<&str> = METRIC_DATA_KEYS
        .iter()
        .filter(|(c, s)| get(m, c, s).is_some())
        .map(|(c, _)| *c)
        .collect();
    if present.len() > 1 {
        return Err(JErr::new(format!(
            "metric has more than one of gauge, sum, histogram, exponentialHistogram, summary ({})",
            present.join(", ")
        )));
    }
    let data = match present.first().copied() {
        None => None,
        Some(key) => {
            let snake = METRIC_DATA_KEYS
                .iter()
                .find(|(c, _)| *c == key)
                .map_or(key, |(_, s)| s);
            let d = message(m, key, snake)?.ok_or_else(|| JErr::new("missing data"))?;
            let here = format!("{at}.{key}");
            let wrap = |e: JErr| e.at(key);
            Some(match key {
                "gauge" => metric::Data::Gauge(Gauge {
                    data_points: points(d, &here, rejects, number_point).map_err(wrap)?,
                }),
                "sum" => metric::Data::Sum(Sum {
                    data_points: points(d, &here, rejects, number_point).map_err(wrap)?,
                    aggregation_temporality: enumeration(
                        d,
                        "aggregationTemporality",
                        "aggregation_temporality",
                        TEMPORALITIES,
                    )
                    .map_err(wrap)?,
                    is_monotonic: boolean(d, "isMonotonic", "is_monotonic").map_err(wrap)?,
                }),
                "histogram" => metric::Data::Histogram(Histogram {
                    data_points: points(d, &here, rejects, histogram_point).map_err(wrap)?,
                    aggregation_temporality: enumeration(
                        d,
                        "aggregationTemporality",
                        "aggregation_temporality",
                        TEMPORALITIES,
                    )
                    .map_err(wrap)?,
                }),
                "exponentialHistogram" => {
                    metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: points(d, &here, rejects, exp_histogram_point)
                            .map_err(wrap)?,
                        aggregation_temporality: enumeration(
                            d,
                            "aggregationTemporality",
                            "aggregation_temporality",
                            TEMPORALITIES,
                        )
                        .map_err(wrap)?,
                    })
                }
                _ => metric::Data::Summary(Summary {
                    data_points: points(d, &here, rejects, summary_point).map_err(wrap)?,
                }),
            })
        }
    };
    Ok(Metric {
        name: string(m, "name", "name")?,
        description: string(m, "description", "description")?,
        unit: string(m, "unit", "unit")?,
        metadata: Vec::new(),
        data,
    })
}

fn number_point(p: &Map<String, J>) -> R<NumberDataPoint> {
    let as_double = get(p, "asDouble", "as_double");
    let as_int = get(p, "asInt", "as_int");
    let value = match (as_double, as_int) {
        (Some(_), Some(_)) => {
            return Err(JErr::new("data point has both asDouble and asInt"));
        }
        (Some(d), None) => Some(number_data_point::Value::AsDouble(
            double(d).map_err(|e| e.at("asDouble"))?,
        )),
        (None, Some(i)) => Some(number_data_point::Value::AsInt(
            ranged(i, "int64").map_err(|e| e.at("asInt"))?,
        )),
        (None, None) => None,
    };
    Ok(NumberDataPoint {
        attributes: attributes(p)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: u64_field(p, "timeUnixNano", "time_unix_nano")?,
        exemplars: Vec::new(),
        flags: u32_field(p, "flags", "flags")?,
        value,
    })
}

fn u64_list(m: &Map<String, J>, camel: &str, snake: &str) -> R<Vec<u64>> {
    list(m, camel, snake)?
        .iter()
        .enumerate()
        .map(|(i, v)| ranged(v, "uint64").map_err(|e| e.at(format!("[{i}]")).at(camel)))
        .collect()
}

fn f64_list(m: &Map<String, J>, camel: &str, snake: &str) -> R<Vec<f64>> {
    list(m, camel, snake)?
        .iter()
        .enumerate()
        .map(|(i, v)| double(v).map_err(|e| e.at(format!("[{i}]")).at(camel)))
        .collect()
}

fn histogram_point(p: &Map<String, J>) -> R<HistogramDataPoint> {
    Ok(HistogramDataPoint {
        attributes: attributes(p)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: u64_field(p, "timeUnixNano", "time_unix_nano")?,
        count: u64_field(p, "count", "count")?,
        sum: double_field(p, "sum", "sum")?,
        bucket_counts: u64_list(p, "bucketCounts", "bucket_counts")?,
        explicit_bounds: f64_list(p, "explicitBounds", "explicit_bounds")?,
        exemplars: Vec::new(),
        flags: u32_field(p, "flags", "flags")?,
        min: double_field(p, "min", "min")?,
        max: double_field(p, "max", "max")?,
    })
}

fn buckets(p: &Map<String, J>, camel: &str) -> R<Option<Buckets>> {
    let Some(b) = message(p, camel, camel)? else {
        return Ok(None);
    };
    Ok(Some(Buckets {
        offset: i32_field(b, "offset", "offset").map_err(|e| e.at(camel))?,
        bucket_counts: u64_list(b, "bucketCounts", "bucket_counts").map_err(|e| e.at(camel))?,
    }))
}

fn exp_histogram_point(p: &Map<String, J>) -> R<ExponentialHistogramDataPoint> {
    Ok(ExponentialHistogramDataPoint {
        attributes: attributes(p)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: u64_field(p, "timeUnixNano", "time_unix_nano")?,
        count: u64_field(p, "count", "count")?,
        sum: double_field(p, "sum", "sum")?,
        scale: i32_field(p, "scale", "scale")?,
        zero_count: u64_field(p, "zeroCount", "zero_count")?,
        positive: buckets(p, "positive")?,
        negative: buckets(p, "negative")?,
        flags: u32_field(p, "flags", "flags")?,
        exemplars: Vec::new(),
        min: double_field(p, "min", "min")?,
        max: double_field(p, "max", "max")?,
        zero_threshold: double_field(p, "zeroThreshold", "zero_threshold")?.unwrap_or(0.0),
    })
}

fn summary_point(p: &Map<String, J>) -> R<SummaryDataPoint> {
    let mut quantile_values = Vec::new();
    for (i, q) in list(p, "quantileValues", "quantile_values")?
        .iter()
        .enumerate()
    {
        let wrap = |e: JErr| e.at(format!("[{i}]")).at("quantileValues");
        let q = object(q).map_err(wrap)?;
        quantile_values.push(ValueAtQuantile {
            quantile: double_field(q, "quantile", "quantile")
                .map_err(wrap)?
                .unwrap_or(0.0),
            value: double_field(q, "value", "value")
                .map_err(wrap)?
                .unwrap_or(0.0),
        });
    }
    Ok(SummaryDataPoint {
        attributes: attributes(p)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", "start_time_unix_nano")?,
        time_unix_nano: u64_field(p, "timeUnixNano", "time_unix_nano")?,
        count: u64_field(p, "count", "count")?,
        sum: double_field(p, "sum", "sum")?.unwrap_or(0.0),
        quantile_values,
        flags: u32_field(p, "flags", "flags")?,
    })
}
