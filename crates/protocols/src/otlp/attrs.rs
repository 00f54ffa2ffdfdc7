//! OTLP attribute flattening into Honeycomb fields (husky `addAttributeToMap`): scalars stay
//! typed, kvlists become dotted keys up to [`KVLIST_DEPTH_MAX`], arrays and bytes become JSON
//! text, everything bounded by the key, value and field limits.

use super::{
    ANY_VALUE_DEPTH_MAX, FIELDS_PER_EVENT_MAX, KEY_LEN_MAX, KVLIST_DEPTH_MAX, STRING_VALUE_LEN_MAX,
};
use base64::Engine;
use model::Value;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use std::borrow::Cow;

/// Flattened fields, in order; duplicates allowed (the first one wins when set on an event).
pub(crate) type Fields = Vec<(String, Value)>;

/// Too many fields after flattening.
#[derive(Debug)]
pub(crate) struct TooManyFields;

/// Cuts `s` to at most `max` bytes at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn truncated_string(s: &str) -> String {
    truncate(s, STRING_VALUE_LEN_MAX).to_string()
}

/// The field name a user key is stored under: internal names (`__*`, computed ids,
/// `timestamp`) and the fixed columns the event keeps in typed members (`name`,
/// `service.name`, `duration_ms`) get a `user.` prefix so no attribute can shadow them.
pub(crate) fn user_key(key: &str) -> Cow<'_, str> {
    use model::schema::{COL_DURATION_MS, COL_NAME, COL_SERVICE};
    if key == COL_NAME || key == COL_SERVICE || key == COL_DURATION_MS {
        Cow::Owned(format!("user.{key}"))
    } else {
        model::schema::escape_user_key(key)
    }
}

/// A float as a field value: finite floats stay numbers; NaN and ±Infinity (legal in OTLP,
/// not in JSON) become the strings proto3 JSON uses for them.
pub(crate) fn float_value(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else if f.is_nan() {
        Value::Str("NaN".into())
    } else if f > 0.0 {
        Value::Str("Infinity".into())
    } else {
        Value::Str("-Infinity".into())
    }
}

/// Flattens `attrs` onto `out`, prefixing keys with `prefix.` when `prefix` is non-empty.
/// `depth` is the kvlist depth of `attrs` themselves (0 for top-level attributes).
pub(crate) fn flatten(
    out: &mut Fields,
    attrs: &[KeyValue],
    prefix: &str,
    depth: usize,
) -> Result<(), TooManyFields> {
    for kv in attrs {
        if kv.key.is_empty() {
            continue;
        }
        let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let key = if prefix.is_empty() {
            truncate(&kv.key, KEY_LEN_MAX).to_string()
        } else {
            let joined = format!("{prefix}.{}", kv.key);
            truncate(&joined, KEY_LEN_MAX).to_string()
        };
        flatten_value(out, key, value, depth)?;
    }
    Ok(())
}

/// Adds one value under `key` (already joined and truncated, not yet escaped).
pub(crate) fn flatten_value(
    out: &mut Fields,
    key: String,
    value: &any_value::Value,
    depth: usize,
) -> Result<(), TooManyFields> {
    use any_value::Value as V;
    let v = match value {
        V::StringValue(s) => Value::Str(truncated_string(s)),
        V::BoolValue(b) => Value::Bool(*b),
        V::IntValue(i) => Value::Int(*i),
        V::DoubleValue(f) => float_value(*f),
        V::KvlistValue(list) if depth < KVLIST_DEPTH_MAX => {
            return flatten(out, &list.values, &key, depth + 1);
        }
        V::KvlistValue(_) | V::ArrayValue(_) | V::BytesValue(_) => {
            Value::Str(truncated_string(&to_json(value, 0).to_string()))
        }
        V::StringValueStrindex(_) => return Ok(()),
    };
    if out.len() >= FIELDS_PER_EVENT_MAX {
        return Err(TooManyFields);
    }
    let key = match user_key(&key) {
        Cow::Borrowed(_) => key,
        Cow::Owned(escaped) => escaped,
    };
    out.push((key, v));
    Ok(())
}

/// An `AnyValue` as JSON the way husky renders it with Go's encoder: bytes as a base64
/// string, maps as objects, empty values as null. Depth is bounded (beyond
/// [`ANY_VALUE_DEPTH_MAX`] the value is replaced by null).
pub(crate) fn to_json(value: &any_value::Value, depth: usize) -> serde_json::Value {
    use any_value::Value as V;
    use serde_json::Value as J;
    if depth > ANY_VALUE_DEPTH_MAX {
        return J::Null;
    }
    let inner = |v: &AnyValue| match &v.value {
        Some(x) => to_json(x, depth + 1),
        None => J::Null,
    };
    match value {
        V::StringValue(s) => J::String(s.clone()),
        V::BoolValue(b) => J::Bool(*b),
        V::IntValue(i) => J::from(*i),
        V::DoubleValue(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => float_value(*f).to_json(),
        },
        V::ArrayValue(a) => J::Array(a.values.iter().map(inner).collect()),
        V::KvlistValue(l) => J::Object(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, inner)))
                .collect(),
        ),
        V::BytesValue(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        V::StringValueStrindex(_) => J::Null,
    }
}

/// Removes `sampleRate` and `SampleRate` from `fields` and returns the rate they give
/// (`sampleRate` preferred), per husky `getSampleRate`: numbers and numeric strings are
/// rounded, ≤ 0 becomes 1, capped at `i32::MAX`.
pub(crate) fn take_sample_rate(fields: &mut Fields) -> Option<u32> {
    let mut preferred = None;
    let mut fallback = None;
    fields.retain(|(k, v)| match k.as_str() {
        "sampleRate" => {
            if preferred.is_none() {
                preferred = Some(v.clone());
            }
            false
        }
        "SampleRate" => {
            if fallback.is_none() {
                fallback = Some(v.clone());
            }
            false
        }
        _ => true,
    });
    preferred.or(fallback).and_then(|v| sample_rate_of(&v))
}

/// Largest sample rate we store (husky caps at Go's `math.MaxInt32`).
pub(crate) const SAMPLE_RATE_MAX: u32 = i32::MAX as u32;

fn sample_rate_of(v: &Value) -> Option<u32> {
    let f = match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => s.trim().parse::<f64>().ok()?,
        Value::Bool(_) => return None,
    };
    Some(clamp_rate(f))
}

pub(crate) fn clamp_rate(f: f64) -> u32 {
    if f.is_nan() || f.round() < 1.0 {
        return 1;
    }
    let r = f.round();
    if r >= f64::from(SAMPLE_RATE_MAX) {
        SAMPLE_RATE_MAX
    } else {
        r as u32
    }
}

/// Sample rate from a W3C `tracestate` carrying OTel probability sampling `ot=th:<hex>`
/// (rejection threshold T over 2^56: rate = 2^56 / (2^56 − T)); see
/// <https://opentelemetry.io/docs/specs/otel/trace/tracestate-probability-sampling/>.
pub(crate) fn sample_rate_from_tracestate(trace_state: &str) -> Option<u32> {
    let ot = trace_state
        .split(',')
        .filter_map(|member| member.trim().split_once('='))
        .find(|(k, _)| *k == "ot")?
        .1;
    let th = ot
        .split(';')
        .filter_map(|kv| kv.split_once(':'))
        .find(|(k, _)| *k == "th")?
        .1;
    if th.is_empty() || th.len() > 14 || !th.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut padded = th.to_string();
    while padded.len() < 14 {
        padded.push('0');
    }
    let t = u64::from_str_radix(&padded, 16).ok()?;
    let full = 1u64 << 56;
    let keep = full.checked_sub(t)?;
    if keep == 0 {
        return None;
    }
    Some(clamp_rate(full as f64 / keep as f64))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn nested_kvlist_flattens_to_depth_five() {
        use any_value::Value as V;
        let mut v = V::StringValue("leaf".into());
        for name in ["f", "e", "d", "c", "b", "a"] {
            v = V::KvlistValue(KeyValueList {
                values: vec![kv(name, v)],
            });
        }
        let mut out = Fields::new();
        flatten(&mut out, &[kv("top", v)], "", 0).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "top.a.b.c.d.e");
        assert_eq!(out[0].1, Value::Str(r#"{"f":"leaf"}"#.into()));
    }

    #[test]
    fn arrays_bytes_and_escapes() {
        use any_value::Value as V;
        let arr = V::ArrayValue(ArrayValue {
            values: vec![
                AnyValue {
                    value: Some(V::StringValue("a".into())),
                },
                AnyValue {
                    value: Some(V::IntValue(1)),
                },
                AnyValue { value: None },
            ],
        });
        let mut out = Fields::new();
        flatten(
            &mut out,
            &[
                kv("arr", arr),
                kv("bin", V::BytesValue(vec![1, 2, 3])),
                kv("name", V::StringValue("x".into())),
                kv("trace.trace_id", V::StringValue("y".into())),
                kv("", V::StringValue("skipped".into())),
                KeyValue {
                    key: "novalue".into(),
                    value: None,
                    key_strindex: 0,
                },
                kv("nan", V::DoubleValue(f64::NAN)),
            ],
            "",
            0,
        )
        .unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("arr", r#"["a",1,null]"#.to_string()),
                ("bin", r#""AQID""#.to_string()),
                ("user.name", "x".to_string()),
                ("user.trace.trace_id", "y".to_string()),
                ("nan", "NaN".to_string()),
            ]
        );
    }

    #[test]
    fn long_values_and_keys_are_cut() {
        use any_value::Value as V;
        let mut out = Fields::new();
        let long_key = "k".repeat(300);
        let long_val = "é".repeat(40_000); // 80,000 bytes
        flatten(&mut out, &[kv(&long_key, V::StringValue(long_val))], "", 0).unwrap();
        assert_eq!(out[0].0.len(), KEY_LEN_MAX);
        let Value::Str(s) = &out[0].1 else { panic!() };
        assert!(s.len() <= STRING_VALUE_LEN_MAX && s.len() >= STRING_VALUE_LEN_MAX - 1);
    }

    #[test]
    fn sample_rates() {
        let mut f: Fields = vec![
            ("SampleRate".into(), Value::Int(3)),
            ("a".into(), Value::Int(1)),
            ("sampleRate".into(), Value::Str(" 7.6 ".into())),
        ];
        assert_eq!(take_sample_rate(&mut f), Some(8));
        assert_eq!(f.len(), 1);
        let mut f: Fields = vec![("sampleRate".into(), Value::Int(-4))];
        assert_eq!(take_sample_rate(&mut f), Some(1));
        let mut f: Fields = vec![("sampleRate".into(), Value::Float(1e20))];
        assert_eq!(take_sample_rate(&mut f), Some(SAMPLE_RATE_MAX));
        assert_eq!(sample_rate_from_tracestate("ot=th:8"), Some(2));
        assert_eq!(
            sample_rate_from_tracestate("vendor=x,ot=rv:abc;th:c"),
            Some(4)
        );
        assert_eq!(sample_rate_from_tracestate("ot=th:0"), Some(1));
        assert_eq!(sample_rate_from_tracestate("ot=th:zz"), None);
        assert_eq!(sample_rate_from_tracestate(""), None);
    }
}
