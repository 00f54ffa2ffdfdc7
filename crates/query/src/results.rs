//! Turns rows of a rendered totals / series query into Honeycomb's `data.results` and
//! `data.series` JSON (OpenAPI `QueryResultsData`, `QueryResultsSeries`): one flat object per
//! row with breakdown columns and aggregate keys (`COUNT`, `P99(duration_ms)`).
//!
//! HEATMAP values (undocumented by Honeycomb) are rendered as
//! `{"min": m, "max": M, "buckets": [{"lower": l, "upper": u, "count": n}, …]}` with only the
//! non-empty buckets of the linear histogram described in `sql`.

use model::Value;
use serde_json::{json, Map};

use crate::plan::{Plan, HEATMAP_BUCKETS};
use crate::sql::{output_columns, OutputColumn};
use crate::Row;

/// Rows that do not have the shape the plan promised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    #[error("row {row} has {got} columns; expected {expected}")]
    Width {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("row {row}: time bucket is not an integer")]
    Bucket { row: usize },
}

/// RFC 3339 UTC text for Unix nanoseconds (`2021-04-09T14:16:00Z`; fraction only when
/// not a whole second).
pub fn rfc3339(ns: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(ns);
    if ns.rem_euclid(1_000_000_000) == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
    }
}

fn json_of(v: &Option<Value>) -> serde_json::Value {
    v.as_ref()
        .map(Value::to_json)
        .unwrap_or(serde_json::Value::Null)
}

fn as_f64(v: &Option<Value>) -> Option<f64> {
    v.as_ref().and_then(Value::as_f64)
}

/// A heatmap cell text `"i:n,i:n"` with bounds → Honeycomb-style JSON.
pub fn heatmap_json(text: Option<&str>, lo: Option<f64>, hi: Option<f64>) -> serde_json::Value {
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return json!({"min": null, "max": null, "buckets": []});
    };
    let step = (hi - lo) / HEATMAP_BUCKETS as f64;
    let mut buckets = Vec::new();
    for part in text.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        let mut it = part.splitn(2, ':');
        let (Some(Ok(i)), Some(Ok(n))) = (
            it.next().map(str::parse::<i64>),
            it.next().map(str::parse::<i64>),
        ) else {
            continue;
        };
        let (lower, upper) = if step == 0.0 {
            (lo, hi)
        } else {
            (lo + step * i as f64, lo + step * (i + 1) as f64)
        };
        buckets.push(json!({"lower": lower, "upper": upper, "count": n}));
    }
    json!({"min": lo, "max": hi, "buckets": buckets})
}

fn row_object(
    plan: &Plan,
    cols: &[OutputColumn],
    row: &Row,
    idx: usize,
) -> Result<(Option<i64>, Map<String, serde_json::Value>), ResultError> {
    if row.len() != cols.len() {
        return Err(ResultError::Width {
            row: idx,
            got: row.len(),
            expected: cols.len(),
        });
    }
    let mut data = Map::new();
    let mut bucket = None;
    for (c, v) in cols.iter().zip(row) {
        match *c {
            OutputColumn::Bucket => match v {
                Some(Value::Int(t)) => bucket = Some(*t),
                _ => return Err(ResultError::Bucket { row: idx }),
            },
            OutputColumn::Group(i) => {
                data.insert(plan.group_by[i].name.clone(), json_of(v));
            }
            OutputColumn::Aggregate(i) => {
                let agg = &plan.aggregates[i];
                if agg.op == crate::spec::CalcOp::Heatmap {
                    let lo = cols
                        .iter()
                        .position(|c| *c == OutputColumn::HeatmapMin(i))
                        .and_then(|p| as_f64(&row[p]));
                    let hi = cols
                        .iter()
                        .position(|c| *c == OutputColumn::HeatmapMax(i))
                        .and_then(|p| as_f64(&row[p]));
                    let text = match v {
                        Some(Value::Str(s)) => Some(s.as_str()),
                        _ => None,
                    };
                    data.insert(agg.label.clone(), heatmap_json(text, lo, hi));
                } else {
                    data.insert(agg.label.clone(), json_of(v));
                }
            }
            OutputColumn::HeatmapMin(_) | OutputColumn::HeatmapMax(_) => {}
        }
    }
    Ok((bucket, data))
}

/// `data.results`: `[{"data": {...}}]` from totals rows.
pub fn results_json(plan: &Plan, totals: &[Row]) -> Result<serde_json::Value, ResultError> {
    let cols = output_columns(plan, false);
    let mut out = Vec::with_capacity(totals.len());
    for (i, row) in totals.iter().enumerate() {
        let (_, data) = row_object(plan, &cols, row, i)?;
        out.push(json!({ "data": data }));
    }
    Ok(serde_json::Value::Array(out))
}

/// `data.series`: `[{"time": RFC3339, "data": {...}}]` from series rows.
pub fn series_json(plan: &Plan, series: &[Row]) -> Result<serde_json::Value, ResultError> {
    let cols = output_columns(plan, true);
    let mut out = Vec::with_capacity(series.len());
    for (i, row) in series.iter().enumerate() {
        let (bucket, data) = row_object(plan, &cols, row, i)?;
        let time = bucket.map(rfc3339).unwrap_or_default();
        out.push(json!({ "time": time, "data": data }));
    }
    Ok(serde_json::Value::Array(out))
}

/// Honeycomb's `data` object: `{"series": [...], "results": [...]}` (`series` omitted when
/// `None`, i.e. `disable_series`).
pub fn honeycomb_data(
    plan: &Plan,
    totals: &[Row],
    series: Option<&[Row]>,
) -> Result<serde_json::Value, ResultError> {
    let mut data = Map::new();
    if let Some(s) = series {
        data.insert("series".into(), series_json(plan, s)?);
    }
    data.insert("results".into(), results_json(plan, totals)?);
    Ok(serde_json::Value::Object(data))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::PlanContext;
    use crate::spec::QuerySpec;
    use model::schema::{Catalog, Column};
    use model::value::ColumnType;

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_617_977_760_000_000_000), "2021-04-09T14:16:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:00.000001500Z");
        assert_eq!(rfc3339(951_782_400 * 1_000_000_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn shapes_results_and_series() {
        let cat = Catalog {
            columns: vec![Column {
                name: "http.route".into(),
                ty: ColumnType::String,
            }],
            overflow: Vec::new(),
        };
        let spec = QuerySpec::from_json_str(
            r#"{"calculations":[{"op":"COUNT"},{"op":"P99","column":"duration_ms"},{"op":"HEATMAP","column":"duration_ms"}],"breakdowns":["http.route"]}"#,
        )
        .unwrap();
        let plan = Plan::from_spec(
            &spec,
            &PlanContext {
                dataset: "x",
                catalog: &cat,
                now_s: 0,
                limit_override: None,
                derived: &[],
            },
        )
        .unwrap();
        let row = vec![
            Some(Value::Str("/a".into())),
            Some(Value::Int(3)),
            Some(Value::Float(9.5)),
            Some(Value::Str("0:2,49:1".into())),
            Some(Value::Float(0.0)),
            Some(Value::Float(100.0)),
        ];
        let data = honeycomb_data(&plan, std::slice::from_ref(&row), Some(&[])).unwrap();
        assert_eq!(
            data,
            json!({"series": [], "results": [{"data": {
                "http.route": "/a", "COUNT": 3, "P99(duration_ms)": 9.5,
                "HEATMAP(duration_ms)": {"min": 0.0, "max": 100.0, "buckets": [
                    {"lower": 0.0, "upper": 2.0, "count": 2},
                    {"lower": 98.0, "upper": 100.0, "count": 1}]}}}]})
        );
        let mut srow = vec![Some(Value::Int(1_617_977_760_000_000_000))];
        srow.extend(row);
        let s = series_json(&plan, &[srow]).unwrap();
        assert_eq!(s[0]["time"], "2021-04-09T14:16:00Z");
        assert!(results_json(&plan, &[vec![None]]).is_err());
    }
}
