//! X-Ray UDP datagrams: every captured SDK datagram decodes; a table of hostile datagrams is
//! refused with the expected reason (never a panic); arbitrary bytes never panic.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use waggle_protocols::xray::segment::{
    CODE_INVALID_SEGMENT, CODE_INVALID_TRACE_ID, CODE_JSON_FORMAT, CODE_MISSING_PARAM,
};
use waggle_protocols::xray::{decode_datagram, DatagramReason, DATAGRAM_BYTES_MAX};

/// The capture's clock: a little after the last captured trace id epoch (2026-11-25).
const NOW: i64 = 1_795_650_600;
const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
const DOC: &str = r#"{"id":"70de5b6f19ff9a0a","name":"svc","trace_id":"1-6b0773b8-f34cca3e4dc04cf2525fe3e2","start_time":1795650488.05,"end_time":1795650488.06}"#;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xray");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "datagram"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_captured_datagram_decodes_to_one_document() {
    let all = fixtures();
    assert_eq!(all.len(), 30);
    for (name, bytes) in all {
        let p = decode_datagram(&bytes, NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.rejected.is_empty(), "{name}: {:?}", p.rejected);
        assert_eq!(p.documents.len(), 1, "{name}");
        assert!(!p.documents[0].independent);
    }
}

#[test]
fn header_with_spaces_and_any_case_is_accepted() {
    let d = format!("{{\"format\": \"JSON\", \"version\": 1}}\n{DOC}");
    assert_eq!(
        decode_datagram(d.as_bytes(), NOW).unwrap().documents.len(),
        1
    );
}

#[test]
fn an_array_body_is_several_documents() {
    let other = DOC.replace("70de5b6f19ff9a0a", "70de5b6f19ff9a0b");
    let d = format!("{HEADER}[{DOC},{other},{{\"bad\":1}}]");
    let p = decode_datagram(d.as_bytes(), NOW).unwrap();
    assert_eq!(p.documents.len(), 2);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.rejected[0].error_code, CODE_MISSING_PARAM);
}

enum Want {
    Drop(DatagramReason),
    Reject(&'static str),
    Accept,
}

#[test]
fn hostile_datagrams() {
    let deep = format!("{HEADER}{}{}", "[".repeat(200), "]".repeat(200));
    let deep_subsegments = {
        let mut s = DOC.trim_end_matches('}').to_string();
        for i in 0..40 {
            s.push_str(&format!(r#","subsegments":[{{"id":"{i:016x}","name":"n","start_time":1795650488.05,"end_time":1795650488.06"#));
        }
        for _ in 0..40 {
            s.push_str("}]");
        }
        s.push('}');
        format!("{HEADER}{s}")
    };
    let huge_annotations = {
        let ann: Vec<String> = (0..2000).map(|i| format!("\"k{i}\":{i}")).collect();
        format!(
            "{HEADER}{},\"annotations\":{{{}}}}}",
            DOC.trim_end_matches('}'),
            ann.join(",")
        )
    };
    let too_big = format!("{HEADER}{}", " ".repeat(DATAGRAM_BYTES_MAX));
    let mut invalid_utf8 = format!("{HEADER}{DOC}").into_bytes();
    invalid_utf8.insert(HEADER.len() + 10, 0xff);
    let with = |from: &str, to: &str| format!("{HEADER}{}", DOC.replace(from, to));
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        ("empty", vec![], Want::Drop(DatagramReason::MissingHeader)),
        (
            "header only",
            HEADER.into(),
            Want::Drop(DatagramReason::MissingHeader),
        ),
        (
            "no newline",
            DOC.into(),
            Want::Drop(DatagramReason::MissingHeader),
        ),
        (
            "header not json",
            format!("format=json\n{DOC}").into(),
            Want::Drop(DatagramReason::InvalidHeader),
        ),
        (
            "version 2",
            format!("{{\"format\":\"json\",\"version\":2}}\n{DOC}").into(),
            Want::Drop(DatagramReason::InvalidHeader),
        ),
        (
            "format xml",
            format!("{{\"format\":\"xml\",\"version\":1}}\n{DOC}").into(),
            Want::Drop(DatagramReason::InvalidHeader),
        ),
        (
            "version as string",
            format!("{{\"format\":\"json\",\"version\":\"1\"}}\n{DOC}").into(),
            Want::Drop(DatagramReason::InvalidHeader),
        ),
        (
            "65 KiB+",
            too_big.into(),
            Want::Drop(DatagramReason::TooLarge),
        ),
        (
            "truncated",
            format!("{HEADER}{}", &DOC[..DOC.len() / 2]).into(),
            Want::Drop(DatagramReason::BadJson),
        ),
        (
            "not json",
            format!("{HEADER}hello").into(),
            Want::Drop(DatagramReason::BadJson),
        ),
        (
            "NaN",
            with("1795650488.05", "NaN").into(),
            Want::Drop(DatagramReason::BadJson),
        ),
        (
            "Infinity",
            with("1795650488.05", "Infinity").into(),
            Want::Drop(DatagramReason::BadJson),
        ),
        (
            "deep json",
            deep.into(),
            Want::Drop(DatagramReason::TooDeep),
        ),
        (
            "invalid utf-8",
            invalid_utf8,
            Want::Drop(DatagramReason::InvalidUtf8),
        ),
        (
            "empty array",
            format!("{HEADER}[]").into(),
            Want::Drop(DatagramReason::NoDocuments),
        ),
        (
            "1e400 start",
            with("1795650488.05", "1e400").into(),
            Want::Reject(CODE_JSON_FORMAT),
        ),
        (
            "negative start",
            with("1795650488.05", "-5").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "start as string",
            with("1795650488.05", "\"1795650488.05\"").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "id too short",
            with("70de5b6f19ff9a0a", "70de5b6f").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "id too long",
            with("70de5b6f19ff9a0a", "70de5b6f19ff9a0a00").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "id not hex",
            with("70de5b6f19ff9a0a", "70de5b6f19ff9a0z").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "id a number",
            with("\"70de5b6f19ff9a0a\"", "7").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "trace id short",
            with("f34cca3e4dc04cf2525fe3e2", "f34cca3e").into(),
            Want::Reject(CODE_INVALID_TRACE_ID),
        ),
        (
            "trace id W3C form",
            with(
                "1-6b0773b8-f34cca3e4dc04cf2525fe3e2",
                "6b0773b8f34cca3e4dc04cf2525fe3e2",
            )
            .into(),
            Want::Reject(CODE_INVALID_TRACE_ID),
        ),
        (
            "trace id too old",
            with("1-6b0773b8", "1-5759e988").into(),
            Want::Reject(CODE_INVALID_TRACE_ID),
        ),
        (
            "trace id in the future",
            with("1-6b0773b8", "1-7b0773b8").into(),
            Want::Reject(CODE_INVALID_TRACE_ID),
        ),
        (
            "no end, not in progress",
            with(",\"end_time\":1795650488.06", "").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "end and in progress",
            with("}", "")
                .replace("1795650488.06", "1795650488.06,\"in_progress\":true}")
                .into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "missing id",
            with("\"id\":\"70de5b6f19ff9a0a\",", "").into(),
            Want::Reject(CODE_MISSING_PARAM),
        ),
        (
            "missing name",
            with("\"name\":\"svc\",", "").into(),
            Want::Reject(CODE_MISSING_PARAM),
        ),
        (
            "name too long",
            with("\"svc\"", &format!("\"{}\"", "n".repeat(201))).into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "annotation object",
            with("}", ",\"annotations\":{\"a\":{\"b\":1}}}").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "http status string",
            with("}", ",\"http\":{\"response\":{\"status\":\"200\"}}}").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        (
            "subsegments 40 deep",
            deep_subsegments.into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
        ("huge annotation map", huge_annotations.into(), Want::Accept),
        (
            "duplicate keys",
            with("\"name\":\"svc\"", "\"name\":\"svc\",\"name\":\"svc\"").into(),
            Want::Reject(CODE_INVALID_SEGMENT),
        ),
    ];
    for (name, bytes, want) in cases {
        let got = decode_datagram(&bytes, NOW);
        match (want, got) {
            (Want::Drop(r), Err(e)) => assert_eq!(e.reason, r, "{name}: {e}"),
            (Want::Reject(code), Ok(p)) => {
                assert!(p.documents.is_empty(), "{name}: accepted");
                assert_eq!(p.rejected.len(), 1, "{name}");
                assert_eq!(
                    p.rejected[0].error_code, code,
                    "{name}: {:?}",
                    p.rejected[0]
                );
            }
            (Want::Accept, Ok(p)) => assert_eq!(p.documents.len(), 1, "{name}: {:?}", p.rejected),
            (_, got) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_datagram(&bytes, NOW);
        let mut d = HEADER.as_bytes().to_vec();
        d.extend_from_slice(&bytes);
        let _ = decode_datagram(&d, NOW);
    }

    #[test]
    fn mutated_fixtures_never_panic(ix in 0usize..30, cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let (_, mut bytes) = fixtures().swap_remove(ix);
        for (at, b) in cuts {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = decode_datagram(&bytes, NOW);
    }
}
