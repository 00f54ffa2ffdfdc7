//! The AWS event-stream framing (`application/vnd.amazon.eventstream`), encode side: what a
//! streaming operation such as CloudWatch Logs' `StartLiveTail` answers with.
//!
//! A message is `total length (u32) | headers length (u32) | prelude CRC (u32) | headers |
//! payload | message CRC (u32)`, big-endian, CRC-32 (IEEE) over everything before it
//! (botocore `eventstream.py`, the AWS SDKs' `aws-smithy-eventstream`). Headers here are
//! all strings (type 7): `:message-type`, `:event-type` / `:exception-type`,
//! `:content-type`.

/// Largest header name (one length byte).
pub const HEADER_NAME_BYTES_MAX: usize = 255;
/// Largest string header value (two length bytes).
pub const HEADER_VALUE_BYTES_MAX: usize = u16::MAX as usize;
/// Largest message botocore accepts (`_MAX_PAYLOAD_LENGTH` 16 MiB plus framing; ours keeps
/// the payload under it).
pub const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

const HEADER_TYPE_STRING: u8 = 7;
const PRELUDE_BYTES: usize = 12;
const CRC_BYTES: usize = 4;

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`). Bitwise: event-stream messages here
/// are small and few per second.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Encodes one message. Header names and values longer than the format allows, and payloads
/// over [`PAYLOAD_BYTES_MAX`], are truncated to fit rather than producing a frame a client
/// would reject; callers keep them far below.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let payload = &payload[..payload.len().min(PAYLOAD_BYTES_MAX)];
    let mut h = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(HEADER_NAME_BYTES_MAX)];
        let value = &value.as_bytes()[..value.len().min(HEADER_VALUE_BYTES_MAX)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        h.push(HEADER_TYPE_STRING);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value);
    }
    let total = PRELUDE_BYTES + h.len() + payload.len() + CRC_BYTES;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An `event` message of `event_type` with a JSON payload.
pub fn event(event_type: &str, json: &[u8]) -> Vec<u8> {
    encode(
        &[
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", "application/json"),
        ],
        json,
    )
}

/// An `exception` message (a modeled error ending the stream), JSON `{"message": …}`.
pub fn exception(exception_type: &str, json: &[u8]) -> Vec<u8> {
    encode(
        &[
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", "application/json"),
        ],
        json,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32 check value of "123456789" (every CRC catalogue lists 0xCBF43926).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// A decoder written from the format description, to check the encoder's frames.
    fn decode(frame: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let total = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, frame.len());
        assert_eq!(
            u32::from_be_bytes(frame[8..12].try_into().unwrap()),
            crc32(&frame[..8])
        );
        assert_eq!(
            u32::from_be_bytes(frame[total - 4..].try_into().unwrap()),
            crc32(&frame[..total - 4])
        );
        let mut headers = Vec::new();
        let mut i = 12;
        while i < 12 + hlen {
            let n = frame[i] as usize;
            let name = String::from_utf8(frame[i + 1..i + 1 + n].to_vec()).unwrap();
            i += 1 + n;
            assert_eq!(frame[i], HEADER_TYPE_STRING);
            let vlen = u16::from_be_bytes([frame[i + 1], frame[i + 2]]) as usize;
            let value = String::from_utf8(frame[i + 3..i + 3 + vlen].to_vec()).unwrap();
            i += 3 + vlen;
            headers.push((name, value));
        }
        (headers, frame[12 + hlen..total - 4].to_vec())
    }

    #[test]
    fn frames_round_trip_through_a_decoder() {
        let f = event("sessionUpdate", br#"{"sessionResults":[]}"#);
        let (h, p) = decode(&f);
        assert_eq!(h[0], (":message-type".into(), "event".into()));
        assert_eq!(h[1], (":event-type".into(), "sessionUpdate".into()));
        assert_eq!(p, br#"{"sessionResults":[]}"#);
        let f = exception("SessionTimeoutException", br#"{"message":"m"}"#);
        let (h, _) = decode(&f);
        assert_eq!(
            h[1],
            (":exception-type".into(), "SessionTimeoutException".into())
        );
        let empty = encode(&[], b"");
        assert_eq!(empty.len(), 16);
        decode(&empty);
    }
}
