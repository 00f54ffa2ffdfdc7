//! Wire protocols: one module per protocol (decode, translate to `model::Event`, encode
//! native responses and errors, limits). Pure: no I/O.

pub mod aws;
pub mod body;
pub mod cloudwatch_logs;
pub mod honeycomb;
pub mod otlp;
pub mod rollbar;
pub mod tempo;
pub mod xray;
pub mod xray_control;
