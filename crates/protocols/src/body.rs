//! Size-capped request body decompression shared by every HTTP receiver (identity, gzip,
//! zstd, deflate). The only place that inflates untrusted bytes: callers never use a raw
//! decompressor, so every body is bounded after decompression (zip bombs stop at the cap).

use std::io::Read;

/// OTLP/HTTP request body limit after decompression. The OTLP spec (v1.11.0,
/// <https://opentelemetry.io/docs/specs/otlp/#otlphttp-request>, "Request body size") says a
/// server MUST limit the body including after decompression and RECOMMENDS 64 MiB; over it →
/// `413 Content Too Large`. Also the gRPC message limit it recommends.
pub const OTLP_BODY_DECOMPRESSED_MAX: usize = 64 * 1024 * 1024;

/// Honeycomb `/1/batch` body limit after decompression: 5,000,000 bytes, the client cap
/// `apiMaxBatchSize` in libhoney-go and Refinery's server cap (see
/// ../shared/protocols/otlp-honeycomb.md §11).
pub const HONEYCOMB_BATCH_DECOMPRESSED_MAX: usize = 5_000_000;

/// Honeycomb single event (`/1/events`) limit: 1,000,000 bytes (libhoney-go `apiEventSizeMax`,
/// "the limit for a single event in Shepherd").
pub const HONEYCOMB_EVENT_DECOMPRESSED_MAX: usize = 1_000_000;

/// Largest zstd window we accept, as log2 bytes (our choice: 2^25 = 32 MiB; zstd level 19
/// uses 2^23 and the zstd library's own default limit is 2^27). Without it a 20-byte frame
/// header can make the decoder allocate a 2 GiB window before producing one byte.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 25;

/// Initial output buffer when inflating, so a small compressed body cannot reserve the whole
/// cap up front (our choice: 64 KiB; the Vec grows as real output arrives).
const INITIAL_OUTPUT_CAPACITY_MAX: usize = 64 * 1024;

/// Why a body could not be decoded. Receivers map `TooLarge` to 413, `UnsupportedEncoding` to
/// 415 and `Corrupt` to 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("request body is larger than {limit} bytes after decompression")]
    TooLarge { limit: usize },
    #[error("unsupported Content-Encoding {0:?}; use gzip, zstd, deflate or none")]
    UnsupportedEncoding(String),
    #[error("request body could not be decompressed: {0}")]
    Corrupt(String),
}

/// The content codings we inflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
    Deflate,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value (case-insensitive, surrounding spaces
    /// ignored). `None`, empty and `identity` mean uncompressed.
    pub fn parse(content_encoding: Option<&str>) -> Result<Self, BodyError> {
        let raw = content_encoding.unwrap_or("").trim();
        let lower = raw.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "" | "identity" | "none" => Self::Identity,
            "gzip" | "x-gzip" => Self::Gzip,
            "zstd" | "zst" => Self::Zstd,
            "deflate" | "zlib" => Self::Deflate,
            _ => {
                let shown: String = raw.chars().take(64).collect();
                return Err(BodyError::UnsupportedEncoding(shown));
            }
        })
    }
}

/// Decodes a request body per its `Content-Encoding`, failing with [`BodyError::TooLarge`] as
/// soon as the output would exceed `decompressed_max` bytes (the input is streamed through
/// `Read::take`, so a gzip bomb costs at most `decompressed_max + 1` bytes of memory).
/// `deflate` accepts zlib-wrapped data (RFC 9110 says deflate means zlib) and falls back to raw
/// deflate, which some clients send.
pub fn decode_body(
    content_encoding: Option<&str>,
    raw: &[u8],
    decompressed_max: usize,
) -> Result<Vec<u8>, BodyError> {
    match Encoding::parse(content_encoding)? {
        Encoding::Identity => {
            if raw.len() > decompressed_max {
                return Err(BodyError::TooLarge {
                    limit: decompressed_max,
                });
            }
            Ok(raw.to_vec())
        }
        Encoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(raw), decompressed_max),
        Encoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| BodyError::Corrupt(format!("zstd: {e}")))?;
            read_capped(decoder, decompressed_max)
        }
        Encoding::Deflate => {
            if looks_like_zlib(raw) {
                match read_capped(flate2::read::ZlibDecoder::new(raw), decompressed_max) {
                    Ok(out) => return Ok(out),
                    Err(e @ BodyError::TooLarge { .. }) => return Err(e),
                    Err(_) => {} // fall back to raw deflate below
                }
            }
            read_capped(flate2::read::DeflateDecoder::new(raw), decompressed_max)
        }
    }
}

/// A zlib stream starts with CMF/FLG where CM = 8 and the 16-bit header is a multiple of 31
/// (RFC 1950 §2.2).
fn looks_like_zlib(raw: &[u8]) -> bool {
    match raw {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_capped(reader: impl Read, decompressed_max: usize) -> Result<Vec<u8>, BodyError> {
    let limit = u64::try_from(decompressed_max)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::with_capacity(decompressed_max.min(INITIAL_OUTPUT_CAPACITY_MAX));
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Corrupt(e.to_string()))?;
    if out.len() > decompressed_max {
        return Err(BodyError::TooLarge {
            limit: decompressed_max,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn identity_and_cap() {
        assert_eq!(decode_body(None, b"abc", 3).unwrap(), b"abc");
        assert_eq!(decode_body(Some(" Identity "), b"abc", 3).unwrap(), b"abc");
        assert_eq!(
            decode_body(Some(""), b"abcd", 3),
            Err(BodyError::TooLarge { limit: 3 })
        );
    }

    #[test]
    fn codings_round_trip() {
        let data = b"hello hello hello hello".repeat(100);
        assert_eq!(
            decode_body(Some("gzip"), &gzip(&data), 1 << 20).unwrap(),
            data
        );
        assert_eq!(
            decode_body(Some("X-GZIP"), &gzip(&data), 1 << 20).unwrap(),
            data
        );
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(decode_body(Some("zstd"), &z, 1 << 20).unwrap(), data);
        assert_eq!(decode_body(Some("zst"), &z, 1 << 20).unwrap(), data);
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zl.write_all(&data).unwrap();
        assert_eq!(
            decode_body(Some("deflate"), &zl.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&data).unwrap();
        assert_eq!(
            decode_body(Some("deflate"), &raw.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn multi_member_gzip() {
        let mut both = gzip(b"abc");
        both.extend(gzip(b"def"));
        assert_eq!(decode_body(Some("gzip"), &both, 100).unwrap(), b"abcdef");
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            decode_body(Some("br"), b"x", 10),
            Err(BodyError::UnsupportedEncoding(e)) if e == "br"
        ));
        assert!(matches!(
            decode_body(Some("gzip"), b"not gzip", 10),
            Err(BodyError::Corrupt(_))
        ));
        assert!(matches!(
            decode_body(Some("zstd"), b"not zstd", 10),
            Err(BodyError::Corrupt(_))
        ));
        let g = gzip(b"truncated body here");
        assert!(matches!(
            decode_body(Some("gzip"), &g[..g.len() - 6], 100),
            Err(BodyError::Corrupt(_))
        ));
    }
}
