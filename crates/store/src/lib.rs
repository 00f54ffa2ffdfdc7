//! Storage: the [`Store`] trait every front end talks to, and its embedded DuckDB
//! implementation ([`DuckStore`]).
//!
//! Architecture Invariant: this is the only crate that links DuckDB. Protocol front ends and
//! the query planner know nothing of it; a ClickHouse store will implement the same trait.

mod duck;
pub mod log;

pub use duck::{
    tuning_statements, CommitFault, DuckStore, StoreOptions, DB_FILE_NAME, DUCKDB_SETTINGS_ALLOWED,
};
pub use log::{LogMark, LoggedStore};

use model::schema::Catalog;
use model::{Event, TraceId, Value};

/// Rows as a store returns them: one `Vec` per row, `None` for NULL.
pub type Rows = Vec<Vec<Option<Value>>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("could not open the data directory {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("query failed: {0}")]
    Query(String),
    /// The store cannot take more now (its load queue is full); retry later. Nothing of the
    /// request was stored.
    #[error("the store is busy loading earlier data; retry later")]
    Overloaded,
}

/// What one insert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertReport {
    pub rows: u64,
    /// Fields kept in the overflow column instead of a column of their own (a column
    /// budget was reached, or the value did not fit its column's type).
    pub fields_spilled: u64,
    /// (index among the inserted events, fields spilled) for each event with spilled fields.
    pub spilled_at: Vec<(u32, u32)>,
    /// Whether the catalog changed (columns added, keys spilled for the first time).
    pub schema_changed: bool,
    /// Events of the request that the store refused (the pipeline isolates a failing
    /// event so its neighbours commit), with the reason.
    pub rejected: u64,
    /// Indices (among the inserted events) of the events not stored, ascending.
    pub rejected_at: Vec<u32>,
    pub rejected_reason: Option<String>,
    /// Where the time went (µs): schema changes, building the batch, appending, committing.
    pub schema_us: u64,
    pub build_us: u64,
    pub append_us: u64,
    pub commit_us: u64,
}

/// A dataset and how much it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    pub name: String,
    pub events: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// An attribute column as one dataset sees it (Honeycomb `GET /1/columns`).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetColumn {
    pub name: String,
    pub ty: model::value::ColumnType,
    /// When this dataset first wrote the column (Unix ns).
    pub created_ns: i64,
}

/// A small JSON document kept beside the events: saved queries, markers, derived columns,
/// and later X-Ray groups or sampling rules. `kind` names the collection.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaDoc {
    pub kind: String,
    pub id: String,
    pub dataset: String,
    pub body: serde_json::Value,
    pub created_ns: i64,
}

/// The storage interface. Every method is blocking: callers on an async runtime run them on
/// a blocking thread.
pub trait Store: Send + Sync + 'static {
    /// Inserts and commits: when this returns `Ok`, the events survive a crash.
    fn insert(&self, events: &[Event]) -> Result<InsertReport, StoreError>;
    /// [`Store::insert`], taking the events: a store that keeps them after acknowledging
    /// ([`LoggedStore`]) then needs no copy. Returns the events it did not keep (all of
    /// them on failure, so the caller can retry parts), for the caller to reuse or free.
    fn insert_owned(&self, events: Vec<Event>) -> (Result<InsertReport, StoreError>, Vec<Event>) {
        (self.insert(&events), events)
    }
    /// [`Store::insert`] that also records, in the same transaction, how far an ingest
    /// log has been loaded ([`LoggedStore`]'s exactly-once replay). `events` may be empty
    /// (the mark alone moves).
    fn insert_marked(&self, events: &[Event], mark: LogMark) -> Result<InsertReport, StoreError> {
        let _ = (events, mark);
        Err(StoreError::Engine(
            "this store cannot record an ingest-log position".into(),
        ))
    }
    /// The last mark [`Store::insert_marked`] committed (`None`: never).
    fn log_mark(&self) -> Result<Option<LogMark>, StoreError> {
        Ok(None)
    }
    /// Counters of a layer in front of the store (the ingest log's), for
    /// `/api/waggle/stats`.
    fn stats(&self) -> Option<serde_json::Value> {
        None
    }
    /// Attribute columns present.
    fn catalog(&self) -> Catalog;
    /// The largest sample rate ever stored (1 when nothing is sampled): lets the query
    /// layer use unweighted exact aggregates when every weight is 1.
    fn max_sample_rate(&self) -> u32;
    /// Every event of one trace (spans, span events, links, linked logs), in time order.
    fn trace(&self, id: TraceId) -> Result<Vec<Event>, StoreError>;
    /// Every event of each of `ids` (as [`Store::trace`]), in the order of `ids`; a store
    /// may read them in one pass (GetTraceSummaries reads a page of traces at once).
    fn traces(&self, ids: &[TraceId]) -> Result<Vec<Vec<Event>>, StoreError> {
        ids.iter().map(|id| self.trace(*id)).collect()
    }
    /// Runs read-only SQL produced by the query crate's dialect for this store.
    fn run_sql(&self, sql: &str) -> Result<Rows, StoreError>;
    /// Datasets with event counts.
    fn datasets(&self) -> Result<Vec<DatasetInfo>, StoreError>;
    /// Deletes events older than each dataset's retention; returns rows deleted.
    fn apply_retention(&self, now_ns: i64) -> Result<u64, StoreError>;
    /// Sets one dataset's retention (`None` = the default).
    fn set_retention(&self, dataset: &str, days: Option<u32>) -> Result<(), StoreError>;
    /// Flushes everything to the main file (DuckDB: CHECKPOINT).
    fn checkpoint(&self) -> Result<(), StoreError>;
    /// Bytes the store occupies on disk.
    fn disk_bytes(&self) -> u64;
    /// Attribute columns one dataset has written (`None`: every dataset).
    fn dataset_columns(&self, dataset: Option<&str>) -> Result<Vec<DatasetColumn>, StoreError>;
    /// Creates or replaces a document.
    fn put_doc(&self, doc: &MetaDoc) -> Result<(), StoreError>;
    fn get_doc(&self, kind: &str, id: &str) -> Result<Option<MetaDoc>, StoreError>;
    /// Documents of one kind, optionally of one dataset, oldest first.
    fn list_docs(&self, kind: &str, dataset: Option<&str>) -> Result<Vec<MetaDoc>, StoreError>;
    /// Returns whether a document was deleted.
    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool, StoreError>;
    /// Deletes the events of `dataset` (case-insensitive, as queries scope it) for which
    /// `predicate_sql` holds; returns rows deleted. The predicate is SQL from the query
    /// crate's renderer for this store's dialect, over the row alias `events` (CloudWatch
    /// Logs' DeleteLogGroup / DeleteLogStream). Stores that cannot delete say so.
    fn delete_events(&self, dataset: &str, predicate_sql: &str) -> Result<u64, StoreError> {
        let _ = (dataset, predicate_sql);
        Err(StoreError::Engine(
            "this store cannot delete individual events".into(),
        ))
    }
}
