//! Default grouping and titles: a table of occurrences that must (not) share a fingerprint,
//! the captured payloads, and fingerprinting never panics on arbitrary payloads.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{json, Value};
use waggle_protocols::rollbar::fingerprint::normalize_message;
use waggle_protocols::rollbar::item::{decode, Data};
use waggle_protocols::rollbar::{fingerprint, title, Limits};

fn data(v: Value) -> Data {
    serde_json::from_value(v).unwrap()
}

fn trace(class: &str, frames: &[(&str, u32, &str)]) -> Value {
    let frames: Vec<Value> = frames
        .iter()
        .map(|(f, l, m)| json!({"filename": f, "lineno": l, "method": m}))
        .collect();
    json!({"frames": frames, "exception": {"class": class, "message": "varies"}})
}

fn exc(class: &str, frames: &[(&str, u32, &str)]) -> Data {
    data(json!({"environment": "production", "body": {"trace": trace(class, frames)}}))
}

fn message(text: &str) -> Data {
    data(json!({"environment": "production", "body": {"message": {"body": text}}}))
}

#[test]
fn grouping_table() {
    let a = [
        ("/app/views.py", 10, "index"),
        ("/app/models.py", 20, "save"),
    ];
    let a_moved = [
        ("/app/views.py", 12, "index"),
        ("/app/models.py", 99, "save"),
    ];
    let b = [
        ("/app/views.py", 10, "index"),
        ("/app/models.py", 20, "load"),
    ];
    let same: Vec<(&str, Data, Data)> = vec![
        (
            "line numbers ignored",
            exc("NameError", &a),
            exc("NameError", &a_moved),
        ),
        ("message ignored", exc("KeyError", &a), {
            let mut d = exc("KeyError", &a);
            d.body
                .as_mut()
                .unwrap()
                .trace
                .as_mut()
                .unwrap()
                .exception
                .as_mut()
                .unwrap()
                .message = Some("other".into());
            d
        }),
        (
            "numbers in messages",
            message("User 12 not found"),
            message("User 3456 not found"),
        ),
        ("decimals", message("took 1.5s"), message("took 22.75s")),
        (
            "hex",
            message("bad pointer 0x7ffe12 at deadbe12"),
            message("bad pointer 0x1 at 00ff00ff"),
        ),
        (
            "uuids",
            message("order f5647052-0d30-4013-8b23-b1c5964a1edf failed"),
            message("order abcdefab-abcd-abcd-abcd-abcdefabcdef failed"),
        ),
        (
            "timestamps",
            message("at 2026-11-25T10:11:12.345Z retry"),
            message("at 2025-01-02 3:04:05 retry"),
        ),
        (
            "custom fingerprint",
            {
                let mut d = message("one");
                d.fingerprint = Some("fp-1".into());
                d
            },
            {
                let mut d = exc("Other", &a);
                d.fingerprint = Some("fp-1".into());
                d
            },
        ),
        (
            "root stripped",
            {
                let mut d = exc("E", &[("/srv/a/app.py", 1, "f")]);
                d.server = Some(serde_json::from_value(json!({"root": "/srv/a"})).unwrap());
                d
            },
            {
                let mut d = exc("E", &[("/home/b/app.py", 1, "f")]);
                d.server = Some(serde_json::from_value(json!({"root": "/home/b/"})).unwrap());
                d
            },
        ),
        (
            "sha in path",
            exc("E", &[("/releases/3da5415599/app.py", 1, "f")]),
            exc("E", &[("/releases/b6437f45b7/app.py", 1, "f")]),
        ),
        (
            "integers in method names",
            exc("E", &[("a.js", 1, "block_in_12")]),
            exc("E", &[("a.js", 1, "block_in_345")]),
        ),
        (
            "trace_chain: innermost cause decides",
            data(json!({"environment": "e", "body": {"trace_chain": [
            trace("RuntimeError", &[("/app/a.py", 1, "outer")]), trace("KeyError", &[("/app/b.py", 2, "inner")])]}})),
            data(json!({"environment": "e", "body": {"trace_chain": [
            trace("ValueError", &[("/app/c.py", 9, "elsewhere")]), trace("KeyError", &[("/app/b.py", 7, "inner")])]}})),
        ),
        (
            "a standalone number of any length is data (issue 9)",
            message("Got 5 apples"),
            message("Got 7 apples"),
        ),
        (
            "numbers differing in length",
            message("Payment 1234 failed for order 77"),
            message("Payment 99 failed for order 5"),
        ),
        (
            "quoted strings are data (issue 9)",
            message("User 'bob' not found in \"eu-west\""),
            message("User 'alice' not found in \"us-east\""),
        ),
    ];
    for (name, x, y) in same {
        assert_eq!(fingerprint(&x), fingerprint(&y), "{name}");
    }
    let different: Vec<(&str, Data, Data)> = vec![
        (
            "exception class",
            exc("NameError", &a),
            exc("TypeError", &a),
        ),
        ("method names", exc("NameError", &a), exc("NameError", &b)),
        ("all frames used", exc("E", &a), exc("E", &a[..1])),
        (
            "filenames",
            exc("E", &[("/app/x.py", 1, "f")]),
            exc("E", &[("/app/y.py", 1, "f")]),
        ),
        (
            "message words",
            message("User not found"),
            message("Order not found"),
        ),
        (
            "single digits inside words stay (RD's two-digit rule)",
            message("stage s1 failed"),
            message("stage s2 failed"),
        ),
        (
            "apostrophes are not quotes",
            message("can't open it"),
            message("won't open it"),
        ),
        (
            "words that happen to be hex stay",
            message("record added"),
            message("record faded"),
        ),
        ("message vs exception", message("E"), exc("E", &[])),
        (
            "custom fingerprints",
            {
                let mut d = message("same");
                d.fingerprint = Some("a".into());
                d
            },
            {
                let mut d = message("same");
                d.fingerprint = Some("b".into());
                d
            },
        ),
        (
            "root only at a path boundary",
            {
                let mut d = exc("E", &[("/srv/app2/x.py", 1, "f")]);
                d.server = Some(serde_json::from_value(json!({"root": "/srv/app"})).unwrap());
                d
            },
            {
                let mut d = exc("E", &[("/srv/app/x.py", 1, "f")]);
                d.server = Some(serde_json::from_value(json!({"root": "/srv/app"})).unwrap());
                d
            },
        ),
        (
            "trace_chain: different causes",
            data(json!({"environment": "e", "body": {"trace_chain": [
            trace("RuntimeError", &[("/app/a.py", 1, "outer")]), trace("KeyError", &[("/app/b.py", 2, "inner")])]}})),
            data(json!({"environment": "e", "body": {"trace_chain": [
            trace("RuntimeError", &[("/app/a.py", 1, "outer")]), trace("IndexError", &[("/app/b.py", 2, "inner")])]}})),
        ),
    ];
    for (name, x, y) in different {
        assert_ne!(fingerprint(&x), fingerprint(&y), "{name}");
    }
}

#[test]
fn custom_fingerprint_length_rule() {
    let mut d = message("x");
    d.fingerprint = Some("f".repeat(40));
    assert_eq!(fingerprint(&d).as_str(), "f".repeat(40));
    d.fingerprint = Some("abc".repeat(20));
    // SHA1 of the 60-character string (RD: "we'll use its SHA1 hash").
    assert_eq!(
        fingerprint(&d).as_str(),
        sha1_hex("abc".repeat(20).as_bytes())
    );
    assert_eq!(fingerprint(&message("x")).as_str().len(), 40);
}

fn sha1_hex(b: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(b))
}

#[test]
fn normalized_messages() {
    let table = [
        ("User 12 not found", "User not found"),
        ("took 1.5s and 3 tries", "took s and tries"),
        ("name 'x' is not defined", "name '' is not defined"),
        ("can't find \"a b\" or 'c", "can't find \"\" or 'c"),
        ("it's Bob's 'car'", "it's Bob's ''"),
        ("id 0x1f at a1b2c3d4 by deadbeef", "id at by deadbeef"),
        ("at 2026-11-25T10:11:12Z ok", "at ok"),
        ("ip 10.1.2.3 down", "ip down"),
        ("Hello World!", "Hello World!"),
        ("ünïcode 42 ✓", "ünïcode ✓"),
    ];
    for (input, want) in table {
        assert_eq!(normalize_message(input), want, "{input}");
    }
}

#[test]
fn titles() {
    let t = |v: Value| title(&data(v));
    assert_eq!(
        t(
            json!({"body": {"trace": {"frames": [], "exception": {"class": "NameError", "message": "name 'x' is not defined"}}}})
        ),
        "NameError: name 'x' is not defined"
    );
    assert_eq!(
        t(json!({"body": {"trace": {"frames": [], "exception": {"class": "KeyError"}}}})),
        "KeyError"
    );
    assert_eq!(
        t(json!({"body": {"message": {"body": "\n first line \nsecond"}}})),
        "first line"
    );
    assert_eq!(
        t(json!({"title": "Mine", "body": {"message": {"body": "m"}}})),
        "Mine"
    );
    assert_eq!(
        t(json!({"body": {"message": {"body": "é".repeat(300)}}}))
            .chars()
            .count(),
        255
    );
    // A chain is titled by the exception that was raised (pyrollbar sends it first).
    assert_eq!(
        t(json!({"body": {"trace_chain": [
        {"frames": [], "exception": {"class": "RuntimeError", "message": "wrapped"}},
        {"frames": [], "exception": {"class": "KeyError", "message": "'k'"}}]}})),
        "RuntimeError: wrapped"
    );
}

fn fixture_data(name: &str) -> Data {
    let b = std::fs::read(format!(
        "{}/tests/fixtures/rollbar/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    decode(&b, None, None, Limits::default()).unwrap().data
}

#[test]
fn captured_payloads_group_and_title() {
    let warning = fixture_data("message_warning.json");
    assert_eq!(title(&warning), "Hello World!");
    let boom = fixture_data("flask_keyerror.json");
    assert_eq!(title(&boom), "KeyError: 'message'");
    assert_ne!(fingerprint(&warning), fingerprint(&boom));
    // The two fault probes are the same message from another process: one item.
    assert_eq!(
        fingerprint(&fixture_data("message_fault_probe_429.json")),
        fingerprint(&fixture_data("message_fault_probe_500.json"))
    );
    // The same exception raised again from another line of the same function: same item.
    let mut again = boom.clone();
    for f in again
        .body
        .as_mut()
        .unwrap()
        .trace
        .as_mut()
        .unwrap()
        .frames
        .as_mut()
        .unwrap()
    {
        f.lineno = Some(json!(1));
    }
    assert_eq!(fingerprint(&boom), fingerprint(&again));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("trace".to_string()),
                    Just("frames".to_string()),
                    Just("exception".to_string()),
                    Just("class".to_string()),
                    Just("filename".to_string()),
                    Just("method".to_string()),
                    Just("message".to_string()),
                    Just("body".to_string()),
                    Just("trace_chain".to_string()),
                    Just("crash_report".to_string()),
                    Just("raw".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn fingerprint_and_title_never_panic(body in arb_json(), fp in proptest::option::of(".{0,60}"), root in proptest::option::of(".{0,10}")) {
        let v = json!({"environment": "e", "body": body, "fingerprint": fp, "server": {"root": root}});
        if let Ok(d) = serde_json::from_value::<Data>(v) {
            let f = fingerprint(&d);
            prop_assert!(!f.as_str().is_empty());
            prop_assert!(title(&d).chars().count() <= 255);
        }
    }

    #[test]
    fn normalize_never_panics(s in ".{0,80}") {
        let n = normalize_message(&s);
        let _ = normalize_message(&n);
    }
}
