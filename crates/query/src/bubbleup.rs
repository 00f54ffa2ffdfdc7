//! BubbleUp: for a baseline query (dataset, window, filters) and a selection inside it (a
//! filter, or a time × value rectangle of a heatmap), one SQL statement that returns, per
//! candidate column, the weighted event counts of its top values inside the selection and in
//! the baseline (= matching events *not* selected, Honeycomb's current definition), and a
//! pure ranking of the columns by how differently their values are distributed.
//!
//! Columns: strings, booleans and integers are categorical (top
//! [`BubbleUpQuery::top_values`] values by total count, plus "missing" as a value); floats
//! (incl. `duration_ms`) are cut into [`NUMERIC_BUCKETS`] linear buckets over their
//! [min, max] in the baseline query. Score of a column = the largest |selection% −
//! baseline%| over its reported values.

use model::schema::{Catalog, COL_DURATION_MS, COL_NAME, COL_SERVICE};
use model::value::ColumnType;
use model::Value;
use serde::Serialize;

use crate::dialect::Dialect;
use crate::plan::{CmpOp, ColumnKind, ColumnRef, Operand, Plan, Predicate};
use crate::sql::{Renderer, EVENTS_TABLE, EVENT_ALIAS};
use crate::Row;

/// Most columns compared in one BubbleUp (our choice: 100 columns × 10 values keeps the
/// result ≤ 1,000 rows and the statement to one scan with 100 aggregations).
pub const BUBBLEUP_COLUMNS_MAX: usize = 100;
/// Values reported per categorical column by default (our choice: what fits a bar chart).
pub const TOP_VALUES_DEFAULT: usize = 10;
/// Most values per column a caller may ask for (our choice).
pub const TOP_VALUES_MAX: usize = 100;
/// Linear buckets for numeric (float) columns (our choice: a readable histogram).
pub const NUMERIC_BUCKETS: i64 = 10;

/// What is selected inside the baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Events matching a predicate (e.g. one result line of a grouped chart).
    Predicate(Predicate),
    /// A heatmap rectangle: time in `[start_ns, end_ns)` and `low ≤ column ≤ high`.
    Region {
        start_ns: i64,
        end_ns: i64,
        column: ColumnRef,
        low: f64,
        high: f64,
    },
}

impl Selection {
    pub fn predicate(&self) -> Predicate {
        match self {
            Selection::Predicate(p) => p.clone(),
            Selection::Region {
                start_ns,
                end_ns,
                column,
                low,
                high,
            } => {
                let ts = Operand::Column(ColumnRef {
                    name: model::schema::FIELD_TIMESTAMP.into(),
                    kind: ColumnKind::Timestamp,
                });
                Predicate::and(vec![
                    Predicate::Compare {
                        lhs: ts.clone(),
                        op: CmpOp::Ge,
                        value: Value::Int(*start_ns),
                    },
                    Predicate::Compare {
                        lhs: ts,
                        op: CmpOp::Lt,
                        value: Value::Int(*end_ns),
                    },
                    Predicate::Compare {
                        lhs: Operand::AsDouble(column.clone()),
                        op: CmpOp::Ge,
                        value: Value::Float(*low),
                    },
                    Predicate::Compare {
                        lhs: Operand::AsDouble(column.clone()),
                        op: CmpOp::Le,
                        value: Value::Float(*high),
                    },
                ])
            }
        }
    }
}

/// A BubbleUp request over `base` (its dataset, window and predicate; groups/aggregates are
/// ignored).
#[derive(Debug, Clone)]
pub struct BubbleUpQuery<'a> {
    pub base: &'a Plan,
    pub selection: Selection,
    /// Columns to compare (see [`candidate_columns`]); at most [`BUBBLEUP_COLUMNS_MAX`] used.
    pub columns: Vec<ColumnRef>,
    pub top_values: usize,
    /// Read only this percentage of the selection's and the baseline's events (engine
    /// block sampling, applied before filtering). `None` reads everything. The caller picks
    /// the percentages from exact counts so each side keeps enough events (see
    /// [`sample_percent`]); proportions are estimated, counts should come from the exact pass.
    pub sample: Option<(f64, f64)>,
}

/// Events per side BubbleUp wants to read at most (our choice: the proportion of a value is
/// then within about ±0.35 percentage points, one standard error at worst).
pub const SAMPLE_EVENTS_TARGET: f64 = 20_000.0;

/// The share of the scanned blocks one side may read, in percent, while it still keeps
/// [`SAMPLE_EVENTS_MIN`] events (our choice, measured on 10M spans in BENCHMARKS.md: block
/// sampling happens before the selection filter, so a rare selection at 20k events read a
/// quarter of every column, 0.4 s of the 0.9 s; at 5% it reads 0.1 s).
pub const SAMPLE_PERCENT_MAX: f64 = 5.0;

/// Fewest events a side keeps when [`SAMPLE_PERCENT_MAX`] would leave fewer (±1.1 points);
/// a rarer side is read in full, slowly but exactly.
pub const SAMPLE_EVENTS_MIN: f64 = 2_000.0;

/// Below this many scanned events both sides are read in full (our choice: a full read of
/// this many events takes tens of milliseconds).
pub const FULL_READ_EVENTS_MAX: i64 = 200_000;

/// The percentage of the scanned blocks to read for a side of `count` events among
/// `scanned` in all, so about [`SAMPLE_EVENTS_TARGET`] events remain, reading at most
/// [`SAMPLE_PERCENT_MAX`] unless that would leave fewer than [`SAMPLE_EVENTS_MIN`].
pub fn sample_percent(count: i64, scanned: i64) -> f64 {
    if scanned <= FULL_READ_EVENTS_MAX || count as f64 <= SAMPLE_EVENTS_MIN {
        return 100.0;
    }
    let count = count as f64;
    let target = SAMPLE_EVENTS_TARGET / count * 100.0;
    let floor = SAMPLE_EVENTS_MIN / count * 100.0;
    target.min(SAMPLE_PERCENT_MAX).max(floor).clamp(0.01, 100.0)
}

/// Whether a column is bucketed (floats) rather than categorical.
pub fn is_bucketed(c: &ColumnRef) -> bool {
    c.value_type() == Some(ColumnType::Float)
}

/// Default candidates: `name`, `service.name`, `duration_ms` and every catalog column (ids
/// and internal columns excluded), capped at [`BUBBLEUP_COLUMNS_MAX`].
pub fn candidate_columns(catalog: &Catalog) -> Vec<ColumnRef> {
    let mut cols = vec![
        ColumnRef {
            name: COL_NAME.into(),
            kind: ColumnKind::Stored(ColumnType::String),
        },
        ColumnRef {
            name: COL_SERVICE.into(),
            kind: ColumnKind::Stored(ColumnType::String),
        },
        ColumnRef {
            name: COL_DURATION_MS.into(),
            kind: ColumnKind::Stored(ColumnType::Float),
        },
    ];
    for c in catalog.columns.iter().chain(&catalog.overflow) {
        if c.name.starts_with("__")
            || model::schema::is_computed_field(&c.name)
            || cols.iter().any(|x| x.name.eq_ignore_ascii_case(&c.name))
        {
            continue;
        }
        // Resolved like any query column, so values in the overflow column count too.
        cols.push(crate::plan::resolve_column(
            &c.name,
            catalog,
            &mut Vec::new(),
        ));
    }
    cols.truncate(BUBBLEUP_COLUMNS_MAX);
    cols
}

/// One statement returning rows `(column_index BIGINT, value VARCHAR, low DOUBLE,
/// high DOUBLE, selected BIGINT, baseline BIGINT)`: column index −1 is the totals row; for
/// bucketed columns `value` is the bucket number and `low`/`high` its bounds; a NULL value
/// means "column missing". Ordered by column, then count descending.
pub fn render(q: &BubbleUpQuery<'_>, d: &dyn Dialect) -> String {
    let plan = q.base;
    let r = Renderer::new(d, plan.start_ns, plan.end_ns);
    let id = |s: &str| d.ident(s);
    let cols: Vec<&ColumnRef> = q.columns.iter().take(BUBBLEUP_COLUMNS_MAX).collect();
    let k = q.top_values.clamp(1, TOP_VALUES_MAX);
    let mut base_cols = vec![
        format!(
            "{} AS {}",
            r.qcol(EVENT_ALIAS, model::schema::COL_SAMPLE_RATE),
            id("w")
        ),
        format!(
            "COALESCE({}, FALSE) AS {}",
            r.predicate(&q.selection.predicate(), EVENT_ALIAS),
            id("s")
        ),
    ];
    for (i, c) in cols.iter().enumerate() {
        let expr = if is_bucketed(c) {
            r.numeric(c, EVENT_ALIAS)
        } else {
            r.text(c, EVENT_ALIAS)
        };
        base_cols.push(format!("{expr} AS {}", id(&format!("c{i}"))));
    }
    let from = |pct: Option<f64>| match pct {
        Some(p) if p < 100.0 => format!(
            "{} AS {} {}",
            id(EVENTS_TABLE),
            id(EVENT_ALIAS),
            d.block_sample(p)
        ),
        _ => format!("{} AS {}", id(EVENTS_TABLE), id(EVENT_ALIAS)),
    };
    let scope = format!(
        "{} AND {}",
        r.scope(plan.dataset.as_deref(), EVENT_ALIAS),
        r.predicate(&plan.predicate, EVENT_ALIAS)
    );
    let base_sql = match q.sample {
        None => format!(
            "SELECT {} FROM {} WHERE {scope}",
            base_cols.join(", "),
            from(None)
        ),
        Some((ps, pb)) => {
            let sel = format!(
                "COALESCE({}, FALSE)",
                r.predicate(&q.selection.predicate(), EVENT_ALIAS)
            );
            format!(
                "SELECT {cols} FROM {} WHERE {scope} AND {sel} UNION ALL SELECT {cols} FROM {} WHERE {scope} AND NOT {sel}",
                from(Some(ps)),
                from(Some(pb)),
                cols = base_cols.join(", ")
            )
        }
    };
    // `base` is read by every column's GROUP BY: compute it once.
    let mut ctes = vec![format!(
        "{} AS {}({base_sql})",
        id("base"),
        d.materialized_cte()
    )];
    let numeric: Vec<usize> = (0..cols.len()).filter(|i| is_bucketed(cols[*i])).collect();
    if !numeric.is_empty() {
        let b: Vec<String> = numeric
            .iter()
            .flat_map(|i| {
                let c = id(&format!("c{i}"));
                [
                    format!("MIN({c}) AS {}", id(&format!("lo{i}"))),
                    format!("MAX({c}) AS {}", id(&format!("hi{i}"))),
                ]
            })
            .collect();
        ctes.push(format!(
            "{} AS (SELECT {} FROM {})",
            id("bounds"),
            b.join(", "),
            id("base")
        ));
    }
    let sel = d.filtered("SUM", &id("w"), &id("s"));
    let unsel = d.filtered("SUM", &id("w"), &format!("NOT {}", id("s")));
    let mut parts = vec![format!(
        "SELECT -1 AS {}, {} AS {}, CAST(NULL AS DOUBLE) AS {}, CAST(NULL AS DOUBLE) AS {}, {sel} AS {}, {unsel} AS {} FROM {}",
        id("col"),
        d.null_string(),
        id("val"),
        id("lo"),
        id("hi"),
        id("sel"),
        id("bl"),
        id("base")
    )];
    for (i, c) in cols.iter().enumerate() {
        let ci = id(&format!("c{i}"));
        if is_bucketed(c) {
            let (lo, hi) = (
                format!("{}.{}", id("bounds"), id(&format!("lo{i}"))),
                format!("{}.{}", id("bounds"), id(&format!("hi{i}"))),
            );
            let nb = d.double(NUMERIC_BUCKETS as f64);
            let idx = format!(
                "CASE WHEN {ci} IS NULL THEN NULL WHEN {hi} = {lo} THEN 0 ELSE LEAST({}, {}) END",
                d.to_bigint(&d.floor(&format!("({ci} - {lo}) / ({hi} - {lo}) * {nb}"))),
                d.int(NUMERIC_BUCKETS - 1)
            );
            let b = id("b");
            let (l, h) = (id("l"), id("h"));
            parts.push(format!(
                "SELECT {i}, {}, MIN({l}) + (MIN({h}) - MIN({l})) / {nb} * {b}, MIN({l}) + (MIN({h}) - MIN({l})) / {nb} * ({b} + 1), {sel}, {unsel} FROM (SELECT {}, {}, {lo} AS {l}, {hi} AS {h}, {idx} AS {b} FROM {} CROSS JOIN {}) AS {} GROUP BY {b}",
                d.to_text(&b),
                id("w"),
                id("s"),
                id("base"),
                id("bounds"),
                id("x")
            ));
        } else {
            parts.push(format!(
                "SELECT {i}, {ci}, CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), {sel}, {unsel} FROM {} GROUP BY {ci}",
                id("base")
            ));
        }
    }
    ctes.push(format!("{} AS ({})", id("u"), parts.join("\nUNION ALL ")));
    let total = format!("COALESCE({}, 0) + COALESCE({}, 0)", id("sel"), id("bl"));
    ctes.push(format!(
        "{} AS (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {total} DESC, {} ASC NULLS LAST) AS {} FROM {})",
        id("ranked"),
        id("col"),
        id("val"),
        id("rn"),
        id("u")
    ));
    format!(
        "WITH {}\nSELECT {}, {}, {}, {}, COALESCE({}, 0), COALESCE({}, 0) FROM {} WHERE {} <= {} ORDER BY {} ASC, {} ASC",
        ctes.join(",\n"),
        d.to_bigint(&id("col")),
        id("val"),
        id("lo"),
        id("hi"),
        d.to_bigint(&id("sel")),
        d.to_bigint(&id("bl")),
        id("ranked"),
        id("rn"),
        d.int(k as i64),
        id("col"),
        id("rn")
    )
}

/// One value of one column, inside and outside the selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueDiff {
    /// The value as text; None = the column is missing. For bucketed columns: `low`–`high`.
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    pub selection_count: i64,
    pub baseline_count: i64,
    /// Percent of selected events with this value.
    pub selection_pct: f64,
    /// Percent of baseline events with this value.
    pub baseline_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDiff {
    pub column: String,
    pub bucketed: bool,
    /// Largest |selection_pct − baseline_pct| over `values` (percentage points).
    pub score: f64,
    pub values: Vec<ValueDiff>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BubbleUpResult {
    pub selection_count: i64,
    pub baseline_count: i64,
    /// Most different first.
    pub columns: Vec<ColumnDiff>,
}

fn int_at(row: &Row, i: usize) -> i64 {
    match row.get(i) {
        Some(Some(Value::Int(n))) => *n,
        Some(Some(Value::Float(f))) => *f as i64,
        _ => 0,
    }
}

fn float_at(row: &Row, i: usize) -> Option<f64> {
    row.get(i).and_then(|v| v.as_ref()).and_then(Value::as_f64)
}

/// Ranks columns from the rows of [`render`]. Pure; rows with unknown column indexes are
/// ignored. Ties are broken by column name.
pub fn rank(columns: &[ColumnRef], rows: &[Row]) -> BubbleUpResult {
    let (mut sel_total, mut base_total) = (0, 0);
    let mut per: Vec<Vec<&Row>> = vec![Vec::new(); columns.len()];
    for row in rows {
        let c = int_at(row, 0);
        if c < 0 {
            sel_total = int_at(row, 4);
            base_total = int_at(row, 5);
        } else if let Some(list) = usize::try_from(c).ok().and_then(|c| per.get_mut(c)) {
            list.push(row);
        }
    }
    let pct = |n: i64, total: i64| {
        if total == 0 {
            0.0
        } else {
            n as f64 * 100.0 / total as f64
        }
    };
    let mut out: Vec<ColumnDiff> = columns
        .iter()
        .zip(per)
        .map(|(c, rows)| {
            let values: Vec<ValueDiff> = rows
                .iter()
                .map(|row| {
                    let (s, b) = (int_at(row, 4), int_at(row, 5));
                    let low = float_at(row, 2);
                    let high = float_at(row, 3);
                    let value = match (row.get(1), low, high) {
                        (Some(Some(_)), Some(l), Some(h)) => Some(format!("{l}–{h}")),
                        (Some(Some(v)), _, _) => Some(v.to_string()),
                        _ => None,
                    };
                    ValueDiff {
                        value,
                        low,
                        high,
                        selection_count: s,
                        baseline_count: b,
                        selection_pct: pct(s, sel_total),
                        baseline_pct: pct(b, base_total),
                    }
                })
                .collect();
            let score = values
                .iter()
                .map(|v| (v.selection_pct - v.baseline_pct).abs())
                .fold(0.0, f64::max);
            ColumnDiff {
                column: c.name.clone(),
                bucketed: is_bucketed(c),
                score,
                values,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.column.cmp(&b.column))
    });
    BubbleUpResult {
        selection_count: sel_total,
        baseline_count: base_total,
        columns: out,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sample_percent_bounds_what_a_side_reads() {
        // Small scans, and sides that are rare in absolute terms, are read in full.
        assert_eq!(sample_percent(150_000, 190_000), 100.0);
        assert_eq!(sample_percent(1_500, 10_000_000), 100.0);
        // A large side reads about the target.
        assert!((sample_percent(10_000_000, 10_100_000) - 0.2).abs() < 1e-9);
        // A sparse selection is capped, as long as it keeps the minimum.
        assert_eq!(sample_percent(85_000, 10_000_000), SAMPLE_PERCENT_MAX);
        let p = sample_percent(15_000, 10_000_000);
        assert!(
            (p / 100.0 * 15_000.0 - SAMPLE_EVENTS_MIN).abs() < 1e-6,
            "{p}"
        );
    }

    fn s(v: &str) -> Option<Value> {
        Some(Value::Str(v.into()))
    }
    fn i(v: i64) -> Option<Value> {
        Some(Value::Int(v))
    }

    #[test]
    fn ranks_by_largest_proportion_difference() {
        let cols = vec![
            ColumnRef {
                name: "route".into(),
                kind: ColumnKind::Stored(ColumnType::String),
            },
            ColumnRef {
                name: "region".into(),
                kind: ColumnKind::Stored(ColumnType::String),
            },
        ];
        let rows = vec![
            vec![i(-1), None, None, None, i(10), i(90)],
            vec![i(0), s("/a"), None, None, i(5), i(45)],
            vec![i(0), s("/b"), None, None, i(5), i(45)],
            vec![i(1), s("eu"), None, None, i(9), i(9)],
            vec![i(1), None, None, None, i(1), i(81)],
        ];
        let r = rank(&cols, &rows);
        assert_eq!(r.selection_count, 10);
        assert_eq!(r.columns[0].column, "region");
        assert_eq!(r.columns[0].values[0].selection_pct, 90.0);
        assert_eq!(r.columns[0].values[0].baseline_pct, 10.0);
        assert_eq!(r.columns[0].score, 80.0);
        assert_eq!(r.columns[0].values[1].value, None);
        assert_eq!(r.columns[1].score, 0.0);
    }
}
