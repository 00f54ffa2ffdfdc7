//! One internal error kind for every AWS service Waggle serves, rendered once per protocol into
//! the service's own answer: code string, HTTP status, headers and JSON body (Quickwit's shape:
//! one enum, one renderer per protocol). The server crate turns an [`ErrorResponse`] into an
//! HTTP response in one place.
//!
//! Sources: X-Ray codes and statuses from botocore `xray/2016-04-12/service-2.json`
//! (`error.httpStatusCode`, absent = 400); Logs codes from `logs/2014-03-28/service-2.json`
//! (all 400, `ServiceUnavailableException` a 5xx fault); auth codes from AWS's "Common Errors"
//! pages (MissingAuthenticationToken 403, IncompleteSignature 400, InvalidClientTokenId 403,
//! InternalFailure 500, ServiceUnavailable 503). Wire shape: shared protocol notes §B (restJson1:
//! `x-amzn-ErrorType` header + `{"__type","message"}` body + `x-amzn-RequestId`) and §C
//! (awsJson1_1: `{"__type","message"}`, `Content-Type: application/x-amz-json-1.1`).

use std::borrow::Cow;

use super::request_id::RequestId;
use super::sigv4::SigV4Error;
use super::target::JSON_1_1_CONTENT_TYPE;

/// The AWS wire protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// X-Ray: path-routed JSON, error code in `x-amzn-ErrorType`.
    RestJson1,
    /// CloudWatch Logs: `X-Amz-Target`-routed JSON, error code in `__type`.
    AwsJson1_1,
}

/// A service Waggle answers for; decides the code strings and statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    XRay,
    CloudWatchLogs,
}

impl Service {
    pub fn protocol(self) -> Protocol {
        match self {
            Service::XRay => Protocol::RestJson1,
            Service::CloudWatchLogs => Protocol::AwsJson1_1,
        }
    }

    /// The SigV4 signing name in credential scopes (`endpointPrefix`).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::XRay => "xray",
            Service::CloudWatchLogs => "logs",
        }
    }
}

/// What went wrong, independent of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Input violates the model's constraints (Logs `ValidationException`).
    Validation,
    /// A parameter value is wrong, including an invalid pagination token.
    InvalidParameter,
    ResourceNotFound,
    ResourceAlreadyExists,
    LimitExceeded,
    TooManyTags,
    Throttling,
    /// Logs `DataAlreadyAcceptedException` (kept for completeness; AWS no longer sends it).
    DataAlreadyAccepted,
    /// Logs `InvalidSequenceTokenException` (likewise).
    InvalidSequenceToken,
    OperationAborted,
    MalformedQuery,
    /// The body is not the JSON the operation expects.
    Serialization,
    /// The body exceeds our cap.
    PayloadTooLarge,
    AccessDenied,
    MissingAuthentication,
    IncompleteSignature,
    UnrecognizedClient,
    InvalidSignature,
    UnknownOperation,
    ServiceUnavailable,
    InternalFailure,
}

impl ErrorKind {
    /// Every kind, for tables and tests.
    pub const ALL: [ErrorKind; 21] = [
        ErrorKind::Validation,
        ErrorKind::InvalidParameter,
        ErrorKind::ResourceNotFound,
        ErrorKind::ResourceAlreadyExists,
        ErrorKind::LimitExceeded,
        ErrorKind::TooManyTags,
        ErrorKind::Throttling,
        ErrorKind::DataAlreadyAccepted,
        ErrorKind::InvalidSequenceToken,
        ErrorKind::OperationAborted,
        ErrorKind::MalformedQuery,
        ErrorKind::Serialization,
        ErrorKind::PayloadTooLarge,
        ErrorKind::AccessDenied,
        ErrorKind::MissingAuthentication,
        ErrorKind::IncompleteSignature,
        ErrorKind::UnrecognizedClient,
        ErrorKind::InvalidSignature,
        ErrorKind::UnknownOperation,
        ErrorKind::ServiceUnavailable,
        ErrorKind::InternalFailure,
    ];

    /// A server-side fault (5xx): the message is fixed, never the caller's text.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            ErrorKind::ServiceUnavailable | ErrorKind::InternalFailure
        )
    }

    /// The AWS error code string (`__type`, `x-amzn-ErrorType`).
    pub fn code(self, service: Service) -> &'static str {
        use ErrorKind as K;
        match (service, self) {
            (Service::XRay, K::Validation | K::InvalidParameter | K::ResourceAlreadyExists) => {
                "InvalidRequestException"
            }
            (Service::XRay, K::LimitExceeded) => "RuleLimitExceededException",
            (Service::XRay, K::Throttling) => "ThrottledException",
            // X-Ray models neither; its closest modeled answer is InvalidRequestException.
            (
                Service::XRay,
                K::DataAlreadyAccepted
                | K::InvalidSequenceToken
                | K::OperationAborted
                | K::MalformedQuery,
            ) => "InvalidRequestException",
            (Service::CloudWatchLogs, K::Validation) => "ValidationException",
            (Service::CloudWatchLogs, K::InvalidParameter) => "InvalidParameterException",
            (Service::CloudWatchLogs, K::ResourceAlreadyExists) => "ResourceAlreadyExistsException",
            (Service::CloudWatchLogs, K::LimitExceeded) => "LimitExceededException",
            (Service::CloudWatchLogs, K::Throttling) => "ThrottlingException",
            (Service::CloudWatchLogs, K::DataAlreadyAccepted) => "DataAlreadyAcceptedException",
            (Service::CloudWatchLogs, K::InvalidSequenceToken) => "InvalidSequenceTokenException",
            (Service::CloudWatchLogs, K::OperationAborted) => "OperationAbortedException",
            (Service::CloudWatchLogs, K::MalformedQuery) => "MalformedQueryException",
            (_, K::ResourceNotFound) => "ResourceNotFoundException",
            (_, K::TooManyTags) => "TooManyTagsException",
            (_, K::Serialization) => "SerializationException",
            (_, K::PayloadTooLarge) => "RequestEntityTooLargeException",
            (_, K::AccessDenied) => "AccessDeniedException",
            (_, K::MissingAuthentication) => "MissingAuthenticationTokenException",
            (_, K::IncompleteSignature) => "IncompleteSignatureException",
            (_, K::UnrecognizedClient) => "UnrecognizedClientException",
            (_, K::InvalidSignature) => "InvalidSignatureException",
            (_, K::UnknownOperation) => "UnknownOperationException",
            (_, K::ServiceUnavailable) => "ServiceUnavailableException",
            (_, K::InternalFailure) => "InternalFailure",
        }
    }

    /// The HTTP status AWS uses for this kind on this service.
    pub fn status(self, service: Service) -> u16 {
        use ErrorKind as K;
        match (service, self) {
            (Service::XRay, K::ResourceNotFound) => 404,
            (Service::XRay, K::Throttling) => 429,
            // restJson1 services answer an unknown path like API Gateway does.
            (Service::XRay, K::UnknownOperation) => 404,
            // awsJson1_1 services model these without a status: 400 (Logs model,
            // DynamoDB-style JSON services); restJson1 answers them 403 like the common errors.
            (Service::XRay, K::UnrecognizedClient | K::InvalidSignature) => 403,
            (_, K::MissingAuthentication) => 403,
            (_, K::PayloadTooLarge) => 413,
            (_, K::ServiceUnavailable) => 503,
            (_, K::InternalFailure) => 500,
            _ => 400,
        }
    }
}

/// A service error: a kind and the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct AwsError {
    pub kind: ErrorKind,
    message: Cow<'static, str>,
}

/// Fixed texts for faults: internal error text never reaches a client.
pub const INTERNAL_FAILURE_MESSAGE: &str =
    "The request processing has failed because of an unknown error, exception or failure.";
pub const SERVICE_UNAVAILABLE_MESSAGE: &str = "The service is unavailable. Please try again later.";
/// Message for a pagination token we did not issue or that was altered.
pub const INVALID_TOKEN_MESSAGE: &str = "The nextToken is invalid.";

impl AwsError {
    /// `message` is shown to the client; for faults (5xx) it is replaced by a fixed text.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        AwsError {
            kind,
            message: message.into(),
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorKind::InternalFailure, INTERNAL_FAILURE_MESSAGE)
    }

    pub fn unavailable() -> Self {
        Self::new(ErrorKind::ServiceUnavailable, SERVICE_UNAVAILABLE_MESSAGE)
    }

    pub fn invalid_token() -> Self {
        Self::new(ErrorKind::InvalidParameter, INVALID_TOKEN_MESSAGE)
    }

    /// The message as the client will see it.
    pub fn message(&self) -> &str {
        match self.kind {
            ErrorKind::InternalFailure => INTERNAL_FAILURE_MESSAGE,
            ErrorKind::ServiceUnavailable => SERVICE_UNAVAILABLE_MESSAGE,
            _ => &self.message,
        }
    }

    /// Render for `service` with the request's id.
    pub fn render(&self, service: Service, request_id: &RequestId) -> ErrorResponse {
        let code = self.kind.code(service);
        let body = serde_json::json!({ "__type": code, "message": self.message() });
        let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut headers = vec![
            (
                "Content-Type",
                match service.protocol() {
                    Protocol::RestJson1 => "application/json".to_owned(),
                    Protocol::AwsJson1_1 => JSON_1_1_CONTENT_TYPE.to_owned(),
                },
            ),
            (REQUEST_ID_HEADER, request_id.to_string()),
        ];
        if service.protocol() == Protocol::RestJson1 {
            headers.push((ERROR_TYPE_HEADER, code.to_owned()));
        }
        ErrorResponse {
            status: self.kind.status(service),
            headers,
            body,
        }
    }
}

/// Request id header every AWS JSON service sends (botocore reads `x-amzn-requestid`).
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// restJson1 error code header (botocore `RestJSONParser._inject_error_code`).
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

/// A protocol-neutral HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl ErrorResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl From<&SigV4Error> for ErrorKind {
    fn from(e: &SigV4Error) -> Self {
        match e {
            SigV4Error::Missing => ErrorKind::MissingAuthentication,
            SigV4Error::Incomplete(_) => ErrorKind::IncompleteSignature,
            SigV4Error::UnknownAccessKey => ErrorKind::UnrecognizedClient,
            SigV4Error::Mismatch
            | SigV4Error::Expired { .. }
            | SigV4Error::NotYetCurrent { .. }
            | SigV4Error::PresignedExpired
            | SigV4Error::WrongService { .. }
            | SigV4Error::WrongRegion
            | SigV4Error::WrongTerminator(_)
            | SigV4Error::DateMismatch { .. }
            | SigV4Error::ContentSha256Mismatch => ErrorKind::InvalidSignature,
        }
    }
}

impl From<SigV4Error> for AwsError {
    fn from(e: SigV4Error) -> Self {
        AwsError::new(ErrorKind::from(&e), e.to_string())
    }
}
