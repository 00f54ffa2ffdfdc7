//! The ingest log's record payload: a group of decoded events in a compact binary form
//! (little-endian, length-prefixed strings). The format is on disk: a change needs a new
//! [`FORMAT`] and a reader for the old one.
//!
//! Decoding never panics: a short or malformed payload is an error (the record's CRC
//! already passed, so this only happens with a bug or a format mismatch).

use model::{Event, SignalKind, SpanId, TraceId, Value};

/// The payload format written today.
pub const FORMAT: u8 = 1;

const HAS_TRACE: u8 = 1;
const HAS_SPAN: u8 = 2;
const HAS_PARENT: u8 = 4;
const HAS_NAME: u8 = 8;
const HAS_SERVICE: u8 = 16;
const HAS_DURATION: u8 = 32;

const TAG_STR: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_BOOL: u8 = 3;

#[derive(Debug, thiserror::Error)]
#[error("ingest log record is malformed: {0}")]
pub struct CodecError(&'static str);

/// Appends the encoding of `events` to `out`.
pub fn encode(events: &[Event], out: &mut Vec<u8>) {
    out.push(FORMAT);
    put_u32(out, events.len() as u32);
    for e in events {
        put_str(out, &e.dataset);
        out.extend_from_slice(&e.time_ns.to_le_bytes());
        out.push(e.kind as u8);
        let flags = flag(e.trace_id.is_some(), HAS_TRACE)
            | flag(e.span_id.is_some(), HAS_SPAN)
            | flag(e.parent_id.is_some(), HAS_PARENT)
            | flag(e.name.is_some(), HAS_NAME)
            | flag(e.service.is_some(), HAS_SERVICE)
            | flag(e.duration_ms.is_some(), HAS_DURATION);
        out.push(flags);
        if let Some(t) = e.trace_id {
            out.extend_from_slice(&t.0);
        }
        if let Some(s) = e.span_id {
            out.extend_from_slice(&s.0);
        }
        if let Some(s) = e.parent_id {
            out.extend_from_slice(&s.0);
        }
        if let Some(n) = &e.name {
            put_str(out, n);
        }
        if let Some(n) = &e.service {
            put_str(out, n);
        }
        if let Some(d) = e.duration_ms {
            out.extend_from_slice(&d.to_le_bytes());
        }
        put_u32(out, e.sample_rate);
        put_u32(out, e.fields.len() as u32);
        for (k, v) in &e.fields {
            put_str(out, k);
            match v {
                Value::Str(s) => {
                    out.push(TAG_STR);
                    put_str(out, s);
                }
                Value::Int(i) => {
                    out.push(TAG_INT);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Value::Float(f) => {
                    out.push(TAG_FLOAT);
                    out.extend_from_slice(&f.to_le_bytes());
                }
                Value::Bool(b) => {
                    out.push(TAG_BOOL);
                    out.push(u8::from(*b));
                }
            }
        }
        put_u32(out, e.resource_keys.len() as u32);
        for k in &e.resource_keys {
            put_str(out, k);
        }
    }
}

/// Decodes a payload [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Event>, CodecError> {
    let mut r = Reader { bytes, at: 0 };
    if r.u8()? != FORMAT {
        return Err(CodecError("unknown payload format"));
    }
    let n = r.u32()? as usize;
    // Every event takes at least 27 bytes: a hostile count cannot reserve more than the
    // payload could hold.
    let mut events = Vec::with_capacity(n.min(bytes.len() / 27));
    for _ in 0..n {
        let dataset = r.string()?;
        let time_ns = i64::from_le_bytes(r.array()?);
        let kind = SignalKind::from_u8(r.u8()?).ok_or(CodecError("unknown signal kind"))?;
        let mut e = Event::new(dataset, time_ns, kind);
        let flags = r.u8()?;
        if flags & HAS_TRACE != 0 {
            e.trace_id = Some(TraceId(r.array()?));
        }
        if flags & HAS_SPAN != 0 {
            e.span_id = Some(SpanId(r.array()?));
        }
        if flags & HAS_PARENT != 0 {
            e.parent_id = Some(SpanId(r.array()?));
        }
        if flags & HAS_NAME != 0 {
            e.name = Some(r.string()?);
        }
        if flags & HAS_SERVICE != 0 {
            e.service = Some(r.string()?);
        }
        if flags & HAS_DURATION != 0 {
            e.duration_ms = Some(f64::from_le_bytes(r.array()?));
        }
        e.sample_rate = r.u32()?;
        let fields = r.u32()? as usize;
        e.fields.reserve(fields.min(r.remaining() / 6));
        for _ in 0..fields {
            let k = r.string()?;
            let v = match r.u8()? {
                TAG_STR => Value::Str(r.string()?),
                TAG_INT => Value::Int(i64::from_le_bytes(r.array()?)),
                TAG_FLOAT => Value::Float(f64::from_le_bytes(r.array()?)),
                TAG_BOOL => Value::Bool(r.u8()? != 0),
                _ => return Err(CodecError("unknown value tag")),
            };
            e.fields.push((k, v));
        }
        let keys = r.u32()? as usize;
        e.resource_keys.reserve(keys.min(r.remaining() / 4));
        for _ in 0..keys {
            e.resource_keys.push(r.string()?);
        }
        events.push(e);
    }
    if r.remaining() != 0 {
        return Err(CodecError("trailing bytes"));
    }
    Ok(events)
}

fn flag(on: bool, bit: u8) -> u8 {
    if on {
        bit
    } else {
        0
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(CodecError("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| CodecError("a string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::*;

    #[test]
    fn round_trips_every_member() {
        let mut a = Event::new("svc", -5, SignalKind::Span);
        a.trace_id = Some(TraceId([7; 16]));
        a.span_id = Some(SpanId([1; 8]));
        a.parent_id = Some(SpanId([2; 8]));
        a.name = Some("GET /".into());
        a.service = Some("svc".into());
        a.duration_ms = Some(1.5);
        a.sample_rate = 20;
        a.fields = vec![
            ("s".into(), Value::Str("é".into())),
            ("i".into(), Value::Int(i64::MIN)),
            ("f".into(), Value::Float(-0.25)),
            ("b".into(), Value::Bool(true)),
        ];
        a.resource_keys = vec!["service.name".into()];
        let b = Event::new("", 0, SignalKind::Plain);
        let mut out = Vec::new();
        encode(&[a.clone(), b.clone()], &mut out);
        assert_eq!(decode(&out).unwrap(), vec![a, b]);
        for cut in 0..out.len() {
            assert!(
                decode(&out[..cut]).is_err(),
                "a cut at {cut} must not decode"
            );
        }
    }
}
