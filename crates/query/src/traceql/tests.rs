//! TraceQL through the public API: Tempo's own parser corpus (`testdata/`, pinned with its
//! source in the README there), precedence, literals and error positions, compilation to
//! plan predicates, queries evaluated with the naive evaluator over small traces, and
//! property tests (arbitrary text never panics).

use crate::plan::{
    ColumnKind, ColumnRef, Operand, Predicate, Relation, SpanAgg, TraceScope, NS_PER_S,
};
use crate::traceql::*;
use model::schema::{Catalog, Column};
use model::value::ColumnType;
use model::{Event, SignalKind, SpanId, TraceId, Value};
use proptest::prelude::*;

// ---- Tempo's corpus -------------------------------------------------------------------------

const CORPUS: &str = include_str!("testdata/test_examples.json");

fn corpus(category: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(CORPUS).expect("corpus is JSON");
    doc[category]
        .as_array()
        .expect("category is a list")
        .iter()
        .map(|q| q.as_str().expect("query is a string").to_string())
        .collect()
}

/// Queries of `category` for which `check` returns an error message.
fn failures(category: &str, check: impl Fn(&str) -> Option<String>) -> (usize, Vec<String>) {
    let qs = corpus(category);
    let bad: Vec<String> = qs
        .iter()
        .filter_map(|q| check(q).map(|why| format!("  {q}\n    {why}")))
        .collect();
    eprintln!(
        "tempo corpus {category}: {}/{} pass",
        qs.len() - bad.len(),
        qs.len()
    );
    (qs.len(), bad)
}

#[test]
fn corpus_valid_queries_parse_and_validate() {
    let (n, bad) = failures("valid", |q| parse(q).err().map(|e| e.to_string()));
    assert!(n > 250, "{n}");
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn corpus_parse_failures_fail_to_parse() {
    let (n, bad) = failures("parse_fails", |q| match parse_syntax(q) {
        Err(Error::Parse { .. }) => None,
        Err(e) => Some(format!("not a parse error: {e}")),
        Ok(_) => Some("parsed".into()),
    });
    assert!(n > 80, "{n}");
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn corpus_validation_failures_parse_then_fail_validation() {
    let (n, bad) = failures("validate_fails", |q| match parse_syntax(q) {
        Err(e) => Some(format!("did not parse: {e}")),
        Ok(query) => match validate(&query) {
            Err(Error::Validation { .. }) => None,
            Err(e) => Some(format!("not a validation error: {e}")),
            Ok(()) => Some("validated".into()),
        },
    });
    assert!(n > 60, "{n}");
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn corpus_unsupported_queries_are_reported_unsupported() {
    let (n, bad) = failures("unsupported", |q| match parse_syntax(q) {
        Err(e) => Some(format!("did not parse: {e}")),
        Ok(query) => match validate(&query) {
            Err(Error::Unsupported { .. }) => None,
            Err(e) => Some(format!("not an unsupported error: {e}")),
            Ok(()) => Some("validated".into()),
        },
    });
    assert!(n > 20, "{n}");
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}

// ---- Syntax: precedence, literals, positions ------------------------------------------------

/// A field expression as an s-expression.
fn sx(f: &Field) -> String {
    match &f.kind {
        FieldKind::Static(s) => match s {
            Static::Nil => "nil".into(),
            Static::Int(i) => i.to_string(),
            Static::Float(x) => format!("{x:?}"),
            Static::Str(s) => format!("{s:?}"),
            Static::Bool(b) => b.to_string(),
            Static::Duration(d) => format!("{d}ns"),
            Static::Status(s) => s.as_str().into(),
            Static::Kind(k) => k.as_str().into(),
        },
        FieldKind::Attr(a) => a.to_string(),
        FieldKind::Binary { op, lhs, rhs } => format!("({} {} {})", op.as_str(), sx(lhs), sx(rhs)),
        FieldKind::Unary { op, operand } => format!("({op:?} {})", sx(operand)),
    }
}

/// A spanset expression as an s-expression (filters as their field expression).
fn ssx(e: &SpansetExpr) -> String {
    match e {
        SpansetExpr::Filter(f) => format!("{{{}}}", sx(&f.expr)),
        SpansetExpr::Op { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.as_str(), ssx(lhs), ssx(rhs))
        }
        SpansetExpr::Pipeline(p) => {
            let stages: Vec<String> = p
                .stages
                .iter()
                .map(|s| match s {
                    Stage::Spanset(e) => ssx(e),
                    Stage::ScalarFilter(f) => format!("scalar{:?}", f.op),
                    Stage::By { expr, .. } => format!("by({})", sx(expr)),
                    Stage::Coalesce { .. } => "coalesce()".into(),
                    Stage::Select { attrs, .. } => format!("select({})", attrs.len()),
                })
                .collect();
            format!("[{}]", stages.join(" | "))
        }
    }
}

fn spans_of(q: &str) -> SpansetExpr {
    match parse_syntax(q).unwrap_or_else(|e| panic!("{q}: {e}")).root {
        RootExpr::Spans(e) => e,
        RootExpr::Metrics(m) => panic!("{q}: metrics {m:?}"),
    }
}

fn filter_sx(q: &str) -> String {
    let e = spans_of(q);
    let SpansetExpr::Pipeline(p) = &e else {
        panic!("{q}: {e:?}")
    };
    match &p.stages[..] {
        [Stage::Spanset(SpansetExpr::Filter(f))] => sx(&f.expr),
        _ => panic!("{q}: {}", ssx(&e)),
    }
}

#[test]
fn field_expression_precedence_follows_tempo() {
    let cases = [
        // `&&` and `||` share one level, left to right (Tempo's `%left AND OR`).
        ("{ .a || .b && .c }", "(&& (|| .a .b) .c)"),
        ("{ .a && .b || .c }", "(|| (&& .a .b) .c)"),
        ("{ .a = 1 && .b > 2 }", "(&& (= .a 1) (> .b 2))"),
        ("{ .a = 1 + 2 * 3 }", "(= .a (+ 1 (* 2 3)))"),
        ("{ .a = (1 + 2) * 3 }", "(= .a (* (+ 1 2) 3))"),
        ("{ .a - 1 - 2 = 0 }", "(= (- (- .a 1) 2) 0)"),
        ("{ .a ^ 2 ^ 3 = 1 }", "(= (^ .a (^ 2 3)) 1)"),
        ("{ 2 * .a ^ 2 = 8 }", "(= (* 2 (^ .a 2)) 8)"),
        // Prefix `-` binds like `+`/`-`: tighter operators go inside it.
        ("{ -.a * 2 = 1 }", "(= (Neg (* .a 2)) 1)"),
        ("{ -.a + 1 = 1 }", "(= (+ (Neg .a) 1) 1)"),
        // Prefix `!` sits between `+ -` and `* / %`.
        ("{ !.a = true }", "(= (Not .a) true)"),
        ("{ !.a && .b }", "(&& (Not .a) .b)"),
        (
            "{ .a = nil && .b != nil }",
            "(&& (NotExists .a) (Exists .b))",
        ),
        ("{ nil != .a + 1 }", "(Exists (+ .a 1))"),
        ("{ nil = nil }", "false"),
        ("{ }", "true"),
        (
            "{ .a =~ \"x.*\" || .a !~ \"y\" }",
            "(|| (=~ .a \"x.*\") (!~ .a \"y\"))",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(filter_sx(q), want, "{q}");
    }
}

#[test]
fn spanset_and_pipeline_precedence() {
    let cases = [
        ("{ .a } && { .b } > { .c }", "[(&& {.a} (> {.b} {.c}))]"),
        ("{ .a } > { .b } > { .c }", "[(> (> {.a} {.b}) {.c})]"),
        ("{ .a } >> { .b } || { .c }", "[(|| (>> {.a} {.b}) {.c})]"),
        (
            "({ .a } || { .b }) &>> { .c }",
            "[(&>> (|| {.a} {.b}) {.c})]",
        ),
        ("{ .a } !~ { .b } ~ { .c }", "[(~ (!~ {.a} {.b}) {.c})]"),
        ("{ .a } | { .b } | count() > 2", "[{.a} | {.b} | scalarGt]"),
        (
            "{ } | by(.x) | coalesce() | select(.y, name)",
            "[{true} | by(.x) | coalesce() | select(2)]",
        ),
        (
            "({ .a } | count() > 1) && ({ .b } | { .c })",
            "(&& [{.a} | scalarGt] [{.b} | {.c}])",
        ),
    ];
    for (q, want) in cases {
        assert_eq!(ssx(&spans_of(q)), want, "{q}");
    }
}

#[test]
fn literals_durations_and_names() {
    assert_eq!(
        filter_sx("{ duration > 1.5ms }"),
        "(> span:duration 1500000ns)"
    );
    assert_eq!(
        filter_sx("{ duration > 2h }"),
        "(> span:duration 7200000000000ns)"
    );
    assert_eq!(
        filter_sx("{ trace:duration > 1h30m }"),
        "(> trace:duration 5400000000000ns)"
    );
    assert_eq!(
        filter_sx("{ span:duration < 300us }"),
        "(< span:duration 300000ns)"
    );
    assert_eq!(filter_sx("{ .retries > -1 }"), "(> .retries (Neg 1))");
    assert_eq!(
        filter_sx("{ .v != minInt }"),
        "(!= .v -9223372036854775808)"
    );
    assert_eq!(filter_sx("{ .x = 1.5e3 }"), "(= .x 1500.0)");
    assert_eq!(
        filter_sx(r#"{ .msg = "say \"hi\"\n\ttab \u00e9" }"#),
        r#"(= .msg "say \"hi\"\n\ttab é")"#
    );
    assert_eq!(filter_sx(r#"{ .p = `C:\dir` }"#), r#"(= .p "C:\\dir")"#);
    assert_eq!(
        filter_sx(r#"{ span."with space" = 1 && resource."a\"b".c = 2 }"#),
        r#"(&& (= span."with space" 1) (= resource."a\"b.c" 2))"#
    );
    assert_eq!(
        filter_sx("{ status = error && kind = server }"),
        "(&& (= span:status error) (= span:kind server))"
    );
    assert_eq!(
        filter_sx("{ span:name = \"a\" && trace:rootService = \"b\" && event:name = \"c\" && link:traceID = \"d\" && instrumentation:version = \"e\" }"),
        "(&& (&& (&& (&& (= span:name \"a\") (= trace:rootService \"b\")) (= event:name \"c\")) (= link:traceID \"d\")) (= instrumentation:version \"e\"))"
    );
    assert_eq!(
        filter_sx("{ rootName = \"a\" || rootServiceName = \"b\" }"),
        "(|| (= trace:rootName \"a\") (= trace:rootService \"b\"))"
    );
    assert_eq!(
        filter_sx("{ parent.span.a = 1 || event.x = 2 || link.y = 3 || instrumentation.z = 4 }")
            .replace(' ', ""),
        "(||(||(||(=parent.span.a1)(=event.x2))(=link.y3))(=instrumentation.z4))"
    );
}

#[test]
fn metrics_queries_parse_into_the_tree() {
    let q = parse("{ status = error } | quantile_over_time(duration, .5, .9) by (resource.service.name, name) | topk(5) > 1s with(sample=0.1)").unwrap();
    let RootExpr::Metrics(MetricsExpr::Pipeline { first, second, .. }) = &q.root else {
        panic!("{:?}", q.root)
    };
    assert_eq!(
        first.func,
        MetricsFunc::QuantileOverTime(AttrRef::Intrinsic(Intrinsic::Duration), vec![0.5, 0.9])
    );
    assert_eq!(first.by.len(), 2);
    assert!(matches!(second[0], SecondStage::TopK { limit: 5, .. }));
    assert!(matches!(second[1], SecondStage::Filter { op: CmpOp::Gt, value, .. } if value == 1.0));
    assert_eq!(q.hint("sample"), Some(&Static::Float(0.1)));

    let q = parse("(({ } | rate()) * 100) / ({ } | count_over_time() by (span.http.route)) > 5")
        .unwrap();
    let RootExpr::Metrics(MetricsExpr::Staged { expr, second, .. }) = &q.root else {
        panic!("{:?}", q.root)
    };
    assert!(matches!(
        **expr,
        MetricsExpr::Math {
            op: ArithOp::Div,
            ..
        }
    ));
    assert_eq!(second.len(), 1);
    for ok in [
        "{ } | rate()",
        "{ } | count_over_time() by (resource.service.name)",
        "{ } | min_over_time(duration) by (name)",
        "{ } | max_over_time(span.bytes)",
        "{ } | avg_over_time(duration)",
        "{ } | sum_over_time(span.bytes)",
        "{ } | histogram_over_time(duration) by (span.http.route)",
        "{ } | compare({ status = error }, 20)",
        "{ } | rate() with(most_recent=true)",
    ] {
        assert!(
            matches!(
                parse(ok),
                Ok(Query {
                    root: RootExpr::Metrics(_),
                    ..
                })
            ),
            "{ok}"
        );
    }
}

#[test]
fn errors_say_where_and_why() {
    let parse_err = |q: &str| match parse(q) {
        Err(Error::Parse { pos, message }) => (pos, message),
        other => panic!("{q}: {other:?}"),
    };
    assert_eq!(
        parse_err("{ .a = }"),
        (
            7,
            "unexpected `}`, expecting a value, an attribute such as `.name` or an intrinsic"
                .into()
        )
    );
    assert_eq!(parse_err("{ .a = 1").0, 8);
    assert_eq!(
        parse_err(r#"{ .a = "x }"#),
        (7, "string literal not terminated".into())
    );
    assert_eq!(parse_err("{ .a = 1 } | count()").0, 13);
    assert_eq!(parse_err("{ .a } + { .b }").0, 7);
    assert_eq!(parse_err("{ span:foo = 1 }").0, 2);
    assert!(parse_err("{ foo = 1 }")
        .1
        .contains("unknown identifier `foo`"));
    // Positions are byte offsets.
    assert_eq!(parse_err("{ .é = 1 } | @").0, 14);

    let e = parse(r#"{ .a = 1 && 1 + "x" = 2 }"#).unwrap_err();
    assert_eq!(
        e,
        Error::Validation {
            pos: 12,
            message: "`+` needs operands of one type; found integer and string".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "invalid TraceQL at position 12: `+` needs operands of one type; found integer and string"
    );
    let e = parse("{ .a =~ \"(\" }").unwrap_err();
    assert!(matches!(e, Error::Validation { pos: 8, .. }), "{e}");
    let e = parse("{ parent.a = 1 }").unwrap_err();
    assert!(matches!(e, Error::Unsupported { pos: 2, .. }), "{e}");
    assert!(
        e.to_string().contains("Tempo does not run them either"),
        "{e}"
    );
    let long = format!("{{ .a = \"{}\" }}", "x".repeat(QUERY_LEN_MAX));
    assert!(matches!(parse(&long), Err(Error::Parse { .. })));
    let deep = format!("{{ {}.a{} }}", "(".repeat(3000), ")".repeat(3000));
    assert!(matches!(parse(&deep), Err(Error::Parse { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary text never panics the parser, validator or compiler.
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
        if let Ok(q) = parse(&s) {
            let cat = Catalog::default();
            let _ = compile(&q, &CompileContext { catalog: &cat });
        }
    }

    /// Token soup close to TraceQL never panics either, and what parses compiles or says why.
    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "(", ")", "|", "&&", "||", ">", ">>", "<", "<<", "~", "!~", "!>", "&>", "=",
        "!=", "=~", "+", "-", "*", "/", "%", "^", "!", ",", ".a", "span.b", "resource.c",
        "name", "duration", "status", "kind", "error", "server", "nil", "1", "2.5", "3s",
        "\"x\"", "count()", "avg(duration)", "by(.a)", "rate()", "topk(2)", "select(.a)",
        "coalesce()", "trace:duration", "span:id", "parent.x", "with(sample=0.1)",
    ]), 0..24)) {
        let text = toks.join(" ");
        if let Ok(q) = parse(&text) {
            let cat = Catalog::default();
            match compile(&q, &CompileContext { catalog: &cat }) {
                Ok(_) | Err(Error::Unsupported { .. }) | Err(Error::Validation { .. }) => {}
                Err(e) => prop_assert!(false, "{text}: {e}"),
            }
        }
    }
}

// ---- Compilation to plan predicates ---------------------------------------------------------

fn stored(name: &str, ty: ColumnType) -> ColumnRef {
    ColumnRef {
        name: name.into(),
        kind: ColumnKind::Stored(ty),
    }
}

fn cmp(c: ColumnRef, op: CmpOp, v: Value) -> Predicate {
    Predicate::Compare {
        lhs: Operand::Column(c),
        op,
        value: v,
    }
}

fn any(p: Predicate) -> Predicate {
    Predicate::Trace {
        scope: TraceScope::Any,
        predicate: Box::new(p),
    }
}

fn rel(relation: Relation, other: Predicate) -> Predicate {
    Predicate::Related {
        relation,
        other: Box::new(other),
    }
}

fn root(p: Predicate) -> Predicate {
    Predicate::Trace {
        scope: TraceScope::Root,
        predicate: Box::new(p),
    }
}

fn table_catalog() -> Catalog {
    let c = |name: &str, ty| Column {
        name: name.into(),
        ty,
    };
    Catalog {
        columns: vec![
            c("http.status_code", ColumnType::Integer),
            c("http.method", ColumnType::String),
            c("status_code", ColumnType::Integer),
            c("error", ColumnType::Boolean),
            c("span.kind", ColumnType::String),
            c("status_message", ColumnType::String),
            c("cache.hit", ColumnType::Boolean),
            c("user.name", ColumnType::String),
        ],
        overflow: Vec::new(),
    }
}

fn compiled(q: &str) -> Search {
    let cat = table_catalog();
    compile_str(q, &CompileContext { catalog: &cat }).unwrap_or_else(|e| panic!("{q}: {e}"))
}

#[test]
fn spanset_filters_compile_to_plan_predicates() {
    use ColumnType::*;
    let status = || stored("http.status_code", Integer);
    let method = || stored("http.method", String);
    let name = || stored("name", String);
    let service = || stored("service.name", String);
    let kind = || stored("span.kind", String);
    let error = Predicate::or(vec![
        cmp(stored("status_code", Integer), CmpOp::Eq, Value::Int(2)),
        cmp(stored("error", Boolean), CmpOp::Eq, Value::Bool(true)),
    ]);
    let s = |v: &str| Value::Str(v.into());
    let cases: Vec<(&str, Predicate)> = vec![
        ("{ }", any(Predicate::True)),
        ("{ 1 = 2 }", Predicate::False),
        (
            "{ span.http.status_code >= 500 }",
            any(cmp(status(), CmpOp::Ge, Value::Int(500))),
        ),
        // Constant arithmetic is folded; the literal side may come first.
        (
            "{ .http.status_code = 200 + 4 }",
            any(cmp(status(), CmpOp::Eq, Value::Int(204))),
        ),
        (
            "{ 400 <= .http.status_code }",
            any(cmp(status(), CmpOp::Ge, Value::Int(400))),
        ),
        // Resource and span attributes are both flat columns; service.name is the fixed one.
        (
            "{ resource.service.name = \"api\" }",
            any(cmp(service(), CmpOp::Eq, s("api"))),
        ),
        (
            "{ .service.name = \"api\" }",
            any(cmp(service(), CmpOp::Eq, s("api"))),
        ),
        // An attribute named like a fixed column is stored with a `user.` prefix.
        (
            "{ span.name = \"x\" }",
            any(cmp(stored("user.name", String), CmpOp::Eq, s("x"))),
        ),
        (
            "{ name = \"GET /\" && duration > 1.5ms }",
            any(Predicate::and(vec![
                cmp(name(), CmpOp::Eq, s("GET /")),
                cmp(stored("duration_ms", Float), CmpOp::Gt, Value::Float(1.5)),
            ])),
        ),
        ("{ status = error }", any(error.clone())),
        ("{ status != error }", any(Predicate::not(error.clone()))),
        (
            "{ kind = server }",
            any(cmp(kind(), CmpOp::Eq, s("server"))),
        ),
        // Waggle stores no kind for some events; Tempo's default is `unspecified`.
        (
            "{ kind = unspecified }",
            any(Predicate::or(vec![
                Predicate::not(Predicate::Exists(kind())),
                cmp(kind(), CmpOp::Eq, s("unspecified")),
            ])),
        ),
        (
            "{ statusMessage = \"\" }",
            any(Predicate::or(vec![
                Predicate::not(Predicate::Exists(stored("status_message", String))),
                cmp(stored("status_message", String), CmpOp::Eq, s("")),
            ])),
        ),
        (
            "{ traceDuration > 2s }",
            any(Predicate::TraceDuration {
                op: CmpOp::Gt,
                ms: 2000.0,
            }),
        ),
        (
            "{ trace:rootService = \"web\" }",
            any(root(cmp(service(), CmpOp::Eq, s("web")))),
        ),
        (
            "{ rootName != \"GET /\" }",
            any(root(cmp(name(), CmpOp::Ne, s("GET /")))),
        ),
        // `!=` never matches spans without the attribute.
        (
            "{ .http.method != \"GET\" }",
            any(cmp(method(), CmpOp::Ne, s("GET"))),
        ),
        ("{ .http.method != nil }", any(Predicate::Exists(method()))),
        (
            "{ .http.method = nil }",
            any(Predicate::not(Predicate::Exists(method()))),
        ),
        (
            "{ .cache.hit }",
            any(cmp(
                stored("cache.hit", Boolean),
                CmpOp::Eq,
                Value::Bool(true),
            )),
        ),
        ("{ .nope = 1 }", Predicate::False),
        ("{ .nope = nil }", any(Predicate::True)),
        (
            "{ trace:id = \"0af7651916cd43dd8448eb211c80319c\" }",
            any(Predicate::TraceIdIs(
                TraceId::parse("0af7651916cd43dd8448eb211c80319c").unwrap(),
            )),
        ),
        (
            "{ span:id = \"f067aa0ba902b7\" }",
            any(Predicate::SpanIdIs {
                parent: false,
                id: SpanId::parse("00f067aa0ba902b7").unwrap(),
            }),
        ),
        // Spanset operators.
        (
            "{ .http.method = \"GET\" } && { kind = server }",
            Predicate::and(vec![
                any(cmp(method(), CmpOp::Eq, s("GET"))),
                any(cmp(kind(), CmpOp::Eq, s("server"))),
            ]),
        ),
        (
            "{ .http.method = \"GET\" } || { kind = server }",
            Predicate::or(vec![
                any(cmp(method(), CmpOp::Eq, s("GET"))),
                any(cmp(kind(), CmpOp::Eq, s("server"))),
            ]),
        ),
        // Structural operators return right-hand spans related to left-hand ones.
        (
            "{ kind = server } > { .http.method = \"GET\" }",
            any(Predicate::and(vec![
                cmp(method(), CmpOp::Eq, s("GET")),
                rel(Relation::Parent, cmp(kind(), CmpOp::Eq, s("server"))),
            ])),
        ),
        (
            "{ kind = server } < { .http.method = \"GET\" }",
            any(Predicate::and(vec![
                cmp(method(), CmpOp::Eq, s("GET")),
                rel(Relation::Child, cmp(kind(), CmpOp::Eq, s("server"))),
            ])),
        ),
        (
            "{ kind = server } >> { .http.method = \"GET\" }",
            any(Predicate::and(vec![
                cmp(method(), CmpOp::Eq, s("GET")),
                rel(Relation::Ancestor, cmp(kind(), CmpOp::Eq, s("server"))),
            ])),
        ),
        (
            "{ kind = server } !<< { }",
            any(Predicate::not(rel(
                Relation::Descendant,
                cmp(kind(), CmpOp::Eq, s("server")),
            ))),
        ),
        ("{ .nope = 1 } !~ { }", any(Predicate::True)),
        ("{ .nope = 1 } ~ { }", Predicate::False),
        (
            "{ kind = server } &~ { .http.method = \"GET\" }",
            any(Predicate::or(vec![
                Predicate::and(vec![
                    cmp(method(), CmpOp::Eq, s("GET")),
                    rel(Relation::Sibling, cmp(kind(), CmpOp::Eq, s("server"))),
                ]),
                Predicate::and(vec![
                    cmp(kind(), CmpOp::Eq, s("server")),
                    rel(Relation::Sibling, cmp(method(), CmpOp::Eq, s("GET"))),
                ]),
            ])),
        ),
        // Aggregates: without by() the trace's aggregate over the member spans.
        (
            "{ kind = server } | count() > 2",
            Predicate::SpanAggregate {
                predicate: Box::new(cmp(kind(), CmpOp::Eq, s("server"))),
                agg: SpanAgg::Count,
                operand: None,
                group: Vec::new(),
                op: CmpOp::Gt,
                value: 2.0,
            },
        ),
        (
            "{ } | avg(duration) >= 1.5ms",
            Predicate::SpanAggregate {
                predicate: Box::new(Predicate::True),
                agg: SpanAgg::Avg,
                operand: Some(Operand::Column(stored("duration_ms", Float))),
                group: Vec::new(),
                op: CmpOp::Ge,
                value: 1.5,
            },
        ),
        (
            "{ } | sum(.http.status_code) < 1000",
            Predicate::SpanAggregate {
                predicate: Box::new(Predicate::True),
                agg: SpanAgg::Sum,
                operand: Some(Operand::AsDouble(status())),
                group: Vec::new(),
                op: CmpOp::Lt,
                value: 1000.0,
            },
        ),
        // A string attribute holds no number: no spanset has a value.
        ("{ } | max(.http.method) > 1", Predicate::False),
        // With by() the aggregate is per group; `has` asks for a span of a passing group.
        (
            "{ } | by(.http.method) | count() > 1",
            any(Predicate::SpanAggregate {
                predicate: Box::new(Predicate::True),
                agg: SpanAgg::Count,
                operand: None,
                group: vec![method()],
                op: CmpOp::Gt,
                value: 1.0,
            }),
        ),
        // Pipelines filter the spans the previous stage kept.
        (
            "{ kind = server } | { .http.method = \"GET\" }",
            any(Predicate::and(vec![
                cmp(kind(), CmpOp::Eq, s("server")),
                cmp(method(), CmpOp::Eq, s("GET")),
            ])),
        ),
    ];
    let mut bad = Vec::new();
    for (q, want) in cases {
        let got = compiled(q).trace;
        if got != want {
            bad.push(format!("{q}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn regexes_are_fully_anchored() {
    let p = compiled("{ .http.method =~ \"GE.*\" }").trace;
    let Predicate::Trace { predicate, .. } = p else {
        panic!("{p:?}")
    };
    let Predicate::Regex(Operand::Column(c), pattern) = *predicate else {
        panic!()
    };
    assert_eq!(c.name, "http.method");
    assert_eq!(pattern.source, "^(?s:GE.*)$");
    assert!(pattern.regex.is_match("GET") && !pattern.regex.is_match("xGET"));
    let p = compiled("{ .http.method !~ \"G.*\" }").trace;
    assert!(format!("{p:?}").contains("Exists"), "{p:?}");
}

#[test]
fn search_reports_spans_selects_and_groups() {
    let s = compiled("{ kind = server } | by(resource.service.name) | select(.http.method, name)");
    assert_eq!(s.group_by[0].name, "service.name");
    // `name` is the span's own field: it adds no attribute.
    let keys: Vec<&str> = s.select.iter().map(|c| c.key()).collect();
    assert_eq!(keys, ["http.method"]);
    assert!(s.spans_exact);
    let s = compiled("{ kind = server } | by(.http.method) | coalesce()");
    assert!(s.group_by.is_empty());
    // Every operator is exact, structural ones included.
    assert!(compiled("{ kind = server } > { }").spans_exact);
    assert!(compiled("{ } &>> { } | count() > 1").spans_exact);
    assert!(compiled("{ .nope = 1 }").warnings[0].contains("nope"));
}

#[test]
fn select_reads_columns_and_asks_for_nested_sets() {
    use ColumnType::*;
    let s = compiled(
        "{ } | select(span.http.method, resource.service.name, .nope, status, kind, statusMessage, nestedSetLeft, nestedSetRight, nestedSetParent, span:id, duration, trace:rootName, span.http.method)",
    );
    let keys: Vec<&str> = s.select.iter().map(|c| c.key()).collect();
    assert_eq!(
        keys,
        [
            "http.method",
            "service.name",
            "nope",
            "status",
            "kind",
            "statusMessage",
            "nestedSetLeft",
            "nestedSetRight",
            "nestedSetParent",
            "span:id"
        ]
    );
    assert_eq!(
        s.select[0],
        Selected::Column {
            key: "http.method".into(),
            col: stored("http.method", String),
            default: None
        }
    );
    assert_eq!(
        s.select[2],
        Selected::Column {
            key: "nope".into(),
            col: ColumnRef {
                name: "nope".into(),
                kind: ColumnKind::Missing
            },
            default: None
        }
    );
    let Selected::Status { error, ok } = &s.select[3] else {
        panic!("{:?}", s.select[3])
    };
    // The predicates `status = …` filters on.
    let on_spans =
        |p: &Predicate| Predicate::and(vec![Predicate::KindIn(vec![SignalKind::Span]), p.clone()]);
    assert_eq!(on_spans(error), compiled("{ status = error }").spans);
    assert_eq!(on_spans(ok), compiled("{ status = ok }").spans);
    assert_eq!(
        s.select[4],
        Selected::Column {
            key: "kind".into(),
            col: stored("span.kind", String),
            default: Some("unspecified")
        }
    );
    assert_eq!(s.select[6], Selected::NestedSet(NestedSet::Left));
    assert_eq!(s.select[8], Selected::NestedSet(NestedSet::Parent));
    assert!(!s.select[8].is_stored() && s.select[9].is_stored());
    assert!(s.selects_nested_sets());
    assert!(!compiled("{ } | select(status, name)").selects_nested_sets());
    // The same filters with or without the selection.
    assert_eq!(s.spans, compiled("{ }").spans);
}

#[test]
fn drilldown_structure_queries_compile() {
    for q in [
        r#"{nestedSetParent<0 && resource.service.name="x"} &>> {status=error} | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)"#,
        r#"{nestedSetParent<0 && resource.service.name="x" && duration > 1s} &>> {duration > 1s} | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)"#,
        r#"{nestedSetParent<0} &>> {} | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)"#,
    ] {
        let s = compiled(q);
        let keys: Vec<&str> = s.select.iter().map(|c| c.key()).collect();
        assert_eq!(
            keys,
            [
                "status",
                "service.name",
                "nestedSetParent",
                "nestedSetLeft",
                "nestedSetRight"
            ],
            "{q}"
        );
    }
}

#[test]
fn what_cannot_run_yet_is_unsupported() {
    let cat = table_catalog();
    let ctx = CompileContext { catalog: &cat };
    for q in [
        // Spans of each group would have to be related within the group.
        "{ } | by(.http.method) | { } && { kind = server }",
        "{ } | by(.http.method) | { } >> { kind = server }",
        "{ } | by(.http.method) | { } || ({ } !~ { })",
        // Aggregates of trace-level or uncomputed fields.
        "{ } | max(trace:duration) > 1s",
        "{ } | avg(span:childCount) > 1",
        "{ event:name = \"exception\" }",
        "{ event.exception.message = \"x\" }",
        "{ link:traceID = \"a\" }",
        "{ link.x = 1 }",
        "{ span:childCount > 1 }",
        "{ nestedSetLeft > 3 }",
        "{ nestedSetRight = nestedSetLeft + 1 }",
        "{ nestedSetParent = 3 }",
        "{ nestedSetLeft != nil }",
        "{ } | by(nestedSetLeft)",
        "{ } | select(span:childCount)",
        "{ } | select(event:name)",
        "{ } | max(nestedSetLeft) > 3",
        "{ } | rate()",
        "({ } | rate()) * 2",
    ] {
        match compile_str(q, &ctx) {
            Err(Error::Unsupported { message, .. }) => assert!(!message.is_empty()),
            other => panic!("{q}: {other:?}"),
        }
    }
}

// ---- Queries against small traces (naive evaluator) -----------------------------------------

const T0_S: i64 = 1_700_000_000;

/// One span: (service, name, parent index, start offset ms, duration ms, fields).
type SpanSpec = (
    &'static str,
    &'static str,
    Option<usize>,
    i64,
    f64,
    Vec<(&'static str, Value)>,
);

fn trace(n: u64, spans: Vec<SpanSpec>) -> Vec<Event> {
    let tid = TraceId::from_halves(n, n);
    let start = (T0_S + n as i64) * NS_PER_S;
    spans
        .into_iter()
        .enumerate()
        .map(|(k, (svc, name, parent, off_ms, dur, fields))| {
            let mut e = Event::new(svc, start + off_ms * 1_000_000, SignalKind::Span);
            e.trace_id = Some(tid);
            e.span_id = Some(SpanId::from_u64(n * 100 + k as u64 + 1));
            e.parent_id = parent.map(|p| SpanId::from_u64(n * 100 + p as u64 + 1));
            e.service = Some(svc.into());
            e.name = Some(name.into());
            e.duration_ms = Some(dur);
            for (k, v) in fields {
                e.set(k, v);
            }
            e
        })
        .collect()
}

fn server() -> (&'static str, Value) {
    ("span.kind", Value::Str("server".into()))
}
fn client() -> (&'static str, Value) {
    ("span.kind", Value::Str("client".into()))
}
fn code(c: i64) -> (&'static str, Value) {
    ("status_code", Value::Int(c))
}

fn traces() -> Vec<(&'static str, Vec<Event>)> {
    vec![
        (
            "ok",
            trace(
                1,
                vec![
                    (
                        "frontend",
                        "GET /checkout",
                        None,
                        0,
                        30.0,
                        vec![server(), code(1), ("http.status_code", Value::Int(200))],
                    ),
                    (
                        "frontend",
                        "SELECT",
                        Some(0),
                        5,
                        10.0,
                        vec![
                            client(),
                            code(0),
                            ("db.system", Value::Str("postgresql".into())),
                        ],
                    ),
                ],
            ),
        ),
        (
            "failed",
            trace(
                2,
                vec![
                    (
                        "frontend",
                        "GET /checkout",
                        None,
                        0,
                        120.0,
                        vec![
                            server(),
                            code(2),
                            ("error", Value::Bool(true)),
                            ("http.status_code", Value::Int(500)),
                        ],
                    ),
                    (
                        "backend",
                        "POST /pay",
                        Some(0),
                        10,
                        100.0,
                        vec![server(), code(2), ("error", Value::Bool(true))],
                    ),
                    (
                        "payments",
                        "charge",
                        Some(1),
                        20,
                        50.0,
                        vec![("span.kind", Value::Str("internal".into()))],
                    ),
                ],
            ),
        ),
        (
            "slow",
            trace(
                3,
                vec![(
                    "search",
                    "GET /search",
                    None,
                    0,
                    2500.0,
                    vec![server(), code(0), ("http.status_code", Value::Int(200))],
                )],
            ),
        ),
    ]
}

/// (trace name, matched span names) for each trace `q` matches.
fn run(q: &str) -> Vec<(&'static str, Vec<String>)> {
    run_over(q, &traces())
}

/// [`run`] over other traces.
fn run_over(q: &str, corpus: &[(&'static str, Vec<Event>)]) -> Vec<(&'static str, Vec<String>)> {
    let events: Vec<Event> = corpus.iter().flat_map(|(_, e)| e.clone()).collect();
    let mut cat = Catalog::default();
    for e in &events {
        for (k, v) in &e.fields {
            if cat.get(k).is_none() {
                cat.columns.push(Column {
                    name: k.clone(),
                    ty: v.column_type(),
                });
            }
        }
    }
    let s =
        compile_str(q, &CompileContext { catalog: &cat }).unwrap_or_else(|e| panic!("{q}: {e}"));
    run_naive(&s, &events, (T0_S - 60) * NS_PER_S, (T0_S + 600) * NS_PER_S)
        .into_iter()
        .map(|m| {
            let (name, evs) = corpus
                .iter()
                .find(|(_, evs)| evs[0].trace_id == Some(m.trace_id))
                .expect("a corpus trace");
            let spans = m
                .spans
                .iter()
                .filter_map(|id| evs.iter().find(|e| e.span_id == Some(*id)))
                .filter_map(|e| e.name.clone())
                .collect();
            (*name, spans)
        })
        .collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn queries_over_small_traces() {
    type Matches = Vec<(&'static str, Vec<String>)>;
    let cases: Vec<(&str, Matches)> = vec![
        (
            "{ resource.service.name = \"frontend\" && span.http.status_code >= 500 }",
            vec![("failed", names(&["GET /checkout"]))],
        ),
        (
            "{ status = error }",
            vec![("failed", names(&["GET /checkout", "POST /pay"]))],
        ),
        ("{ status = ok }", vec![("ok", names(&["GET /checkout"]))]),
        (
            "{ status = unset }",
            vec![
                ("ok", names(&["SELECT"])),
                ("failed", names(&["charge"])),
                ("slow", names(&["GET /search"])),
            ],
        ),
        ("{ duration > 1s }", vec![("slow", names(&["GET /search"]))]),
        (
            "{ span:duration <= 10ms }",
            vec![("ok", names(&["SELECT"]))],
        ),
        (
            "{ traceDuration > 100ms }",
            vec![
                ("failed", names(&["GET /checkout", "POST /pay", "charge"])),
                ("slow", names(&["GET /search"])),
            ],
        ),
        (
            "{ trace:rootService = \"frontend\" && kind = server }",
            vec![
                ("ok", names(&["GET /checkout"])),
                ("failed", names(&["GET /checkout", "POST /pay"])),
            ],
        ),
        (
            "{ .db.system = \"postgresql\" } && { kind = server }",
            vec![("ok", names(&["GET /checkout", "SELECT"]))],
        ),
        (
            "{ name = \"GET /search\" } || { name = \"charge\" }",
            vec![
                ("failed", names(&["charge"])),
                ("slow", names(&["GET /search"])),
            ],
        ),
        // Child: the error spans whose parent is a frontend span.
        (
            "{ resource.service.name = \"frontend\" } > { status = error }",
            vec![("failed", names(&["POST /pay"]))],
        ),
        // Parent: the server spans that are the parent of a `charge` span.
        (
            "{ name = \"charge\" } < { kind = server }",
            vec![("failed", names(&["POST /pay"]))],
        ),
        (
            "{ kind = client } &< { }",
            vec![("ok", names(&["GET /checkout", "SELECT"]))],
        ),
        (
            "{ name =~ \"GET .*\" } | { duration > 100ms }",
            vec![
                ("failed", names(&["GET /checkout"])),
                ("slow", names(&["GET /search"])),
            ],
        ),
        // Regexes are anchored: "GET" alone matches no name.
        ("{ name =~ \"GET\" }", vec![]),
        (
            "{ .http.status_code != 200 }",
            vec![("failed", names(&["GET /checkout"]))],
        ),
        (
            "{ .http.status_code = nil && kind = server }",
            vec![("failed", names(&["POST /pay"]))],
        ),
        // Arithmetic on fields runs as a derived expression (durations in ns).
        (
            "{ duration * 2 > 2s }",
            vec![("slow", names(&["GET /search"]))],
        ),
        (
            "{ .http.status_code + 1 = 501 }",
            vec![("failed", names(&["GET /checkout"]))],
        ),
        ("{ false }", vec![]),
    ];
    let mut bad = Vec::new();
    for (q, want) in cases {
        let got = run(q);
        if got != want {
            bad.push(format!("{q}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_largest_queries_fit_a_small_stack() {
    // In release builds, a thread with half the stack tokio gives its workers: the limits
    // keep every recursion (parse, validate, compile, evaluate, drop) well inside it.
    // Unoptimized builds have much larger frames.
    let stack = if cfg!(debug_assertions) {
        16 << 20
    } else {
        1 << 20
    };
    let t = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(|| {
            let chain = vec![".http.status_code = 1"; 240].join(" && ");
            let s = compiled(&format!("{{ {chain} }}"));
            assert!(matches!(s.trace, Predicate::Trace { .. }));
            let n = NESTING_MAX / 2 - 2;
            let deep = format!("{{ {}.a{} = 1 }}", "(".repeat(n), ")".repeat(n));
            compiled(&deep);
            let pow = vec!["2"; 120].join(" ^ ");
            compiled(&format!("{{ .http.status_code = {pow} }}"));
            let too_long = vec![".a = 1"; 400].join(" && ");
            assert!(matches!(
                parse(&format!("{{ {too_long} }}")),
                Err(Error::Parse { .. })
            ));
        })
        .unwrap();
    t.join().unwrap();
}

// ---- Structural operators and aggregates over small trees (naive evaluator) -----------------

fn db() -> (&'static str, Value) {
    ("db.system", Value::Str("postgresql".into()))
}
fn failed() -> (&'static str, Value) {
    code(2)
}
fn retries(n: i64) -> (&'static str, Value) {
    ("retries", Value::Int(n))
}

/// Two traces:
///
/// ```text
/// shop:  GET /checkout (gateway, 100 ms)      health: GET /health (gateway, 10 ms)
///        ├─ auth (auth, 20 ms)                        ├─ ping (gateway, 3 ms)
///        │  └─ auth-db (auth, 5 ms, retries 1)        └─ pong (gateway, 4 ms)
///        └─ cart (cart, 60 ms, error)
///           ├─ cart-db (cart, 30 ms, error, retries 2)
///           └─ cache (cart, 2 ms)
/// ```
fn trees() -> Vec<(&'static str, Vec<Event>)> {
    vec![
        (
            "shop",
            trace(
                10,
                vec![
                    ("gateway", "GET /checkout", None, 0, 100.0, vec![server()]),
                    ("auth", "auth", Some(0), 1, 20.0, vec![client()]),
                    ("auth", "auth-db", Some(1), 2, 5.0, vec![db(), retries(1)]),
                    ("cart", "cart", Some(0), 30, 60.0, vec![server(), failed()]),
                    (
                        "cart",
                        "cart-db",
                        Some(3),
                        31,
                        30.0,
                        vec![db(), failed(), retries(2)],
                    ),
                    ("cart", "cache", Some(3), 70, 2.0, vec![client()]),
                ],
            ),
        ),
        (
            "health",
            trace(
                11,
                vec![
                    ("gateway", "GET /health", None, 0, 10.0, vec![server()]),
                    ("gateway", "ping", Some(0), 1, 3.0, vec![client()]),
                    ("gateway", "pong", Some(0), 5, 4.0, vec![client()]),
                ],
            ),
        ),
    ]
}

type Matches = Vec<(&'static str, Vec<String>)>;

fn check_over_trees(cases: Vec<(&str, Matches)>) {
    let corpus = trees();
    let mut bad = Vec::new();
    for (q, want) in cases {
        let got = run_over(q, &corpus);
        if got != want {
            bad.push(format!("{q}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

const SHOP: [&str; 6] = [
    "GET /checkout",
    "auth",
    "auth-db",
    "cart",
    "cart-db",
    "cache",
];
const HEALTH: [&str; 3] = ["GET /health", "ping", "pong"];

#[test]
fn structural_operators_return_exactly_the_related_spans() {
    let root = "{ name = \"GET /checkout\" }";
    let dbs = "{ .db.system = \"postgresql\" }";
    check_over_trees(vec![
        // Children, parents, descendants, ancestors, siblings.
        (
            &format!("{root} > {{ }}"),
            vec![("shop", names(&["auth", "cart"]))],
        ),
        (
            &format!("{{ }} > {dbs}"),
            vec![("shop", names(&["auth-db", "cart-db"]))],
        ),
        (
            &format!("{dbs} < {{ }}"),
            vec![("shop", names(&["auth", "cart"]))],
        ),
        (
            &format!("{root} >> {dbs}"),
            vec![("shop", names(&["auth-db", "cart-db"]))],
        ),
        (
            "{ resource.service.name = \"cart\" } >> { }",
            vec![("shop", names(&["cart-db", "cache"]))],
        ),
        (
            "{ name = \"cache\" } << { }",
            vec![("shop", names(&["GET /checkout", "cart"]))],
        ),
        (
            "{ name = \"cache\" } ~ { }",
            vec![("shop", names(&["cart-db"]))],
        ),
        (
            "{ } ~ { }",
            vec![
                ("shop", names(&["auth", "cart", "cart-db", "cache"])),
                ("health", names(&["ping", "pong"])),
            ],
        ),
        // Negated: the relation holds with no left-hand span; with no left-hand span at
        // all (the health trace) every right-hand span.
        (
            "{ } !< { }",
            vec![
                ("shop", names(&["auth-db", "cart-db", "cache"])),
                ("health", names(&["ping", "pong"])),
            ],
        ),
        (
            "{ status = error } !< { status = error }",
            vec![("shop", names(&["cart-db"]))],
        ),
        (
            &format!("{root} !> {{ }}"),
            vec![
                (
                    "shop",
                    names(&["GET /checkout", "auth-db", "cart-db", "cache"]),
                ),
                ("health", names(&HEALTH)),
            ],
        ),
        (
            "{ resource.service.name = \"cart\" } !>> { }",
            vec![
                ("shop", names(&["GET /checkout", "auth", "auth-db", "cart"])),
                ("health", names(&HEALTH)),
            ],
        ),
        (
            &format!("{dbs} !<< {{ }}"),
            vec![
                ("shop", names(&["auth-db", "cart-db", "cache"])),
                ("health", names(&HEALTH)),
            ],
        ),
        (
            "{ name = \"cache\" } !~ { }",
            vec![
                (
                    "shop",
                    names(&["GET /checkout", "auth", "auth-db", "cart", "cache"]),
                ),
                ("health", names(&HEALTH)),
            ],
        ),
        // Union forms: the spans of both sides that take part.
        (
            &format!("{root} &> {{ }}"),
            vec![("shop", names(&["GET /checkout", "auth", "cart"]))],
        ),
        (
            "{ name = \"cache\" } &< { }",
            vec![("shop", names(&["cart", "cache"]))],
        ),
        (
            &format!("{{ resource.service.name = \"auth\" }} &>> {dbs}"),
            vec![("shop", names(&["auth", "auth-db"]))],
        ),
        (
            "{ name = \"cache\" } &<< { }",
            vec![("shop", names(&["GET /checkout", "cart", "cache"]))],
        ),
        (
            "{ name = \"cache\" } &~ { }",
            vec![("shop", names(&["cart-db", "cache"]))],
        ),
        // Chains, filters after structural operators, parenthesized right sides.
        (
            &format!("{root} > {{ }} > {{ }}"),
            vec![("shop", names(&["auth-db", "cart-db", "cache"]))],
        ),
        (
            "({ } > { }) | { status = error }",
            vec![("shop", names(&["cart", "cart-db"]))],
        ),
        (
            &format!("{root} >> ({{ }} !< {{ }})"),
            vec![("shop", names(&["auth-db", "cart-db", "cache"]))],
        ),
        (
            "{ name = \"GET /health\" } > { } && { name = \"nope\" }",
            vec![],
        ),
        ("{ name = \"nope\" } >> { }", vec![]),
    ]);
}

#[test]
fn aggregates_filter_spansets() {
    check_over_trees(vec![
        ("{ } | count() > 3", vec![("shop", names(&SHOP))]),
        ("{ } | count() = 3", vec![("health", names(&HEALTH))]),
        (
            "{ resource.service.name = \"cart\" } | count() >= 3",
            vec![("shop", names(&["cart", "cart-db", "cache"]))],
        ),
        // An empty spanset is no result, whatever the comparison.
        ("{ name = \"nope\" } | count() < 1", vec![]),
        // Durations compare in milliseconds: (5 + 30) / 2 = 17.5 ms.
        (
            "{ .db.system = \"postgresql\" } | avg(duration) > 15ms",
            vec![("shop", names(&["auth-db", "cart-db"]))],
        ),
        (
            "{ .db.system = \"postgresql\" } | avg(duration) > 20ms",
            vec![],
        ),
        ("{ } | max(duration) >= 100ms", vec![("shop", names(&SHOP))]),
        ("{ } | min(duration) < 3ms", vec![("shop", names(&SHOP))]),
        ("{ } | sum(duration) > 200ms", vec![("shop", names(&SHOP))]),
        (
            "{ } | sum(duration) <= 17ms",
            vec![("health", names(&HEALTH))],
        ),
        // Spans without the value are skipped; spansets without any are dropped.
        ("{ } | sum(.retries) = 3", vec![("shop", names(&SHOP))]),
        ("{ } | avg(.retries) = 1.5", vec![("shop", names(&SHOP))]),
        ("{ } | min(.retries) >= 0", vec![("shop", names(&SHOP))]),
        ("{ } | max(.db.system) > 0", vec![]),
        // Arithmetic inside the aggregate runs per span (durations in nanoseconds).
        (
            "{ } | max(duration * 2) > 150ms",
            vec![("shop", names(&SHOP))],
        ),
        // Grouped: each group's aggregate; spans without the value form one group.
        (
            "{ } | by(resource.service.name) | count() > 2",
            vec![
                ("shop", names(&["cart", "cart-db", "cache"])),
                ("health", names(&HEALTH)),
            ],
        ),
        (
            "{ } | by(resource.service.name) | count() > 1",
            vec![
                (
                    "shop",
                    names(&["auth", "auth-db", "cart", "cart-db", "cache"]),
                ),
                ("health", names(&HEALTH)),
            ],
        ),
        (
            "{ status = error } | by(resource.service.name) | count() > 1",
            vec![("shop", names(&["cart", "cart-db"]))],
        ),
        (
            "{ } | by(resource.service.name) | avg(duration) > 20ms",
            vec![(
                "shop",
                names(&["GET /checkout", "cart", "cart-db", "cache"]),
            )],
        ),
        (
            "{ } | by(.db.system) | count() = 4",
            vec![("shop", names(&["GET /checkout", "auth", "cart", "cache"]))],
        ),
        (
            "{ } | by(resource.service.name) | { duration > 10ms } | count() > 1",
            vec![("shop", names(&["cart", "cart-db"]))],
        ),
        (
            "{ } | by(resource.service.name) | coalesce() | count() > 5",
            vec![("shop", names(&SHOP))],
        ),
        // Aggregates inside parenthesized pipelines, combined.
        (
            "({ } | count() > 3) && ({ name = \"GET /health\" } | { })",
            vec![],
        ),
        (
            "({ } | count() > 2) && ({ name = \"GET /health\" } | { })",
            vec![("health", names(&HEALTH))],
        ),
        // Aggregates after structural operators.
        (
            "{ } !< { } | count() = 3",
            vec![("shop", names(&["auth-db", "cart-db", "cache"]))],
        ),
    ]);
}

#[test]
fn union_structural_chains_are_bounded() {
    let chain = ["{ .http.method = \"GET\" }"; 40].join(" &>> ");
    let cat = table_catalog();
    match compile_str(&chain, &CompileContext { catalog: &cat }) {
        Err(Error::Unsupported { message, .. }) => {
            assert!(message.contains("expands to more than"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Ten of them fit.
    let chain = ["{ .http.method = \"GET\" }"; 10].join(" &>> ");
    let s = compiled(&chain);
    assert!(s.spans.node_count() <= compile::PREDICATE_NODES_MAX);
}

#[test]
fn corpus_valid_queries_compile_or_say_why_not() {
    let cat = table_catalog();
    let compiled_n = std::cell::Cell::new(0);
    let (n, bad) = failures("valid", |q| {
        match compile_str(q, &CompileContext { catalog: &cat }) {
            Ok(_) => {
                compiled_n.set(compiled_n.get() + 1);
                None
            }
            Err(Error::Unsupported { message, .. }) if !message.is_empty() => None,
            Err(e) => Some(e.to_string()),
        }
    });
    eprintln!("tempo corpus valid: {}/{n} compile", compiled_n.get());
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}

// ---- Property: compiled queries agree with a direct model of Tempo's semantics -------------

/// A span of a generated trace: parent index (always an earlier span), `.a`, whether its
/// name is `x` (else `y`), duration in ms.
#[derive(Debug, Clone)]
struct GenSpan {
    parent: Option<usize>,
    a: Option<i64>,
    x: bool,
    ms: u8,
}

#[derive(Debug, Clone)]
enum GenFilter {
    All,
    AEq(i64),
    AGt(i64),
    ANil,
    NameX,
}

#[derive(Debug, Clone)]
enum GenExpr {
    Filter(GenFilter),
    Op(SpansetOp, Box<GenExpr>, Box<GenExpr>),
}

#[derive(Debug, Clone)]
enum GenAgg {
    CountGt(i64),
    CountEq(i64),
    SumAGe(i64),
    AvgAGt(f64),
    MinMsLt(i64),
    MaxAEq(i64),
}

#[derive(Debug, Clone)]
struct GenQuery {
    expr: GenExpr,
    by_a: bool,
    then: Option<GenFilter>,
    agg: Option<GenAgg>,
}

const ALL_SPANSET_OPS: [SpansetOp; 17] = [
    SpansetOp::And,
    SpansetOp::Union,
    SpansetOp::Child,
    SpansetOp::Parent,
    SpansetOp::Descendant,
    SpansetOp::Ancestor,
    SpansetOp::Sibling,
    SpansetOp::NotChild,
    SpansetOp::NotParent,
    SpansetOp::NotDescendant,
    SpansetOp::NotAncestor,
    SpansetOp::NotSibling,
    SpansetOp::UnionChild,
    SpansetOp::UnionParent,
    SpansetOp::UnionDescendant,
    SpansetOp::UnionAncestor,
    SpansetOp::UnionSibling,
];

fn gen_filter() -> impl Strategy<Value = GenFilter> {
    prop_oneof![
        Just(GenFilter::All),
        (0i64..3).prop_map(GenFilter::AEq),
        (0i64..2).prop_map(GenFilter::AGt),
        Just(GenFilter::ANil),
        Just(GenFilter::NameX),
    ]
}

fn gen_expr() -> impl Strategy<Value = GenExpr> {
    gen_filter()
        .prop_map(GenExpr::Filter)
        .prop_recursive(3, 8, 2, |inner| {
            (
                prop::sample::select(ALL_SPANSET_OPS.to_vec()),
                inner.clone(),
                inner,
            )
                .prop_map(|(op, l, r)| GenExpr::Op(op, Box::new(l), Box::new(r)))
        })
}

fn gen_agg() -> impl Strategy<Value = GenAgg> {
    prop_oneof![
        (0i64..4).prop_map(GenAgg::CountGt),
        (1i64..4).prop_map(GenAgg::CountEq),
        (0i64..5).prop_map(GenAgg::SumAGe),
        prop::sample::select(vec![0.0, 0.5, 1.0, 1.5]).prop_map(GenAgg::AvgAGt),
        (1i64..5).prop_map(GenAgg::MinMsLt),
        (0i64..3).prop_map(GenAgg::MaxAEq),
    ]
}

fn gen_query() -> impl Strategy<Value = GenQuery> {
    (
        gen_expr(),
        prop::arbitrary::any::<bool>(),
        prop::option::of(gen_filter()),
        prop::option::of(gen_agg()),
    )
        .prop_map(|(expr, by_a, then, agg)| GenQuery {
            expr,
            by_a,
            then,
            agg,
        })
}

fn gen_traces() -> impl Strategy<Value = Vec<Vec<GenSpan>>> {
    let span = (
        prop::arbitrary::any::<u8>(),
        prop::option::of(0i64..3),
        prop::arbitrary::any::<bool>(),
        1u8..5,
    );
    prop::collection::vec(prop::collection::vec(span, 1..8), 1..4).prop_map(|traces| {
        traces
            .into_iter()
            .map(|spans| {
                spans
                    .into_iter()
                    .enumerate()
                    .map(|(k, (p, a, x, ms))| GenSpan {
                        // Span 0 is a root; others hang off an earlier span, or are roots.
                        parent: (k > 0 && p % 5 != 0).then(|| usize::from(p) % k),
                        a,
                        x,
                        ms,
                    })
                    .collect()
            })
            .collect()
    })
}

fn filter_text(f: &GenFilter) -> String {
    match f {
        GenFilter::All => "{ }".into(),
        GenFilter::AEq(n) => format!("{{ .a = {n} }}"),
        GenFilter::AGt(n) => format!("{{ .a > {n} }}"),
        GenFilter::ANil => "{ .a = nil }".into(),
        GenFilter::NameX => "{ name = \"x\" }".into(),
    }
}

fn expr_text(e: &GenExpr) -> String {
    match e {
        GenExpr::Filter(f) => filter_text(f),
        GenExpr::Op(op, l, r) => format!("({}) {} ({})", expr_text(l), op.as_str(), expr_text(r)),
    }
}

fn query_text(q: &GenQuery) -> String {
    let mut t = expr_text(&q.expr);
    if q.by_a {
        t.push_str(" | by(.a)");
    }
    if let Some(f) = &q.then {
        t.push_str(&format!(" | {}", filter_text(f)));
    }
    if let Some(a) = &q.agg {
        t.push_str(&match a {
            GenAgg::CountGt(n) => format!(" | count() > {n}"),
            GenAgg::CountEq(n) => format!(" | count() = {n}"),
            GenAgg::SumAGe(n) => format!(" | sum(.a) >= {n}"),
            GenAgg::AvgAGt(x) => format!(" | avg(.a) > {x:?}"),
            GenAgg::MinMsLt(n) => format!(" | min(duration) < {n}ms"),
            GenAgg::MaxAEq(n) => format!(" | max(.a) = {n}"),
        });
    }
    t
}

/// The model: one trace's spans (indices) a filter selects.
fn model_filter(f: &GenFilter, spans: &[GenSpan]) -> Vec<usize> {
    (0..spans.len())
        .filter(|&i| {
            let s = &spans[i];
            match f {
                GenFilter::All => true,
                GenFilter::AEq(n) => s.a == Some(*n),
                GenFilter::AGt(n) => s.a.is_some_and(|a| a > *n),
                GenFilter::ANil => s.a.is_none(),
                GenFilter::NameX => s.x,
            }
        })
        .collect()
}

/// Whether span `a` is a proper ancestor of span `d`.
fn model_ancestor(spans: &[GenSpan], a: usize, d: usize) -> bool {
    let mut cur = spans[d].parent;
    while let Some(p) = cur {
        if p == a {
            return true;
        }
        cur = spans[p].parent;
    }
    false
}

/// Tempo's structural relations, read off its docs: does right-hand span `b` stand in the
/// operator's relation to left-hand span `a`?
fn model_rel(op: SpansetOp, spans: &[GenSpan], a: usize, b: usize) -> bool {
    use SpansetOp::*;
    match op {
        Child | NotChild | UnionChild => spans[b].parent == Some(a),
        Parent | NotParent | UnionParent => spans[a].parent == Some(b),
        Descendant | NotDescendant | UnionDescendant => model_ancestor(spans, a, b),
        Ancestor | NotAncestor | UnionAncestor => model_ancestor(spans, b, a),
        _ => a != b && spans[a].parent.is_some() && spans[a].parent == spans[b].parent,
    }
}

fn model_expr(e: &GenExpr, spans: &[GenSpan]) -> Vec<usize> {
    use SpansetOp::*;
    let union = |mut l: Vec<usize>, r: Vec<usize>| {
        l.extend(r);
        l.sort_unstable();
        l.dedup();
        l
    };
    match e {
        GenExpr::Filter(f) => model_filter(f, spans),
        GenExpr::Op(op, l, r) => {
            let (l, r) = (model_expr(l, spans), model_expr(r, spans));
            match op {
                And if l.is_empty() || r.is_empty() => Vec::new(),
                And | Union => union(l, r),
                NotChild | NotParent | NotDescendant | NotAncestor | NotSibling => r
                    .iter()
                    .copied()
                    .filter(|&b| !l.iter().any(|&a| model_rel(*op, spans, a, b)))
                    .collect(),
                UnionChild | UnionParent | UnionDescendant | UnionAncestor | UnionSibling => {
                    let rs: Vec<usize> = r
                        .iter()
                        .copied()
                        .filter(|&b| l.iter().any(|&a| model_rel(*op, spans, a, b)))
                        .collect();
                    let ls: Vec<usize> = l
                        .iter()
                        .copied()
                        .filter(|&a| r.iter().any(|&b| model_rel(*op, spans, a, b)))
                        .collect();
                    union(rs, ls)
                }
                _ => r
                    .iter()
                    .copied()
                    .filter(|&b| l.iter().any(|&a| model_rel(*op, spans, a, b)))
                    .collect(),
            }
        }
    }
}

/// Whether a spanset (non-empty) passes the aggregate filter; None: no value, dropped.
fn model_agg(a: &GenAgg, set: &[usize], spans: &[GenSpan]) -> bool {
    let values: Vec<i64> = set.iter().filter_map(|&i| spans[i].a).collect();
    let n = set.len() as i64;
    match a {
        GenAgg::CountGt(k) => n > *k,
        GenAgg::CountEq(k) => n == *k,
        GenAgg::SumAGe(k) => !values.is_empty() && values.iter().sum::<i64>() >= *k,
        GenAgg::AvgAGt(x) => {
            !values.is_empty() && values.iter().sum::<i64>() as f64 / values.len() as f64 > *x
        }
        GenAgg::MinMsLt(k) => set.iter().any(|&i| i64::from(spans[i].ms) < *k),
        GenAgg::MaxAEq(k) => values.iter().max() == Some(k),
    }
}

fn model_query(q: &GenQuery, spans: &[GenSpan]) -> Vec<usize> {
    let set = model_expr(&q.expr, spans);
    let mut groups: Vec<Vec<usize>> = if q.by_a {
        let mut keys: Vec<Option<i64>> = set.iter().map(|&i| spans[i].a).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.iter()
            .map(|k| set.iter().copied().filter(|&i| spans[i].a == *k).collect())
            .collect()
    } else {
        vec![set]
    };
    if let Some(f) = &q.then {
        let keep = model_filter(f, spans);
        for g in &mut groups {
            g.retain(|i| keep.contains(i));
        }
    }
    groups.retain(|g| !g.is_empty());
    if let Some(a) = &q.agg {
        groups.retain(|g| model_agg(a, g, spans));
    }
    let mut out: Vec<usize> = groups.concat();
    out.sort_unstable();
    out
}

fn gen_events(traces: &[Vec<GenSpan>]) -> Vec<Event> {
    traces
        .iter()
        .enumerate()
        .flat_map(|(n, spans)| {
            trace(
                n as u64 + 1,
                spans
                    .iter()
                    .enumerate()
                    .map(|(k, s)| -> SpanSpec {
                        let fields = s.a.map(|a| ("a", Value::Int(a))).into_iter().collect();
                        (
                            "svc",
                            if s.x { "x" } else { "y" },
                            s.parent,
                            k as i64,
                            f64::from(s.ms),
                            fields,
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every spanset operator, `by()`, filters after it and aggregates, compiled and run by
    /// the naive evaluator, return exactly the traces and spans the model of Tempo's
    /// semantics does.
    #[test]
    fn compiled_queries_match_the_model(traces in gen_traces(), q in gen_query()) {
        let text = query_text(&q);
        let cat = Catalog {
            columns: vec![Column { name: "a".into(), ty: ColumnType::Integer }],
            overflow: Vec::new(),
        };
        let s = compile_str(&text, &CompileContext { catalog: &cat })
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(s.spans_exact);
        let events = gen_events(&traces);
        let got: Vec<(TraceId, Vec<SpanId>)> =
            run_naive(&s, &events, (T0_S - 60) * NS_PER_S, (T0_S + 600) * NS_PER_S)
                .into_iter()
                .map(|m| (m.trace_id, m.spans))
                .collect();
        let want: Vec<(TraceId, Vec<SpanId>)> = traces
            .iter()
            .enumerate()
            .filter_map(|(n, spans)| {
                let n = n as u64 + 1;
                let hit = model_query(&q, spans);
                (!hit.is_empty()).then(|| {
                    (
                        TraceId::from_halves(n, n),
                        hit.iter().map(|&k| SpanId::from_u64(n * 100 + k as u64 + 1)).collect(),
                    )
                })
            })
            .collect();
        prop_assert_eq!(got, want, "{}\n{:?}", text, traces);
    }
}

#[test]
fn corpus_unsupported_queries_do_not_compile_even_unvalidated() {
    // The compiler refuses what Tempo's validation refuses (scalar filters over two
    // aggregates or arithmetic, `parent.`), should it be handed an unvalidated query.
    let cat = table_catalog();
    let (n, bad) = failures("unsupported", |q| {
        let query = match parse_syntax(q) {
            Ok(query) => query,
            Err(e) => return Some(format!("did not parse: {e}")),
        };
        match compile(&query, &CompileContext { catalog: &cat }) {
            Err(Error::Unsupported { message, .. }) if !message.is_empty() => None,
            other => Some(format!("{other:?}")),
        }
    });
    assert!(n > 20, "{n}");
    assert!(bad.is_empty(), "{} failed:\n{}", bad.len(), bad.join("\n"));
}
