//! Projects and their access tokens with scopes (RD `api/overview.md`), parsed from one
//! configuration string; the per-token rate limit window (RD `guides/rate-limits.md`) with its
//! `X-Rate-Limit-*` headers. Tokens are compared in constant time and never printed by `Debug`.
//!
//! Configuration format (flag / env var / config file value), entries separated by `,`:
//!
//! ```text
//! PROJECT:TOKEN[:SCOPES[:LIMIT/SECONDS]]
//! cruddur:aaaa1111:post_server_item,cruddur:bbbb2222:read+write,web:cccc3333:post_client_item:100/60
//! ```
//!
//! `PROJECT` is a name (letters, digits, `.`, `_`, `-`); projects are numbered 1, 2, … in the
//! order they first appear. `SCOPES` is `+`-separated from `post_server_item`,
//! `post_client_item`, `read`, `write`, or `all`; omitted means all four (a local default).
//! `LIMIT/SECONDS` overrides the token's rate limit (default [`RATE_LIMIT_DEFAULT`] per
//! [`RATE_WINDOW_S_DEFAULT`]). With nothing configured, [`Projects::local`] accepts any token for
//! the project [`LOCAL_PROJECT`] with every scope.

use super::Answer;
use std::fmt;
use subtle::ConstantTimeEq;

/// Most tokens in one configuration (our choice: RD says new projects get four tokens; 1024
/// bounds a mistaken paste).
pub const TOKENS_MAX: usize = 1024;
/// Longest token we accept (our choice: Rollbar tokens are 32 hex digits; 128 allows any
/// hand-made test token).
pub const TOKEN_CHARS_MAX: usize = 128;
/// Longest project name (our choice; Rollbar's project names are short slugs).
pub const PROJECT_NAME_CHARS_MAX: usize = 64;
/// "The default rate limit for all access tokens is 5,000 calls per minute" (RD
/// `guides/rate-limits.md`).
pub const RATE_LIMIT_DEFAULT: u32 = 5_000;
/// The default window, one minute (RD `guides/rate-limits.md`).
pub const RATE_WINDOW_S_DEFAULT: u32 = 60;
/// Longest window: the UI's largest choice is 30 days (RD `guides/rate-limits.md`).
pub const RATE_WINDOW_S_MAX: u32 = 30 * 24 * 3600;
/// The project local mode posts into.
pub const LOCAL_PROJECT: &str = "default";

/// A token scope (RD `api/overview.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// "Can perform all POST requests".
    PostServerItem,
    /// "Can perform POST requests to /deploy/ and /item/, but only if the item has a
    /// client-side platform."
    PostClientItem,
    /// "Can perform all GET requests".
    Read,
    /// "Can perform PATCH requests to change item statuses."
    Write,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::PostServerItem,
        Scope::PostClientItem,
        Scope::Read,
        Scope::Write,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PostServerItem => "post_server_item",
            Scope::PostClientItem => "post_client_item",
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `POST /api/1/item/`; `client_side` when the item's platform is a client platform.
    PostItem { client_side: bool },
    /// `POST /api/1/deploy/`.
    PostDeploy,
    /// Any GET.
    Read,
    /// PATCH / DELETE.
    Write,
}

impl Need {
    fn allowed(self, scopes: u8) -> bool {
        let has = |s: Scope| scopes & s.bit() != 0;
        match self {
            Need::PostItem { client_side } => {
                has(Scope::PostServerItem) || (client_side && has(Scope::PostClientItem))
            }
            Need::PostDeploy => has(Scope::PostServerItem) || has(Scope::PostClientItem),
            Need::Read => has(Scope::Read),
            Need::Write => has(Scope::Write),
        }
    }

    /// The scope named in the refusal.
    fn scope(self) -> Scope {
        match self {
            Need::PostItem { .. } | Need::PostDeploy => Scope::PostServerItem,
            Need::Read => Scope::Read,
            Need::Write => Scope::Write,
        }
    }
}

/// A project: its number (1, 2, …) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: u64,
    pub name: String,
}

struct Entry {
    token: Vec<u8>,
    project: usize,
    scopes: u8,
    limit: RateLimit,
}

/// A token's rate limit: `count` calls per `window_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window_s: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            count: RATE_LIMIT_DEFAULT,
            window_s: RATE_WINDOW_S_DEFAULT,
        }
    }
}

/// The configured projects and tokens (or local mode).
pub struct Projects {
    projects: Vec<Project>,
    entries: Vec<Entry>,
    local: bool,
}

impl fmt::Debug for Projects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projects")
            .field("projects", &self.projects)
            .field("tokens", &format_args!("{} (***)", self.entries.len()))
            .field("local", &self.local)
            .finish()
    }
}

/// A granted request: which project, through which token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub project: Project,
    /// Index of the token in the configuration (the rate-limit key); 0 in local mode.
    pub token_index: usize,
    pub limit: RateLimit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("token entry #{index} is empty (expected PROJECT:TOKEN[:SCOPES[:LIMIT/SECONDS]], comma-separated)")]
    EmptyEntry { index: usize },
    #[error("token entry #{index} has no ':' between project and token")]
    MissingColon { index: usize },
    #[error("token entry #{index}: project name must be 1-{PROJECT_NAME_CHARS_MAX} letters, digits, '.', '_' or '-'")]
    BadProject { index: usize },
    #[error("token entry #{index}: token must be 1-{TOKEN_CHARS_MAX} visible characters")]
    BadToken { index: usize },
    #[error("token entry #{index}: unknown scope {scope:?} (post_server_item, post_client_item, read, write, all)")]
    BadScope { index: usize, scope: String },
    #[error("token entry #{index}: rate limit must be LIMIT/SECONDS with LIMIT ≥ 1 and 1 ≤ SECONDS ≤ {RATE_WINDOW_S_MAX}")]
    BadRateLimit { index: usize },
    #[error("token entry #{index}: too many ':' fields")]
    TooManyFields { index: usize },
    #[error("token entry #{index} repeats an earlier token")]
    Duplicate { index: usize },
    #[error("more than {TOKENS_MAX} tokens")]
    TooMany,
}

/// Why a token was refused (403, RD: "Check that your access_token is valid, enabled, and has
/// the correct scope. The response will contain a message key explaining the problem").
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Real message seen: `"access token not found: eb25..."` (rollbar/rollbar-php#421); we show
    /// the same four-character prefix.
    #[error("access token not found: {prefix}...")]
    NotFound { prefix: String },
    /// Our wording (Rollbar's exact text is not documented).
    #[error("access token does not have the required scope '{}'", .scope.as_str())]
    Scope { scope: Scope },
}

impl fmt::Debug for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::NotFound { .. } => f.write_str("NotFound(***)"),
            TokenError::Scope { scope } => write!(f, "Scope({})", scope.as_str()),
        }
    }
}

impl TokenError {
    pub fn answer(&self) -> Answer {
        Answer::error(403, &self.to_string())
    }
}

fn valid_project(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= PROJECT_NAME_CHARS_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_token(t: &str) -> bool {
    !t.is_empty()
        && t.chars().count() <= TOKEN_CHARS_MAX
        && t.bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
}

impl Projects {
    /// Local mode: any token, one project, every scope.
    pub fn local() -> Projects {
        Projects {
            projects: vec![Project {
                id: 1,
                name: LOCAL_PROJECT.to_owned(),
            }],
            entries: Vec::new(),
            local: true,
        }
    }

    pub fn is_local(&self) -> bool {
        self.local
    }

    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// Parses the configuration format in the module docs. An empty (or all-blank) string is
    /// local mode. Mistakes are errors, so a typo fails at start-up rather than locking clients
    /// out later.
    pub fn parse(spec: &str) -> Result<Projects, ConfigError> {
        if spec.trim().is_empty() {
            return Ok(Projects::local());
        }
        let mut out = Projects {
            projects: Vec::new(),
            entries: Vec::new(),
            local: false,
        };
        for (i, entry) in spec.split(',').enumerate() {
            let index = i + 1;
            if index > TOKENS_MAX {
                return Err(ConfigError::TooMany);
            }
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(ConfigError::EmptyEntry { index });
            }
            let mut fields = entry.split(':').map(str::trim);
            let project = fields.next().unwrap_or_default();
            let token = fields.next().ok_or(ConfigError::MissingColon { index })?;
            let scopes = fields.next();
            let limit = fields.next();
            if fields.next().is_some() {
                return Err(ConfigError::TooManyFields { index });
            }
            if !valid_project(project) {
                return Err(ConfigError::BadProject { index });
            }
            if !valid_token(token) {
                return Err(ConfigError::BadToken { index });
            }
            let mut bits = 0u8;
            match scopes {
                None | Some("") => Scope::ALL.iter().for_each(|s| bits |= s.bit()),
                Some(list) => {
                    for s in list.split('+').map(str::trim) {
                        if s == "all" {
                            Scope::ALL.iter().for_each(|s| bits |= s.bit());
                        } else {
                            let sc = Scope::parse(s).ok_or_else(|| ConfigError::BadScope {
                                index,
                                scope: s.to_owned(),
                            })?;
                            bits |= sc.bit();
                        }
                    }
                }
            }
            let limit = match limit {
                None => RateLimit::default(),
                Some(l) => parse_limit(l).ok_or(ConfigError::BadRateLimit { index })?,
            };
            if out.entries.iter().any(|e| e.token == token.as_bytes()) {
                return Err(ConfigError::Duplicate { index });
            }
            let pidx = match out.projects.iter().position(|p| p.name == project) {
                Some(p) => p,
                None => {
                    out.projects.push(Project {
                        id: out.projects.len() as u64 + 1,
                        name: project.to_owned(),
                    });
                    out.projects.len() - 1
                }
            };
            out.entries.push(Entry {
                token: token.as_bytes().to_vec(),
                project: pidx,
                scopes: bits,
                limit,
            });
        }
        Ok(out)
    }

    /// Checks `token` for `need`. Every configured token is compared, in constant time, so the
    /// answer's timing does not depend on which token (if any) matched.
    pub fn authorize(&self, token: &str, need: Need) -> Result<Access, TokenError> {
        if self.local {
            return Ok(Access {
                project: self.projects[0].clone(),
                token_index: 0,
                limit: RateLimit::default(),
            });
        }
        let mut found: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let eq: bool = e.token.as_slice().ct_eq(token.as_bytes()).into();
            if eq {
                found = Some(i);
            }
        }
        let Some(i) = found else {
            return Err(TokenError::NotFound {
                prefix: token.chars().take(4).collect(),
            });
        };
        let e = &self.entries[i];
        if !need.allowed(e.scopes) {
            return Err(TokenError::Scope {
                scope: need.scope(),
            });
        }
        Ok(Access {
            project: self.projects[e.project].clone(),
            token_index: i,
            limit: e.limit,
        })
    }
}

fn parse_limit(s: &str) -> Option<RateLimit> {
    let (n, w) = s.split_once('/')?;
    let count: u32 = n.trim().parse().ok()?;
    let window_s: u32 = w.trim().trim_end_matches('s').parse().ok()?;
    (count >= 1 && (1..=RATE_WINDOW_S_MAX).contains(&window_s))
        .then_some(RateLimit { count, window_s })
}

// ---- Rate limiting ------------------------------------------------------------------------

/// Per-token fixed windows. A window starts at the first call after the previous one ended
/// ("the rate limit window does not start at an exact time … it starts whenever the first
/// occurrence is logged for that time frame", rollbar.com knowledge base, rate-limiting
/// strategies). Time (`now_s`, Unix seconds) is an input.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    windows: std::collections::HashMap<usize, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_s: i64,
    used: u32,
}

/// The rate-limit headers for one answer (rollbar.js `src/server/transport.js` reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds when the window ends.
    pub reset_s: i64,
    pub remaining_seconds: i64,
}

impl RateHeaders {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("X-Rate-Limit-Limit", self.limit.to_string()),
            ("X-Rate-Limit-Remaining", self.remaining.to_string()),
            ("X-Rate-Limit-Reset", self.reset_s.to_string()),
            (
                "X-Rate-Limit-Remaining-Seconds",
                self.remaining_seconds.to_string(),
            ),
        ]
    }

    /// Adds the headers to an answer.
    pub fn apply(&self, answer: &mut Answer) {
        answer.headers.extend(self.headers());
    }
}

/// 429: "Request dropped because the rate limit has been reached for this access token" (RD).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Rate limit reached for this access token.")]
pub struct RateLimited(pub RateHeaders);

impl RateLimited {
    pub fn answer(&self) -> Answer {
        let mut a = Answer::error(429, &self.to_string());
        self.0.apply(&mut a);
        a
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call for `access` at `now_s`; `Err` once the window's limit is used up.
    pub fn check(&mut self, access: &Access, now_s: i64) -> Result<RateHeaders, RateLimited> {
        let limit = access.limit;
        let w = self.windows.entry(access.token_index).or_insert(Window {
            start_s: now_s,
            used: 0,
        });
        if now_s >= w.start_s.saturating_add(i64::from(limit.window_s)) || now_s < w.start_s {
            *w = Window {
                start_s: now_s,
                used: 0,
            };
        }
        let reset_s = w.start_s.saturating_add(i64::from(limit.window_s));
        let headers = |used: u32| RateHeaders {
            limit: limit.count,
            remaining: limit.count.saturating_sub(used),
            reset_s,
            remaining_seconds: (reset_s - now_s).max(0),
        };
        if w.used >= limit.count {
            return Err(RateLimited(headers(w.used)));
        }
        w.used += 1;
        Ok(headers(w.used))
    }
}
