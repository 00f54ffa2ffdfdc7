//! CloudWatch Logs (awsJson1_1, `X-Amz-Target: Logs_20140328.<Operation>`), pure: wire shapes
//! (`shapes`), AWS-worded validation (`validate`), PutLogEvents acceptance (`put_events`),
//! log events ⇄ wide events with trace linking (`translate`), and the per-account/region
//! log groups and streams with their paging (`state`).
//!
//! Sources: botocore's model `botocore/data/logs/2014-03-28/service-2.json` (botocore 1.44.8:
//! shapes, `min`/`max`/`pattern`/`enum`, error lists, operation docs), the shared protocol
//! notes `xray-cloudwatch-rollbar.md` §C, §C.3 and §G, and payloads captured from watchtower
//! 3.4.0, boto3 1.44.8 and the aws CLI 1.46.3 (`tests/fixtures/cloudwatch_logs/`). Facts
//! marked **[inference]** were not confirmed against the real service.
//!
//! Errors are [`crate::aws::AwsError`]s, rendered by the server with
//! [`crate::aws::Service::CloudWatchLogs`] (`{"__type","message"}`, all client errors 400).
//! Time is an input (`now_ms`: Unix milliseconds, as every Logs timestamp except StartQuery's
//! seconds); pagination tokens come from [`crate::aws::token`] with a key the caller owns.

pub mod put_events;
pub mod shapes;
pub mod state;
pub mod translate;
pub mod validate;

use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, ErrorKind};

/// `ResourceNotFoundException` for a group (captured reply of the recording server, the text
/// AWS sends; watchtower keys on the code only).
pub const MSG_GROUP_NOT_FOUND: &str = "The specified log group does not exist.";
/// `ResourceNotFoundException` for a stream (capture seq 45, 54).
pub const MSG_STREAM_NOT_FOUND: &str = "The specified log stream does not exist.";
/// `ResourceAlreadyExistsException` texts (capture seq 50; the stream's as client code
/// compares it, no trailing period).
pub const MSG_GROUP_EXISTS: &str = "The specified log group already exists";
pub const MSG_STREAM_EXISTS: &str = "The specified log stream already exists";
/// A metric or subscription filter that is not there **[inference]**.
pub const MSG_FILTER_NOT_FOUND: &str = "The specified filter does not exist.";
/// A tagging ARN that names no log group we hold **[inference]**.
pub const MSG_RESOURCE_NOT_FOUND: &str = "The specified resource does not exist.";

/// Where the emulated account lives; every ARN is `arn:aws:logs:<region>:<account>:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Partition {
    pub region: String,
    pub account: String,
}

impl Partition {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account: account.into(),
        }
    }

    /// `logGroupArn` and the tagging ARN: `arn:aws:logs:R:A:log-group:NAME` (no `:*`).
    pub fn group_arn(&self, group: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{group}",
            self.region, self.account
        )
    }

    /// `LogGroup.arn`: the same with a trailing `:*` (protocol notes §C, capture seq 57).
    pub fn group_arn_star(&self, group: &str) -> String {
        format!("{}:*", self.group_arn(group))
    }

    /// `LogStream.arn`: `arn:aws:logs:R:A:log-group:G:log-stream:S` (capture seq 58).
    pub fn stream_arn(&self, group: &str, stream: &str) -> String {
        format!("{}:log-stream:{stream}", self.group_arn(group))
    }

    /// The group name a `logGroupIdentifier` or tagging ARN names: a plain name, or an ARN of
    /// this partition with or without `:*`. `None` for another account's or region's ARN.
    pub fn group_from_identifier<'a>(&self, ident: &'a str) -> Option<&'a str> {
        let Some(rest) = ident.strip_prefix("arn:") else {
            return Some(ident);
        };
        // aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
        let mut parts = rest.splitn(6, ':');
        let (partition, service, region, account, kind, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if !partition.starts_with("aws")
            || service != "logs"
            || region != self.region
            || account != self.account
            || kind != "log-group"
        {
            return None;
        }
        let name = name.strip_suffix(":*").unwrap_or(name);
        (!name.is_empty() && !name.contains(':')).then_some(name)
    }
}

pub(crate) fn not_found(message: &'static str) -> AwsError {
    AwsError::new(ErrorKind::ResourceNotFound, message)
}

pub(crate) fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> AwsError {
    AwsError::new(ErrorKind::InvalidParameter, message)
}
