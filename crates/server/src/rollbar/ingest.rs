//! `POST /api/1/item/`: decode (blocking thread) → authorize → rate limit → group → commit the
//! occurrence → persist the items → answer.
//!
//! Ordering (so an item counter or occurrence id is never handed out for an occurrence that did
//! not commit): under the items writer lock, the occurrence is recorded into a *clone* of the
//! items, its event (carrying the item id, counter and occurrence id) is committed through the
//! pipeline, and only then is the clone persisted and swapped in. If the commit fails, the clone
//! is dropped and the next occurrence gets the same numbers. If the commit succeeds but the
//! document write fails, the clone is swapped in anyway — it describes committed events, and
//! dropping it would hand the same numbers out twice — the next successful write of any change
//! persists it, and the client gets a 503 (the item state is not yet durable; a retry with the
//! same uuid is answered as a duplicate). If the process dies between the commit and the
//! document write, the next start reserves the ids the committed events carry
//! (`AfterLoad for Items` in `mod.rs`), so none is handed out twice; that occurrence is then
//! in the store but not counted in its item. The writer lock serializes item ingest: one
//! occurrence per commit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::Extensions;
use axum::http::HeaderMap;
use axum::response::Response;
use protocols::aws::RequestId;
use protocols::rollbar::items::{Occurrence, RecordError};
use protocols::rollbar::tokens::Need;
use protocols::rollbar::translate::Context;
use protocols::rollbar::{Access, Answer, ItemError, Items, Recorded, Submission};

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

/// What the blocking half of recording produced.
enum Prepared {
    Duplicate,
    TooManyItems,
    New(Box<Ready>),
}

/// The items with this occurrence recorded, and its event.
struct Ready {
    next: Items,
    event: model::Event,
    new_item: bool,
    reactivated: bool,
}

async fn record_and_commit(
    s: &AppState,
    rb: &Arc<RollbarState>,
    mut sub: Submission,
    access: Access,
) -> Answer {
    let uuid = sub.ensure_uuid(|| RequestId::new().to_string());
    let _writer = rb.items.writer.lock().await;
    let items = match rb.items.get(&s.store).await {
        Ok(i) => i,
        Err(a) => return a,
    };
    let prepared = {
        let uuid = uuid.clone();
        crate::blocking(move || {
            let now_ns = crate::now_ns();
            let occ = Occurrence::from_submission(access.project.id, &sub, &uuid, now_ns);
            let mut next = (*items).clone();
            let stored = match next.record(&occ) {
                Ok(Recorded::Duplicate) => return Prepared::Duplicate,
                Err(RecordError::TooManyItems) => return Prepared::TooManyItems,
                Ok(Recorded::Stored(st)) => st,
            };
            let event = protocols::rollbar::translate(
                &sub,
                &Context {
                    dataset: &access.project.name,
                    now_ns,
                    uuid: &uuid,
                    fingerprint: &occ.fingerprint,
                    stored: Some(&stored),
                },
            );
            Prepared::New(Box::new(Ready {
                next,
                event,
                new_item: stored.new_item,
                reactivated: stored.reactivated,
            }))
        })
        .await
    };
    let (next, event, new_item, reactivated) = match prepared {
        Ok(Prepared::New(ready)) => {
            let Ready {
                next,
                event,
                new_item,
                reactivated,
            } = *ready;
            (next, event, new_item, reactivated)
        }
        Ok(Prepared::Duplicate) => {
            rb.counters.inc(&rb.counters.duplicates);
            return Answer::item_accepted(&uuid);
        }
        Ok(Prepared::TooManyItems) => {
            rb.counters.inc(&rb.counters.invalid);
            return Answer::error(422, &RecordError::TooManyItems.to_string());
        }
        Err(_) => return internal(),
    };
    match s.pipeline.submit(vec![event]).await {
        Ok(report) if report.rejected == 0 => {}
        Ok(report) => {
            // The store refused this event itself (the pipeline isolated it): nothing
            // committed, so nothing is recorded.
            rb.counters.inc(&rb.counters.invalid);
            tracing::warn!(reason = ?report.rejected_reason, "Rollbar occurrence refused by the store");
            return Answer::error(422, "The occurrence could not be stored.");
        }
        Err(IngestError::Overloaded) => {
            rb.counters.inc(&rb.counters.refused_overload);
            let mut a = Answer::error(429, "Waggle's ingest queue is full; retry later.");
            a.headers.push(("Retry-After", "1".to_owned()));
            return a;
        }
        Err(_) => {
            rb.counters.inc(&rb.counters.storage_errors);
            return unavailable();
        }
    }
    rb.counters.inc(&rb.counters.accepted);
    if new_item {
        rb.counters.inc(&rb.counters.items_created);
    }
    if reactivated {
        rb.counters.inc(&rb.counters.items_reactivated);
    }
    let next = Arc::new(next);
    let persisted = rb.items.persist(&s.store, next.clone()).await;
    rb.items.swap(next);
    match persisted {
        Ok(()) => Answer::item_accepted(&uuid),
        Err(a) => {
            rb.counters.inc(&rb.counters.storage_errors);
            a
        }
    }
}
