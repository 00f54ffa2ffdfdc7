//! `POST /api/1/item/`: decode (blocking thread) → authorize → rate limit → group → commit the
//! occurrences → swap the items → answer.
//!
//! Group commit: a submission waits in the recorder's queue; whoever next holds the items
//! writer lock takes every waiting submission as one group. The group is recorded into a
//! *copy* of the items (each `ItemState` is shared until changed, so the copy is a map of
//! pointers), its events (each carrying its item id, counter and occurrence id) are committed
//! through the pipeline as one request, and only then is the copy swapped in and every
//! submission answered. So an item counter or occurrence id is never handed out for an
//! occurrence that did not commit: if the commit fails, the copy is dropped and the next
//! group gets the same numbers; if the store refuses some events, the old items replay only
//! the committed ones.
//!
//! Durability: a 200 means the occurrence's event is committed. The items document is a
//! checkpoint, written every [`CHECKPOINT_OCCURRENCES`] occurrences or
//! [`CHECKPOINT_INTERVAL`] (and by every PATCH); a start replays the occurrences stored after
//! it (`replay`), so a crash loses no count, and duplicate detection's recent uuids are read
//! back from the stored occurrences.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::Extensions;
use axum::http::HeaderMap;
use axum::response::Response;
use protocols::aws::RequestId;
use protocols::rollbar::items::{Occurrence, RecordError, Stored};
use protocols::rollbar::tokens::Need;
use protocols::rollbar::translate::Context;
use protocols::rollbar::{Access, Answer, ItemError, Items, RecentUuids, Submission};
use tokio::sync::oneshot;

use super::{header, internal, respond, unavailable, RollbarState};
use crate::pipeline::IngestError;
use crate::AppState;

pub(super) async fn post_item(
    State(s): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let rb = s.rollbar.clone();
    rb.counters.inc(&rb.counters.item_requests);
    // The caller's address, for `request.user_ip = "$remote_ip"` (present when served by
    // `Server::run`; a router used without connect info leaves the placeholder as sent).
    let remote_ip = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    respond(ingest(&s, &rb, &headers, body, remote_ip).await)
}

async fn ingest(
    s: &AppState,
    rb: &Arc<RollbarState>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    remote_ip: Option<String>,
) -> Answer {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            rb.counters.inc(&rb.counters.invalid);
            return ItemError::TooLarge.answer();
        }
        Err(_) => {
            rb.counters.inc(&rb.counters.invalid);
            return ItemError::NoPayload.answer();
        }
    };
    let encoding = header(headers, "content-encoding").map(str::to_owned);
    let content_type = header(headers, "content-type").map(str::to_owned);
    let token = header(headers, protocols::rollbar::item::TOKEN_HEADER).map(str::to_owned);
    let limits = rb.config.limits;
    let decoded = crate::blocking(move || {
        let raw =
            protocols::body::decode_body(encoding.as_deref(), &body, limits.payload_bytes_max)
                .map_err(|e| match e {
                    protocols::body::BodyError::TooLarge { .. } => ItemError::TooLarge.answer(),
                    other => Answer::error(400, &other.to_string()),
                })?;
        let mut sub =
            protocols::rollbar::decode(&raw, content_type.as_deref(), token.as_deref(), limits)
                .map_err(|e| e.answer())?;
        if let Some(ip) = remote_ip.as_deref() {
            sub.resolve_remote_ip(ip);
        }
        Ok::<_, Answer>(sub)
    })
    .await;
    let sub = match decoded {
        Ok(Ok(sub)) => sub,
        Ok(Err(answer)) => {
            if answer.status == 401 {
                rb.counters.inc(&rb.counters.unauthorized);
            } else {
                rb.counters.inc(&rb.counters.invalid);
            }
            return answer;
        }
        Err(_) => return internal(),
    };
    let need = Need::PostItem {
        client_side: sub.is_client_side(),
    };
    let (access, rate) = match rb.authorize(sub.token(), need) {
        Ok(granted) => granted,
        Err(answer) => return answer,
    };
    let mut answer = record_and_commit(s, rb, sub, access).await;
    rate.apply(&mut answer);
    answer
}

/// Submissions waiting for the next group, at most (our choice: about one second of the
/// 20,000 occurrences/s goal; beyond it a client gets 429 with `Retry-After`, as for a full
/// ingest queue).
pub const PENDING_MAX: usize = 16_384;
/// Occurrences recorded and committed as one group, at most (our choice: one pipeline
/// request, well under `REQUEST_EVENTS_MAX`, and a group's item changes stay small).
pub const GROUP_MAX: usize = 4_096;
/// The items document is written again after this many occurrences (our choice: bounds the
/// replay after a crash to ~2 s of occurrences at the goal rate) …
pub const CHECKPOINT_OCCURRENCES: u64 = 50_000;
/// … or when a group commits this long after the last write (our choice).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

/// One submission waiting for its group, already fingerprinted and translated (on the
/// request's own blocking thread, so groups only record): the event lacks only the ids
/// recording hands out.
pub(super) struct Pending {
    occ: Occurrence,
    event: model::Event,
    done: oneshot::Sender<Answer>,
}

/// The group-commit state of item ingest.
#[derive(Default)]
pub(super) struct Recorder {
    queue: Mutex<VecDeque<Pending>>,
    /// Loaded from the store with the first group.
    pub(super) recent: tokio::sync::OnceCell<Mutex<RecentUuids>>,
    /// (occurrence id the document reflects, when it was written).
    written: Mutex<Option<(u64, Instant)>>,
}

impl Recorder {
    fn push(&self, p: Pending) -> Result<(), Pending> {
        let Ok(mut q) = self.queue.lock() else {
            return Err(p);
        };
        if q.len() >= PENDING_MAX {
            return Err(p);
        }
        q.push_back(p);
        Ok(())
    }

    fn take(&self, max: usize) -> Vec<Pending> {
        match self.queue.lock() {
            Ok(mut q) => {
                let n = q.len().min(max);
                q.drain(..n).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Notes that the document now reflects every occurrence up to `through`.
    pub(super) fn written(&self, through: u64) {
        if let Ok(mut w) = self.written.lock() {
            *w = Some((through, Instant::now()));
        }
    }

    fn checkpoint_due(&self, through: u64) -> bool {
        match self.written.lock() {
            Ok(mut w) => match *w {
                None => {
                    // The first group after a start: count from here.
                    *w = Some((0, Instant::now()));
                    through >= CHECKPOINT_OCCURRENCES
                }
                Some((at, when)) => {
                    through > at
                        && (through - at >= CHECKPOINT_OCCURRENCES
                            || when.elapsed() >= CHECKPOINT_INTERVAL)
                }
            },
            Err(_) => false,
        }
    }
}

/// Queues the submission and waits for its group to commit. Whoever holds the items writer
/// lock next takes every waiting submission (up to [`GROUP_MAX`]) as one group, so
/// concurrent clients share one pipeline commit and one item-state swap.
async fn record_and_commit(
    s: &AppState,
    rb: &Arc<RollbarState>,
    mut sub: Submission,
    access: Access,
) -> Answer {
    let uuid = sub.ensure_uuid(|| RequestId::new().to_string());
    let prepared = crate::blocking(move || {
        let now_ns = crate::now_ns();
        let occ = Occurrence::from_submission(access.project.id, &sub, &uuid, now_ns);
        let event = protocols::rollbar::translate(
            &sub,
            &Context {
                dataset: &access.project.name,
                now_ns,
                uuid: &uuid,
                fingerprint: &occ.fingerprint,
                stored: None,
            },
        );
        (occ, event)
    })
    .await;
    let Ok((occ, event)) = prepared else {
        return internal();
    };
    let (done, mut answer) = oneshot::channel();
    if rb.recorder.push(Pending { occ, event, done }).is_err() {
        rb.counters.inc(&rb.counters.refused_overload);
        return overloaded();
    }
    loop {
        tokio::select! {
            biased;
            a = &mut answer => return a.unwrap_or_else(|_| internal()),
            guard = rb.items.writer.clone().lock_owned() => {
                let group = rb.recorder.take(GROUP_MAX);
                if group.is_empty() {
                    continue; // ours was in the group that just finished
                }
                let (s, rb) = (s.clone(), rb.clone());
                // Its own task: a client that goes away cannot cancel a group half-way
                // (after its commit, before the items swap).
                let task = tokio::spawn(async move {
                    let _writer = guard;
                    record_group(&s, &rb, group).await;
                });
                let _ = task.await;
            }
        }
    }
}

fn overloaded() -> Answer {
    let mut a = Answer::error(429, "Waggle's ingest queue is full; retry later.");
    a.headers.push(("Retry-After", "1".to_owned()));
    a
}

/// What recording decided for one submission of a group.
enum Slot {
    /// Recorded: its event is `events[event]`.
    New {
        event: usize,
        occ: Box<Occurrence>,
        stored: Stored,
    },
    /// Its uuid was stored before: answered as accepted, stored once.
    Duplicate,
    /// Its uuid is another submission's of this group (that slot's answer is its answer).
    DuplicateOf(usize),
    TooManyItems,
}

/// Records a group into a copy of the items, commits its events as one pipeline request,
/// then swaps the copy in and answers every submission (module docs: ordering).
async fn record_group(s: &AppState, rb: &Arc<RollbarState>, group: Vec<Pending>) {
    let (subs, dones): (Vec<_>, Vec<_>) = group
        .into_iter()
        .map(|p| ((p.occ, p.event), p.done))
        .unzip();
    let answer_all = |dones: Vec<oneshot::Sender<Answer>>, a: Answer| {
        for d in dones {
            let _ = d.send(a.clone());
        }
    };
    let items = match rb.items.get(&s.store).await {
        Ok(i) => i,
        Err(a) => return answer_all(dones, a),
    };
    if let Err(a) = rb.recent_uuids(&s.store).await {
        return answer_all(dones, a);
    }
    let planned = {
        let (rb, items) = (rb.clone(), items.clone());
        crate::blocking(move || plan_group(&rb, &items, subs)).await
    };
    let Ok((next, events, slots, uuids)) = planned else {
        return answer_all(dones, internal());
    };
    let mut rejected: Vec<u32> = Vec::new();
    let failure = match s.pipeline.submit(events).await {
        Ok(report) => {
            if report.rejected > 0 {
                rb.counters.add(&rb.counters.invalid, report.rejected);
                tracing::warn!(reason = ?report.rejected_reason, "Rollbar occurrences refused by the store");
            }
            rejected = report.rejected_at;
            None
        }
        Err(IngestError::Overloaded) => {
            rb.counters
                .add(&rb.counters.refused_overload, slots_new(&slots));
            Some(overloaded())
        }
        Err(_) => {
            rb.counters
                .add(&rb.counters.storage_errors, slots_new(&slots));
            Some(unavailable())
        }
    };
    // The items that describe exactly the committed events: the group's copy, or, when the
    // store refused some, the old items with the others replayed (refused ids are skipped).
    let next = match (&failure, rejected.is_empty()) {
        (Some(_), _) => None,
        (None, true) => Some(next),
        (None, false) => {
            let mut fixed = (*items).clone();
            for slot in &slots {
                if let Slot::New { event, occ, stored } = slot {
                    if rejected.binary_search(&(*event as u32)).is_err() {
                        fixed.replay(occ, stored);
                    }
                }
            }
            Some(fixed)
        }
    };
    let mut answers: Vec<Answer> = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        let uuid = &uuids[i];
        let a = match slot {
            Slot::Duplicate => {
                rb.counters.inc(&rb.counters.duplicates);
                Answer::item_accepted(uuid)
            }
            Slot::DuplicateOf(j) => {
                if answers[*j].status == 200 {
                    rb.counters.inc(&rb.counters.duplicates);
                }
                answers[*j].clone()
            }
            Slot::TooManyItems => {
                rb.counters.inc(&rb.counters.invalid);
                Answer::error(422, &RecordError::TooManyItems.to_string())
            }
            Slot::New { event, stored, .. } => match &failure {
                Some(a) => a.clone(),
                None if rejected.binary_search(&(*event as u32)).is_ok() => {
                    Answer::error(422, "The occurrence could not be stored.")
                }
                None => {
                    rb.counters.inc(&rb.counters.accepted);
                    if stored.new_item {
                        rb.counters.inc(&rb.counters.items_created);
                    }
                    if stored.reactivated {
                        rb.counters.inc(&rb.counters.items_reactivated);
                    }
                    Answer::item_accepted(uuid)
                }
            },
        };
        answers.push(a);
    }
    let Some(next) = next else {
        for (d, a) in dones.into_iter().zip(answers) {
            let _ = d.send(a);
        }
        return;
    };
    if let Ok(mut recent) = rb.recent_lock() {
        for (slot, (uuid, a)) in slots.iter().zip(uuids.iter().zip(&answers)) {
            if let (Slot::New { occ, .. }, 200) = (slot, a.status) {
                recent.insert(occ.project_id, uuid);
            }
        }
    }
    let next = Arc::new(next);
    rb.items.swap(next.clone());
    // Readers now see the committed group: answer before any checkpoint write, which is
    // part of no answer (the committed events are the durable record; the document is
    // where a restart starts replaying them from). The writer lock stays held through it.
    for (d, a) in dones.into_iter().zip(answers) {
        let _ = d.send(a);
    }
    let through = next.next_occurrence_id();
    if rb.recorder.checkpoint_due(through) {
        match rb.items.persist(&s.store, next).await {
            Ok(()) => rb.recorder.written(through),
            Err(_) => rb.counters.inc(&rb.counters.storage_errors),
        }
    }
}

fn slots_new(slots: &[Slot]) -> u64 {
    slots
        .iter()
        .filter(|s| matches!(s, Slot::New { .. }))
        .count() as u64
}

type Planned = (Items, Vec<model::Event>, Vec<Slot>, Vec<String>);

/// The blocking half: duplicate checks, and recording into a copy of the items; each
/// recorded event gets its ids.
fn plan_group(rb: &RollbarState, items: &Items, subs: Vec<(Occurrence, model::Event)>) -> Planned {
    let mut next = items.clone();
    let mut events = Vec::with_capacity(subs.len());
    let mut slots = Vec::with_capacity(subs.len());
    let mut uuids = Vec::with_capacity(subs.len());
    let mut in_group: HashMap<(u64, String), usize> = HashMap::new();
    let recent = rb.recent_lock().ok();
    for (occ, mut event) in subs {
        let (project, uuid) = (occ.project_id, occ.uuid.clone());
        let slot = if recent.as_ref().is_some_and(|r| r.contains(project, &uuid)) {
            Slot::Duplicate
        } else if let Some(&j) = (!uuid.is_empty())
            .then(|| in_group.get(&(project, uuid.clone())))
            .flatten()
        {
            Slot::DuplicateOf(j)
        } else {
            match next.record(&occ) {
                Err(RecordError::TooManyItems) => Slot::TooManyItems,
                Ok(stored) => {
                    if !uuid.is_empty() {
                        in_group.insert((project, uuid.clone()), slots.len());
                    }
                    protocols::rollbar::translate::set_ids(&mut event, &stored);
                    events.push(event);
                    Slot::New {
                        event: events.len() - 1,
                        occ: Box::new(occ),
                        stored,
                    }
                }
            }
        };
        slots.push(slot);
        uuids.push(uuid);
    }
    (next, events, slots, uuids)
}
