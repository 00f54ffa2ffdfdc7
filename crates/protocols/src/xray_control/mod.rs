//! X-Ray control plane (pure): centralized sampling (GetSamplingRules, GetSamplingTargets and
//! the rule CRUD), groups, tags and the account-level settings resources of the X-Ray API.
//!
//! Sources: botocore's model `botocore/data/xray/2016-04-12/service-2.json` (shapes, bounds,
//! errors), the Python SDK's sampler (`aws_xray_sdk/core/sampling/*`, 2.15.0) for what a
//! client needs from the answers, and `shared/protocols/xray-cloudwatch-rollbar.md` §A.2,
//! §A.4, §B. Facts marked **[inference]** in the docs below were not confirmed against the
//! real service.
//!
//! Time is an input (`now`: epoch seconds, `f64`) and randomness is injected (group ids), so
//! every answer is reproducible. The server owns I/O: it decodes the JSON body into a request
//! shape, calls [`state::ControlState`] (persisted as one document) or
//! [`targets::SamplingTargets`] (in memory), and renders [`ControlError`] with
//! [`ControlError::code`], [`ControlError::http_status`] and [`ControlError::body`].

pub mod groups;
pub mod rules;
pub mod shapes;
pub mod state;
pub mod tags;
pub mod targets;
pub mod validate;
pub mod wildcard;

/// An X-Ray API error, named by its model shape. Rendered by the server as status
/// [`Self::http_status`], header `x-amzn-ErrorType: <code>` and body [`Self::body`]
/// (protocol facts §B: botocore reads the header, then `__type`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// `InvalidRequestException` (400): validation failures and bad references.
    #[error("{0}")]
    InvalidRequest(String),
    /// `RuleLimitExceededException` (400): more sampling rules than the quota.
    #[error("{0}")]
    RuleLimitExceeded(String),
    /// `ResourceNotFoundException` (404, model `httpStatusCode`), with `ResourceName`.
    #[error("{message}")]
    ResourceNotFound {
        message: String,
        resource_name: Option<String>,
    },
    /// `TooManyTagsException` (400), with `ResourceName`.
    #[error("{message}")]
    TooManyTags {
        message: String,
        resource_name: Option<String>,
    },
    /// `ThrottledException` (429).
    #[error("{0}")]
    Throttled(String),
    /// `InvalidPolicyRevisionIdException` (400).
    #[error("{0}")]
    InvalidPolicyRevisionId(String),
    /// `MalformedPolicyDocumentException` (400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `PolicyCountLimitExceededException` (400).
    #[error("{0}")]
    PolicyCountLimitExceeded(String),
    /// `PolicySizeLimitExceededException` (400).
    #[error("{0}")]
    PolicySizeLimitExceeded(String),
}

impl ControlError {
    /// The error code (the model's shape name).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "InvalidRequestException",
            Self::RuleLimitExceeded(_) => "RuleLimitExceededException",
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::TooManyTags { .. } => "TooManyTagsException",
            Self::Throttled(_) => "ThrottledException",
            Self::InvalidPolicyRevisionId(_) => "InvalidPolicyRevisionIdException",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            Self::PolicyCountLimitExceeded(_) => "PolicyCountLimitExceededException",
            Self::PolicySizeLimitExceeded(_) => "PolicySizeLimitExceededException",
        }
    }

    /// HTTP status: the model's `error.httpStatusCode`, 400 where absent.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::ResourceNotFound { .. } => 404,
            Self::Throttled(_) => 429,
            _ => 400,
        }
    }

    /// The error body: `{"__type": code, "message": text}` plus `ResourceName` where the
    /// shape has one.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "__type": self.code(), "message": self.to_string() });
        if let Self::ResourceNotFound {
            resource_name: Some(name),
            ..
        }
        | Self::TooManyTags {
            resource_name: Some(name),
            ..
        } = self
        {
            body["ResourceName"] = serde_json::Value::String(name.clone());
        }
        body
    }
}

/// Where the emulated account lives: every ARN is `arn:aws:xray:<region>:<account>:…`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

    /// `arn:aws:xray:<region>:<account>:<resource>`.
    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:xray:{}:{}:{resource}", self.region, self.account)
    }
}
