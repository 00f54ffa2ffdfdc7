//! AWS X-Ray filter expressions (GetTraceSummaries `FilterExpression`, group expressions):
//! parse ([`parse()`]), print ([`print()`]), compile to the shared plan's [`Predicate`](crate::plan::Predicate)
//! ([`compile()`]) and render the SQL that lists matching traces newest first
//! ([`summaries::render_summaries`]). Pure: no I/O.
//!
//! Language: https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html (no
//! formal grammar is published; ours is in [`parse`]). Unsupported on purpose, answered with
//! [`FilterError::Unsupported`] rather than matching everything: `rootcause.*`, `json`,
//! `rootcause.json`, and the root-cause-only keywords `first`, `last`, `remote`, `index`,
//! `coverage` (X-Ray's root-cause analysis is not computed from stored spans).
//!
//! # What X-Ray filter keywords read (for data from any protocol)
//!
//! Copied from the contract with the X-Ray decoder, `XRAY_FIELDS.md`:
//!
//! - trace-level keywords (`responsetime`, `duration`, `http.*`, `user`, `ok`/`error`/`fault`/`throttle`, `annotation.*`)
//!   look at the trace's root span(s) — Predicate::Trace{scope: Root} — except annotations and users, which X-Ray
//!   indexes from every segment of the trace (scope Any).
//! - `fault`: `aws.xray.fault = true` OR `http.status_code >= 500` OR `status_code = 2`.
//! - `error`: `aws.xray.error = true` OR `http.status_code` in 400..=499.
//! - `throttle`: `aws.xray.throttle = true` OR `http.status_code = 429`.
//! - `ok`: none of the above.
//! - `http.url`: `http.url`, else `url.full` (OTel new semconv). `http.status`: `http.status_code`, else
//!   `http.response.status_code`. `http.method`: `http.method`, else `http.request.method`. `http.useragent`:
//!   `http.user_agent` else `user_agent.original`. `http.clientip`: `http.client_ip` else `client.address` else `net.peer.ip`.
//! - `responsetime`: the root's `duration_ms` / 1000 (seconds). `duration`: (trace end − trace start) in seconds.
//! - `service("n")`: spans whose `service.name = n` (and, with `id(type: …)`, whose `aws.xray.origin` matches).
//!
//! # Our reading where the contract is silent
//!
//! - The status ranges of `fault`/`error`/`throttle` read `http.status` with its fallback.
//! - `partial` = some span has `aws.xray.in_progress = true`; `inferred` = some span has
//!   `aws.xray.inferred = true`; `root` = the span has no parent.
//! - `user` reads `enduser.id`, else `user.id`. `name` reads the span's `name`, `type`
//!   `aws.xray.origin` (both at the root); `message` reads `exception.message`,
//!   `availabilityzone` `cloud.availability_zone`, `instance.id` `host.id`, `resource.arn`
//!   `cloud.resource_id` (all on any span; the OTel resource names — the X-Ray decoder does not
//!   flatten `aws.ec2.*` / `resource_arn` into these yet).
//! - `id(account.id: …)` reads `aws.account_id`.
//! - Inside `service(…) { f }` and `edge(…) { f }`, `f` is about one span: `responsetime` and
//!   `duration` are that span's duration, `ok`/`fault`/… its status. `service(…) { f }` = some
//!   span of the service satisfies `f`; `!service(…)` = no span of it does.
//! - `edge("a", "b") { f }` = some span of service `b` satisfies `f` and its parent span is of
//!   service `a` ([`Predicate::Edge`](crate::plan::Predicate::Edge)), or — for a callee X-Ray infers (DynamoDB, an HTTP API
//!   without X-Ray) — a span of `a` named `b` with `aws.xray.namespace` `aws` or `remote`
//!   satisfies `f`.
//! - `!=` and `= false` are "not `=`" of the whole trace: `http.status != 200` = the root span
//!   does not have status 200 (a trace whose root has no status matches: the plan's two-valued
//!   semantics), `annotation.age != 30` = no span has `age` 30, `ok = false` = `!ok`.
//! - `group.name = "g"` / `group.arn = "…"` compile the group's expression, which the caller
//!   looks up ([`CompileContext::groups`]).

pub mod ast;
pub mod compile;
pub mod parse;
pub mod print;
pub mod summaries;

pub use ast::*;
pub use compile::{compile, compile_str, CompileContext};
pub use parse::parse;
pub use print::print;

/// Longest expression accepted, in bytes. Our choice: X-Ray documents no maximum for
/// `FilterExpression`; 2000 is far beyond the console's examples (≤ 200) and bounds the work
/// the parser and the rendered SQL do.
pub const EXPR_LEN_MAX: usize = 2000;
/// Deepest nesting of `!`, parentheses and `{ }` filters. Our choice: the documented examples
/// nest at most 2 deep; 32 keeps recursion shallow.
pub const NESTING_DEPTH_MAX: usize = 32;
/// Deepest chain of `group.name` references (a group whose expression names a group …).
/// Our choice.
pub const GROUP_DEPTH_MAX: usize = 8;

/// Why an expression could not be used. The text is meant for X-Ray's
/// `InvalidRequestException` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("filter expression is {len} bytes long; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    /// `pos` is a byte offset into the expression.
    #[error("invalid filter expression at position {pos}: {message}")]
    Syntax { pos: usize, message: String },
    #[error("filter expression not supported: {0}")]
    Unsupported(String),
    #[error("{0}: no such group")]
    UnknownGroup(String),
    #[error("{group}: {message}")]
    Group { group: String, message: String },
}
