//! decode → translate → encode: every captured SDK document is rebuilt from its events equal to
//! what the SDK sent, modulo key order and float formatting (times within a microsecond).
#![allow(clippy::unwrap_used)]

use serde_json::Value as J;
use waggle_protocols::xray::encode::trace_segments;
use waggle_protocols::xray::translate::no_resolver;
use waggle_protocols::xray::{decode_datagram, parse_documents, translate};

const NOW: i64 = 1_795_650_600;

/// JSON equality where numbers may differ by `tol` (float formatting, ns rounding).
fn same(a: &J, b: &J, path: &str) -> Result<(), String> {
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 2e-6 {
                Ok(())
            } else {
                Err(format!("{path}: {x} != {y}"))
            }
        }
        (J::Object(x), J::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            if kx != ky {
                return Err(format!("{path}: keys {kx:?} != {ky:?}"));
            }
            x.iter()
                .try_for_each(|(k, v)| same(v, &y[k], &format!("{path}.{k}")))
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (v, w))| same(v, w, &format!("{path}[{i}]"))),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} != {b}")),
    }
}

#[test]
fn every_captured_datagram_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xray");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "datagram") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let body = &bytes[bytes.iter().position(|b| *b == b'\n').unwrap() + 1..];
        let original: J = serde_json::from_slice(body).unwrap();
        let parsed = decode_datagram(&bytes, NOW).unwrap();
        let events: Vec<_> = parsed
            .documents
            .iter()
            .flat_map(|d| translate(d, &no_resolver))
            .collect();
        let out = trace_segments(&events);
        assert_eq!(out.len(), 1, "{}", path.display());
        assert_eq!(out[0].id, original["id"].as_str().unwrap());
        let rebuilt: J = serde_json::from_str(&out[0].document).unwrap();
        same(&rebuilt, &original, "$")
            .unwrap_or_else(|e| panic!("{}: {e}\n{rebuilt}", path.display()));
        n += 1;
    }
    assert_eq!(n, 30);
}

/// Hand-made documents covering what the captures lack: an in-progress segment, the
/// exception-id `cause`, aws/sql/precursor_ids on a subsegment, typed annotations, a parent
/// from upstream, throttle.
#[test]
fn hand_made_documents_round_trip() {
    let t = "1-6b0773b8-f34cca3e4dc04cf2525fe3e2";
    let docs = [
        format!(
            r#"{{"id":"0000000000000001","name":"a","trace_id":"{t}","start_time":1795650488.5,"in_progress":true}}"#
        ),
        format!(
            r#"{{"id":"0000000000000001","name":"a","trace_id":"{t}","parent_id":"00000000000000aa","start_time":1795650488.5,"end_time":1795650488.75,"in_progress":false,"user":"u1","origin":"AWS::ECS::Container","throttle":true,"error":true,"annotations":{{"s":"x","i":3,"f":1.5,"b":true}},
          "aws":{{"ecs":{{"container":"c1"}},"xray":{{"sdk":"X-Ray for Python","sdk_version":"2.15.0"}}}},
          "http":{{"request":{{"method":"GET","url":"http://h/x","x_forwarded_for":true}},"response":{{"status":429}}}},
          "subsegments":[{{"id":"0000000000000002","name":"DynamoDB","start_time":1795650488.6,"end_time":1795650488.7,"in_progress":false,"parent_id":"0000000000000001","trace_id":"{t}","type":"subsegment","namespace":"aws","fault":true,"cause":"0b1b0a3e5c8f3d21",
             "aws":{{"operation":"GetItem","region":"us-east-1","table_name":"users","retries":0}},"http":{{"request":{{"traced":false}},"response":{{"status":500,"content_length":12}}}},
             "precursor_ids":["0000000000000003"],"sql":{{"url":"pg://db","sanitized_query":"SELECT 1","database_type":"PostgreSQL","preparation":"statement"}},"metadata":{{"default":{{"k":[1,2,{{"x":null}}]}}}}}}]}}"#
        ),
    ];
    for d in docs {
        let original: J = serde_json::from_str(&d).unwrap();
        let p = parse_documents(d.as_bytes(), NOW);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        let events = translate(&p.documents[0], &no_resolver);
        let out = trace_segments(&events);
        assert_eq!(out.len(), 1);
        let rebuilt: J = serde_json::from_str(&out[0].document).unwrap();
        same(&rebuilt, &original, "$").unwrap_or_else(|e| panic!("{e}\n{rebuilt}"));
    }
}

#[test]
fn in_progress_then_completed_keeps_the_completed_one() {
    let t = "1-6b0773b8-f34cca3e4dc04cf2525fe3e2";
    let open = format!(
        r#"{{"id":"0000000000000001","name":"a","trace_id":"{t}","start_time":1795650488.5,"in_progress":true}}"#
    );
    let done = format!(
        r#"{{"id":"0000000000000001","name":"a","trace_id":"{t}","start_time":1795650488.5,"end_time":1795650489.5}}"#
    );
    for order in [[&done, &open], [&open, &done]] {
        let events: Vec<_> = order
            .iter()
            .flat_map(|d| {
                let p = parse_documents(d.as_bytes(), NOW);
                translate(&p.documents[0], &no_resolver)
            })
            .collect();
        let out = trace_segments(&events);
        assert_eq!(out.len(), 1);
        let doc: J = serde_json::from_str(&out[0].document).unwrap();
        assert_eq!(doc["end_time"], J::from(1_795_650_489.5), "{doc}");
        assert_eq!(doc["in_progress"], J::Bool(false));
    }
}
