//! The loader thread (moves acknowledged records into the store in large transactions,
//! each committing its [`LogMark`]) and the replay thread (queues, after a restart, the
//! records the store had not loaded).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use model::Event;

use super::{files, LogMark, Pending, Shared, LOAD_EVENTS_MAX, LOAD_LINGER, QUEUE_EVENTS_MAX};

/// Inserts one isolation pass may spend finding the events the store refuses (our choice:
/// a refused event costs about two inserts per halving of its record).
const ISOLATION_INSERTS_MAX: usize = 64;
/// How long the loader waits before retrying after the store failed (our choice).
const STALL_BACKOFF: Duration = Duration::from_secs(1);
/// Where events the store refuses one by one are kept (the log's record format).
pub const REJECTED_FILE: &str = "rejected.wlog";

/// Marks the loader gone when its thread ends, however it ends, so reads stop waiting.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.loader_gone.store(true, Ordering::Release);
        self.0.loaded_changed.notify_all();
    }
}

pub(crate) fn run(s: &Shared) {
    let _gone = Gone(s);
    while let Some(batch) = next_batch(s) {
        s.room.notify_all();
        if !load(s, batch) {
            let stop = s.queue.lock().map_or(true, |q| q.stop);
            if stop {
                tracing::warn!("the store keeps failing at shutdown; the ingest log keeps the rest for the next start");
                return;
            }
            std::thread::sleep(STALL_BACKOFF);
        }
    }
}

/// Waits until a load is due (a full group, a waiting reader, the linger elapsed, or
/// shutdown) and takes up to [`LOAD_EVENTS_MAX`] events of whole records. `None`: stop.
fn next_batch(s: &Shared) -> Option<Vec<Pending>> {
    let mut q = s.queue.lock().ok()?;
    loop {
        if let Some(since) = q.since.filter(|_| !q.records.is_empty()) {
            let lingered = since.elapsed();
            if q.events >= LOAD_EVENTS_MAX || q.readers > 0 || q.stop || lingered >= LOAD_LINGER {
                break;
            }
            q = s.work.wait_timeout(q, LOAD_LINGER - lingered).ok()?.0;
        } else if q.stop && !q.replaying {
            return None;
        } else {
            q = s.work.wait(q).ok()?;
        }
    }
    let mut batch = Vec::new();
    let mut taken = 0usize;
    while let Some(p) = q.records.front() {
        let n = p.events.len() - p.done;
        if !batch.is_empty() && taken + n > LOAD_EVENTS_MAX {
            break;
        }
        taken += n;
        batch.extend(q.records.pop_front());
    }
    q.events -= taken;
    q.since = (!q.records.is_empty()).then(Instant::now);
    Some(batch)
}

/// Loads `batch` in one transaction, or record by record when that fails. Returns false
/// when the store failed and the rest was queued again (the caller backs off).
fn load(s: &Shared, mut batch: Vec<Pending>) -> bool {
    let started = Instant::now();
    let Some(last) = batch.last().map(|p| p.lsn) else {
        return true;
    };
    let counts: Vec<usize> = batch.iter().map(|p| p.events.len() - p.done).collect();
    let mut all: Vec<Event> = Vec::with_capacity(counts.iter().sum());
    for p in &mut batch {
        all.extend(p.events.drain(p.done..));
    }
    let mark = LogMark {
        lsn: last,
        offset: LogMark::WHOLE,
    };
    match s.inner.insert_marked(&all, mark) {
        Ok(r) => {
            let c = &s.counters;
            c.loads.fetch_add(1, Ordering::Relaxed);
            c.loaded_events
                .fetch_add(all.len() as u64, Ordering::Relaxed);
            c.load_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            c.store_append_micros
                .fetch_add(r.append_us + r.build_us + r.schema_us, Ordering::Relaxed);
            c.store_commit_micros
                .fetch_add(r.commit_us, Ordering::Relaxed);
            loaded(s, last);
            drop(all);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, events = all.len(), records = batch.len(), "loading from the ingest log failed; isolating");
            // Give every record its events back, then go record by record.
            for (p, n) in batch.iter_mut().zip(&counts).rev() {
                let tail = all.split_off(all.len() - n);
                p.events.truncate(p.done);
                p.events.extend(tail);
            }
            isolate(s, batch)
        }
    }
}

/// Publishes that every record through `lsn` is loaded, and drops the log segments that
/// hold only loaded records.
fn loaded(s: &Shared, lsn: u64) {
    if let Ok(mut l) = s.loaded.lock() {
        *l = (*l).max(lsn);
    }
    s.loaded_changed.notify_all();
    if let Ok(mut f) = s.files.lock() {
        if let Err(e) = f.forget_through(lsn) {
            tracing::warn!(error = %e, "cannot delete a loaded ingest log segment");
        }
    }
}

/// Loads records one by one, each as its longest prefix that commits (halving), so an
/// event the store refuses is found, kept in [`REJECTED_FILE`] and stepped over by a
/// mark of its own: exactly once even across a crash in the middle.
fn isolate(s: &Shared, mut records: Vec<Pending>) -> bool {
    let mut budget = ISOLATION_INSERTS_MAX;
    for i in 0..records.len() {
        if !load_record(s, &mut records[i], &mut budget) {
            stall(s, records.split_off(i));
            return false;
        }
        loaded(s, records[i].lsn);
    }
    true
}

/// [`isolate`] for one record; false when the budget ran out or the store itself fails.
fn load_record(s: &Shared, rec: &mut Pending, budget: &mut usize) -> bool {
    let total = rec.events.len();
    while rec.done < total {
        let mut len = total - rec.done;
        loop {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let end = rec.done + len;
            let mark = mark_at(rec.lsn, end, total);
            match s.inner.insert_marked(&rec.events[rec.done..end], mark) {
                Ok(_) => {
                    s.counters
                        .loaded_events
                        .fetch_add(len as u64, Ordering::Relaxed);
                    rec.done = end;
                    break;
                }
                Err(e) if len == 1 => {
                    // Refused alone: keep it aside, then move the mark past it. If even the
                    // mark cannot move, the store itself is failing.
                    let kept = reject(s, rec.lsn, &rec.events[rec.done], &e.to_string());
                    if !kept || s.inner.insert_marked(&[], mark).is_err() {
                        return false;
                    }
                    rec.done = end;
                    break;
                }
                Err(_) => len = len.div_ceil(2),
            }
        }
    }
    true
}

fn mark_at(lsn: u64, end: usize, total: usize) -> LogMark {
    LogMark {
        lsn,
        offset: if end >= total {
            LogMark::WHOLE
        } else {
            end as u32
        },
    }
}

/// Puts records back at the front of the queue after the store failed.
fn stall(s: &Shared, records: Vec<Pending>) {
    s.counters.stalls.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        records = records.len(),
        "the store refuses loads; the ingest log keeps them and the loader retries"
    );
    if let Ok(mut q) = s.queue.lock() {
        for p in records.into_iter().rev() {
            q.events += p.events.len() - p.done;
            q.records.push_front(p);
        }
        q.since.get_or_insert_with(Instant::now);
    }
}

/// Appends an event the store refused to [`REJECTED_FILE`]; false if it could not be kept.
fn reject(s: &Shared, lsn: u64, event: &Event, why: &str) -> bool {
    let mut payload = Vec::new();
    super::encode(std::slice::from_ref(event), &mut payload);
    let mut framed = Vec::new();
    files::frame(lsn, &payload, &mut framed);
    let path = s.dir.join(REJECTED_FILE);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(&framed)?;
            f.sync_data()
        });
    match written {
        Ok(()) => {
            s.counters.rejected_events.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(lsn, dataset = %event.dataset, error = why, path = %path.display(), "the store refused an event; it is kept in the rejected file");
            true
        }
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot keep a refused event aside");
            false
        }
    }
}

/// Queues the records of `sealed` after `from`, in log order, then lets inserts queue.
pub(crate) fn replay(s: &Shared, sealed: &[(u64, PathBuf)], from: LogMark) {
    let started = Instant::now();
    let mut replayed = 0u64;
    'segments: for (i, (_, path)) in sealed.iter().enumerate() {
        // A segment whose records all precede the mark is skipped unread.
        let next_first = sealed.get(i + 1).map(|(f, _)| *f);
        if next_first.is_some_and(|n| n.saturating_sub(1) <= from.whole_through()) {
            continue;
        }
        let bytes = match files::read(path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot read an ingest log segment to replay");
                continue;
            }
        };
        for (lsn, payload) in files::records(&bytes).0 {
            if lsn < from.lsn || (lsn == from.lsn && from.offset == LogMark::WHOLE) {
                continue;
            }
            let events = match super::decode(payload) {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::error!(lsn, error = %e, "an ingest log record cannot be decoded; skipped");
                    continue;
                }
            };
            let done = if lsn == from.lsn {
                (from.offset as usize).min(events.len())
            } else {
                0
            };
            let n = events.len() - done;
            replayed += n as u64;
            let Ok(mut q) = s.queue.lock() else {
                break 'segments;
            };
            while q.events > 0 && q.events + n > QUEUE_EVENTS_MAX && !q.stop {
                q = match s.room.wait(q) {
                    Ok(q) => q,
                    Err(_) => break 'segments,
                };
            }
            q.events += n;
            q.since.get_or_insert_with(Instant::now);
            q.records.push_back(Pending { lsn, events, done });
            drop(q);
            s.work.notify_all();
        }
    }
    if let Ok(mut q) = s.queue.lock() {
        q.replaying = false;
    }
    s.room.notify_all();
    s.work.notify_all();
    s.counters
        .replayed_events
        .fetch_add(replayed, Ordering::Relaxed);
    tracing::info!(
        events = replayed,
        ms = started.elapsed().as_millis() as u64,
        "ingest log replay queued"
    );
}
