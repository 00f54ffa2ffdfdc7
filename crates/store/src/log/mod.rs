//! The ingest log: a write-ahead log in front of any [`Store`], so an insert is
//! acknowledged once its events are fsynced to Waggle's own log, and the store behind is
//! loaded from memory in large transactions by one loader thread.
//!
//! - **Durable acknowledgement**: [`Store::insert`] returns after the group's record is on
//!   disk (`fdatasync`), not after the store's commit.
//! - **Exactly once**: every load commits, in the same transaction, the log position it
//!   reached ([`LogMark`]); opening replays the records after it.
//! - **Read your writes**: every read first waits until the loader has loaded everything
//!   acknowledged before the read started (a read barrier; the loader commits what it
//!   holds as soon as a reader waits).
//! - **Bounded**: at most [`QUEUE_EVENTS_MAX`] events wait for the loader; an insert that
//!   finds no room within [`ROOM_WAIT_MAX`] gets [`StoreError::Overloaded`] (the
//!   protocol's retryable answer).
//!
//! Events the store refuses one by one (data its engine cannot take) are written to
//! `rejected.wlog` beside the log, in the log's own format, and counted.

mod codec;
mod files;
mod loader;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use model::schema::Catalog;
use model::{Event, TraceId};

use crate::{DatasetColumn, DatasetInfo, InsertReport, MetaDoc, Rows, Store, StoreError};

pub use codec::{decode, encode};

/// Events acknowledged but not yet handed to the loader, at most: two load transactions
/// (our choice: a read barrier waits for at most this backlog, about 2 s of loading on the
/// 2-core machine; 262,144 measured a 23 s median for a query looping beside full-rate
/// ingest, and 1.5 GB RSS).
pub const QUEUE_EVENTS_MAX: usize = 2 * LOAD_EVENTS_MAX;
/// Events per load transaction, at most (our choice, measured with `waggle bench insert`:
/// DuckDB's cost per span falls little beyond ~32k rows per transaction, while a larger
/// transaction is what a read barrier may have to wait for).
pub const LOAD_EVENTS_MAX: usize = 32_768;
/// How long the loader lets a small group wait for more events when no reader waits (our
/// choice: short enough that idle data is in the store within a second).
pub const LOAD_LINGER: Duration = Duration::from_millis(500);
/// How long an insert waits for room in the load queue before it is refused as overload
/// (our choice: below every client's request timeout).
pub const ROOM_WAIT_MAX: Duration = Duration::from_secs(2);
/// How long a read waits for the loader before it reads what is loaded (our choice: a
/// stalled store must not hang reads; the wait is logged).
pub const BARRIER_WAIT_MAX: Duration = Duration::from_secs(10);

/// How far an ingest log has been loaded: every record before `lsn`, and the first
/// `offset` events of record `lsn` ([`LogMark::WHOLE`]: all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogMark {
    pub lsn: u64,
    pub offset: u32,
}

impl LogMark {
    pub const WHOLE: u32 = u32::MAX;

    /// The last record loaded whole.
    pub fn whole_through(self) -> u64 {
        if self.offset == Self::WHOLE {
            self.lsn
        } else {
            self.lsn.saturating_sub(1)
        }
    }
}

/// A record waiting for the loader: its lsn, its events, and how many of them are loaded.
pub(crate) struct Pending {
    lsn: u64,
    events: Vec<Event>,
    done: usize,
}

#[derive(Default)]
pub(crate) struct Queue {
    records: VecDeque<Pending>,
    events: usize,
    /// When the oldest waiting record arrived.
    since: Option<Instant>,
    /// Readers waiting for the loader.
    readers: usize,
    /// Replay still has records to queue: inserts wait so the order stays the log's.
    replaying: bool,
    stop: bool,
}

/// Counters, for `/api/waggle/stats`.
#[derive(Default)]
pub(crate) struct Counters {
    acked_records: AtomicU64,
    acked_events: AtomicU64,
    append_micros: AtomicU64,
    loads: AtomicU64,
    loaded_events: AtomicU64,
    load_micros: AtomicU64,
    store_append_micros: AtomicU64,
    store_commit_micros: AtomicU64,
    replayed_events: AtomicU64,
    rejected_events: AtomicU64,
    stalls: AtomicU64,
    barrier_waits: AtomicU64,
    barrier_wait_micros: AtomicU64,
    barrier_timeouts: AtomicU64,
    refused_overload: AtomicU64,
}

pub(crate) struct Shared {
    inner: Arc<dyn Store>,
    dir: PathBuf,
    files: Mutex<files::LogFiles>,
    queue: Mutex<Queue>,
    /// Signalled when records are queued, a reader waits, or the loader should stop.
    work: Condvar,
    /// Signalled when the loader takes records (room for inserts).
    room: Condvar,
    /// The last lsn acknowledged (on disk and queued).
    acked: AtomicU64,
    /// The last lsn loaded whole, under its own lock for the barrier's wait.
    loaded: Mutex<u64>,
    loaded_changed: Condvar,
    counters: Counters,
    /// The loader thread has ended (stop, or a panic); reads no longer wait for it.
    loader_gone: AtomicBool,
}

/// A [`Store`] behind an ingest log (see the module documentation).
pub struct LoggedStore {
    shared: Arc<Shared>,
    loader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn poisoned() -> StoreError {
    StoreError::Engine("ingest log lock poisoned".into())
}

impl LoggedStore {
    /// Opens the log in `dir` in front of `inner`, and starts replaying what `inner` has
    /// not loaded (in the background: reads wait for it, inserts queue after it).
    pub fn open(dir: &Path, inner: Arc<dyn Store>) -> Result<Self, StoreError> {
        let mark = inner.log_mark()?;
        let floor = mark.map_or(0, |m| m.lsn);
        let (log, last) = files::LogFiles::open(dir, floor)?;
        let loaded = mark.map_or(0, LogMark::whole_through);
        let sealed: Vec<(u64, PathBuf)> = log.sealed().to_vec();
        let replay = last > loaded;
        let shared = Arc::new(Shared {
            inner,
            dir: dir.to_path_buf(),
            files: Mutex::new(log),
            queue: Mutex::new(Queue {
                replaying: replay,
                ..Queue::default()
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            acked: AtomicU64::new(last.max(loaded)),
            loaded: Mutex::new(loaded),
            loaded_changed: Condvar::new(),
            counters: Counters::default(),
            loader_gone: AtomicBool::new(false),
        });
        let handle = {
            let s = shared.clone();
            std::thread::Builder::new()
                .name("waggle-loader".into())
                .spawn(move || loader::run(&s))
                .map_err(|e| StoreError::Engine(format!("cannot start the loader: {e}")))?
        };
        if replay {
            let s = shared.clone();
            let from = mark.unwrap_or(LogMark { lsn: 0, offset: 0 });
            std::thread::Builder::new()
                .name("waggle-replay".into())
                .spawn(move || loader::replay(&s, &sealed, from))
                .map_err(|e| StoreError::Engine(format!("cannot start the replay: {e}")))?;
        }
        Ok(Self {
            shared,
            loader: Mutex::new(Some(handle)),
        })
    }

    /// Loads everything acknowledged, then stops the loader (shutdown).
    pub fn close(&self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.stop = true;
        }
        self.shared.work.notify_all();
        if let Some(h) = self.loader.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }

    fn barrier(&self) {
        let s = &*self.shared;
        let target = s.acked.load(Ordering::Acquire);
        let Ok(loaded) = s.loaded.lock() else { return };
        if *loaded >= target || s.loader_gone.load(Ordering::Acquire) {
            return;
        }
        drop(loaded);
        let started = Instant::now();
        if let Ok(mut q) = s.queue.lock() {
            q.readers += 1;
        }
        s.work.notify_all();
        let mut timed_out = false;
        if let Ok(mut loaded) = s.loaded.lock() {
            while *loaded < target && !s.loader_gone.load(Ordering::Acquire) {
                let left = BARRIER_WAIT_MAX.saturating_sub(started.elapsed());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                match s.loaded_changed.wait_timeout(loaded, left) {
                    Ok((l, _)) => loaded = l,
                    Err(_) => break,
                }
            }
        }
        if let Ok(mut q) = s.queue.lock() {
            q.readers -= 1;
        }
        let c = &s.counters;
        c.barrier_waits.fetch_add(1, Ordering::Relaxed);
        c.barrier_wait_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if timed_out {
            c.barrier_timeouts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target,
                "the store is behind the ingest log; this read may miss acknowledged events"
            );
        }
    }

    /// Appends a group to the log and queues it for the loader.
    fn append(&self, events: Vec<Event>) -> Result<InsertReport, (StoreError, Vec<Event>)> {
        let s = &*self.shared;
        let n = events.len();
        if n == 0 {
            return Ok(InsertReport::default());
        }
        // Room first, so a refused insert leaves nothing behind.
        let deadline = Instant::now() + ROOM_WAIT_MAX;
        let Ok(mut q) = s.queue.lock() else {
            return Err((poisoned(), events));
        };
        while q.replaying || (q.events > 0 && q.events + n > QUEUE_EVENTS_MAX) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || q.stop {
                s.counters.refused_overload.fetch_add(1, Ordering::Relaxed);
                return Err((StoreError::Overloaded, events));
            }
            q = match s.room.wait_timeout(q, left) {
                Ok((q, _)) => q,
                Err(_) => return Err((poisoned(), events)),
            };
        }
        drop(q);
        let started = Instant::now();
        let mut payload = Vec::with_capacity(n * 256);
        encode(&events, &mut payload);
        // One appender at a time (the pipeline has one writer thread; this lock makes the
        // lsn order the queue order for any caller).
        let Ok(mut log) = s.files.lock() else {
            return Err((poisoned(), events));
        };
        let lsn = match log.append(&payload) {
            Ok(lsn) => lsn,
            Err(e) => return Err((e, events)),
        };
        drop(payload);
        {
            let Ok(mut q) = s.queue.lock() else {
                return Err((poisoned(), events));
            };
            q.events += n;
            q.since.get_or_insert_with(Instant::now);
            q.records.push_back(Pending {
                lsn,
                events,
                done: 0,
            });
        }
        s.acked.store(lsn, Ordering::Release);
        drop(log);
        s.work.notify_all();
        let c = &s.counters;
        c.acked_records.fetch_add(1, Ordering::Relaxed);
        c.acked_events.fetch_add(n as u64, Ordering::Relaxed);
        c.append_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(InsertReport {
            rows: n as u64,
            commit_us: started.elapsed().as_micros() as u64,
            ..InsertReport::default()
        })
    }

    fn inner(&self) -> &dyn Store {
        &*self.shared.inner
    }
}

impl Drop for LoggedStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Store for LoggedStore {
    fn insert(&self, events: &[Event]) -> Result<InsertReport, StoreError> {
        self.append(events.to_vec()).map_err(|(e, _)| e)
    }

    fn insert_owned(&self, events: Vec<Event>) -> (Result<InsertReport, StoreError>, Vec<Event>) {
        match self.append(events) {
            Ok(r) => (Ok(r), Vec::new()),
            Err((e, events)) => (Err(e), events),
        }
    }

    fn catalog(&self) -> Catalog {
        self.barrier();
        self.inner().catalog()
    }

    fn max_sample_rate(&self) -> u32 {
        self.barrier();
        self.inner().max_sample_rate()
    }

    fn trace(&self, id: TraceId) -> Result<Vec<Event>, StoreError> {
        self.barrier();
        self.inner().trace(id)
    }

    fn traces(&self, ids: &[TraceId]) -> Result<Vec<Vec<Event>>, StoreError> {
        self.barrier();
        self.inner().traces(ids)
    }

    fn run_sql(&self, sql: &str) -> Result<Rows, StoreError> {
        self.barrier();
        self.inner().run_sql(sql)
    }

    fn datasets(&self) -> Result<Vec<DatasetInfo>, StoreError> {
        self.barrier();
        self.inner().datasets()
    }

    fn apply_retention(&self, now_ns: i64) -> Result<u64, StoreError> {
        self.inner().apply_retention(now_ns)
    }

    fn set_retention(&self, dataset: &str, days: Option<u32>) -> Result<(), StoreError> {
        self.inner().set_retention(dataset, days)
    }

    fn checkpoint(&self) -> Result<(), StoreError> {
        self.barrier();
        self.inner().checkpoint()
    }

    fn disk_bytes(&self) -> u64 {
        let log = self.shared.files.lock().map(|f| f.bytes()).unwrap_or(0);
        self.inner().disk_bytes() + log
    }

    fn dataset_columns(&self, dataset: Option<&str>) -> Result<Vec<DatasetColumn>, StoreError> {
        self.barrier();
        self.inner().dataset_columns(dataset)
    }

    fn put_doc(&self, doc: &MetaDoc) -> Result<(), StoreError> {
        self.inner().put_doc(doc)
    }

    fn get_doc(&self, kind: &str, id: &str) -> Result<Option<MetaDoc>, StoreError> {
        self.inner().get_doc(kind, id)
    }

    fn list_docs(&self, kind: &str, dataset: Option<&str>) -> Result<Vec<MetaDoc>, StoreError> {
        self.inner().list_docs(kind, dataset)
    }

    fn delete_doc(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        self.inner().delete_doc(kind, id)
    }

    fn delete_events(&self, dataset: &str, predicate_sql: &str) -> Result<u64, StoreError> {
        self.barrier();
        self.inner().delete_events(dataset, predicate_sql)
    }

    fn log_mark(&self) -> Result<Option<LogMark>, StoreError> {
        self.inner().log_mark()
    }

    fn stats(&self) -> Option<serde_json::Value> {
        let s = &*self.shared;
        let c = &s.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (queued_events, queued_records) = s
            .queue
            .lock()
            .map(|q| (q.events, q.records.len()))
            .unwrap_or_default();
        Some(serde_json::json!({
            "acked_lsn": s.acked.load(Ordering::Relaxed),
            "loaded_lsn": s.loaded.lock().map(|l| *l).unwrap_or(0),
            "queued_events": queued_events,
            "queued_records": queued_records,
            "acked_records": g(&c.acked_records),
            "acked_events": g(&c.acked_events),
            "append_micros_total": g(&c.append_micros),
            "loads": g(&c.loads),
            "loaded_events": g(&c.loaded_events),
            "load_micros_total": g(&c.load_micros),
            "store_append_micros_total": g(&c.store_append_micros),
            "store_commit_micros_total": g(&c.store_commit_micros),
            "replayed_events": g(&c.replayed_events),
            "rejected_events": g(&c.rejected_events),
            "stalls": g(&c.stalls),
            "barrier_waits": g(&c.barrier_waits),
            "barrier_wait_micros_total": g(&c.barrier_wait_micros),
            "barrier_timeouts": g(&c.barrier_timeouts),
            "refused_overload": g(&c.refused_overload),
            "log_bytes": s.files.lock().map(|f| f.bytes()).unwrap_or(0),
        }))
    }
}
