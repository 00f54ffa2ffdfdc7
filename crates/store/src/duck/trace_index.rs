//! The trace index: where in the ingest sequence each trace's events are, so a lookup by
//! trace id reads a row group or two instead of scanning every id in the store.
//!
//! Every committed group appends, in the same transaction as its events, one row per
//! (trace, group): the low half of the trace id and the first and last `__seq` of that
//! trace's events in the group. A lookup scans this narrow table (one row per trace per
//! group rather than per span, two compact columns) for the id's sequence range, then reads
//! `events` restricted to that range, where DuckDB's per-row-group min/max statistics on
//! `__seq` skip everything else. Only the low half is indexed: a rare collision widens the
//! range, and the events query still matches both halves.

use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, Int32Builder, Int64Builder};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use model::Event;

use crate::StoreError;

pub(crate) const TABLE: &str = "trace_index";

/// DDL for the index table.
pub(crate) const CREATE: &str = "CREATE TABLE IF NOT EXISTS trace_index (\
     trace_lo BIGINT NOT NULL, seq_first BIGINT NOT NULL, seq_len INTEGER NOT NULL)";

/// One row per trace present in `events`, whose sequence numbers start at `first_seq`.
pub(crate) fn entries(events: &[Event], first_seq: i64) -> Result<RecordBatch, StoreError> {
    let mut ranges: std::collections::HashMap<u64, (i64, i64), foldhash::fast::RandomState> =
        Default::default();
    for (i, e) in events.iter().enumerate() {
        let Some(id) = e.trace_id else { continue };
        let seq = first_seq + i as i64;
        ranges
            .entry(id.halves().1)
            .and_modify(|r| r.1 = seq)
            .or_insert((seq, seq));
    }
    let mut ranges: Vec<(u64, (i64, i64))> = ranges.into_iter().collect();
    // Sorted by position: neighbouring rows then have neighbouring sequence numbers, which
    // DuckDB's bit-packing stores in a few bits each.
    ranges.sort_unstable_by_key(|(_, (first, _))| *first);
    let mut lo = Int64Builder::with_capacity(ranges.len());
    let mut first = Int64Builder::with_capacity(ranges.len());
    let mut len = Int32Builder::with_capacity(ranges.len());
    for (l, (a, b)) in ranges {
        lo.append_value(l as i64);
        first.append_value(a);
        len.append_value(i32::try_from(b - a).unwrap_or(i32::MAX));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("trace_lo", DataType::Int64, false),
        Field::new("seq_first", DataType::Int64, false),
        Field::new("seq_len", DataType::Int32, false),
    ]));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(lo.finish()),
        Arc::new(first.finish()),
        Arc::new(len.finish()),
    ];
    RecordBatch::try_new(schema, arrays).map_err(|e| StoreError::Engine(e.to_string()))
}

/// Index rows of the trace whose low half is `lo`, as (first `__seq`, length), in order; at
/// most [`RANGES_READ_MAX`] + 1 of them.
pub(crate) fn ranges_sql(lo: u64) -> String {
    format!(
        "SELECT seq_first, seq_len FROM trace_index WHERE trace_lo = {} ORDER BY seq_first LIMIT {}",
        lo as i64,
        RANGES_READ_MAX + 1
    )
}

/// Index rows a lookup turns into separate ranges (our choice: a trace written in more
/// groups than this is read as one range from its first to its last event, see
/// [`last_sql`]).
pub(crate) const RANGES_READ_MAX: usize = 64;

/// The last `__seq` of the trace whose low half is `lo`, as one row.
pub(crate) fn last_sql(lo: u64) -> String {
    format!(
        "SELECT max(seq_first + seq_len) FROM trace_index WHERE trace_lo = {}",
        lo as i64
    )
}

/// Ranges closer than this many events are read as one (our choice: DuckDB's vector size,
/// the unit it reads anyway).
const RANGE_MERGE_GAP: i64 = 2048;

/// The inclusive `__seq` ranges to read for index rows `(first, len)` sorted by `first`,
/// neighbours merged.
pub(crate) fn read_ranges(rows: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &(first, len) in rows {
        let last = first.saturating_add(len.max(0));
        match out.last_mut() {
            Some(cur) if first <= cur.1.saturating_add(RANGE_MERGE_GAP) => cur.1 = cur.1.max(last),
            _ => out.push((first, last)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_neighbours() {
        assert_eq!(read_ranges(&[]), vec![]);
        assert_eq!(
            read_ranges(&[(10, 3), (100, 0), (5_000_000, 7)]),
            vec![(10, 100), (5_000_000, 5_000_007)]
        );
    }
}
