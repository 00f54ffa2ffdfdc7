//! AWS Signature Version 4: verify a request's signature (the `Authorization` header form and
//! the presigned query-string form) and expose the signing steps (canonical request, string to
//! sign, signing key, signature) so tests can sign.
//!
//! Rules: AWS "Create a signed AWS API request"
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) and botocore
//! `auth.py` `SigV4Auth` (what boto3, the aws CLI and watchtower send). Non-S3 rules only: the
//! path is normalized (dot segments and empty segments removed) and then every byte outside
//! the unreserved set is percent-encoded once more, so a `%` on the wire becomes `%25`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::credentials::Credentials;

/// The only algorithm SigV4 defines for HMAC signing (AWS docs; botocore `SigV4Auth`).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every credential scope (AWS docs).
pub const TERMINATOR: &str = "aws4_request";
/// Allowed distance between the signing time and our clock: AWS answers
/// "Signature expired: … (… - 5 min.)" beyond five minutes.
pub const CLOCK_SKEW_SECS_MAX: i64 = 5 * 60;
/// Longest `Authorization` header we parse. Our choice: botocore's header for a signed
/// session-token request is about 300 bytes; 8 KiB is the common HTTP server header cap.
pub const AUTHORIZATION_BYTES_MAX: usize = 8 * 1024;
/// Most names in `SignedHeaders`. Our choice: botocore signs 3–5 for logs/xray; 64 is far above
/// any client and keeps the canonical request bounded.
pub const SIGNED_HEADERS_MAX: usize = 64;
/// Most query parameters we canonicalize. Our choice: X-Ray and Logs send none; a presigned
/// URL carries 7 of its own.
pub const QUERY_PARAMS_MAX: usize = 128;
/// Longest presigned lifetime, `X-Amz-Expires` (AWS: "must be less than a week … 604800").
pub const PRESIGNED_EXPIRES_SECS_MAX: i64 = 7 * 24 * 60 * 60;
/// `x-amz-content-sha256` value meaning "body not signed" (AWS docs, botocore `UNSIGNED_PAYLOAD`).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = Hmac<Sha256>;

/// The body as the verifier sees it: the bytes, or their SHA-256 when the caller hashed while
/// buffering.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
}

impl Payload<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Payload::Bytes(b) => sha256(b),
            Payload::Sha256(h) => *h,
        }
    }
}

/// A request as it arrived on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case method, e.g. `POST`.
    pub method: &'a str,
    /// The raw (still percent-encoded) path, e.g. `/TraceSegments`.
    pub path: &'a str,
    /// The raw query string without `?` (empty when absent).
    pub query: &'a str,
    /// Every header, names in any case, in arrival order (repeated names allowed).
    pub headers: &'a [(&'a [u8], &'a [u8])],
    pub payload: Payload<'a>,
}

impl<'a> Request<'a> {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }
}

/// What a verifier accepts.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// `None`: no keys configured (the loopback default) — any well-formed signature is
    /// accepted, its secret and clock are not checked. `Some`: the access key must be listed
    /// and the signature must match its secret.
    pub credentials: Option<&'a Credentials>,
    /// Signing names accepted in the scope, e.g. `["xray"]` or `["logs"]`.
    pub services: &'a [&'a str],
    /// Region required in the scope; `None` accepts any (clients pick their own region).
    pub region: Option<&'a str>,
}

/// Who signed, once verification succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    /// Scope date, `yyyymmdd`.
    pub date: String,
    /// Signing time, Unix seconds (from `X-Amz-Date`).
    pub signed_at_unix_secs: i64,
    /// A session token was sent (temporary credentials); its value is not checked.
    pub session_token: bool,
    /// The signature was checked against a configured secret (`Policy::credentials` was set).
    pub secret_checked: bool,
}

/// Why a signature was refused. `Display` is the message AWS sends for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header or query form is malformed; the text is AWS's message.
    #[error("{0}")]
    Incomplete(String),
    /// The access key id is not configured.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service \
         documentation for details."
    )]
    Mismatch,
    #[error("Signature expired: {signed} is now earlier than {limit} ({now} - 5 min.)")]
    Expired {
        signed: String,
        limit: String,
        now: String,
    },
    #[error("Signature not yet current: {signed} is still later than {limit} ({now} + 5 min.)")]
    NotYetCurrent {
        signed: String,
        limit: String,
        now: String,
    },
    /// Presigned URL past `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired.")]
    PresignedExpired,
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService { expected: String },
    #[error("Credential should be scoped to a valid region. ")]
    WrongRegion,
    #[error("Credential should be scoped with a valid terminator: 'aws4_request', not '{0}'.")]
    WrongTerminator(String),
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope}' != '{date}', from '{amz_date}'."
    )]
    DateMismatch {
        scope: String,
        date: String,
        amz_date: String,
    },
    /// `x-amz-content-sha256` names a hash the body does not have.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
}

/// The parsed signature fields, from either form.
struct Parsed<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    presigned_expires_secs: Option<i64>,
}

/// Verify `req` under `policy` at `now_unix_secs`.
pub fn verify(
    req: &Request<'_>,
    policy: &Policy<'_>,
    now_unix_secs: i64,
) -> Result<Identity, SigV4Error> {
    let presigned_query;
    let parsed = match req.header("authorization") {
        Some(value) => parse_authorization(value, req)?,
        None => {
            presigned_query = parse_query(req.query)?;
            if !presigned_query.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
                return Err(SigV4Error::Missing);
            }
            parse_presigned(&presigned_query)?
        }
    };
    let presigned = parsed.presigned_expires_secs.is_some();

    // Scope checks, in the order AWS reports them.
    if parsed.terminator != TERMINATOR {
        return Err(SigV4Error::WrongTerminator(parsed.terminator.to_owned()));
    }
    if !policy.services.contains(&parsed.service) {
        return Err(SigV4Error::WrongService {
            expected: policy.services.first().copied().unwrap_or("").to_owned(),
        });
    }
    if policy.region.is_some_and(|r| r != parsed.region) || parsed.region.is_empty() {
        return Err(SigV4Error::WrongRegion);
    }
    let signed_at = parse_amz_date(&parsed.amz_date).ok_or_else(|| {
        SigV4Error::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
            parsed.amz_date
        ))
    })?;
    if parsed.date != &parsed.amz_date[..8] {
        return Err(SigV4Error::DateMismatch {
            scope: parsed.date.to_owned(),
            date: parsed.amz_date[..8].to_owned(),
            amz_date: parsed.amz_date.clone(),
        });
    }
    if !parsed.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }

    let secret = match policy.credentials {
        None => None,
        Some(creds) => Some(
            creds
                .secret(parsed.access_key_id)
                .ok_or(SigV4Error::UnknownAccessKey)?,
        ),
    };
    let session_token =
        req.header("x-amz-security-token").is_some() || req.query.contains("X-Amz-Security-Token=");

    if let Some(secret) = secret {
        if let Some(expires) = parsed.presigned_expires_secs {
            if now_unix_secs > signed_at.saturating_add(expires) {
                return Err(SigV4Error::PresignedExpired);
            }
            if signed_at - now_unix_secs > CLOCK_SKEW_SECS_MAX {
                return Err(skew_error(signed_at, now_unix_secs));
            }
        } else if (signed_at - now_unix_secs).abs() > CLOCK_SKEW_SECS_MAX {
            return Err(skew_error(signed_at, now_unix_secs));
        }

        let payload_hash = payload_hash(req)?;
        let creq = canonical_request(req, &parsed.signed_headers, &payload_hash, presigned)?;
        let scope = format!(
            "{}/{}/{}/{}",
            parsed.date, parsed.region, parsed.service, TERMINATOR
        );
        let sts = string_to_sign(&parsed.amz_date, &scope, &creq);
        let key = signing_key(secret.expose(), parsed.date, parsed.region, parsed.service);
        let expected = signature(&key, &sts);
        let mut given = [0u8; 32];
        if hex::decode_to_slice(&parsed.signature, &mut given).is_err()
            || !bool::from(expected.ct_eq(&given))
        {
            return Err(SigV4Error::Mismatch);
        }
    } else if parsed.signature.len() != 64 || !parsed.signature.bytes().all(is_hex_digit) {
        // Unchecked mode still insists on a well-formed signature.
        return Err(SigV4Error::Mismatch);
    }

    Ok(Identity {
        access_key_id: parsed.access_key_id.to_owned(),
        region: parsed.region.to_owned(),
        service: parsed.service.to_owned(),
        date: parsed.date.to_owned(),
        signed_at_unix_secs: signed_at,
        session_token,
        secret_checked: secret.is_some(),
    })
}

fn is_hex_digit(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn skew_error(signed_at: i64, now: i64) -> SigV4Error {
    let signed = format_amz_date(signed_at);
    let now_s = format_amz_date(now);
    if signed_at < now {
        SigV4Error::Expired {
            signed,
            limit: format_amz_date(now - CLOCK_SKEW_SECS_MAX),
            now: now_s,
        }
    } else {
        SigV4Error::NotYetCurrent {
            signed,
            limit: format_amz_date(now + CLOCK_SKEW_SECS_MAX),
            now: now_s,
        }
    }
}

fn incomplete(msg: &str) -> SigV4Error {
    SigV4Error::Incomplete(msg.to_owned())
}

/// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn parse_authorization<'a>(value: &'a [u8], req: &Request<'_>) -> Result<Parsed<'a>, SigV4Error> {
    if value.len() > AUTHORIZATION_BYTES_MAX {
        return Err(incomplete("Authorization header is too long."));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| incomplete("Authorization header is not valid UTF-8."))?
        .trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(
            "Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted.",
        ));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or_else(|| {
            incomplete("Authorization header requires each component to be of the form key=value.")
        })?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(incomplete(
                    "Authorization header has an unknown component (allowed: Credential, \
                     SignedHeaders, Signature).",
                ))
            }
        };
        if slot.replace(v).is_some() {
            return Err(incomplete("Authorization header repeats a component."));
        }
    }
    let amz_date = req.header("x-amz-date");
    let mut missing = String::new();
    if credential.is_none() {
        missing.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if signature.is_none() {
        missing.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed_headers.is_none() {
        missing.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if amz_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
        (credential, signed_headers, signature, amz_date)
    else {
        return Err(SigV4Error::Incomplete(missing.trim_end().to_owned()));
    };
    let amz_date = std::str::from_utf8(amz_date)
        .map_err(|_| incomplete("X-Amz-Date is not valid UTF-8."))?
        .trim()
        .to_owned();
    parsed_from(
        credential,
        signed_headers,
        signature.to_owned(),
        amz_date,
        None,
    )
}

/// The presigned form: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature` in the query.
fn parse_presigned(query: &[(String, String)]) -> Result<Parsed<'_>, SigV4Error> {
    let get = |name: &str| -> Result<&str, SigV4Error> {
        let mut found = query.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            (None, _) => Err(SigV4Error::Incomplete(format!(
                "AWS query-string parameters must include '{name}'."
            ))),
            (Some(_), Some(_)) => Err(SigV4Error::Incomplete(format!(
                "AWS query-string parameter '{name}' is repeated."
            ))),
        }
    };
    if get("X-Amz-Algorithm")? != ALGORITHM {
        return Err(incomplete(
            "Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted.",
        ));
    }
    let expires: i64 = get("X-Amz-Expires")?
        .parse()
        .map_err(|_| incomplete("X-Amz-Expires should be a number"))?;
    if !(0..=PRESIGNED_EXPIRES_SECS_MAX).contains(&expires) {
        return Err(incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    parsed_from(
        get("X-Amz-Credential")?,
        get("X-Amz-SignedHeaders")?,
        get("X-Amz-Signature")?.to_owned(),
        get("X-Amz-Date")?.to_owned(),
        Some(expires),
    )
}

fn parsed_from<'a>(
    credential: &'a str,
    signed_headers: &str,
    signature: String,
    amz_date: String,
    presigned_expires_secs: Option<i64>,
) -> Result<Parsed<'a>, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{}'",
            truncate(credential, 128)
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential has an empty access key id."));
    }
    let names: Vec<String> = signed_headers
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if names.len() > SIGNED_HEADERS_MAX || names.iter().any(|n| n.is_empty()) {
        return Err(incomplete("SignedHeaders is malformed."));
    }
    Ok(Parsed {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers: names,
        signature,
        amz_date,
        presigned_expires_secs,
    })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `yyyymmddThhmmssZ` → Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(4..6)?,
        digits(6..8)?,
    )?;
    let time = date.and_hms_opt(digits(9..11)?, digits(11..13)?, digits(13..15)?)?;
    Some(time.and_utc().timestamp())
}

/// Unix seconds → `yyyymmddThhmmssZ` (what AWS prints in its clock-skew messages).
pub fn format_amz_date(unix_secs: i64) -> String {
    use chrono::{Datelike, Timelike};
    match chrono::DateTime::from_timestamp(unix_secs, 0) {
        Some(t) => format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        None => String::from("00000000T000000Z"),
    }
}

/// The payload-hash line: `x-amz-content-sha256` when present (checked against the body when
/// it is a hash), else hex SHA-256 of the body.
fn payload_hash(req: &Request<'_>) -> Result<String, SigV4Error> {
    let actual = hex::encode(req.payload.sha256());
    match req.header("x-amz-content-sha256") {
        None => Ok(actual),
        Some(v) => {
            let v = std::str::from_utf8(v)
                .map_err(|_| SigV4Error::ContentSha256Mismatch)?
                .trim();
            if v == UNSIGNED_PAYLOAD || v.eq_ignore_ascii_case(&actual) {
                Ok(v.to_owned())
            } else {
                Err(SigV4Error::ContentSha256Mismatch)
            }
        }
    }
}

/// Unreserved characters (RFC 3986 §2.3), the only bytes SigV4 leaves unencoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Canonical URI for non-S3 services: remove `.`/`..` and empty segments (botocore
/// `remove_dot_segments`, which also drops repeated slashes), keep a trailing slash, then
/// percent-encode every byte outside the unreserved set (so the wire's `%` becomes `%25`).
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(raw_path.len() + 1);
    out.push('/');
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        uri_encode(seg.as_bytes(), false, &mut out);
    }
    if raw_path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Split a raw query into percent-decoded `(key, value)` pairs (empty pieces skipped; a piece
/// without `=` has an empty value).
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, SigV4Error> {
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == QUERY_PARAMS_MAX {
            return Err(incomplete("Too many query parameters."));
        }
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        pairs.push((decode(k), decode(v)));
    }
    Ok(pairs)
}

/// Canonical query string: each key and value decoded then strictly re-encoded, sorted by key
/// then value, joined with `&`. `X-Amz-Signature` is left out for presigned requests.
pub fn canonical_query(raw_query: &str, presigned: bool) -> Result<String, SigV4Error> {
    let mut encoded: Vec<(String, String)> = Vec::new();
    for (k, v) in parse_query(raw_query)? {
        if presigned && k == "X-Amz-Signature" {
            continue;
        }
        let (mut ek, mut ev) = (String::new(), String::new());
        uri_encode(k.as_bytes(), false, &mut ek);
        uri_encode(v.as_bytes(), false, &mut ev);
        encoded.push((ek, ev));
    }
    encoded.sort();
    let mut out = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    Ok(out)
}

/// Trim and collapse runs of whitespace (botocore `' '.join(value.split())`).
fn push_trimmed(value: &[u8], out: &mut Vec<u8>) {
    let mut first = true;
    for word in value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(word);
        first = false;
    }
}

/// The canonical request, as bytes (header values need not be UTF-8).
/// `signed_headers` are lower-case names in the order the client listed them.
pub fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.query, presigned)?.as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for (_, v) in req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            if !first {
                out.push(b',');
            }
            push_trimmed(v, &mut out);
            first = false;
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(sha256(canonical_request))
    )
}

/// The HMAC chain `"AWS4"+secret` → date → region → service → `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac_sha256(&k, region.as_bytes());
    let k = hmac_sha256(&k, service.as_bytes());
    hmac_sha256(&k, TERMINATOR.as_bytes())
}

/// `HMAC(signing key, string to sign)`; the header carries it as lower-case hex.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac_sha256(signing_key, string_to_sign.as_bytes())
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (RFC 2104 §2); the error type exists for fixed-key MACs.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}
