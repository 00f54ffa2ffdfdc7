//! Trace lookups go through the trace index: a trace's events are found wherever and
//! whenever they were committed, across reopening, in stores created before the index, and
//! after retention deletes older events.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use model::{Event, SignalKind, SpanId, TraceId, Value};
use waggle_store::{DuckStore, Store, StoreOptions};

fn span(trace: u128, span: u64, t: i64) -> Event {
    let mut e = Event::new("backend-flask", t, SignalKind::Span);
    e.trace_id = Some(TraceId(trace.to_be_bytes()));
    e.span_id = Some(SpanId::from_u64(span));
    e.name = Some("GET /api/activities/home".into());
    e.set("http.route", Value::Str("/api/activities/home".into()));
    e
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waggle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn span_ids(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| e.span_id.map(|s| s.as_u64()))
        .collect()
}

#[test]
fn a_trace_committed_in_several_groups_is_found_whole_after_reopen() {
    let dir = temp_dir("trace-index");
    let wanted: u128 = 0x5759e988bd862e3fe1be46a994272793;
    // Same low half, different high half: must not leak into the answer.
    let twin: u128 = wanted ^ (1u128 << 100);
    {
        let store = DuckStore::open(&dir, StoreOptions::default()).unwrap();
        store
            .insert(&[span(wanted, 1, 10), span(twin, 99, 11)])
            .unwrap();
        let noise: Vec<Event> = (0..5000u64)
            .map(|i| span(u128::from(i) << 64 | u128::from(i), 1000 + i, 20))
            .collect();
        store.insert(&noise).unwrap();
        store
            .insert(&[span(7, 7, 30), span(wanted, 2, 40), span(wanted, 3, 5)])
            .unwrap();
        assert_eq!(
            span_ids(&store.trace(TraceId(wanted.to_be_bytes())).unwrap()),
            vec![3, 1, 2],
            "ordered by time"
        );
    }
    let store = DuckStore::open(&dir, StoreOptions::default()).unwrap();
    store.insert(&[span(wanted, 4, 50)]).unwrap();
    let got = store.trace(TraceId(wanted.to_be_bytes())).unwrap();
    assert_eq!(span_ids(&got), vec![3, 1, 2, 4]);
    assert!(
        got.iter().all(|e| e.get("__seq").is_none()),
        "internal column hidden"
    );
    assert_eq!(
        span_ids(&store.trace(TraceId(twin.to_be_bytes())).unwrap()),
        vec![99]
    );
    assert!(store.trace(TraceId([9; 16])).unwrap().is_empty());
    // Sequence numbers continue after reopening instead of starting again.
    let rows = store
        .run_sql("SELECT count(DISTINCT \"__seq\"), count(*) FROM events")
        .unwrap();
    assert_eq!(rows[0][0], rows[0][1]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_from_before_the_index_is_migrated_and_its_traces_still_found() {
    let dir = temp_dir("trace-index-migrate");
    std::fs::create_dir_all(&dir).unwrap();
    {
        // The events table as the first release created it: no `__seq`.
        let conn = duckdb::Connection::open(dir.join(waggle_store::DB_FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE events (\"__dataset\" VARCHAR NOT NULL, \"__time_ns\" BIGINT NOT NULL, \
             \"__kind\" UTINYINT NOT NULL, \"__sample_rate\" INTEGER NOT NULL, \
             \"__trace_hi\" BIGINT, \"__trace_lo\" BIGINT, \"__span_id\" BIGINT, \
             \"__parent_id\" BIGINT, \"__resource_keys\" VARCHAR, \"name\" VARCHAR, \
             \"service.name\" VARCHAR, \"duration_ms\" DOUBLE, \"http.route\" VARCHAR);\
             INSERT INTO events VALUES ('backend-flask', 10, 1, 1, 5, 6, 1, NULL, NULL, 'old', \
             'backend-flask', 1.5, '/api/old');",
        )
        .unwrap();
    }
    let store = DuckStore::open(&dir, StoreOptions::default()).unwrap();
    let id: u128 = 5 << 64 | 6;
    store.insert(&[span(id, 2, 20)]).unwrap();
    let got = store.trace(TraceId(id.to_be_bytes())).unwrap();
    assert_eq!(span_ids(&got), vec![1, 2]);
    assert_eq!(
        got[0].get("http.route"),
        Some(&Value::Str("/api/old".into()))
    );
    assert_eq!(got[0].duration_ms, Some(1.5));
    assert!(store.catalog().get("__seq").is_none());
    assert!(store.catalog().get("http.route").is_some());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trace_written_in_more_groups_than_are_read_one_by_one_is_found_whole() {
    let store = DuckStore::open_in_memory().unwrap();
    let wanted: u128 = 0xabcdef;
    for i in 0..100u64 {
        let mut group = vec![span(wanted, i + 1, i as i64)];
        // Noise between the groups so the ranges are far apart.
        group.extend((0..3000u64).map(|j| span(u128::from(i * 10_000 + j + 1) << 64, j, 0)));
        store.insert(&group).unwrap();
    }
    let got = store.trace(TraceId(wanted.to_be_bytes())).unwrap();
    assert_eq!(span_ids(&got), (1..=100).collect::<Vec<u64>>());
}
