//! Settings: every one is a flag, a `WAGGLE_*` environment variable and a key in an optional
//! TOML file. Parsing (clap, toml) is separate from resolving (precedence: flag or env var,
//! then file, then default), as in ripgrep.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = "./waggle-data";
/// Tempo's default HTTP port, so Grafana's Tempo data source finds Waggle unchanged.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:3200";
pub const DEFAULT_OTLP_HTTP_ADDR: &str = "127.0.0.1:4318";
pub const DEFAULT_OTLP_GRPC_ADDR: &str = "127.0.0.1:4317";
/// The X-Ray daemon's default address (UDP and TCP), where the X-Ray SDKs send unchanged.
pub const DEFAULT_XRAY_ADDR: &str = "127.0.0.1:2000";
/// Account id in ARNs when none is configured (moto's and LocalStack's choice too).
pub const DEFAULT_AWS_ACCOUNT_ID: &str = "000000000000";
/// Region of unsigned requests and of the UDP daemon.
pub const DEFAULT_AWS_REGION: &str = "us-east-1";
/// Honeycomb keeps 60 days; CloudWatch keeps forever by default. Ours: 30 days, because a
/// laptop's disk is the usual home of this store.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// `waggle serve` flags. Every field is optional so the resolver can tell "not given".
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML config file (keys as the long flags, with underscores).
    #[arg(long, env = "WAGGLE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the DuckDB file lives [default: ./waggle-data].
    #[arg(long, env = "WAGGLE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Main HTTP port: Honeycomb, Tempo and Waggle APIs (and OTLP/HTTP) [default: 127.0.0.1:3200].
    #[arg(long, env = "WAGGLE_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// OTLP/HTTP receiver [default: 127.0.0.1:4318].
    #[arg(long, env = "WAGGLE_OTLP_HTTP_ADDR")]
    pub otlp_http_addr: Option<SocketAddr>,
    /// OTLP/gRPC receiver [default: 127.0.0.1:4317].
    #[arg(long, env = "WAGGLE_OTLP_GRPC_ADDR")]
    pub otlp_grpc_addr: Option<SocketAddr>,
    /// X-Ray daemon: UDP segments and TCP sampling/API on one port [default: 127.0.0.1:2000].
    #[arg(long, env = "WAGGLE_XRAY_ADDR")]
    pub xray_addr: Option<SocketAddr>,
    /// Do not serve X-Ray (neither the daemon port nor the API paths).
    #[arg(long, env = "WAGGLE_NO_XRAY")]
    pub no_xray: bool,
    /// AWS key pairs whose SigV4 signatures are accepted, AKID:SECRET (comma-separated).
    /// With none, any well-formed signature is accepted (loopback only).
    #[arg(long, env = "WAGGLE_AWS_CREDENTIALS", hide_env_values = true)]
    pub aws_credentials: Option<String>,
    /// Account id in ARNs [default: 000000000000].
    #[arg(long, env = "WAGGLE_AWS_ACCOUNT_ID")]
    pub aws_account_id: Option<String>,
    /// Region of unsigned requests and of the UDP daemon [default: us-east-1].
    #[arg(long, env = "WAGGLE_AWS_REGION")]
    pub aws_region: Option<String>,
    /// Rollbar projects and access tokens, PROJECT:TOKEN[:SCOPES[:LIMIT/SECONDS]]
    /// (comma-separated; SCOPES `+`-joined from post_server_item, post_client_item, read,
    /// write, all). With none, any token posts to project "default" (loopback only).
    #[arg(long, env = "WAGGLE_ROLLBAR_TOKENS", hide_env_values = true)]
    pub rollbar_tokens: Option<String>,
    /// Days to keep events; 0 keeps them forever [default: 30].
    #[arg(long, env = "WAGGLE_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    /// Per-dataset retention, DATASET=DAYS (repeatable).
    #[arg(
        long = "dataset-retention",
        env = "WAGGLE_DATASET_RETENTION",
        value_delimiter = ','
    )]
    pub dataset_retention: Vec<String>,
    /// Accepted API key (repeatable). With none, every request is accepted (loopback only).
    #[arg(
        long = "api-key",
        env = "WAGGLE_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// Allow binding a non-loopback address without API keys.
    #[arg(long, env = "WAGGLE_INSECURE")]
    pub insecure: bool,
    /// DuckDB memory limit, e.g. 2GB [default: DuckDB's, 80% of RAM].
    #[arg(long, env = "WAGGLE_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Acknowledge ingest from Waggle's own write-ahead log and load the store from it in
    /// large transactions (`on`, experimental), or only after the store's own commit (`off`,
    /// the default: on the 2-core benchmark machine it keeps queries interactive during
    /// ingest, which the log's read barrier does not yet; see BENCHMARKS.md).
    #[arg(long, env = "WAGGLE_INGEST_LOG", value_parser = ["on", "off"])]
    pub ingest_log: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_addr: Option<SocketAddr>,
    otlp_http_addr: Option<SocketAddr>,
    otlp_grpc_addr: Option<SocketAddr>,
    xray_addr: Option<SocketAddr>,
    no_xray: Option<bool>,
    aws_credentials: Option<String>,
    aws_account_id: Option<String>,
    aws_region: Option<String>,
    rollbar_tokens: Option<String>,
    retention_days: Option<u32>,
    #[serde(default)]
    dataset_retention: HashMap<String, u32>,
    #[serde(default)]
    api_keys: Vec<String>,
    insecure: Option<bool>,
    memory_limit: Option<String>,
    ingest_log: Option<bool>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub otlp_grpc_addr: SocketAddr,
    /// `None`: X-Ray is not served.
    pub xray_addr: Option<SocketAddr>,
    pub aws_credentials: Option<protocols::aws::Credentials>,
    pub aws_account_id: String,
    pub aws_region: String,
    /// Rollbar projects and tokens (`Projects::local()` when none are configured).
    pub rollbar_projects: Arc<protocols::rollbar::Projects>,
    pub retention_days: u32,
    pub dataset_retention: HashMap<String, u32>,
    pub api_keys: Vec<String>,
    pub insecure: bool,
    pub memory_limit: Option<String>,
    /// Acknowledge from the ingest log (see `ServeArgs::ingest_log`).
    pub ingest_log: bool,
}

fn parse_addr(s: &str) -> SocketAddr {
    // The defaults are constants; a typo in them is a bug caught by tests.
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

impl ServeArgs {
    pub fn resolve(self) -> Result<Settings> {
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut dataset_retention = file.dataset_retention;
        for item in &self.dataset_retention {
            let (name, days) = item
                .split_once('=')
                .with_context(|| format!("--dataset-retention {item:?}: expected DATASET=DAYS"))?;
            let days: u32 = days.trim().parse().with_context(|| {
                format!("--dataset-retention {item:?}: DAYS must be a whole number")
            })?;
            dataset_retention.insert(name.trim().to_string(), days);
        }
        let api_keys: Vec<String> = if self.api_keys.is_empty() {
            file.api_keys
        } else {
            self.api_keys
        };
        // Trimmed here, once (a key pasted with a trailing newline or space must still
        // match); an empty entry (a stray comma) is dropped.
        let api_keys: Vec<String> = api_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        let aws_credentials = match self
            .aws_credentials
            .or(file.aws_credentials)
            .filter(|c| !c.trim().is_empty())
        {
            Some(spec) => Some(
                protocols::aws::Credentials::parse(&spec)
                    .map_err(|e| anyhow::anyhow!("--aws-credentials: {e}"))?,
            ),
            None => None,
        };
        let aws_account_id = self
            .aws_account_id
            .or(file.aws_account_id)
            .unwrap_or_else(|| DEFAULT_AWS_ACCOUNT_ID.to_string());
        if aws_account_id.len() != 12 || !aws_account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--aws-account-id {aws_account_id:?}: an AWS account id is 12 digits");
        }
        let aws_region = self
            .aws_region
            .or(file.aws_region)
            .unwrap_or_else(|| DEFAULT_AWS_REGION.to_string());
        if aws_region.is_empty()
            || aws_region.len() > 32
            || !aws_region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!("--aws-region {aws_region:?}: expected a region name such as us-east-1");
        }
        let no_xray = self.no_xray || file.no_xray.unwrap_or(false);
        let rollbar_projects = match self.rollbar_tokens.or(file.rollbar_tokens) {
            Some(spec) => protocols::rollbar::Projects::parse(&spec)
                .map_err(|e| anyhow::anyhow!("--rollbar-tokens: {e}"))?,
            None => protocols::rollbar::Projects::local(),
        };
        let settings = Settings {
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_addr: self
                .http_addr
                .or(file.http_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_HTTP_ADDR)),
            otlp_http_addr: self
                .otlp_http_addr
                .or(file.otlp_http_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_OTLP_HTTP_ADDR)),
            otlp_grpc_addr: self
                .otlp_grpc_addr
                .or(file.otlp_grpc_addr)
                .unwrap_or_else(|| parse_addr(DEFAULT_OTLP_GRPC_ADDR)),
            xray_addr: (!no_xray).then(|| {
                self.xray_addr
                    .or(file.xray_addr)
                    .unwrap_or_else(|| parse_addr(DEFAULT_XRAY_ADDR))
            }),
            aws_credentials,
            aws_account_id,
            aws_region,
            rollbar_projects: Arc::new(rollbar_projects),
            retention_days: self
                .retention_days
                .or(file.retention_days)
                .unwrap_or(DEFAULT_RETENTION_DAYS),
            dataset_retention,
            api_keys,
            insecure: self.insecure || file.insecure.unwrap_or(false),
            memory_limit: self.memory_limit.or(file.memory_limit),
            ingest_log: self
                .ingest_log
                .map(|v| v == "on")
                .or(file.ingest_log)
                .unwrap_or(false),
        };
        settings.check_exposure()?;
        Ok(settings)
    }
}

impl Settings {
    /// Refuses to listen beyond loopback without credentials unless `--insecure`: API keys
    /// for the Honeycomb/OTLP ports, AWS key pairs as well when X-Ray is served there, and
    /// Rollbar tokens (Rollbar is served on the HTTP ports).
    fn check_exposure(&self) -> Result<()> {
        let exposed: Vec<SocketAddr> = [self.http_addr, self.otlp_http_addr, self.otlp_grpc_addr]
            .into_iter()
            .filter(|a| !a.ip().is_loopback())
            .collect();
        if !exposed.is_empty() && self.api_keys.is_empty() && !self.insecure {
            let list: Vec<String> = exposed.iter().map(|a| a.to_string()).collect();
            bail!(
                "refusing to listen on {} without credentials: anyone who can reach it could read and write your telemetry.\n\
                 Set an API key (--api-key KEY or WAGGLE_API_KEYS), or pass --insecure if this network is trusted.",
                list.join(", ")
            );
        }
        // The main port serves CloudWatch Logs (and X-Ray's API), the daemon port X-Ray.
        let aws_exposed = !self.http_addr.ip().is_loopback()
            || self.xray_addr.is_some_and(|a| !a.ip().is_loopback());
        if aws_exposed && self.aws_credentials.is_none() && !self.insecure {
            bail!(
                "refusing to serve the AWS APIs beyond loopback without AWS credentials: anyone who can reach them could read and write your telemetry.\n\
                 Set key pairs (--aws-credentials AKID:SECRET or WAGGLE_AWS_CREDENTIALS), or --insecure if this network is trusted."
            );
        }
        let rollbar_exposed =
            !self.http_addr.ip().is_loopback() || !self.otlp_http_addr.ip().is_loopback();
        if rollbar_exposed && self.rollbar_projects.is_local() && !self.insecure {
            bail!(
                "refusing to serve the Rollbar API beyond loopback without Rollbar tokens: any token would post and read items.\n\
                 Set projects and tokens (--rollbar-tokens PROJECT:TOKEN[:SCOPES] or WAGGLE_ROLLBAR_TOKENS), or pass --insecure if this network is trusted."
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback() {
        let s = ServeArgs::default().resolve().unwrap();
        assert_eq!(s.http_addr.to_string(), DEFAULT_HTTP_ADDR);
        assert_eq!(s.otlp_http_addr.to_string(), DEFAULT_OTLP_HTTP_ADDR);
        assert_eq!(s.otlp_grpc_addr.to_string(), DEFAULT_OTLP_GRPC_ADDR);
        assert_eq!(
            s.xray_addr.map(|a| a.to_string()).as_deref(),
            Some(DEFAULT_XRAY_ADDR)
        );
        assert_eq!(s.aws_account_id, DEFAULT_AWS_ACCOUNT_ID);
        assert_eq!(s.retention_days, DEFAULT_RETENTION_DAYS);
    }

    #[test]
    fn non_loopback_needs_keys_or_insecure() {
        let args = || ServeArgs {
            http_addr: Some("0.0.0.0:3200".parse().unwrap()),
            ..Default::default()
        };
        let err = args().resolve().unwrap_err().to_string();
        assert!(err.contains("refusing to listen on 0.0.0.0:3200"), "{err}");
        let mut with_key = args();
        with_key.api_keys = vec!["k".into()];
        let err = with_key.resolve().unwrap_err().to_string();
        assert!(err.contains("AWS credentials"), "{err}");
        let mut with_both = args();
        with_both.api_keys = vec!["k".into()];
        with_both.aws_credentials = Some("AKID:secret".into());
        let err = with_both.resolve().unwrap_err().to_string();
        assert!(err.contains("Rollbar tokens"), "{err}");
        let mut with_all = args();
        with_all.api_keys = vec!["k".into()];
        with_all.aws_credentials = Some("AKID:secret".into());
        with_all.rollbar_tokens = Some("cruddur:aaaa1111:post_server_item".into());
        assert!(with_all.resolve().is_ok());
        let xray_only = || ServeArgs {
            xray_addr: Some("0.0.0.0:2000".parse().unwrap()),
            ..Default::default()
        };
        assert!(xray_only().resolve().is_err());
        let mut off = xray_only();
        off.no_xray = true;
        assert!(off.resolve().is_ok());
        let mut insecure = args();
        insecure.insecure = true;
        assert!(insecure.resolve().is_ok());
    }

    #[test]
    fn aws_settings_are_checked_at_start_up() {
        let bad = ServeArgs {
            aws_credentials: Some("AKID".into()),
            ..Default::default()
        };
        assert!(bad
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("--aws-credentials"));
        let bad = ServeArgs {
            aws_account_id: Some("12".into()),
            ..Default::default()
        };
        assert!(bad.resolve().unwrap_err().to_string().contains("12 digits"));
        let off = ServeArgs {
            no_xray: true,
            ..Default::default()
        };
        assert!(off.resolve().unwrap().xray_addr.is_none());
    }

    #[test]
    fn keys_are_trimmed_and_empty_ones_dropped() {
        let s = ServeArgs {
            api_keys: vec![" k1 ".into(), "k2\t".into(), "  ".into()],
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.api_keys, vec!["k1".to_string(), "k2".to_string()]);
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("waggle-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("waggle.toml");
        std::fs::write(
            &path,
            "data_dir = \"/tmp/x\"\nretention_days = 7\n[dataset_retention]\nbackend-flask = 3\n",
        )
        .unwrap();
        let s = ServeArgs {
            config: Some(path.clone()),
            retention_days: Some(9),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.retention_days, 9);
        assert_eq!(s.dataset_retention.get("backend-flask"), Some(&3));
        std::fs::write(&path, "nonsense_key = 1\n").unwrap();
        let err = ServeArgs {
            config: Some(path),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }

    #[test]
    fn rollbar_tokens_from_flag_or_file() {
        assert!(ServeArgs::default()
            .resolve()
            .unwrap()
            .rollbar_projects
            .is_local());
        let s = ServeArgs {
            rollbar_tokens: Some("cruddur:aaaa1111:post_server_item,cruddur:bbbb2222:read".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert!(!s.rollbar_projects.is_local());
        assert_eq!(s.rollbar_projects.projects()[0].name, "cruddur");
        // Debug never prints a token.
        assert!(!format!("{s:?}").contains("aaaa1111"));
        let err = ServeArgs {
            rollbar_tokens: Some("cruddur:aaaa1111:admin".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--rollbar-tokens") && err.contains("admin"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("waggle-cfg-rb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("waggle.toml");
        std::fs::write(
            &path,
            "rollbar_tokens = \"web:cccc3333:post_client_item:100/60\"\n",
        )
        .unwrap();
        let s = ServeArgs {
            config: Some(path),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.rollbar_projects.projects()[0].name, "web");
    }
}
