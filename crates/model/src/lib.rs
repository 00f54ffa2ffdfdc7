//! The wide-event model: one shape for spans, span events, links, logs, metric points and
//! error occurrences, plus the ids that join them across protocols. No I/O.
//!
//! Every protocol decodes into [`Event`] and every read API encodes from it, so an X-Ray call
//! can return spans that arrived over OTLP. Field names follow Honeycomb's OTLP translation
//! (husky), which is what users of the seed system query by.

pub mod event;
pub mod ids;
pub mod schema;
pub mod value;

pub use event::{Event, SignalKind};
pub use ids::{IdError, SpanId, TraceId};
pub use value::Value;
