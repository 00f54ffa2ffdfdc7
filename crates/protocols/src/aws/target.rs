//! awsJson1_1 request selection: parse `X-Amz-Target: <prefix>.<Operation>` and check the
//! `application/x-amz-json-1.1` content type (botocore `serialize.py JSONSerializer`).

/// CloudWatch Logs' target prefix (botocore `logs/2014-03-28/service-2.json` `targetPrefix`).
pub const LOGS_TARGET_PREFIX: &str = "Logs_20140328";
/// The awsJson1_1 media type (botocore `JSONSerializer`, Smithy awsJson1_1 spec).
pub const JSON_1_1_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Longest `X-Amz-Target` we parse. Our choice: the longest Logs target,
/// `Logs_20140328.PutAccountPolicy…`, is under 64 bytes; 256 leaves room.
pub const TARGET_BYTES_MAX: usize = 256;

/// A parsed `X-Amz-Target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub prefix: &'a str,
    pub operation: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("missing X-Amz-Target header")]
    Missing,
    #[error("malformed X-Amz-Target header")]
    Malformed,
    #[error("X-Amz-Target names another service")]
    WrongPrefix,
}

/// Parse `<prefix>.<Operation>`: both sides non-empty, the operation ASCII letters and digits,
/// the prefix letters, digits and `_`.
pub fn parse_target(value: &[u8]) -> Result<Target<'_>, TargetError> {
    if value.len() > TARGET_BYTES_MAX {
        return Err(TargetError::Malformed);
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| TargetError::Malformed)?
        .trim();
    let (prefix, operation) = value.rsplit_once('.').ok_or(TargetError::Malformed)?;
    let prefix_ok = !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let op_ok = !operation.is_empty() && operation.bytes().all(|b| b.is_ascii_alphanumeric());
    if !(prefix_ok && op_ok) {
        return Err(TargetError::Malformed);
    }
    Ok(Target { prefix, operation })
}

/// The operation name when the header is present and carries `expected_prefix`.
pub fn operation_for<'a>(
    value: Option<&'a [u8]>,
    expected_prefix: &str,
) -> Result<&'a str, TargetError> {
    let target = parse_target(value.ok_or(TargetError::Missing)?)?;
    if target.prefix != expected_prefix {
        return Err(TargetError::WrongPrefix);
    }
    Ok(target.operation)
}

/// `application/x-amz-json-1.1`, case-insensitive, parameters (`; charset=utf-8`) allowed.
pub fn is_json_1_1(content_type: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(content_type) else {
        return false;
    };
    let media = s.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case(JSON_1_1_CONTENT_TYPE)
}
