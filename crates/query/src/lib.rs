//! Query languages → one logical plan → SQL text per storage dialect, plus the pieces around
//! it: Honeycomb result shaping, BubbleUp, Tempo search and a naive in-memory evaluator that
//! defines what every rendered query must return. Pure: no I/O, no storage engine.
//!
//! Architecture Invariant: this crate renders SQL but never runs it; it depends on `model`
//! only (the store depends on us, not the other way round).
//!
//! Flow: [`spec::QuerySpec`] (Honeycomb JSON) → [`plan::Plan`] (shared with X-Ray and
//! CloudWatch front ends later) → [`sql::render_totals`] / [`sql::render_series`] through a
//! [`dialect::Dialect`] → rows from the store → [`results::honeycomb_data`].

pub mod bubbleup;
pub mod cloudwatch;
pub mod derived;
pub mod dialect;
pub mod naive;
pub mod plan;
pub mod results;
pub mod spec;
pub mod sql;
pub mod tempo;
pub mod traceql;
pub mod xray;

pub use dialect::{Dialect, DuckDb};
pub use plan::{Plan, PlanError};
pub use spec::{QuerySpec, SpecError};

/// A result row as the store returns it: one optional value per output column.
pub type Row = Vec<Option<model::Value>>;
