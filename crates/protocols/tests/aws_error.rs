//! Every AWS error kind rendered for X-Ray (restJson1) and CloudWatch Logs (awsJson1_1):
//! code, status, headers and body, as a table.
#![allow(clippy::unwrap_used)]

use waggle_protocols::aws::error::{
    AwsError, ErrorKind, Service, INTERNAL_FAILURE_MESSAGE, SERVICE_UNAVAILABLE_MESSAGE,
};
use waggle_protocols::aws::RequestId;

use ErrorKind as K;

/// (kind, X-Ray code, X-Ray status, Logs code, Logs status).
const TABLE: &[(ErrorKind, &str, u16, &str, u16)] = &[
    (
        K::Validation,
        "InvalidRequestException",
        400,
        "ValidationException",
        400,
    ),
    (
        K::InvalidParameter,
        "InvalidRequestException",
        400,
        "InvalidParameterException",
        400,
    ),
    (
        K::ResourceNotFound,
        "ResourceNotFoundException",
        404,
        "ResourceNotFoundException",
        400,
    ),
    (
        K::ResourceAlreadyExists,
        "InvalidRequestException",
        400,
        "ResourceAlreadyExistsException",
        400,
    ),
    (
        K::LimitExceeded,
        "RuleLimitExceededException",
        400,
        "LimitExceededException",
        400,
    ),
    (
        K::TooManyTags,
        "TooManyTagsException",
        400,
        "TooManyTagsException",
        400,
    ),
    (
        K::Throttling,
        "ThrottledException",
        429,
        "ThrottlingException",
        400,
    ),
    (
        K::DataAlreadyAccepted,
        "InvalidRequestException",
        400,
        "DataAlreadyAcceptedException",
        400,
    ),
    (
        K::InvalidSequenceToken,
        "InvalidRequestException",
        400,
        "InvalidSequenceTokenException",
        400,
    ),
    (
        K::OperationAborted,
        "InvalidRequestException",
        400,
        "OperationAbortedException",
        400,
    ),
    (
        K::MalformedQuery,
        "InvalidRequestException",
        400,
        "MalformedQueryException",
        400,
    ),
    (
        K::Serialization,
        "SerializationException",
        400,
        "SerializationException",
        400,
    ),
    (
        K::PayloadTooLarge,
        "RequestEntityTooLargeException",
        413,
        "RequestEntityTooLargeException",
        413,
    ),
    (
        K::AccessDenied,
        "AccessDeniedException",
        400,
        "AccessDeniedException",
        400,
    ),
    (
        K::MissingAuthentication,
        "MissingAuthenticationTokenException",
        403,
        "MissingAuthenticationTokenException",
        403,
    ),
    (
        K::IncompleteSignature,
        "IncompleteSignatureException",
        400,
        "IncompleteSignatureException",
        400,
    ),
    (
        K::UnrecognizedClient,
        "UnrecognizedClientException",
        403,
        "UnrecognizedClientException",
        400,
    ),
    (
        K::InvalidSignature,
        "InvalidSignatureException",
        403,
        "InvalidSignatureException",
        400,
    ),
    (
        K::UnknownOperation,
        "UnknownOperationException",
        404,
        "UnknownOperationException",
        400,
    ),
    (
        K::ServiceUnavailable,
        "ServiceUnavailableException",
        503,
        "ServiceUnavailableException",
        503,
    ),
    (
        K::InternalFailure,
        "InternalFailure",
        500,
        "InternalFailure",
        500,
    ),
];

fn request_id() -> RequestId {
    RequestId::from_random_bytes([0xab; 16])
}

#[test]
fn table_covers_every_kind() {
    for kind in ErrorKind::ALL {
        assert!(
            TABLE.iter().any(|row| row.0 == kind),
            "{kind:?} missing from the table"
        );
    }
    assert_eq!(TABLE.len(), ErrorKind::ALL.len());
}

#[test]
fn every_kind_renders_for_xray_as_rest_json1() {
    for &(kind, code, status, _, _) in TABLE {
        let r =
            AwsError::new(kind, "Something about the input").render(Service::XRay, &request_id());
        assert_eq!(r.status, status, "{kind:?}");
        assert_eq!(r.header("x-amzn-ErrorType"), Some(code), "{kind:?}");
        assert_eq!(
            r.header("Content-Type"),
            Some("application/json"),
            "{kind:?}"
        );
        assert_eq!(
            r.header("x-amzn-RequestId"),
            Some("abababab-abab-4bab-abab-abababababab")
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let message = if kind.is_fault() {
            fixed_message(kind)
        } else {
            "Something about the input"
        };
        assert_eq!(
            body,
            serde_json::json!({"__type": code, "message": message}),
            "{kind:?}"
        );
        assert_eq!(r.headers.len(), 3);
    }
}

#[test]
fn every_kind_renders_for_logs_as_aws_json1_1() {
    for &(kind, _, _, code, status) in TABLE {
        let r = AwsError::new(kind, "Something about the input")
            .render(Service::CloudWatchLogs, &request_id());
        assert_eq!(r.status, status, "{kind:?}");
        assert_eq!(r.header("x-amzn-ErrorType"), None, "{kind:?}");
        assert_eq!(
            r.header("Content-Type"),
            Some("application/x-amz-json-1.1"),
            "{kind:?}"
        );
        assert_eq!(
            r.header("x-amzn-RequestId"),
            Some("abababab-abab-4bab-abab-abababababab")
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let message = if kind.is_fault() {
            fixed_message(kind)
        } else {
            "Something about the input"
        };
        assert_eq!(
            body,
            serde_json::json!({"__type": code, "message": message}),
            "{kind:?}"
        );
        assert_eq!(r.headers.len(), 2);
    }
}

fn fixed_message(kind: ErrorKind) -> &'static str {
    match kind {
        K::InternalFailure => INTERNAL_FAILURE_MESSAGE,
        K::ServiceUnavailable => SERVICE_UNAVAILABLE_MESSAGE,
        _ => unreachable!(),
    }
}

#[test]
fn faults_never_show_internal_text() {
    let secret = "duckdb: IO Error: /var/lib/waggle/waggle.duckdb: disk full";
    for kind in [K::InternalFailure, K::ServiceUnavailable] {
        for service in [Service::XRay, Service::CloudWatchLogs] {
            let r = AwsError::new(kind, secret).render(service, &request_id());
            assert!(!String::from_utf8_lossy(&r.body).contains("duckdb"));
        }
    }
}

#[test]
fn messages_are_json_escaped() {
    let r = AwsError::new(K::InvalidParameter, "Value '\"x\n' at 'logGroupName'")
        .render(Service::CloudWatchLogs, &request_id());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["message"], "Value '\"x\n' at 'logGroupName'");
}

#[test]
fn invalid_token_maps_to_each_services_parameter_error() {
    let e = AwsError::invalid_token();
    assert_eq!(e.kind.code(Service::XRay), "InvalidRequestException");
    assert_eq!(
        e.kind.code(Service::CloudWatchLogs),
        "InvalidParameterException"
    );
    assert_eq!(e.message(), "The nextToken is invalid.");
}

#[test]
fn request_ids_are_uuid_v4_and_distinct() {
    let ids: Vec<String> = (0..1000).map(|_| RequestId::new().to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    for id in &ids {
        let b = id.as_bytes();
        assert_eq!(id.len(), 36);
        assert_eq!([b[8], b[13], b[18], b[23]], [b'-'; 4]);
        assert_eq!(b[14], b'4', "{id}");
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{id}");
        assert!(id
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    }
}

#[test]
fn signing_names() {
    assert_eq!(Service::XRay.signing_name(), "xray");
    assert_eq!(Service::CloudWatchLogs.signing_name(), "logs");
}
