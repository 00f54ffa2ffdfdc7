//! Tokens and scopes, rate windows, the item workflow (resolve, reactivate, resolved-in-version,
//! muted), duplicate uuids, trace linking, and the read API's shapes.
#![allow(clippy::unwrap_used)]

use model::{SignalKind, SpanId, TraceId, Value};
use serde_json::{json, Value as Json};
use waggle_protocols::rollbar::api::{self, ItemsQuery};
use waggle_protocols::rollbar::item::decode;
use waggle_protocols::rollbar::items::{
    ItemStatus, Items, Occurrence, Patch, RecentUuids, Stored, RECENT_UUIDS_PER_PROJECT_MAX,
};
use waggle_protocols::rollbar::tokens::{Need, Projects, RateLimiter, Scope};
use waggle_protocols::rollbar::translate::{fields, Context};
use waggle_protocols::rollbar::{fingerprint, translate, Level, Limits};

const CONFIG: &str = "cruddur:srv1:post_server_item, cruddur:cli1:post_client_item, cruddur:rd1:read, cruddur:wr1:write+read, web:all1, web:lim1:post_server_item:2/60";

#[test]
fn token_scope_table() {
    let p = Projects::parse(CONFIG).unwrap();
    assert_eq!(p.projects().len(), 2);
    let server = Need::PostItem { client_side: false };
    let client = Need::PostItem { client_side: true };
    let table: &[(&str, Need, Result<&str, &str>)] = &[
        ("srv1", server, Ok("cruddur")),
        ("srv1", client, Ok("cruddur")),
        ("srv1", Need::PostDeploy, Ok("cruddur")),
        (
            "srv1",
            Need::Read,
            Err("access token does not have the required scope 'read'"),
        ),
        ("cli1", client, Ok("cruddur")),
        (
            "cli1",
            server,
            Err("access token does not have the required scope 'post_server_item'"),
        ),
        ("cli1", Need::PostDeploy, Ok("cruddur")),
        ("rd1", Need::Read, Ok("cruddur")),
        (
            "rd1",
            server,
            Err("access token does not have the required scope 'post_server_item'"),
        ),
        (
            "rd1",
            Need::Write,
            Err("access token does not have the required scope 'write'"),
        ),
        ("wr1", Need::Write, Ok("cruddur")),
        ("all1", server, Ok("web")),
        ("all1", Need::Write, Ok("web")),
        (
            "nope9999",
            Need::Read,
            Err("access token not found: nope..."),
        ),
        ("", server, Err("access token not found: ...")),
    ];
    for (token, need, want) in table {
        let got = p
            .authorize(token, *need)
            .map(|a| a.project.name)
            .map_err(|e| {
                let a = e.answer();
                assert_eq!(a.status, 403);
                assert_eq!(
                    a.body,
                    json!({"err": 1, "message": e.to_string()}).to_string()
                );
                e.to_string()
            });
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            *want,
            "{token} {need:?}"
        );
    }
    // Debug never prints a token.
    let dbg = format!("{p:?} {:?}", p.authorize("srv1-not", Need::Read));
    assert!(!dbg.contains("srv1") && !dbg.contains("cli1"), "{dbg}");
}

#[test]
fn config_errors() {
    for bad in [
        "cruddur",
        "cruddur:",
        ":tok",
        "a b:tok",
        "p:tok:reed",
        "p:tok:read:0/60",
        "p:tok:read:5/0",
        "p:t,p:t",
        "p:t,,q:u",
        "p:t:read:1/60:x",
    ] {
        assert!(Projects::parse(bad).is_err(), "{bad}");
    }
    assert!(Projects::parse("  ").unwrap().is_local());
    assert_eq!(Scope::parse("write"), Some(Scope::Write));
}

#[test]
fn local_mode_accepts_any_token() {
    let p = Projects::local();
    let a = p.authorize("whatever", Need::Write).unwrap();
    assert_eq!(a.project.name, "default");
    assert_eq!(a.project.id, 1);
}

#[test]
fn rate_window_and_headers() {
    let p = Projects::parse(CONFIG).unwrap();
    let a = p
        .authorize("lim1", Need::PostItem { client_side: false })
        .unwrap();
    let mut rl = RateLimiter::new();
    let h = rl.check(&a, 1000).unwrap();
    assert_eq!(
        (h.limit, h.remaining, h.reset_s, h.remaining_seconds),
        (2, 1, 1060, 60)
    );
    assert_eq!(rl.check(&a, 1010).unwrap().remaining, 0);
    let refused = rl.check(&a, 1059).unwrap_err().answer();
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.body,
        r#"{"err":1,"message":"Rate limit reached for this access token."}"#
    );
    assert_eq!(refused.header("X-Rate-Limit-Limit"), Some("2"));
    assert_eq!(refused.header("X-Rate-Limit-Remaining"), Some("0"));
    assert_eq!(refused.header("X-Rate-Limit-Reset"), Some("1060"));
    assert_eq!(refused.header("X-Rate-Limit-Remaining-Seconds"), Some("1"));
    // The next window starts with the next call.
    let h = rl.check(&a, 1100).unwrap();
    assert_eq!((h.remaining, h.reset_s), (1, 1160));
    // Another token has its own window (default 5,000/min).
    let other = p.authorize("srv1", Need::PostDeploy).unwrap();
    assert_eq!(rl.check(&other, 1100).unwrap().remaining, 4999);
}

fn occ(fp: &str, env: &str, version: Option<&str>, uuid: &str, t: i64, level: Level) -> Occurrence {
    Occurrence {
        project_id: 1,
        environment: env.into(),
        fingerprint: waggle_protocols::rollbar::Fingerprint(fp.into()),
        title: format!("title {uuid}"),
        level,
        code_version: version.map(Into::into),
        uuid: uuid.into(),
        timestamp: t,
        framework: Some("flask".into()),
        platform: None,
        language: None,
    }
}

fn stored(s: Stored) -> Stored {
    s
}

fn resolve(items: &mut Items, id: u64, version: Option<&str>) {
    let p = Patch {
        status: Some(ItemStatus::Resolved),
        resolved_in_version: version.map(Into::into),
        ..Default::default()
    };
    items.patch(1, id, &p, 500).unwrap();
}

#[test]
fn items_group_count_and_number() {
    let mut items = Items::new();
    let first = stored(
        items
            .record(&occ("a", "production", None, "u1", 100, Level::Warning))
            .unwrap(),
    );
    assert!(first.new_item);
    assert_eq!(
        (first.item_id, first.counter, first.occurrence_id),
        (1, 1, 1)
    );
    for i in 0..49 {
        let s = stored(
            items
                .record(&occ(
                    "a",
                    "production",
                    None,
                    &format!("r{i}"),
                    101 + i,
                    Level::Error,
                ))
                .unwrap(),
        );
        assert!(!s.new_item);
        assert_eq!(s.item_id, 1);
    }
    let item = items.get(1).unwrap();
    assert_eq!(item.total_occurrences, 50);
    assert_eq!(
        (
            item.first_occurrence_timestamp,
            item.last_occurrence_timestamp
        ),
        (100, 149)
    );
    assert_eq!(
        item.level,
        Level::Warning,
        "the first occurrence's level (RD)"
    );
    assert_eq!(item.max_level, Level::Error);
    assert_eq!(item.title, "title u1");
    // Another fingerprint, or another environment, is another item with the next counter.
    assert_eq!(
        stored(
            items
                .record(&occ("b", "production", None, "u2", 200, Level::Error))
                .unwrap()
        )
        .counter,
        2
    );
    assert_eq!(
        stored(
            items
                .record(&occ("a", "staging", None, "u3", 200, Level::Error))
                .unwrap()
        )
        .counter,
        3
    );
    // Counters are per project.
    let mut other = occ("a", "production", None, "u4", 200, Level::Error);
    other.project_id = 2;
    let s = stored(items.record(&other).unwrap());
    assert_eq!((s.counter, s.item_id), (1, 4));
    assert_eq!(items.by_counter(1, 2).unwrap().hash.as_str(), "b");
}

#[test]
fn duplicate_uuid_is_seen_per_project_and_bounded() {
    let mut seen = RecentUuids::new();
    assert!(!seen.contains(1, "same"));
    seen.insert(1, "same");
    // Any fingerprint: the uuid space is per project (RD).
    assert!(seen.contains(1, "same"));
    assert!(!seen.contains(2, "same"));
    // An empty uuid is never a duplicate.
    seen.insert(1, "");
    assert!(!seen.contains(1, ""));
    for i in 0..RECENT_UUIDS_PER_PROJECT_MAX {
        seen.insert(1, &format!("u{i}"));
    }
    assert_eq!(seen.len(1), RECENT_UUIDS_PER_PROJECT_MAX);
    assert!(!seen.contains(1, "same"), "the oldest is forgotten first");
    assert!(seen.contains(1, "u1"));
}

/// Occurrences recorded after a checkpoint and replayed into that checkpoint (what a
/// restart does with the events stored after the document's last write) give the same
/// items as recording them did, including new items, reactivation and PATCHes before the
/// checkpoint.
#[test]
fn replay_after_a_checkpoint_equals_recording() {
    let mut live = Items::new();
    for (fp, uuid, t) in [("a", "u1", 10), ("b", "u2", 11), ("a", "u3", 12)] {
        live.record(&occ(fp, "production", Some("1.0"), uuid, t, Level::Error))
            .unwrap();
    }
    resolve(&mut live, 1, Some("1.1"));
    let checkpoint: Items = serde_json::from_value(serde_json::to_value(&live).unwrap()).unwrap();
    assert_eq!(checkpoint, live, "the document round-trips");
    let later = [
        occ("a", "production", Some("1.0"), "u4", 13, Level::Error), // old version: stays resolved
        occ("c", "production", None, "u5", 14, Level::Critical),     // new item
        occ("a", "production", Some("1.2"), "u6", 15, Level::Warning), // reactivates
        occ("c", "staging", None, "u7", 16, Level::Error),           // another environment
        occ("b", "production", None, "u8", 9, Level::Error),         // older than the first
    ];
    let mut stored_ids = Vec::new();
    for o in &later {
        stored_ids.push(live.record(o).unwrap());
    }
    assert!(stored_ids[2].reactivated && stored_ids[1].new_item);
    let mut replayed = checkpoint.clone();
    for (o, st) in later.iter().zip(&stored_ids) {
        replayed.replay(o, st);
    }
    assert_eq!(replayed, live);
    // And it hands out the same ids next.
    let next = occ("d", "production", None, "u9", 17, Level::Error);
    assert_eq!(replayed.record(&next).unwrap(), live.record(&next).unwrap());
    // Holes (an occurrence whose event the store refused) are skipped, never reused.
    let mut holes = checkpoint;
    holes.replay(&later[1], &stored_ids[1]);
    holes.replay(&later[3], &stored_ids[3]);
    assert_eq!(holes.next_occurrence_id(), stored_ids[3].occurrence_id);
    let fresh = holes.record(&next).unwrap();
    assert!(fresh.occurrence_id > stored_ids[3].occurrence_id);
}

/// (resolved in, versions seen before resolving, occurrence version, reactivates?).
type VersionCase = (
    Option<&'static str>,
    &'static [&'static str],
    Option<&'static str>,
    bool,
);

#[test]
fn status_transitions() {
    // (resolved in, versions seen before resolving, occurrence version, reactivates?)
    let table: &[VersionCase] = &[
        (None, &[], None, true),
        (None, &["1.0"], Some("0.9"), true),
        (Some("1.1"), &["1.0"], Some("1.0"), false),
        (Some("1.1"), &["1.0"], Some("1.0.9"), false),
        (Some("1.1"), &["1.0"], Some("1.1"), true),
        (Some("1.1"), &["1.0"], Some("1.2.0"), true),
        (Some("v2"), &[], Some("v10"), true),
        (Some("45"), &["44"], Some("44"), false),
        (Some("45"), &["44"], Some("46"), true),
        (Some("1.1"), &["1.0"], None, true),
        (Some("aabbcc1"), &["0011223"], Some("0011223"), false),
        (Some("aabbcc1"), &["0011223"], Some("aabbcc1"), true),
        (Some("aabbcc1"), &["0011223"], Some("ffeedd9"), true),
    ];
    for (i, (fixed, seen, version, reactivates)) in table.iter().enumerate() {
        let mut items = Items::new();
        stored(
            items
                .record(&occ("a", "production", None, "first", 10, Level::Error))
                .unwrap(),
        );
        for (k, v) in seen.iter().enumerate() {
            stored(
                items
                    .record(&occ(
                        "a",
                        "production",
                        Some(v),
                        &format!("seen{k}"),
                        20,
                        Level::Error,
                    ))
                    .unwrap(),
            );
        }
        resolve(&mut items, 1, *fixed);
        let item = items.get(1).unwrap();
        assert_eq!(
            (
                item.status,
                item.resolved_in_version.as_deref(),
                item.last_resolved_timestamp
            ),
            (ItemStatus::Resolved, *fixed, Some(500))
        );
        let s = stored(
            items
                .record(&occ(
                    "a",
                    "production",
                    *version,
                    "again",
                    600,
                    Level::Error,
                ))
                .unwrap(),
        );
        let item = items.get(1).unwrap();
        assert_eq!(
            s.reactivated, *reactivates,
            "case {i}: {fixed:?} {version:?}"
        );
        let want = if *reactivates {
            ItemStatus::Active
        } else {
            ItemStatus::Resolved
        };
        assert_eq!(item.status, want, "case {i}");
        if *reactivates {
            assert_eq!(
                item.title, "title again",
                "a reactivating occurrence retitles the item"
            );
            assert_eq!(
                (item.last_activated_timestamp, item.activating_occurrence_id),
                (Some(600), Some(s.occurrence_id))
            );
        } else {
            assert_eq!(item.title, "title first");
        }
        assert_eq!(s.item_id, 1, "resolved items keep their occurrences");
    }
}

#[test]
fn muted_stays_muted_and_patch_validates() {
    let mut items = Items::new();
    stored(
        items
            .record(&occ("a", "production", None, "u1", 10, Level::Error))
            .unwrap(),
    );
    let mute = Patch {
        status: Some(ItemStatus::Muted),
        ..Default::default()
    };
    items.patch(1, 1, &mute, 20).unwrap();
    let s = stored(
        items
            .record(&occ(
                "a",
                "production",
                Some("9.9"),
                "u2",
                30,
                Level::Critical,
            ))
            .unwrap(),
    );
    assert!(!s.reactivated);
    assert_eq!(items.get(1).unwrap().status, ItemStatus::Muted);
    assert_eq!(items.get(1).unwrap().total_occurrences, 2);
    // Reopen, retitle, relevel.
    let p =
        api::parse_patch(br#"{"status":"active","title":"New title","level":"critical"}"#).unwrap();
    let item = items.patch(1, 1, &p, 40).unwrap();
    assert_eq!(
        (item.status, item.title.as_str(), item.level),
        (ItemStatus::Active, "New title", Level::Critical)
    );
    assert_eq!(item.last_activated_timestamp, Some(40));
    // Errors.
    assert_eq!(
        api::parse_patch(br#"{"status":"gone"}"#)
            .unwrap_err()
            .status,
        422
    );
    assert_eq!(
        api::parse_patch(br#"{"level":"loud"}"#).unwrap_err().status,
        422
    );
    assert_eq!(api::parse_patch(b"{").unwrap_err().status, 400);
    let empty_title = Patch {
        title: Some(String::new()),
        ..Default::default()
    };
    assert!(items.patch(1, 1, &empty_title, 50).is_err());
    assert!(items.patch(1, 99, &Patch::default(), 50).is_err());
    assert!(
        items.patch(2, 1, &Patch::default(), 50).is_err(),
        "another project's item is not found"
    );
    // Items state round-trips through serde (it is persisted as one document).
    let text = serde_json::to_string(&items).unwrap();
    let back: Items = serde_json::from_str(&text).unwrap();
    assert_eq!(back, items);
}

fn submission(data: Json) -> waggle_protocols::rollbar::Submission {
    let body = json!({"access_token": "t", "data": data}).to_string();
    decode(body.as_bytes(), None, None, Limits::default()).unwrap()
}

/// (name, extra `data` keys, expected (trace id, span id)).
type LinkCase = (
    &'static str,
    Json,
    Option<(&'static str, Option<&'static str>)>,
);

#[test]
fn trace_linking_table() {
    let w3c = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    let msg = json!({"message": {"body": "m"}});
    let table: Vec<LinkCase> = vec![
        (
            "data.trace_id/span_id",
            json!({"trace_id": w3c, "span_id": span}),
            Some((w3c, Some(span))),
        ),
        (
            "custom.trace_id",
            json!({"custom": {"trace_id": w3c}}),
            Some((w3c, None)),
        ),
        (
            "custom.traceId/spanId",
            json!({"custom": {"traceId": w3c, "spanId": span}}),
            Some((w3c, Some(span))),
        ),
        (
            "custom.otel",
            json!({"custom": {"otel": {"trace_id": w3c, "span_id": span}}}),
            Some((w3c, Some(span))),
        ),
        (
            "pyrollbar report_message extra_data (merged into body.message)",
            json!({"body": {"message": {"body": "m", "trace_id": w3c, "span_id": span}}}),
            Some((w3c, Some(span))),
        ),
        (
            "traceparent header",
            json!({"request": {"headers": {"Traceparent": format!("00-{w3c}-{span}-01")}}}),
            Some((w3c, Some(span))),
        ),
        (
            "X-Amzn-Trace-Id header",
            json!({"request": {"headers": {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}}),
            Some(("5759e988bd862e3fe1be46a994272793", Some("53995c3f42cd8ad8"))),
        ),
        (
            "explicit beats header",
            json!({"trace_id": w3c, "request": {"headers": {"traceparent": format!("00-{}-{span}-01", "1".repeat(32))}}}),
            Some((w3c, None)),
        ),
        (
            "bad traceparent",
            json!({"request": {"headers": {"traceparent": "00-zz-yy-01"}}}),
            None,
        ),
        (
            "all-zero id",
            json!({"custom": {"trace_id": "0".repeat(32)}}),
            None,
        ),
        ("nothing", json!({}), None),
    ];
    for (name, extra, want) in table {
        let mut data = json!({"environment": "production", "body": msg});
        for (k, v) in extra.as_object().unwrap() {
            data[k] = v.clone();
        }
        let sub = submission(data);
        let fp = fingerprint(&sub.data);
        let ev = translate(
            &sub,
            &Context {
                dataset: "cruddur",
                now_ns: 1,
                uuid: "u",
                fingerprint: &fp,
                stored: None,
            },
        );
        let got = ev.trace_id.map(|t| (t, ev.parent_id));
        let want = want.map(|(t, s)| {
            (
                TraceId::parse(t).unwrap(),
                s.map(|s| SpanId::parse(s).unwrap()),
            )
        });
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn captured_exception_as_event() {
    let b = std::fs::read(format!(
        "{}/tests/fixtures/rollbar/flask_keyerror.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let sub = decode(&b, None, None, Limits::default()).unwrap();
    let fp = fingerprint(&sub.data);
    let st = Stored {
        item_id: 7,
        counter: 3,
        occurrence_id: 11,
        new_item: true,
        reactivated: false,
    };
    let ev = translate(
        &sub,
        &Context {
            dataset: "cruddur",
            now_ns: 0,
            uuid: "d516e559-9106-4aed-b588-cdf5a534e13b",
            fingerprint: &fp,
            stored: Some(&st),
        },
    );
    assert_eq!(ev.kind, SignalKind::Error);
    assert_eq!(ev.dataset, "cruddur");
    assert_eq!(ev.time_ns, 1_795_650_491_000_000_000);
    assert_eq!(ev.name.as_deref(), Some("KeyError: 'message'"));
    let s = |v: &str| Some(Value::Str(v.into()));
    assert_eq!(ev.get(fields::LEVEL).cloned(), s("error"));
    assert_eq!(ev.get("error").cloned(), Some(Value::Bool(true)));
    assert_eq!(ev.get(fields::ENVIRONMENT).cloned(), s("production"));
    assert_eq!(ev.get(fields::EXCEPTION_TYPE).cloned(), s("KeyError"));
    assert_eq!(ev.get(fields::EXCEPTION_MESSAGE).cloned(), s("'message'"));
    assert_eq!(ev.get(fields::HTTP_ROUTE).cloned(), s("/api/activities"));
    assert_eq!(ev.get(fields::HTTP_METHOD).cloned(), s("POST"));
    assert_eq!(
        ev.get("http.request.header.user-agent").cloned(),
        s("python-requests/2.34.2")
    );
    assert_eq!(ev.get(fields::HOST_NAME).cloned(), s("vm"));
    assert_eq!(ev.get(fields::ITEM_ID).cloned(), Some(Value::Int(7)));
    assert_eq!(ev.get(fields::COUNTER).cloned(), Some(Value::Int(3)));
    assert_eq!(ev.get(fields::FINGERPRINT).cloned(), s(fp.as_str()));
    let st_text = ev
        .get(fields::EXCEPTION_STACKTRACE)
        .unwrap()
        .as_str()
        .unwrap();
    assert!(st_text.contains("File \"/backend-flask/app.py\", line 347, in data_activities\n    message = body[\"message\"]\nKeyError: 'message'"), "{st_text}");
    // The instance API gives the data back as sent.
    let inst = api::Instance::from_event(&ev, 1).unwrap();
    assert_eq!(
        (inst.id, inst.item_id, inst.timestamp),
        (11, 7, 1_795_650_491)
    );
    assert_eq!(inst.data, sub.raw_data);
    let a = api::instances_page(1, &[inst]);
    let v: Json = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["result"]["instances"][0]["data"]["context"],
        json!("/api/activities")
    );
}

#[test]
fn read_api_shapes() {
    let mut items = Items::new();
    for i in 0..150 {
        let level = if i % 2 == 0 {
            Level::Error
        } else {
            Level::Warning
        };
        stored(
            items
                .record(&occ(
                    &format!("f{i}"),
                    "production",
                    None,
                    &format!("u{i}"),
                    i,
                    level,
                ))
                .unwrap(),
        );
    }
    let q = ItemsQuery::parse([("level", "error"), ("page", "1")]).unwrap();
    let v: Json = serde_json::from_str(&api::items_page(&items, 1, &q).body).unwrap();
    assert_eq!(v["err"], json!(0));
    assert_eq!(v["result"]["total_count"], json!(75));
    assert_eq!(v["result"]["page"], json!(1));
    assert_eq!(v["result"]["items"].as_array().unwrap().len(), 75);
    let q = ItemsQuery::parse([("page", "2")]).unwrap();
    let v: Json = serde_json::from_str(&api::items_page(&items, 1, &q).body).unwrap();
    assert_eq!(v["result"]["items"].as_array().unwrap().len(), 50);
    assert_eq!(
        v["result"]["items"][0]["counter"],
        json!(50),
        "newest counter first"
    );
    let item = &v["result"]["items"][0];
    for key in [
        "id",
        "counter",
        "project_id",
        "environment",
        "title",
        "level",
        "status",
        "hash",
        "total_occurrences",
        "first_occurrence_timestamp",
        "last_occurrence_id",
        "resolved_in_version",
    ] {
        assert!(item.get(key).is_some(), "{key}");
    }
    assert!(ItemsQuery::parse([("status", "gone")]).is_err());
    let a = api::item_by_counter_answer(272505123, "abcd1234");
    assert_eq!(a.status, 301);
    assert_eq!(
        a.header("Location"),
        Some("/api/1/item/272505123?access_token=abcd1234")
    );
    assert_eq!(
        a.body,
        r#"{"err":0,"result":{"itemId":272505123,"path":"/api/1/item/272505123","uri":"/api/1/item/272505123?access_token=abcd1234"}}"#
    );
    assert_eq!(api::not_found().body, r#"{"err":1,"message":"Not found"}"#);
}

#[test]
fn deploys() {
    let input = api::decode_deploy(b"access_token=tok&environment=production&revision=aaaafff&local_username=me&comment=just+a+test", None).unwrap();
    assert_eq!(input.access_token(), Some("tok"));
    assert_eq!(input.comment.as_deref(), Some("just a test"));
    let mut d = api::Deploys::new();
    let dep = d.add(1, input, 1000).clone();
    assert_eq!(
        (dep.id, dep.status.as_str(), dep.revision.as_str()),
        (1, "succeeded", "aaaafff")
    );
    let a = api::deploy_created(&dep);
    let v: Json = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["data"]["deploy_id"], json!(1));
    let j = api::decode_deploy(
        br#"{"environment":"staging","head_long":"bbb","status":"started"}"#,
        Some("application/json"),
    )
    .unwrap();
    d.add(1, j, 1001);
    let page = d.page(1, 1);
    assert_eq!(
        page.iter()
            .map(|x| x.environment.as_str())
            .collect::<Vec<_>>(),
        ["staging", "production"]
    );
    assert!(d.get(2, 1).is_none());
    let e = api::decode_deploy(br#"{"environment":"x"}"#, None).unwrap_err();
    assert_eq!(
        (e.status, e.body.as_str()),
        (422, r#"{"err":1,"message":"revision is required"}"#)
    );
    assert_eq!(
        api::decode_deploy(
            br#"{"environment":"x","revision":"r","status":"meh"}"#,
            None
        )
        .unwrap_err()
        .status,
        422
    );
}

#[test]
fn reserved_ids_are_never_handed_out_again() {
    let mut items = Items::new();
    let first = stored(
        items
            .record(&occ("a", "p", None, "u1", 10, Level::Error))
            .unwrap(),
    );
    assert_eq!(
        (first.item_id, first.counter, first.occurrence_id),
        (1, 1, 1)
    );
    // Committed events already carry item 7, occurrence 40 and counter 5 of project 1.
    items.reserve_ids(7, 40, &[(1, 5)]);
    let next = stored(
        items
            .record(&occ("b", "p", None, "u2", 11, Level::Error))
            .unwrap(),
    );
    assert_eq!((next.item_id, next.counter, next.occurrence_id), (8, 6, 41));
    // Lower values change nothing.
    items.reserve_ids(1, 1, &[(1, 1)]);
    let again = stored(
        items
            .record(&occ("a", "p", None, "u3", 12, Level::Error))
            .unwrap(),
    );
    assert_eq!(
        (again.item_id, again.counter, again.occurrence_id),
        (1, 1, 42)
    );
}
