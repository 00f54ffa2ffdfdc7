//! Golden tests: every `tests/golden/*.json` case (a Honeycomb spec, a BubbleUp, a Tempo
//! search or an X-Ray GetTraceSummaries filter) is planned and rendered for DuckDB; the plan and SQL text are compared with the
//! `.snap` file next to it. Run with `UPDATE_GOLDEN=1` to rewrite the snapshots, then review
//! the diff.

use std::path::PathBuf;

use model::schema::{Catalog, Column};
use model::value::ColumnType;
use waggle_query::bubbleup::{self, BubbleUpQuery, Selection};
use waggle_query::cloudwatch::{
    self,
    insights_compile::{InsightsContext, Shape},
};
use waggle_query::plan::EventList;
use waggle_query::plan::{resolve_column, PlanContext, NS_PER_S};
use waggle_query::sql::{render_event_list, render_series, render_totals};
use waggle_query::tempo::{self, TraceSearch};
use waggle_query::xray::{self, summaries};
use waggle_query::{DuckDb, Plan, QuerySpec};

/// The crate's directory, read when the test runs (cargo sets it): a value baked in at
/// compile time goes stale when a shared target directory was built from another checkout.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

const NOW_S: i64 = 1_700_000_000;

fn catalog() -> Catalog {
    let col = |name: &str, ty| Column {
        name: name.into(),
        ty,
    };
    Catalog {
        columns: vec![
            col("http.route", ColumnType::String),
            col("http.status_code", ColumnType::Integer),
            col("error", ColumnType::Boolean),
            col("uuid", ColumnType::String),
            col("handle", ColumnType::String),
            col("bytes", ColumnType::Integer),
            col("a\"; DROP TABLE events; --", ColumnType::Float),
        ],
        overflow: Vec::new(),
    }
}

/// The columns X-Ray cases see (a separate catalog: BubbleUp cases list every column).
fn xray_catalog() -> Catalog {
    let col = |name: &str, ty| Column {
        name: name.into(),
        ty,
    };
    use ColumnType::*;
    Catalog {
        columns: vec![
            col("http.status_code", Integer),
            col("http.response.status_code", Integer),
            col("status_code", Integer),
            col("http.url", String),
            col("url.full", String),
            col("aws.xray.fault", Boolean),
            col("aws.xray.error", Boolean),
            col("aws.xray.throttle", Boolean),
            col("aws.xray.in_progress", Boolean),
            col("aws.xray.namespace", String),
            col("aws.xray.origin", String),
            col("enduser.id", String),
            col("annotation.account", String),
            col("annotation.age", Integer),
        ],
        overflow: Vec::new(),
    }
}

/// The columns CloudWatch cases see (`Catalog::default()` plus log fields).
fn cloudwatch_catalog() -> Catalog {
    let mut c = Catalog::default();
    for (name, ty) in [
        ("body", ColumnType::String),
        ("cloudwatch.log_stream", ColumnType::String),
        ("level", ColumnType::String),
        ("latency", ColumnType::Integer),
    ] {
        c.columns.push(Column {
            name: name.into(),
            ty,
        });
    }
    c
}

/// Saved derived columns of a case: `"derived": {"alias": "expression", …}`.
fn saved_derived(case: &serde_json::Value) -> Vec<(String, String)> {
    case["derived"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn plan_of(case: &serde_json::Value, cat: &Catalog) -> Plan {
    let spec = QuerySpec::from_json(&case["spec"]).expect("spec");
    let dataset = case["dataset"].as_str().unwrap_or("backend-flask");
    Plan::from_spec(
        &spec,
        &PlanContext {
            dataset,
            catalog: cat,
            now_s: NOW_S,
            limit_override: None,
            derived: &saved_derived(case),
        },
    )
    .expect("plan")
}

fn render_case(case: &serde_json::Value) -> String {
    let cat = catalog();
    match case["kind"].as_str().unwrap_or("query") {
        "query" => {
            let plan = plan_of(case, &cat);
            format!(
                "-- plan\n{plan:#?}\n\n-- totals {:?}\n{}\n\n-- series {:?}\n{}\n",
                render_totals(&plan, &DuckDb).columns,
                render_totals(&plan, &DuckDb).sql,
                render_series(&plan, &DuckDb).columns,
                render_series(&plan, &DuckDb).sql
            )
        }
        "bubbleup" => {
            let plan = plan_of(case, &cat);
            let r = &case["region"];
            let column = resolve_column(
                r["column"].as_str().unwrap_or_default(),
                &cat,
                &mut Vec::new(),
            );
            let q = BubbleUpQuery {
                sample: None,
                base: &plan,
                selection: Selection::Region {
                    start_ns: r["start_s"].as_i64().unwrap_or_default() * NS_PER_S,
                    end_ns: r["end_s"].as_i64().unwrap_or_default() * NS_PER_S,
                    column,
                    low: r["low"].as_f64().unwrap_or_default(),
                    high: r["high"].as_f64().unwrap_or_default(),
                },
                columns: bubbleup::candidate_columns(&cat),
                top_values: bubbleup::TOP_VALUES_DEFAULT,
            };
            format!("-- bubbleup\n{}\n", bubbleup::render(&q, &DuckDb))
        }
        "tempo" => {
            let s = TraceSearch {
                tags: tempo::parse_logfmt(case["tags"].as_str().unwrap_or_default()).expect("tags"),
                min_duration_ms: case["min_duration_ms"].as_f64(),
                max_duration_ms: case["max_duration_ms"].as_f64(),
                start_ns: case["start_s"].as_i64().unwrap_or_default() * NS_PER_S,
                end_ns: case["end_s"].as_i64().unwrap_or_default() * NS_PER_S,
                limit: case["limit"].as_u64().unwrap_or_default() as u32,
                filter: None,
            };
            let r = tempo::render_search(&s, &cat, &DuckDb);
            format!(
                "-- tempo search (warnings {:?})\n{}\n\n-- tag values\n{}\n",
                r.warnings,
                r.sql,
                tempo::render_tag_values(
                    "http.route",
                    &cat,
                    Some((s.start_ns, s.end_ns)),
                    100,
                    &DuckDb
                )
                .unwrap_or_default()
            )
        }
        "xray" => {
            let cat = xray_catalog();
            let filter = case["filter"].as_str().unwrap_or_default();
            let expr = xray::parse(filter).expect("filter");
            let predicate = xray::compile(
                &expr,
                &xray::CompileContext {
                    catalog: &cat,
                    groups: &|_| None,
                },
            )
            .expect("compile");
            let time_range_type = summaries::TimeRangeType::from_api(
                case["time_range_type"].as_str().unwrap_or("Event"),
            )
            .expect("time_range_type");
            let after = case["after"]
                .as_str()
                .map(|t| summaries::Cursor::from_token(t).expect("token"));
            let q = summaries::SummariesQuery {
                predicate,
                start_ns: case["start_s"].as_i64().unwrap_or_default() * NS_PER_S,
                end_ns: case["end_s"].as_i64().unwrap_or_default() * NS_PER_S,
                time_range_type,
                limit: case["limit"].as_u64().unwrap_or_default() as u32,
                after,
            };
            format!(
                "-- xray filter\n{}\n\n-- predicate\n{:#?}\n\n-- summaries\n{}\n",
                xray::print(&expr),
                q.predicate,
                summaries::render_summaries(&q, &DuckDb)
            )
        }
        "cloudwatch_pattern" => {
            let cat = cloudwatch_catalog();
            let text = case["pattern"].as_str().unwrap_or_default();
            let p = cloudwatch::pattern::parse(text).expect("pattern");
            let predicate = cloudwatch::pattern_compile::compile(&p, &cat).expect("compile");
            let list = EventList {
                columns: vec![resolve_column("body", &cat, &mut Vec::new())],
                order: Vec::new(),
            };
            let plan = Plan {
                dataset: Some("cruddur".into()),
                start_ns: case["start_s"].as_i64().unwrap_or_default() * NS_PER_S,
                end_ns: case["end_s"].as_i64().unwrap_or_default() * NS_PER_S,
                predicate,
                group_by: Vec::new(),
                aggregates: Vec::new(),
                havings: Vec::new(),
                orders: Vec::new(),
                limit: 100,
                granularity_ns: NS_PER_S,
                warnings: Vec::new(),
                uniform_weights: false,
            };
            format!(
                "-- filter pattern\n{}\n\n-- predicate\n{:#?}\n\n-- events\n{}\n",
                cloudwatch::pattern::print(&p),
                plan.predicate,
                render_event_list(&plan, &list, &DuckDb)
            )
        }
        "insights" => {
            let cat = cloudwatch_catalog();
            let text = case["query"].as_str().unwrap_or_default();
            let q = cloudwatch::insights::parse(text).expect("query");
            let groups: Vec<String> = case["log_groups"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|g| g.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let ctx = InsightsContext {
                log_groups: &groups,
                start_ns: case["start_s"].as_i64().unwrap_or_default() * NS_PER_S,
                end_ns: case["end_s"].as_i64().unwrap_or_default() * NS_PER_S,
                catalog: &cat,
                limit: None,
            };
            let c = cloudwatch::insights_compile::compile(&q, &ctx).expect("compile");
            let sql = match &c.shape {
                Shape::Events(list) => render_event_list(&c.plan, list, &DuckDb),
                Shape::Totals => render_totals(&c.plan, &DuckDb).sql,
                Shape::Series => render_series(&c.plan, &DuckDb).sql,
            };
            format!(
                "-- insights\n{}\n\n-- shape {:?}\n-- fields {:?}\n\n-- predicate\n{:#?}\n\n-- sql\n{sql}\n",
                cloudwatch::insights::print(&q),
                match &c.shape {
                    Shape::Events(_) => "Events",
                    Shape::Totals => "Totals",
                    Shape::Series => "Series",
                },
                c.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                c.plan.predicate,
            )
        }
        other => panic!("unknown kind {other}"),
    }
}

fn cases() -> Vec<PathBuf> {
    let dir = PathBuf::from(manifest_dir()).join("tests/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn golden_sql() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 10, "golden cases missing");
    for path in all {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let got = render_case(&case);
        let snap = path.with_extension("snap");
        if update {
            std::fs::write(&snap, &got).expect("write");
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != got {
            failures.push(format!(
                "{}: snapshot differs (run with UPDATE_GOLDEN=1 and review)\n--- got\n{got}",
                snap.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// User data never appears outside a quoted identifier or string literal.
#[test]
fn injection_attempts_stay_quoted() {
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(manifest_dir()).join("tests/golden/05_injection.json"),
        )
        .expect("read"),
    )
    .expect("json");
    let cat = catalog();
    let plan = plan_of(&case, &cat);
    let sql = format!(
        "{}\n{}",
        render_totals(&plan, &DuckDb).sql,
        render_series(&plan, &DuckDb).sql
    );
    // Every occurrence is inside "…" with the quote doubled, or '…' with the quote doubled.
    assert!(!sql.contains("a\"; DROP"), "{sql}");
    assert!(sql.contains("\"a\"\"; DROP TABLE events; --\""));
    assert!(sql.contains("'x''); DROP TABLE events; --'"));
    assert!(sql.contains("'d\"; drop table events; --'"));
    assert!(sql.contains("''' OR 1=1 --'"));
    // Strip quoted tokens and check nothing dangerous remains.
    let mut stripped = String::new();
    let mut quote: Option<char> = None;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => {
                if chars.get(i + 1) == Some(&q) {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => stripped.push(c),
        }
        i += 1;
    }
    assert!(quote.is_none(), "unbalanced quotes");
    assert!(!stripped.contains("DROP"), "{stripped}");
    assert!(!stripped.contains("1=1"), "{stripped}");
    assert!(!stripped.contains(';'), "{stripped}");
}
