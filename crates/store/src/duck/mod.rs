//! The embedded store: one DuckDB file, one wide `events` table with a column per attribute
//! key (Honeycomb's layout; chosen by measurement, see BENCHMARKS.md), group-committed inserts
//! through the Arrow appender, and a small pool of read connections.

mod batch;
mod convert;
mod trace_index;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use duckdb::Connection;
use model::schema::{self, Catalog, Column};
use model::value::ColumnType;
use model::{Event, TraceId};

use crate::{DatasetColumn, DatasetInfo, InsertReport, LogMark, MetaDoc, Rows, Store, StoreError};

/// File name inside the data directory.
pub const DB_FILE_NAME: &str = "waggle.duckdb";

/// The fixed columns, in table order, with their DuckDB types. `batch.rs` builds Arrow
/// arrays in exactly this order.
pub(crate) const FIXED_COLUMNS: &[(&str, &str)] = &[
    (schema::COL_DATASET, "VARCHAR NOT NULL"),
    (schema::COL_TIME_NS, "BIGINT NOT NULL"),
    (schema::COL_KIND, "UTINYINT NOT NULL"),
    (schema::COL_SAMPLE_RATE, "INTEGER NOT NULL"),
    (schema::COL_TRACE_HI, "BIGINT"),
    (schema::COL_TRACE_LO, "BIGINT"),
    (schema::COL_SPAN_ID, "BIGINT"),
    (schema::COL_PARENT_ID, "BIGINT"),
    (schema::COL_RESOURCE_KEYS, "VARCHAR"),
    (schema::COL_NAME, "VARCHAR"),
    (schema::COL_SERVICE, "VARCHAR"),
    (schema::COL_DURATION_MS, "DOUBLE"),
    (schema::COL_SEQ, "BIGINT"),
];

/// WAL size that triggers a checkpoint (our choice, measured: DuckDB's default 16 MiB makes
/// every few commits compress and rewrite the open row group, which cost 18 µs per span and
/// halved ingest in BENCHMARKS.md; 256 MiB amortises it. A crash replays at most this much
/// WAL on the next start, about a second).
pub const CHECKPOINT_THRESHOLD: &str = "256MB";

/// Read connections kept open (our choice: one per core on the 2-core target machine, plus
/// one so a slow query does not block trace lookups).
pub const READ_CONNECTIONS_DEFAULT: usize = 3;

/// Settings for [`DuckStore`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Days to keep events of datasets without their own setting; 0 keeps forever.
    pub retention_days_default: u32,
    /// Per-dataset retention in days (0 keeps forever).
    pub retention_days: HashMap<String, u32>,
    /// DuckDB `memory_limit` (e.g. "2GB").
    pub memory_limit: Option<String>,
    /// DuckDB worker threads (None = DuckDB's default: one per core).
    pub threads: Option<usize>,
    pub read_connections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            retention_days_default: 30,
            retention_days: HashMap::new(),
            memory_limit: None,
            threads: None,
            read_connections: READ_CONNECTIONS_DEFAULT,
        }
    }
}

pub(crate) struct Writer {
    conn: Connection,
    /// Attribute columns, spilled keys, and the columns each dataset has written (what is
    /// recorded in `dataset_columns`).
    layout: batch::Layout,
    /// `__seq` of the next event committed.
    next_seq: i64,
}

/// Decides, for a group about to commit, whether to fail it (fault injection for tests of
/// the rollback and isolation paths).
pub type CommitFault = Box<CommitFaultFn>;
/// The decision function behind a [`CommitFault`].
pub type CommitFaultFn = dyn Fn(&[Event]) -> bool + Send + Sync;

/// DuckDB-backed [`Store`].
pub struct DuckStore {
    fault: RwLock<Option<CommitFault>>,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// Kept to open more read connections when the pool is empty.
    spare: Mutex<Connection>,
    catalog: RwLock<Catalog>,
    dir: Option<PathBuf>,
    retention_default: u32,
    max_sample_rate: std::sync::atomic::AtomicU32,
    /// Events stored before `__seq` existed (migrated stores): trace lookups also scan them.
    unsequenced: std::sync::atomic::AtomicBool,
}

fn engine(e: duckdb::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// Quotes an identifier for DuckDB: the query crate's dialect, the one quoting function.
pub(crate) fn ident(name: &str) -> String {
    use query::dialect::Dialect;
    query::DuckDb.ident(name)
}

/// Quotes a string literal for DuckDB (the dialect's).
pub(crate) fn literal(s: &str) -> String {
    use query::dialect::Dialect;
    query::DuckDb.string(s)
}

pub(crate) fn duck_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "VARCHAR",
        ColumnType::Integer => "BIGINT",
        ColumnType::Float => "DOUBLE",
        ColumnType::Boolean => "BOOLEAN",
    }
}

fn column_type_of(duck: &str) -> ColumnType {
    match duck.to_ascii_uppercase().as_str() {
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "HUGEINT" | "UBIGINT" | "UINTEGER" => {
            ColumnType::Integer
        }
        "DOUBLE" | "FLOAT" | "REAL" => ColumnType::Float,
        "BOOLEAN" => ColumnType::Boolean,
        _ => ColumnType::String,
    }
}

impl DuckStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let path = dir.join(DB_FILE_NAME);
        let conn = Connection::open(&path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::init(conn, Some(dir.to_path_buf()), options)
    }

    /// A store that lives in memory only (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(engine)?;
        Self::init(conn, None, StoreOptions::default())
    }

    fn init(
        conn: Connection,
        dir: Option<PathBuf>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let mut setup = format!(
            "SET checkpoint_threshold = {};",
            literal(CHECKPOINT_THRESHOLD)
        );
        if let Some(limit) = &options.memory_limit {
            setup.push_str(&format!("SET memory_limit = {};", literal(limit)));
        }
        // Tuning knob for experiments and operators: extra DuckDB `SET` statements,
        // e.g. WAGGLE_DUCKDB_SET="checkpoint_threshold='256MB'". Only settings that cannot
        // weaken "a 2xx means committed" are accepted.
        if let Ok(extra) = std::env::var(DUCKDB_SET_ENV) {
            for stmt in tuning_statements(&extra)? {
                setup.push_str(&stmt);
            }
        }
        if let Some(threads) = options.threads {
            setup.push_str(&format!("SET threads = {};", threads.max(1)));
        }
        let fixed: Vec<String> = FIXED_COLUMNS
            .iter()
            .map(|(n, t)| format!("{} {t}", ident(n)))
            .collect();
        setup.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS events ({});\
             CREATE TABLE IF NOT EXISTS retention (dataset VARCHAR PRIMARY KEY, days INTEGER NOT NULL);\
             CREATE TABLE IF NOT EXISTS dataset_columns (dataset VARCHAR NOT NULL, name VARCHAR NOT NULL, created_ns BIGINT NOT NULL, PRIMARY KEY (dataset, name));\
             CREATE TABLE IF NOT EXISTS overflow_columns (name VARCHAR PRIMARY KEY, type VARCHAR NOT NULL);\
             CREATE TABLE IF NOT EXISTS ingest_log_mark (id INTEGER PRIMARY KEY, lsn UBIGINT NOT NULL, mark_offset UINTEGER NOT NULL);\
             CREATE TABLE IF NOT EXISTS docs (kind VARCHAR NOT NULL, id VARCHAR NOT NULL, dataset VARCHAR NOT NULL, body VARCHAR NOT NULL, created_ns BIGINT NOT NULL, PRIMARY KEY (kind, id));",
            fixed.join(", ")
        ));
        conn.execute_batch(&setup).map_err(engine)?;
        conn.execute_batch(trace_index::CREATE).map_err(engine)?;
        let unsequenced = add_seq_column(&conn)?;
        for (dataset, days) in &options.retention_days {
            conn.execute(
                "INSERT OR REPLACE INTO retention VALUES (?, ?)",
                duckdb::params![dataset.to_lowercase(), *days],
            )
            .map_err(engine)?;
        }
        let layout = read_layout(&conn)?;
        let mut readers = Vec::new();
        for _ in 0..options.read_connections.max(1) {
            readers.push(conn.try_clone().map_err(engine)?);
        }
        let spare = conn.try_clone().map_err(engine)?;
        let next_seq = next_seq(&conn)?;
        Ok(Self {
            fault: RwLock::new(None),
            catalog: RwLock::new(layout.catalog()),
            writer: Mutex::new(Writer {
                conn,
                layout,
                next_seq,
            }),
            readers: Mutex::new(readers),
            spare: Mutex::new(spare),
            dir,
            retention_default: options.retention_days_default,
            max_sample_rate: std::sync::atomic::AtomicU32::new(1),
            unsequenced: std::sync::atomic::AtomicBool::new(unsequenced),
        })
        .and_then(|store| {
            let rows = store.run_sql("SELECT max(\"__sample_rate\") FROM events")?;
            if let Some(Some(model::Value::Int(m))) = rows.first().and_then(|r| r.first()) {
                store.max_sample_rate.store(
                    u32::try_from(*m).unwrap_or(u32::MAX).max(1),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            Ok(store)
        })
    }

    /// Makes every commit for which `fault` answers true fail after its rows are appended
    /// (the transaction rolls back), as a full disk or an I/O error would.
    pub fn set_commit_fault(&self, fault: Option<CommitFault>) {
        if let Ok(mut f) = self.fault.write() {
            *f = fault;
        }
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().map_err(|_| poisoned())?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => self
                .spare
                .lock()
                .map_err(|_| poisoned())?
                .try_clone()
                .map_err(engine)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        out
    }

    fn retention_days(&self) -> Result<HashMap<String, u32>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c
                .prepare("SELECT dataset, days FROM retention")
                .map_err(engine)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(engine)?;
            let mut out = HashMap::new();
            for row in rows {
                let (d, days) = row.map_err(engine)?;
                out.insert(d, u32::try_from(days.max(0)).unwrap_or(u32::MAX));
            }
            Ok(out)
        })
    }
}

/// Environment variable with extra DuckDB settings (`name = value; …`).
pub const DUCKDB_SET_ENV: &str = "WAGGLE_DUCKDB_SET";

/// DuckDB settings an operator may change (our choice: memory, threads, spilling and
/// checkpoint cadence only). Anything that could let a commit return before its WAL is
/// on disk, or change what a query returns, is refused at start-up.
pub const DUCKDB_SETTINGS_ALLOWED: &[&str] = &[
    "checkpoint_threshold",
    "wal_autocheckpoint",
    "memory_limit",
    "max_memory",
    "threads",
    "worker_threads",
    "temp_directory",
    "max_temp_directory_size",
    "preserve_insertion_order",
];

/// `SET` statements for `name = value; …`, or an error naming the refused setting.
pub fn tuning_statements(spec: &str) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for stmt in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let refuse = |why: &str| StoreError::Open {
            path: DUCKDB_SET_ENV.to_string(),
            reason: format!("{stmt:?}: {why}"),
        };
        let (name, value) = stmt
            .split_once('=')
            .ok_or_else(|| refuse("expected name = value"))?;
        let name = name.trim();
        let value = value.trim();
        if !DUCKDB_SETTINGS_ALLOWED
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name))
        {
            return Err(refuse(&format!(
                "this setting is not allowed (it could weaken durability or change query \
                 answers); allowed: {}",
                DUCKDB_SETTINGS_ALLOWED.join(", ")
            )));
        }
        if value.is_empty() || value.chars().any(|c| c.is_control() || c == '"') {
            return Err(refuse(
                "the value is empty or has control characters or quotes",
            ));
        }
        out.push(format!("SET {name} = {value};"));
    }
    Ok(out)
}

fn poisoned() -> StoreError {
    StoreError::Engine("a store lock was poisoned by an earlier panic".into())
}

/// The writer's layout as the database holds it: attribute columns, spilled keys, and the
/// columns each dataset has written.
fn read_layout(conn: &Connection) -> Result<batch::Layout, StoreError> {
    let columns = read_columns(conn)?;
    let overflow = {
        let mut stmt = conn
            .prepare("SELECT name, type FROM overflow_columns")
            .map_err(engine)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(engine)?;
        let mut out = Vec::new();
        for row in rows {
            let (name, ty) = row.map_err(engine)?;
            out.push(Column {
                name,
                ty: column_type_of(&ty),
            });
        }
        out
    };
    let mut layout = batch::Layout::new(columns, overflow);
    let mut stmt = conn
        .prepare("SELECT dataset, name FROM dataset_columns")
        .map_err(engine)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(engine)?;
    for row in rows {
        let (d, c) = row.map_err(engine)?;
        if let Some(&i) = layout.index.get(&schema::fold_key(&c)) {
            layout.datasets.entry(d).or_default().mark(i);
        }
    }
    Ok(layout)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Stores created before `__seq` existed get it, in its place among the fixed columns (the
/// Arrow batches are built in that order), by copying `events` once. Returns whether the
/// store holds events without a sequence number.
fn add_seq_column(conn: &Connection) -> Result<bool, StoreError> {
    let has_seq = query_i64(
        conn,
        &format!(
            "SELECT count(*) FROM pragma_table_info('events') WHERE name = {}",
            literal(schema::COL_SEQ)
        ),
    )? > 0;
    if has_seq {
        let unsequenced = query_i64(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE \"__seq\" IS NULL LIMIT 1)",
        )?;
        return Ok(unsequenced > 0);
    }
    let attrs = read_columns(conn)?;
    let mut ddl: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|(n, t)| format!("{} {t}", ident(n)))
        .collect();
    let mut select: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|(n, _)| {
            if *n == schema::COL_SEQ {
                "NULL".to_string()
            } else {
                ident(n)
            }
        })
        .collect();
    for c in &attrs {
        ddl.push(format!("{} {}", ident(&c.name), duck_type(c.ty)));
        select.push(ident(&c.name));
    }
    tracing::info!(
        "adding the {} column to the events table (one-time copy)",
        schema::COL_SEQ
    );
    conn.execute_batch(&format!(
        "BEGIN TRANSACTION;\
         CREATE TABLE events_with_seq ({});\
         INSERT INTO events_with_seq SELECT {} FROM events;\
         DROP TABLE events;\
         ALTER TABLE events_with_seq RENAME TO events;\
         COMMIT;",
        ddl.join(", "),
        select.join(", ")
    ))
    .map_err(engine)?;
    Ok(query_i64(conn, "SELECT count(*) FROM events")? > 0)
}

/// One past the largest sequence number in the store.
fn next_seq(conn: &Connection) -> Result<i64, StoreError> {
    query_i64(
        conn,
        "SELECT greatest(\
           (SELECT coalesce(max(\"__seq\"), -1) FROM events),\
           (SELECT coalesce(max(seq_first + seq_len), -1) FROM trace_index)) + 1",
    )
}

/// The one integer a query returns.
fn query_i64(conn: &Connection, sql: &str) -> Result<i64, StoreError> {
    conn.prepare(sql)
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        .map_err(engine)
}

fn read_columns(conn: &Connection) -> Result<Vec<Column>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT name, type FROM pragma_table_info('events') ORDER BY cid")
        .map_err(engine)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(engine)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, ty) = row.map_err(engine)?;
        if FIXED_COLUMNS.iter().any(|(f, _)| *f == name) {
            continue;
        }
        out.push(Column {
            name,
            ty: column_type_of(&ty),
        });
    }
    Ok(out)
}

impl DuckStore {
    fn insert_with(
        &self,
        events: &[Event],
        mark: Option<LogMark>,
    ) -> Result<InsertReport, StoreError> {
        if events.is_empty() && mark.is_none() {
            return Ok(InsertReport::default());
        }
        let rate = events.iter().map(|e| e.sample_rate).max().unwrap_or(1);
        self.max_sample_rate
            .fetch_max(rate, std::sync::atomic::Ordering::Relaxed);
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        let fault = self.fault.read().map_err(|_| poisoned())?;
        let result = insert_locked(&mut w, events, mark, fault.as_deref());
        drop(fault);
        if result.is_err() {
            // The transaction rolled back: forget columns it may have added.
            let _ = w.conn.execute_batch("ROLLBACK");
            w.layout = read_layout(&w.conn)?;
        }
        let changed = match &result {
            Ok(r) => r.schema_changed,
            Err(_) => true,
        };
        if changed {
            if let Ok(mut cat) = self.catalog.write() {
                *cat = w.layout.catalog();
            }
        }
        result
    }
}

impl Store for DuckStore {
    fn insert(&self, events: &[Event]) -> Result<InsertReport, StoreError> {
        self.insert_with(events, None)
    }

    fn insert_marked(&self, events: &[Event], mark: LogMark) -> Result<InsertReport, StoreError> {
        self.insert_with(events, Some(mark))
    }

    fn log_mark(&self) -> Result<Option<LogMark>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c
                .prepare("SELECT lsn, mark_offset FROM ingest_log_mark WHERE id = 0")
                .map_err(engine)?;
            let mut rows = stmt
                .query_map([], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, u32>(1)?)))
                .map_err(engine)?;
            match rows.next() {
                Some(row) => {
                    let (lsn, offset) = row.map_err(engine)?;
                    Ok(Some(LogMark { lsn, offset }))
                }
                None => Ok(None),
            }
        })
    }

    fn max_sample_rate(&self) -> u32 {
        self.max_sample_rate
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn catalog(&self) -> Catalog {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    fn trace(&self, id: TraceId) -> Result<Vec<Event>, StoreError> {
        Ok(self.traces(&[id])?.pop().unwrap_or_default())
    }

    fn traces(&self, ids: &[TraceId]) -> Result<Vec<Vec<Event>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let seq = ident(schema::COL_SEQ);
        let unsequenced = self.unsequenced.load(std::sync::atomic::Ordering::Relaxed);
        self.with_reader(|c| {
            // The row ranges of every trace (trace index), read as one OR so DuckDB prunes
            // row groups once for the whole page.
            let mut ranges = Vec::new();
            for id in ids {
                ranges.extend(trace_ranges(c, id.halves().1)?);
            }
            let lows: Vec<String> = ids
                .iter()
                .map(|id| (id.halves().1 as i64).to_string())
                .collect();
            let same_lo = format!("{} IN ({})", ident(schema::COL_TRACE_LO), lows.join(", "));
            let mut parts = Vec::new();
            if !ranges.is_empty() {
                let or: Vec<String> = ranges
                    .iter()
                    .map(|(a, b)| format!("{seq} BETWEEN {a} AND {b}"))
                    .collect();
                parts.push(format!("({})", or.join(" OR ")));
            }
            if unsequenced {
                parts.push(format!("{seq} IS NULL"));
            }
            let mut found = Vec::new();
            // One statement per part: an OR with IS NULL would hide the ranges from
            // DuckDB's row-group statistics.
            for part in parts {
                let sql = format!("SELECT * FROM events WHERE {part} AND {same_lo}");
                found.extend(convert::query_events(c, &sql)?);
            }
            let mut out: Vec<Vec<Event>> = vec![Vec::new(); ids.len()];
            for e in found {
                if let Some(i) = e.trace_id.and_then(|t| ids.iter().position(|id| *id == t)) {
                    out[i].push(e);
                }
            }
            for events in &mut out {
                events.sort_by_key(|e| e.time_ns);
            }
            Ok(out)
        })
    }

    fn run_sql(&self, sql: &str) -> Result<Rows, StoreError> {
        self.with_reader(|c| convert::query_rows(c, sql))
    }

    fn datasets(&self) -> Result<Vec<DatasetInfo>, StoreError> {
        let rows = self.run_sql(
            "SELECT \"__dataset\", count(*), min(\"__time_ns\"), max(\"__time_ns\") \
             FROM events GROUP BY 1 ORDER BY 1",
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut it = r.into_iter();
                let name = match it.next()?? {
                    model::Value::Str(s) => s,
                    other => other.to_string(),
                };
                let int = |v: Option<Option<model::Value>>| match v {
                    Some(Some(model::Value::Int(i))) => Some(i),
                    _ => None,
                };
                let events = int(it.next()).unwrap_or(0).max(0) as u64;
                Some(DatasetInfo {
                    name,
                    events,
                    first_ns: int(it.next()),
                    last_ns: int(it.next()),
                })
            })
            .collect())
    }

    fn apply_retention(&self, now_ns: i64) -> Result<u64, StoreError> {
        let per = self.retention_days()?;
        let datasets = self.datasets()?;
        let w = self.writer.lock().map_err(|_| poisoned())?;
        let mut deleted = 0u64;
        for d in datasets {
            let days = per
                .get(&d.name.to_lowercase())
                .copied()
                .unwrap_or(self.retention_default);
            if days == 0 {
                continue;
            }
            let cutoff =
                now_ns.saturating_sub(i64::from(days).saturating_mul(86_400 * 1_000_000_000));
            if d.first_ns.is_some_and(|f| f >= cutoff) {
                continue;
            }
            let n = w
                .conn
                .execute(
                    "DELETE FROM events WHERE \"__dataset\" = ? AND \"__time_ns\" < ?",
                    duckdb::params![d.name, cutoff],
                )
                .map_err(engine)?;
            deleted += n as u64;
        }
        if deleted > 0 {
            // Index rows for events no longer stored. Entries of a dataset whose events
            // remain while older ones of another dataset are gone stay until those go too;
            // a stale entry only makes a lookup read a range that holds nothing.
            w.conn
                .execute_batch(
                    "DELETE FROM trace_index WHERE seq_first + seq_len < \
                     (SELECT coalesce(min(\"__seq\"), 9223372036854775807) FROM events)",
                )
                .map_err(engine)?;
        }
        Ok(deleted)
    }

    fn set_retention(&self, dataset: &str, days: Option<u32>) -> Result<(), StoreError> {
        let w = self.writer.lock().map_err(|_| poisoned())?;
        match days {
            Some(d) => w.conn.execute(
                "INSERT OR REPLACE INTO retention VALUES (?, ?)",
                duckdb::params![dataset.to_lowercase(), d],
            ),
            None => w.conn.execute(
                "DELETE FROM retention WHERE dataset = ?",
                duckdb::params![dataset.to_lowercase()],
            ),
        }
        .map_err(engine)?;
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        let w = self.writer.lock().map_err(|_| poisoned())?;
        w.conn.execute_batch("CHECKPOINT").map_err(engine)
    }

    fn dataset_columns(&self, dataset: Option<&str>) -> Result<Vec<DatasetColumn>, StoreError> {
        let catalog = self.catalog();
        let filter = dataset
            .map(|d| format!(" WHERE dataset = {}", literal(&d.to_lowercase())))
            .unwrap_or_default();
        let rows = self.run_sql(&format!(
            "SELECT name, min(created_ns) FROM dataset_columns{filter} GROUP BY name ORDER BY name"
        ))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let name = match r.first()? {
                    Some(model::Value::Str(s)) => s.clone(),
                    _ => return None,
                };
                let created_ns = match r.get(1)? {
                    Some(model::Value::Int(i)) => *i,
                    _ => 0,
                };
                let ty = catalog.get(&name)?.ty;
                Some(DatasetColumn {
                    name,
                    ty,
                    created_ns,
                })
            })
            .collect())
    }

    fn put_doc(&self, doc: &MetaDoc) -> Result<(), StoreError> {
        let w = self.writer.lock().map_err(|_| poisoned())?;
        w.conn
            .execute(
                "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?)",
                duckdb::params![
                    doc.kind,
                    doc.id,
                    doc.dataset,
                    doc.body.to_string(),
                    doc.created_ns
                ],
            )
            .map_err(engine)?;
        Ok(())
    }

    fn get_doc(&self, kind: &str, id: &str) -> Result<Option<MetaDoc>, StoreError> {
        let rows = self.run_sql(&format!(
            "SELECT kind, id, dataset, body, created_ns FROM docs WHERE kind = {} AND id = {}",
            literal(kind),
            literal(id)
        ))?;
        Ok(rows.into_iter().next().and_then(doc_from_row))
    }

    fn list_docs(&self, kind: &str, dataset: Option<&str>) -> Result<Vec<MetaDoc>, StoreError> {
        let filter = dataset
            .map(|d| format!(" AND dataset = {}", literal(d)))
            .unwrap_or_default();
        let rows = self.run_sql(&format!(
            "SELECT kind, id, dataset, body, created_ns FROM docs WHERE kind = {}{filter} ORDER BY created_ns, id",
            literal(kind)
        ))?;
        Ok(rows.into_iter().filter_map(doc_from_row).collect())
    }

    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let w = self.writer.lock().map_err(|_| poisoned())?;
        let n = w
            .conn
            .execute(
                "DELETE FROM docs WHERE kind = ? AND id = ?",
                duckdb::params![kind, id],
            )
            .map_err(engine)?;
        Ok(n > 0)
    }

    fn delete_events(&self, dataset: &str, predicate_sql: &str) -> Result<u64, StoreError> {
        let w = self.writer.lock().map_err(|_| poisoned())?;
        // `predicate_sql` comes from the query crate's renderer (identifiers and values
        // quoted by the dialect); the dataset is a bound parameter.
        let n = w
            .conn
            .execute(
                &format!(
                    "DELETE FROM events WHERE lower(\"__dataset\") = lower(?) AND ({predicate_sql})"
                ),
                duckdb::params![dataset],
            )
            .map_err(engine)?;
        Ok(n as u64)
    }

    fn disk_bytes(&self) -> u64 {
        let Some(dir) = &self.dir else { return 0 };
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// The `__seq` ranges holding trace `lo`'s events (trace index); beyond
/// `trace_index::RANGES_READ_MAX` ranges, one range from the first to the last.
fn trace_ranges(c: &Connection, lo: u64) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows: Vec<(i64, i64)> = {
        let mut stmt = c.prepare(&trace_index::ranges_sql(lo)).map_err(engine)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(engine)?;
        rows.collect::<Result<_, _>>().map_err(engine)?
    };
    let mut ranges = trace_index::read_ranges(&rows);
    if rows.len() > trace_index::RANGES_READ_MAX {
        let last = c
            .prepare(&trace_index::last_sql(lo))
            .and_then(|mut s| s.query_row([], |r| r.get::<_, Option<i64>>(0)))
            .map_err(engine)?;
        if let (Some(&(first, _)), Some(last)) = (rows.first(), last) {
            ranges = vec![(first, last)];
        }
    }
    Ok(ranges)
}

fn doc_from_row(r: Vec<Option<model::Value>>) -> Option<MetaDoc> {
    let mut it = r.into_iter();
    let text = |v: Option<Option<model::Value>>| match v {
        Some(Some(model::Value::Str(s))) => Some(s),
        _ => None,
    };
    let kind = text(it.next())?;
    let id = text(it.next())?;
    let dataset = text(it.next())?;
    let body = serde_json::from_str(&text(it.next())?).ok()?;
    let created_ns = match it.next() {
        Some(Some(model::Value::Int(i))) => i,
        _ => 0,
    };
    Some(MetaDoc {
        kind,
        id,
        dataset,
        body,
        created_ns,
    })
}

fn insert_locked(
    w: &mut Writer,
    events: &[Event],
    mark: Option<LogMark>,
    fault: Option<&CommitFaultFn>,
) -> Result<InsertReport, StoreError> {
    let t0 = std::time::Instant::now();
    let mut plan = batch::plan_columns(&w.layout, events);
    w.conn.execute_batch("BEGIN TRANSACTION").map_err(engine)?;
    for c in &plan.adds {
        w.conn
            .execute_batch(&format!(
                "ALTER TABLE events ADD COLUMN {} {}",
                ident(&c.name),
                duck_type(c.ty)
            ))
            .map_err(engine)?;
    }
    if !plan.overflow_changes.is_empty() {
        let mut stmt = w
            .conn
            .prepare("INSERT OR REPLACE INTO overflow_columns VALUES (?, ?)")
            .map_err(engine)?;
        for (_, c) in &plan.overflow_changes {
            stmt.execute(duckdb::params![c.name, duck_type(c.ty)])
                .map_err(engine)?;
        }
    }
    // Record (dataset, column) pairs this batch writes for the first time, through the
    // appender (one statement however many pairs).
    let all_columns: Vec<Column> = w
        .layout
        .columns
        .iter()
        .chain(plan.adds.iter())
        .cloned()
        .collect();
    if !plan.fresh.is_empty() {
        let created = now_ns();
        let mut app = w.conn.appender("dataset_columns").map_err(engine)?;
        for (d, c) in &plan.fresh {
            let name = all_columns.get(*c).map_or("", |col| col.name.as_str());
            app.append_row(duckdb::params![d, name, created])
                .map_err(engine)?;
        }
        app.flush().map_err(engine)?;
    }
    let t1 = std::time::Instant::now();
    let record_batch = batch::build(&plan, &all_columns, events, w.next_seq)?;
    let index_batch = trace_index::entries(events, w.next_seq)?;
    let t2 = std::time::Instant::now();
    if record_batch.num_rows() > 0 {
        let mut app = w.conn.appender("events").map_err(engine)?;
        app.append_record_batch(record_batch).map_err(engine)?;
        app.flush().map_err(engine)?;
    }
    if index_batch.num_rows() > 0 {
        let mut app = w.conn.appender(trace_index::TABLE).map_err(engine)?;
        app.append_record_batch(index_batch).map_err(engine)?;
        app.flush().map_err(engine)?;
    }
    let t3 = std::time::Instant::now();
    if let Some(m) = mark {
        w.conn
            .execute(
                "INSERT OR REPLACE INTO ingest_log_mark VALUES (0, ?, ?)",
                duckdb::params![m.lsn, m.offset],
            )
            .map_err(engine)?;
    }
    if fault.is_some_and(|f| f(events)) {
        return Err(StoreError::Engine("injected commit failure".into()));
    }
    w.conn.execute_batch("COMMIT").map_err(engine)?;
    let t4 = std::time::Instant::now();
    let schema_changed = !plan.adds.is_empty() || !plan.overflow_changes.is_empty();
    let spilled_at = std::mem::take(&mut plan.spilled_at);
    for c in plan.adds {
        w.layout
            .index
            .insert(schema::fold_key(&c.name), w.layout.columns.len());
        w.layout.columns.push(c);
    }
    for (folded, c) in plan.overflow_changes {
        w.layout.overflow.insert(folded, c);
    }
    for (d, c) in plan.fresh {
        w.layout.datasets.entry(d).or_default().mark(c);
    }
    w.next_seq += events.len() as i64;
    let us = |a: std::time::Instant, b: std::time::Instant| (b - a).as_micros() as u64;
    Ok(InsertReport {
        rows: events.len() as u64,
        fields_spilled: plan.fields_spilled,
        spilled_at,
        schema_changed,
        schema_us: us(t0, t1),
        build_us: us(t1, t2),
        append_us: us(t2, t3),
        commit_us: us(t3, t4),
        ..InsertReport::default()
    })
}
