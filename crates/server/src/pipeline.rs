//! The ingest pipeline: every receiver hands decoded events here; one writer thread commits
//! them to the store in groups (many requests per transaction) and only then answers each
//! request. The queue is bounded by events, so overload is refused, never buffered.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use model::Event;
use store::{InsertReport, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Events waiting for the writer, at most (our choice: 400k events × ~0.5 KiB decoded ≈
/// 200 MiB worst case, about 2.5 s of work at the 150k spans/s goal).
pub const QUEUE_EVENTS_MAX: usize = 400_000;
/// Events per transaction, at most (our choice: large enough that commit cost is amortised,
/// small enough that one group stays well under a second).
pub const GROUP_EVENTS_MAX: usize = 100_000;

/// Events one request may commit, at most (our choice: one request is one transaction, so
/// this bounds how long one client can hold the writer — about 2 s at the ~100k events/s
/// the writer sustains; clients batch 512–8,192 items). Larger requests are refused with
/// the protocol's "too large" answer and should be split.
pub const REQUEST_EVENTS_MAX: usize = 2 * GROUP_EVENTS_MAX;

const _: () = assert!(GROUP_EVENTS_MAX <= QUEUE_EVENTS_MAX);
const _: () = assert!(REQUEST_EVENTS_MAX <= QUEUE_EVENTS_MAX);

/// Committed groups waiting to be freed by the reclaim thread, at most (our choice).
const RECLAIM_GROUPS_MAX: usize = 4;

/// Extra inserts the writer may spend finding which events of a failed group fail, at most
/// (our choice: a small transaction costs ~7.5 ms on a wide table — BENCHMARKS.md — so
/// isolating costs at most ~0.5 s of writer time per failed group). Events not isolated
/// within the budget get the retryable storage error.
pub const ISOLATION_INSERTS_MAX: usize = 64;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("the ingest queue is full; retry later")]
    Overloaded,
    #[error("storage failed to commit the batch")]
    Storage,
    #[error("the request holds {0} events; at most {REQUEST_EVENTS_MAX} are committed at once: split the batch")]
    TooLarge(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
}

struct Job {
    events: Vec<Event>,
    done: oneshot::Sender<Result<InsertReport, IngestError>>,
}

/// Counters the pipeline exposes.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub committed_events: AtomicU64,
    pub commits: AtomicU64,
    pub refused_overload: AtomicU64,
    pub storage_errors: AtomicU64,
    /// Events the store refused one by one after their group failed (answered as rejected
    /// in the request's partial success).
    pub rejected_events: AtomicU64,
    /// Fields kept in the overflow column (a column budget, or a type their column cannot
    /// hold).
    pub fields_spilled: AtomicU64,
    pub commit_micros_total: AtomicU64,
    pub schema_micros_total: AtomicU64,
    pub build_micros_total: AtomicU64,
    pub append_micros_total: AtomicU64,
    pub engine_commit_micros_total: AtomicU64,
}

#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::UnboundedSender<Job>,
    queued: Arc<AtomicUsize>,
    /// Events that may wait at once; beyond it `submit` answers `Overloaded`.
    queue_events_max: usize,
    pub stats: Arc<PipelineStats>,
    /// For the store's own counters in [`Pipeline::snapshot`].
    store: Arc<dyn Store>,
}

impl Pipeline {
    /// Starts the writer thread. It ends when every `Pipeline` clone is dropped and the queue
    /// is drained; join the handle to wait for the last commit.
    pub fn start(store: Arc<dyn Store>) -> (Self, std::thread::JoinHandle<()>) {
        Self::start_with_queue_limit(store, QUEUE_EVENTS_MAX)
    }

    /// [`Pipeline::start`] with another queue bound (tests use a small one to reach
    /// overload deterministically).
    pub fn start_with_queue_limit(
        store: Arc<dyn Store>,
        queue_events_max: usize,
    ) -> (Self, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(PipelineStats::default());
        let handle = {
            let queued = queued.clone();
            let stats = stats.clone();
            let store = store.clone();
            std::thread::Builder::new()
                .name("waggle-writer".into())
                .spawn(move || writer_loop(store, rx, queued, stats))
                .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"))
        };
        (
            Self {
                tx,
                queued,
                queue_events_max,
                stats,
                store,
            },
            handle,
        )
    }

    /// Queues events and waits until they are committed.
    pub async fn submit(&self, events: Vec<Event>) -> Result<InsertReport, IngestError> {
        if events.is_empty() {
            return Ok(InsertReport::default());
        }
        let n = events.len();
        if n > REQUEST_EVENTS_MAX {
            return Err(IngestError::TooLarge(n));
        }
        // Reserve queue space or refuse.
        let mut cur = self.queued.load(Ordering::Relaxed);
        loop {
            if cur + n > self.queue_events_max && cur > 0 {
                self.stats.refused_overload.fetch_add(1, Ordering::Relaxed);
                return Err(IngestError::Overloaded);
            }
            match self.queued.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job { events, done }).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(IngestError::ShuttingDown);
        }
        wait.await.unwrap_or(Err(IngestError::ShuttingDown))
    }

    /// Whether `n` more events would be queued now (racy by nature: a hint for senders that
    /// can wait, such as the UDP daemon).
    pub fn has_room(&self, n: usize) -> bool {
        let cur = self.queued.load(Ordering::Relaxed);
        cur == 0 || cur + n <= self.queue_events_max
    }

    pub fn queued_events(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The counters as `/api/waggle/stats` shows them.
    pub fn snapshot(&self) -> serde_json::Value {
        let p = &self.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "queued_events": self.queued_events(),
            "committed_events": g(&p.committed_events),
            "commits": g(&p.commits),
            "refused_overload": g(&p.refused_overload),
            "storage_errors": g(&p.storage_errors),
            "rejected_events": g(&p.rejected_events),
            "fields_spilled": g(&p.fields_spilled),
            "commit_micros_total": g(&p.commit_micros_total),
            "schema_micros_total": g(&p.schema_micros_total),
            "build_micros_total": g(&p.build_micros_total),
            "append_micros_total": g(&p.append_micros_total),
            "engine_commit_micros_total": g(&p.engine_commit_micros_total),
            "ingest_log": self.store.stats(),
        })
    }
}

/// What a protocol's partial-success answer says about a commit: events the store refused
/// and fields kept in the overflow column (still stored and queryable, so not "rejected").
pub fn commit_notes(r: &InsertReport) -> (u64, Option<String>) {
    let mut parts = Vec::new();
    if r.rejected > 0 {
        parts.push(format!(
            "{} item(s) could not be stored: {}",
            r.rejected,
            r.rejected_reason
                .as_deref()
                .unwrap_or("the store refused them")
        ));
    }
    if r.fields_spilled > 0 {
        parts.push(format!(
            "{} attribute(s) were kept in the overflow column (over a column budget, or a \
             value of another type than the attribute's column); they remain queryable",
            r.fields_spilled
        ));
    }
    (r.rejected, (!parts.is_empty()).then(|| parts.join("; ")))
}

/// A receiver's whole partial-success answer: what decoding rejected plus what the commit
/// reported (`commit_notes`), one count and one message.
pub fn partial_success(
    decode_rejected: u64,
    decode_message: Option<String>,
    report: &InsertReport,
) -> (u64, Option<String>) {
    let (stored_rejected, note) = commit_notes(report);
    let message = match (decode_message, note) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    (decode_rejected + stored_rejected, message)
}

fn writer_loop(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    queued: Arc<AtomicUsize>,
    stats: Arc<PipelineStats>,
) {
    // Freeing a committed group's events (tens of small strings each) is ~10% of the
    // writer's time; a helper thread does it so the writer can start the next group. The
    // channel is bounded: when the helper lags, the writer frees inline.
    let (reclaim, freed) = std::sync::mpsc::sync_channel::<Vec<Event>>(RECLAIM_GROUPS_MAX);
    let _ = std::thread::Builder::new()
        .name("waggle-reclaim".into())
        .spawn(move || freed.into_iter().for_each(drop));
    let mut batch: Vec<Event> = Vec::with_capacity(GROUP_EVENTS_MAX);
    let mut waiters: Vec<(usize, oneshot::Sender<Result<InsertReport, IngestError>>)> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut take = |job: Job, batch: &mut Vec<Event>| {
            waiters.push((job.events.len(), job.done));
            if batch.is_empty() {
                *batch = job.events;
            } else {
                batch.extend(job.events);
            }
        };
        take(first, &mut batch);
        while batch.len() < GROUP_EVENTS_MAX {
            match rx.try_recv() {
                Ok(job) => take(job, &mut batch),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let started = Instant::now();
        let (result, back) = store.insert_owned(std::mem::take(&mut batch));
        batch = back;
        let micros = started.elapsed().as_micros() as u64;
        match &result {
            Ok(r) => {
                stats
                    .schema_micros_total
                    .fetch_add(r.schema_us, Ordering::Relaxed);
                stats
                    .build_micros_total
                    .fetch_add(r.build_us, Ordering::Relaxed);
                stats
                    .append_micros_total
                    .fetch_add(r.append_us, Ordering::Relaxed);
                stats
                    .engine_commit_micros_total
                    .fetch_add(r.commit_us, Ordering::Relaxed);
                stats
                    .committed_events
                    .fetch_add(n as u64, Ordering::Relaxed);
                stats
                    .fields_spilled
                    .fetch_add(r.fields_spilled, Ordering::Relaxed);
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .commit_micros_total
                    .fetch_add(micros, Ordering::Relaxed);
                tracing::debug!(events = n, micros, "committed");
            }
            Err(StoreError::Overloaded) => {
                tracing::warn!(
                    events = n,
                    "the store's load queue is full; refusing the group as overload"
                );
            }
            Err(e) => {
                stats.storage_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = n, requests = waiters.len(), "commit failed; isolating");
            }
        }
        let counts: Vec<usize> = waiters.iter().map(|(c, _)| *c).collect();
        let answers = match result {
            Ok(r) => split_report(&r, &counts),
            // Nothing was stored and nothing could be: every request may retry.
            Err(StoreError::Overloaded) => {
                stats.refused_overload.fetch_add(1, Ordering::Relaxed);
                counts
                    .iter()
                    .map(|_| Err(IngestError::Overloaded))
                    .collect()
            }
            Err(e) => isolate(&*store, &batch, &counts, &e.to_string(), &stats),
        };
        queued.fetch_sub(n, Ordering::AcqRel);
        for ((_, done), answer) in waiters.drain(..).zip(answers) {
            let _ = done.send(answer);
        }
        let used = std::mem::replace(&mut batch, Vec::with_capacity(GROUP_EVENTS_MAX.min(n * 2)));
        if used.capacity() > 0 {
            if let Err(std::sync::mpsc::TrySendError::Full(used)) = reclaim.try_send(used) {
                drop(used);
            }
        }
    }
}

/// Each request's share of a group's report (its rows and the fields it spilled).
fn split_report(r: &InsertReport, counts: &[usize]) -> Vec<Result<InsertReport, IngestError>> {
    let mut spilled = r.spilled_at.iter().peekable();
    let mut start = 0usize;
    counts
        .iter()
        .map(|&count| {
            let end = start + count;
            let mut mine = Vec::new();
            while let Some(&&(i, k)) = spilled.peek() {
                if (i as usize) >= end {
                    break;
                }
                mine.push((i - start as u32, k));
                spilled.next();
            }
            start = end;
            Ok(InsertReport {
                rows: count as u64,
                fields_spilled: mine.iter().map(|(_, k)| u64::from(*k)).sum(),
                spilled_at: mine,
                ..r.clone()
            })
        })
        .collect()
}

/// A group failed: commit what can be committed, request by request and then by halves,
/// so one request's bad event never fails its neighbours. Events that fail alone are
/// rejected (the request is answered with a partial success naming them); when nothing at
/// all commits the failure is the store's (disk, I/O), not the data's, and every request
/// gets the retryable storage error.
fn isolate(
    store: &dyn Store,
    batch: &[Event],
    counts: &[usize],
    first_error: &str,
    stats: &PipelineStats,
) -> Vec<Result<InsertReport, IngestError>> {
    let mut budget = ISOLATION_INSERTS_MAX;
    let mut outcomes = Vec::with_capacity(counts.len());
    let mut start = 0usize;
    let mut any_committed = false;
    for &count in counts {
        let part = &batch[start..start + count];
        start += count;
        let mut o = Isolated::default();
        if counts.len() == 1 {
            // The group was this request: go straight to its halves.
            let mid = part.len() / 2;
            bisect(store, &part[..mid], 0, &mut budget, &mut o);
            bisect(store, &part[mid..], mid, &mut budget, &mut o);
        } else {
            bisect(store, part, 0, &mut budget, &mut o);
        }
        any_committed |= o.committed > 0;
        outcomes.push((count, o));
    }
    outcomes
        .into_iter()
        .map(|(count, o)| {
            // Retryable only when none of the request is stored (a retry cannot duplicate).
            if !any_committed || (o.committed == 0 && o.unknown > 0) {
                return Err(IngestError::Storage);
            }
            let o = Isolated {
                rejected: o.rejected + o.unknown,
                ..o
            };
            stats
                .committed_events
                .fetch_add(o.committed, Ordering::Relaxed);
            stats
                .rejected_events
                .fetch_add(o.rejected, Ordering::Relaxed);
            stats
                .fields_spilled
                .fetch_add(o.spilled_at.iter().map(|(_, k)| u64::from(*k)).sum(), Ordering::Relaxed);
            if o.rejected > 0 {
                tracing::warn!(rejected = o.rejected, error = %o.reason.as_deref().unwrap_or(first_error), "events refused by the store");
            }
            let mut rejected_at = o.rejected_at;
            rejected_at.sort_unstable();
            Ok(InsertReport {
                rows: count as u64 - o.rejected,
                rejected_at,
                fields_spilled: o.spilled_at.iter().map(|(_, k)| u64::from(*k)).sum(),
                spilled_at: o.spilled_at,
                rejected: o.rejected,
                rejected_reason: (o.rejected > 0).then(|| {
                    "the store could not commit these events; they were not stored".to_string()
                }),
                ..InsertReport::default()
            })
        })
        .collect()
}

#[derive(Default)]
struct Isolated {
    committed: u64,
    rejected: u64,
    /// Events whose fate is unknown (the isolation budget ran out).
    unknown: u64,
    reason: Option<String>,
    spilled_at: Vec<(u32, u32)>,
    /// Indices of the events not stored (refused, or of unknown fate).
    rejected_at: Vec<u32>,
}

fn bisect(
    store: &dyn Store,
    events: &[Event],
    offset: usize,
    budget: &mut usize,
    o: &mut Isolated,
) {
    if events.is_empty() {
        return;
    }
    if *budget == 0 {
        o.unknown += events.len() as u64;
        o.rejected_at
            .extend((offset..offset + events.len()).map(|i| i as u32));
        return;
    }
    *budget -= 1;
    match store.insert(events) {
        Ok(r) => {
            o.committed += events.len() as u64;
            o.spilled_at
                .extend(r.spilled_at.iter().map(|&(i, k)| (i + offset as u32, k)));
        }
        Err(e) if events.len() == 1 => {
            o.rejected += 1;
            o.rejected_at.push(offset as u32);
            o.reason.get_or_insert_with(|| e.to_string());
        }
        Err(_) => {
            let mid = events.len() / 2;
            bisect(store, &events[..mid], offset, budget, o);
            bisect(store, &events[mid..], offset + mid, budget, o);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::*;
    use model::{SignalKind, Value};
    use store::DuckStore;

    fn event(dataset: &str, poison: bool) -> Event {
        let mut e = Event::new(dataset, 1_800_000_000_000_000_000, SignalKind::Span);
        e.set("ok", Value::Int(1));
        if poison {
            e.set("poison", Value::Bool(true));
        }
        e
    }

    fn count(store: &DuckStore) -> i64 {
        match store.run_sql("SELECT count(*) FROM events").unwrap()[0][0] {
            Some(Value::Int(n)) => n,
            ref other => panic!("{other:?}"),
        }
    }

    /// One request's bad event must not fail the other requests of its group, nor the
    /// good events of its own request; a failure of everything is the retryable error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_event_fails_only_itself() {
        let store = Arc::new(DuckStore::open_in_memory().unwrap());
        store.set_commit_fault(Some(Box::new(|events: &[Event]| {
            events.iter().any(|e| e.get("poison").is_some())
        })));
        let (pipeline, _writer) = Pipeline::start(store.clone());
        // Many requests in flight at once so the writer groups them.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let p = pipeline.clone();
            tasks.push(tokio::spawn(async move {
                let mut events: Vec<Event> = (0..10).map(|_| event("good", false)).collect();
                if i == 7 {
                    events[3] = event("bad", true);
                }
                p.submit(events).await
            }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        for (i, a) in answers.iter().enumerate() {
            let r = a.as_ref().unwrap();
            if i == 7 {
                assert_eq!((r.rows, r.rejected), (9, 1), "{r:?}");
                assert_eq!(r.rejected_at.len(), 1, "{r:?}");
                assert!(r.rejected_reason.is_some());
            } else {
                assert_eq!((r.rows, r.rejected), (10, 0), "{r:?}");
            }
        }
        assert_eq!(count(&store), 199);
        // A store that fails every commit answers the retryable error and stores nothing.
        store.set_commit_fault(Some(Box::new(|_: &[Event]| true)));
        let err = pipeline.submit(vec![event("good", false); 4]).await;
        assert!(matches!(err, Err(IngestError::Storage)), "{err:?}");
        store.set_commit_fault(None);
        pipeline
            .submit(vec![event("good", false); 4])
            .await
            .unwrap();
        assert_eq!(count(&store), 203);
        assert_eq!(pipeline.stats.rejected_events.load(Ordering::Relaxed), 1);
    }
}
