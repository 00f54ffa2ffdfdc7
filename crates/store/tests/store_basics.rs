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

/// Reads one column through the query path (plan resolution + the dialect's SQL), as
/// every read API does.
fn read_column(store: &DuckStore, name: &str) -> Vec<Option<Value>> {
    let mut warnings = Vec::new();
    let c = query::plan::resolve_column(name, &store.catalog(), &mut warnings);
    let r = query::sql::Renderer::new(&query::DuckDb, 0, i64::MAX);
    let sql = format!(
        "SELECT {} FROM events AS e ORDER BY \"__time_ns\"",
        r.column(&c, "e")
    );
    store
        .run_sql(&sql)
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn conflicting_types_keep_the_column_and_lose_nothing() {
    let store = DuckStore::open_in_memory().unwrap();
    let t = "5759e988bd862e3fe1be46a994272793";
    let big = (1i64 << 53) + 1;
    let mut a = span(t, "00f067aa0ba902b7", None, 1);
    a.set("x", Value::Int(big));
    store.insert(&[a]).unwrap();
    let mut b = span(t, "00f067aa0ba902b8", None, 2);
    b.set("x", Value::Float(2.5));
    let r = store.insert(&[b]).unwrap();
    assert_eq!(r.fields_spilled, 1);
    let mut c = span(t, "00f067aa0ba902b9", None, 3);
    c.set("x", Value::Str("many".into()));
    store.insert(&[c]).unwrap();
    // The column keeps its type: the acknowledged integer is never rewritten.
    let cat = store.catalog();
    assert_eq!(cat.get("x").unwrap().ty, model::value::ColumnType::Integer);
    assert_eq!(cat.type_of("x"), Some(model::value::ColumnType::String));
    let raw = store
        .run_sql("SELECT \"x\" FROM events ORDER BY \"__time_ns\"")
        .unwrap();
    assert_eq!(raw[0][0], Some(Value::Int(big)));
    // Queries see every value, as the widest type.
    assert_eq!(
        read_column(&store, "x"),
        vec![
            Some(Value::Str(big.to_string())),
            Some(Value::Str("2.5".into())),
            Some(Value::Str("many".into()))
        ]
    );
    // Trace reads return the values with their own types.
    let got = store.trace(TraceId::parse(t).unwrap()).unwrap();
    assert_eq!(got[0].get("x"), Some(&Value::Int(big)));
    assert_eq!(got[1].get("x"), Some(&Value::Float(2.5)));
    assert_eq!(got[2].get("x"), Some(&Value::Str("many".into())));
}

#[test]
fn keys_differing_only_in_case_share_one_column_and_fail_nothing() {
    let store = DuckStore::open_in_memory().unwrap();
    let t = "5759e988bd862e3fe1be46a994272793";
    let mut a = span(t, "00f067aa0ba902b7", None, 1);
    a.set("Foo", Value::Int(1));
    store.insert(&[a]).unwrap();
    // `foo` after `Foo`, both in one event, and keys shaped like the fixed columns.
    let mut b = span(t, "00f067aa0ba902b8", None, 2);
    b.set("foo", Value::Int(2));
    let mut c = span(t, "00f067aa0ba902b9", None, 3);
    c.set("FOO", Value::Int(3));
    c.set("fOo", Value::Int(4));
    c.set("Name", Value::Str("shadow".into()));
    c.set("Duration_MS", Value::Float(1.0));
    c.set("SERVICE.NAME", Value::Str("x".into()));
    c.set("__Dataset", Value::Str("y".into()));
    c.set("nul\0key", Value::Str("nul\0value".into()));
    store.insert(&[b]).unwrap();
    store.insert(&[c]).unwrap();
    // And again: nothing about the first success poisons later groups.
    let mut d = span(t, "00f067aa0ba902ba", None, 4);
    d.set("FOO", Value::Int(5));
    store.insert(&[d]).unwrap();
    let cat = store.catalog();
    let foos: Vec<_> = cat
        .columns
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case("foo"))
        .collect();
    assert_eq!(foos.len(), 1, "{:?}", cat.columns);
    assert_eq!(foos[0].name, "Foo");
    assert_eq!(
        read_column(&store, "foo"),
        vec![
            Some(Value::Int(1)),
            Some(Value::Int(2)),
            Some(Value::Int(4)),
            Some(Value::Int(5))
        ]
    );
    assert!(cat.get("user.Name").is_some());
    assert!(cat.get("user.Duration_MS").is_some());
    let names = read_column(&store, "name");
    assert_eq!(
        names[2],
        Some(Value::Str("GET /api/activities/home".into()))
    );
    assert_eq!(
        read_column(&store, "nul\u{fffd}key")[2],
        Some(Value::Str("nul\0value".into()))
    );
}

#[test]
fn a_dataset_over_its_column_budget_spills_and_leaves_others_alone() {
    use model::schema::DATASET_COLUMNS_MAX;
    let store = DuckStore::open_in_memory().unwrap();
    let t = "5759e988bd862e3fe1be46a994272793";
    let mut hostile = span(t, "00f067aa0ba902b7", None, 1);
    hostile.dataset = "hostile".into();
    for i in 0..DATASET_COLUMNS_MAX + 50 {
        hostile.set(format!("junk.{i}"), Value::Int(i as i64));
    }
    let r = store.insert(&[hostile]).unwrap();
    // The span's own two attributes plus the junk: over the budget by 52.
    assert_eq!(r.fields_spilled, 52);
    let mut ok = span(t, "00f067aa0ba902b8", None, 2);
    ok.set("fresh.key", Value::Str("kept".into()));
    let r = store.insert(&[ok]).unwrap();
    assert_eq!(r.fields_spilled, 0);
    assert!(store.catalog().get("fresh.key").is_some());
    // Spilled keys stay queryable.
    let spilled = read_column(&store, &format!("junk.{}", DATASET_COLUMNS_MAX + 40));
    assert_eq!(
        spilled[0],
        Some(Value::Int((DATASET_COLUMNS_MAX + 40) as i64))
    );
    // And come back on trace reads.
    let got = store.trace(TraceId::parse(t).unwrap()).unwrap();
    assert_eq!(got[0].fields.len(), DATASET_COLUMNS_MAX + 52);
}

#[test]
fn settings_that_could_weaken_durability_are_refused() {
    assert!(waggle_store::tuning_statements("memory_limit='1GB'; threads=2").is_ok());
    for bad in [
        "fsync_mode = 'none'",
        "checkpoint_threshold='1GB'; access_mode='read_only'",
        "memory_limit",
        "memory_limit = '1GB\"'",
    ] {
        assert!(
            waggle_store::tuning_statements(bad).is_err(),
            "{bad} was accepted"
        );
    }
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

/// One request with a thousand datasets × a thousand attributes (the reliability issue's
/// ~10¹¹-comparison case for the old per-field linear search) commits in linear time.
#[test]
fn many_datasets_times_many_keys_is_linear() {
    let store = DuckStore::open_in_memory().unwrap();
    let t = "5759e988bd862e3fe1be46a994272793";
    let events: Vec<Event> = (0..1000)
        .map(|d| {
            let mut e = span(t, "00f067aa0ba902b7", None, d);
            e.dataset = format!("svc-{d}");
            e.fields.clear();
            for k in 0..998 {
                e.fields.push((format!("k{k}"), Value::Int(k)));
            }
            e
        })
        .collect();
    let started = std::time::Instant::now();
    let r = store.insert(&events).unwrap();
    // A generous bound: the old quadratic bookkeeping took minutes here.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(r.fields_spilled, 0);
    let cols = store.dataset_columns(Some("svc-999")).unwrap();
    assert_eq!(cols.len(), 998);
}
