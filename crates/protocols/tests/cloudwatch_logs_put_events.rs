//! Every PutLogEvents limit at its boundary: count, bytes (UTF-8 + 26 per event, exactly at
//! 1,048,576 and one over), chronological order, the 24-hour span, and the per-event rejections
//! with their three indexes; `rejectedLogEventsInfo` absent when nothing is rejected.
#![allow(clippy::unwrap_used)]

use waggle_protocols::aws::ErrorKind;
use waggle_protocols::cloudwatch_logs::put_events::*;
use waggle_protocols::cloudwatch_logs::shapes::RejectedLogEventsInfo;

const NOW: i64 = 1_795_650_505_000;
const H: i64 = 60 * 60 * 1000;
const D: i64 = 24 * H;

fn msg(n: usize) -> String {
    "x".repeat(n)
}

#[test]
fn byte_limit_counts_utf8_plus_26_exactly() {
    // One event: the message may be 1,048,576 − 26 bytes.
    let exact = msg(BATCH_BYTES_MAX - EVENT_OVERHEAD_BYTES);
    assert!(accept(&[(NOW, &exact)], NOW, None).is_ok());
    let over = msg(BATCH_BYTES_MAX - EVENT_OVERHEAD_BYTES + 1);
    let e = accept(&[(NOW, &over)], NOW, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        e.message(),
        "Upload too large: 1048577 bytes exceeds limit of 1048576"
    );

    // Multi-byte characters count as their UTF-8 bytes: 'é' is 2 bytes.
    let n = 4;
    let per = (BATCH_BYTES_MAX - n * EVENT_OVERHEAD_BYTES) / n; // 262,118
    let two_byte = "é".repeat(per / 2);
    assert_eq!(two_byte.len(), per);
    let events: Vec<(i64, &str)> = (0..n).map(|_| (NOW, two_byte.as_str())).collect();
    assert_eq!(batch_bytes(events.iter().map(|e| e.1)), BATCH_BYTES_MAX);
    assert!(accept(&events, NOW, None).is_ok());
    let plus_one = format!("{two_byte}a");
    let mut events = events;
    events[3].1 = &plus_one;
    assert!(accept(&events, NOW, None).is_err());

    // 10,000 events of 78 bytes: 10,000 × (78 + 26) = 1,040,000 ≤ limit.
    let m = msg(78);
    let many: Vec<(i64, &str)> = (0..BATCH_EVENTS_MAX).map(|_| (NOW, m.as_str())).collect();
    assert_eq!(accept(&many, NOW, None).unwrap().accepted.len(), 10_000);
}

#[test]
fn count_limit() {
    let many: Vec<(i64, &str)> = (0..=BATCH_EVENTS_MAX).map(|_| (NOW, "a")).collect();
    let e = accept(&many, NOW, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert!(e.message().starts_with("1 validation error detected: Value '[10001 log events]' at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000"), "{}", e.message());
}

#[test]
fn chronological_order_is_required_equal_times_are_fine() {
    assert!(accept(&[(NOW, "a"), (NOW, "b"), (NOW + 1, "c")], NOW, None).is_ok());
    let e = accept(&[(NOW, "a"), (NOW - 1, "b")], NOW, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        e.message(),
        "Log events in a single PutLogEvents request must be in chronological order."
    );
}

#[test]
fn span_of_accepted_events_at_most_24h() {
    assert!(accept(&[(NOW - D, "a"), (NOW, "b")], NOW, None).is_ok());
    let e = accept(&[(NOW - D - 1, "a"), (NOW, "b")], NOW, None).unwrap_err();
    assert_eq!(e.message(), MSG_SPAN_TOO_LONG);
    // Rejected events do not count toward the span.
    let o = accept(
        &[(NOW - 15 * D, "old"), (NOW - H, "a"), (NOW, "b")],
        NOW,
        None,
    )
    .unwrap();
    assert_eq!(o.accepted.len(), 2);
}

fn rejected(
    new: Option<i64>,
    old: Option<i64>,
    expired: Option<i64>,
) -> Option<RejectedLogEventsInfo> {
    Some(RejectedLogEventsInfo {
        too_new_log_event_start_index: new,
        too_old_log_event_end_index: old,
        expired_log_event_end_index: expired,
    })
}

#[test]
fn per_event_rejections_table() {
    type Case = (
        &'static str,
        Vec<i64>,
        Option<i32>,
        Vec<usize>,
        Option<RejectedLogEventsInfo>,
    );
    let cases: Vec<Case> = vec![
        ("all fine", vec![NOW - H, NOW], None, vec![0, 1], None),
        (
            "exactly 2 h ahead is accepted",
            vec![NOW + 2 * H],
            None,
            vec![0],
            None,
        ),
        (
            "2 h + 1 ms ahead",
            vec![NOW, NOW + 2 * H + 1],
            None,
            vec![0],
            rejected(Some(1), None, None),
        ),
        (
            "exactly 14 d old is accepted",
            vec![NOW - 14 * D],
            None,
            vec![0],
            None,
        ),
        (
            "14 d + 1 ms old",
            vec![NOW - 14 * D - 1, NOW],
            None,
            vec![1],
            rejected(None, Some(1), None),
        ),
        (
            "old, ok, new",
            vec![NOW - 20 * D, NOW - 15 * D, NOW, NOW + 3 * H, NOW + 4 * H],
            None,
            vec![2],
            rejected(Some(3), Some(2), None),
        ),
        (
            "retention 1 d: 2 d old is expired",
            vec![NOW - 2 * D, NOW],
            Some(1),
            vec![1],
            rejected(None, None, Some(1)),
        ),
        (
            "retention 1 d: exactly 1 d is kept",
            vec![NOW - D],
            Some(1),
            vec![0],
            None,
        ),
        (
            "retention 7 d: too old, expired, ok",
            vec![NOW - 15 * D, NOW - 8 * D, NOW - 8 * D, NOW],
            Some(7),
            vec![3],
            rejected(None, Some(1), Some(3)),
        ),
        (
            "retention 30 d: 20 d is too old, not expired",
            vec![NOW - 20 * D],
            Some(30),
            vec![],
            rejected(None, Some(1), None),
        ),
        (
            "everything too new",
            vec![NOW + 3 * H, NOW + 4 * H],
            None,
            vec![],
            rejected(Some(0), None, None),
        ),
    ];
    for (name, times, retention, accepted, want) in cases {
        let events: Vec<(i64, &str)> = times.iter().map(|t| (*t, "m")).collect();
        let o = accept(&events, NOW, retention).unwrap();
        let got: Vec<usize> = o.accepted.iter().map(|a| a.index).collect();
        assert_eq!(got, accepted, "{name}");
        assert_eq!(o.rejected, want, "{name}");
    }
}

#[test]
fn rejected_info_is_absent_from_the_json_when_nothing_was_rejected() {
    use waggle_protocols::cloudwatch_logs::shapes::PutLogEventsResponse;
    let o = accept(&[(NOW, "a")], NOW, None).unwrap();
    let r = PutLogEventsResponse {
        next_sequence_token: Some("1".into()),
        rejected_log_events_info: o.rejected,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"nextSequenceToken":"1"}"#
    );
    let o = accept(&[(NOW + 3 * H, "a")], NOW, None).unwrap();
    let r = PutLogEventsResponse {
        next_sequence_token: None,
        rejected_log_events_info: o.rejected,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"rejectedLogEventsInfo":{"tooNewLogEventStartIndex":0}}"#
    );
}
