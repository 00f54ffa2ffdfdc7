//! `X-Amz-Target` parsing, the awsJson1_1 content-type check, and credential configuration.
#![allow(clippy::unwrap_used)]

use waggle_protocols::aws::credentials::{Credentials, CredentialsError};
use waggle_protocols::aws::target::{self, Target, TargetError, LOGS_TARGET_PREFIX};

#[test]
fn targets() {
    assert_eq!(
        target::parse_target(b"Logs_20140328.PutLogEvents"),
        Ok(Target {
            prefix: "Logs_20140328",
            operation: "PutLogEvents"
        })
    );
    assert_eq!(
        target::operation_for(Some(b"Logs_20140328.DescribeLogGroups"), LOGS_TARGET_PREFIX),
        Ok("DescribeLogGroups")
    );
    assert_eq!(
        target::operation_for(None, LOGS_TARGET_PREFIX),
        Err(TargetError::Missing)
    );
    assert_eq!(
        target::operation_for(Some(b"DynamoDB_20120810.GetItem"), LOGS_TARGET_PREFIX),
        Err(TargetError::WrongPrefix)
    );
    for bad in [
        &b""[..],
        b"Logs_20140328",
        b"Logs_20140328.",
        b".PutLogEvents",
        b"Logs_20140328.Put-LogEvents",
        b"Logs_20140328.PutLogEvents\xff",
        &[b'A'; 300],
    ] {
        assert_eq!(
            target::parse_target(bad),
            Err(TargetError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn json_1_1_content_type() {
    assert!(target::is_json_1_1(b"application/x-amz-json-1.1"));
    assert!(target::is_json_1_1(
        b"Application/X-Amz-Json-1.1; charset=utf-8"
    ));
    assert!(!target::is_json_1_1(b"application/x-amz-json-1.0"));
    assert!(!target::is_json_1_1(b"application/json"));
    assert!(!target::is_json_1_1(b"\xff"));
}

#[test]
fn credentials_parse() {
    let c = Credentials::parse(" AKID1:secret/one , AKID2 : s+2 ").unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c.secret("AKID1").unwrap().expose(), "secret/one");
    assert_eq!(c.secret("AKID2").unwrap().expose(), "s+2");
    assert!(c.secret("AKID3").is_none());
    // Secrets may contain ':' after the first one.
    assert_eq!(
        Credentials::parse("A:b:c")
            .unwrap()
            .secret("A")
            .unwrap()
            .expose(),
        "b:c"
    );
    assert_eq!("A:b".parse::<Credentials>().unwrap().len(), 1);
}

#[test]
fn credentials_reject_empty_parts() {
    use CredentialsError as E;
    for (spec, want) in [
        ("", E::EmptyEntry { index: 1 }),
        ("A:b,", E::EmptyEntry { index: 2 }),
        ("A:b,,C:d", E::EmptyEntry { index: 2 }),
        ("Ab", E::MissingColon { index: 1 }),
        (":b", E::EmptyAccessKeyId { index: 1 }),
        ("A: ", E::EmptySecret { index: 1 }),
        ("A-B:c", E::BadAccessKeyId { index: 1 }),
        (
            "A:b,A:c",
            E::Duplicate {
                access_key_id: "A".into(),
            },
        ),
    ] {
        assert_eq!(Credentials::parse(spec), Err(want), "{spec:?}");
    }
}

#[test]
fn debug_never_prints_secrets() {
    let c = Credentials::parse("AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .unwrap();
    let shown = format!(
        "{c:?} {:#?} {:?}",
        c,
        c.secret("AKIAIOSFODNN7EXAMPLE").unwrap()
    );
    assert!(!shown.contains("wJalr"), "{shown}");
    assert!(shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
    // Errors never carry the secret either.
    let err = Credentials::parse("A:topsecret,A:topsecret").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("topsecret"));
}
