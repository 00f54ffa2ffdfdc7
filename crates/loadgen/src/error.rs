//! The crate's error type: configuration and set-up failures (per-request failures go in the report).

/// Why a load run could not be prepared or started.
///
/// Failures of individual requests are not errors: they are counted in
/// [`crate::LoadReport`] (refused / failed) so a run against an overloaded or absent
/// server still produces a report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid load configuration: {0}")]
    InvalidConfig(String),
    /// The target URL could not be parsed.
    #[error("invalid target URL {url:?}: {reason}")]
    InvalidTarget { url: String, reason: String },
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The gRPC endpoint could not be configured.
    #[error("cannot configure gRPC endpoint: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// Compressing or encoding a payload failed.
    #[error("cannot encode payload: {0}")]
    Encode(String),
    /// A background task panicked or was cancelled.
    #[error("load task failed: {0}")]
    Task(String),
}
