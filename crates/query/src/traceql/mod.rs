//! Grafana Tempo's TraceQL: parse ([`parse()`]: syntax and Tempo's validation, or
//! [`parse_syntax`] alone), compile spanset queries to the shared plan's predicates
//! ([`compile()`]), and metrics queries to a plan with series ([`metrics`]). Pure: no I/O.
//!
//! Language: <https://grafana.com/docs/tempo/latest/traceql/>; the grammar, lexer and
//! validation rules follow Tempo's `pkg/traceql` (`expr.y`, `lexer.go`, `ast_validate.go`),
//! and `testdata/test_examples.yaml` is Tempo's own parser corpus (see its README).
//!
//! Errors come in Tempo's three kinds: [`Error::Parse`] (not TraceQL, with a byte position),
//! [`Error::Validation`] (TraceQL that breaks a typing rule, such as `{ 1 + "x" = 1 }`), and
//! [`Error::Unsupported`] (valid TraceQL that is not run: by Tempo either — `parent.`
//! attributes, scalar filters beyond `aggregate op number` — or, from [`compile()`], by
//! Waggle yet; the message says which).
//!
//! # How spanset queries read Waggle's data
//!
//! A filter `{ … }` is a predicate on one span; a query matches the traces whose result
//! spansets are not empty ([`Search::trace`]) and reports the spans of those spansets
//! ([`Search::spans`]). What the fields read, for data from any protocol (names are the
//! stored columns; OTLP translation in `protocols::otlp::translate`):
//!
//! - `.x`, `span.x`, `resource.x`, `instrumentation.x`: the attribute column `x` (span,
//!   resource and scope attributes are stored flat under their keys, so the scope does not
//!   narrow the lookup). Keys stored with a `user.` prefix (`name`, `duration_ms`, `__*`…)
//!   are looked up there; `resource.service.name` is the `service.name` column and
//!   `span.service.name` is `user.service.name` (`.service.name` reads both).
//! - `name` / `span:name`: `name`. `duration` / `span:duration`: `duration_ms` (a literal
//!   in ns compares as ms = ns / 10⁶). `kind` / `span:kind`: `span.kind` (missing reads
//!   `unspecified`). `statusMessage`: `status_message` (missing reads `""`).
//! - `status = error`: `status_code = 2` or `error = true`; `ok`: `status_code = 1` and not
//!   error; `unset`: neither.
//! - `traceDuration` / `trace:duration`: the trace's duration ([`Predicate::TraceDuration`]);
//!   `rootName` / `trace:rootName`, `rootServiceName` / `trace:rootService`: the root span's
//!   `name` / `service.name`; `trace:id`, `span:id`, `span:parentID`: the id columns.
//! - `instrumentation:name` / `:version`: `library.name` / `library.version`.
//! - Comparisons normalise types like the plan does ([`crate::plan::compare`]), `!=` and
//!   `!~` do not match spans without the attribute (as in Tempo; use `= nil` for those),
//!   regular expressions are fully anchored (Tempo: `=~ "a"` is `=~ "^a$"`).
//! - `select(…)` ([`Search::select`], [`Selected`]) reads the same columns for each matched
//!   span; `status` as `error`/`ok`/`unset`, `kind` and `statusMessage` with their defaults,
//!   and the nested-set numbers (`nestedSetLeft`, `nestedSetRight`, `nestedSetParent`)
//!   computed from the trace's span tree (`crate::tempo::nested_set_numbers`). In filters,
//!   nested-set numbers answer only the root tests `nestedSetParent < 0` / `> 0`.
//!
//! [`Predicate::TraceDuration`]: crate::plan::Predicate::TraceDuration

pub mod ast;
pub mod compile;
pub mod lexer;
pub mod metrics;
pub mod parse;
pub mod validate;

#[cfg(test)]
mod tests;

pub use ast::*;
pub use compile::{
    column_of, compile, compile_str, run_naive, CompileContext, NestedSet, Search, Selected,
    TraceMatch,
};
pub use metrics::{compile_metrics, Metrics, Window};
pub use parse::parse_syntax;
pub use validate::validate;

/// Longest query accepted, in bytes. Our choice: Tempo sets no limit of its own; Grafana's
/// query builder writes queries of a few hundred bytes, and 128 KiB bounds lexing and the
/// work of rendering the predicates to SQL.
pub const QUERY_LEN_MAX: usize = 128 * 1024;
/// Most operators and operands one query may have. Our choice: it bounds the depth of
/// every recursion over the tree (validation, compilation, drop; a chain of `&&` is as
/// deep as it is long) to a thousand small frames, far below a 2 MiB thread stack; the
/// queries in Tempo's docs and corpus have fewer than 40.
pub const NODES_MAX: usize = 1000;
/// Deepest recursion of the parser (parentheses, prefix operators, `^` chains; about two
/// levels per parenthesis). Our choice, for the same stack bound as [`NODES_MAX`].
pub const NESTING_MAX: usize = 256;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not TraceQL (Tempo's parser refuses it too). `pos` is a byte offset into the query.
    #[error("parse error at position {pos}: {message}")]
    Parse { pos: usize, message: String },
    /// TraceQL that breaks one of Tempo's validation rules (types, regular expressions,
    /// limits). `pos` is where the offending expression starts.
    #[error("invalid TraceQL at position {pos}: {message}")]
    Validation { pos: usize, message: String },
    /// Valid TraceQL that is not run; the message says whether Tempo runs it.
    #[error("unsupported TraceQL at position {pos}: {message}")]
    Unsupported { pos: usize, message: String },
}

impl Error {
    /// The byte offset the error points at.
    pub fn pos(&self) -> usize {
        match self {
            Error::Parse { pos, .. }
            | Error::Validation { pos, .. }
            | Error::Unsupported { pos, .. } => *pos,
        }
    }
}

/// Parses and validates `text` (what Tempo's `Compile` does before running a query).
pub fn parse(text: &str) -> Result<Query, Error> {
    let q = parse_syntax(text)?;
    validate(&q)?;
    Ok(q)
}
