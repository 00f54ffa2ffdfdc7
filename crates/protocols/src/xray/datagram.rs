//! The X-Ray daemon's UDP datagram: `{"format":"json","version":1}` + `\n` + a segment
//! document (or a JSON array of them). Splitting and header checks follow the daemon
//! (aws-xray-daemon `pkg/util/util.go SplitHeaderBody`, `pkg/tracesegment/tracesegment.go`:
//! split at the first `\n`, header valid iff `EqualFold(format, "json") && version == 1`);
//! unlike the daemon we also parse the body, as the service would (source notes §A.1).

use super::segment::{self, BodyError, Parsed};
use super::DATAGRAM_BYTES_MAX;
use serde::Deserialize;

/// Why a whole datagram was dropped; the server counts drops by [`DatagramReason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatagramReason {
    /// Longer than [`DATAGRAM_BYTES_MAX`].
    TooLarge,
    /// No `\n`, or nothing after it (daemon: "Missing header or segment").
    MissingHeader,
    /// The header is not JSON `{format, version}` with format `json` and version 1.
    InvalidHeader,
    /// The body is not UTF-8.
    InvalidUtf8,
    /// The body nests deeper than `JSON_DEPTH_MAX`.
    TooDeep,
    /// The body is not JSON.
    BadJson,
    /// The body is an empty array.
    NoDocuments,
}

impl DatagramReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::MissingHeader => "missing_header",
            Self::InvalidHeader => "invalid_header",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TooDeep => "too_deep",
            Self::BadJson => "bad_json",
            Self::NoDocuments => "no_documents",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Ray datagram dropped ({}): {detail}", reason.as_str())]
pub struct DatagramError {
    pub reason: DatagramReason,
    pub detail: String,
}

fn fail(reason: DatagramReason, detail: impl Into<String>) -> DatagramError {
    DatagramError {
        reason,
        detail: detail.into(),
    }
}

/// The daemon's header shape (`tracesegment.Header`).
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

/// Splits at the first `\n` and checks the header; returns the body.
pub fn split(datagram: &[u8]) -> Result<&[u8], DatagramError> {
    if datagram.len() > DATAGRAM_BYTES_MAX {
        return Err(fail(
            DatagramReason::TooLarge,
            format!(
                "{} bytes; the daemon reads at most {DATAGRAM_BYTES_MAX}",
                datagram.len()
            ),
        ));
    }
    let Some(nl) = datagram.iter().position(|b| *b == b'\n') else {
        return Err(fail(
            DatagramReason::MissingHeader,
            "no newline after the header",
        ));
    };
    let (header, body) = (&datagram[..nl], &datagram[nl + 1..]);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(
            DatagramReason::MissingHeader,
            "no segment after the header",
        ));
    }
    let h: Header = serde_json::from_slice(header)
        .map_err(|_| fail(DatagramReason::InvalidHeader, "header is not a JSON object"))?;
    let format_ok = h
        .format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if !format_ok || h.version != Some(1) {
        return Err(fail(
            DatagramReason::InvalidHeader,
            format!(
                "header format {:?} version {:?}; expected \"json\" and 1",
                h.format, h.version
            ),
        ));
    }
    Ok(body)
}

/// Decodes a datagram into validated documents and per-document rejections. `now_s` is the
/// caller's clock in Unix seconds (trace-id age check).
pub fn decode_datagram(datagram: &[u8], now_s: i64) -> Result<Parsed, DatagramError> {
    let body = split(datagram)?;
    let raws = segment::split_body(body, DATAGRAM_BYTES_MAX).map_err(|e| match e {
        BodyError::TooLarge => fail(DatagramReason::TooLarge, "body too large"),
        BodyError::InvalidUtf8 => fail(DatagramReason::InvalidUtf8, "body is not UTF-8"),
        BodyError::TooDeep => fail(
            DatagramReason::TooDeep,
            format!("body nests deeper than {} levels", super::JSON_DEPTH_MAX),
        ),
        BodyError::BadJson => fail(DatagramReason::BadJson, "body is not JSON"),
        BodyError::NoDocuments => fail(DatagramReason::NoDocuments, "body is an empty array"),
    })?;
    let mut out = Parsed::default();
    for raw in raws {
        match segment::parse_one(raw.get(), now_s) {
            Ok(d) => out.documents.push(d),
            Err(r) => out.rejected.push(r),
        }
    }
    Ok(out)
}
