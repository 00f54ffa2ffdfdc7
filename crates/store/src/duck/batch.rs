//! Turns a slice of events into one Arrow record batch in the table's column order, after
//! working out which attribute columns must be added or widened first.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Array,
    Int64Builder, StringBuilder, UInt8Builder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use model::schema::{Column, ATTRIBUTE_COLUMNS_MAX, KEY_LEN_MAX, RESOURCE_KEY_SEP};
use model::value::ColumnType;
use model::{Event, Value};

use super::{widen, FIXED_COLUMNS};
use crate::StoreError;

pub(crate) enum ColumnChange {
    Add(String, ColumnType),
    Widen(String, ColumnType),
}

/// Attribute column name → position among attribute columns. Looked up several times per
/// field on the ingest path, so it uses a fast non-cryptographic hash (column names are not
/// attacker-chosen keys of an unbounded map: the column count is capped).
pub(crate) type ColumnIndex = HashMap<String, usize, foldhash::fast::RandomState>;

/// Marks a field that has no column (empty or over-long key, or over the column cap).
pub(crate) const NO_COLUMN: u32 = u32::MAX;

pub(crate) struct ColumnPlan {
    pub changes: Vec<ColumnChange>,
    pub fields_dropped: u64,
    /// For every field of every event, in order: its attribute column position once
    /// `changes` are applied, or [`NO_COLUMN`].
    pub slots: Vec<u32>,
}

/// Which columns this batch needs that the table lacks, and which must widen (int → float,
/// anything → string) so every value fits without loss; and where each field goes.
pub(crate) fn plan_columns(
    index: &ColumnIndex,
    columns: &[Column],
    events: &[Event],
) -> ColumnPlan {
    let mut new: HashMap<&str, (usize, ColumnType)> = HashMap::new();
    let mut widened: HashMap<usize, ColumnType> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    let mut dropped = 0u64;
    let mut slots = Vec::with_capacity(events.iter().map(|e| e.fields.len()).sum());
    for e in events {
        for (k, v) in &e.fields {
            if k.is_empty() || k.len() > KEY_LEN_MAX {
                dropped += 1;
                slots.push(NO_COLUMN);
                continue;
            }
            let ty = v.column_type();
            if let Some(&i) = index.get(k.as_str()) {
                let cur = widened.get(&i).copied().unwrap_or(columns[i].ty);
                let w = widen(cur, ty);
                if w != cur {
                    widened.insert(i, w);
                }
                slots.push(i as u32);
            } else if let Some(slot) = new.get_mut(k.as_str()) {
                slot.1 = widen(slot.1, ty);
                slots.push((columns.len() + slot.0) as u32);
            } else if columns.len() + new.len() < ATTRIBUTE_COLUMNS_MAX {
                slots.push((columns.len() + order.len()) as u32);
                new.insert(k, (order.len(), ty));
                order.push(k);
            } else {
                dropped += 1;
                slots.push(NO_COLUMN);
            }
        }
    }
    let mut changes = Vec::new();
    let mut widened: Vec<_> = widened.into_iter().collect();
    widened.sort_by_key(|(i, _)| *i);
    for (i, ty) in widened {
        changes.push(ColumnChange::Widen(columns[i].name.clone(), ty));
    }
    for name in order {
        if let Some((_, ty)) = new.get(name) {
            changes.push(ColumnChange::Add(name.to_string(), *ty));
        }
    }
    ColumnPlan {
        changes,
        fields_dropped: dropped,
        slots,
    }
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
    }
}

fn fixed_type(duck: &str) -> DataType {
    match duck.split_whitespace().next().unwrap_or("") {
        "BIGINT" => DataType::Int64,
        "UTINYINT" => DataType::UInt8,
        "INTEGER" => DataType::Int32,
        "DOUBLE" => DataType::Float64,
        _ => DataType::Utf8,
    }
}

/// Builds the record batch. `slots` is [`ColumnPlan::slots`] and every column it names must
/// exist with a type that holds its values; fields without one are skipped.
pub(crate) fn build(
    slots: &[u32],
    columns: &[Column],
    events: &[Event],
    first_seq: i64,
) -> Result<RecordBatch, StoreError> {
    let n = events.len();
    let mut dataset = StringBuilder::with_capacity(n, n * 16);
    let mut time = Int64Builder::with_capacity(n);
    let mut kind = UInt8Builder::with_capacity(n);
    let mut rate = Int32Builder::with_capacity(n);
    let mut hi = Int64Builder::with_capacity(n);
    let mut lo = Int64Builder::with_capacity(n);
    let mut span = Int64Builder::with_capacity(n);
    let mut parent = Int64Builder::with_capacity(n);
    let mut res_keys = StringBuilder::with_capacity(n, n * 16);
    let mut name = StringBuilder::with_capacity(n, n * 16);
    let mut service = StringBuilder::with_capacity(n, n * 16);
    let mut duration = Float64Builder::with_capacity(n);

    // Sparse attribute cells: (column, row, value).
    let mut cells: Vec<Vec<(usize, &Value)>> = vec![Vec::new(); columns.len()];
    let mut keys_buf = String::new();
    let mut slot = slots.iter();
    for (row, e) in events.iter().enumerate() {
        dataset.append_value(&e.dataset);
        time.append_value(e.time_ns);
        kind.append_value(e.kind as u8);
        rate.append_value(i32::try_from(e.sample_rate.max(1)).unwrap_or(i32::MAX));
        match e.trace_id {
            Some(t) => {
                let (h, l) = t.halves();
                hi.append_value(h as i64);
                lo.append_value(l as i64);
            }
            None => {
                hi.append_null();
                lo.append_null();
            }
        }
        span.append_option(e.span_id.map(|s| s.as_u64() as i64));
        parent.append_option(e.parent_id.map(|s| s.as_u64() as i64));
        if e.resource_keys.is_empty() {
            res_keys.append_null();
        } else {
            keys_buf.clear();
            for (i, k) in e.resource_keys.iter().enumerate() {
                if i > 0 {
                    keys_buf.push(RESOURCE_KEY_SEP);
                }
                keys_buf.push_str(&k.replace(RESOURCE_KEY_SEP, " "));
            }
            res_keys.append_value(&keys_buf);
        }
        name.append_option(e.name.as_deref());
        service.append_option(e.service.as_deref());
        duration.append_option(e.duration_ms);
        for (_, v) in &e.fields {
            let c = slot.next().copied().unwrap_or(NO_COLUMN) as usize;
            if let Some(cell) = cells.get_mut(c) {
                cell.push((row, v));
            }
        }
    }

    let mut fields: Vec<Field> = FIXED_COLUMNS
        .iter()
        .map(|(n, t)| Field::new(*n, fixed_type(t), !t.contains("NOT NULL")))
        .collect();
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(dataset.finish()),
        Arc::new(time.finish()),
        Arc::new(kind.finish()),
        Arc::new(rate.finish()),
        Arc::new(hi.finish()),
        Arc::new(lo.finish()),
        Arc::new(span.finish()),
        Arc::new(parent.finish()),
        Arc::new(res_keys.finish()),
        Arc::new(name.finish()),
        Arc::new(service.finish()),
        Arc::new(duration.finish()),
        Arc::new(Int64Array::from_iter_values(
            (0..n as i64).map(|i| first_seq + i),
        )),
    ];
    debug_assert_eq!(arrays.len(), FIXED_COLUMNS.len());

    for (c, col) in columns.iter().enumerate() {
        let dt = arrow_type(col.ty);
        fields.push(Field::new(col.name.as_str(), dt.clone(), true));
        let col_cells = &cells[c];
        if col_cells.is_empty() {
            arrays.push(new_null_array(&dt, n));
            continue;
        }
        arrays.push(column_array(col.ty, col_cells, n));
    }
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, arrays).map_err(|e| StoreError::Engine(e.to_string()))
}

/// One attribute column of `n` rows from its sparse cells (in row order; a repeated row
/// keeps the last value).
fn column_array(ty: ColumnType, cells: &[(usize, &Value)], n: usize) -> ArrayRef {
    macro_rules! fill {
        ($builder:expr, |$b:ident, $v:ident| $append:expr) => {{
            let mut $b = $builder;
            let mut next = 0usize;
            let mut i = 0usize;
            while i < cells.len() {
                let row = cells[i].0;
                let mut j = i;
                while j + 1 < cells.len() && cells[j + 1].0 == row {
                    j += 1;
                }
                while next < row {
                    $b.append_null();
                    next += 1;
                }
                let $v: &Value = cells[j].1;
                $append;
                next += 1;
                i = j + 1;
            }
            while next < n {
                $b.append_null();
                next += 1;
            }
            Arc::new($b.finish()) as ArrayRef
        }};
    }
    match ty {
        ColumnType::String => fill!(StringBuilder::with_capacity(n, cells.len() * 16), |b, v| {
            match v {
                Value::Str(s) => b.append_value(s),
                other => b.append_value(other.to_string()),
            }
        }),
        ColumnType::Integer => fill!(Int64Builder::with_capacity(n), |b, v| b.append_option(
            match v {
                Value::Int(i) => Some(*i),
                _ => None,
            }
        )),
        ColumnType::Float => fill!(Float64Builder::with_capacity(n), |b, v| b
            .append_option(v.as_f64())),
        ColumnType::Boolean => fill!(BooleanBuilder::with_capacity(n), |b, v| b.append_option(
            match v {
                Value::Bool(x) => Some(*x),
                _ => None,
            }
        )),
    }
}

/// Splits a stored `__resource_keys` cell.
pub(crate) fn split_resource_keys(s: &str) -> Vec<String> {
    s.split(RESOURCE_KEY_SEP).map(str::to_string).collect()
}
