//! TraceQL metrics queries (`{ … } | rate() by (resource.service.name)`) → the shared plan,
//! and the plan's rows → Tempo's `/api/metrics/query_range` and `/api/metrics/query`
//! answers. Pure: no I/O.
//!
//! A metrics query is a spanset pipeline followed by one first-stage function. The pipeline
//! compiles exactly as a search does ([`super::compile()`]); its matched-spans predicate
//! becomes the plan's predicate, the `by (…)` attributes its groups, the step its
//! granularity, and the function its aggregates:
//!
//! | TraceQL | plan aggregate | value reported |
//! |---|---|---|
//! | `rate()` | `COUNT` | count ÷ step in seconds (instant: ÷ the window) |
//! | `count_over_time()` | `COUNT` | count |
//! | `min/max/avg/sum_over_time(a)` | `MIN/MAX/AVG/SUM(a)` | the value; `duration` in seconds |
//! | `quantile_over_time(a, q…)` | `P<q>(a)` per quantile | one series per `q` (label `p`) |
//! | `histogram_over_time(duration)` | `COUNT` by a power-of-two bucket | label `__bucket` (s) |
//!
//! Differences from Tempo, all deliberate: counts are weighted by each event's sample rate
//! (as every Honeycomb count in Waggle is; 1:1 data counts spans); quantiles are exact
//! (Tempo interpolates log₂ histogram buckets) and limited to the percentiles the plan
//! computes ([`QUANTILES`]); `with(sample=…)` hints change nothing (nothing is sampled).
//! Not run, answered [`Error::Unsupported`]: `compare()`, arithmetic between metrics
//! queries, and `histogram_over_time` of anything but `duration`.

use super::ast::*;
use super::compile::{column_of, compile, CompileContext};
use super::{parse, Error};
use crate::plan::{Plan, PlanContext, PlanError};
use crate::spec::{CalcOp, QuerySpec};
use crate::Row;
use model::schema::COL_DURATION_MS;
use model::Value;
use serde_json::{json, Value as Json};

/// Most series one answer holds (Tempo's default `max_response_series` is 1000).
pub const SERIES_MAX: u32 = 1000;
/// Most steps one range query spans (Prometheus' limit of points per series).
pub const INTERVALS_MAX: i64 = 11_000;
/// The quantiles `quantile_over_time` can ask for: the plan's percentiles.
pub const QUANTILES: &[(f64, CalcOp)] = &[
    (0.001, CalcOp::P001),
    (0.01, CalcOp::P01),
    (0.05, CalcOp::P05),
    (0.1, CalcOp::P10),
    (0.2, CalcOp::P20),
    (0.25, CalcOp::P25),
    (0.5, CalcOp::P50),
    (0.75, CalcOp::P75),
    (0.8, CalcOp::P80),
    (0.9, CalcOp::P90),
    (0.95, CalcOp::P95),
    (0.99, CalcOp::P99),
    (0.999, CalcOp::P999),
];
/// `histogram_over_time(duration)` buckets: upper bounds 2^k seconds for k in this range
/// (about 1 ms to 9 h; shorter spans fall in the first bucket, longer ones in the last).
pub const HISTOGRAM_POW2: std::ops::RangeInclusive<i32> = -10..=15;
/// Name of the derived bucket column (never a stored column: `__` names are internal).
const BUCKET: &str = "__bucket";

/// The window and step a metrics request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start_ns: i64,
    pub end_ns: i64,
    /// Step for range queries; `None` for an instant query (one value per series).
    pub step_ns: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Rate,
    Count,
    Value,
    Histogram,
}

/// What a series' values are made of: one plan aggregate, its `p` label, its unit factor.
#[derive(Debug, Clone)]
struct Output {
    aggregate: usize,
    quantile: Option<f64>,
    scale: f64,
}

/// A compiled metrics query.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The plan; run `sql::render_series` for a range query, `sql::render_totals` for an
    /// instant one.
    pub plan: Plan,
    func: Func,
    name: &'static str,
    /// `by (…)` labels as written, one per plan group (the histogram bucket comes after).
    labels: Vec<String>,
    outputs: Vec<Output>,
    second: Vec<SecondStage>,
    window: Window,
    /// Unknown attributes and other notes.
    pub warnings: Vec<String>,
}

fn unsupported<T>(loc: Loc, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::Unsupported {
        pos: loc.start,
        message: message.into(),
    })
}

/// Parses, validates and compiles a metrics query for `window`.
pub fn compile_metrics(
    text: &str,
    ctx: &CompileContext<'_>,
    window: Window,
) -> Result<Metrics, Error> {
    let q = parse(text)?;
    let (pipeline, first, second) = match &q.root {
        RootExpr::Metrics(MetricsExpr::Pipeline {
            pipeline,
            first,
            second,
            ..
        }) => (pipeline, first, second),
        RootExpr::Metrics(m) => {
            return unsupported(
                m.loc(),
                "arithmetic between metrics queries is not supported yet; run each query on its own",
            )
        }
        RootExpr::Spans(_) => {
            return Err(Error::Validation {
                pos: 0,
                message: "a metrics query needs a metrics function, such as `{ } | rate()`; this is a search (use /api/search)".into(),
            })
        }
    };
    let search = compile(
        &Query {
            root: RootExpr::Spans(SpansetExpr::Pipeline(pipeline.clone())),
            hints: Vec::new(),
        },
        ctx,
    )?;
    let mut warnings = search.warnings.clone();
    let mut labels = Vec::new();
    let mut breakdowns = Vec::new();
    for a in &first.by {
        let c = column_of(a, ctx, first.loc, "by()")?;
        // Intrinsics are labelled by their unscoped names (`name`, not `span:name`).
        let label = a.to_string();
        labels.push(match a {
            AttrRef::Intrinsic(_) => label.strip_prefix("span:").unwrap_or(&label).to_string(),
            AttrRef::Attribute(_) => label,
        });
        breakdowns.push(c.name.clone());
    }
    let value_column = |a: &AttrRef| -> Result<(String, f64), Error> {
        let c = column_of(a, ctx, first.loc, first.func.name())?;
        let scale = if c.name == COL_DURATION_MS { 1e-3 } else { 1.0 };
        Ok((c.name, scale))
    };
    let mut calcs = Vec::new();
    let mut outputs = Vec::new();
    let mut calculated = Vec::new();
    let func = match &first.func {
        MetricsFunc::Rate | MetricsFunc::CountOverTime => {
            calcs.push(json!({"op": "COUNT"}));
            outputs.push(Output {
                aggregate: 0,
                quantile: None,
                scale: 1.0,
            });
            if matches!(first.func, MetricsFunc::Rate) {
                Func::Rate
            } else {
                Func::Count
            }
        }
        MetricsFunc::MinOverTime(a)
        | MetricsFunc::MaxOverTime(a)
        | MetricsFunc::AvgOverTime(a)
        | MetricsFunc::SumOverTime(a) => {
            let op = match &first.func {
                MetricsFunc::MinOverTime(_) => "MIN",
                MetricsFunc::MaxOverTime(_) => "MAX",
                MetricsFunc::AvgOverTime(_) => "AVG",
                _ => "SUM",
            };
            let (column, scale) = value_column(a)?;
            calcs.push(json!({"op": op, "column": column}));
            outputs.push(Output {
                aggregate: 0,
                quantile: None,
                scale,
            });
            Func::Value
        }
        MetricsFunc::QuantileOverTime(a, qs) => {
            let (column, scale) = value_column(a)?;
            for (i, q) in qs.iter().enumerate() {
                let Some((_, op)) = QUANTILES.iter().find(|(v, _)| (v - q).abs() < 1e-9) else {
                    let list: Vec<String> = QUANTILES.iter().map(|(v, _)| v.to_string()).collect();
                    return unsupported(
                        first.loc,
                        format!(
                            "quantile {q} is not computed; quantile_over_time takes {}",
                            list.join(", ")
                        ),
                    );
                };
                calcs.push(json!({"op": op, "column": column}));
                outputs.push(Output {
                    aggregate: i,
                    quantile: Some(*q),
                    scale,
                });
            }
            Func::Value
        }
        MetricsFunc::HistogramOverTime(a) => {
            let (column, _) = value_column(a)?;
            if column != COL_DURATION_MS {
                return unsupported(
                    first.loc,
                    "histogram_over_time is supported over duration only",
                );
            }
            calculated.push(json!({"name": BUCKET, "expression": bucket_expression()}));
            breakdowns.push(BUCKET.to_string());
            calcs.push(json!({"op": "COUNT"}));
            outputs.push(Output {
                aggregate: 0,
                quantile: None,
                scale: 1.0,
            });
            Func::Histogram
        }
        MetricsFunc::Compare { .. } => {
            return unsupported(first.loc, "compare() is not supported yet")
        }
    };
    let (start_ns, end_ns) = (window.start_ns, window.end_ns);
    if end_ns <= start_ns {
        return Err(Error::Validation {
            pos: 0,
            message: "the window is empty: end must be after start".into(),
        });
    }
    let mut spec = json!({
        "calculations": calcs,
        "breakdowns": breakdowns,
        "start_time": start_ns.div_euclid(1_000_000_000),
        "end_time": end_ns.div_euclid(1_000_000_000) + 1,
        "limit": SERIES_MAX,
    });
    if !calculated.is_empty() {
        spec["calculated_fields"] = Json::Array(calculated);
    }
    let spec = QuerySpec::from_json(&spec).map_err(|e| Error::Validation {
        pos: first.loc.start,
        message: e.to_string(),
    })?;
    let mut plan = Plan::from_spec(
        &spec,
        &PlanContext {
            dataset: crate::plan::ALL_DATASETS,
            catalog: ctx.catalog,
            now_s: 0,
            limit_override: None,
            derived: &[],
        },
    )
    .map_err(|e| match e {
        PlanError::Spec(e) => Error::Validation {
            pos: first.loc.start,
            message: e.to_string(),
        },
        PlanError::Unsupported { field, message } => Error::Unsupported {
            pos: first.loc.start,
            message: format!("{field} {message}"),
        },
    })?;
    warnings.append(&mut plan.warnings);
    plan.start_ns = start_ns;
    plan.end_ns = end_ns;
    plan.predicate = search.spans;
    plan.granularity_ns = match window.step_ns {
        Some(step) => {
            if step <= 0 {
                return Err(Error::Validation {
                    pos: 0,
                    message: "step must be positive".into(),
                });
            }
            let steps = (end_ns - start_ns + step - 1) / step;
            if steps > INTERVALS_MAX {
                return Err(Error::Validation {
                    pos: 0,
                    message: format!(
                        "the window holds {steps} steps; at most {INTERVALS_MAX} are returned: use a longer step"
                    ),
                });
            }
            step
        }
        None => end_ns - start_ns,
    };
    Ok(Metrics {
        plan,
        func,
        name: first.func.name(),
        labels,
        outputs,
        second: second.clone(),
        window,
        warnings,
    })
}

/// `IF(LTE($duration_ms, 2^k s), 2^k, …)`: the smallest power-of-two number of seconds at
/// or above the duration (Tempo's `__bucket`).
fn bucket_expression() -> String {
    let ks: Vec<i32> = HISTOGRAM_POW2.collect();
    let mut expr = format!("{}", 2f64.powi(*ks.last().unwrap_or(&0)));
    for k in ks.iter().rev().skip(1) {
        let s = 2f64.powi(*k);
        expr = format!("IF(LTE(${COL_DURATION_MS}, {}), {}, {expr})", s * 1000.0, s);
    }
    expr
}

/// A label value as Tempo's `AnyValue` JSON (a missing value is an empty object).
fn any_value(v: &Option<Value>) -> Json {
    match v {
        Some(Value::Str(s)) => json!({ "stringValue": s }),
        Some(Value::Int(i)) => json!({ "intValue": i.to_string() }),
        Some(Value::Float(f)) => json!({ "doubleValue": f }),
        Some(Value::Bool(b)) => json!({ "boolValue": b }),
        None => json!({}),
    }
}

fn prom_text(v: &Option<Value>) -> String {
    match v {
        Some(Value::Str(s)) => format!("{s:?}"),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        None => "nil".into(),
    }
}

fn number(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Int(i)) => Some(*i as f64),
        Some(Value::Float(f)) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// One answer series being built: labels and (bucket ns, value) samples.
struct Series {
    labels: Vec<(String, Json, String)>,
    samples: Vec<(i64, f64)>,
}

impl Metrics {
    /// The series' label sets for a row's group values (one per output).
    fn label_sets(&self, groups: &[Option<Value>]) -> Vec<Vec<(String, Json, String)>> {
        let mut base: Vec<(String, Json, String)> = self
            .labels
            .iter()
            .zip(groups)
            .map(|(k, v)| (k.clone(), any_value(v), prom_text(v)))
            .collect();
        if self.func == Func::Histogram {
            let b = groups.get(self.labels.len()).cloned().flatten();
            let f = number(&b).unwrap_or(0.0);
            base.push((BUCKET.into(), json!({ "doubleValue": f }), f.to_string()));
        }
        if base.is_empty() && self.outputs.iter().all(|o| o.quantile.is_none()) {
            base.push((
                "__name__".into(),
                json!({ "stringValue": self.name }),
                format!("{:?}", self.name),
            ));
        }
        self.outputs
            .iter()
            .map(|o| {
                let mut l = base.clone();
                if let Some(q) = o.quantile {
                    l.push(("p".into(), json!({ "doubleValue": q }), q.to_string()));
                }
                l
            })
            .collect()
    }

    fn value(&self, o: &Output, row: &[Option<Value>], offset: usize, seconds: f64) -> Option<f64> {
        let v = number(row.get(offset + o.aggregate)?)?;
        Some(match self.func {
            Func::Rate => v / seconds,
            _ => v * o.scale,
        })
    }

    fn groups(&self) -> usize {
        self.plan.group_by.len()
    }

    /// Tempo's `/api/metrics/query_range` answer from `render_series` rows (bucket, groups…,
    /// aggregates…). Counts and rates are 0 in steps without spans; other functions have
    /// no sample there.
    pub fn range_json(&self, rows: &[Row]) -> Json {
        let step = self.plan.granularity_ns.max(1);
        let seconds = step as f64 / 1e9;
        let g = self.groups();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut out: Vec<Series> = Vec::new();
        for row in rows {
            let Some(Some(Value::Int(bucket))) = row.first() else {
                continue;
            };
            let groups = &row[1..(1 + g).min(row.len())];
            for (o, labels) in self.outputs.iter().zip(self.label_sets(groups)) {
                let key = serde_json::to_string(&labels.iter().map(|l| &l.1).collect::<Vec<_>>())
                    .unwrap_or_default()
                    + &o.aggregate.to_string();
                let i = *index.entry(key).or_insert_with(|| {
                    out.push(Series {
                        labels,
                        samples: Vec::new(),
                    });
                    out.len() - 1
                });
                if let Some(v) = self.value(o, row, 1 + g, seconds) {
                    out[i].samples.push((*bucket, v));
                }
            }
        }
        let first = self.window.start_ns - self.window.start_ns.rem_euclid(step);
        let zero_fill = matches!(self.func, Func::Rate | Func::Count | Func::Histogram);
        for s in &mut out {
            if zero_fill {
                let have: std::collections::HashSet<i64> =
                    s.samples.iter().map(|(t, _)| *t).collect();
                let mut t = first;
                while t < self.window.end_ns {
                    if !have.contains(&t) {
                        s.samples.push((t, 0.0));
                    }
                    t += step;
                }
            }
            s.samples.sort_by_key(|(t, _)| *t);
        }
        self.apply_second_stages(&mut out);
        let series: Vec<Json> = out
            .into_iter()
            .filter(|s| !s.samples.is_empty())
            .map(|s| {
                json!({
                    "labels": labels_json(&s.labels),
                    "promLabels": prom_labels(&s.labels),
                    "samples": s.samples.iter().map(|(t, v)| json!({
                        "timestampMs": (t / 1_000_000).to_string(),
                        "value": v,
                    })).collect::<Vec<_>>(),
                    "exemplars": [],
                })
            })
            .collect();
        json!({ "series": series, "metrics": { "completedJobs": 1, "totalJobs": 1 } })
    }

    /// Tempo's `/api/metrics/query` answer from `render_totals` rows (groups…, aggregates…).
    pub fn instant_json(&self, rows: &[Row]) -> Json {
        let seconds = (self.window.end_ns - self.window.start_ns).max(1) as f64 / 1e9;
        let g = self.groups();
        let mut out: Vec<Series> = Vec::new();
        for row in rows {
            let groups = &row[..g.min(row.len())];
            for (o, labels) in self.outputs.iter().zip(self.label_sets(groups)) {
                if let Some(v) = self.value(o, row, g, seconds) {
                    out.push(Series {
                        labels,
                        samples: vec![(self.window.start_ns, v)],
                    });
                }
            }
        }
        self.apply_second_stages(&mut out);
        let series: Vec<Json> = out
            .into_iter()
            .filter_map(|s| {
                let v = s.samples.first()?.1;
                Some(json!({
                    "labels": labels_json(&s.labels),
                    "promLabels": prom_labels(&s.labels),
                    "value": v,
                }))
            })
            .collect();
        json!({ "series": series, "metrics": { "completedJobs": 1, "totalJobs": 1 } })
    }

    /// `topk(n)` / `bottomk(n)` keep, at each timestamp, the n highest / lowest values
    /// (Prometheus' semantics); a comparison keeps the samples it holds for.
    fn apply_second_stages(&self, out: &mut [Series]) {
        for stage in &self.second {
            match stage {
                SecondStage::Filter { op, value, .. } => {
                    for s in out.iter_mut() {
                        s.samples
                            .retain(|(_, v)| v.partial_cmp(value).is_some_and(|o| op.holds(o)));
                    }
                }
                SecondStage::TopK { limit, .. } | SecondStage::BottomK { limit, .. } => {
                    let top = matches!(stage, SecondStage::TopK { .. });
                    let k = (*limit).max(0) as usize;
                    // Every sample by timestamp, then a keep mask per series: one sort,
                    // not a scan of every series per timestamp.
                    let mut at: std::collections::BTreeMap<i64, Vec<(usize, usize, f64)>> =
                        Default::default();
                    for (i, s) in out.iter().enumerate() {
                        for (j, (t, v)) in s.samples.iter().enumerate() {
                            at.entry(*t).or_default().push((i, j, *v));
                        }
                    }
                    let mut keep: Vec<Vec<bool>> =
                        out.iter().map(|s| vec![true; s.samples.len()]).collect();
                    for (_, mut here) in at {
                        here.sort_by(|a, b| {
                            let o = a.2.total_cmp(&b.2);
                            if top {
                                o.reverse()
                            } else {
                                o
                            }
                        });
                        for (i, j, _) in here.into_iter().skip(k) {
                            keep[i][j] = false;
                        }
                    }
                    for (s, mask) in out.iter_mut().zip(keep) {
                        let mut m = mask.into_iter();
                        s.samples.retain(|_| m.next().unwrap_or(true));
                    }
                }
            }
        }
    }
}

fn labels_json(labels: &[(String, Json, String)]) -> Json {
    Json::Array(
        labels
            .iter()
            .map(|(k, v, _)| json!({ "key": k, "value": v }))
            .collect(),
    )
}

fn prom_labels(labels: &[(String, Json, String)]) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, _, t)| format!("{k}={t}")).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use model::schema::{Catalog, Column};
    use model::value::ColumnType;

    fn catalog() -> Catalog {
        Catalog {
            columns: vec![Column {
                name: "http.status_code".into(),
                ty: ColumnType::Integer,
            }],
            overflow: Vec::new(),
        }
    }

    fn window(step_s: Option<i64>) -> Window {
        Window {
            start_ns: 1_000 * 1_000_000_000,
            end_ns: 1_120 * 1_000_000_000,
            step_ns: step_s.map(|s| s * 1_000_000_000),
        }
    }

    fn metrics(q: &str, step: Option<i64>) -> Result<Metrics, Error> {
        let cat = catalog();
        compile_metrics(q, &CompileContext { catalog: &cat }, window(step))
    }

    #[test]
    fn compiles_functions_to_plan_aggregates() {
        let m = metrics(
            "{ span.http.status_code >= 500 } | rate() by (resource.service.name)",
            Some(60),
        )
        .unwrap();
        assert_eq!(m.plan.aggregates[0].op, CalcOp::Count);
        assert_eq!(m.plan.group_by[0].name, "service.name");
        assert_eq!(m.plan.granularity_ns, 60_000_000_000);
        assert_eq!(m.labels, vec!["resource.service.name".to_string()]);
        let m = metrics("{ } | quantile_over_time(duration, 0.5, 0.99)", Some(60)).unwrap();
        assert_eq!(m.plan.aggregates.len(), 2);
        assert_eq!(m.plan.aggregates[1].op, CalcOp::P99);
        let m = metrics("{ } | histogram_over_time(duration)", Some(60)).unwrap();
        assert_eq!(m.plan.group_by.last().unwrap().name, BUCKET);
    }

    #[test]
    fn refuses_what_it_does_not_run() {
        for q in [
            "{ } | quantile_over_time(duration, 0.42)",
            "{ } | compare({ status = error })",
            "({ } | rate()) + ({ } | rate())",
            "{ } | histogram_over_time(span.http.status_code)",
        ] {
            assert!(
                matches!(metrics(q, Some(60)), Err(Error::Unsupported { .. })),
                "{q}"
            );
        }
        assert!(matches!(
            metrics("{ }", Some(60)),
            Err(Error::Validation { .. })
        ));
        assert!(matches!(
            metrics("{ } | rate()", Some(0)),
            Err(Error::Validation { .. })
        ));
        assert!(matches!(
            metrics("{ } | rate() by (", Some(60)),
            Err(Error::Parse { .. })
        ));
    }

    #[test]
    fn shapes_range_answers_with_zero_filled_rates() {
        let m = metrics("{ } | rate() by (resource.service.name)", Some(60)).unwrap();
        let rows: Vec<Row> = vec![vec![
            Some(Value::Int(1_020 * 1_000_000_000)),
            Some(Value::Str("api".into())),
            Some(Value::Int(120)),
        ]];
        let j = m.range_json(&rows);
        let s = &j["series"][0];
        assert_eq!(s["labels"][0]["key"], "resource.service.name");
        assert_eq!(s["labels"][0]["value"]["stringValue"], "api");
        assert_eq!(s["promLabels"], "{resource.service.name=\"api\"}");
        let samples = s["samples"].as_array().unwrap();
        // Steps at 960 s (aligned start), 1020 s and 1080 s.
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[1]["timestampMs"], "1020000");
        assert_eq!(samples[1]["value"], 2.0);
        assert_eq!(samples[0]["value"], 0.0);
    }

    #[test]
    fn quantiles_get_a_p_label_and_seconds() {
        let m = metrics("{ } | quantile_over_time(duration, 0.9)", None).unwrap();
        let j = m.instant_json(&[vec![Some(Value::Float(250.0))]]);
        assert_eq!(j["series"][0]["labels"][0]["key"], "p");
        assert_eq!(j["series"][0]["value"], 0.25);
        let m = metrics("{ } | rate()", None).unwrap();
        let j = m.instant_json(&[vec![Some(Value::Int(240))]]);
        assert_eq!(j["series"][0]["labels"][0]["key"], "__name__");
        assert_eq!(j["series"][0]["value"], 2.0);
    }

    #[test]
    fn topk_keeps_the_highest_per_step() {
        let m = metrics("{ } | count_over_time() by (name) | topk(1)", Some(60)).unwrap();
        let t = Some(Value::Int(1_020 * 1_000_000_000));
        let rows: Vec<Row> = vec![
            vec![t.clone(), Some(Value::Str("a".into())), Some(Value::Int(1))],
            vec![t, Some(Value::Str("b".into())), Some(Value::Int(5))],
        ];
        let j = m.range_json(&rows);
        let at = |i: usize| {
            j["series"][i]["samples"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["timestampMs"] == "1020000")
        };
        let names: Vec<&str> = (0..2)
            .map(|i| {
                j["series"][i]["labels"][0]["value"]["stringValue"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        assert!(!at(0) && at(1));
    }

    #[test]
    fn nested_set_parent_answers_only_root_tests() {
        use crate::plan::Predicate;
        let cat = catalog();
        let ctx = CompileContext { catalog: &cat };
        let spans = |q: &str| super::super::compile_str(q, &ctx).map(|s| s.spans);
        let root = spans("{ nestedSetParent < 0 }").unwrap();
        assert!(format!("{root:?}").contains("Not(Exists"), "{root:?}");
        assert_eq!(spans("{ nestedSetParent = -1 }").unwrap(), root);
        let not_root = spans("{ nestedSetParent > 0 }").unwrap();
        assert_ne!(not_root, root);
        assert_eq!(spans("{ nestedSetParent >= 1 }").unwrap(), not_root);
        assert!(matches!(
            spans("{ nestedSetParent != -5 }").unwrap(),
            Predicate::KindIn(_)
        ));
        assert!(matches!(
            spans("{ nestedSetParent > 3 }"),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn bucket_expression_is_a_valid_derived_column() {
        let e = bucket_expression();
        assert!(crate::derived::parse(&e).is_ok(), "{e}");
    }
}
