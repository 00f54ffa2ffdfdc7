//! [`Event`]: the one wide-event shape every signal and protocol maps onto.

use crate::ids::{SpanId, TraceId};
use crate::value::Value;

/// What an event records. Stored as a small integer (`repr(u8)` values are on disk: never
/// renumber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignalKind {
    /// A span (OTLP span, X-Ray segment or subsegment, Honeycomb event with a span id).
    Span = 0,
    /// A span event (`meta.annotation_type = "span_event"`); `parent_id` is its span.
    SpanEvent = 1,
    /// A span link (`meta.annotation_type = "link"`); `parent_id` is its span.
    Link = 2,
    /// A log record.
    Log = 3,
    /// A metric data point.
    Metric = 4,
    /// An error occurrence (Rollbar item, X-Ray exception).
    Error = 5,
    /// A plain Honeycomb event with no trace shape.
    Plain = 6,
}

impl SignalKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Span,
            1 => Self::SpanEvent,
            2 => Self::Link,
            3 => Self::Log,
            4 => Self::Metric,
            5 => Self::Error,
            6 => Self::Plain,
            _ => return None,
        })
    }

    /// Honeycomb's `meta.signal_type`.
    pub fn signal_type(self) -> &'static str {
        match self {
            Self::Span | Self::SpanEvent | Self::Link => "trace",
            Self::Log => "log",
            Self::Metric => "metric",
            Self::Error => "error",
            Self::Plain => "event",
        }
    }
}

/// One wide event. The typed members are the fields every signal shares and that the store
/// indexes; everything else is in `fields`, named as Honeycomb names it (`http.route`,
/// `span.kind`, `status_code`, `meta.annotation_type`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Honeycomb dataset (for OTLP: the resource's `service.name`).
    pub dataset: String,
    /// Event time, Unix nanoseconds (span start for spans).
    pub time_ns: i64,
    pub kind: SignalKind,
    pub trace_id: Option<TraceId>,
    /// The span's own id (spans only).
    pub span_id: Option<SpanId>,
    /// Parent span for spans; owning span for span events, links and trace-linked logs.
    pub parent_id: Option<SpanId>,
    /// `name`: span name, event name, metric name, log event name.
    pub name: Option<String>,
    /// `service.name`.
    pub service: Option<String>,
    /// `duration_ms` (spans).
    pub duration_ms: Option<f64>,
    /// Honeycomb sample rate: this event stands for `sample_rate` events (≥ 1).
    pub sample_rate: u32,
    /// All other fields, in arrival order. Keys are unique.
    pub fields: Vec<(String, Value)>,
    /// Which of `fields` came from the OTLP resource, so read APIs can rebuild it.
    pub resource_keys: Vec<String>,
}

impl Event {
    pub fn new(dataset: impl Into<String>, time_ns: i64, kind: SignalKind) -> Self {
        Self {
            dataset: dataset.into(),
            time_ns,
            kind,
            trace_id: None,
            span_id: None,
            parent_id: None,
            name: None,
            service: None,
            duration_ms: None,
            sample_rate: 1,
            fields: Vec::new(),
            resource_keys: Vec::new(),
        }
    }

    /// Sets a field, replacing an earlier value of the same key.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.fields.push((key, value));
        }
    }

    /// Sets a field only if it is not present yet (husky's "first occurrence wins").
    pub fn set_if_absent(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if !self.fields.iter().any(|(k, _)| *k == key) {
            self.fields.push((key, value));
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes and returns a field.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let pos = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(pos).1)
    }
}
