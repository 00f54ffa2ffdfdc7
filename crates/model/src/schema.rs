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

/// Where values live that have no column of their own: a field over a budget below, or a
/// value whose type its column cannot hold without loss (a column's type never changes once
/// created, so acknowledged data is never rewritten). One text cell per event in the
/// [`overflow`] encoding; queries read a key from it whenever the catalog says the key has
/// spilled there.
pub const COL_OVERFLOW: &str = "__overflow";

/// The overflow column's encoding: `␟key␞Tvalue` per field (␟ = U+001F, ␞ = U+001E, `T` one
/// of `s i f b` for the value's type), so a key's value is found with a plain regular
/// expression by any SQL engine, without a JSON extension. The two separators are replaced
/// by U+FFFD inside keys and values (the only loss, and only of those control characters).
pub mod overflow {
    use crate::value::Value;

    pub const ENTRY: char = '\u{1f}';
    pub const KEY_END: char = '\u{1e}';

    fn clean(s: &str, out: &mut String) {
        for c in s.chars() {
            out.push(if c == ENTRY || c == KEY_END {
                '\u{fffd}'
            } else {
                c
            });
        }
    }

    /// Appends one field to an overflow cell.
    pub fn push(cell: &mut String, key: &str, value: &Value) {
        cell.push(ENTRY);
        clean(key, cell);
        cell.push(KEY_END);
        match value {
            Value::Str(s) => {
                cell.push('s');
                clean(s, cell);
            }
            Value::Int(i) => {
                cell.push('i');
                cell.push_str(&i.to_string());
            }
            Value::Float(f) => {
                cell.push('f');
                // Rust's shortest round-trip form; `NaN`, `inf`, `-inf` cast back in SQL.
                cell.push_str(&f.to_string());
            }
            Value::Bool(b) => {
                cell.push('b');
                cell.push_str(if *b { "true" } else { "false" });
            }
        }
    }

    /// The fields of an overflow cell, typed as they were stored.
    pub fn decode(cell: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for entry in cell.split(ENTRY).filter(|e| !e.is_empty()) {
            let Some((key, rest)) = entry.split_once(KEY_END) else {
                continue;
            };
            let mut chars = rest.chars();
            let tag = chars.next();
            let text = chars.as_str();
            let value = match tag {
                Some('i') => text.parse().map(Value::Int).ok(),
                Some('f') => text.parse().map(Value::Float).ok(),
                Some('b') => Some(Value::Bool(text == "true")),
                Some('s') => Some(Value::Str(text.to_string())),
                _ => None,
            };
            if let Some(v) = value {
                out.push((key.to_string(), v));
            }
        }
        out
    }
}

/// Maximum number of attribute columns one store creates (our choice: Honeycomb allows 2000
/// fields per event; a store-wide cap bounds the table's width when keys are
/// high-cardinality garbage). Fields beyond it are kept in [`COL_OVERFLOW`] and counted.
pub const ATTRIBUTE_COLUMNS_MAX: usize = 4000;

/// Attribute columns one dataset may write, at most (our choice: a quarter of
/// [`ATTRIBUTE_COLUMNS_MAX`], so one client's dataset of random keys cannot take the whole
/// table from the others; Honeycomb's per-event limit is 2,000 fields). A dataset's further
/// keys are kept in [`COL_OVERFLOW`].
pub const DATASET_COLUMNS_MAX: usize = 1000;

const _: () = assert!(DATASET_COLUMNS_MAX <= ATTRIBUTE_COLUMNS_MAX);

/// Datasets whose columns a store tracks, at most (our choice: the per-dataset column flags
/// cost ATTRIBUTE_COLUMNS_MAX / 8 = 500 bytes each, so 10,000 datasets stay under ~6 MB).
/// Events of further datasets are stored with every field in [`COL_OVERFLOW`].
pub const DATASETS_TRACKED_MAX: usize = 10_000;

/// How a field key maps onto a physical column: DuckDB compares identifiers
/// case-insensitively (ASCII letters) even when quoted, so `Foo` and `foo` are one column,
/// named as first seen (Honeycomb's column names behave the same way). NUL cannot reach
/// SQL text and is folded to U+FFFD like the dialect's quoting does.
pub fn fold_key(key: &str) -> String {
    let mut out = key.to_ascii_lowercase();
    if out.contains('\0') {
        out = out.replace('\0', "\u{fffd}");
    }
    out
}

/// Whether a key names (case-insensitively) one of the fixed columns or the reserved `__`
/// space: such a key is stored as `user.{key}` so it can never collide with them.
pub fn is_reserved_key(key: &str) -> bool {
    key.len() >= 2 && key.as_bytes()[..2] == *b"__"
        || [COL_NAME, COL_SERVICE, COL_DURATION_MS]
            .iter()
            .any(|f| f.eq_ignore_ascii_case(key))
        || is_computed_field(key)
        || key.eq_ignore_ascii_case(FIELD_TIMESTAMP)
}

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
    /// Keys with values in [`COL_OVERFLOW`], with the widest type stored there (a key may
    /// also have a column of its own, holding its other values).
    pub overflow: Vec<Column>,
}

impl Catalog {
    /// A stored column by name: exact, else case-insensitively (see [`fold_key`]).
    pub fn get(&self, name: &str) -> Option<&Column> {
        find_column(&self.columns, name)
    }

    /// A key's values in the overflow column, by name like [`Catalog::get`].
    pub fn get_overflow(&self, name: &str) -> Option<&Column> {
        find_column(&self.overflow, name)
    }

    /// The type of any column a query may name: fixed, computed or attribute.
    pub fn type_of(&self, name: &str) -> Option<ColumnType> {
        match name {
            COL_NAME | COL_SERVICE | FIELD_TRACE_ID | FIELD_SPAN_ID | FIELD_PARENT_ID => {
                Some(ColumnType::String)
            }
            COL_DURATION_MS => Some(ColumnType::Float),
            FIELD_TIMESTAMP => Some(ColumnType::Integer),
            _ => match (self.get(name), self.get_overflow(name)) {
                (Some(c), Some(o)) => Some(crate::value::widen(c.ty, o.ty)),
                (Some(c), None) | (None, Some(c)) => Some(c.ty),
                (None, None) => None,
            },
        }
    }
}

fn find_column<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|c| c.name == name).or_else(|| {
        let folded = fold_key(name);
        columns.iter().find(|c| fold_key(&c.name) == folded)
    })
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
