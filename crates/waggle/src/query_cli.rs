//! `waggle query` and `waggle bubbleup`: Honeycomb-style questions from the command line,
//! sent through the server's own `/1/queries` + `/1/query_results` and BubbleUp APIs.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::client::{post, Conn};

/// Flags shared by `query` and `bubbleup` that make a query spec.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Dataset (service name for OTLP data); `__all__` for every dataset.
    #[arg(short = 'd', long, default_value = "__all__")]
    pub dataset: String,
    /// Filter: `COLUMN OP VALUE`, e.g. 'http.status_code >= 500', 'name starts-with GET',
    /// 'error exists', 'http.route in /a,/b'. Repeatable; combined with AND (see --any).
    #[arg(short = 'w', long = "where")]
    pub filters: Vec<String>,
    /// Combine filters with OR instead of AND.
    #[arg(long)]
    pub any: bool,
    /// Time range ending now: 30s, 15m, 2h, 7d [default: 2h].
    #[arg(short = 'r', long)]
    pub range: Option<String>,
    /// A whole query spec (Honeycomb JSON) from a file; other flags add to it.
    #[arg(long)]
    pub spec: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Calculation: COUNT, CONCURRENCY, or OP(column) such as P99(duration_ms), HEATMAP(duration_ms),
    /// AVG(x), SUM(x), COUNT_DISTINCT(x), MIN, MAX, P001…P999, RATE_AVG/SUM/MAX. Repeatable.
    #[arg(short = 'c', long = "calc")]
    pub calcs: Vec<String>,
    /// Group by this column. Repeatable.
    #[arg(short = 'b', long = "breakdown")]
    pub breakdowns: Vec<String>,
    /// Order: 'COUNT desc', 'P99(duration_ms) asc', 'http.route'. Repeatable.
    #[arg(short = 'o', long = "order")]
    pub orders: Vec<String>,
    /// Having: 'P99(duration_ms) > 100'. Repeatable.
    #[arg(long = "having")]
    pub havings: Vec<String>,
    /// Most result rows.
    #[arg(short = 'l', long)]
    pub limit: Option<u32>,
    /// Series bucket width in seconds.
    #[arg(long)]
    pub granularity: Option<i64>,
    /// Print the raw Honeycomb query result JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BubbleUpArgs {
    /// The baseline: dataset, range and --where filters.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Selection filter (repeatable, AND): the events to explain, e.g. 'duration_ms > 500'.
    #[arg(short = 's', long = "select")]
    pub select: Vec<String>,
    /// Values shown per column.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Columns shown.
    #[arg(long, default_value_t = 10)]
    pub columns: usize,
    #[arg(long)]
    pub json: bool,
}

/// Parses `30s`, `15m`, `2h`, `7d` into seconds.
pub fn parse_range(s: &str) -> Result<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .with_context(|| format!("range {s:?}: expected e.g. 15m, 2h, 7d"))?;
    Ok(n * match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("range {s:?}: unit must be s, m, h or d"),
    })
}

/// `OP` or `OP(column)`.
pub fn parse_calc(s: &str) -> Result<Value> {
    let s = s.trim();
    match s.split_once('(') {
        Some((op, rest)) => {
            let col = rest
                .strip_suffix(')')
                .with_context(|| format!("calculation {s:?}: missing ')'"))?;
            Ok(json!({"op": op.trim().to_uppercase(), "column": col.trim()}))
        }
        None => Ok(json!({"op": s.to_uppercase()})),
    }
}

fn typed(v: &str) -> Value {
    let v = v.trim();
    if let Some(q) = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
    {
        return json!(q);
    }
    if let Ok(i) = v.parse::<i64>() {
        return json!(i);
    }
    if let Ok(f) = v.parse::<f64>() {
        return json!(f);
    }
    match v {
        "true" => json!(true),
        "false" => json!(false),
        _ => json!(v),
    }
}

const WORD_OPS: &[&str] = &[
    "does-not-start-with",
    "does-not-end-with",
    "does-not-contain",
    "does-not-exist",
    "starts-with",
    "ends-with",
    "contains",
    "exists",
    "not-in",
    "in",
];
const SYMBOL_OPS: &[&str] = &[">=", "<=", "!=", "=", ">", "<"];

/// `COLUMN OP VALUE` into a Honeycomb filter.
pub fn parse_filter(s: &str) -> Result<Value> {
    let s = s.trim();
    let words: Vec<&str> = s.split_whitespace().collect();
    for (i, w) in words.iter().enumerate().skip(1) {
        if WORD_OPS.contains(w) {
            let column = words[..i].join(" ");
            let rest = words[i + 1..].join(" ");
            return Ok(match *w {
                "exists" | "does-not-exist" => json!({"column": column, "op": w}),
                "in" | "not-in" => json!({
                    "column": column, "op": w,
                    "value": rest.split(',').map(typed).collect::<Vec<_>>()
                }),
                _ => json!({"column": column, "op": w, "value": typed(&rest)}),
            });
        }
    }
    for op in SYMBOL_OPS {
        if let Some(pos) = s.find(op) {
            let column = s[..pos].trim();
            let value = s[pos + op.len()..].trim();
            if column.is_empty() {
                bail!("filter {s:?}: missing column before {op}");
            }
            return Ok(json!({"column": column, "op": op, "value": typed(value)}));
        }
    }
    bail!(
        "filter {s:?}: expected COLUMN OP VALUE, e.g. 'http.status_code >= 500' or 'error exists'"
    )
}

fn parse_having(s: &str) -> Result<Value> {
    for op in SYMBOL_OPS {
        if let Some(pos) = s.find(op) {
            let calc = parse_calc(&s[..pos])?;
            let value: f64 = s[pos + op.len()..]
                .trim()
                .parse()
                .with_context(|| format!("having {s:?}: value must be a number"))?;
            return Ok(json!({
                "calculate_op": calc["op"], "column": calc.get("column").cloned().unwrap_or(Value::Null),
                "op": op, "value": value
            }));
        }
    }
    bail!("having {s:?}: expected e.g. 'P99(duration_ms) > 100'")
}

fn parse_order(s: &str) -> Result<Value> {
    let mut parts: Vec<&str> = s.split_whitespace().collect();
    let order = match parts.last().map(|p| p.to_lowercase()) {
        Some(p) if p == "desc" || p == "descending" => {
            parts.pop();
            "descending"
        }
        Some(p) if p == "asc" || p == "ascending" => {
            parts.pop();
            "ascending"
        }
        _ => "ascending",
    };
    let term = parts.join(" ");
    if term.contains('(') || term.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        let mut c = parse_calc(&term)?;
        c["order"] = json!(order);
        Ok(c)
    } else {
        Ok(json!({"column": term, "order": order}))
    }
}

fn base_spec(a: &SpecArgs) -> Result<Value> {
    let mut spec = match &a.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?
        }
        None => json!({}),
    };
    if !spec.is_object() {
        bail!("the query spec must be a JSON object");
    }
    if !a.filters.is_empty() {
        let mut filters = spec["filters"].as_array().cloned().unwrap_or_default();
        for f in &a.filters {
            filters.push(parse_filter(f)?);
        }
        spec["filters"] = json!(filters);
    }
    if a.any {
        spec["filter_combination"] = json!("OR");
    }
    if let Some(r) = &a.range {
        spec["time_range"] = json!(parse_range(r)?);
    }
    Ok(spec)
}

pub fn build_spec(a: &QueryArgs) -> Result<Value> {
    let mut spec = base_spec(&a.spec)?;
    let mut push = |key: &str, items: Vec<Value>| {
        if !items.is_empty() {
            let mut all = spec[key].as_array().cloned().unwrap_or_default();
            all.extend(items);
            spec[key] = json!(all);
        }
    };
    push(
        "calculations",
        a.calcs
            .iter()
            .map(|c| parse_calc(c))
            .collect::<Result<_>>()?,
    );
    push(
        "breakdowns",
        a.breakdowns.iter().map(|b| json!(b)).collect(),
    );
    push(
        "orders",
        a.orders
            .iter()
            .map(|o| parse_order(o))
            .collect::<Result<_>>()?,
    );
    push(
        "havings",
        a.havings
            .iter()
            .map(|h| parse_having(h))
            .collect::<Result<_>>()?,
    );
    if let Some(l) = a.limit {
        spec["limit"] = json!(l);
    }
    if let Some(g) = a.granularity {
        spec["granularity"] = json!(g);
    }
    Ok(spec)
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        Value::Object(o) if o.contains_key("buckets") => {
            let counts: Vec<i64> = o["buckets"]
                .as_array()
                .map(|b| b.iter().filter_map(|x| x["count"].as_i64()).collect())
                .unwrap_or_default();
            let max = counts.iter().copied().max().unwrap_or(0).max(1);
            let bars = " ▁▂▃▄▅▆▇█";
            let chars: Vec<char> = bars.chars().collect();
            counts
                .iter()
                .map(|c| chars[((*c * 8 + max - 1) / max) as usize])
                .collect()
        }
        other => other.to_string(),
    }
}

pub fn query(conn: Conn, a: QueryArgs) -> Result<()> {
    let spec = build_spec(&a)?;
    let ds = &a.spec.dataset;
    let saved = post(&conn, &format!("/1/queries/{ds}"), &spec)?;
    let id = saved["id"]
        .as_str()
        .context("server returned no query id")?;
    let result = post(
        &conn,
        &format!("/1/query_results/{ds}"),
        &json!({"query_id": id, "disable_series": !a.json}),
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    if let Some(w) = result["warnings"].as_array() {
        for w in w {
            eprintln!("warning: {}", w.as_str().unwrap_or(""));
        }
    }
    let rows = result["data"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut headers: Vec<String> = spec["breakdowns"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let calc_keys: Vec<String> = rows
        .first()
        .and_then(|r| r["data"].as_object())
        .map(|o| o.keys().filter(|k| !headers.contains(k)).cloned().collect())
        .unwrap_or_else(|| vec!["COUNT".into()]);
    headers.extend(calc_keys);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| headers.iter().map(|h| cell(&r["data"][h])).collect())
        .collect();
    print_table(&headers, &table);
    Ok(())
}

pub fn print_table(headers: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let c: String = c.chars().take(*w).collect();
                format!("{c:<w$}")
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(headers));
    println!(
        "{}",
        widths
            .iter()
            .map(|w| "─".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        println!("{}", line(r));
    }
    if rows.is_empty() {
        println!("(no results)");
    }
}

pub fn bubbleup(conn: Conn, a: BubbleUpArgs) -> Result<()> {
    if a.select.is_empty() {
        bail!("give the selection with --select, e.g. --select 'duration_ms > 500'");
    }
    let spec = base_spec(&a.spec)?;
    let filters: Vec<Value> = a
        .select
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<_>>()?;
    let body = json!({
        "query": spec,
        "selection": {"filters": filters},
        "top_values": a.top,
    });
    let result = post(
        &conn,
        &format!("/api/waggle/bubbleup/{}", a.spec.dataset),
        &body,
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    println!(
        "selection: {} events   baseline: {} events",
        result["selection_count"], result["baseline_count"]
    );
    for col in result["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .take(a.columns)
    {
        println!(
            "\n{}  (difference {:.1} points)",
            col["column"].as_str().unwrap_or("?"),
            col["score"].as_f64().unwrap_or(0.0)
        );
        let rows: Vec<Vec<String>> = col["values"]
            .as_array()
            .into_iter()
            .flatten()
            .take(a.top)
            .map(|v| {
                vec![
                    cell(&v["value"]),
                    format!("{:.1}%", v["selection_pct"].as_f64().unwrap_or(0.0)),
                    format!("{:.1}%", v["baseline_pct"].as_f64().unwrap_or(0.0)),
                ]
            })
            .collect();
        print_table(
            &["value".into(), "selection".into(), "baseline".into()],
            &rows,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_into_honeycomb_shape() {
        assert_eq!(
            parse_filter("http.status_code >= 500").unwrap(),
            json!({"column": "http.status_code", "op": ">=", "value": 500})
        );
        assert_eq!(
            parse_filter("name starts-with GET /api").unwrap(),
            json!({"column": "name", "op": "starts-with", "value": "GET /api"})
        );
        assert_eq!(
            parse_filter("error exists").unwrap(),
            json!({"column": "error", "op": "exists"})
        );
        assert_eq!(
            parse_filter("http.route in /a,/b").unwrap(),
            json!({"column": "http.route", "op": "in", "value": ["/a", "/b"]})
        );
        assert_eq!(
            parse_filter("handle = '42'").unwrap(),
            json!({"column": "handle", "op": "=", "value": "42"})
        );
        assert!(parse_filter("nonsense").is_err());
    }

    #[test]
    fn calcs_orders_havings_ranges() {
        assert_eq!(
            parse_calc("p99(duration_ms)").unwrap(),
            json!({"op": "P99", "column": "duration_ms"})
        );
        assert_eq!(parse_calc("COUNT").unwrap(), json!({"op": "COUNT"}));
        assert_eq!(
            parse_order("COUNT desc").unwrap(),
            json!({"op": "COUNT", "order": "descending"})
        );
        assert_eq!(
            parse_order("http.route").unwrap(),
            json!({"column": "http.route", "order": "ascending"})
        );
        assert_eq!(
            parse_having("P99(duration_ms) > 100").unwrap(),
            json!({"calculate_op": "P99", "column": "duration_ms", "op": ">", "value": 100.0})
        );
        assert_eq!(parse_range("2h").unwrap(), 7200);
        assert!(parse_range("2y").is_err());
    }
}
