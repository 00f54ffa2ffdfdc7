//! AWS request edge for the X-Ray and CloudWatch Logs routers: one middleware ([`sigv4_layer`])
//! buffers the body (bounded), verifies SigV4 with `protocols::aws::sigv4`, and hands the
//! handlers an [`AwsRequest`]; an `AwsError` becomes an HTTP response in one place
//! ([`into_response`]). A new AWS service mounts its router under the same layer.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocols::aws::sigv4::{self, Identity, Payload, Policy, Request, SigV4Error};
use protocols::aws::{AwsError, Credentials, ErrorKind, ErrorResponse, RequestId, Service};

/// Largest AWS request body we buffer. Our choice: PutLogEvents batches are ≤ 1,048,576
/// message bytes + 26 per event (Logs API reference); JSON escaping can grow control
/// characters sixfold (`\u00XX`), so 8 MiB covers the worst valid batch.
pub const AWS_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// SigV4 settings shared by every AWS router.
#[derive(Debug, Clone, Default)]
pub struct AwsAuth {
    /// `None`: accept any well-formed signature (loopback default).
    pub credentials: Option<Arc<Credentials>>,
    /// Required scope region; `None` accepts any.
    pub region: Option<String>,
}

/// A request that passed the edge.
#[derive(Debug)]
pub struct Verified {
    /// `None` for an unsigned request that was allowed (X-Ray SDK sampling calls).
    pub identity: Option<Identity>,
    pub request_id: RequestId,
    pub body: Bytes,
}

/// An AWS error answer, rendered for `service`.
#[derive(Debug)]
pub struct AwsRejection {
    pub service: Service,
    pub request_id: RequestId,
    pub error: AwsError,
}

impl IntoResponse for AwsRejection {
    fn into_response(self) -> Response {
        into_response(self.error.render(self.service, &self.request_id))
    }
}

/// The one place an `ErrorResponse` becomes an HTTP response.
pub fn into_response(r: ErrorResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, r.body).into_response();
    for (name, value) in r.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(lowercase(name)), value);
        }
    }
    response
}

fn lowercase(name: &'static str) -> &'static str {
    // HeaderName::from_static needs lower case; our header names are fixed constants.
    match name {
        "Content-Type" => "content-type",
        "x-amzn-RequestId" => "x-amzn-requestid",
        "x-amzn-ErrorType" => "x-amzn-errortype",
        other => other,
    }
}

/// Buffer and verify. `allow_unsigned` lets a request with no signature at all through (the
/// X-Ray SDK's `GetSamplingRules`/`SamplingTargets` are unsigned, protocol notes §G.1); a
/// present but bad signature is still refused.
pub async fn verify_request(
    service: Service,
    auth: &AwsAuth,
    parts: &Parts,
    body: Body,
    allow_unsigned: bool,
) -> Result<Verified, AwsRejection> {
    let request_id = RequestId::new();
    let reject = |error: AwsError| AwsRejection {
        service,
        request_id,
        error,
    };
    let body = axum::body::to_bytes(body, AWS_BODY_BYTES_MAX)
        .await
        .map_err(|_| {
            reject(AwsError::new(
                ErrorKind::PayloadTooLarge,
                "Request body is too large.",
            ))
        })?;
    let headers: Vec<(&[u8], &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
        .collect();
    let req = Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload: Payload::Bytes(&body),
    };
    let services = [service.signing_name()];
    let policy = Policy {
        credentials: auth.credentials.as_deref(),
        services: &services,
        region: auth.region.as_deref(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let identity = match sigv4::verify(&req, &policy, now) {
        Ok(id) => Some(id),
        Err(SigV4Error::Missing) if allow_unsigned => None,
        Err(e) => {
            tracing::debug!(reason = %e, "aws: signature refused");
            return Err(reject(AwsError::from(e)));
        }
    };
    Ok(Verified {
        identity,
        request_id,
        body,
    })
}

/// What the edge tells a handler: who signed (if anyone), for which region, and the
/// request id every answer carries.
#[derive(Debug, Clone)]
pub struct AwsRequest {
    pub identity: Option<Identity>,
    pub request_id: RequestId,
    /// The credential scope's region, or the configured default.
    pub region: String,
}

/// How one router's requests are checked.
#[derive(Debug, Clone)]
pub struct AwsEdge {
    pub service: Service,
    pub auth: AwsAuth,
    /// Region when a request carries no signature.
    pub default_region: String,
    /// Paths served without a signature even when credentials are configured (the X-Ray
    /// SDK's sampling calls arrive unsigned, protocol notes §G.1).
    pub unsigned_paths: &'static [&'static str],
}

/// The middleware: verify, then pass the buffered body and an [`AwsRequest`] on.
pub async fn sigv4_layer(
    axum::extract::State(edge): axum::extract::State<Arc<AwsEdge>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    // Unsigned requests are served only in local mode (no credentials configured), on
    // the paths that the official SDKs call unsigned, and through the UI gateway, which
    // checked the UI credential (`crate::ui`).
    let allow_unsigned = edge.auth.credentials.is_none()
        || edge.unsigned_paths.contains(&parts.uri.path())
        || crate::ui::trusted(&parts.extensions);
    match verify_request(edge.service, &edge.auth, &parts, body, allow_unsigned).await {
        Ok(v) => {
            let region = v
                .identity
                .as_ref()
                .map(|i| i.region.clone())
                .unwrap_or_else(|| edge.default_region.clone());
            parts.extensions.insert(AwsRequest {
                identity: v.identity,
                request_id: v.request_id,
                region,
            });
            next.run(axum::extract::Request::from_parts(
                parts,
                Body::from(v.body),
            ))
            .await
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// Puts an AWS service's router (already behind [`sigv4_layer`]) under the edge's shared
/// bounds: a declared body over [`AWS_BODY_BYTES_MAX`] is refused before it is read, and the
/// request timeout applies. Refusals are the service's own AWS errors.
pub(crate) fn bounded(
    router: axum::Router<crate::AppState>,
    service: Service,
    limits: &crate::edge::Limits,
) -> axum::Router<crate::AppState> {
    let render: crate::edge::Render = match service {
        Service::XRay => refuse_xray,
        Service::CloudWatchLogs => refuse_logs,
    };
    let router = crate::edge::limit_body(router, AWS_BODY_BYTES_MAX, render);
    crate::edge::time_out(router, limits.request_timeout, render)
}

fn refuse_xray(_: &axum::http::HeaderMap, refusal: &crate::edge::Refusal) -> Response {
    refuse(Service::XRay, refusal)
}

fn refuse_logs(_: &axum::http::HeaderMap, refusal: &crate::edge::Refusal) -> Response {
    refuse(Service::CloudWatchLogs, refusal)
}

/// The edge's refusals as AWS errors (a timeout or a spent budget is `ServiceUnavailable`,
/// which the AWS SDKs retry).
fn refuse(service: Service, refusal: &crate::edge::Refusal) -> Response {
    use crate::edge::Refusal;
    let kind = match refusal {
        Refusal::Unauthenticated => ErrorKind::MissingAuthentication,
        Refusal::TooLarge { .. } => ErrorKind::PayloadTooLarge,
        Refusal::Unreadable | Refusal::Encoding(_) | Refusal::Corrupt(_) => {
            ErrorKind::Serialization
        }
        Refusal::Busy | Refusal::Timeout => ErrorKind::ServiceUnavailable,
        Refusal::Internal => ErrorKind::InternalFailure,
    };
    into_response(AwsError::new(kind, refusal.message()).render(service, &RequestId::new()))
}

/// An AWS JSON request body as the operation's input shape: empty (or blank) is the empty
/// input, as the SDKs send for operations without members; bad JSON is `kind` (X-Ray answers
/// it as an invalid request, CloudWatch Logs as a `SerializationException`).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    kind: ErrorKind,
) -> Result<T, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            kind,
            format!("The request body is not valid JSON for this operation: {e}"),
        )
    })
}

/// An operation's output shape as the JSON answer.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, AwsError> {
    serde_json::to_value(v).map_err(|_| AwsError::internal())
}
