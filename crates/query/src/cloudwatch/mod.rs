//! Amazon CloudWatch Logs query languages, compiled to the shared plan (no second engine):
//! filter patterns ([`pattern`], [`pattern_compile`]: FilterLogEvents, metric and subscription
//! filters, live tail) and Logs Insights queries ([`insights`], [`insights_compile`]:
//! StartQuery), with Insights' result shape ([`insights_compile::insights_results`]). Pure.
//!
//! Languages: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
//! and https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html (facts:
//! `shared/protocols/xray-cloudwatch-rollbar.md` §C.1, §C.2).
//!
//! # How log events are stored (the contract with the CloudWatch Logs decoder)
//!
//! - kind [`model::SignalKind::Log`]; dataset = the log group name;
//! - the message text in `body` (the name the OTLP log translation gives a log body);
//! - `cloudwatch.log_stream` (text), `cloudwatch.ingestion_time` (integer, Unix ms),
//!   `cloudwatch.event_id` (text);
//! - when the message is a JSON object, its fields are also stored as attributes under
//!   their own names, nested objects flattened with dots (`{"a": {"b": 1}}` → `a.b`), as
//!   Insights discovers them.
//!
//! Filter patterns read the message itself (`body`, parsed as JSON for `{ … }` patterns), so
//! they do not depend on how attributes were typed or widened. Insights reads system fields as
//! `@timestamp` = event time, `@message` = `body`, `@logStream` = `cloudwatch.log_stream`,
//! `@log` = the dataset (log group), `@ingestionTime` = `cloudwatch.ingestion_time`, and other
//! names as the attribute of that name.

pub mod insights;
pub mod insights_compile;
pub mod pattern;
pub mod pattern_compile;

/// Attribute holding the log stream name.
pub const LOG_STREAM_FIELD: &str = "cloudwatch.log_stream";
/// Attribute holding the ingestion time (Unix milliseconds).
pub const INGESTION_TIME_FIELD: &str = "cloudwatch.ingestion_time";
/// Attribute holding the event id.
pub const EVENT_ID_FIELD: &str = "cloudwatch.event_id";
pub use pattern_compile::BODY_FIELD;
