//! CloudWatch Logs as watchtower ships logger `app` for the seed (`SYSTEM.md` §3.6, §9 item
//! 20): group `cruddur` created if missing, one stream per process named
//! `{hostname}/{program}/{logger}/{pid}`, events queued and sent in PutLogEvents batches every
//! `send_interval` (60 s by default) or sooner at 10,000 events or 1 MiB, and on shutdown.
//! The AWS call sits behind [`LogsApi`], so batching is tested with a fake.

use super::{Dropped, Level, Warn};
use crate::config::Config;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// PutLogEvents limits (CloudWatch Logs API reference): events per call, and bytes per call
/// counting 26 bytes of overhead per event.
pub const BATCH_EVENTS_MAX: usize = 10_000;
pub const BATCH_BYTES_MAX: usize = 1_048_576;
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// watchtower's `max_message_size` (256 KiB − 26): longer messages are cut.
pub const MESSAGE_BYTES_MAX: usize = 262_144 - EVENT_OVERHEAD_BYTES;
/// Events waiting in the queue (our bound; watchtower's queue is unbounded).
pub const QUEUE_MAX: usize = 10_000;
pub const LOGGER_NAME: &str = "app";

/// One log event: epoch milliseconds and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// The CloudWatch Logs calls the handler makes.
#[derive(Debug)]
pub enum ApiError {
    AlreadyExists,
    Other(String),
}

pub trait LogsApi: Send + Sync + 'static {
    fn create_log_group(&self, group: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn create_log_stream(
        &self,
        group: &str,
        stream: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn put_log_events(
        &self,
        group: &str,
        stream: &str,
        events: Vec<LogEvent>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

enum Cmd {
    Event(LogEvent),
    Flush(oneshot::Sender<()>),
}

pub struct Logs {
    tx: mpsc::Sender<Cmd>,
    pub dropped: Arc<Dropped>,
    pub stream: String,
}

static PUT_WARN: Warn = Warn::new("CloudWatch Logs: events not sent", Duration::from_secs(60));

impl Logs {
    /// The watchtower handler against the AWS SDK client the environment describes.
    pub fn start(cfg: &Config) -> Option<Logs> {
        let api = match sdk::Client::from_env(cfg) {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!("CloudWatch Logs is off: {why}");
                return None;
            }
        };
        Some(Logs::spawn(
            api,
            cfg.log_group.clone(),
            default_stream_name(),
            cfg.log_flush,
        ))
    }

    /// Starts the sender task over any [`LogsApi`].
    pub fn spawn<A: LogsApi>(api: A, group: String, stream: String, every: Duration) -> Logs {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let dropped = Arc::new(Dropped::default());
        tokio::spawn(run(api, group, stream.clone(), every, rx, dropped.clone()));
        Logs {
            tx,
            dropped,
            stream,
        }
    }

    /// Queues one event; never waits. Levels are not part of the message (`%(message)s`).
    pub fn push(&self, _level: Level, mut message: String) {
        if message.len() > MESSAGE_BYTES_MAX {
            let mut cut = MESSAGE_BYTES_MAX;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let ev = LogEvent {
            timestamp_ms: crate::clock::Instant::now().unix_millis(),
            message,
        };
        if self.tx.try_send(Cmd::Event(ev)).is_err() {
            self.dropped.add(1);
            PUT_WARN.warn("the queue is full");
        }
    }

    /// Sends everything queued so far, waiting at most `limit`.
    pub async fn flush(&self, limit: Duration) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Cmd::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(limit, wait).await;
        }
    }
}

/// `{machine_name}/{program_name}/{logger_name}/{process_id}` (watchtower's default template).
pub fn default_stream_name() -> String {
    let program = std::env::args().next().unwrap_or_default();
    format!(
        "{}/{}/{}/{}",
        crate::hostname(),
        program,
        LOGGER_NAME,
        std::process::id()
    )
}

async fn run<A: LogsApi>(
    api: A,
    group: String,
    stream: String,
    every: Duration,
    mut rx: mpsc::Receiver<Cmd>,
    dropped: Arc<Dropped>,
) {
    let mut sender = Sender {
        api,
        group,
        stream,
        ready: false,
        dropped,
    };
    let mut batch: Vec<LogEvent> = Vec::new();
    let mut bytes = 0usize;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Cmd::Event(ev)) => {
                    let size = ev.message.len() + EVENT_OVERHEAD_BYTES;
                    if batch.len() + 1 > BATCH_EVENTS_MAX || bytes + size > BATCH_BYTES_MAX {
                        sender.send(std::mem::take(&mut batch)).await;
                        bytes = 0;
                    }
                    bytes += size;
                    batch.push(ev);
                }
                Some(Cmd::Flush(done)) => {
                    sender.send(std::mem::take(&mut batch)).await;
                    bytes = 0;
                    let _ = done.send(());
                }
                None => {
                    sender.send(std::mem::take(&mut batch)).await;
                    return;
                }
            },
            _ = tick.tick() => {
                sender.send(std::mem::take(&mut batch)).await;
                bytes = 0;
            }
        }
    }
}

struct Sender<A> {
    api: A,
    group: String,
    stream: String,
    ready: bool,
    dropped: Arc<Dropped>,
}

impl<A: LogsApi> Sender<A> {
    /// Creates the group and stream once (watchtower's `create_log_group=True`), then puts the
    /// batch in timestamp order. A failed batch is dropped and counted (watchtower retries a
    /// few times in its thread; the warning says what was lost).
    async fn send(&mut self, mut batch: Vec<LogEvent>) {
        if batch.is_empty() {
            return;
        }
        if !self.ready {
            let g = self.api.create_log_group(&self.group).await;
            let s = match g {
                Ok(()) | Err(ApiError::AlreadyExists) => {
                    self.api.create_log_stream(&self.group, &self.stream).await
                }
                Err(e) => Err(e),
            };
            match s {
                Ok(()) | Err(ApiError::AlreadyExists) => self.ready = true,
                Err(ApiError::Other(e)) => {
                    self.dropped.add(batch.len() as u64);
                    PUT_WARN.warn(format_args!("{} events dropped: {e}", batch.len()));
                    return;
                }
            }
        }
        batch.sort_by_key(|e| e.timestamp_ms);
        let n = batch.len();
        if let Err(e) = self
            .api
            .put_log_events(&self.group, &self.stream, batch)
            .await
        {
            self.dropped.add(n as u64);
            let why = match e {
                ApiError::AlreadyExists => "already exists".to_string(),
                ApiError::Other(s) => s,
            };
            PUT_WARN.warn(format_args!("{n} events dropped: {why}"));
        }
    }
}

/// The AWS SDK for Rust implementation, configured from the standard variables.
pub mod sdk {
    use super::{ApiError, LogEvent, LogsApi};
    use crate::config::Config;
    use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    use aws_smithy_http_client::tls;

    pub struct Client(aws_sdk_cloudwatchlogs::Client);

    impl Client {
        /// Region from `AWS_REGION` / `AWS_DEFAULT_REGION`, keys from `AWS_ACCESS_KEY_ID`,
        /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, endpoint from
        /// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` or `AWS_ENDPOINT_URL` (else the regional AWS one).
        pub fn from_env(cfg: &Config) -> Result<Client, String> {
            let aws = &cfg.aws;
            let region = aws
                .region
                .clone()
                .ok_or("no AWS_REGION or AWS_DEFAULT_REGION")?;
            let (Some(akid), Some(secret)) =
                (aws.access_key_id.clone(), aws.secret_access_key.clone())
            else {
                return Err("no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY".into());
            };
            let mut b = aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region))
                .credentials_provider(Credentials::new(
                    akid,
                    secret,
                    aws.session_token.clone(),
                    None,
                    "environment",
                ))
                .http_client(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(tls::Provider::Rustls(
                            tls::rustls_provider::CryptoMode::Ring,
                        ))
                        .build_https(),
                );
            if let Some(url) = &aws.logs_endpoint {
                b = b.endpoint_url(url);
            }
            Ok(Client(aws_sdk_cloudwatchlogs::Client::from_conf(b.build())))
        }
    }

    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;

    fn classify<E>(e: aws_sdk_cloudwatchlogs::error::SdkError<E>) -> ApiError
    where
        E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        if e.code() == Some("ResourceAlreadyExistsException") {
            return ApiError::AlreadyExists;
        }
        let detail = match e.as_service_error() {
            Some(s) => format!(
                "{}: {}",
                s.code().unwrap_or("error"),
                s.message().unwrap_or("")
            ),
            None => format!("{}", aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)),
        };
        ApiError::Other(detail)
    }

    impl LogsApi for Client {
        async fn create_log_group(&self, group: &str) -> Result<(), ApiError> {
            self.0
                .create_log_group()
                .log_group_name(group)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        }

        async fn create_log_stream(&self, group: &str, stream: &str) -> Result<(), ApiError> {
            self.0
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        }

        async fn put_log_events(
            &self,
            group: &str,
            stream: &str,
            events: Vec<LogEvent>,
        ) -> Result<(), ApiError> {
            let events: Vec<InputLogEvent> = events
                .into_iter()
                .filter_map(|e| {
                    InputLogEvent::builder()
                        .timestamp(e.timestamp_ms)
                        .message(e.message)
                        .build()
                        .ok()
                })
                .collect();
            self.0
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(events))
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default, Clone)]
    struct Fake {
        calls: Arc<Mutex<Vec<String>>>,
        events: Arc<Mutex<Vec<LogEvent>>>,
    }

    impl LogsApi for Fake {
        async fn create_log_group(&self, group: &str) -> Result<(), ApiError> {
            self.calls.lock().unwrap().push(format!("group {group}"));
            Err(ApiError::AlreadyExists)
        }
        async fn create_log_stream(&self, group: &str, stream: &str) -> Result<(), ApiError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("stream {group} {stream}"));
            Ok(())
        }
        async fn put_log_events(
            &self,
            _group: &str,
            _stream: &str,
            events: Vec<LogEvent>,
        ) -> Result<(), ApiError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("put {}", events.len()));
            self.events.lock().unwrap().extend(events);
            Ok(())
        }
    }

    #[tokio::test]
    async fn batches_on_interval_and_flush_and_creates_once() {
        let fake = Fake::default();
        let logs = Logs::spawn(
            fake.clone(),
            "cruddur".into(),
            "h/p/app/1".into(),
            Duration::from_millis(100),
        );
        logs.push(Level::Info, "a".into());
        logs.push(Level::Error, "b".into());
        tokio::time::sleep(Duration::from_millis(300)).await;
        logs.push(Level::Info, "c".into());
        logs.flush(Duration::from_secs(2)).await;
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls[0], "group cruddur");
        assert_eq!(calls[1], "stream cruddur h/p/app/1");
        assert_eq!(calls.iter().filter(|c| c.starts_with("group")).count(), 1);
        let msgs: Vec<String> = fake
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(msgs, ["a", "b", "c"]);
        assert!(
            calls.iter().filter(|c| c.starts_with("put")).count() >= 2,
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn a_big_burst_is_split_under_the_call_limits() {
        let fake = Fake::default();
        let logs = Logs::spawn(
            fake.clone(),
            "g".into(),
            "s".into(),
            Duration::from_secs(3600),
        );
        for _ in 0..(QUEUE_MAX - 1) {
            logs.push(Level::Info, "x".repeat(200));
        }
        logs.flush(Duration::from_secs(10)).await;
        let calls = fake.calls.lock().unwrap().clone();
        let puts: Vec<usize> = calls
            .iter()
            .filter_map(|c| c.strip_prefix("put ").and_then(|n| n.parse().ok()))
            .collect();
        assert_eq!(logs.dropped.get(), 0);
        assert_eq!(puts.iter().sum::<usize>(), QUEUE_MAX - 1);
        assert!(puts
            .iter()
            .all(|&n| n * (200 + EVENT_OVERHEAD_BYTES) <= BATCH_BYTES_MAX));
    }
}
