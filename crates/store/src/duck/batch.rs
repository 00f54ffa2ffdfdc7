//! Turns a slice of events into one Arrow record batch in the table's column order, after
//! working out where each field goes: its column (added first if new) or the overflow
//! column.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Array,
    Int64Builder, StringBuilder, UInt8Builder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use model::schema::{
    fold_key, is_reserved_key, Catalog, Column, ATTRIBUTE_COLUMNS_MAX, COL_OVERFLOW,
    DATASETS_TRACKED_MAX, DATASET_COLUMNS_MAX, KEY_LEN_MAX, RESOURCE_KEY_SEP,
};
use model::value::{widen, ColumnType};
use model::{Event, Value};

use super::FIXED_COLUMNS;
use crate::StoreError;

/// Attribute column name (folded, see [`fold_key`]) → position among attribute columns.
/// Looked up several times per field on the ingest path, so it uses a fast
/// non-cryptographic hash (the column count is capped).
pub(crate) type ColumnIndex = HashMap<String, usize, foldhash::fast::RandomState>;

/// Marks a field that has no column: its value goes to the overflow column.
pub(crate) const NO_COLUMN: u32 = u32::MAX;

/// Which attribute columns a dataset writes (for `GET /1/columns` and its column budget).
#[derive(Debug, Default, Clone)]
pub(crate) struct DatasetColumns {
    flags: Vec<u64>,
    count: usize,
}

impl DatasetColumns {
    pub fn has(&self, i: usize) -> bool {
        self.flags
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn mark(&mut self, i: usize) {
        if self.flags.len() <= i / 64 {
            self.flags.resize(i / 64 + 1, 0);
        }
        if !self.has(i) {
            self.flags[i / 64] |= 1 << (i % 64);
            self.count += 1;
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }
}

/// The writer's view of the table: attribute columns in table order (the overflow column
/// among them once it exists), the keys that have spilled, and each dataset's columns.
#[derive(Default)]
pub(crate) struct Layout {
    pub columns: Vec<Column>,
    pub index: ColumnIndex,
    /// Folded key → the key (as first seen) and the widest type it has in the overflow column.
    pub overflow: HashMap<String, Column>,
    /// Lowercased dataset → its columns; at most [`DATASETS_TRACKED_MAX`] entries.
    pub datasets: HashMap<String, DatasetColumns>,
}

impl Layout {
    pub fn new(columns: Vec<Column>, overflow: Vec<Column>) -> Self {
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (fold_key(&c.name), i))
            .collect();
        let overflow = overflow
            .into_iter()
            .map(|c| (fold_key(&c.name), c))
            .collect();
        Self {
            columns,
            index,
            overflow,
            datasets: HashMap::new(),
        }
    }

    /// The catalog queries see: attribute columns without the internal overflow column.
    pub fn catalog(&self) -> Catalog {
        let mut overflow: Vec<Column> = self.overflow.values().cloned().collect();
        overflow.sort_by(|a, b| a.name.cmp(&b.name));
        Catalog {
            columns: self
                .columns
                .iter()
                .filter(|c| c.name != COL_OVERFLOW)
                .cloned()
                .collect(),
            overflow,
        }
    }

    fn overflow_position(&self) -> Option<usize> {
        self.index.get(COL_OVERFLOW).copied()
    }
}

pub(crate) struct ColumnPlan {
    /// Columns to add, in order (their positions follow the existing columns).
    pub adds: Vec<Column>,
    /// For every field of every event, in order: its attribute column position once `adds`
    /// are applied, or [`NO_COLUMN`] when the value goes to the overflow column.
    pub slots: Vec<u32>,
    /// (lowercased dataset, column position) pairs written for the first time.
    pub fresh: Vec<(String, usize)>,
    /// Overflow keys whose entry is new or whose type widened: folded key → column.
    pub overflow_changes: Vec<(String, Column)>,
    /// The key each spilled field is stored under in the overflow JSON, per field in order
    /// (empty for fields that have a column).
    pub spill_names: Vec<Option<std::sync::Arc<str>>>,
    pub fields_spilled: u64,
    /// (event index, fields spilled) for each event with spilled fields.
    pub spilled_at: Vec<(u32, u32)>,
    /// Position of the overflow column in the batch (added by this plan if needed).
    pub overflow_slot: Option<usize>,
}

/// [`fold_key`] without allocating for keys that are already folded (most are: semantic
/// convention names are lower case).
fn folded(k: &str) -> std::borrow::Cow<'_, str> {
    if k.bytes().any(|b| b.is_ascii_uppercase() || b == 0) {
        std::borrow::Cow::Owned(fold_key(k))
    } else {
        std::borrow::Cow::Borrowed(k)
    }
}

/// The key a field is stored under: keys that collide (case-insensitively) with the fixed
/// columns or the `__` space get a `user.` prefix; NUL is folded away.
fn stored_key(k: &str) -> std::borrow::Cow<'_, str> {
    let k: std::borrow::Cow<'_, str> = if k.contains('\0') {
        k.replace('\0', "\u{fffd}").into()
    } else {
        k.into()
    };
    if is_reserved_key(&k) {
        format!("user.{k}").into()
    } else {
        k
    }
}

/// Where each field goes: an existing column, a column this batch adds, or the overflow
/// column (over a column budget, an unusable key, or a value its column's type cannot hold
/// exactly: a column's type never changes once created, so nothing acknowledged is ever
/// rewritten). Linear in the number of fields.
pub(crate) fn plan_columns(layout: &Layout, events: &[Event]) -> ColumnPlan {
    let existing = layout.columns.len();
    let mut adds: Vec<Column> = Vec::new();
    let mut add_index: HashMap<String, usize> = HashMap::new();
    let mut pending_ds: HashMap<String, DatasetColumns> = HashMap::new();
    let mut fresh = Vec::new();
    let total: usize = events.iter().map(|e| e.fields.len()).sum();
    let mut slots = Vec::with_capacity(total);
    let mut keys: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(total);
    let mut cur_name: Option<&str> = None;
    let mut cur_lower = String::new();
    let mut new_datasets = 0usize;
    for e in events {
        if cur_name != Some(e.dataset.as_str()) {
            cur_name = Some(e.dataset.as_str());
            cur_lower = e.dataset.to_lowercase();
        }
        let committed = layout.datasets.get(&cur_lower);
        let tracked = committed.is_some()
            || pending_ds.contains_key(&cur_lower)
            || layout.datasets.len() + new_datasets < DATASETS_TRACKED_MAX;
        for (k, v) in &e.fields {
            let key = stored_key(k);
            let mut slot = NO_COLUMN;
            if tracked && !key.is_empty() && key.len() <= KEY_LEN_MAX {
                let folded = folded(&key);
                let pos = match layout.index.get(folded.as_ref()) {
                    Some(&i) => Some(i),
                    None => match add_index.get(folded.as_ref()) {
                        Some(&j) => {
                            let c = &mut adds[j];
                            c.ty = widen(c.ty, v.column_type());
                            Some(existing + j)
                        }
                        None if existing + adds.len() < ATTRIBUTE_COLUMNS_MAX => None,
                        None => {
                            keys.push(key);
                            slots.push(NO_COLUMN);
                            continue;
                        }
                    },
                };
                let seen = committed.is_some_and(|d| pos.is_some_and(|i| d.has(i)))
                    || pending_ds
                        .get(&cur_lower)
                        .is_some_and(|d| pos.is_some_and(|i| d.has(i)));
                let used = committed.map_or(0, DatasetColumns::count)
                    + pending_ds.get(&cur_lower).map_or(0, DatasetColumns::count);
                if seen || used < DATASET_COLUMNS_MAX {
                    let i = match pos {
                        Some(i) => i,
                        None => {
                            add_index.insert(folded.into_owned(), adds.len());
                            adds.push(Column {
                                name: key.to_string(),
                                ty: v.column_type(),
                            });
                            existing + adds.len() - 1
                        }
                    };
                    if !seen {
                        if committed.is_none() && !pending_ds.contains_key(&cur_lower) {
                            new_datasets += 1;
                        }
                        pending_ds.entry(cur_lower.clone()).or_default().mark(i);
                        fresh.push((cur_lower.clone(), i));
                    }
                    slot = i as u32;
                }
            }
            keys.push(key);
            slots.push(slot);
        }
    }
    // Second pass: values their column cannot hold exactly spill too, now that the types of
    // the added columns are final.
    let ty_of = |i: usize| {
        if i < existing {
            layout.columns[i].ty
        } else {
            adds[i - existing].ty
        }
    };
    let mut overflow_changes: HashMap<String, Column> = HashMap::new();
    let mut spill_names = Vec::with_capacity(total);
    let mut fields_spilled = 0u64;
    let mut field = 0usize;
    let mut spilled_at: Vec<(u32, u32)> = Vec::new();
    for (row, e) in events.iter().enumerate() {
        for (_, v) in &e.fields {
            let s = slots[field];
            if s != NO_COLUMN && v.fits(ty_of(s as usize)) {
                spill_names.push(None);
            } else {
                slots[field] = NO_COLUMN;
                fields_spilled += 1;
                let row = u32::try_from(row).unwrap_or(u32::MAX);
                match spilled_at.last_mut() {
                    Some((r, n)) if *r == row => *n += 1,
                    _ => spilled_at.push((row, 1)),
                }
                let key = &keys[field];
                let folded = fold_key(key);
                let known = overflow_changes
                    .get(&folded)
                    .or(layout.overflow.get(&folded))
                    .cloned();
                let name = match known {
                    Some(c) => {
                        let w = widen(c.ty, v.column_type());
                        if w != c.ty {
                            let name = c.name.clone();
                            overflow_changes.insert(folded, Column { name, ty: w });
                        }
                        c.name
                    }
                    None => {
                        // A key with its own column spills under that column's name.
                        let name = match layout.index.get(&folded) {
                            Some(&i) => layout.columns[i].name.clone(),
                            None => match add_index.get(&folded) {
                                Some(&j) => adds[j].name.clone(),
                                None => key.to_string(),
                            },
                        };
                        overflow_changes.insert(
                            folded,
                            Column {
                                name: name.clone(),
                                ty: v.column_type(),
                            },
                        );
                        name
                    }
                };
                spill_names.push(Some(std::sync::Arc::from(name.as_str())));
            }
            field += 1;
        }
    }
    let mut overflow_slot = layout.overflow_position();
    if fields_spilled > 0 && overflow_slot.is_none() {
        overflow_slot = Some(existing + adds.len());
        adds.push(Column {
            name: COL_OVERFLOW.to_string(),
            ty: ColumnType::String,
        });
    }
    let mut overflow_changes: Vec<(String, Column)> = overflow_changes.into_iter().collect();
    overflow_changes.sort_by(|a, b| a.0.cmp(&b.0));
    ColumnPlan {
        adds,
        slots,
        fresh,
        overflow_changes,
        spill_names,
        fields_spilled,
        spilled_at,
        overflow_slot,
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
    plan: &ColumnPlan,
    columns: &[Column],
    events: &[Event],
    first_seq: i64,
) -> Result<RecordBatch, StoreError> {
    let slots = &plan.slots;
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
    let mut spill = plan.spill_names.iter();
    let mut overflow: Vec<Option<String>> = Vec::new();
    if plan.fields_spilled > 0 {
        overflow.resize(n, None);
    }
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
        let mut spilled = String::new();
        for (_, v) in &e.fields {
            let c = slot.next().copied().unwrap_or(NO_COLUMN) as usize;
            let name = spill.next().and_then(Option::as_ref);
            if let Some(cell) = cells.get_mut(c) {
                cell.push((row, v));
            } else if let Some(name) = name {
                model::schema::overflow::push(&mut spilled, name, v);
            }
        }
        if !spilled.is_empty() {
            if let Some(slot) = overflow.get_mut(row) {
                *slot = Some(spilled);
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
        if Some(c) == plan.overflow_slot && !overflow.is_empty() {
            arrays.push(Arc::new(duckdb::arrow::array::StringArray::from(
                std::mem::take(&mut overflow),
            )));
            continue;
        }
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
