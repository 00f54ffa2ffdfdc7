//! The `X-Amzn-Trace-Id` tracing header.

use crate::ids::{is_entity_id, TraceId};

/// The tracing header's name.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";

/// The header's `Sampled` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SampledFlag {
    /// `Sampled=1`: an upstream service decided to sample.
    Sampled,
    /// `Sampled=0`: an upstream service decided not to sample.
    NotSampled,
    /// `Sampled=?`: the caller asks this service to decide and to say so in its response.
    Requested,
    /// No (or an unrecognised) `Sampled` field: this service decides.
    #[default]
    Unknown,
}

impl SampledFlag {
    /// The upstream decision, if there is one.
    pub fn decision(self) -> Option<bool> {
        match self {
            SampledFlag::Sampled => Some(true),
            SampledFlag::NotSampled => Some(false),
            _ => None,
        }
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            SampledFlag::Sampled => Some("1"),
            SampledFlag::NotSampled => Some("0"),
            SampledFlag::Requested => Some("?"),
            SampledFlag::Unknown => None,
        }
    }
}

impl From<bool> for SampledFlag {
    fn from(sampled: bool) -> Self {
        if sampled {
            SampledFlag::Sampled
        } else {
            SampledFlag::NotSampled
        }
    }
}

/// A parsed tracing header: `Root=1-…;Parent=53995c3f42cd8ad8;Sampled=1` plus any other fields.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TraceHeader {
    /// The trace id, when present and valid.
    pub root: Option<TraceId>,
    /// The upstream segment or subsegment id (16 hex digits), when present and valid.
    pub parent: Option<String>,
    /// The upstream sampling decision.
    pub sampled: SampledFlag,
    /// Other fields (for example `Lineage=…`), in order, re-emitted downstream as they came.
    pub data: Vec<(String, String)>,
}

impl TraceHeader {
    /// Parses a header value the way the SDKs do, but more tolerantly: fields split on `;`,
    /// keys compared case-insensitively, whitespace trimmed, fields in any order. A field that
    /// is not `key=value` is skipped; an invalid `Root` or `Parent` is dropped; `Self=` (which
    /// an ALB adds) is ignored, as the Python SDK does.
    pub fn parse(value: &str) -> TraceHeader {
        let mut h = TraceHeader::default();
        for field in value.split(';') {
            let Some((key, val)) = field.split_once('=') else {
                continue;
            };
            let (key, val) = (key.trim(), val.trim());
            if key.eq_ignore_ascii_case("root") {
                h.root = TraceId::parse_xray(val);
            } else if key.eq_ignore_ascii_case("parent") {
                h.parent = is_entity_id(val).then(|| val.to_ascii_lowercase());
            } else if key.eq_ignore_ascii_case("sampled") {
                h.sampled = match val {
                    "1" => SampledFlag::Sampled,
                    "0" => SampledFlag::NotSampled,
                    "?" => SampledFlag::Requested,
                    _ => SampledFlag::Unknown,
                };
            } else if key.eq_ignore_ascii_case("self") || key.is_empty() {
                continue;
            } else if let Some(slot) = h.data.iter_mut().find(|(k, _)| k == key) {
                slot.1 = val.to_string();
            } else {
                h.data.push((key.to_string(), val.to_string()));
            }
        }
        h
    }

    /// The header for a downstream call made inside `parent_id` (the segment or subsegment
    /// id), keeping this header's extra fields as the SDK's `inject_trace_header` does.
    pub fn for_downstream(&self, root: TraceId, parent_id: &str, sampled: bool) -> TraceHeader {
        TraceHeader {
            root: Some(root),
            parent: Some(parent_id.to_string()),
            sampled: sampled.into(),
            data: self.data.clone(),
        }
    }

    /// The header value: `Root=…;Parent=…;Sampled=…` then the extra fields, each part only
    /// when present.
    pub fn to_header_value(&self) -> String {
        let mut parts = Vec::with_capacity(3 + self.data.len());
        if let Some(root) = &self.root {
            parts.push(format!("Root={root}"));
        }
        if let Some(parent) = &self.parent {
            parts.push(format!("Parent={parent}"));
        }
        if let Some(s) = self.sampled.as_str() {
            parts.push(format!("Sampled={s}"));
        }
        for (k, v) in &self.data {
            parts.push(format!("{k}={v}"));
        }
        parts.join(";")
    }
}

/// The tracing header a service returns in its response: `Root=…`, with `;Sampled=1` or
/// `;Sampled=0` appended only when the request asked for the decision (`Sampled=?`), as the
/// Python SDK's middlewares do.
pub fn response_header_value(root: &TraceId, sampled_requested: bool, decision: bool) -> String {
    if sampled_requested {
        format!("Root={root};Sampled={}", if decision { 1 } else { 0 })
    } else {
        format!("Root={root}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn parses_the_documented_header_and_round_trips() {
        let v = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let h = TraceHeader::parse(&v);
        assert_eq!(h.root.unwrap().to_xray(), ROOT);
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(h.sampled, SampledFlag::Sampled);
        assert!(h.data.is_empty());
        assert_eq!(h.to_header_value(), v);
    }

    #[test]
    fn tolerant_parse() {
        let h = TraceHeader::parse(&format!(
            "  sampled = ? ; Lineage=a87bd80c:0,68fd508a:5 ;PARENT=53995C3F42CD8AD8; Self=1-abc ;root={ROOT};junk;;Foo=bar;Foo=baz;"
        ));
        assert_eq!(h.sampled, SampledFlag::Requested);
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(h.root.unwrap().to_xray(), ROOT);
        assert_eq!(
            h.data,
            vec![
                ("Lineage".to_string(), "a87bd80c:0,68fd508a:5".to_string()),
                ("Foo".to_string(), "baz".to_string())
            ]
        );
        assert_eq!(
            h.to_header_value(),
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=?;Lineage=a87bd80c:0,68fd508a:5;Foo=baz")
        );
    }

    #[test]
    fn empty_and_invalid_headers() {
        assert_eq!(TraceHeader::parse(""), TraceHeader::default());
        assert_eq!(TraceHeader::parse("garbage"), TraceHeader::default());
        let h = TraceHeader::parse("Root=1-xyz;Parent=short;Sampled=yes");
        assert_eq!(
            (h.root, h.parent.clone(), h.sampled),
            (None, None, SampledFlag::Unknown)
        );
        assert_eq!(h.to_header_value(), "");
        let h = TraceHeader::parse("Sampled=0");
        assert_eq!(h.sampled.decision(), Some(false));
        assert_eq!(h.to_header_value(), "Sampled=0");
    }

    #[test]
    fn downstream_and_response_headers() {
        let root = TraceId::parse_xray(ROOT).unwrap();
        let incoming = TraceHeader::parse(&format!("Root={ROOT};Sampled=?;Lineage=x:1"));
        let out = incoming.for_downstream(root, "0123456789abcdef", true);
        assert_eq!(
            out.to_header_value(),
            format!("Root={ROOT};Parent=0123456789abcdef;Sampled=1;Lineage=x:1")
        );
        assert_eq!(
            response_header_value(&root, false, true),
            format!("Root={ROOT}")
        );
        assert_eq!(
            response_header_value(&root, true, true),
            format!("Root={ROOT};Sampled=1")
        );
        assert_eq!(
            response_header_value(&root, true, false),
            format!("Root={ROOT};Sampled=0")
        );
    }
}
