//! SigV4 verification: AWS's published test suite, requests captured from boto3/watchtower and
//! the aws CLI, every refusal with AWS's wording, sign→verify round trips, and property tests
//! (mutating any signed part fails; arbitrary `Authorization` headers never panic).
#![allow(clippy::unwrap_used)]

mod aws_support;

use std::path::{Path, PathBuf};

use aws_support::{OwnedRequest, Signer};
use base64::Engine as _;
use proptest::prelude::*;
use waggle_protocols::aws::error::{ErrorKind, Service};
use waggle_protocols::aws::sigv4::{self, parse_amz_date, Payload, Policy, Request, SigV4Error};
use waggle_protocols::aws::{AwsError, Credentials};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aws")
}

// ---------------------------------------------------------------- AWS test suite

const SUITE_AKID: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_DATE: &str = "20150830T123600Z";

/// Parse a test-suite `.req`: request line, `Name:value` headers (lines without a colon continue
/// the previous value), blank line, body.
fn parse_req(text: &str) -> OwnedRequest {
    let mut lines = text.split('\n');
    let first = lines.next().unwrap();
    let (method, rest) = first.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut body = String::new();
    let mut in_body = false;
    for line in lines {
        if in_body {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(line);
        } else if line.is_empty() {
            in_body = true;
        } else if let (Some((n, v)), false) = (line.split_once(':'), line.starts_with(' ')) {
            headers.push((n.as_bytes().to_vec(), v.as_bytes().to_vec()));
        } else {
            let last = headers.last_mut().unwrap();
            last.1.push(b'\n');
            last.1.extend_from_slice(line.as_bytes());
        }
    }
    OwnedRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.into_bytes(),
    }
}

/// The suite's `.req` omits the session token the signer adds from its credentials (botocore's
/// test passes it as a credential); its value is in the `.creq`.
fn add_session_token_from_creq(req: &mut OwnedRequest, creq: &str) {
    let has = req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(b"x-amz-security-token"));
    if let Some(token) = creq
        .lines()
        .find_map(|l| l.strip_prefix("x-amz-security-token:"))
    {
        if !has {
            req.headers
                .push((b"X-Amz-Security-Token".to_vec(), token.as_bytes().to_vec()));
        }
    }
}

fn suite_cases() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "req") {
                out.push(p.with_extension(""));
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures().join("sigv4-testsuite"), &mut out);
    out.sort();
    out
}

fn signed_headers_of(authz: &str) -> Vec<String> {
    let sh = authz.split("SignedHeaders=").nth(1).unwrap();
    let sh = sh.split(',').next().unwrap();
    sh.split(';').map(str::to_owned).collect()
}

#[test]
fn aws_test_suite_canonical_request_string_to_sign_and_signature() {
    let cases = suite_cases();
    assert!(
        cases.len() >= 30,
        "expected the whole suite, found {}",
        cases.len()
    );
    let creds = Credentials::single(SUITE_AKID, SUITE_SECRET);
    let now = parse_amz_date(SUITE_DATE).unwrap();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let read = |ext: &str| std::fs::read_to_string(case.with_extension(ext)).unwrap();
        let mut req = parse_req(&read("req"));
        add_session_token_from_creq(&mut req, &read("creq"));
        let authz = read("authz");
        let signed = signed_headers_of(&authz);

        let headers = req.header_refs();
        let view = req.view(&headers);
        let payload_hash = hex::encode(aws_support::sha256(&req.body));
        let creq = sigv4::canonical_request(&view, &signed, &payload_hash, false).unwrap();
        assert_eq!(
            String::from_utf8(creq.clone()).unwrap(),
            read("creq"),
            "{name}: canonical request"
        );
        let sts =
            sigv4::string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request", &creq);
        assert_eq!(sts, read("sts"), "{name}: string to sign");

        req.headers
            .push((b"Authorization".to_vec(), authz.trim().as_bytes().to_vec()));
        let headers = req.header_refs();
        let policy = Policy {
            credentials: Some(&creds),
            services: &["service"],
            region: Some("us-east-1"),
        };
        let id = sigv4::verify(&req.view(&headers), &policy, now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.access_key_id, SUITE_AKID);
        assert_eq!(id.region, "us-east-1");
        assert_eq!(id.date, "20150830");
        assert!(id.secret_checked);
    }
}

#[test]
fn aws_test_suite_session_token_is_reported() {
    let case = fixtures()
        .join("sigv4-testsuite/get-vanilla-with-session-token/get-vanilla-with-session-token");
    let mut req = parse_req(&std::fs::read_to_string(case.with_extension("req")).unwrap());
    add_session_token_from_creq(
        &mut req,
        &std::fs::read_to_string(case.with_extension("creq")).unwrap(),
    );
    let authz = std::fs::read_to_string(case.with_extension("authz")).unwrap();
    req.headers
        .push((b"Authorization".to_vec(), authz.trim().as_bytes().to_vec()));
    let creds = Credentials::single(SUITE_AKID, SUITE_SECRET);
    let headers = req.header_refs();
    let policy = Policy {
        credentials: Some(&creds),
        services: &["service"],
        region: None,
    };
    let id = sigv4::verify(
        &req.view(&headers),
        &policy,
        parse_amz_date(SUITE_DATE).unwrap(),
    )
    .unwrap();
    assert!(id.session_token);
}

// ---------------------------------------------------------------- captured requests

const CAPTURE_AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const CAPTURE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct Captured {
    seq: u64,
    op: String,
    req: OwnedRequest,
    now: i64,
}

fn captured() -> Vec<Captured> {
    let text = std::fs::read_to_string(fixtures().join("captured-signed.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let headers: Vec<(Vec<u8>, Vec<u8>)> = v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().as_bytes().to_vec(),
                        h[1].as_str().unwrap().as_bytes().to_vec(),
                    )
                })
                .collect();
            let body = base64::engine::general_purpose::STANDARD
                .decode(v["body_b64"].as_str().unwrap_or(""))
                .unwrap();
            let date = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(b"x-amz-date"))
                .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
                .unwrap();
            Captured {
                seq: v["seq"].as_u64().unwrap(),
                op: v["op"].as_str().unwrap().to_owned(),
                req: OwnedRequest {
                    method: v["method"].as_str().unwrap().into(),
                    path: v["path"].as_str().unwrap().into(),
                    query: v["query"].as_str().unwrap().into(),
                    headers,
                    body,
                },
                // The server saw each request about a second after it was signed.
                now: parse_amz_date(&date).unwrap() + 1,
            }
        })
        .collect()
}

fn service_of(c: &Captured) -> &'static str {
    if c.req.path == "/" {
        "logs"
    } else {
        "xray"
    }
}

#[test]
fn captured_botocore_and_cli_requests_verify() {
    let creds = Credentials::single(CAPTURE_AKID, CAPTURE_SECRET);
    let all = captured();
    assert_eq!(all.len(), 6);
    for c in &all {
        let headers = c.req.header_refs();
        let service = service_of(c);
        let policy = Policy {
            credentials: Some(&creds),
            services: &[service],
            region: Some("ca-central-1"),
        };
        let result = sigv4::verify(&c.req.view(&headers), &policy, c.now);
        if c.seq == 45 {
            // Body rewritten after capture (fixture README): a real tampered body.
            assert_eq!(result, Err(SigV4Error::Mismatch), "seq {} {}", c.seq, c.op);
        } else {
            let id = result.unwrap_or_else(|e| panic!("seq {} {}: {e}", c.seq, c.op));
            assert_eq!(id.access_key_id, CAPTURE_AKID);
            assert_eq!(id.service, service);
            assert_eq!(id.region, "ca-central-1");
            assert!(!id.session_token);
        }
    }
}

#[test]
fn captured_requests_refused_with_another_secret_and_pass_unchecked() {
    let wrong = Credentials::single(CAPTURE_AKID, "not-the-secret");
    for c in captured().iter().filter(|c| c.seq != 45) {
        let headers = c.req.header_refs();
        let services = [service_of(c)];
        let checked = Policy {
            credentials: Some(&wrong),
            services: &services,
            region: None,
        };
        assert_eq!(
            sigv4::verify(&c.req.view(&headers), &checked, c.now),
            Err(SigV4Error::Mismatch)
        );
        let loopback = Policy {
            credentials: None,
            services: &services,
            region: None,
        };
        // Unchecked mode ignores the secret and the clock (a day later still passes).
        let id = sigv4::verify(&c.req.view(&headers), &loopback, c.now + 86_400).unwrap();
        assert!(!id.secret_checked);
    }
}

#[test]
fn captured_request_to_the_wrong_service_is_refused() {
    let creds = Credentials::single(CAPTURE_AKID, CAPTURE_SECRET);
    let c = captured().into_iter().find(|c| c.seq == 70).unwrap();
    let headers = c.req.header_refs();
    let policy = Policy {
        credentials: Some(&creds),
        services: &["logs"],
        region: None,
    };
    let err = sigv4::verify(&c.req.view(&headers), &policy, c.now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to correct service: 'logs'. "
    );
}

// ---------------------------------------------------------------- refusals

const AKID: &str = "AKIDTEST";
const SECRET: &str = "secret/KEY+1";
const DATE: &str = "20261201T120000Z";

fn signer() -> Signer<'static> {
    Signer {
        access_key_id: AKID,
        secret: SECRET,
        region: "us-east-1",
        service: "xray",
        amz_date: DATE,
    }
}

fn signed_request() -> OwnedRequest {
    let mut req = OwnedRequest::new(
        "POST",
        "/TraceSegments",
        "",
        &[
            ("Host", "127.0.0.1:4318"),
            ("Content-Type", "application/json"),
        ],
        br#"{"TraceSegmentDocuments":[]}"#,
    );
    signer().sign(&mut req);
    req
}

fn now() -> i64 {
    parse_amz_date(DATE).unwrap()
}

fn check(req: &OwnedRequest, at: i64) -> Result<sigv4::Identity, SigV4Error> {
    let creds = Credentials::single(AKID, SECRET);
    let headers = req.header_refs();
    let policy = Policy {
        credentials: Some(&creds),
        services: &["xray"],
        region: Some("us-east-1"),
    };
    sigv4::verify(&req.view(&headers), &policy, at)
}

fn with_authorization(value: &str) -> OwnedRequest {
    let mut req = signed_request();
    req.set_header("Authorization", value);
    req
}

#[test]
fn sign_then_verify() {
    let id = check(&signed_request(), now()).unwrap();
    assert_eq!(
        id,
        sigv4::Identity {
            access_key_id: AKID.into(),
            region: "us-east-1".into(),
            service: "xray".into(),
            date: "20261201".into(),
            signed_at_unix_secs: now(),
            session_token: false,
            secret_checked: true,
        }
    );
}

#[test]
fn missing_authorization() {
    let mut req = signed_request();
    req.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(b"authorization"));
    let err = check(&req, now()).unwrap_err();
    assert_eq!(err, SigV4Error::Missing);
    assert_eq!(AwsError::from(err).kind, ErrorKind::MissingAuthentication);
}

#[test]
fn incomplete_headers_name_what_is_missing() {
    let err = check(
        &with_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/xray/aws4_request",
        ),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."
    );
    assert_eq!(ErrorKind::from(&err), ErrorKind::IncompleteSignature);

    let mut req = signed_request();
    req.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(b"x-amz-date"));
    let err = check(&req, now()).unwrap_err();
    assert!(
        err.to_string().contains("'X-Amz-Date' or a 'Date' header"),
        "{err}"
    );

    for bad in [
        "",
        "AWS4-HMAC-SHA512 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/xray, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=/20261201/us-east-1/xray/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/xray/aws4_request, SignedHeaders=;host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/xray/aws4_request, Credential=x, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential",
    ] {
        let err = check(&with_authorization(bad), now()).unwrap_err();
        assert!(matches!(err, SigV4Error::Incomplete(_)), "{bad:?}: {err:?}");
    }
}

#[test]
fn unknown_access_key() {
    let mut req = signed_request();
    Signer {
        access_key_id: "AKIDOTHER",
        ..signer()
    }
    .sign(&mut req);
    let err = check(&req, now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The security token included in the request is invalid."
    );
    assert_eq!(ErrorKind::from(&err), ErrorKind::UnrecognizedClient);
}

#[test]
fn wrong_secret() {
    let mut req = signed_request();
    Signer {
        secret: "other",
        ..signer()
    }
    .sign(&mut req);
    let err = check(&req, now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
         Access Key and signing method. Consult the service documentation for details."
    );
    assert_eq!(ErrorKind::from(&err), ErrorKind::InvalidSignature);
}

#[test]
fn clock_skew_uses_aws_wording_and_five_minutes() {
    let req = signed_request();
    assert!(check(&req, now() + 300).is_ok());
    assert!(check(&req, now() - 300).is_ok());
    assert_eq!(
        check(&req, now() + 301).unwrap_err().to_string(),
        "Signature expired: 20261201T120000Z is now earlier than 20261201T120001Z (20261201T120501Z - 5 min.)"
    );
    assert_eq!(
        check(&req, now() - 301).unwrap_err().to_string(),
        "Signature not yet current: 20261201T120000Z is still later than 20261201T115959Z (20261201T115459Z + 5 min.)"
    );
}

#[test]
fn scope_must_name_our_service_region_terminator_and_date() {
    let mut req = signed_request();
    Signer {
        service: "logs",
        ..signer()
    }
    .sign(&mut req);
    assert_eq!(
        check(&req, now()).unwrap_err(),
        SigV4Error::WrongService {
            expected: "xray".into()
        }
    );

    let mut req = signed_request();
    Signer {
        region: "eu-west-1",
        ..signer()
    }
    .sign(&mut req);
    assert_eq!(
        check(&req, now()).unwrap_err().to_string(),
        "Credential should be scoped to a valid region. "
    );

    let auth = String::from_utf8(
        signed_request()
            .headers
            .iter()
            .find(|(n, _)| n == b"Authorization")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let err = check(
        &with_authorization(&auth.replace("aws4_request", "aws5_request")),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );

    let err = check(
        &with_authorization(&auth.replace("/20261201/", "/20261130/")),
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261130' != \
         '20261201', from '20261201T120000Z'."
    );
}

#[test]
fn host_must_be_signed() {
    let mut req = OwnedRequest::new(
        "POST",
        "/",
        "",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    signer().sign(&mut req);
    req.headers.push((b"Host".to_vec(), b"x".to_vec()));
    assert!(
        matches!(check(&req, now()).unwrap_err(), SigV4Error::Incomplete(m) if m.contains("'Host'"))
    );
}

#[test]
fn content_sha256_header_is_the_payload_hash_and_must_match_the_body() {
    let body = b"{\"a\":1}".to_vec();
    let mut req = OwnedRequest::new(
        "POST",
        "/",
        "",
        &[
            ("Host", "h"),
            (
                "X-Amz-Content-Sha256",
                &hex::encode(aws_support::sha256(&body)),
            ),
        ],
        &body,
    );
    signer().sign(&mut req);
    assert!(check(&req, now()).is_ok());
    req.body.push(b' ');
    assert_eq!(
        check(&req, now()).unwrap_err(),
        SigV4Error::ContentSha256Mismatch
    );
}

#[test]
fn precomputed_payload_hash_is_equivalent_to_the_body() {
    let req = signed_request();
    let creds = Credentials::single(AKID, SECRET);
    let headers = req.header_refs();
    let view = Request {
        payload: Payload::Sha256(aws_support::sha256(&req.body)),
        ..req.view(&headers)
    };
    let policy = Policy {
        credentials: Some(&creds),
        services: &["xray"],
        region: None,
    };
    assert!(sigv4::verify(&view, &policy, now()).is_ok());
}

#[test]
fn unchecked_mode_still_requires_a_well_formed_header() {
    let policy = Policy {
        credentials: None,
        services: &["xray"],
        region: None,
    };
    let mut req = signed_request();
    Signer {
        secret: "anything",
        access_key_id: "test",
        ..signer()
    }
    .sign(&mut req);
    let headers = req.header_refs();
    let id = sigv4::verify(&req.view(&headers), &policy, now() + 10_000).unwrap();
    assert_eq!(
        (id.access_key_id.as_str(), id.secret_checked),
        ("test", false)
    );

    let auth = String::from_utf8(
        req.headers
            .iter()
            .find(|(n, _)| n == b"Authorization")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let (head, _) = auth.split_once("Signature=").unwrap();
    req.set_header("Authorization", &format!("{head}Signature=zz"));
    let headers = req.header_refs();
    assert_eq!(
        sigv4::verify(&req.view(&headers), &policy, now()),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn presigned_query_form() {
    let mut req = OwnedRequest::new(
        "GET",
        "/Groups",
        "Extra=a%20b",
        &[("Host", "localhost:2000")],
        b"",
    );
    signer().presign(&mut req, 60);
    let id = check(&req, now() + 30).unwrap();
    assert_eq!(id.access_key_id, AKID);
    assert_eq!(
        check(&req, now() + 61).unwrap_err(),
        SigV4Error::PresignedExpired
    );

    let mut tampered = req.clone();
    tampered.query = tampered.query.replace("Extra=a%20b", "Extra=a%20c");
    assert_eq!(check(&tampered, now()).unwrap_err(), SigV4Error::Mismatch);

    let mut long = OwnedRequest::new("GET", "/", "", &[("Host", "h")], b"");
    signer().presign(&mut long, 604_801);
    assert!(matches!(
        check(&long, now()).unwrap_err(),
        SigV4Error::Incomplete(_)
    ));
}

#[test]
fn sigv4_errors_render_as_their_aws_codes() {
    let cases = [
        (SigV4Error::Missing, "MissingAuthenticationTokenException"),
        (
            SigV4Error::Incomplete("x".into()),
            "IncompleteSignatureException",
        ),
        (SigV4Error::UnknownAccessKey, "UnrecognizedClientException"),
        (SigV4Error::Mismatch, "InvalidSignatureException"),
        (SigV4Error::PresignedExpired, "InvalidSignatureException"),
        (SigV4Error::WrongRegion, "InvalidSignatureException"),
    ];
    for (err, code) in cases {
        let aws = AwsError::from(err.clone());
        assert_eq!(aws.kind.code(Service::CloudWatchLogs), code);
        assert_eq!(aws.message(), err.to_string());
    }
}

// ---------------------------------------------------------------- properties

fn header_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._:/-]{1,20}".prop_filter("non-blank", |s| !s.trim().is_empty())
}

prop_compose! {
    fn arbitrary_request()(
        method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        segments in prop::collection::vec("[a-zA-Z0-9_~%.-]{1,8}", 0..4),
        query in prop::collection::vec(("[a-zA-Z0-9_]{1,6}", "[a-zA-Z0-9_%]{0,6}"), 0..4),
        headers in prop::collection::vec(("x-h[a-z]{1,6}", header_value()), 0..4),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) -> OwnedRequest {
        let path = format!("/{}", segments.join("/"));
        let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut hs: Vec<(&str, &str)> = vec![("Host", "localhost:2000")];
        hs.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        OwnedRequest::new(method, &path, &query, &hs, &body)
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Method,
    Path,
    Query,
    HeaderValue(usize),
    Body(usize),
    Signature(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Method),
        Just(Mutation::Path),
        Just(Mutation::Query),
        any::<usize>().prop_map(Mutation::HeaderValue),
        any::<usize>().prop_map(Mutation::Body),
        (0usize..64).prop_map(Mutation::Signature),
    ]
}

fn apply(req: &mut OwnedRequest, m: &Mutation) {
    match m {
        Mutation::Method => {
            req.method = if req.method == "GET" {
                "POST".into()
            } else {
                "GET".into()
            }
        }
        Mutation::Path => req.path.push('x'),
        Mutation::Query => {
            req.query = if req.query.is_empty() {
                "zz=1".into()
            } else {
                format!("{}&zz=1", req.query)
            }
        }
        Mutation::HeaderValue(i) => {
            // Any signed header but Authorization (x-amz-date is covered: it is signed).
            let signed: Vec<usize> = (0..req.headers.len())
                .filter(|&j| !req.headers[j].0.eq_ignore_ascii_case(b"authorization"))
                .collect();
            let j = signed[i % signed.len()];
            req.headers[j].1.push(b'x');
        }
        Mutation::Body(i) => {
            if req.body.is_empty() {
                req.body.push(0);
            } else {
                let n = req.body.len();
                req.body[i % n] ^= 1;
            }
        }
        Mutation::Signature(i) => {
            let j = req
                .headers
                .iter()
                .position(|(n, _)| n == b"Authorization")
                .unwrap();
            let v = &mut req.headers[j].1;
            let at = v.len() - 64 + i;
            v[at] = if v[at] == b'0' { b'1' } else { b'0' };
        }
    }
}

proptest! {
    #[test]
    fn signed_requests_verify_and_any_mutation_fails(mut req in arbitrary_request(), m in mutation()) {
        signer().sign(&mut req);
        prop_assert!(check(&req, now()).is_ok(), "{:?}", check(&req, now()));
        apply(&mut req, &m);
        prop_assert!(check(&req, now()).is_err(), "mutation {:?} still verified", m);
    }

    #[test]
    fn arbitrary_authorization_headers_never_panic(
        raw in prop::collection::vec(any::<u8>(), 0..300),
        shaped in "AWS4-HMAC-SHA256( Credential=[A-Za-z0-9/_-]{0,60})?(, ?SignedHeaders=[a-z;-]{0,30})?(, ?Signature=[0-9a-fz]{0,70})?[ ,=]{0,3}",
        query in "[A-Za-z0-9=&%-]{0,80}",
        date in "[0-9TZ]{0,18}",
    ) {
        let creds = Credentials::single(AKID, SECRET);
        for auth in [raw.clone(), shaped.into_bytes()] {
            let headers: Vec<(&[u8], &[u8])> = vec![
                (b"Host", b"h"),
                (b"X-Amz-Date", date.as_bytes()),
                (b"Authorization", &auth),
            ];
            let req = Request { method: "POST", path: "/", query: &query, headers: &headers, payload: Payload::Bytes(b"") };
            for credentials in [None, Some(&creds)] {
                let policy = Policy { credentials, services: &["xray"], region: None };
                let _ = sigv4::verify(&req, &policy, now());
            }
        }
        // And the presigned path with arbitrary query strings.
        let headers: Vec<(&[u8], &[u8])> = vec![(b"Host", b"h")];
        let q = format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&{query}");
        let req = Request { method: "GET", path: "/", query: &q, headers: &headers, payload: Payload::Bytes(b"") };
        let policy = Policy { credentials: Some(&creds), services: &["xray"], region: None };
        let _ = sigv4::verify(&req, &policy, now());
    }
}
