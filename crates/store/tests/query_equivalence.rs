//! The SQL path (waggle-query plan → DuckDB SQL → DuckStore) against the naive in-memory
//! evaluator (`query::naive`) on random events and random Honeycomb specs covering
//! every calculation, filter operator, breakdown, having and order, and on random TraceQL
//! searches (span relations, per-trace aggregates). Also runs the BubbleUp, Tempo and
//! injection SQL against a real DuckDB.

use model::{Event, SignalKind, SpanId, TraceId, Value};
use proptest::prelude::*;
use query::bubbleup::{self, BubbleUpQuery, Selection};
use query::naive;
use query::plan::{resolve_column, Plan, PlanContext, NS_PER_S};
use query::spec::{CalcOp, FilterOp, QuerySpec};
use query::sql::{render_series, render_totals};
use query::tempo::{self, TraceSearch};
use query::traceql;
use query::{DuckDb, Row};
use serde_json::json;
use waggle_store::{DuckStore, Store};

const START_S: i64 = 1_700_000_000;
const RANGE_S: i64 = 1000;

const TRACE_IDS: [&str; 3] = [
    "0af7651916cd43dd8448eb211c80319c",
    "00000000000000000000000000000abc",
    "f000000000000000ffffffffffffffff",
];
const STRINGS: [&str; 5] = ["a", "b", "ab", "10", "2.5"];
const INTS: [i64; 5] = [-3, 0, 3, 200, 500];
const COLUMNS: [&str; 13] = [
    "s",
    "i",
    "f",
    "b",
    "duration_ms",
    "name",
    "service.name",
    "missing_col",
    "trace.parent_id",
    // Derived columns (`calculated_fields` d0 number, d1 string, d2 boolean; saved `sv`).
    "d0",
    "d1",
    "d2",
    "sv",
];

/// Saved derived columns passed to every plan; `sv` chains the spec's d1 and d2.
fn saved_derived() -> Vec<(String, String)> {
    vec![("sv".into(), "IF($d2, $d1, \"none\")".into())]
}

/// RE2 patterns that never match the empty string (REG_COUNT's empty-match rules differ
/// between engines).
const PATTERNS: [&str; 6] = ["`^a`", "`b$`", "`[0-9]+`", "`(a)(b)?`", "`\\.`", "`(?i)A`"];

#[derive(Clone, Copy)]
enum Kind {
    Num,
    Int,
    Str,
    Bool,
}

fn pick(options: Vec<String>) -> BoxedStrategy<String> {
    prop::sample::select(options).boxed()
}

/// A random derived expression of `kind`, nested at most `depth` deep. Floats never reach
/// text (float formatting is engine-specific beyond shortest round-trip).
fn arb_expr(kind: Kind, depth: u32) -> BoxedStrategy<String> {
    let leaf = match kind {
        Kind::Num => pick(
            [
                "$f",
                "$duration_ms",
                "2.5",
                "-1",
                "0",
                "3",
                "EVENT_TIMESTAMP()",
                "$missing_col + 1",
            ]
            .map(String::from)
            .to_vec(),
        ),
        Kind::Int => pick(["$i", "7", "-3", "0"].map(String::from).to_vec()),
        Kind::Str => pick(
            [
                "$s",
                "$name",
                "$service.name",
                "\"a\"",
                "\"10\"",
                "\"AbA.b\"",
                "$missing_col",
                "$trace.parent_id",
            ]
            .map(String::from)
            .to_vec(),
        ),
        Kind::Bool => pick(["$b", "true", "false"].map(String::from).to_vec()),
    };
    if depth == 0 {
        return leaf;
    }
    let num = || arb_expr(Kind::Num, depth - 1);
    let int = || arb_expr(Kind::Int, depth - 1);
    let st = || arb_expr(Kind::Str, depth - 1);
    let bo = || arb_expr(Kind::Bool, depth - 1);
    let pat = || prop::sample::select(PATTERNS.to_vec());
    match kind {
        Kind::Num => prop_oneof![
            leaf,
            int(),
            (num(), num()).prop_map(|(a, b)| format!("SUM({a}, {b})")),
            (num(), int()).prop_map(|(a, b)| format!("{a} - {b}")),
            (num(), num()).prop_map(|(a, b)| format!("({a}) * {b}")),
            (num(), num()).prop_map(|(a, b)| format!("DIV({a}, {b})")),
            (num(), num()).prop_map(|(a, b)| format!("MOD({a}, {b})")),
            num().prop_map(|a| format!("LOG10({a})")),
            st().prop_map(|a| format!("FLOAT({a})")),
            (st(), int()).prop_map(|(a, b)| format!("{a} + {b}")),
            (num(), num(), num()).prop_map(|(a, b, c)| format!("MIN({a}, {b}, {c},)")),
            (num(), int()).prop_map(|(a, b)| format!("MAX({a}, {b})")),
            (bo(), num(), int()).prop_map(|(c, a, b)| format!("IF({c}, {a}, {b})")),
            (num(), num()).prop_map(|(a, b)| format!("COALESCE({a}, {b})")),
            (num(), int(), num()).prop_map(|(a, b, c)| format!("SWITCH($i, 3, {a}, 0, {b}, {c})")),
        ]
        .boxed(),
        Kind::Int => prop_oneof![
            leaf,
            num().prop_map(|a| format!("INT({a})")),
            st().prop_map(|a| format!("INT({a})")),
            st().prop_map(|a| format!("LENGTH({a})")),
            st().prop_map(|a| format!("LENGTH({a}, \"bytes\")")),
            (st(), pat()).prop_map(|(a, p)| format!("REG_COUNT({a}, {p})")),
            (int(), int()).prop_map(|(a, b)| format!("MIN({a}, {b})")),
            (bo(), int(), int()).prop_map(|(c, a, b)| format!("IF({c}, {a}, {b})")),
        ]
        .boxed(),
        Kind::Str => prop_oneof![
            leaf,
            (st(), st(), int()).prop_map(|(a, b, c)| format!("CONCAT({a}, \"-\", {b}, {c})")),
            st().prop_map(|a| format!("TO_LOWER({a})")),
            (st(), pat()).prop_map(|(a, p)| format!("REG_VALUE({a}, {p})")),
            (bo(), st(), st()).prop_map(|(c, a, b)| format!("IF({c}, {a}, {b})")),
            (bo(), st()).prop_map(|(c, a)| format!("IF({c}, {a})")),
            (st(), st()).prop_map(|(a, b)| format!("COALESCE({a}, {b})")),
            int().prop_map(|a| format!("STRING({a})")),
            bo().prop_map(|a| format!("STRING({a})")),
            (st(), st()).prop_map(|(a, b)| format!("MIN({a}, {b})")),
            (st(), st(), st())
                .prop_map(|(a, b, c)| format!("SWITCH($s, \"a\", {a}, \"10\", {b}, {c})")),
        ]
        .boxed(),
        Kind::Bool => prop_oneof![
            leaf,
            (num(), num()).prop_map(|(a, b)| format!("{a} < {b}")),
            (num(), int()).prop_map(|(a, b)| format!("GTE({a}, {b})")),
            (st(), st()).prop_map(|(a, b)| format!("{a} <= {b}")),
            (num(), num()).prop_map(|(a, b)| format!("{a} = {b}")),
            (st(), st()).prop_map(|(a, b)| format!("{a} != {b}")),
            (st(), num()).prop_map(|(a, b)| format!("EQUALS({a}, {b})")),
            st().prop_map(|a| format!("IN({a}, \"a\", \"ab\", \"10\")")),
            (bo(), bo()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (bo(), bo()).prop_map(|(a, b)| format!("OR({a}, {b})")),
            bo().prop_map(|a| format!("!{a}")),
            num().prop_map(|a| format!("EXISTS({a})")),
            st().prop_map(|a| format!("STARTS_WITH({a}, \"a\")")),
            st().prop_map(|a| format!("CONTAINS({a}, \"b\")")),
            st().prop_map(|a| format!("ENDS_WITH({a}, \"0\")")),
            (st(), pat()).prop_map(|(a, p)| format!("REG_MATCH({a}, {p})")),
            num().prop_map(|a| format!("BOOL({a})")),
            st().prop_map(|a| format!("NOT({a})")),
        ]
        .boxed(),
    }
}

fn arb_event() -> impl Strategy<Value = Event> {
    (
        (
            prop::sample::select(vec!["api", "API", "web"]),
            -100i64..(RANGE_S + 100),
            0i64..3,
            prop::sample::select(vec![SignalKind::Span, SignalKind::Span, SignalKind::Log]),
            prop::option::of(0usize..3),
            1u64..6,
            prop::option::of(1u64..6),
        ),
        (
            prop::option::of(prop::sample::select(vec!["GET", "POST"])),
            prop::option::of(prop::sample::select(vec!["svc1", "svc2"])),
            prop::option::of((-4i32..100).prop_map(|x| f64::from(x) * 0.5)),
            prop::sample::select(vec![1u32, 1, 2, 5]),
            prop::option::of(prop::sample::select(STRINGS.to_vec())),
            prop::option::of(prop::sample::select(INTS.to_vec())),
            prop::option::of((-10i32..20).prop_map(|x| f64::from(x) * 0.5)),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |((ds, t, sub, kind, trace, span, parent), (name, svc, dur, rate, s, i, f, b))| {
                let mut e = Event::new(ds, (START_S + t) * NS_PER_S + sub * 7, kind);
                e.trace_id = trace.and_then(|i| TraceId::parse(TRACE_IDS[i]).ok());
                // High bit set in some ids: exercises hex of negative BIGINTs.
                let id = |n: u64| {
                    SpanId::from_u64(if n.is_multiple_of(2) {
                        n
                    } else {
                        n | (1 << 63)
                    })
                };
                e.span_id = Some(id(span));
                e.parent_id = parent.filter(|p| *p != span).map(id);
                e.name = name.map(String::from);
                e.service = svc.map(String::from);
                e.duration_ms = dur;
                e.sample_rate = rate;
                if let Some(s) = s {
                    e.set("s", Value::Str(s.into()));
                }
                if let Some(i) = i {
                    e.set("i", Value::Int(i));
                }
                if let Some(f) = f {
                    e.set("f", Value::Float(f));
                }
                if let Some(b) = b {
                    e.set("b", Value::Bool(b));
                }
                e
            },
        )
}

fn arb_scalar() -> impl Strategy<Value = serde_json::Value> {
    prop::sample::select(vec![
        json!("a"),
        json!("ab"),
        json!("10"),
        json!("true"),
        json!(200),
        json!(3),
        json!(2.5),
        json!(true),
        json!(-1),
    ])
}

fn arb_filter() -> impl Strategy<Value = serde_json::Value> {
    let cols: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .chain([
            "root.s",
            "any.i",
            "root.name",
            "trace.trace_id",
            "trace.span_id",
        ])
        .collect();
    (
        prop::sample::select(cols),
        prop::sample::select(FilterOp::ALL.to_vec()),
        arb_scalar(),
        prop::collection::vec(arb_scalar(), 1..3),
        0usize..4,
    )
        .prop_map(|(col, op, scalar, list, tid)| {
            let value = match op {
                FilterOp::Exists | FilterOp::DoesNotExist => serde_json::Value::Null,
                FilterOp::In | FilterOp::NotIn => json!(list),
                _ if col == "trace.trace_id" && tid < 3 => json!(TRACE_IDS[tid]),
                _ => scalar,
            };
            let mut f = json!({"column": col, "op": op.name()});
            if !value.is_null() {
                f["value"] = value;
            }
            f
        })
}

fn arb_calc() -> impl Strategy<Value = (CalcOp, Option<&'static str>)> {
    (
        prop::sample::select(CalcOp::ALL.to_vec()),
        prop::sample::select(vec![
            "s",
            "i",
            "f",
            "b",
            "duration_ms",
            "missing_col",
            "d0",
            "d1",
            "d2",
        ]),
    )
        .prop_map(|(op, col)| (op, op.needs_column().then_some(col)))
}

fn arb_spec() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::collection::vec(arb_calc(), 1..4),
        prop::collection::vec(arb_filter(), 0..3),
        any::<bool>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "s",
                "i",
                "b",
                "f",
                "name",
                "service.name",
                "trace.parent_id",
                "trace.trace_id",
                "missing_col",
                "d0",
                "d1",
                "d2",
                "sv",
            ]),
            0..3,
        ),
        (
            prop::option::of((
                0usize..4,
                0usize..6,
                prop::sample::select(vec![0.0, 1.0, 2.5, 10.0]),
            )),
            prop::collection::vec((0usize..4, any::<bool>(), any::<bool>()), 0..3),
            prop::option::of(1u32..6),
            prop::option::of(prop::sample::select(vec![100i64, 250, 1000])),
        ),
        (
            arb_expr(Kind::Num, 2),
            arb_expr(Kind::Str, 2),
            arb_expr(Kind::Bool, 2),
        ),
    )
        .prop_map(
            |(calcs, filters, or, mut breakdowns, (having, orders, limit, gran), (d0, d1, d2))| {
                breakdowns.dedup();
                let mut seen = Vec::new();
                breakdowns.retain(|b| {
                    let fresh = !seen.contains(b);
                    seen.push(*b);
                    fresh
                });
                let calcs_json: Vec<serde_json::Value> = calcs
                    .iter()
                    .map(|(op, col)| match col {
                        Some(c) => json!({"op": op.name(), "column": c}),
                        None => json!({"op": op.name()}),
                    })
                    .collect();
                let mut spec = json!({
                    "calculations": calcs_json,
                    "filters": filters,
                    "filter_combination": if or { "OR" } else { "AND" },
                    "breakdowns": breakdowns,
                    "start_time": START_S,
                    "end_time": START_S + RANGE_S,
                    "calculated_fields": [
                        {"name": "d0", "expression": d0},
                        {"name": "d1", "expression": d1},
                        {"name": "d2", "expression": d2},
                    ],
                });
                let usable: Vec<&(CalcOp, Option<&str>)> = calcs
                    .iter()
                    .filter(|(op, _)| *op != CalcOp::Heatmap)
                    .collect();
                if let Some((ci, op_i, value)) = having {
                    if let Some((op, col)) = usable.get(ci % usable.len().max(1)) {
                        let ops = ["=", "!=", ">", ">=", "<", "<="];
                        let mut h =
                            json!({"calculate_op": op.name(), "op": ops[op_i], "value": value});
                        if let Some(c) = col {
                            h["column"] = json!(c);
                        }
                        spec["havings"] = json!([h]);
                    }
                }
                let mut orders_json = Vec::new();
                for (i, by_calc, desc) in orders {
                    let order = if desc { "descending" } else { "ascending" };
                    if by_calc {
                        if let Some((op, col)) = usable.get(i % usable.len().max(1)) {
                            let mut o = json!({"op": op.name(), "order": order});
                            if let Some(c) = col {
                                o["column"] = json!(c);
                            }
                            orders_json.push(o);
                        }
                    } else if !breakdowns.is_empty() {
                        orders_json.push(
                            json!({"column": breakdowns[i % breakdowns.len()], "order": order}),
                        );
                    }
                }
                spec["orders"] = json!(orders_json);
                if let Some(l) = limit {
                    spec["limit"] = json!(l);
                }
                if let Some(g) = gran {
                    spec["granularity"] = json!(g);
                }
                spec
            },
        )
}

fn close(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Float(x)), Some(Value::Float(y))) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Some(Value::Int(x)), Some(Value::Float(y)))
        | (Some(Value::Float(y)), Some(Value::Int(x))) => {
            (*x as f64 - y).abs() <= 1e-9 * y.abs().max(1.0)
        }
        (x, y) => x == y,
    }
}

fn rows_close(a: &[Row], b: &[Row]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q)))
}

fn sort_key(r: &Row) -> String {
    format!("{r:?}")
}

/// Same rows in the same order, or (float near-ties can swap order) the same rows sorted.
fn same_rows(sql: &[Row], naive: &[Row]) -> bool {
    if rows_close(sql, naive) {
        return true;
    }
    let mut a = sql.to_vec();
    let mut b = naive.to_vec();
    a.sort_by_key(sort_key);
    b.sort_by_key(sort_key);
    rows_close(&a, &b)
}

fn plan_for(spec: &QuerySpec, dataset: &str, store: &DuckStore) -> Plan {
    let catalog = store.catalog();
    Plan::from_spec(
        spec,
        &PlanContext {
            dataset,
            catalog: &catalog,
            now_s: START_S + RANGE_S,
            limit_override: None,
            derived: &saved_derived(),
        },
    )
    .expect("plan")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sql_matches_naive(
        events in prop::collection::vec(arb_event(), 0..40),
        spec_json in arb_spec(),
        all in any::<bool>(),
    ) {
        let Ok(spec) = QuerySpec::from_json(&spec_json) else {
            return Ok(());
        };
        let store = DuckStore::open_in_memory().expect("open");
        store.insert(&events).expect("insert");
        let plan = plan_for(&spec, if all { "__all__" } else { "api" }, &store);

        let totals = render_totals(&plan, &DuckDb);
        let got = store.run_sql(&totals.sql).map_err(|e| {
            TestCaseError::fail(format!("{e:?}\n{}", totals.sql))
        })?;
        let want = naive::run_totals(&plan, &events);
        prop_assert!(
            same_rows(&got, &want),
            "totals differ\nspec {}\nsql {}\ngot  {:?}\nwant {:?}",
            spec_json, totals.sql, got, want
        );

        // The uniform-weights fast path (quantile_disc) must give the same answer.
        if events.iter().all(|e| e.sample_rate == 1) {
            let mut fast = plan.clone();
            fast.uniform_weights = true;
            let sql = render_totals(&fast, &DuckDb).sql;
            let got = store.run_sql(&sql).map_err(|e| TestCaseError::fail(format!("{e:?}\n{sql}")))?;
            prop_assert!(
                same_rows(&got, &want),
                "uniform-weights totals differ\nspec {}\nsql {}\ngot  {:?}\nwant {:?}",
                spec_json, sql, got, want
            );
        }

        let series = render_series(&plan, &DuckDb);
        let got = store.run_sql(&series.sql).map_err(|e| {
            TestCaseError::fail(format!("{e:?}\n{}", series.sql))
        })?;
        let want = naive::run_series(&plan, &events);
        prop_assert!(
            same_rows(&got, &want),
            "series differ\nspec {}\nsql {}\ngot  {:?}\nwant {:?}",
            spec_json, series.sql, got, want
        );
    }
}

/// TraceQL span filters over the random events' fields (`s`, `i`, `f`, `b`, name, service,
/// duration).
const TRACEQL_FILTERS: [&str; 9] = [
    "{ }",
    "{ .i > 0 }",
    "{ .i = 3 }",
    "{ .s = \"a\" }",
    "{ name = \"GET\" }",
    "{ .b }",
    "{ duration > 10ms }",
    "{ .f = nil }",
    "{ resource.service.name = \"svc1\" }",
];

/// Every TraceQL spanset operator (structural ones through `Predicate::Related`).
const TRACEQL_OPS: [&str; 17] = [
    "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>",
    "&<<", "&~",
];

/// Aggregate stages (`Predicate::SpanAggregate`), run after an optional `by()`.
const TRACEQL_AGGREGATES: [&str; 8] = [
    "count() > 1",
    "count() = 2",
    "sum(.i) >= 3",
    "avg(duration) > 10ms",
    "min(.f) < 0",
    "max(.i) = 200",
    "avg(.f) <= 2.5",
    "max(duration * 2) > 40ms",
];

/// A random TraceQL search: `(a) op (b)`, sometimes `((a) op (b)) op (c)`, then maybe
/// `by()`, then maybe an aggregate.
fn arb_traceql() -> impl Strategy<Value = String> {
    let filter = || prop::sample::select(TRACEQL_FILTERS.to_vec());
    let op = || prop::sample::select(TRACEQL_OPS.to_vec());
    (
        (filter(), op(), filter()),
        prop::option::of((op(), filter())),
        prop::option::of(prop::sample::select(vec!["by(.s)", "by(name)"])),
        prop::option::of(prop::sample::select(TRACEQL_AGGREGATES.to_vec())),
    )
        .prop_map(|((a, op1, b), more, by, agg)| {
            let mut q = format!("({a}) {op1} ({b})");
            if let Some((op2, c)) = more {
                q = format!("({q}) {op2} ({c})");
            }
            for stage in [by, agg].into_iter().flatten() {
                q.push_str(" | ");
                q.push_str(stage);
            }
            q
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// TraceQL's span relations and per-trace aggregates: the matched spans (`Search::spans`,
    /// counted per trace and span id) and the matched traces (`Search::trace`) by SQL equal
    /// the naive evaluator's, on random events whose parent links may be missing, dangling,
    /// duplicated or cyclic.
    #[test]
    fn traceql_relations_and_aggregates_match_naive(
        events in prop::collection::vec(arb_event(), 0..40),
        q in arb_traceql(),
    ) {
        let store = DuckStore::open_in_memory().expect("open");
        store.insert(&events).expect("insert");
        let catalog = store.catalog();
        let search = traceql::compile_str(&q, &traceql::CompileContext { catalog: &catalog })
            .map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
        for (breakdowns, predicate) in [
            (json!(["trace.trace_id", "trace.span_id"]), &search.spans),
            (json!(["trace.trace_id"]), &search.trace),
        ] {
            let spec = QuerySpec::from_json(&json!({
                "breakdowns": breakdowns,
                "start_time": START_S,
                "end_time": START_S + RANGE_S,
            }))
            .expect("spec");
            let mut plan = plan_for(&spec, "__all__", &store);
            plan.predicate = predicate.clone();
            let totals = render_totals(&plan, &DuckDb);
            let got = store.run_sql(&totals.sql).map_err(|e| {
                TestCaseError::fail(format!("{e:?}\n{q}\n{}", totals.sql))
            })?;
            let want = naive::run_totals(&plan, &events);
            prop_assert!(
                same_rows(&got, &want),
                "{q}\nsql {}\ngot  {:?}\nwant {:?}",
                totals.sql, got, want
            );
        }
    }
}

fn span(t_s: i64, trace: usize, span: u64, parent: Option<u64>, dur: f64, route: &str) -> Event {
    let mut e = Event::new("api", (START_S + t_s) * NS_PER_S, SignalKind::Span);
    e.trace_id = TraceId::parse(TRACE_IDS[trace]).ok();
    e.span_id = Some(SpanId::from_u64(span));
    e.parent_id = parent.map(SpanId::from_u64);
    e.duration_ms = Some(dur);
    e.name = Some(format!("op{span}"));
    e.service = Some(if parent.is_none() { "front" } else { "back" }.into());
    e.set("http.route", Value::Str(route.into()));
    e.set(
        "http.status_code",
        Value::Int(if dur > 100.0 { 500 } else { 200 }),
    );
    e
}

fn sample_spans() -> Vec<Event> {
    vec![
        span(10, 0, 1, None, 300.0, "/slow"),
        span(11, 0, 2, Some(1), 250.0, "/slow"),
        span(20, 1, 3, None, 20.0, "/fast"),
        span(21, 1, 4, Some(3), 10.0, "/fast"),
        span(30, 2, 5, None, 30.0, "/fast"),
    ]
}

#[test]
fn bubbleup_sql_runs_and_ranks() {
    let store = DuckStore::open_in_memory().expect("open");
    let events = sample_spans();
    store.insert(&events).expect("insert");
    let catalog = store.catalog();
    let spec = QuerySpec::from_json(&json!({"start_time": START_S, "end_time": START_S + RANGE_S}))
        .expect("spec");
    let plan = plan_for(&spec, "api", &store);
    let columns = bubbleup::candidate_columns(&catalog);
    let q = BubbleUpQuery {
        sample: None,
        base: &plan,
        selection: Selection::Region {
            start_ns: START_S * NS_PER_S,
            end_ns: (START_S + RANGE_S) * NS_PER_S,
            column: resolve_column("duration_ms", &catalog, &mut Vec::new()),
            low: 200.0,
            high: 1000.0,
        },
        columns: columns.clone(),
        top_values: 5,
    };
    let sql = bubbleup::render(&q, &DuckDb);
    let rows = store
        .run_sql(&sql)
        .unwrap_or_else(|e| panic!("{e:?}\n{sql}"));
    let r = bubbleup::rank(&columns, &rows);
    assert_eq!((r.selection_count, r.baseline_count), (2, 3));
    let route = r
        .columns
        .iter()
        .find(|c| c.column == "http.route")
        .expect("route");
    assert_eq!(route.score, 100.0);
    let slow = route
        .values
        .iter()
        .find(|v| v.value.as_deref() == Some("/slow"))
        .expect("slow");
    assert_eq!((slow.selection_pct, slow.baseline_pct), (100.0, 0.0));
}

#[test]
fn tempo_search_sql_runs() {
    let store = DuckStore::open_in_memory().expect("open");
    store.insert(&sample_spans()).expect("insert");
    let catalog = store.catalog();
    let search = TraceSearch {
        tags: tempo::parse_logfmt("http.route=/fast").expect("tags"),
        min_duration_ms: Some(15.0),
        max_duration_ms: None,
        start_ns: START_S * NS_PER_S,
        end_ns: (START_S + RANGE_S) * NS_PER_S,
        limit: 10,
        filter: None,
    };
    let r = tempo::render_search(&search, &catalog, &DuckDb);
    let rows = store
        .run_sql(&r.sql)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", r.sql));
    // Trace 1 spans 20 s .. 21 s + 10 ms; trace 2 is one 30 ms span. Newest first.
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (hi, lo) = TraceId::parse(TRACE_IDS[2]).expect("id").halves();
    assert_eq!(rows[0][0], Some(Value::Int(hi as i64)));
    assert_eq!(rows[0][1], Some(Value::Int(lo as i64)));
    assert_eq!(rows[0][2], Some(Value::Str("front".into())));
    assert_eq!(rows[0][5], Some(Value::Float(30.0)));
    assert_eq!(rows[1][5], Some(Value::Float(1010.0)));
    let sql =
        tempo::render_tag_values("http.status_code", &catalog, None, 10, &DuckDb).expect("column");
    let rows = store
        .run_sql(&sql)
        .unwrap_or_else(|e| panic!("{e:?}\n{sql}"));
    assert_eq!(
        rows,
        vec![
            vec![Some(Value::Str("200".into()))],
            vec![Some(Value::Str("500".into()))]
        ]
    );
}

#[test]
fn injection_attempts_are_inert_in_duckdb() {
    let store = DuckStore::open_in_memory().expect("open");
    let evil = "a\"; DROP TABLE events; --";
    let mut e = span(10, 0, 1, None, 5.0, "x'); DROP TABLE events; --");
    e.set(evil, Value::Str("x'); DROP TABLE events; --".into()));
    store.insert(&[e]).expect("insert");
    let spec = QuerySpec::from_json(&json!({
        "calculations": [{"op": "COUNT_DISTINCT", "column": evil}],
        "filters": [{"column": evil, "op": "=", "value": "x'); DROP TABLE events; --"},
                    {"column": "http.route", "op": "contains", "value": "'); DROP"}],
        "breakdowns": [evil],
        "start_time": START_S, "end_time": START_S + RANGE_S,
    }))
    .expect("spec");
    let plan = plan_for(&spec, "api\"; DROP TABLE events; --", &store);
    let sql = render_totals(&plan, &DuckDb).sql;
    assert!(store
        .run_sql(&sql)
        .unwrap_or_else(|e| panic!("{e:?}\n{sql}"))
        .is_empty());
    let plan = plan_for(&spec, "api", &store);
    let sql = render_totals(&plan, &DuckDb).sql;
    let rows = store
        .run_sql(&sql)
        .unwrap_or_else(|e| panic!("{e:?}\n{sql}"));
    assert_eq!(
        rows,
        vec![vec![
            Some(Value::Str("x'); DROP TABLE events; --".into())),
            Some(Value::Int(1))
        ]]
    );
}
