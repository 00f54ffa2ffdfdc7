//! AWS request plumbing shared by every AWS protocol Waggle serves (X-Ray restJson1,
//! CloudWatch Logs awsJson1_1): SigV4 verification, error rendering, request ids,
//! pagination tokens, `X-Amz-Target` parsing and credential configuration. Pure: no I/O.

pub mod credentials;
pub mod error;
pub mod eventstream;
pub mod request_id;
pub mod sigv4;
pub mod target;
pub mod token;

pub use credentials::{Credentials, Secret};
pub use error::{AwsError, ErrorKind, ErrorResponse, Protocol, Service};
pub use request_id::RequestId;
