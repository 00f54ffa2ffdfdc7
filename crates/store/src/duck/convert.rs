//! Reading query results back: Arrow batches from DuckDB into [`Rows`] or [`Event`]s.

use duckdb::arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, LargeStringArray, StringArray, StringViewArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use model::schema;
use model::{Event, SignalKind, SpanId, TraceId, Value};

use super::batch::split_resource_keys;
use crate::{Rows, StoreError};

/// Most rows one SQL statement may return (our choice: bounds memory for any API call; the
/// query layer applies its own smaller limits first).
pub const RESULT_ROWS_MAX: usize = 1_000_000;

fn query_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(e.to_string())
}

fn batches(conn: &Connection, sql: &str) -> Result<Vec<RecordBatch>, StoreError> {
    let mut stmt = conn.prepare(sql).map_err(query_err)?;
    let arrow = stmt.query_arrow([]).map_err(query_err)?;
    let mut out = Vec::new();
    let mut rows = 0usize;
    for b in arrow {
        rows += b.num_rows();
        out.push(b);
        if rows > RESULT_ROWS_MAX {
            return Err(StoreError::Query(format!(
                "result has more than {RESULT_ROWS_MAX} rows; narrow the query"
            )));
        }
    }
    Ok(out)
}

/// One cell as a [`Value`]; NULL → `None`. Unknown types render as text.
pub(crate) fn cell(a: &ArrayRef, row: usize) -> Option<Value> {
    if a.is_null(row) {
        return None;
    }
    macro_rules! get {
        ($t:ty) => {
            a.as_any().downcast_ref::<$t>().map(|x| x.value(row))
        };
    }
    Some(match a.data_type() {
        DataType::Utf8 => Value::Str(get!(StringArray)?.to_string()),
        DataType::LargeUtf8 => Value::Str(get!(LargeStringArray)?.to_string()),
        DataType::Utf8View => Value::Str(get!(StringViewArray)?.to_string()),
        DataType::Int64 => Value::Int(get!(Int64Array)?),
        DataType::Int32 => Value::Int(i64::from(get!(Int32Array)?)),
        DataType::Int16 => Value::Int(i64::from(get!(Int16Array)?)),
        DataType::Int8 => Value::Int(i64::from(get!(Int8Array)?)),
        DataType::UInt8 => Value::Int(i64::from(get!(UInt8Array)?)),
        DataType::UInt16 => Value::Int(i64::from(get!(UInt16Array)?)),
        DataType::UInt32 => Value::Int(i64::from(get!(UInt32Array)?)),
        DataType::UInt64 => {
            let v = get!(UInt64Array)?;
            match i64::try_from(v) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Float(v as f64),
            }
        }
        DataType::Float64 => Value::Float(get!(Float64Array)?),
        DataType::Float32 => Value::Float(f64::from(get!(Float32Array)?)),
        DataType::Boolean => Value::Bool(get!(BooleanArray)?),
        _ => {
            let fmt = duckdb::arrow::util::display::ArrayFormatter::try_new(
                a.as_ref(),
                &Default::default(),
            )
            .ok()?;
            Value::Str(fmt.value(row).to_string())
        }
    })
}

pub(crate) fn query_rows(conn: &Connection, sql: &str) -> Result<Rows, StoreError> {
    let mut out = Vec::new();
    for b in batches(conn, sql)? {
        let cols = b.columns();
        for r in 0..b.num_rows() {
            out.push(cols.iter().map(|c| cell(c, r)).collect());
        }
    }
    Ok(out)
}

/// Runs `SELECT * FROM events …` and rebuilds events.
pub(crate) fn query_events(conn: &Connection, sql: &str) -> Result<Vec<Event>, StoreError> {
    let mut out = Vec::new();
    for b in batches(conn, sql)? {
        let schema = b.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let cols = b.columns();
        for r in 0..b.num_rows() {
            out.push(row_event(&names, cols, r));
        }
    }
    Ok(out)
}

fn int(v: Option<Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(i),
        _ => None,
    }
}

fn row_event(names: &[&str], cols: &[ArrayRef], r: usize) -> Event {
    let mut e = Event::new(String::new(), 0, SignalKind::Plain);
    let mut hi = None;
    let mut lo = None;
    let mut spilled = None;
    for (name, col) in names.iter().zip(cols) {
        let v = cell(col, r);
        match *name {
            schema::COL_DATASET => {
                if let Some(Value::Str(s)) = v {
                    e.dataset = s;
                }
            }
            schema::COL_TIME_NS => e.time_ns = int(v).unwrap_or(0),
            schema::COL_KIND => {
                e.kind = int(v)
                    .and_then(|k| u8::try_from(k).ok())
                    .and_then(SignalKind::from_u8)
                    .unwrap_or(SignalKind::Plain)
            }
            schema::COL_SAMPLE_RATE => {
                e.sample_rate = int(v).and_then(|x| u32::try_from(x).ok()).unwrap_or(1)
            }
            schema::COL_SEQ => {}
            schema::COL_TRACE_HI => hi = int(v),
            schema::COL_TRACE_LO => lo = int(v),
            schema::COL_SPAN_ID => e.span_id = int(v).map(|x| SpanId::from_u64(x as u64)),
            schema::COL_PARENT_ID => e.parent_id = int(v).map(|x| SpanId::from_u64(x as u64)),
            schema::COL_RESOURCE_KEYS => {
                if let Some(Value::Str(s)) = v {
                    e.resource_keys = split_resource_keys(&s);
                }
            }
            schema::COL_NAME => {
                if let Some(Value::Str(s)) = v {
                    e.name = Some(s);
                }
            }
            schema::COL_SERVICE => {
                if let Some(Value::Str(s)) = v {
                    e.service = Some(s);
                }
            }
            schema::COL_DURATION_MS => {
                e.duration_ms = match v {
                    Some(Value::Float(f)) => Some(f),
                    Some(Value::Int(i)) => Some(i as f64),
                    _ => None,
                }
            }
            schema::COL_OVERFLOW => {
                if let Some(Value::Str(s)) = v {
                    spilled = Some(s);
                }
            }
            other => {
                if let Some(v) = v {
                    e.fields.push((other.to_string(), v));
                }
            }
        }
    }
    if let Some(text) = spilled {
        // Fields kept in the overflow column come back beside the others, typed.
        for (k, v) in schema::overflow::decode(&text) {
            if !e.fields.iter().any(|(have, _)| *have == k) {
                e.fields.push((k, v));
            }
        }
    }
    if let (Some(h), Some(l)) = (hi, lo) {
        e.trace_id = Some(TraceId::from_halves(h as u64, l as u64));
    }
    e
}
