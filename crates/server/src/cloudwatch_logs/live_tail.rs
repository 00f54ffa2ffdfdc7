//! StartLiveTail: an `application/vnd.amazon.eventstream` response that stays open. First
//! the `initial-response` message botocore requires of awsJson event streams, then
//! `sessionStart`, then a `sessionUpdate` every [`UPDATE_INTERVAL`] with the matching events
//! committed since the last one (read through the same plan predicates as FilterLogEvents,
//! bounded by the store's commit sequence), sampled beyond [`UPDATE_EVENTS_MAX`]. The session
//! ends when the client goes away, or after [`SESSION_MAX`] with `SessionTimeoutException`, as
//! AWS's does.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocols::aws::eventstream;
use protocols::aws::{AwsError, ErrorKind};
use protocols::cloudwatch_logs::shapes::{
    LiveTailSessionMetadata, LiveTailSessionStart, LiveTailSessionUpdate, StartLiveTailRequest,
};
use protocols::cloudwatch_logs::validate::{self, GroupRef};

use super::read::{self, TailScope};
use super::LogsService;
use crate::aws::AwsRequest;
use crate::AppState;

/// How often a session sends an update (AWS: "every second").
pub const UPDATE_INTERVAL: Duration = Duration::from_secs(1);
/// Events per update, at most; beyond, the update is marked sampled (AWS: 500).
pub const UPDATE_EVENTS_MAX: usize = 500;
/// Longest session (AWS ends live-tail sessions after 3 hours).
pub const SESSION_MAX: Duration = Duration::from_secs(3 * 3600);
/// Open sessions at once, at most (our choice: each polls the store once a second; AWS
/// allows 15 concurrent sessions per account).
pub const SESSIONS_MAX: usize = 15;
/// Frames buffered for a slow reader before the session waits for it (our choice).
const FRAMES_QUEUED_MAX: usize = 4;

/// Open sessions (bounded by [`SESSIONS_MAX`]).
#[derive(Debug, Default)]
pub struct Sessions {
    open: AtomicUsize,
}

struct SessionSlot(Arc<LogsService>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.tail_sessions.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) async fn start(
    s: &AppState,
    logs: &Arc<LogsService>,
    aws: &AwsRequest,
    body: &[u8],
) -> Result<Response, AwsError> {
    let req: StartLiveTailRequest = super::ops::parse(body)?;
    validate::start_live_tail(&req)?;
    let pattern = req.log_event_filter_pattern.clone().unwrap_or_default();
    query::cloudwatch::pattern::parse(&pattern).map_err(super::ops::pattern_error)?;
    let identifiers = req.log_group_identifiers.clone().unwrap_or_default();
    let ids = identifiers.clone();
    let groups: Vec<String> = super::with_state(s, logs, &aws.region, false, move |st| {
        ids.iter()
            .map(|i| st.resolve(GroupRef::Identifier(i)).map(|g| g.name.clone()))
            .collect()
    })
    .await?;
    let scopes: Vec<TailScope> = groups
        .into_iter()
        .zip(identifiers.iter())
        .map(|(group, identifier)| TailScope {
            group,
            identifier: identifier.clone(),
            stream_names: req.log_stream_names.clone(),
            stream_prefixes: req.log_stream_name_prefixes.clone(),
            pattern: pattern.clone(),
        })
        .collect();
    if logs.tail_sessions.open.fetch_add(1, Ordering::Relaxed) >= SESSIONS_MAX {
        logs.tail_sessions.open.fetch_sub(1, Ordering::Relaxed);
        return Err(AwsError::new(
            ErrorKind::LimitExceeded,
            format!("At most {SESSIONS_MAX} live tail sessions may be open at once."),
        ));
    }
    let slot = SessionSlot(logs.clone());
    let store = s.store.clone();
    let start_seq = crate::blocking({
        let store = store.clone();
        move || read::newest_seq(store.as_ref())
    })
    .await
    .map_err(|_| AwsError::internal())??;
    let session_start = LiveTailSessionStart {
        request_id: aws.request_id.to_string(),
        session_id: protocols::aws::RequestId::new().to_string(),
        log_group_identifiers: identifiers,
        log_stream_names: req.log_stream_names.clone(),
        log_stream_name_prefixes: req.log_stream_name_prefixes.clone(),
        log_event_filter_pattern: req.log_event_filter_pattern.clone(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(FRAMES_QUEUED_MAX);
    tokio::spawn(async move {
        let _slot = slot;
        let frame = |b: Vec<u8>| Ok::<_, Infallible>(Bytes::from(b));
        let start_json = serde_json::to_vec(&session_start).unwrap_or_else(|_| b"{}".to_vec());
        if tx
            .send(frame(eventstream::event("initial-response", b"{}")))
            .await
            .is_err()
            || tx
                .send(frame(eventstream::event("sessionStart", &start_json)))
                .await
                .is_err()
        {
            return;
        }
        let began = Instant::now();
        let mut after = start_seq;
        let mut tick = tokio::time::interval(UPDATE_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            if began.elapsed() >= SESSION_MAX {
                let _ = tx
                    .send(frame(eventstream::exception(
                        "SessionTimeoutException",
                        br#"{"message":"The live tail session reached its 3-hour limit."}"#,
                    )))
                    .await;
                return;
            }
            let st = store.clone();
            let sc = scopes.clone();
            let polled = crate::blocking(move || {
                let upto = read::newest_seq(st.as_ref())?;
                let mut results = Vec::new();
                for scope in &sc {
                    results.extend(read::tail_events(
                        st.as_ref(),
                        scope,
                        after,
                        upto,
                        UPDATE_EVENTS_MAX + 1,
                    )?);
                }
                Ok::<_, AwsError>((upto, results))
            })
            .await;
            let update = match polled {
                Ok(Ok((upto, mut results))) => {
                    after = upto;
                    let sampled = results.len() > UPDATE_EVENTS_MAX;
                    results.sort_by_key(|e| (e.ingestion_time, e.timestamp));
                    results.truncate(UPDATE_EVENTS_MAX);
                    LiveTailSessionUpdate {
                        session_metadata: LiveTailSessionMetadata { sampled },
                        session_results: results,
                    }
                }
                _ => {
                    let _ = tx
                        .send(frame(eventstream::exception(
                            "SessionStreamingException",
                            br#"{"message":"The live tail session could not read the store; start a new session."}"#,
                        )))
                        .await;
                    return;
                }
            };
            let json = serde_json::to_vec(&update).unwrap_or_else(|_| b"{}".to_vec());
            if tx
                .send(frame(eventstream::event("sessionUpdate", &json)))
                .await
                .is_err()
            {
                return; // the client went away
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    Ok(r)
}
