//! RQL → Honeycomb query specification, and refusals with a message.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use waggle_protocols::rollbar::rql::parse;

#[test]
fn grouped_counts_compile_to_a_spec() {
    let q = parse(
        "SELECT item.counter, count(*) FROM item_occurrence \
         WHERE item.level = 'error' AND code_version >= 2 \
         GROUP BY item.counter ORDER BY count(*) DESC LIMIT 10",
    )
    .unwrap();
    assert_eq!(
        q.spec(0, 100),
        json!({
            "calculations": [{"op": "COUNT"}],
            "filters": [
                {"column": "level", "op": "=", "value": "error"},
                {"column": "code_version", "op": ">=", "value": 2},
            ],
            "breakdowns": ["rollbar.counter"],
            "limit": 10,
            "start_time": 0,
            "end_time": 100,
            "orders": [{"op": "COUNT", "order": "descending"}],
        })
    );
    let r = q.result(&[json!({"data": {"rollbar.counter": 1, "COUNT": 50}})]);
    assert_eq!(r["columns"], json!(["item.counter", "count(*)"]));
    assert_eq!(r["rows"], json!([[1, 50]]));
    let d = parse("select count(distinct person.id), max(x) from item_occurrence").unwrap();
    assert_eq!(
        d.spec(0, 1)["calculations"],
        json!([{"op": "COUNT_DISTINCT", "column": "user.id"}, {"op": "MAX", "column": "x"}])
    );
}

#[test]
fn what_does_not_map_is_refused_with_a_message() {
    for (q, want) in [
        ("SELECT * FROM item_occurrence", "expected a column name"),
        ("SELECT count(*) FROM deploy", "unknown table"),
        (
            "SELECT item.counter, count(*) FROM item_occurrence",
            "GROUP BY",
        ),
        (
            "SELECT item.counter FROM item_occurrence GROUP BY item.counter",
            "aggregate",
        ),
        (
            "SELECT count(*) FROM item_occurrence WHERE a = 1 OR b = 2",
            "OR",
        ),
        ("SELECT count(*) FROM item_occurrence LIMIT 5000", "LIMIT"),
        (
            "SELECT count(*) FROM item_occurrence WHERE a = 'x",
            "unterminated",
        ),
        ("SELECT count(*) FROM item_occurrence extra", "unexpected"),
    ] {
        let err = parse(q).unwrap_err();
        assert!(err.contains(want), "{q}: {err}");
    }
    assert!(parse(&"x".repeat(5000)).is_err());
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in ".{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_near_misses(
        tail in "[ a-z_.(),*=<>!'0-9-]{0,80}",
    ) {
        let _ = parse(&format!("SELECT count(*) FROM item_occurrence {tail}"));
        let _ = parse(&format!("SELECT {tail}"));
    }
}
