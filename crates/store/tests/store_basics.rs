//! The DuckDB store keeps what it acknowledges, widens column types without losing values and
//! returns a trace's events intact.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use model::{Event, SignalKind, SpanId, TraceId, Value};
use waggle_store::{DuckStore, Store, StoreOptions};

fn span(trace: &str, span: &str, parent: Option<&str>, t: i64) -> Event {
    let mut e = Event::new("backend-flask", t, SignalKind::Span);
    e.trace_id = Some(TraceId::parse(trace).unwrap());
    e.span_id = Some(SpanId::parse(span).unwrap());
    e.parent_id = parent.map(|p| SpanId::parse(p).unwrap());
    e.name = Some("GET /api/activities/home".into());
    e.service = Some("backend-flask".into());
    e.duration_ms = Some(12.5);
    e.set("http.route", Value::Str("/api/activities/home".into()));
    e.set("http.status_code", Value::Int(200));
    e.resource_keys = vec!["service.name".into()];
    e
}

#[test]
fn insert_then_read_trace_back() {
    let store = DuckStore::open_in_memory().unwrap();
    let t = "5759e988bd862e3fe1be46a994272793";
    let root = span(t, "00f067aa0ba902b7", None, 1_000);
    let child = span(t, "00f067aa0ba902b8", Some("00f067aa0ba902b7"), 2_000);
    let other = span(
        "1-5759e988-bd862e3fe1be46a994272794",
        "00f067aa0ba902b9",
        None,
        3_000,
    );
    store.insert(&[root.clone(), child.clone(), other]).unwrap();
    let got = store.trace(TraceId::parse(t).unwrap()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].span_id, root.span_id);
    assert_eq!(got[0].parent_id, None);
    assert_eq!(got[1].parent_id, root.span_id);
    assert_eq!(got[1].get("http.status_code"), Some(&Value::Int(200)));
    assert_eq!(got[1].resource_keys, vec!["service.name".to_string()]);
    assert_eq!(got[0].duration_ms, Some(12.5));
}

#[test]
fn conflicting_types_widen_without_loss() {
    let store = DuckStore::open_in_memory().unwrap();
    let mut a = span(
        "5759e988bd862e3fe1be46a994272793",
        "00f067aa0ba902b7",
        None,
        1,
    );
    a.set("x", Value::Int(3));
    store.insert(&[a]).unwrap();
    let mut b = span(
        "5759e988bd862e3fe1be46a994272793",
        "00f067aa0ba902b8",
        None,
        2,
    );
    b.set("x", Value::Float(2.5));
    store.insert(&[b]).unwrap();
    let mut c = span(
        "5759e988bd862e3fe1be46a994272793",
        "00f067aa0ba902b9",
        None,
        3,
    );
    c.set("x", Value::Str("many".into()));
    store.insert(&[c]).unwrap();
    let rows = store
        .run_sql("SELECT \"x\" FROM events ORDER BY \"__time_ns\"")
        .unwrap();
    let xs: Vec<_> = rows.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        xs,
        vec![
            Some(Value::Str("3.0".into())),
            Some(Value::Str("2.5".into())),
            Some(Value::Str("many".into()))
        ]
    );
    assert_eq!(
        store.catalog().get("x").unwrap().ty,
        model::value::ColumnType::String
    );
}

#[test]
fn data_survives_reopen_and_retention_deletes_old() {
    let dir = std::env::temp_dir().join(format!("waggle-store-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let store = DuckStore::open(&dir, StoreOptions::default()).unwrap();
        let now = 1_800_000_000_000_000_000i64;
        let old = span(
            "5759e988bd862e3fe1be46a994272793",
            "00f067aa0ba902b7",
            None,
            now - 40 * 86_400_000_000_000,
        );
        let new = span(
            "5759e988bd862e3fe1be46a994272794",
            "00f067aa0ba902b7",
            None,
            now,
        );
        store.insert(&[old, new]).unwrap();
    }
    let store = DuckStore::open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(store.datasets().unwrap()[0].events, 2);
    assert!(store.catalog().get("http.route").is_some());
    let deleted = store.apply_retention(1_800_000_000_000_000_000).unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(store.datasets().unwrap()[0].events, 1);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
