//! RQL (Rollbar Query Language, RD `api/rql.md`) where it maps onto the shared query plan:
//! `SELECT <columns and aggregates> FROM item_occurrence [WHERE a = 'x' AND b > 1]
//! [GROUP BY …] [ORDER BY … [ASC|DESC]] [LIMIT n]`, compiled to a Honeycomb query
//! specification (JSON) over the occurrence events, and the rows shaped back in select order.
//! Anything else (joins, `OR`, simple selects without aggregates) is refused with a message.

use serde_json::{json, Map, Value as Json};

/// Longest query string accepted (our choice: RQL queries are one statement; 4 KB is far
/// beyond a hand-written one and bounds the tokenizer).
pub const QUERY_CHARS_MAX: usize = 4096;
/// Largest `LIMIT` (Honeycomb's query-specification limit, which the plan enforces).
pub const LIMIT_MAX: u64 = 1000;
/// Default row limit when none is given (our choice: the Honeycomb default).
pub const LIMIT_DEFAULT: u64 = 100;
/// Items in the select list, the `WHERE` conjunction and `GROUP BY` (our choice: bounds the
/// spec; Honeycomb itself allows 100 breakdowns).
pub const CLAUSE_ITEMS_MAX: usize = 50;

/// The one table RQL exposes here.
pub const TABLE: &str = "item_occurrence";

/// An RQL column → the occurrence event's column (`translate::fields`); other names are used
/// as they are (custom data is `custom.<key>`, request headers `http.request.header.<name>`).
pub fn field(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "item.counter" => "rollbar.counter",
        "item.id" => "rollbar.item_id",
        "item.title" | "title" => "name",
        "item.level" | "level" => "level",
        "item.environment" | "environment" => "environment",
        "item.framework" | "framework" => "framework",
        "item.hash" | "fingerprint" => "rollbar.fingerprint",
        "occurrence_id" | "id" => "rollbar.occurrence_id",
        "uuid" => "rollbar.uuid",
        "body.trace.exception.class" | "body.trace_chain.0.exception.class" => "exception.type",
        "body.trace.exception.message" => "exception.message",
        "body.message.body" => "message",
        "code_version" => "code_version",
        "context" => "context",
        "request.url" => "http.url",
        "request.method" => "http.method",
        "request.user_ip" => "http.client_ip",
        "person.id" => "user.id",
        "person.username" => "user.name",
        "person.email" => "user.email",
        "server.host" => "host.name",
        "language" => "language",
        "platform" => "platform",
        _ => return name.to_owned(),
    }
    .to_owned()
}

#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// A grouped column: its RQL name and event field.
    Column { field: String },
    /// `op` is the Honeycomb calculation (`COUNT`, `COUNT_DISTINCT`, `SUM`, `AVG`, `MIN`,
    /// `MAX`); `field` is `None` for `count(*)`.
    Aggregate {
        op: &'static str,
        field: Option<String>,
    },
}

/// One select item with the label RQL's result names it by (as written).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    pub label: String,
    pub select: Select,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Rql {
    pub select: Vec<SelectItem>,
    /// `(field, Honeycomb filter op, value)`, all ANDed.
    pub filters: Vec<(String, &'static str, Json)>,
    pub group_by: Vec<String>,
    /// `(select index, descending)`.
    pub order: Option<(usize, bool)>,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

fn tokens(q: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                i += 1;
            }
            out.push(Tok::Word(b[s..i].iter().collect()));
        } else if c.is_ascii_digit() || (c == '-' && b.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let s = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(b[s..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some(&ch) if ch == c => {
                        // '' inside a string is one quote (SQL).
                        if b.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = b[i..b.len().min(i + 2)].iter().collect();
            let sym = match two.as_str() {
                "!=" => Some("!="),
                "<>" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                out.push(Tok::Sym(s));
                i += 2;
                continue;
            }
            let one = match c {
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '*' => "*",
                '=' => "=",
                '<' => "<",
                '>' => ">",
                _ => return Err(format!("unexpected character {c:?}")),
            };
            out.push(Tok::Sym(one));
            i += 1;
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn keyword(&mut self, k: &str) -> bool {
        if let Some(Tok::Word(w)) = self.peek() {
            if w.eq_ignore_ascii_case(k) {
                self.i += 1;
                return true;
            }
        }
        false
    }
    fn expect_keyword(&mut self, k: &str) -> Result<(), String> {
        if self.keyword(k) {
            Ok(())
        } else {
            Err(format!("expected {k}"))
        }
    }
    fn sym(&mut self, s: &str) -> bool {
        if self.peek()
            == Some(&Tok::Sym(match s {
                "(" => "(",
                ")" => ")",
                "," => ",",
                "*" => "*",
                _ => return false,
            }))
        {
            self.i += 1;
            return true;
        }
        false
    }
    fn word(&mut self) -> Result<String, String> {
        match self.t.get(self.i) {
            Some(Tok::Word(w)) => {
                self.i += 1;
                Ok(w.clone())
            }
            _ => Err("expected a column name".into()),
        }
    }
}

const KEYWORDS: [&str; 10] = [
    "select", "from", "where", "and", "or", "group", "by", "order", "limit", "distinct",
];

fn select_item(p: &mut P) -> Result<SelectItem, String> {
    let name = p.word()?;
    if KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("unexpected {name}"));
    }
    if !p.sym("(") {
        return Ok(SelectItem {
            label: name.clone(),
            select: Select::Column {
                field: field(&name),
            },
        });
    }
    let lower = name.to_ascii_lowercase();
    let distinct = p.keyword("distinct");
    let arg = if p.sym("*") { None } else { Some(p.word()?) };
    if !p.sym(")") {
        return Err(format!("expected ) after {name}("));
    }
    let op = match (lower.as_str(), distinct, arg.is_some()) {
        ("count", false, _) => "COUNT",
        ("count", true, true) | ("count_distinct", false, true) => "COUNT_DISTINCT",
        ("sum", false, true) => "SUM",
        ("avg", false, true) => "AVG",
        ("min", false, true) => "MIN",
        ("max", false, true) => "MAX",
        _ => return Err(format!("unsupported function {name}")),
    };
    // `count(x)` counts rows where x is set: COUNT with an exists filter is not expressible
    // per aggregate, so it is COUNT of all rows (documented difference).
    let field = if op == "COUNT" {
        None
    } else {
        arg.as_deref().map(field)
    };
    let label = match (&arg, distinct) {
        (None, _) => format!("{lower}(*)"),
        (Some(a), true) => format!("{lower}(distinct {a})"),
        (Some(a), false) => format!("{lower}({a})"),
    };
    Ok(SelectItem {
        label,
        select: Select::Aggregate { op, field },
    })
}

/// Parses one RQL statement.
pub fn parse(q: &str) -> Result<Rql, String> {
    if q.chars().count() > QUERY_CHARS_MAX {
        return Err(format!("query is longer than {QUERY_CHARS_MAX} characters"));
    }
    let mut p = P {
        t: tokens(q)?,
        i: 0,
    };
    p.expect_keyword("select")?;
    let mut select = vec![select_item(&mut p)?];
    while p.sym(",") {
        select.push(select_item(&mut p)?);
        if select.len() > CLAUSE_ITEMS_MAX {
            return Err(format!("more than {CLAUSE_ITEMS_MAX} select items"));
        }
    }
    p.expect_keyword("from")?;
    let table = p.word()?;
    if !table.eq_ignore_ascii_case(TABLE) {
        return Err(format!(
            "unknown table {table}: only {TABLE} can be queried"
        ));
    }
    let mut filters = Vec::new();
    if p.keyword("where") {
        loop {
            let col = p.word()?;
            let op = match p.t.get(p.i) {
                Some(Tok::Sym(s)) => match *s {
                    "=" => "=",
                    "!=" | "<>" => "!=",
                    "<" => "<",
                    "<=" => "<=",
                    ">" => ">",
                    ">=" => ">=",
                    _ => return Err(format!("expected a comparison after {col}")),
                },
                _ => return Err(format!("expected a comparison after {col}")),
            };
            p.i += 1;
            let value = match p.t.get(p.i) {
                Some(Tok::Str(s)) => Json::String(s.clone()),
                Some(Tok::Num(n)) => match n.parse::<i64>() {
                    Ok(i) => json!(i),
                    Err(_) => n
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Json::Number)
                        .ok_or_else(|| format!("bad number {n}"))?,
                },
                _ => return Err(format!("expected a value after {col} {op}")),
            };
            p.i += 1;
            filters.push((field(&col), op, value));
            if filters.len() > CLAUSE_ITEMS_MAX {
                return Err(format!("more than {CLAUSE_ITEMS_MAX} conditions"));
            }
            if p.keyword("or") {
                return Err("OR is not supported; use AND".into());
            }
            if !p.keyword("and") {
                break;
            }
        }
    }
    let mut group_by = Vec::new();
    if p.keyword("group") {
        p.expect_keyword("by")?;
        group_by.push(p.word()?);
        while p.sym(",") {
            group_by.push(p.word()?);
            if group_by.len() > CLAUSE_ITEMS_MAX {
                return Err(format!("more than {CLAUSE_ITEMS_MAX} GROUP BY columns"));
            }
        }
    }
    let mut order = None;
    if p.keyword("order") {
        p.expect_keyword("by")?;
        let target = select_item(&mut p).map_err(|_| "expected an ORDER BY target".to_string())?;
        let index = select
            .iter()
            .position(|s| s.label.eq_ignore_ascii_case(&target.label) || s.select == target.select)
            .ok_or_else(|| {
                format!(
                    "ORDER BY {} must be one of the selected items",
                    target.label
                )
            })?;
        let desc = if p.keyword("desc") {
            true
        } else {
            let _ = p.keyword("asc");
            false
        };
        order = Some((index, desc));
    }
    let mut limit = LIMIT_DEFAULT;
    if p.keyword("limit") {
        limit = match p.t.get(p.i) {
            Some(Tok::Num(n)) => n
                .parse::<u64>()
                .ok()
                .filter(|l| (1..=LIMIT_MAX).contains(l))
                .ok_or_else(|| format!("LIMIT must be between 1 and {LIMIT_MAX}"))?,
            _ => return Err("expected a number after LIMIT".into()),
        };
        p.i += 1;
    }
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} at the end of the query"));
    }
    let grouped: Vec<String> = group_by.iter().map(|g| field(g)).collect();
    for s in &select {
        if let Select::Column { field } = &s.select {
            if !grouped.contains(field) {
                return Err(format!(
                    "{} must appear in GROUP BY or be used in an aggregate",
                    s.label
                ));
            }
        }
    }
    if !select
        .iter()
        .any(|s| matches!(s.select, Select::Aggregate { .. }))
    {
        return Err("only aggregate queries (count, sum, avg, min, max) are supported".into());
    }
    Ok(Rql {
        select,
        filters,
        group_by: grouped,
        order,
        limit,
    })
}

impl Rql {
    /// The Honeycomb query specification over `[start_s, end_s)`.
    pub fn spec(&self, start_s: i64, end_s: i64) -> Json {
        let calculations: Vec<Json> = self
            .select
            .iter()
            .filter_map(|s| match &s.select {
                Select::Aggregate { op, field } => Some(match field {
                    Some(f) => json!({"op": op, "column": f}),
                    None => json!({"op": op}),
                }),
                Select::Column { .. } => None,
            })
            .collect();
        let filters: Vec<Json> = self
            .filters
            .iter()
            .map(|(c, op, v)| json!({"column": c, "op": op, "value": v}))
            .collect();
        let mut spec = json!({
            "calculations": calculations,
            "filters": filters,
            "breakdowns": self.group_by,
            "limit": self.limit,
            "start_time": start_s,
            "end_time": end_s,
        });
        if let Some((i, desc)) = self.order {
            let order = if desc { "descending" } else { "ascending" };
            let o = match self.select.get(i).map(|s| &s.select) {
                Some(Select::Aggregate { op, field: Some(f) }) => {
                    json!({"op": op, "column": f, "order": order})
                }
                Some(Select::Aggregate { op, field: None }) => json!({"op": op, "order": order}),
                Some(Select::Column { field }) => json!({"column": field, "order": order}),
                None => Json::Null,
            };
            if !o.is_null() {
                spec["orders"] = json!([o]);
            }
        }
        spec
    }

    /// The key of each select item in a Honeycomb result row's `data`.
    fn keys(&self) -> Vec<String> {
        self.select
            .iter()
            .map(|s| match &s.select {
                Select::Column { field } => field.clone(),
                Select::Aggregate { op, field: Some(f) } => format!("{op}({f})"),
                Select::Aggregate { op, field: None } => (*op).to_owned(),
            })
            .collect()
    }

    /// RQL's result object from Honeycomb `results` (`[{"data": {…}}]`).
    pub fn result(&self, results: &[Json]) -> Json {
        let keys = self.keys();
        let rows: Vec<Json> = results
            .iter()
            .map(|r| {
                let data = r.get("data").and_then(Json::as_object);
                Json::Array(
                    keys.iter()
                        .map(|k| data.and_then(|d| d.get(k)).cloned().unwrap_or(Json::Null))
                        .collect(),
                )
            })
            .collect();
        let columns: Vec<&str> = self.select.iter().map(|s| s.label.as_str()).collect();
        let mut out = Map::new();
        out.insert("isSimpleSelect".into(), Json::Bool(false));
        out.insert("errors".into(), json!([]));
        out.insert("warnings".into(), json!([]));
        out.insert("columns".into(), json!(columns));
        out.insert("selectionColumns".into(), json!(columns));
        out.insert("rowcount".into(), json!(rows.len()));
        out.insert("rows".into(), Json::Array(rows));
        Json::Object(out)
    }
}
