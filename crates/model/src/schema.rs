//! How events are laid out as columns: the fixed columns every row has, the Honeycomb
//! names that map onto them, and the [`Catalog`] of attribute columns a store has seen.
//!
//! Architecture Invariant: this names columns but renders no SQL; the query crate's dialects
//! quote and render them.

use crate::value::ColumnType;

/// Fixed internal columns. The `__` prefix keeps them apart from user attributes; a user
/// attribute that starts with `__` is renamed with [`escape_user_key`].
pub const COL_DATASET: &str = "__dataset";
pub const COL_TIME_NS: &str = "__time_ns";
pub const COL_KIND: &str = "__kind";
pub const COL_SAMPLE_RATE: &str = "__sample_rate";
pub const COL_TRACE_HI: &str = "__trace_hi";
pub const COL_TRACE_LO: &str = "__trace_lo";
pub const COL_SPAN_ID: &str = "__span_id";
pub const COL_PARENT_ID: &str = "__parent_id";
pub const COL_RESOURCE_KEYS: &str = "__resource_keys";
/// Ingest sequence number: the store numbers events in commit order, so a trace's spans can
/// be found by a narrow range of it (see the store's trace index). NULL on events stored
/// before the column existed.
pub const COL_SEQ: &str = "__seq";

/// Fixed columns that are also Honeycomb fields, under their Honeycomb names.
pub const COL_NAME: &str = "name";
pub const COL_SERVICE: &str = "service.name";
pub const COL_DURATION_MS: &str = "duration_ms";

/// Honeycomb fields that are computed from the fixed id columns rather than stored.
pub const FIELD_TRACE_ID: &str = "trace.trace_id";
pub const FIELD_SPAN_ID: &str = "trace.span_id";
pub const FIELD_PARENT_ID: &str = "trace.parent_id";
/// Honeycomb's event timestamp, exposed read-only.
pub const FIELD_TIMESTAMP: &str = "timestamp";

/// Separator inside `__resource_keys` (ASCII unit separator: cannot appear in a sane key
/// and is escaped away if it does).
pub const RESOURCE_KEY_SEP: char = '\u{1f}';

/// Maximum number of attribute columns one store creates (our choice: Honeycomb allows 2000
/// fields per event; a store-wide cap bounds the schema when keys are high-cardinality
/// garbage). Fields beyond it are dropped and counted.
pub const ATTRIBUTE_COLUMNS_MAX: usize = 4000;

/// Longest attribute key (Honeycomb column `key_name` is 1-255 characters).
pub const KEY_LEN_MAX: usize = 255;

/// A user key that collides with an internal or computed name is stored with a `user.`
/// prefix, so nothing a client sends can overwrite the fixed columns.
pub fn escape_user_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.starts_with("__") || is_computed_field(key) || key == FIELD_TIMESTAMP {
        std::borrow::Cow::Owned(format!("user.{key}"))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

/// Fields that the query layer renders from fixed columns.
pub fn is_computed_field(key: &str) -> bool {
    matches!(key, FIELD_TRACE_ID | FIELD_SPAN_ID | FIELD_PARENT_ID)
}

/// One attribute column a store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// The attribute columns a store has, with their types: what the query planner checks
/// column references against and what `GET /1/columns` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub columns: Vec<Column>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The type of any column a query may name: fixed, computed or attribute.
    pub fn type_of(&self, name: &str) -> Option<ColumnType> {
        match name {
            COL_NAME | COL_SERVICE | FIELD_TRACE_ID | FIELD_SPAN_ID | FIELD_PARENT_ID => {
                Some(ColumnType::String)
            }
            COL_DURATION_MS => Some(ColumnType::Float),
            FIELD_TIMESTAMP => Some(ColumnType::Integer),
            _ => self.get(name).map(|c| c.ty),
        }
    }
}

/// Fields the OTLP translation computes (husky's names). Read APIs that rebuild OTLP leave
/// these out of the rebuilt attributes; a client attribute with one of these names takes
/// precedence on ingest (as in husky) and is then read back as the computed field.
pub const COMPUTED_FIELDS: &[&str] = &[
    "span.kind",
    "type",
    "status_code",
    "status_message",
    "error",
    "span.num_events",
    "span.num_links",
    "trace.trace_state",
    "library.name",
    "library.version",
    "telemetry.instrumentation_library",
    "meta.signal_type",
    "meta.annotation_type",
    "meta.invalid_duration",
    "meta.invalid_time_since_span_start",
    "meta.time_since_span_start_ms",
    "resource.schema_url",
    "scope.schema_url",
    "parent_name",
    "trace.link.trace_id",
    "trace.link.span_id",
    "trace.link.trace_state",
    "severity",
    "severity_code",
    "severity_text",
    "flags",
    "body",
    "event.name",
];
