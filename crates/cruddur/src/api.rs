//! The Cruddur API of week 2: mock data and the create services' validation, as the seed's
//! service modules have them (`../shared/seed/SYSTEM.md` §2.2–§2.3). Pure: "now" and fresh
//! uuids are inputs, so every answer is testable exactly.
//!
//! Mock text is the IK@e4df33a variant (the commit the write-up links to); where SYSTEM.md asks
//! for a decision, the crate README records it.

use crate::clock::{iso, iso_naive, Duration, Instant};
use serde_json::{json, Map, Value};

/// The hard-coded current user of week 2 (no authentication until Cognito in week 3).
pub const USER_HANDLE: &str = "andrewbrown";
pub const USER_DISPLAY_NAME: &str = "Andrew Brown";

/// Message limits of the create services.
pub const ACTIVITY_MESSAGE_CHARS_MAX: usize = 280;
pub const MESSAGE_CHARS_MAX: usize = 1024;
pub const REPLY_MESSAGE_CHARS_MAX: usize = 1024;

const UUID_HOME_1: &str = "68f126b0-1ceb-4a33-88be-d90fa7109eee";
const UUID_REPLY: &str = "26e12864-1c26-5c3a-9658-97a10f8fea67";
const UUID_HOME_2: &str = "66e12864-8c26-4c3a-9658-95a10f8fea67";
const UUID_HOME_3: &str = "248959df-3079-4947-b847-9e0892d1bab4";

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn reply(now: Instant) -> Value {
    json!({
        "created_at": iso(now - Duration::seconds(2 * DAY)),
        "handle": "Worf",
        "likes_count": 0,
        "message": "This post has no honor!",
        "replies_count": 0,
        "reply_to_activity_uuid": UUID_HOME_1,
        "reposts_count": 0,
        "uuid": UUID_REPLY,
    })
}

/// The first item of a feed (the one with counts and a reply).
fn lead_item(now: Instant, handle: &str, message: &str) -> Value {
    json!({
        "created_at": iso(now - Duration::seconds(2 * DAY)),
        "expires_at": iso(now + Duration::seconds(5 * DAY)),
        "handle": handle,
        "likes_count": 5,
        "message": message,
        "replies": [reply(now)],
        "replies_count": 1,
        "reposts_count": 0,
        "uuid": UUID_HOME_1,
    })
}

/// Items 2 and 3 of a feed: `likes` rather than `likes_count`, as in the original.
fn plain_item(now: Instant, uuid: &str, handle: &str, message: &str, ago: i64, ttl: i64) -> Value {
    json!({
        "created_at": iso(now - Duration::seconds(ago)),
        "expires_at": iso(now + Duration::seconds(ttl)),
        "handle": handle,
        "likes": 0,
        "message": message,
        "replies": [],
        "uuid": uuid,
    })
}

/// GET /api/activities/home (§2.3.1).
pub fn home(now: Instant) -> Vec<Value> {
    vec![
        lead_item(now, "Andrew Brown", "Cloud is fun!"),
        plain_item(
            now,
            UUID_HOME_2,
            "Worf",
            "I am out of prune juice",
            7 * DAY,
            9 * DAY,
        ),
        plain_item(
            now,
            UUID_HOME_3,
            "Garek",
            "My dear doctor, I am just simple tailor",
            HOUR,
            12 * HOUR,
        ),
    ]
}

/// GET /api/activities/notifications (§2.3.2, IK's three items).
pub fn notifications(now: Instant) -> Vec<Value> {
    vec![
        lead_item(now, "tweeny", "My sample message"),
        plain_item(
            now,
            UUID_HOME_2,
            "xjl",
            "It is what it is",
            7 * DAY,
            9 * DAY,
        ),
        plain_item(now, UUID_HOME_3, "Juno", "Come bruv", HOUR, 12 * HOUR),
    ]
}

/// The attributes IK's notifications service sets on its custom span: for every item and every
/// key, `set_attribute(key, value)`, so the last item wins for scalar keys and values OTel cannot
/// hold (a list of objects) are dropped (§3.2, verified against the Python SDK).
pub fn notification_span_attributes(items: &[Value]) -> Vec<(String, Value)> {
    let mut out: Map<String, Value> = Map::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            continue;
        };
        for (k, v) in obj {
            let keep = match v {
                Value::Array(a) => a.iter().all(|x| !x.is_object() && !x.is_array()),
                Value::Object(_) => false,
                _ => true,
            };
            if keep {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// GET /api/activities/@<handle> (§2.3.3): one item, naive timestamps.
pub fn user_activities(now: Instant) -> Vec<Value> {
    vec![json!({
        "created_at": iso_naive(now - Duration::seconds(DAY)),
        "expires_at": iso_naive(now + Duration::seconds(31 * DAY)),
        "handle": "Andrew Brown",
        "message": "Cloud is fun!",
        "uuid": UUID_HOME_3,
    })]
}

/// GET /api/activities/search (§2.3.4).
pub fn search(now: Instant, term: Option<&str>) -> Result<Vec<Value>, Vec<&'static str>> {
    match term {
        None | Some("") => Err(vec!["search_term_blank"]),
        Some(_) => Ok(vec![json!({
            "created_at": iso(now),
            "handle": "Andrew Brown",
            "message": "Cloud is fun!",
            "uuid": UUID_HOME_3,
        })]),
    }
}

/// GET /api/activities/<uuid> (§2.3.6, the intended answer: the original always fails).
pub fn show_activity(now: Instant) -> Vec<Value> {
    vec![json!({
        "created_at": iso(now - Duration::seconds(2 * DAY)),
        "expires_at": iso(now + Duration::seconds(5 * DAY)),
        "handle": "Andrew Brown",
        "message": "Cloud is fun!",
        "replies": {
            "created_at": iso(now - Duration::seconds(2 * DAY)),
            "handle": "Worf",
            "message": "This post has no honor!",
            "uuid": UUID_REPLY,
        },
        "uuid": UUID_HOME_1,
    })]
}

/// GET /api/message_groups (§2.3.8).
pub fn message_groups(now: Instant) -> Vec<Value> {
    vec![
        json!({"created_at": iso(now), "display_name": "Andrew Brown", "handle": "andrewbrown",
               "uuid": "24b95582-9e7b-4e0a-9ad1-639773ab7552"}),
        json!({"created_at": iso(now), "display_name": "Worf", "handle": "worf",
               "uuid": "417c360e-c4e6-4fce-873b-d2d71469b4ac"}),
    ]
}

/// GET /api/messages/@<handle> (§2.3.9).
pub fn messages(now: Instant) -> Vec<Value> {
    vec![
        json!({"created_at": iso(now), "display_name": "Andrew Brown", "handle": "andrewbrown",
               "message": "Cloud is fun!", "uuid": "4e81c06a-db0f-4281-b4cc-98208537772a"}),
        json!({"created_at": iso(now), "display_name": "Andrew Brown", "handle": "andrewbrown",
               "message": "This platform is great!", "uuid": UUID_HOME_2}),
    ]
}

/// A request body field as the Python services see it: absent (KeyError), JSON null, a string,
/// or anything else (whose `len()` would raise TypeError, or make no sense).
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Missing,
    Null,
    Str(&'a str),
    Other(&'a Value),
}

impl<'a> Field<'a> {
    pub fn of(body: &'a Map<String, Value>, key: &str) -> Field<'a> {
        match body.get(key) {
            None => Field::Missing,
            Some(Value::Null) => Field::Null,
            Some(Value::String(s)) => Field::Str(s),
            Some(other) => Field::Other(other),
        }
    }
}

/// Why a create service could not run at all: the 500s of the original (KeyError on a missing
/// key, TypeError on a value without a length). The handler reports these as unhandled errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub class: &'static str,
    pub message: String,
}

/// Outcome of a create service: 200 with the object, or 422 with the error codes.
pub type Created = Result<Result<Value, Vec<&'static str>>, Fault>;

fn key_error(key: &str) -> Fault {
    Fault {
        class: "KeyError",
        message: format!("'{key}'"),
    }
}

fn type_error(v: &Value) -> Fault {
    let ty = match v {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Array(_) => "list",
        _ => "dict",
    };
    Fault {
        class: "TypeError",
        message: format!("object of type '{ty}' has no len()"),
    }
}

/// The message check shared by the three create services: blank, or over `max` characters
/// (Python's `len`, which counts code points).
fn check_message(f: &Field, max: usize) -> Result<Option<&'static str>, Fault> {
    match f {
        Field::Missing => Err(key_error("message")),
        Field::Null => Ok(Some("message_blank")),
        Field::Str("") => Ok(Some("message_blank")),
        Field::Str(s) if s.chars().count() > max => Ok(Some("message_exceed_max_chars")),
        Field::Str(_) => Ok(None),
        Field::Other(v) => Err(type_error(v)),
    }
}

/// The seven TTL choices of the activity form and their lengths.
pub fn ttl_seconds(ttl: &str) -> Option<i64> {
    Some(match ttl {
        "30-days" => 30 * DAY,
        "7-days" => 7 * DAY,
        "3-days" => 3 * DAY,
        "1-day" => DAY,
        "12-hours" => 12 * HOUR,
        "3-hours" => 3 * HOUR,
        "1-hour" => HOUR,
        _ => return None,
    })
}

/// POST /api/activities: checks in order ttl → user handle → message, each failing check
/// replacing the error list, so the last failing check wins (§2.2).
pub fn create_activity(now: Instant, uuid: &str, body: &Map<String, Value>) -> Created {
    let message = Field::of(body, "message");
    let ttl = match Field::of(body, "ttl") {
        Field::Missing => return Err(key_error("ttl")),
        Field::Str(t) => ttl_seconds(t),
        _ => None,
    };
    let mut error = None;
    if ttl.is_none() {
        error = Some("ttl_blank");
    }
    if let Some(e) = check_message(&message, ACTIVITY_MESSAGE_CHARS_MAX)? {
        error = Some(e);
    }
    if let Some(e) = error {
        return Ok(Err(vec![e]));
    }
    let (Field::Str(text), Some(ttl)) = (message, ttl) else {
        return Ok(Err(vec!["message_blank"]));
    };
    Ok(Ok(json!({
        "created_at": iso(now),
        "display_name": USER_DISPLAY_NAME,
        "expires_at": iso(now + Duration::seconds(ttl)),
        "handle": USER_HANDLE,
        "message": text,
        "uuid": uuid,
    })))
}

/// POST /api/activities/<uuid>/reply: user handle → activity uuid → message (1024).
pub fn create_reply(
    now: Instant,
    uuid: &str,
    activity_uuid: &str,
    body: &Map<String, Value>,
) -> Created {
    let message = Field::of(body, "message");
    let mut error = None;
    if activity_uuid.is_empty() {
        error = Some("activity_uuid_blank");
    }
    if let Some(e) = check_message(&message, REPLY_MESSAGE_CHARS_MAX)? {
        error = Some(e);
    }
    if let Some(e) = error {
        return Ok(Err(vec![e]));
    }
    let Field::Str(text) = message else {
        return Ok(Err(vec!["message_blank"]));
    };
    Ok(Ok(json!({
        "created_at": iso(now),
        "display_name": USER_DISPLAY_NAME,
        "handle": USER_HANDLE,
        "message": text,
        "reply_to_activity_uuid": activity_uuid,
        "uuid": uuid,
    })))
}

/// POST /api/messages: sender → receiver → message (1024); the receiver code keeps the
/// original's spelling `user_reciever_handle_blank`.
pub fn create_message(now: Instant, uuid: &str, body: &Map<String, Value>) -> Created {
    let message = Field::of(body, "message");
    let mut error = None;
    match Field::of(body, "user_receiver_handle") {
        Field::Missing => return Err(key_error("user_receiver_handle")),
        Field::Null => error = Some("user_reciever_handle_blank"),
        Field::Str("") => error = Some("user_reciever_handle_blank"),
        Field::Str(_) => {}
        Field::Other(v) => return Err(type_error(v)),
    }
    if let Some(e) = check_message(&message, MESSAGE_CHARS_MAX)? {
        error = Some(e);
    }
    if let Some(e) = error {
        return Ok(Err(vec![e]));
    }
    let Field::Str(text) = message else {
        return Ok(Err(vec!["message_blank"]));
    };
    Ok(Ok(json!({
        "created_at": iso(now),
        "display_name": USER_DISPLAY_NAME,
        "handle": USER_HANDLE,
        "message": text,
        "uuid": uuid,
    })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> Instant {
        Instant::from_unix_micros(1_677_974_400_000_000) // 2023-03-05T00:00:00Z
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn home_matches_the_seed_example_exactly() {
        let text = serde_json::to_string(&home(now())).unwrap();
        let seed = r#"[{"created_at":"2023-03-03T00:00:00+00:00","expires_at":"2023-03-10T00:00:00+00:00","handle":"Andrew Brown","likes_count":5,"message":"Cloud is fun!","replies":[{"created_at":"2023-03-03T00:00:00+00:00","handle":"Worf","likes_count":0,"message":"This post has no honor!","replies_count":0,"reply_to_activity_uuid":"68f126b0-1ceb-4a33-88be-d90fa7109eee","reposts_count":0,"uuid":"26e12864-1c26-5c3a-9658-97a10f8fea67"}],"replies_count":1,"reposts_count":0,"uuid":"68f126b0-1ceb-4a33-88be-d90fa7109eee"},{"created_at":"2023-02-26T00:00:00+00:00","expires_at":"2023-03-14T00:00:00+00:00","handle":"Worf","likes":0,"message":"I am out of prune juice","replies":[],"uuid":"66e12864-8c26-4c3a-9658-95a10f8fea67"},{"created_at":"2023-03-04T23:00:00+00:00","expires_at":"2023-03-05T12:00:00+00:00","handle":"Garek","likes":0,"message":"My dear doctor, I am just simple tailor","replies":[],"uuid":"248959df-3079-4947-b847-9e0892d1bab4"}]"#;
        assert_eq!(text, seed);
    }

    #[test]
    fn validation_last_failing_check_wins() {
        let n = now();
        let r = create_activity(n, "u", &body(json!({"message": "", "ttl": "nope"})));
        assert_eq!(r, Ok(Err(vec!["message_blank"])));
        let r = create_activity(n, "u", &body(json!({"message": "hi", "ttl": "nope"})));
        assert_eq!(r, Ok(Err(vec!["ttl_blank"])));
        let ok = "a".repeat(280);
        assert!(
            create_activity(n, "u", &body(json!({"message": ok, "ttl": "1-hour"})))
                .unwrap()
                .is_ok()
        );
        let long = "é".repeat(281);
        let r = create_activity(n, "u", &body(json!({"message": long, "ttl": "1-hour"})));
        assert_eq!(r, Ok(Err(vec!["message_exceed_max_chars"])));
        let r = create_activity(n, "u", &body(json!({"ttl": "1-hour"})));
        assert_eq!(r.unwrap_err().class, "KeyError");
        let r = create_activity(n, "u", &body(json!({"message": 5, "ttl": "1-hour"})));
        assert_eq!(r.unwrap_err().class, "TypeError");
        let r = create_message(
            n,
            "u",
            &body(json!({"message": "", "user_receiver_handle": ""})),
        );
        assert_eq!(r, Ok(Err(vec!["message_blank"])));
        let r = create_message(
            n,
            "u",
            &body(json!({"message": "x", "user_receiver_handle": ""})),
        );
        assert_eq!(r, Ok(Err(vec!["user_reciever_handle_blank"])));
        let r = create_reply(n, "u", "a", &body(json!({"message": "x".repeat(1025)})));
        assert_eq!(r, Ok(Err(vec!["message_exceed_max_chars"])));
    }

    #[test]
    fn every_ttl_sets_expires_at_exactly() {
        for (ttl, secs) in [
            ("30-days", 30 * DAY),
            ("7-days", 7 * DAY),
            ("3-days", 3 * DAY),
            ("1-day", DAY),
            ("12-hours", 12 * HOUR),
            ("3-hours", 3 * HOUR),
            ("1-hour", HOUR),
        ] {
            let v = create_activity(now(), "u", &body(json!({"message": "m", "ttl": ttl})))
                .unwrap()
                .unwrap();
            assert_eq!(v["expires_at"], iso(now() + Duration::seconds(secs)));
        }
    }

    #[test]
    fn notification_attributes_follow_otel_set_attribute_rules() {
        let attrs: std::collections::BTreeMap<_, _> =
            notification_span_attributes(&notifications(now()))
                .into_iter()
                .collect();
        assert_eq!(attrs["handle"], "Juno");
        assert_eq!(attrs["likes_count"], 5);
        assert_eq!(attrs["likes"], 0);
        assert_eq!(attrs["replies"], json!([]));
        assert_eq!(attrs["uuid"], UUID_HOME_3);
    }
}
