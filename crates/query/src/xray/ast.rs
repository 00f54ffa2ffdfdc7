//! The filter-expression syntax tree. It keeps no positions, so a printed and re-parsed
//! tree compares equal to the original; positions live in parse errors.

/// `ok`, `fault`, …: keywords that are true or false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoolKeyword {
    Ok,
    Error,
    Throttle,
    Fault,
    Partial,
    Inferred,
    First,
    Last,
    Remote,
    Root,
}

/// `responsetime`, `duration`, …: keywords with a numeric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKeyword {
    ResponseTime,
    Duration,
    HttpStatus,
    Index,
    Coverage,
}

/// `http.url`, `user`, …: keywords with a text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StringKeyword {
    HttpUrl,
    HttpMethod,
    HttpUserAgent,
    HttpClientIp,
    User,
    Name,
    Type,
    Message,
    AvailabilityZone,
    InstanceId,
    ResourceArn,
}

macro_rules! spelled {
    ($ty:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// Every keyword of this kind.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$v),*];
            /// The keyword as the documentation spells it (matched case-insensitively).
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$v => $s),* }
            }
            /// The keyword spelled `word` (any case).
            pub fn from_word(word: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str().eq_ignore_ascii_case(word))
            }
        }
    };
}

spelled!(BoolKeyword {
    Ok => "ok", Error => "error", Throttle => "throttle", Fault => "fault",
    Partial => "partial", Inferred => "inferred", First => "first", Last => "last",
    Remote => "remote", Root => "root",
});
spelled!(NumberKeyword {
    ResponseTime => "responsetime", Duration => "duration", HttpStatus => "http.status",
    Index => "index", Coverage => "coverage",
});
spelled!(StringKeyword {
    HttpUrl => "http.url", HttpMethod => "http.method", HttpUserAgent => "http.useragent",
    HttpClientIp => "http.clientip", User => "user", Name => "name", Type => "type",
    Message => "message", AvailabilityZone => "availabilityzone", InstanceId => "instance.id",
    ResourceArn => "resource.arn",
});

/// `=` / `!=` (boolean keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EqOp {
    Eq,
    Ne,
}

/// Number comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl NumOp {
    pub const ALL: &'static [NumOp] = &[
        NumOp::Eq,
        NumOp::Ne,
        NumOp::Lt,
        NumOp::Le,
        NumOp::Gt,
        NumOp::Ge,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            NumOp::Eq => "=",
            NumOp::Ne => "!=",
            NumOp::Lt => "<",
            NumOp::Le => "<=",
            NumOp::Gt => ">",
            NumOp::Ge => ">=",
        }
    }
}

/// String comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrOp {
    Eq,
    Ne,
    Contains,
    BeginsWith,
    EndsWith,
}

impl StrOp {
    pub const ALL: &'static [StrOp] = &[
        StrOp::Eq,
        StrOp::Ne,
        StrOp::Contains,
        StrOp::BeginsWith,
        StrOp::EndsWith,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            StrOp::Eq => "=",
            StrOp::Ne => "!=",
            StrOp::Contains => "CONTAINS",
            StrOp::BeginsWith => "BEGINSWITH",
            StrOp::EndsWith => "ENDSWITH",
        }
    }
}

/// What an `annotation.KEY` term tests.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationTest {
    /// Bare `annotation.KEY`: the annotation is set.
    IsSet,
    Bool(EqOp, bool),
    Number(NumOp, f64),
    Str(StrOp, String),
}

/// What a string keyword term tests.
#[derive(Debug, Clone, PartialEq)]
pub enum StringTest {
    /// Bare keyword (`http.url AND responseTime > 2`): the field is set.
    IsSet,
    Compare(StrOp, String),
}

/// A service-graph node: a name, or `id(name: …, type: …, account.id: …)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Name(String),
    Id {
        name: Option<String>,
        ty: Option<String>,
        account_id: Option<String>,
    },
}

/// `group.name = "…"` or `group.arn = "…"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    Name(String),
    Arn(String),
}

/// `rootcause.{fault|error|responsetime}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootCauseKind {
    Fault,
    Error,
    ResponseTime,
}

/// `.entity`, `.service`, `.exception` (not for `responsetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootCauseTarget {
    Entity,
    Service,
    Exception,
}

impl RootCauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RootCauseKind::Fault => "fault",
            RootCauseKind::Error => "error",
            RootCauseKind::ResponseTime => "responsetime",
        }
    }
}

impl RootCauseTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            RootCauseTarget::Entity => "entity",
            RootCauseTarget::Service => "service",
            RootCauseTarget::Exception => "exception",
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more terms, all true (`a AND b`, or juxtaposed `a b`).
    And(Vec<Expr>),
    /// Two or more terms, one true.
    Or(Vec<Expr>),
    /// `!x` / `NOT x`.
    Not(Box<Expr>),
    /// `kw` (= `kw = true`), `kw = false`, `kw != true`, …
    Bool {
        keyword: BoolKeyword,
        op: EqOp,
        value: bool,
    },
    Number {
        keyword: NumberKeyword,
        op: NumOp,
        value: f64,
    },
    String {
        keyword: StringKeyword,
        test: StringTest,
    },
    Annotation {
        key: String,
        test: AnnotationTest,
    },
    /// `service(…) { filter }`; `node: None` is `service()` (every node).
    Service {
        node: Option<Node>,
        filter: Option<Box<Expr>>,
    },
    /// `edge(from, to) { filter }`.
    Edge {
        from: Node,
        to: Node,
        filter: Option<Box<Expr>>,
    },
    /// `group.name = "…"` / `group.arn = "…"`: that group's expression.
    Group(GroupRef),
    /// `rootcause.fault.service { filter }`, …
    RootCause {
        kind: RootCauseKind,
        target: RootCauseTarget,
        filter: Option<Box<Expr>>,
    },
    /// `json = #[…]` (`root_cause: false`) or `rootcause.json = #[…]`; `text` is what is
    /// between `#[` and the matching `]`, verbatim.
    Json {
        root_cause: bool,
        text: String,
    },
}
