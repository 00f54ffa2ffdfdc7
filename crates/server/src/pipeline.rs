//! The ingest pipeline: every receiver hands decoded events here; one writer thread commits
//! them to the store in groups (many requests per transaction) and only then answers each
//! request. The queue is bounded by events, so overload is refused, never buffered.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use model::Event;
use store::{InsertReport, Store};
use tokio::sync::{mpsc, oneshot};

/// Events waiting for the writer, at most (our choice: 400k events × ~0.5 KiB decoded ≈
/// 200 MiB worst case, about 2.5 s of work at the 150k spans/s goal).
pub const QUEUE_EVENTS_MAX: usize = 400_000;
/// Events per transaction, at most (our choice: large enough that commit cost is amortised,
/// small enough that one group stays well under a second).
pub const GROUP_EVENTS_MAX: usize = 100_000;

const _: () = assert!(GROUP_EVENTS_MAX <= QUEUE_EVENTS_MAX);

/// Committed groups waiting to be freed by the reclaim thread, at most (our choice).
const RECLAIM_GROUPS_MAX: usize = 4;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("the ingest queue is full; retry later")]
    Overloaded,
    #[error("storage failed to commit the batch")]
    Storage,
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

    pub fn queued_events(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
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
        let result = store.insert(&batch);
        let micros = started.elapsed().as_micros() as u64;
        queued.fetch_sub(n, Ordering::AcqRel);
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
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .commit_micros_total
                    .fetch_add(micros, Ordering::Relaxed);
                tracing::debug!(events = n, micros, "committed");
            }
            Err(e) => {
                stats.storage_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = n, "commit failed");
            }
        }
        for (count, done) in waiters.drain(..) {
            let answer = match &result {
                Ok(r) => Ok(InsertReport {
                    rows: count as u64,
                    ..r.clone()
                }),
                Err(_) => Err(IngestError::Storage),
            };
            let _ = done.send(answer);
        }
        let used = std::mem::replace(&mut batch, Vec::with_capacity(GROUP_EVENTS_MAX.min(n * 2)));
        if let Err(std::sync::mpsc::TrySendError::Full(used)) = reclaim.try_send(used) {
            drop(used);
        }
    }
}
