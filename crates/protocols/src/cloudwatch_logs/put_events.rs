//! PutLogEvents acceptance, as the operation's documentation states it (botocore model
//! `PutLogEvents`): whole-call failures (count, bytes, order, 24-hour span) and per-event
//! rejections (too new, too old, expired) reported in `rejectedLogEventsInfo` — which is absent
//! when nothing was rejected. Sequence tokens are never checked.

use crate::aws::AwsError;

use super::invalid;
use super::shapes::RejectedLogEventsInfo;
use super::validate::INPUT_LOG_EVENTS_MAX;

/// "The maximum batch size is 1,048,576 bytes … the sum of all event messages in UTF-8, plus 26
/// bytes for each log event" (model `PutLogEvents` documentation).
pub const BATCH_BYTES_MAX: usize = 1_048_576;
/// Per-event overhead counted against [`BATCH_BYTES_MAX`] (same source).
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// "Each log event can be no larger than 1 MB" (same source). Implied by the batch limit:
/// one event's message can be at most `BATCH_BYTES_MAX - EVENT_OVERHEAD_BYTES` bytes.
pub const EVENT_BYTES_MAX: usize = BATCH_BYTES_MAX;
/// "The maximum number of log events in a batch is 10,000" (same source; model max).
pub const BATCH_EVENTS_MAX: usize = INPUT_LOG_EVENTS_MAX;
/// "Events more than 2 hours in the future are rejected" (same source).
pub const TOO_NEW_MS: i64 = 2 * 60 * 60 * 1000;
/// "Events older than 14 days … are rejected" (same source).
pub const TOO_OLD_MS: i64 = 14 * 24 * 60 * 60 * 1000;
/// "The time span in a single batch cannot exceed 24 hours" (same source).
pub const BATCH_SPAN_MS_MAX: i64 = 24 * 60 * 60 * 1000;
/// One day, for `retentionInDays`.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

const _: () = assert!(EVENT_OVERHEAD_BYTES * BATCH_EVENTS_MAX < BATCH_BYTES_MAX);

/// The order failure (the text AWS SDK users and moto's tests see).
pub const MSG_NOT_CHRONOLOGICAL: &str =
    "Log events in a single PutLogEvents request must be in chronological order.";
/// The span failure **[inference]**: AWS's text is not documented; this is the documentation's
/// sentence.
pub const MSG_SPAN_TOO_LONG: &str =
    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.";

/// "Upload too large: N bytes exceeds limit of 1048576", the text CloudWatch Logs answers for
/// oversized batches (seen from its OTLP endpoint in the wild) **[inference]** for PutLogEvents.
pub fn upload_too_large(bytes: usize) -> AwsError {
    invalid(format!(
        "Upload too large: {bytes} bytes exceeds limit of {BATCH_BYTES_MAX}"
    ))
}

/// The bytes a batch counts: Σ UTF-8 message bytes + 26 per event.
pub fn batch_bytes<'a>(messages: impl IntoIterator<Item = &'a str>) -> usize {
    messages
        .into_iter()
        .map(|m| m.len().saturating_add(EVENT_OVERHEAD_BYTES))
        .fold(0usize, usize::saturating_add)
}

/// One accepted event, in request order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// Index in the request's `logEvents`.
    pub index: usize,
    pub timestamp_ms: i64,
    pub message: &'a str,
}

/// What a valid call does: the events to store and what to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'a> {
    pub accepted: Vec<Accepted<'a>>,
    /// `None` when nothing was rejected (the key is then absent from the answer).
    pub rejected: Option<RejectedLogEventsInfo>,
}

/// Applies the batch rules to `events` (`(timestamp ms, message)`, request order) at `now_ms`
/// for a group with `retention_days` (if any).
///
/// Order of checks: count, bytes, chronological order (whole call fails), then each event is
/// classified — too new (`> now + 2 h`), too old (`< now − 14 d`), expired (`< now −
/// retention`) — and the accepted ones may not span more than 24 hours (whole call fails).
/// Because events are sorted, the too-old and expired ones are a prefix and the too-new ones a
/// suffix: `tooOldLogEventEndIndex` is exclusive and `tooNewLogEventStartIndex` inclusive
/// (model docs); `expiredLogEventEndIndex` is taken as exclusive too **[inference]**.
pub fn accept<'a>(
    events: &[(i64, &'a str)],
    now_ms: i64,
    retention_days: Option<i32>,
) -> Result<Outcome<'a>, AwsError> {
    if events.len() > BATCH_EVENTS_MAX {
        return Err(invalid(format!(
            "1 validation error detected: Value '[{} log events]' at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {BATCH_EVENTS_MAX}",
            events.len()
        )));
    }
    let bytes = batch_bytes(events.iter().map(|(_, m)| *m));
    if bytes > BATCH_BYTES_MAX {
        return Err(upload_too_large(bytes));
    }
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(invalid(MSG_NOT_CHRONOLOGICAL));
    }
    let too_new_after = now_ms.saturating_add(TOO_NEW_MS);
    let too_old_before = now_ms.saturating_sub(TOO_OLD_MS);
    let expired_before = retention_days
        .filter(|d| *d > 0)
        .map(|d| now_ms.saturating_sub(i64::from(d).saturating_mul(DAY_MS)));

    let mut info = RejectedLogEventsInfo::default();
    let mut accepted = Vec::with_capacity(events.len());
    for (index, &(ts, message)) in events.iter().enumerate() {
        let i = i64::try_from(index).unwrap_or(i64::MAX);
        if ts > too_new_after {
            info.too_new_log_event_start_index.get_or_insert(i);
        } else if ts < too_old_before {
            info.too_old_log_event_end_index = Some(i + 1);
        } else if expired_before.is_some_and(|cut| ts < cut) {
            info.expired_log_event_end_index = Some(i + 1);
        } else {
            accepted.push(Accepted {
                index,
                timestamp_ms: ts,
                message,
            });
        }
    }
    if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
        if last.timestamp_ms.saturating_sub(first.timestamp_ms) > BATCH_SPAN_MS_MAX {
            return Err(invalid(MSG_SPAN_TOO_LONG));
        }
    }
    let rejected = (info != RejectedLogEventsInfo::default()).then_some(info);
    Ok(Outcome { accepted, rejected })
}
