//! SQL text primitives per storage engine: identifier quoting, literals, casts, string and
//! hex functions, time bucketing, filtered aggregates. Query structure lives in `sql`; every
//! piece of text that differs between engines lives here.
//!
//! Architecture Invariant: user data (column names, values) reaches SQL only through
//! [`Dialect::ident`] and the literal methods.

use model::Value;

use crate::plan::{JsonRead, JsonStep};

/// How one SQL engine spells things. Expressions passed in are already-rendered SQL.
pub trait Dialect {
    /// A quoted identifier; any text is safe.
    fn ident(&self, name: &str) -> String;
    /// A string literal; any text is safe.
    fn string(&self, s: &str) -> String;
    fn int(&self, i: i64) -> String;
    /// A DOUBLE literal (non-finite values included).
    fn double(&self, f: f64) -> String;
    fn bool(&self, b: bool) -> String;
    fn value(&self, v: &Value) -> String {
        match v {
            Value::Str(s) => self.string(s),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.double(*f),
            Value::Bool(b) => self.bool(*b),
        }
    }
    /// A typed NULL of a string column (for columns that do not exist).
    fn null_string(&self) -> String;
    fn to_double(&self, e: &str) -> String;
    /// Parse text as a double; unparseable → NULL.
    fn try_to_double(&self, e: &str) -> String;
    fn to_text(&self, e: &str) -> String;
    fn to_bigint(&self, e: &str) -> String;
    /// 16 lowercase hex digits of a BIGINT's bit pattern.
    fn hex16(&self, e: &str) -> String;
    fn lower(&self, e: &str) -> String;
    fn starts_with(&self, e: &str, prefix: &str) -> String;
    fn ends_with(&self, e: &str, suffix: &str) -> String;
    fn contains(&self, e: &str, needle: &str) -> String;
    /// Start of the `width`-ns bucket holding nanosecond time `e` (epoch-aligned,
    /// `e - e % width` with truncating remainder).
    fn time_bucket_ns(&self, e: &str, width_ns: i64) -> String {
        format!("({e} - {e} % {})", self.int(width_ns))
    }
    /// `agg(arg)` over rows where `cond` holds.
    fn filtered(&self, agg: &str, arg: &str, cond: &str) -> String;
    fn count_distinct(&self, e: &str) -> String;
    /// Weighted discrete percentile from a window: the smallest `value` whose cumulative
    /// weight `cum` reaches `permille`/1000 of the total weight `total`.
    fn weighted_percentile(&self, value: &str, cum: &str, total: &str, permille: u32) -> String {
        self.filtered(
            "MIN",
            value,
            &format!("{cum} * 1000 >= {permille} * {total}"),
        )
    }
    /// Reads about `percent` of a table's storage blocks (applied before WHERE).
    fn block_sample(&self, percent: f64) -> String {
        // A fixed seed: the same question gives the same answer.
        format!("TABLESAMPLE {}% (system, 42)", percent.clamp(0.0001, 100.0))
    }
    /// Keyword after `name AS` that makes a CTE referenced many times be computed once
    /// (empty where the engine always does, or cannot be told).
    fn materialized_cte(&self) -> &'static str {
        "MATERIALIZED "
    }
    /// Exact unweighted lower percentile (smallest value whose cumulative share reaches
    /// `permille`/1000) in one aggregate, for when every weight is 1.
    fn percentile_disc(&self, value: &str, permille: u32) -> String {
        format!("quantile_disc({value}, {})", f64::from(permille) / 1000.0)
    }
    /// `string_agg` of `e` separated by `sep`, ordered by `order`.
    fn string_agg(&self, e: &str, sep: &str, order: &str) -> String;
    fn floor(&self, e: &str) -> String;
    /// Null-safe equality.
    fn not_distinct(&self, a: &str, b: &str) -> String;
    /// The previous row's `e` in window `window`.
    fn lag(&self, e: &str, window: &str) -> String {
        format!("LAG({e}) OVER ({window})")
    }
    /// A NULL of a column type (`None`: of a string column).
    fn null_of(&self, ty: Option<model::value::ColumnType>) -> String;
    /// Smallest / largest non-NULL argument (NULL when all are).
    fn least(&self, args: &[String]) -> String;
    fn greatest(&self, args: &[String]) -> String;
    /// Concatenation of the non-NULL text arguments ('' when all are NULL).
    fn concat(&self, args: &[String]) -> String;
    /// Base-10 logarithm of a positive double.
    fn log10(&self, e: &str) -> String;
    /// A double truncated toward zero to BIGINT; NULL when out of range or NaN.
    fn trunc_to_bigint(&self, e: &str) -> String;
    /// Length of text in Unicode code points / in UTF-8 bytes.
    fn char_length(&self, e: &str) -> String;
    fn byte_length(&self, e: &str) -> String;
    /// Whether text `e` contains a match of RE2 pattern `pattern` (a rendered literal).
    fn regexp_matches(&self, e: &str, pattern: &str) -> String;
    /// Capture `group` of the first match ('' when there is none).
    fn regexp_extract(&self, e: &str, pattern: &str, group: usize) -> String;
    /// Number of non-overlapping matches.
    fn regexp_count(&self, e: &str, pattern: &str) -> String;
    /// The SQL type that holds a column type.
    fn sql_type(&self, ty: model::value::ColumnType) -> &'static str;
    /// `e` as `ty`; NULL when it does not convert.
    fn try_cast(&self, e: &str, ty: model::value::ColumnType) -> String;
    /// The value of `key` in an overflow cell `e` (`model::schema::overflow`), as text
    /// (NULL when absent).
    fn overflow_text(&self, e: &str, key: &str) -> String;
    /// A JSON path literal for [`Dialect::json_value`]. Keys never contain `"` or `\\` (the
    /// CloudWatch parser admits letters, digits, `_`, `-` and `@` only); such characters are
    /// replaced so the path stays well-formed (and matches nothing).
    fn json_path(&self, path: &[JsonStep]) -> String {
        let mut p = String::from("$");
        for step in path {
            match step {
                JsonStep::Key(k) => {
                    let k: String = k
                        .chars()
                        .map(|c| if c == '"' || c == '\\' { '\u{fffd}' } else { c })
                        .collect();
                    p.push_str(&format!(".\"{k}\""));
                }
                JsonStep::Index(i) => p.push_str(&format!("[{i}]")),
            }
        }
        self.string(&p)
    }
    /// The value at `path` (a [`Dialect::json_path`] literal) of JSON text `e`, read as
    /// [`JsonRead`] says; NULL when `e` is not valid JSON, the path leads nowhere or the value
    /// is of another kind. Never raises on malformed text.
    fn json_value(&self, e: &str, path: &str, read: JsonRead) -> String;
    /// Space-delimited field `index` (0-based; negative from the end) of text `e`, split by
    /// the regex literal `token` ([`crate::plan::DELIMITED_TOKEN_RE`]), without the
    /// enclosing `[]` / `""` of a grouped field; NULL when there is no such field.
    fn delimited_field(&self, e: &str, token: &str, index: i64) -> String;
    /// The number of fields `e` splits into.
    fn delimited_count(&self, e: &str, token: &str) -> String;
}

/// DuckDB (1.x) SQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct DuckDb;

impl Dialect for DuckDb {
    fn ident(&self, name: &str) -> String {
        // NUL would end the statement text at the C boundary; no real column contains one.
        let clean = name.replace('\0', "\u{fffd}");
        format!("\"{}\"", clean.replace('"', "\"\""))
    }

    fn string(&self, s: &str) -> String {
        // Standard SQL strings: backslash is not an escape in DuckDB; only `'` is doubled.
        // NUL cannot appear inside SQL text, so it is spliced in with chr(0).
        let parts: Vec<String> = s
            .split('\0')
            .map(|p| format!("'{}'", p.replace('\'', "''")))
            .collect();
        if parts.len() == 1 {
            parts.concat()
        } else {
            format!("({})", parts.join(" || chr(0) || "))
        }
    }

    fn int(&self, i: i64) -> String {
        if i == i64::MIN {
            "(-9223372036854775807 - 1)".into()
        } else {
            i.to_string()
        }
    }

    fn double(&self, f: f64) -> String {
        if f.is_nan() {
            "CAST('nan' AS DOUBLE)".into()
        } else if f.is_infinite() {
            if f > 0.0 {
                "CAST('inf' AS DOUBLE)".into()
            } else {
                "CAST('-inf' AS DOUBLE)".into()
            }
        } else {
            format!("CAST({f:?} AS DOUBLE)")
        }
    }

    fn bool(&self, b: bool) -> String {
        if b {
            "TRUE".into()
        } else {
            "FALSE".into()
        }
    }

    fn null_string(&self) -> String {
        "CAST(NULL AS VARCHAR)".into()
    }

    fn to_double(&self, e: &str) -> String {
        format!("CAST({e} AS DOUBLE)")
    }

    fn try_to_double(&self, e: &str) -> String {
        format!("TRY_CAST({e} AS DOUBLE)")
    }

    fn to_text(&self, e: &str) -> String {
        format!("CAST({e} AS VARCHAR)")
    }

    fn to_bigint(&self, e: &str) -> String {
        format!("CAST({e} AS BIGINT)")
    }

    fn hex16(&self, e: &str) -> String {
        format!("lpad(lower(hex({e})), 16, '0')")
    }

    fn lower(&self, e: &str) -> String {
        format!("lower({e})")
    }

    fn starts_with(&self, e: &str, prefix: &str) -> String {
        format!("starts_with({e}, {prefix})")
    }

    fn ends_with(&self, e: &str, suffix: &str) -> String {
        format!("ends_with({e}, {suffix})")
    }

    fn contains(&self, e: &str, needle: &str) -> String {
        format!("contains({e}, {needle})")
    }

    fn filtered(&self, agg: &str, arg: &str, cond: &str) -> String {
        format!("{agg}({arg}) FILTER (WHERE {cond})")
    }

    fn count_distinct(&self, e: &str) -> String {
        format!("COUNT(DISTINCT {e})")
    }

    fn string_agg(&self, e: &str, sep: &str, order: &str) -> String {
        format!("string_agg({e}, {} ORDER BY {order})", self.string(sep))
    }

    fn floor(&self, e: &str) -> String {
        format!("floor({e})")
    }

    fn not_distinct(&self, a: &str, b: &str) -> String {
        format!("{a} IS NOT DISTINCT FROM {b}")
    }

    fn null_of(&self, ty: Option<model::value::ColumnType>) -> String {
        let t = self.sql_type(ty.unwrap_or(model::value::ColumnType::String));
        format!("CAST(NULL AS {t})")
    }

    fn sql_type(&self, ty: model::value::ColumnType) -> &'static str {
        use model::value::ColumnType;
        match ty {
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Integer => "BIGINT",
            ColumnType::Float => "DOUBLE",
            ColumnType::String => "VARCHAR",
        }
    }

    fn try_cast(&self, e: &str, ty: model::value::ColumnType) -> String {
        format!("TRY_CAST({e} AS {})", self.sql_type(ty))
    }

    fn overflow_text(&self, e: &str, key: &str) -> String {
        // RE2 (DuckDB's regex engine): every non-alphanumeric character of the key escaped;
        // the separators as \x escapes (backslashes are literal in SQL strings).
        let mut pattern = String::from("(\\x1f");
        for c in key.chars() {
            match c {
                '\u{1f}' | '\u{1e}' => pattern.push('\u{fffd}'),
                c if c.is_alphanumeric() => pattern.push(c),
                c if c.is_ascii() => {
                    pattern.push('\\');
                    pattern.push(c);
                }
                c => pattern.push(c),
            }
        }
        pattern.push_str("\\x1e[sifb])([^\\x1f]*)");
        let p = self.string(&pattern);
        format!(
            "CASE WHEN regexp_extract({e}, {p}, 1) = '' THEN NULL ELSE regexp_extract({e}, {p}, 2) END"
        )
    }

    fn least(&self, args: &[String]) -> String {
        // DuckDB's LEAST/GREATEST skip NULL arguments.
        format!("LEAST({})", distinct(args).join(", "))
    }

    fn greatest(&self, args: &[String]) -> String {
        format!("GREATEST({})", distinct(args).join(", "))
    }

    fn concat(&self, args: &[String]) -> String {
        if args.is_empty() {
            return self.string("");
        }
        format!("COALESCE(concat({}), '')", args.join(", "))
    }

    fn log10(&self, e: &str) -> String {
        format!("log10({e})")
    }

    fn trunc_to_bigint(&self, e: &str) -> String {
        // A plain cast would round, and raise on overflow.
        format!("TRY_CAST(trunc({e}) AS BIGINT)")
    }

    fn char_length(&self, e: &str) -> String {
        format!("length({e})")
    }

    fn byte_length(&self, e: &str) -> String {
        format!("strlen({e})")
    }

    fn regexp_matches(&self, e: &str, pattern: &str) -> String {
        format!("regexp_matches({e}, {pattern})")
    }

    fn regexp_extract(&self, e: &str, pattern: &str, group: usize) -> String {
        format!("regexp_extract({e}, {pattern}, {group})")
    }

    fn regexp_count(&self, e: &str, pattern: &str) -> String {
        format!("len(regexp_extract_all({e}, {pattern}))")
    }

    fn json_value(&self, e: &str, path: &str, read: JsonRead) -> String {
        // CASE evaluates its branches only for the rows that reach them, so json_type and
        // json_extract_string never see text json_valid rejected.
        let ty = format!("json_type({e}, {path})");
        let s = format!("json_extract_string({e}, {path})");
        let inner = match read {
            JsonRead::String => format!("CASE WHEN {ty} = 'VARCHAR' THEN {s} END"),
            JsonRead::Number => format!(
                "CASE WHEN {ty} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST({s} AS DOUBLE) END"
            ),
            JsonRead::Boolean => format!("CASE WHEN {ty} = 'BOOLEAN' THEN {s} = 'true' END"),
            JsonRead::Kind => format!(
                "CASE {ty} WHEN 'VARCHAR' THEN 'string' WHEN 'BIGINT' THEN 'number' WHEN 'UBIGINT' THEN 'number' WHEN 'DOUBLE' THEN 'number' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' END"
            ),
        };
        format!("CASE WHEN json_valid({e}) THEN {inner} END")
    }

    fn delimited_field(&self, e: &str, token: &str, index: i64) -> String {
        // list_extract is 1-based and counts from the end for negative indexes.
        let i = if index >= 0 {
            index.saturating_add(1)
        } else {
            index
        };
        format!(
            "regexp_replace(list_extract(regexp_extract_all({e}, {token}), {}), {}, '\\1\\2')",
            self.int(i),
            self.string(r#"(?s)^\[(.*)\]$|^"(.*)"$"#)
        )
    }

    fn delimited_count(&self, e: &str, token: &str) -> String {
        format!("len(regexp_extract_all({e}, {token}))")
    }
}

/// `args` without repeats, in order. LEAST and GREATEST are unchanged by a repeated argument,
/// and DuckDB 2.0.0 fails to re-plan a call with three identical column arguments when it
/// copies a plan ("Duplicate named argument"; seen by the query property test).
fn distinct(args: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(args.len());
    for a in args {
        if !out.contains(&a.as_str()) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quoting_neutralises_injection() {
        let d = DuckDb;
        assert_eq!(
            d.ident("a\"; DROP TABLE events; --"),
            "\"a\"\"; DROP TABLE events; --\""
        );
        assert_eq!(
            d.string("x'); DROP TABLE events; --"),
            "'x''); DROP TABLE events; --'"
        );
        assert_eq!(d.string("a\\'b"), "'a\\''b'");
        assert_eq!(d.string("a\0b"), "('a' || chr(0) || 'b')");
        assert_eq!(d.int(i64::MIN), "(-9223372036854775807 - 1)");
        assert_eq!(d.double(0.1), "CAST(0.1 AS DOUBLE)");
        assert_eq!(d.double(2.0), "CAST(2.0 AS DOUBLE)");
        assert_eq!(d.double(f64::NAN), "CAST('nan' AS DOUBLE)");
    }

    #[test]
    fn least_and_greatest_drop_repeated_arguments() {
        let args = ["\"f\"", "\"g\"", "\"f\"", "\"f\""].map(String::from);
        assert_eq!(DuckDb.least(&args), "LEAST(\"f\", \"g\")");
        assert_eq!(DuckDb.greatest(&args[2..]), "GREATEST(\"f\")");
    }
}
