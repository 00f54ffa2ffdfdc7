//! Honeycomb's Query Specification as JSON types, and its validation with errors that name
//! the offending field (`calculations[1].column is required for P99`).
//!
//! Sources: Honeycomb OpenAPI `api.yaml` schemas `Query`, `QueryOp`, `FilterOp`, `HavingOp`;
//! https://docs.honeycomb.io/api/query-specification ; facts in
//! `shared/protocols/otlp-honeycomb.md` §8.1.

use serde::{Deserialize, Serialize};

/// Default `time_range` in seconds (query-specification docs: "defaults to 2 hours").
pub const TIME_RANGE_DEFAULT_S: i64 = 7200;
/// Default result limit (OpenAPI `Query.limit` default 100; terraform assumes 1000 — we follow
/// the OpenAPI document).
pub const LIMIT_DEFAULT: u32 = 100;
/// Largest `limit` a query spec may carry (OpenAPI: "max 1000").
pub const LIMIT_MAX: u32 = 1000;
/// Largest limit a query result may ask for with `disable_series` (OpenAPI `QueryResult`).
pub const LIMIT_MAX_DISABLE_SERIES: u32 = 10_000;
/// Most entries in each of `breakdowns`, `calculations`, `filters`, `orders`, `havings`
/// (OpenAPI `maxItems: 100`).
pub const LIST_ITEMS_MAX: usize = 100;
/// Fewest time buckets relative to the range: granularity may be at most the whole range
/// ("T/1") and at least range/1000 (https://docs.honeycomb.io/api/queries/).
pub const GRANULARITY_BUCKETS_MAX: i64 = 1000;
/// Longest column name (Honeycomb column `key_name` is 1-255 characters).
pub const COLUMN_NAME_LEN_MAX: usize = 255;
/// Most values in one `in` / `not-in` filter (our choice: 1000 keeps rendered SQL < ~300 KB
/// for 255-byte values).
pub const IN_VALUES_MAX: usize = 1000;
/// Longest string literal in a filter (Honeycomb strings are ≤ 64 KB: OpenAPI `Event`).
pub const FILTER_STRING_LEN_MAX: usize = 65_536;

/// Calculation operators (OpenAPI `QueryOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CalcOp {
    #[serde(rename = "COUNT")]
    Count,
    #[serde(rename = "CONCURRENCY")]
    Concurrency,
    #[serde(rename = "SUM")]
    Sum,
    #[serde(rename = "AVG")]
    Avg,
    #[serde(rename = "COUNT_DISTINCT")]
    CountDistinct,
    #[serde(rename = "HEATMAP")]
    Heatmap,
    #[serde(rename = "MAX")]
    Max,
    #[serde(rename = "MIN")]
    Min,
    #[serde(rename = "P001")]
    P001,
    #[serde(rename = "P01")]
    P01,
    #[serde(rename = "P05")]
    P05,
    #[serde(rename = "P10")]
    P10,
    #[serde(rename = "P20")]
    P20,
    #[serde(rename = "P25")]
    P25,
    #[serde(rename = "P50")]
    P50,
    #[serde(rename = "P75")]
    P75,
    #[serde(rename = "P80")]
    P80,
    #[serde(rename = "P90")]
    P90,
    #[serde(rename = "P95")]
    P95,
    #[serde(rename = "P99")]
    P99,
    #[serde(rename = "P999")]
    P999,
    #[serde(rename = "RATE_AVG")]
    RateAvg,
    #[serde(rename = "RATE_SUM")]
    RateSum,
    #[serde(rename = "RATE_MAX")]
    RateMax,
}

impl CalcOp {
    pub const ALL: [CalcOp; 24] = [
        CalcOp::Count,
        CalcOp::Concurrency,
        CalcOp::Sum,
        CalcOp::Avg,
        CalcOp::CountDistinct,
        CalcOp::Heatmap,
        CalcOp::Max,
        CalcOp::Min,
        CalcOp::P001,
        CalcOp::P01,
        CalcOp::P05,
        CalcOp::P10,
        CalcOp::P20,
        CalcOp::P25,
        CalcOp::P50,
        CalcOp::P75,
        CalcOp::P80,
        CalcOp::P90,
        CalcOp::P95,
        CalcOp::P99,
        CalcOp::P999,
        CalcOp::RateAvg,
        CalcOp::RateSum,
        CalcOp::RateMax,
    ];

    /// The name Honeycomb spells (`P99`, `COUNT_DISTINCT`).
    pub fn name(self) -> &'static str {
        match self {
            CalcOp::Count => "COUNT",
            CalcOp::Concurrency => "CONCURRENCY",
            CalcOp::Sum => "SUM",
            CalcOp::Avg => "AVG",
            CalcOp::CountDistinct => "COUNT_DISTINCT",
            CalcOp::Heatmap => "HEATMAP",
            CalcOp::Max => "MAX",
            CalcOp::Min => "MIN",
            CalcOp::P001 => "P001",
            CalcOp::P01 => "P01",
            CalcOp::P05 => "P05",
            CalcOp::P10 => "P10",
            CalcOp::P20 => "P20",
            CalcOp::P25 => "P25",
            CalcOp::P50 => "P50",
            CalcOp::P75 => "P75",
            CalcOp::P80 => "P80",
            CalcOp::P90 => "P90",
            CalcOp::P95 => "P95",
            CalcOp::P99 => "P99",
            CalcOp::P999 => "P999",
            CalcOp::RateAvg => "RATE_AVG",
            CalcOp::RateSum => "RATE_SUM",
            CalcOp::RateMax => "RATE_MAX",
        }
    }

    pub fn parse(name: &str) -> Option<CalcOp> {
        CalcOp::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The percentile in thousandths (`P99` → 990, `P001` → 1), for percentile ops.
    pub fn permille(self) -> Option<u32> {
        Some(match self {
            CalcOp::P001 => 1,
            CalcOp::P01 => 10,
            CalcOp::P05 => 50,
            CalcOp::P10 => 100,
            CalcOp::P20 => 200,
            CalcOp::P25 => 250,
            CalcOp::P50 => 500,
            CalcOp::P75 => 750,
            CalcOp::P80 => 800,
            CalcOp::P90 => 900,
            CalcOp::P95 => 950,
            CalcOp::P99 => 990,
            CalcOp::P999 => 999,
            _ => return None,
        })
    }

    /// `COUNT` and `CONCURRENCY` take no column; every other op requires one.
    pub fn needs_column(self) -> bool {
        !matches!(self, CalcOp::Count | CalcOp::Concurrency)
    }
}

/// Filter operators (OpenAPI `FilterOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FilterOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "starts-with")]
    StartsWith,
    #[serde(rename = "does-not-start-with")]
    DoesNotStartWith,
    #[serde(rename = "ends-with")]
    EndsWith,
    #[serde(rename = "does-not-end-with")]
    DoesNotEndWith,
    #[serde(rename = "exists")]
    Exists,
    #[serde(rename = "does-not-exist")]
    DoesNotExist,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "does-not-contain")]
    DoesNotContain,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not-in")]
    NotIn,
}

impl FilterOp {
    pub const ALL: [FilterOp; 16] = [
        FilterOp::Eq,
        FilterOp::Ne,
        FilterOp::Gt,
        FilterOp::Ge,
        FilterOp::Lt,
        FilterOp::Le,
        FilterOp::StartsWith,
        FilterOp::DoesNotStartWith,
        FilterOp::EndsWith,
        FilterOp::DoesNotEndWith,
        FilterOp::Exists,
        FilterOp::DoesNotExist,
        FilterOp::Contains,
        FilterOp::DoesNotContain,
        FilterOp::In,
        FilterOp::NotIn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "=",
            FilterOp::Ne => "!=",
            FilterOp::Gt => ">",
            FilterOp::Ge => ">=",
            FilterOp::Lt => "<",
            FilterOp::Le => "<=",
            FilterOp::StartsWith => "starts-with",
            FilterOp::DoesNotStartWith => "does-not-start-with",
            FilterOp::EndsWith => "ends-with",
            FilterOp::DoesNotEndWith => "does-not-end-with",
            FilterOp::Exists => "exists",
            FilterOp::DoesNotExist => "does-not-exist",
            FilterOp::Contains => "contains",
            FilterOp::DoesNotContain => "does-not-contain",
            FilterOp::In => "in",
            FilterOp::NotIn => "not-in",
        }
    }

    pub fn parse(name: &str) -> Option<FilterOp> {
        FilterOp::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// `filter_combination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FilterCombination {
    #[default]
    #[serde(rename = "AND")]
    And,
    #[serde(rename = "OR")]
    Or,
}

/// `orders[].order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    #[serde(rename = "ascending")]
    Ascending,
    #[serde(rename = "descending")]
    Descending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calculation {
    pub op: CalcOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
    /// None for `exists`/`does-not-exist`, an array for `in`/`not-in`, else a scalar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<CalcOp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default)]
    pub order: SortOrder,
}

/// Having comparison operators (OpenAPI `HavingOp`: `= != > >= < <=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HavingOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Having {
    pub calculate_op: CalcOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub op: HavingOp,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalculatedField {
    pub name: String,
    pub expression: String,
}

/// A Honeycomb query specification. Every field is optional; unknown fields are ignored (as
/// Honeycomb's API does for forward compatibility).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuerySpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calculations: Vec<Calculation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_combination: Option<FilterCombination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdowns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<Order>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub havings: Vec<Having>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calculated_fields: Vec<CalculatedField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_time_offset_seconds: Option<i64>,
}

/// A spec that cannot be run. `field` is a JSON path into the spec (`filters[2].value`);
/// the HTTP layer maps it to Honeycomb's 422 `type_detail[].field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Decodes one element of a list with its path in the error.
fn decode_list<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Vec<T>, SpecError> {
    let Some(v) = obj.get(key) else {
        return Ok(Vec::new());
    };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let serde_json::Value::Array(items) = v else {
        return Err(SpecError::new(key, "must be an array"));
    };
    if items.len() > LIST_ITEMS_MAX {
        return Err(SpecError::new(
            key,
            format!(
                "has {} items; at most {LIST_ITEMS_MAX} are allowed",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item.clone())
                .map_err(|e| SpecError::new(format!("{key}[{i}]"), format!("is invalid: {e}")))
        })
        .collect()
}

fn decode_field<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<T>, SpecError> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| SpecError::new(key, format!("is invalid: {e}"))),
    }
}

impl QuerySpec {
    /// Parses JSON with errors that name the field, then [`validate`](Self::validate)s.
    pub fn from_json(json: &serde_json::Value) -> Result<QuerySpec, SpecError> {
        let serde_json::Value::Object(obj) = json else {
            return Err(SpecError::new("query", "must be a JSON object"));
        };
        let spec = QuerySpec {
            calculations: decode_list(obj, "calculations")?,
            filters: decode_list(obj, "filters")?,
            filter_combination: decode_field(obj, "filter_combination")?,
            breakdowns: decode_list(obj, "breakdowns")?,
            orders: decode_list(obj, "orders")?,
            havings: decode_list(obj, "havings")?,
            limit: decode_field(obj, "limit")?,
            time_range: decode_field(obj, "time_range")?,
            start_time: decode_field(obj, "start_time")?,
            end_time: decode_field(obj, "end_time")?,
            granularity: decode_field(obj, "granularity")?,
            calculated_fields: decode_list(obj, "calculated_fields")?,
            compare_time_offset_seconds: decode_field(obj, "compare_time_offset_seconds")?,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Parses JSON text (see [`from_json`](Self::from_json)).
    pub fn from_json_str(text: &str) -> Result<QuerySpec, SpecError> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| SpecError::new("query", format!("is not valid JSON: {e}")))?;
        Self::from_json(&v)
    }

    /// The calculations to run: `COUNT` when none are given (query-specification docs).
    pub fn effective_calculations(&self) -> Vec<Calculation> {
        if self.calculations.is_empty() {
            vec![Calculation {
                op: CalcOp::Count,
                column: None,
            }]
        } else {
            self.calculations.clone()
        }
    }

    /// `[start, end)` in Unix seconds, given the current time.
    pub fn time_window(&self, now_s: i64) -> Result<(i64, i64), SpecError> {
        let range = self.time_range.unwrap_or(TIME_RANGE_DEFAULT_S);
        Ok(match (self.start_time, self.end_time) {
            (Some(s), Some(e)) => {
                if self.time_range.is_some() {
                    return Err(SpecError::new(
                        "time_range",
                        "cannot be combined with both start_time and end_time",
                    ));
                }
                (s, e)
            }
            (Some(s), None) => (s, s.saturating_add(range)),
            (None, Some(e)) => (e.saturating_sub(range), e),
            // "The last N seconds" includes the current second: events sent a moment ago
            // are found at once (the window is half-open, so end = now + 1).
            (None, None) => (
                now_s.saturating_add(1).saturating_sub(range),
                now_s.saturating_add(1),
            ),
        })
    }

    /// Structural validation (no catalog needed). Errors name the first offending field.
    pub fn validate(&self) -> Result<(), SpecError> {
        for (key, n) in [
            ("calculations", self.calculations.len()),
            ("filters", self.filters.len()),
            ("breakdowns", self.breakdowns.len()),
            ("orders", self.orders.len()),
            ("havings", self.havings.len()),
            ("calculated_fields", self.calculated_fields.len()),
        ] {
            if n > LIST_ITEMS_MAX {
                return Err(SpecError::new(
                    key,
                    format!("has {n} items; at most {LIST_ITEMS_MAX} are allowed"),
                ));
            }
        }
        for (i, c) in self.calculations.iter().enumerate() {
            let field = format!("calculations[{i}].column");
            match (&c.column, c.op.needs_column()) {
                (None, true) => {
                    return Err(SpecError::new(
                        field,
                        format!("is required for {}", c.op.name()),
                    ))
                }
                (Some(_), false) => {
                    return Err(SpecError::new(
                        field,
                        format!("must be omitted for {}", c.op.name()),
                    ))
                }
                (Some(col), true) => check_column_name(&field, col)?,
                (None, false) => {}
            }
        }
        for (i, f) in self.filters.iter().enumerate() {
            check_column_name(&format!("filters[{i}].column"), &f.column)?;
            let field = format!("filters[{i}].value");
            match f.op {
                FilterOp::Exists | FilterOp::DoesNotExist => {
                    if f.value.as_ref().is_some_and(|v| !v.is_null()) {
                        return Err(SpecError::new(
                            field,
                            format!("must be omitted for {}", f.op.name()),
                        ));
                    }
                }
                FilterOp::In | FilterOp::NotIn => match &f.value {
                    Some(serde_json::Value::Array(items)) => {
                        if items.len() > IN_VALUES_MAX {
                            return Err(SpecError::new(
                                field,
                                format!("has {} items; at most {IN_VALUES_MAX}", items.len()),
                            ));
                        }
                        for (j, item) in items.iter().enumerate() {
                            check_scalar(&format!("{field}[{j}]"), item)?;
                        }
                    }
                    _ => {
                        return Err(SpecError::new(
                            field,
                            format!("must be an array for {}", f.op.name()),
                        ))
                    }
                },
                _ => match &f.value {
                    None | Some(serde_json::Value::Null) => {
                        return Err(SpecError::new(
                            field,
                            format!("is required for {}", f.op.name()),
                        ))
                    }
                    Some(v) => check_scalar(&field, v)?,
                },
            }
        }
        for (i, b) in self.breakdowns.iter().enumerate() {
            check_column_name(&format!("breakdowns[{i}]"), b)?;
        }
        let calcs = self.effective_calculations();
        for (i, o) in self.orders.iter().enumerate() {
            match (o.op, &o.column) {
                (None, None) => {
                    return Err(SpecError::new(
                        format!("orders[{i}]"),
                        "needs an op or a column",
                    ))
                }
                (None, Some(col)) => {
                    if !self.breakdowns.contains(col) {
                        return Err(SpecError::new(
                            format!("orders[{i}].column"),
                            format!("{col:?} is not one of the breakdowns"),
                        ));
                    }
                }
                (Some(op), col) => {
                    if op == CalcOp::Heatmap {
                        return Err(SpecError::new(
                            format!("orders[{i}].op"),
                            "cannot order by HEATMAP",
                        ));
                    }
                    if !calcs.iter().any(|c| c.op == op && c.column == *col) {
                        return Err(SpecError::new(
                            format!("orders[{i}]"),
                            format!(
                                "{} is not one of the calculations",
                                calc_label(op, col.as_deref())
                            ),
                        ));
                    }
                }
            }
        }
        for (i, h) in self.havings.iter().enumerate() {
            if h.calculate_op == CalcOp::Heatmap {
                return Err(SpecError::new(
                    format!("havings[{i}].calculate_op"),
                    "cannot be HEATMAP",
                ));
            }
            if !h.value.is_finite() {
                return Err(SpecError::new(
                    format!("havings[{i}].value"),
                    "must be a finite number",
                ));
            }
            if !calcs
                .iter()
                .any(|c| c.op == h.calculate_op && c.column == h.column)
            {
                return Err(SpecError::new(
                    format!("havings[{i}]"),
                    format!(
                        "{} is not one of the calculations",
                        calc_label(h.calculate_op, h.column.as_deref())
                    ),
                ));
            }
        }
        if let Some(limit) = self.limit {
            if limit == 0 || limit > LIMIT_MAX {
                return Err(SpecError::new(
                    "limit",
                    format!("must be between 1 and {LIMIT_MAX}"),
                ));
            }
        }
        if let Some(r) = self.time_range {
            if r <= 0 {
                return Err(SpecError::new("time_range", "must be positive"));
            }
        }
        if let (Some(s), Some(e)) = (self.start_time, self.end_time) {
            if s > e {
                return Err(SpecError::new("start_time", "must not be after end_time"));
            }
        }
        let (start, end) = self.time_window(0)?;
        if let Some(g) = self.granularity {
            let range = end.saturating_sub(start).max(1);
            if g <= 0 {
                return Err(SpecError::new("granularity", "must be positive"));
            }
            if g > range {
                return Err(SpecError::new(
                    "granularity",
                    format!("must be at most the time range ({range} s)"),
                ));
            }
            if range / g > GRANULARITY_BUCKETS_MAX {
                return Err(SpecError::new(
                    "granularity",
                    format!(
                        "must be at least the time range / {GRANULARITY_BUCKETS_MAX} ({} s)",
                        (range + GRANULARITY_BUCKETS_MAX - 1) / GRANULARITY_BUCKETS_MAX
                    ),
                ));
            }
        }
        for (i, f) in self.calculated_fields.iter().enumerate() {
            check_column_name(&format!("calculated_fields[{i}].name"), &f.name)?;
        }
        Ok(())
    }
}

/// `COUNT`, `P99(duration_ms)`: the result key Honeycomb uses for a calculation.
pub fn calc_label(op: CalcOp, column: Option<&str>) -> String {
    match column {
        Some(c) => format!("{}({c})", op.name()),
        None => op.name().to_string(),
    }
}

fn check_column_name(field: &str, name: &str) -> Result<(), SpecError> {
    if name.is_empty() {
        return Err(SpecError::new(field, "must not be empty"));
    }
    if name.len() > COLUMN_NAME_LEN_MAX {
        return Err(SpecError::new(
            field,
            format!("is longer than {COLUMN_NAME_LEN_MAX} bytes"),
        ));
    }
    Ok(())
}

fn check_scalar(field: &str, v: &serde_json::Value) -> Result<(), SpecError> {
    match v {
        serde_json::Value::String(s) if s.len() > FILTER_STRING_LEN_MAX => Err(SpecError::new(
            field,
            format!("is longer than {FILTER_STRING_LEN_MAX} bytes"),
        )),
        serde_json::Value::String(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::Bool(_) => Ok(()),
        _ => Err(SpecError::new(field, "must be a string, number or boolean")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        QuerySpec::from_json_str(json).unwrap_err().to_string()
    }

    #[test]
    fn documented_example_parses_and_round_trips() {
        let text = r#"{
          "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
          "filters": [{"column": "service.name", "op": "=", "value": "api"}],
          "filter_combination": "AND",
          "breakdowns": ["http.route"],
          "orders": [{"op": "COUNT", "order": "descending"}],
          "havings": [{"calculate_op": "P99", "column": "duration_ms", "op": ">", "value": 100}],
          "limit": 100,
          "start_time": 1676399428, "end_time": 1676467828,
          "granularity": 600
        }"#;
        let spec = QuerySpec::from_json_str(text).unwrap();
        assert_eq!(spec.calculations[1].op, CalcOp::P99);
        let again = serde_json::to_value(&spec).unwrap();
        assert_eq!(QuerySpec::from_json(&again).unwrap(), spec);
    }

    #[test]
    fn every_op_name_round_trips() {
        for op in CalcOp::ALL {
            assert_eq!(CalcOp::parse(op.name()), Some(op));
            let j = serde_json::to_value(op).unwrap();
            assert_eq!(j, serde_json::Value::String(op.name().into()));
        }
        for op in FilterOp::ALL {
            assert_eq!(FilterOp::parse(op.name()), Some(op));
            let j = serde_json::to_value(op).unwrap();
            assert_eq!(j, serde_json::Value::String(op.name().into()));
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(r#"{"calculations":[{"op":"COUNT"},{"op":"P99"}]}"#),
            "calculations[1].column is required for P99"
        );
        assert!(err(r#"{"calculations":[{"op":"P98","column":"x"}]}"#)
            .starts_with("calculations[0] is invalid: unknown variant `P98`"));
        assert_eq!(
            err(r#"{"filters":[{"column":"a","op":"in","value":"x"}]}"#),
            "filters[0].value must be an array for in"
        );
        assert_eq!(
            err(r#"{"filters":[{"column":"a","op":">"}]}"#),
            "filters[0].value is required for >"
        );
        assert_eq!(
            err(r#"{"filters":[{"column":"a","op":"exists","value":1}]}"#),
            "filters[0].value must be omitted for exists"
        );
        assert_eq!(
            err(r#"{"filters":[{"column":"","op":"exists"}]}"#),
            "filters[0].column must not be empty"
        );
        assert_eq!(
            err(r#"{"havings":[{"calculate_op":"P99","column":"d","op":">","value":1}]}"#),
            "havings[0] P99(d) is not one of the calculations"
        );
        assert_eq!(
            err(r#"{"orders":[{"column":"x"}]}"#),
            "orders[0].column \"x\" is not one of the breakdowns"
        );
        assert_eq!(err(r#"{"limit":0}"#), "limit must be between 1 and 1000");
        assert_eq!(
            err(r#"{"time_range":60,"start_time":1,"end_time":2}"#),
            "time_range cannot be combined with both start_time and end_time"
        );
        assert_eq!(
            err(r#"{"start_time":10,"end_time":2}"#),
            "start_time must not be after end_time"
        );
        assert_eq!(
            err(r#"{"time_range":7200,"granularity":1}"#),
            "granularity must be at least the time range / 1000 (8 s)"
        );
        assert_eq!(
            err(r#"{"filter_combination":"XOR"}"#).split(':').next(),
            Some("filter_combination is invalid")
        );
        assert_eq!(err("[]"), "query must be a JSON object");
    }

    #[test]
    fn time_window_rules() {
        let mut s = QuerySpec::default();
        assert_eq!(s.time_window(10_000).unwrap(), (10_001 - 7200, 10_001));
        s.start_time = Some(100);
        s.time_range = Some(50);
        assert_eq!(s.time_window(0).unwrap(), (100, 150));
        s.start_time = None;
        s.end_time = Some(100);
        assert_eq!(s.time_window(0).unwrap(), (50, 100));
    }
}
