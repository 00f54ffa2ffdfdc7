//! CloudWatch Logs filter patterns and Logs Insights: the documented examples against small
//! event sets (naive evaluator), bad inputs with their errors and positions, and property
//! tests (printer round trip; arbitrary text never panics either parser).

use model::schema::{Catalog, Column};
use model::value::ColumnType;
use model::{Event, SignalKind, Value};
use proptest::prelude::*;
use waggle_query::cloudwatch::insights::{self, QueryError};
use waggle_query::cloudwatch::insights_compile::{
    compile_str as insights_compile, insights_results, statistics, statistics_plans, CompiledQuery,
    InsightsContext, Shape,
};
use waggle_query::cloudwatch::pattern::{self, PatternError};
use waggle_query::cloudwatch::pattern_compile::compile_str as pattern_compile;
use waggle_query::naive::{self, Ctx};
use waggle_query::plan::NS_PER_S;

const T0_S: i64 = 1_700_000_000;

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    for (n, ty) in [
        ("body", ColumnType::String),
        ("cloudwatch.log_stream", ColumnType::String),
        ("cloudwatch.ingestion_time", ColumnType::Integer),
        ("level", ColumnType::String),
        ("latency", ColumnType::Integer),
        ("user.id", ColumnType::Integer),
        ("route", ColumnType::String),
    ] {
        c.columns.push(Column { name: n.into(), ty });
    }
    c
}

/// A log event `i` seconds after T0 in group `cruddur`; a JSON message's top-level fields
/// (and nested ones, dotted) are stored as attributes like the decoder does.
fn log(i: i64, msg: &str) -> Event {
    let mut e = Event::new("cruddur", (T0_S + i) * NS_PER_S, SignalKind::Log);
    e.set("body", Value::Str(msg.into()));
    e.set("cloudwatch.log_stream", Value::Str(format!("s{}", i % 2)));
    e.set(
        "cloudwatch.ingestion_time",
        Value::Int((T0_S + i) * 1000 + 5),
    );
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(msg) {
        fn flat(prefix: &str, v: &serde_json::Value, e: &mut Event) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        flat(&key, v, e);
                    }
                }
                v => {
                    if let Some(v) = Value::from_json(v) {
                        e.set(prefix.to_string(), v);
                    }
                }
            }
        }
        flat("", &serde_json::Value::Object(m), &mut e);
    }
    e
}

fn matching(pattern: &str, msgs: &[&str]) -> Vec<String> {
    let cat = catalog();
    let p = pattern_compile(pattern, &cat).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let evs: Vec<Event> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| log(i as i64, m))
        .collect();
    let ctx = Ctx {
        events: &evs,
        start_ns: 0,
        end_ns: i64::MAX,
    };
    evs.iter()
        .filter(|e| naive::matches(&p, e, &ctx))
        .map(|e| {
            e.get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

const UNSTRUCTURED: &[&str] = &[
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
    "[SUCCESS 200] AUTHORIZED REQUEST",
    "[WARN] Failed to process the request",
    "Exiting with ERRORCODE: -1",
    "[INFO] INTERNAL SERVER ERROR handled",
    "error in lower case",
];

const JSON_EVENTS: &[&str] = &[
    r#"{"eventType": "UpdateTrail", "sourceIPAddress": "123.123.1.1", "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": null, "cookies": ["foo", "bar"], "ThisFlag": true}"#,
    r#"{"eventType": "CreateTrail", "sourceIPAddress": "10.0.0.1", "latency": 250, "user": {"id": 1, "email": "John.Doe@example.com"}, "users": [{"email": "John.Doe@example.com"}], "ThisFlag": false}"#,
    r#"{"eventType": "DeleteTrail", "latency": 50, "number": [1e-3, 5], "bandwidth": 75, "level": "ERROR"}"#,
    "not json at all UpdateTrail",
];

const APACHE: &[&str] = &[
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /about.html HTTP/1.0" 200 2344"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 410 932"#,
    r#"10.0.0.2 - bob [10/Oct/2000:13:55:01 -0700] "POST /login HTTP/1.1" 500 12"#,
    "short line",
];

/// Documented examples (FilterAndPatternSyntax) and the messages each must match.
#[test]
fn filter_pattern_examples() {
    let cases: Vec<(&str, &[&str], Vec<usize>)> = vec![
        // Unstructured.
        ("", UNSTRUCTURED, (0..9).collect()),
        ("   ", UNSTRUCTURED, (0..9).collect()),
        ("ERROR", UNSTRUCTURED, vec![0, 1, 2, 3, 6, 7]),
        ("ERROR ARGUMENTS", UNSTRUCTURED, vec![2, 3]),
        ("?ERROR ?WARN", UNSTRUCTURED, vec![0, 1, 2, 3, 5, 6, 7]),
        ("\"INTERNAL SERVER ERROR\"", UNSTRUCTURED, vec![7]),
        ("\"Failed to process the request\"", UNSTRUCTURED, vec![5]),
        ("ERROR -ARGUMENTS", UNSTRUCTURED, vec![0, 1, 6, 7]),
        ("ERROR -ARGUMENTS -\"BAD REQUEST\"", UNSTRUCTURED, vec![1, 6, 7]),
        ("%AUTHORIZED%", UNSTRUCTURED, vec![1, 4]),
        ("%ERROR 4[0-9]{2}%", UNSTRUCTURED, vec![0, 1, 2, 3]),
        ("%^\\[ERROR%", UNSTRUCTURED, vec![0, 1, 2, 3]),
        ("%colou?r%", &["color", "colour", "colr"], vec![0, 1]),
        ("%gray|grey%", &["gray", "grey", "green"], vec![0, 1]),
        ("ERROR ?400 ?401", UNSTRUCTURED, vec![0, 1]),
        ("error", UNSTRUCTURED, vec![8]),
        // JSON.
        ("{ $.eventType = \"UpdateTrail\" }", JSON_EVENTS, vec![0]),
        ("{ $.eventType = UpdateTrail }", JSON_EVENTS, vec![0]),
        ("{ $.eventType != \"UpdateTrail\" }", JSON_EVENTS, vec![1, 2]),
        ("{ $.sourceIPAddress != 123.123.* }", JSON_EVENTS, vec![1]),
        ("{ $.sourceIPAddress = 123.123.* }", JSON_EVENTS, vec![0]),
        ("{ $.eventType = *Trail }", JSON_EVENTS, vec![0, 1, 2]),
        ("{ $.arrayKey[0] = \"value\" }", JSON_EVENTS, vec![0]),
        ("{ $.objectList[1].id = 2 }", JSON_EVENTS, vec![0]),
        ("{ $.user.id = 1 }", JSON_EVENTS, vec![1]),
        (
            "{ ($.user.id = 1) && ($.users[0].email = \"John.Doe@example.com\") }",
            JSON_EVENTS,
            vec![1],
        ),
        (
            "{ $.user.email = \"John.Doe@example.com\" || $.level = \"ERROR\" }",
            JSON_EVENTS,
            vec![1, 2],
        ),
        ("{ $.latency > 100 }", JSON_EVENTS, vec![1]),
        ("{ $.latency <= 50 }", JSON_EVENTS, vec![2]),
        ("{ $.latency = * }", JSON_EVENTS, vec![1, 2]),
        ("{ $.number[0] = 1e-3 }", JSON_EVENTS, vec![2]),
        ("{ $.bandwidth > 70 && $.latency < 100 }", JSON_EVENTS, vec![2]),
        (
            "{ ($.eventType = CreateTrail || $.eventType = DeleteTrail) && $.latency > 60 }",
            JSON_EVENTS,
            vec![1],
        ),
        ("{ $.SomeObject IS NULL }", JSON_EVENTS, vec![0]),
        ("{ $.SomeObject NOT EXISTS }", JSON_EVENTS, vec![1, 2]),
        ("{ $.ThisFlag IS TRUE }", JSON_EVENTS, vec![0]),
        ("{ $.ThisFlag IS FALSE }", JSON_EVENTS, vec![1]),
        ("{ $.user = * }", JSON_EVENTS, vec![]),
        ("{ $.cookies[1] = %ba.% }", JSON_EVENTS, vec![0]),
        // Space-delimited.
        (
            "[ip, user, username, timestamp, request, status_code, bytes]",
            APACHE,
            vec![0, 1, 2, 3],
        ),
        (
            "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
            APACHE,
            vec![0],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 404 || status_code = 410, bytes]",
            APACHE,
            vec![0, 2],
        ),
        ("[ip, user, ..., status_code, bytes > 1000]", APACHE, vec![0, 1]),
        ("[ip = 10.0.0.*, ...]", APACHE, vec![3]),
        ("[..., status_code >= 500, bytes]", APACHE, vec![3]),
        ("[w1 = short, w2]", APACHE, vec![4]),
        ("[ip, user, username != frank, ...]", APACHE, vec![3]),
        ("[ip, user, username, timestamp = %13:5.%, ...]", APACHE, vec![2, 3]),
        ("[a, b, c, d, e, f, g, h]", APACHE, vec![]),
    ];
    let mut bad = Vec::new();
    for (pattern, msgs, want) in cases {
        let got = matching(pattern, msgs);
        let want: Vec<String> = want.iter().map(|i| msgs[*i].to_string()).collect();
        if got != want {
            bad.push(format!("{pattern}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn filter_pattern_only_matches_log_events() {
    let cat = catalog();
    let p = pattern_compile("ERROR", &cat).unwrap();
    let mut span = log(0, "ERROR");
    span.kind = SignalKind::Span;
    let evs = [span];
    let ctx = Ctx {
        events: &evs,
        start_ns: 0,
        end_ns: i64::MAX,
    };
    assert!(!naive::matches(&p, &evs[0], &ctx));
}

fn syntax_pos(e: PatternError) -> usize {
    match e {
        PatternError::Syntax { pos, .. } => pos,
        other => panic!("not a syntax error: {other}"),
    }
}

#[test]
fn bad_filter_patterns() {
    let cases: &[(&str, usize, &str)] = &[
        ("{ $.a = 1", 9, "expected '}'"),
        ("{ a = 1 }", 2, "expected a selector"),
        ("{ $.a > \"x\" }", 8, "compares numbers"),
        ("{ $. = 1 }", 4, "property name"),
        ("{ $.a[x] = 1 }", 6, "array index"),
        ("\"unterminated", 0, "unterminated"),
        ("%abc", 0, "unterminated"),
        ("%a(b)%", 2, "'(' is not allowed"),
        ("%a% %b% %c%", 8, "at most 2"),
        ("[a, b", 5, "expected ',' or ']'"),
        ("[a = , b]", 5, "expected a value"),
        ("[a = 1 || b = 2]", 10, "names 'b'"),
        ("{ $.a = 1 } x", 12, "after the end"),
        ("{ $.a IS MAYBE }", 9, "NULL, TRUE or FALSE"),
        ("{ $.a = 1 &&  }", 14, "expected a selector"),
    ];
    let mut bad = Vec::new();
    for (pat, pos, msg) in cases {
        let e = pattern::parse(pat).unwrap_err();
        let text = e.to_string();
        let got = syntax_pos(e);
        if !text.contains(msg) || got != *pos {
            bad.push(format!("{pat:?}: {got} {text}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(matches!(
        pattern::parse("{ $.a IS NOT NULL }"),
        Err(PatternError::Unsupported(_))
    ));
    assert!(matches!(
        pattern::parse("[a, ..., b, ..., c]"),
        Err(PatternError::Unsupported(_))
    ));
    let long = "x".repeat(pattern::FILTER_PATTERN_LEN_MAX + 1);
    assert!(matches!(
        pattern::parse(&long),
        Err(PatternError::TooLong { .. })
    ));
    let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(40), ")".repeat(40));
    assert!(pattern::parse(&deep).is_err());
}

// ---------------------------------------------------------------------------------------
// Insights

fn insights_events() -> Vec<Event> {
    vec![
        log(
            0,
            r#"{"level": "INFO", "latency": 20, "route": "/a", "user": {"id": 1}}"#,
        ),
        log(
            10,
            r#"{"level": "ERROR", "latency": 300, "route": "/a", "user": {"id": 2}}"#,
        ),
        log(
            70,
            r#"{"level": "INFO", "latency": 40, "route": "/b", "user": {"id": 1}}"#,
        ),
        log(130, r#"{"level": "ERROR", "latency": 500, "route": "/b"}"#),
        log(400, "user=alice, method:GET, latency := 12"),
        log(410, "user=bob, method:POST, latency := 7"),
        log(420, "[ERROR] Caught IllegalArgumentException"),
    ]
}

/// Result rows as `(field, value)` pairs.
type Rows = Vec<Vec<(String, String)>>;

fn run(q: &CompiledQuery, evs: &[Event]) -> Rows {
    let rows = match &q.shape {
        Shape::Events(list) => naive::run_event_list(&q.plan, list, evs),
        Shape::Totals => naive::run_totals(&q.plan, evs),
        Shape::Series => naive::run_series(&q.plan, evs),
    };
    insights_results(q, &rows)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|r| r.into_iter().map(|f| (f.field, f.value)).collect())
        .collect()
}

fn ctx<'a>(cat: &'a Catalog, groups: &'a [String]) -> InsightsContext<'a> {
    InsightsContext {
        log_groups: groups,
        start_ns: T0_S * NS_PER_S,
        end_ns: (T0_S + 3600) * NS_PER_S,
        catalog: cat,
        limit: None,
    }
}

fn rows(q: &str) -> Rows {
    let cat = catalog();
    let groups = vec!["cruddur".to_string()];
    let c = insights_compile(q, &ctx(&cat, &groups)).unwrap_or_else(|e| panic!("{q}: {e}"));
    run(&c, &insights_events())
}

fn r(cells: &[(&str, &str)]) -> Vec<(String, String)> {
    cells
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Documented examples (CWL_QuerySyntax and the sample queries) with the rows they return.
#[test]
fn insights_examples() {
    let t =
        |s: i64| waggle_query::cloudwatch::insights_compile::insights_time((T0_S + s) * NS_PER_S);
    let cases: Vec<(&str, Rows)> = vec![
        (
            "fields @timestamp, @message | sort @timestamp desc | limit 2",
            vec![
                r(&[("@timestamp", &t(420)), ("@message", "[ERROR] Caught IllegalArgumentException")]),
                r(&[("@timestamp", &t(410)), ("@message", "user=bob, method:POST, latency := 7")]),
            ],
        ),
        (
            "filter @message like /Exception/ | fields @logStream",
            vec![r(&[("@logStream", "s0")])],
        ),
        (
            "fields level, latency | filter level = \"ERROR\" and latency > 400",
            vec![r(&[("level", "ERROR"), ("latency", "500")])],
        ),
        (
            "filter latency >= 300 | stats count(*) as n",
            vec![r(&[("n", "2")])],
        ),
        (
            "stats count(*) by level | sort level asc",
            // Events without the field form their own group, sorted last.
            vec![
                r(&[("level", "ERROR"), ("count(*)", "2")]),
                r(&[("level", "INFO"), ("count(*)", "2")]),
                r(&[("count(*)", "3")]),
            ],
        ),
        (
            "filter ispresent(level) | stats avg(latency), max(latency), min(latency), sum(latency) by route | sort route desc",
            vec![
                r(&[("route", "/b"), ("avg(latency)", "270"), ("max(latency)", "500"), ("min(latency)", "40"), ("sum(latency)", "540")]),
                r(&[("route", "/a"), ("avg(latency)", "160"), ("max(latency)", "300"), ("min(latency)", "20"), ("sum(latency)", "320")]),
            ],
        ),
        (
            "filter ispresent(level) | stats count(*) by bin(1m)",
            vec![
                r(&[("bin(1m)", &t(-20)), ("count(*)", "2")]),
                r(&[("bin(1m)", &t(40)), ("count(*)", "1")]),
                r(&[("bin(1m)", &t(100)), ("count(*)", "1")]),
            ],
        ),
        (
            "filter ispresent(level) | stats count(*) as c by bin(1m) as t | sort t desc | limit 1",
            vec![r(&[("t", &t(100)), ("c", "1")])],
        ),
        (
            "parse @message \"user=*, method:*, latency := *\" as @user, @method, @latency | filter ispresent(@user) | display @user, @method, @latency | sort @latency asc",
            vec![
                r(&[("@user", "alice"), ("@method", "GET"), ("@latency", "12")]),
                r(&[("@user", "bob"), ("@method", "POST"), ("@latency", "7")]),
            ],
        ),
        (
            "parse @message /user=(?<who>\\w+), method:(?<verb>[A-Z]+)/ | filter verb in [\"POST\", \"PUT\"] | fields who",
            vec![r(&[("who", "bob")])],
        ),
        (
            "parse @message \"user=*, method:*, latency := *\" as u, m, l | filter l > 10 | fields u",
            vec![r(&[("u", "alice")])],
        ),
        (
            "fields strlen(route) * 10 as n, concat(level, \"!\") as x, tolower(level) as low | filter level not like \"INFO\" and ispresent(level)",
            vec![
                r(&[("n", "20"), ("x", "ERROR!"), ("low", "error")]),
                r(&[("n", "20"), ("x", "ERROR!"), ("low", "error")]),
            ],
        ),
        (
            "filter @message =~ /(?i)illegal/ | fields @timestamp",
            vec![r(&[("@timestamp", &t(420))])],
        ),
        (
            "filter level in [\"ERROR\"] or latency < 30 | stats count(*), count(user.id), count_distinct(route) as routes",
            vec![r(&[("count(*)", "3"), ("count(user.id)", "2"), ("routes", "2")])],
        ),
        (
            "# errors only\nfilter level = 'ERROR'\n| stats pct(latency, 50) as p50, pct(latency, 99)",
            vec![r(&[("p50", "300"), ("pct(latency, 99)", "500")])],
        ),
        (
            "filter not (level = \"INFO\") and ispresent(latency) | fields latency, @ingestionTime | sort latency desc",
            vec![
                r(&[("latency", "500"), ("@ingestionTime", &format!("{}.005", &t(130)[..19]))]),
                r(&[("latency", "300"), ("@ingestionTime", &format!("{}.005", &t(10)[..19]))]),
            ],
        ),
        (
            "stats count(*) by @log",
            vec![r(&[("@log", "cruddur"), ("count(*)", "7")])],
        ),
        (
            "filter latency != 20 | stats count(*)",
            vec![r(&[("count(*)", "3")])],
        ),
    ];
    let mut bad = Vec::new();
    for (q, want) in cases {
        let got = rows(q);
        if got != want {
            bad.push(format!("{q}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn insights_several_groups_and_statistics() {
    let cat = catalog();
    let groups = vec!["cruddur".to_string(), "other".to_string()];
    let mut evs = insights_events();
    let mut x = log(5, "ERROR elsewhere");
    x.dataset = "other".into();
    evs.push(x);
    let mut y = log(6, "ERROR not queried");
    y.dataset = "third".into();
    evs.push(y);
    let q = insights_compile(
        "filter @message like \"ERROR\" | stats count(*) by @log",
        &ctx(&cat, &groups),
    )
    .unwrap();
    assert_eq!(
        run(&q, &evs),
        vec![
            r(&[("@log", "cruddur"), ("count(*)", "3")]),
            r(&[("@log", "other"), ("count(*)", "1")]),
        ]
    );
    let (m, s) = statistics_plans(&q, &cat);
    let st = statistics(&naive::run_totals(&m, &evs), &naive::run_totals(&s, &evs));
    assert_eq!(st.records_matched, 4.0);
    assert_eq!(st.records_scanned, 8.0);
    let bytes: usize = evs
        .iter()
        .filter(|e| e.dataset != "third")
        .map(|e| e.get("body").and_then(Value::as_str).unwrap_or("").len())
        .sum();
    assert_eq!(st.bytes_scanned, bytes as f64);
    let json = serde_json::to_value(st).unwrap();
    assert!(json.get("recordsMatched").is_some() && json.get("bytesScanned").is_some());
}

fn malformed(q: &str) -> (usize, usize, String) {
    match insights::parse(q) {
        Err(QueryError::Malformed {
            line,
            position,
            message,
        }) => (line, position, message),
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn bad_insights_queries() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "fields @message | count()",
            1,
            18,
            "unexpected symbol found 'count'",
        ),
        (
            "fields @timestamp,",
            1,
            18,
            "unexpected symbol found '<EOF>'",
        ),
        ("filter x = ", 1, 11, "expected a field"),
        (
            "filter x = 1\n| sort y descending",
            2,
            9,
            "unexpected symbol found 'descending'",
        ),
        ("stats count(*) by bin(5)", 1, 22, "invalid bin period"),
        (
            "filter @message like 5",
            1,
            21,
            "expected a \"string\" or /regex/",
        ),
        ("filter a < b < c", 1, 13, "expected 'and', 'or'"),
        ("limit 0", 1, 6, "positive whole number"),
        ("fields \"x", 1, 7, "unterminated string"),
        ("filter x = 1 ; drop", 1, 13, "unexpected symbol found ;"),
        ("", 1, 0, "empty"),
    ];
    let mut bad = Vec::new();
    for (q, line, pos, msg) in cases {
        let (l, p, m) = malformed(q);
        if !m.contains(msg) || (l, p) != (*line, *pos) {
            bad.push(format!("{q:?}: {l}:{p} {m}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let e = insights::parse("fields @message | count()").unwrap_err();
    assert!(e.to_string().ends_with("at line 1 and position 18"), "{e}");
    let cat = catalog();
    let groups = vec!["cruddur".to_string()];
    for q in [
        "stats stddev(latency)",
        "stats pct(latency, 42)",
        "fields toupper(level)",
        "dedup level",
        "stats count(*) | filter level = \"x\"",
        "limit 5 | filter level = \"x\"",
        "stats count(*) as c by bin(1m) | sort c desc",
    ] {
        assert!(
            matches!(
                insights_compile(q, &ctx(&cat, &groups)),
                Err(QueryError::Unsupported(_))
            ),
            "{q}"
        );
    }
    let long = format!("fields {}", "a".repeat(insights::QUERY_LEN_MAX));
    assert!(matches!(
        insights::parse(&long),
        Err(QueryError::TooLong { .. })
    ));
    let deep = format!("filter {}1{}", "(".repeat(100), ")".repeat(100));
    assert!(insights::parse(&deep).is_err());
}

// ---------------------------------------------------------------------------------------
// Properties

fn word() -> impl Strategy<Value = String> + Clone {
    "[A-Za-z][A-Za-z0-9_]{0,6}"
}

fn pattern_strategy() -> impl Strategy<Value = pattern::Pattern> {
    use pattern::*;
    let text = prop_oneof![
        "[A-Za-z0-9 .*:/\\\\\"-]{1,8}".prop_map(Operand::Text),
        (-1000i32..1000).prop_map(|n| Operand::Number(f64::from(n) / 4.0)),
        "[a-z]{1,4}(\\.\\*)?".prop_map(Operand::Regex),
    ];
    let op_val = (0..6usize, text).prop_map(|(o, v)| {
        let op = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge][o];
        match (op, v) {
            (Op::Eq | Op::Ne, v) => (op, v),
            (op, Operand::Number(n)) => (op, Operand::Number(n)),
            (_, _) => (Op::Eq, Operand::Number(1.0)),
        }
    });
    let selector = prop::collection::vec(
        prop_oneof![
            "[A-Za-z_@-][A-Za-z0-9_@-]{0,5}".prop_map(JsonStep::Key),
            (0u32..5).prop_map(JsonStep::Index)
        ],
        1..4,
    );
    let test = prop_oneof![
        op_val.clone().prop_map(|(o, v)| JsonTest::Compare(o, v)),
        Just(JsonTest::IsNull),
        Just(JsonTest::IsTrue),
        Just(JsonTest::IsFalse),
        Just(JsonTest::NotExists),
    ];
    let leaf = (selector, test).prop_map(|(selector, test)| JsonExpr::Test { selector, test });
    let json = leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(JsonExpr::And),
            prop::collection::vec(inner, 2..4).prop_map(JsonExpr::Or),
        ]
    });
    let term = (
        0..3usize,
        prop_oneof![
            "[A-Za-z0-9:\\[\\]{}]{1,6}".prop_map(TermText::Word),
            "[A-Za-z0-9 ?\\\\\"-]{1,8}".prop_map(TermText::Phrase),
        ],
    )
        .prop_map(|(m, text)| Term {
            mode: [TermMode::Required, TermMode::Optional, TermMode::Excluded][m],
            text,
        })
        .prop_filter(
            "a first word starting with { or [ is another pattern",
            |t| !matches!(&t.text, TermText::Word(w) if w.starts_with('{') || w.starts_with('[')),
        );
    let cond = op_val.prop_map(|(o, v)| FieldCond::Compare(o, v));
    let field = prop_oneof![
        Just(Field::Ellipsis),
        ("[a-z_][a-z0-9_]{0,4}", prop::option::of(cond))
            .prop_map(|(name, cond)| Field::Named { name, cond }),
    ];
    prop_oneof![
        Just(Pattern::All),
        prop::collection::vec(term, 1..4).prop_map(Pattern::Terms),
        json.prop_map(Pattern::Json),
        prop::collection::vec(field, 1..5)
            .prop_filter("one ellipsis", |fs| fs
                .iter()
                .filter(|f| **f == Field::Ellipsis)
                .count()
                <= 1)
            .prop_map(Pattern::Delimited),
    ]
    .prop_filter("at most 2 regexes", |p| {
        pattern::print(p).matches('%').count() <= 4
    })
}

fn insights_expr() -> impl Strategy<Value = insights::Expr> {
    use insights::*;
    let leaf = prop_oneof![
        word().prop_map(Expr::Field),
        "@[a-z]{1,6}".prop_map(Expr::Field),
        "[ -~]{0,6}".prop_map(Expr::Str),
        (0u32..10_000).prop_map(|n| Expr::Num(f64::from(n) / 8.0)),
    ]
    .prop_filter("keywords", |e| {
        !matches!(e, Expr::Field(f) if ["and", "or", "not", "like", "in", "as", "by"].contains(&f.to_ascii_lowercase().as_str()))
    });
    leaf.prop_recursive(4, 24, 3, |inner| {
        let ops = [
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::Div,
            BinOp::Mod,
            BinOp::Eq,
            BinOp::Ne,
            BinOp::Lt,
            BinOp::Le,
            BinOp::Gt,
            BinOp::Ge,
            BinOp::And,
            BinOp::Or,
        ];
        prop_oneof![
            (0..13usize, inner.clone(), inner.clone()).prop_map(move |(o, a, b)| Expr::Binary(
                ops[o],
                Box::new(a),
                Box::new(b)
            )),
            inner.clone().prop_map(|x| Expr::Not(Box::new(x))),
            inner.clone().prop_map(|x| Expr::Neg(Box::new(x))),
            (inner.clone(), any::<bool>(), "[a-z ]{0,5}").prop_map(|(x, n, s)| Expr::Like {
                expr: Box::new(x),
                negated: n,
                matcher: Matcher::Text(s)
            }),
            (inner.clone(), any::<bool>(), "[a-z.*]{1,5}").prop_map(|(x, n, s)| Expr::Like {
                expr: Box::new(x),
                negated: n,
                matcher: Matcher::Regex(s)
            }),
            (
                inner.clone(),
                any::<bool>(),
                prop::collection::vec(inner.clone(), 1..3)
            )
                .prop_map(|(x, n, l)| Expr::In {
                    expr: Box::new(x),
                    negated: n,
                    list: l
                }),
            ("[a-z]{1,8}", prop::collection::vec(inner, 0..3)).prop_map(|(f, a)| Expr::Call(f, a)),
        ]
    })
}

fn insights_query() -> impl Strategy<Value = insights::Query> {
    use insights::*;
    let alias = prop::option::of(word());
    let cmd = prop_oneof![
        prop::collection::vec((insights_expr(), alias.clone()), 1..3).prop_map(Command::Fields),
        insights_expr().prop_map(Command::Filter),
        prop::collection::vec(word(), 1..3).prop_map(Command::Display),
        prop::collection::vec((word(), any::<bool>()), 1..3).prop_map(Command::Sort),
        (1u32..20_000).prop_map(Command::Limit),
        (
            prop::collection::vec((insights_expr(), alias.clone()), 1..3),
            prop::collection::vec(
                (
                    prop_oneof![
                        word().prop_map(GroupKey::Field),
                        (1i64..60).prop_map(|n| GroupKey::Bin {
                            ms: n * 60_000,
                            text: format!("{n}m")
                        })
                    ],
                    alias
                ),
                0..3
            )
        )
            .prop_map(|(aggs, by)| Command::Stats { aggs, by }),
        (
            word(),
            "[a-z *\\[\\]]{1,10}",
            prop::collection::vec(word(), 0..3)
        )
            .prop_map(|(f, g, names)| Command::Parse {
                field: f,
                pattern: ParsePattern::Glob(g),
                names
            }),
    ];
    prop::collection::vec(cmd, 1..4).prop_map(|commands| Query { commands })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pattern_print_parse_round_trip(p in pattern_strategy()) {
        let text = pattern::print(&p);
        let back = pattern::parse(&text);
        prop_assert_eq!(back.as_ref().ok(), Some(&p), "{} → {:?}", text, back);
    }

    #[test]
    fn pattern_parser_never_panics(s in "\\PC{0,64}") {
        let _ = pattern::parse(&s);
        let _ = pattern_compile(&s, &catalog());
    }

    #[test]
    fn pattern_parser_never_panics_on_pattern_like_text(s in "[{}\\[\\]()$.a-z0-9 =!<>&|\"%*?,-]{0,40}") {
        let _ = pattern::parse(&s);
        let _ = pattern_compile(&s, &catalog());
    }

    #[test]
    fn insights_print_parse_round_trip(q in insights_query()) {
        let text = insights::print(&q);
        let back = insights::parse(&text);
        prop_assert_eq!(back.as_ref().ok(), Some(&q), "{} → {:?}", text, back);
    }

    #[test]
    fn insights_parser_never_panics(s in "\\PC{0,80}") {
        let _ = insights::parse(&s);
        let groups = vec!["g".to_string()];
        let _ = insights_compile(&s, &ctx(&catalog(), &groups));
    }

    #[test]
    fn insights_parser_never_panics_on_query_like_text(s in "(fields|filter|stats|parse|sort|limit|[a-z@ ,|()\\[\\]`\"'/*=<>!~#\n0-9-]){0,30}") {
        let _ = insights::parse(&s);
        let groups = vec!["g".to_string()];
        let _ = insights_compile(&s, &ctx(&catalog(), &groups));
    }
}
