//! The ingest log in front of DuckDB: acknowledged inserts are read back at once, replayed
//! exactly once after the store failed to load them, and an event the store refuses alone is
//! kept aside while its neighbours load.

#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::{Event, SignalKind, Value};
use waggle_store::{DuckStore, LoggedStore, Store, StoreOptions};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waggle-ingest-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn event(i: i64, poison: bool) -> Event {
    let mut e = Event::new("svc", 1_800_000_000_000_000_000 + i, SignalKind::Plain);
    e.set("i", Value::Int(i));
    if poison {
        e.set("poison", Value::Bool(true));
    }
    e
}

fn count(store: &dyn Store, sql: &str) -> i64 {
    match store.run_sql(sql).unwrap()[0][0] {
        Some(Value::Int(n)) => n,
        ref other => panic!("{other:?}"),
    }
}

fn open(d: &Path) -> (Arc<DuckStore>, LoggedStore) {
    let duck = Arc::new(DuckStore::open(&d.join("db"), StoreOptions::default()).unwrap());
    let logged = LoggedStore::open(&d.join("log"), duck.clone()).unwrap();
    (duck, logged)
}

#[test]
fn an_acknowledged_insert_is_read_at_once() {
    let d = dir("ryw");
    let (_duck, logged) = open(&d);
    for round in 0..50i64 {
        let batch: Vec<Event> = (0..7).map(|k| event(round * 7 + k, false)).collect();
        assert_eq!(logged.insert_owned(batch).0.unwrap().rows, 7);
        assert_eq!(
            count(&logged, "SELECT count(*) FROM events"),
            (round + 1) * 7,
            "round {round}: a read after the acknowledgement sees it"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn unloaded_records_replay_exactly_once() {
    let d = dir("replay");
    {
        let (duck, logged) = open(&d);
        logged.insert(&[event(0, false), event(1, false)]).unwrap();
        logged.checkpoint().unwrap();
        // The store now fails every load: acknowledged records stay in the log only.
        duck.set_commit_fault(Some(Box::new(|_| true)));
        for i in 2..10 {
            assert_eq!(logged.insert(&[event(i, false)]).unwrap().rows, 1);
        }
        logged.close();
    }
    let (_duck, logged) = open(&d);
    assert_eq!(count(&logged, "SELECT count(*) FROM events"), 10);
    assert_eq!(count(&logged, "SELECT count(DISTINCT i) FROM events"), 10);
    drop(logged);
    // A second start replays nothing more.
    let (_duck, logged) = open(&d);
    assert_eq!(count(&logged, "SELECT count(*) FROM events"), 10);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_refused_event_is_kept_aside_and_its_neighbours_load() {
    let d = dir("poison");
    let (duck, logged) = open(&d);
    duck.set_commit_fault(Some(Box::new(|events: &[Event]| {
        events.iter().any(|e| e.get("poison").is_some())
    })));
    let batch: Vec<Event> = (0..40).map(|i| event(i, i == 17)).collect();
    assert_eq!(logged.insert(&batch).unwrap().rows, 40);
    assert_eq!(count(&logged, "SELECT count(*) FROM events"), 39);
    assert_eq!(
        count(&logged, "SELECT count(*) FROM events WHERE i = 17"),
        0
    );
    let stats = logged.stats().unwrap();
    assert_eq!(stats["rejected_events"], 1, "{stats}");
    assert!(d.join("log").join("rejected.wlog").exists());
    drop(logged);
    drop(duck);
    let (_duck, logged) = open(&d);
    assert_eq!(
        count(&logged, "SELECT count(*) FROM events"),
        39,
        "nothing replays twice"
    );
    let _ = std::fs::remove_dir_all(&d);
}
