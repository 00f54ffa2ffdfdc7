//! `POST /api/1/item/`: pyrollbar's captured payloads decode; every refusal has Rollbar's status
//! and body; decode never panics on arbitrary bytes.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use waggle_protocols::rollbar::item::{decode, BodyKind};
use waggle_protocols::rollbar::{Answer, Level, Limits, PAYLOAD_BYTES_MAX_STRICT};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/rollbar/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

const TOKEN: &str = "acceptance0rollbar0token0000000a";

#[test]
fn pyrollbar_message_decodes() {
    let s = decode(
        &fixture("message_warning.json"),
        Some("application/json"),
        Some(TOKEN),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(s.token(), TOKEN);
    assert_eq!(s.kind, BodyKind::Message);
    assert_eq!(s.level, Level::Warning);
    assert_eq!(s.environment, "production");
    assert_eq!(s.data.framework.as_deref(), Some("flask"));
    assert_eq!(
        s.data.server.as_ref().unwrap().root.as_deref(),
        Some("/backend-flask")
    );
    assert_eq!(
        s.data.uuid.as_deref(),
        Some("f5647052-0d30-4013-8b23-b1c5964a1edf")
    );
    assert_eq!(s.time_ns(0), 1_795_650_491_000_000_000);
    assert!(!s.is_client_side());
    // The raw data is kept as sent (the occurrence API returns it).
    assert_eq!(s.raw_data["server"]["pid"], json!(1957));
}

#[test]
fn pyrollbar_flask_exception_decodes() {
    let s = decode(
        &fixture("flask_keyerror.json"),
        Some("application/json"),
        Some(TOKEN),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(s.kind, BodyKind::Trace);
    assert_eq!(s.level, Level::Error);
    assert_eq!(s.data.context.as_deref(), Some("/api/activities"));
    let t = &s.traces()[0];
    assert_eq!(t.frames.as_ref().unwrap().len(), 6);
    assert_eq!(
        t.exception.as_ref().unwrap().class.as_deref(),
        Some("KeyError")
    );
    assert_eq!(
        t.frames.as_ref().unwrap()[5].locals.as_ref().unwrap()["body"]["handle"],
        json!("andrewbrown")
    );
    let req = s.data.request.as_ref().unwrap();
    assert_eq!(req.method.as_deref(), Some("POST"));
    assert_eq!(req.user_ip.as_deref(), Some("127.0.0.1"));
    assert!(req.extra.contains_key("files_keys"));
}

#[test]
fn body_token_is_used_without_header_and_header_wins() {
    let body = fixture("message_fault_probe_429.json");
    let s = decode(&body, None, None, Limits::default()).unwrap();
    assert_eq!(s.token(), TOKEN);
    let s = decode(&body, None, Some("other"), Limits::default()).unwrap();
    assert_eq!(s.token(), "other");
    // Debug never shows the token.
    assert!(!format!("{s:?}").contains(TOKEN));
}

#[test]
fn form_encoded_payload_is_accepted() {
    let json =
        r#"{"access_token":"t","data":{"environment":"dev","body":{"message":{"body":"a b&c"}}}}"#;
    let form = format!("payload={}", percent_encode(json));
    let s = decode(
        form.as_bytes(),
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        None,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(
        s.data.body.unwrap().message.unwrap().body.as_deref(),
        Some("a b&c")
    );
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn answer(body: &[u8], header: Option<&str>) -> Answer {
    match decode(body, Some("application/json"), header, Limits::default()) {
        Ok(_) => Answer::item_accepted("ok"),
        Err(e) => e.answer(),
    }
}

fn msg(status: u16, message: &str) -> (u16, String) {
    (status, json!({"err": 1, "message": message}).to_string())
}

/// (name, body, header token, (status, body)).
type Case = (&'static str, Vec<u8>, Option<&'static str>, (u16, String));

#[test]
fn error_answer_table() {
    let ok_data = json!({"environment": "production", "body": {"message": {"body": "x"}}});
    let with = |data: serde_json::Value| {
        json!({"access_token": "t", "data": data})
            .to_string()
            .into_bytes()
    };
    let big = vec![b' '; waggle_protocols::rollbar::PAYLOAD_BYTES_MAX_DEFAULT + 1];
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let cases: Vec<Case> = vec![
        ("empty body", b"".to_vec(), Some("t"), msg(400, "No JSON payload was found.")),
        ("not json", b"{nope".to_vec(), Some("t"), msg(400, "Could not decode JSON payload: key must be a string at line 1 column 2")),
        ("not an object", b"[1]".to_vec(), Some("t"), msg(400, "Could not decode JSON payload: expected a JSON object")),
        ("invalid utf-8", b"{\"a\":\"\xff\"}".to_vec(), Some("t"), msg(400, "Could not decode JSON payload: invalid UTF-8: invalid utf-8 sequence of 1 bytes from index 6")),
        ("no token", json!({"data": ok_data}).to_string().into_bytes(), None, msg(401, "No access token was found in the request.")),
        ("no data", br#"{"access_token":"t"}"#.to_vec(), None, msg(400, "Payload is missing the 'data' key.")),
        ("too large", big, Some("t"), msg(413, "request entity too large")),
        ("too deep", deep.into_bytes(), Some("t"), msg(422, "Invalid format: payload nests deeper than 100 levels")),
        ("data not object", with(json!(5)), None, msg(422, "Invalid format: data must be an object")),
        ("no environment, no body", with(json!({})), None, msg(422, "Invalid format: data.environment is required; data.body is required")),
        ("two body kinds", with(json!({"environment": "e", "body": {"message": {"body": "x"}, "crash_report": {"raw": "r"}}})), None,
            msg(422, "Invalid format: data.body must contain exactly one of: trace, trace_chain, message, crash_report")),
        ("no body kind", with(json!({"environment": "e", "body": {"telemetry": []}})), None,
            msg(422, "Invalid format: data.body must contain exactly one of: trace, trace_chain, message, crash_report")),
        ("trace without frames and class", with(json!({"environment": "e", "body": {"trace": {"exception": {}}}})), None,
            msg(422, "Invalid format: data.body.trace.frames is required; data.body.trace.exception.class is required")),
        ("frame without filename", with(json!({"environment": "e", "body": {"trace": {"frames": [{"filename": "a"}, {"lineno": 1}], "exception": {"class": "E"}}}})), None,
            msg(422, "Invalid format: data.body.trace.frames[1].filename is required")),
        ("empty chain", with(json!({"environment": "e", "body": {"trace_chain": []}})), None,
            msg(422, "Invalid format: data.body.trace_chain must contain at least one trace")),
        ("message without body", with(json!({"environment": "e", "body": {"message": {"route": "x"}}})), None,
            msg(422, "Invalid format: data.body.message.body is required")),
        ("crash report without raw", with(json!({"environment": "e", "body": {"crash_report": {}}})), None,
            msg(422, "Invalid format: data.body.crash_report.raw is required")),
        ("bad level", with(json!({"environment": "e", "level": "loud", "body": {"message": {"body": "x"}}})), None,
            msg(422, "Invalid format: data.level must be one of: critical, error, warning, info, debug")),
        ("long uuid and code_version", with(json!({"environment": "e", "uuid": "u".repeat(37), "code_version": "v".repeat(41), "body": {"message": {"body": "x"}}})), None,
            msg(422, "Invalid format: data.uuid is longer than 36 characters; data.code_version is longer than 40 characters")),
        ("long environment", with(json!({"environment": "e".repeat(256), "body": {"message": {"body": "x"}}})), None,
            msg(422, "Invalid format: data.environment is longer than 255 characters")),
        ("wrong type", with(json!({"environment": 5, "body": {"message": {"body": "x"}}})), None,
            msg(422, "Invalid format: data: invalid type: integer `5`, expected a string")),
    ];
    for (name, body, header, (status, expected)) in cases {
        let a = answer(&body, header);
        assert_eq!(
            (a.status, a.body.as_str()),
            (status, expected.as_str()),
            "{name}"
        );
        assert_eq!(a.header("content-type"), Some("application/json"), "{name}");
    }
}

#[test]
fn success_answer_is_rollbars() {
    let a = Answer::item_accepted("d516e559-9106-4aed-b588-cdf5a534e13b");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        r#"{"err":0,"result":{"id":null,"uuid":"d516e559-9106-4aed-b588-cdf5a534e13b"}}"#
    );
}

#[test]
fn strict_limit_refuses_what_default_accepts() {
    let pad = "x".repeat(PAYLOAD_BYTES_MAX_STRICT);
    let body = json!({"access_token": "t", "data": {"environment": "e", "body": {"message": {"body": pad}}}}).to_string();
    assert!(decode(body.as_bytes(), None, None, Limits::default()).is_ok());
    let strict = Limits {
        payload_bytes_max: PAYLOAD_BYTES_MAX_STRICT,
    };
    assert_eq!(
        decode(body.as_bytes(), None, None, strict)
            .unwrap_err()
            .status(),
        413
    );
}

#[test]
fn defaults_levels_uuid_and_remote_ip() {
    let body = json!({"access_token": "t", "data": {"environment": "e", "platform": "browser",
        "request": {"user_ip": "$remote_ip"}, "body": {"trace_chain": [{"frames": [], "exception": {"class": "E"}}]}}}).to_string();
    let mut s = decode(body.as_bytes(), None, None, Limits::default()).unwrap();
    assert_eq!(s.level, Level::Error);
    assert!(s.is_client_side());
    assert_eq!(s.ensure_uuid(|| "fresh".into()), "fresh");
    assert_eq!(s.raw_data["uuid"], json!("fresh"));
    s.resolve_remote_ip("10.0.0.9");
    assert_eq!(
        s.data.request.as_ref().unwrap().user_ip.as_deref(),
        Some("10.0.0.9")
    );
    assert_eq!(s.raw_data["request"]["user_ip"], json!("10.0.0.9"));
    // `warn` is accepted as warning.
    let body = json!({"access_token": "t", "data": {"environment": "e", "level": "WARN", "body": {"message": {"body": "m"}}}}).to_string();
    assert_eq!(
        decode(body.as_bytes(), None, None, Limits::default())
            .unwrap()
            .level,
        Level::Warning
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes, None, Some("t"), Limits::default());
        let _ = decode(&bytes, Some("application/x-www-form-urlencoded"), None, Limits::default());
    }

    #[test]
    fn decode_never_panics_on_json_shaped_input(s in r#"\{"access_token":"t","data":\{("environment":"[a-z]{0,3}",)?"body":\{"(trace|message|trace_chain|crash_report)":[\[\]\{\}"a-z:,0-9 ]{0,60}\}\}\}"#) {
        let _ = decode(s.as_bytes(), None, None, Limits::default());
    }
}
