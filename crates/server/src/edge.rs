//! The edge every protocol is mounted under: one bound of each kind — request body size,
//! whole-request timeout, header-read and idle timeouts, connections per listener, and a
//! decode budget with decompression and decoding on blocking threads — applied by mounting a
//! protocol's [`Routes`] (HTTP) or by [`grpc_incoming`] (gRPC), never by handlers. A
//! protocol supplies only its limits and how its errors look ([`Render`]), in the Quickwit
//! shape: one small refusal enum, rendered once per protocol.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Credential;
use crate::AppState;

/// Longest wait for a request's headers, counted from when the connection starts waiting
/// for a request (its start, or the end of the previous answer) — so it is also the
/// keep-alive idle timeout. 60 s: the OpenTelemetry Collector's confighttp defaults
/// `read_header_timeout: 1m` and `idle_timeout: 1m`. A slowloris client (headers one byte a
/// second) holds a connection at most this long; on gRPC it is the silent-socket timeout.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest a whole request may take once its headers are in: body read, handling and the
/// answer. 30 s: the Collector's confighttp default `write_timeout: 30s` (Go's write timeout
/// runs from the end of the header read to the end of the response). A maximal 20 MiB
/// OTLP body at 10 Mbit/s takes ~17 s, so real uploads fit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Open connections per listener (our choice). Four listeners (HTTP, OTLP/HTTP, OTLP/gRPC,
/// the X-Ray daemon's TCP port) × 200 = 800 sockets, which leaves room under the common soft
/// `ulimit -n` of 1024 for DuckDB's files and the listeners. An idle HTTP/1 connection costs
/// hyper's read buffer (≤ ~400 KiB), so the worst case is ~80 MiB per listener. At the
/// limit, accepting pauses (Go's `netutil.LimitListener` behaviour): new clients wait in the
/// kernel's backlog rather than being refused, and a slot frees within the timeouts above.
pub const CONNECTIONS_MAX: usize = 200;

/// Decompressed bytes being decoded at once across every receiver (our choice: three maximal
/// OTLP requests; with ~20× protobuf expansion into decoded structs this bounds decode
/// memory near 1.3 GB in the pathological case and ~100 MB for real SDK batches). A request
/// that does not fit is refused with its protocol's retryable answer.
pub const DECODE_BUDGET_BYTES: usize = 3 * crate::otlp_http::OTLP_BODY_MAX;

/// Assumed expansion of a compressed body when reserving decode budget (our choice: gzip of
/// OTLP protobuf or JSON compresses 5–10×); the reservation is capped at the protocol's
/// decompressed limit.
const COMPRESSED_EXPANSION: usize = 8;

/// Pause after an accept error such as EMFILE, so the loop does not spin (axum::serve's and
/// hyper's examples use 1 s).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

const _: () = assert!(DECODE_BUDGET_BYTES >= crate::otlp_http::OTLP_BODY_MAX);
const _: () = assert!(DECODE_BUDGET_BYTES >= crate::honeycomb::BATCH_DECOMPRESSED_MAX);
const _: () = assert!(DECODE_BUDGET_BYTES <= u32::MAX as usize);
// A request in flight on gRPC is timed by the request timeout, which must end it (with the
// protocol's answer) before the silent-socket timeout would cut the connection.
const _: () = assert!(REQUEST_TIMEOUT.as_millis() < HEADER_READ_TIMEOUT.as_millis());

/// Every bound above, injectable so tests can make them small.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub connections_max: usize,
    pub decode_budget_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            connections_max: CONNECTIONS_MAX,
            decode_budget_bytes: DECODE_BUDGET_BYTES,
        }
    }
}

/// Why the edge refused a request. Each protocol renders these in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No accepted credential on the request.
    Unauthenticated,
    /// The body is over the protocol's limit, as sent or after decompression.
    TooLarge {
        limit: usize,
    },
    /// The body could not be read (the client went away, broken chunking).
    Unreadable,
    /// A `Content-Encoding` we do not inflate.
    Encoding(String),
    /// The compressed body is corrupt.
    Corrupt(String),
    /// The decode budget is spent: retry later.
    Busy,
    /// The request took longer than the request timeout.
    Timeout,
    Internal,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable | Self::Corrupt(_) => StatusCode::BAD_REQUEST,
            Self::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Busy => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A message a person can act on; never internal error text.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated => "missing or unknown API key: send it as X-Honeycomb-Team, \
                 Authorization: Bearer <key>, or as the basic-auth password"
                .into(),
            Self::TooLarge { limit } => format!("request body is larger than {limit} bytes"),
            Self::Unreadable => "request body could not be read".into(),
            Self::Encoding(e) | Self::Corrupt(e) => e.clone(),
            Self::Busy => {
                "Waggle is decoding as much as it allows at once; retry after a short delay".into()
            }
            Self::Timeout => "request took longer than the server allows; retry".into(),
            Self::Internal => "internal error".into(),
        }
    }
}

impl From<protocols::body::BodyError> for Refusal {
    fn from(e: protocols::body::BodyError) -> Self {
        use protocols::body::BodyError;
        match e {
            BodyError::TooLarge { limit } => Self::TooLarge { limit },
            BodyError::UnsupportedEncoding(_) => Self::Encoding(e.to_string()),
            BodyError::Corrupt(_) => Self::Corrupt(e.to_string()),
        }
    }
}

/// How a protocol answers a refusal, given the request's headers (OTLP answers in the
/// request's content type).
pub(crate) type Render = fn(&HeaderMap, &Refusal) -> Response;

/// What a protocol tells the edge about itself.
#[derive(Clone, Copy)]
pub(crate) struct Protocol {
    pub name: &'static str,
    /// Largest request body as sent (before decompression).
    pub body_max: usize,
    pub render: Render,
}

/// A protocol's routes, recorded as they are added so the server can list every route it
/// mounts (the auth test walks that list). The only way a handler reaches a listener is
/// [`Routes::mount`], which puts it under the shared bounds and a credential layer.
pub(crate) struct Routes {
    protocol: Protocol,
    router: Router<AppState>,
    list: Vec<(Method, &'static str)>,
}

impl Routes {
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, mr);
        self.list.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, axum::routing::get(h))
    }
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, axum::routing::post(h))
    }
    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, path, axum::routing::put(h))
    }
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::DELETE, path, axum::routing::delete(h))
    }
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PATCH, path, axum::routing::patch(h))
    }

    /// Every (method, path) added, with the protocol's name.
    pub fn list(&self) -> impl Iterator<Item = (&'static str, Method, &'static str)> + '_ {
        self.list
            .iter()
            .map(|(m, p)| (self.protocol.name, m.clone(), *p))
    }

    /// Mounts the routes under, outermost first: the request timeout, the credential check
    /// (before any body byte is read), and the body limit (a declared `Content-Length` over
    /// it is refused before reading; a chunked body is cut off at it).
    pub fn mount<C: Credential>(self, credential: C, limits: &Limits) -> Router<AppState> {
        let Protocol {
            body_max, render, ..
        } = self.protocol;
        let router = limit_body(self.router, body_max, render);
        let router = crate::auth::require(router, credential, render);
        time_out(router, limits.request_timeout, render)
    }
}

/// Refuses a declared `Content-Length` over `body_max` before reading, and caps what axum's
/// body extractors read at it.
pub(crate) fn limit_body(
    router: Router<AppState>,
    body_max: usize,
    render: Render,
) -> Router<AppState> {
    router.layer(DefaultBodyLimit::max(body_max)).layer(from_fn(
        move |req: Request, next: Next| async move {
            if declared_length(req.headers()).is_some_and(|n| n > body_max as u64) {
                return render(req.headers(), &Refusal::TooLarge { limit: body_max });
            }
            next.run(req).await
        },
    ))
}

/// Answers [`Refusal::Timeout`] when a request (body read, handling, answer) takes longer
/// than `timeout`.
pub(crate) fn time_out(
    router: Router<AppState>,
    timeout: Duration,
    render: Render,
) -> Router<AppState> {
    router.layer(from_fn(move |req: Request, next: Next| async move {
        let headers = req.headers().clone();
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => render(&headers, &Refusal::Timeout),
        }
    }))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The body an axum `Bytes` extractor produced, or the refusal to render.
pub(crate) fn body(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    body_max: usize,
) -> Result<Bytes, Refusal> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::TooLarge { limit: body_max }
        } else {
            Refusal::Unreadable
        }
    })
}

/// Decompressed bytes being decoded at once, shared by every receiver.
#[derive(Clone)]
pub(crate) struct DecodeBudget {
    bytes: Arc<Semaphore>,
}

impl DecodeBudget {
    pub fn new(total: usize) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(total.min(u32::MAX as usize))),
        }
    }

    /// Reserves `n` bytes, or refuses. With the default limits every protocol's largest
    /// request fits the whole budget (asserted above); a smaller injected budget refuses
    /// requests estimated above it, which tests use.
    fn reserve(&self, n: usize) -> Result<OwnedSemaphorePermit, Refusal> {
        let n = u32::try_from(n.max(1)).map_err(|_| Refusal::Busy)?;
        self.bytes
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| Refusal::Busy)
    }
}

/// Decompresses a body (per its `Content-Encoding`, capped at `decompressed_max`) and decodes
/// it with `decode`, both on a blocking thread, within the decode budget. The reservation
/// lives on the blocking thread, so a request dropped by its timeout keeps its bytes counted
/// until the work really ends.
pub(crate) async fn decode_body<T: Send + 'static>(
    budget: &DecodeBudget,
    raw: Bytes,
    content_encoding: Option<String>,
    decompressed_max: usize,
    decode: impl FnOnce(&[u8]) -> T + Send + 'static,
) -> Result<T, Refusal> {
    let encoding = protocols::body::Encoding::parse(content_encoding.as_deref())?;
    let estimate = if encoding == protocols::body::Encoding::Identity {
        raw.len()
    } else {
        raw.len().saturating_mul(COMPRESSED_EXPANSION)
    }
    .min(decompressed_max);
    let permit = budget.reserve(estimate)?;
    crate::blocking(move || -> Result<T, Refusal> {
        let _permit = permit;
        let bytes =
            protocols::body::decode_body(content_encoding.as_deref(), &raw, decompressed_max)?;
        Ok(decode(&bytes))
    })
    .await
    .map_err(|_| Refusal::Internal)?
}

/// [`decode_body`] for a message its transport already inflated and size-checked (gRPC).
pub(crate) async fn decode_message<T: Send + 'static>(
    budget: &DecodeBudget,
    message: Bytes,
    decode: impl FnOnce(&[u8]) -> T + Send + 'static,
) -> Result<T, Refusal> {
    let permit = budget.reserve(message.len())?;
    crate::blocking(move || {
        let _permit = permit;
        decode(&message)
    })
    .await
    .map_err(|_| Refusal::Internal)
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `app` on `listener` with the connection limit, the header-read timeout and the
/// keep-alive idle timeout, until `shutdown` resolves; then stops accepting and lets requests
/// in flight finish (axum's graceful shutdown). `axum::serve` sets no hyper timer, so the two
/// timeouts are kept on the socket ([`LimitedConn`]) and a layer tells it when a request is
/// in flight ([`track_requests`]).
pub(crate) async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = BoundedListener {
        listener,
        slots: Arc::new(Semaphore::new(limits.connections_max.max(1))),
        timeout: limits.header_read_timeout,
        reads_are_progress: false,
    };
    let app = app.layer(from_fn(track_requests));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ConnHandle>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A TCP listener that holds one of `connections_max` slots per open connection: at the
/// limit, accepting pauses and new clients wait in the kernel's backlog.
pub(crate) struct BoundedListener {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    timeout: Duration,
    /// gRPC: bytes read count as progress (HTTP/2 has no header phase to time). HTTP/1: only
    /// writes and finished requests do, so trickled headers are cut off.
    reads_are_progress: bool,
}

impl BoundedListener {
    async fn next(&mut self) -> LimitedConn {
        loop {
            let slot = match self.slots.clone().acquire_owned().await {
                Ok(s) => s,
                // The semaphore is never closed.
                Err(_) => std::future::pending().await,
            };
            match self.listener.accept().await {
                Ok((io, _)) => {
                    return LimitedConn::new(io, slot, self.timeout, self.reads_are_progress)
                }
                Err(e) => {
                    if !is_connection_error(&e) {
                        tracing::warn!(error = %e, "accept failed; pausing");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                }
            }
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = LimitedConn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let conn = self.next().await;
            if let Ok(addr) = conn.io.peer_addr() {
                return (conn, addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// What a connection's timer knows: requests in flight, and when it last made progress.
#[derive(Debug)]
pub(crate) struct ConnClock {
    origin: tokio::time::Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `origin` of the last progress (a write, a finished request).
    progress_ms: AtomicU64,
}

impl ConnClock {
    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.progress_ms.store(ms, Ordering::Relaxed);
    }
}

/// The connect info axum hands each request: its connection's clock and the peer's address.
#[derive(Clone, Debug)]
pub(crate) struct ConnHandle(Arc<ConnClock>, std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, BoundedListener>>
    for ConnHandle
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, BoundedListener>) -> Self {
        Self(stream.io().clock.clone(), *stream.remote_addr())
    }
}

/// Marks a request in flight on its connection, so the idle timer does not run while a
/// handler works (the request timeout bounds that).
async fn track_requests(mut req: Request, next: Next) -> Response {
    let conn = req
        .extensions()
        .get::<axum::extract::ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    // Handlers that want the caller's address (Rollbar's `$remote_ip`) read it as axum's
    // `ConnectInfo<SocketAddr>`.
    if let Some(c) = &conn {
        req.extensions_mut().insert(axum::extract::ConnectInfo(c.1));
    }
    let clock = conn.map(|c| c.0);
    let _guard = clock.map(|clock| {
        clock.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(clock)
    });
    next.run(req).await
}

struct InFlight(Arc<ConnClock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepted gRPC connections, at most `limits.connections_max` open at once, each closed
/// after `limits.header_read_timeout` without a byte either way (HTTP/2 has no header-read
/// phase to time, so idleness is timed on the socket). The stream ends when its receiver is
/// dropped.
pub(crate) fn grpc_incoming(
    listener: TcpListener,
    limits: &Limits,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<LimitedConn>> {
    let mut listener = BoundedListener {
        listener,
        slots: Arc::new(Semaphore::new(limits.connections_max.max(1))),
        timeout: limits.header_read_timeout,
        reads_are_progress: true,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                () = tx.closed() => return,
                conn = listener.next() => conn,
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection holding its listener slot, closed when it has made no progress for the
/// timeout while no request is in flight: on HTTP/1 that is the header-read timeout (from
/// the connection's start or the end of the previous request; trickled header bytes do not
/// count) and the keep-alive idle timeout; on gRPC, a socket silent both ways.
pub(crate) struct LimitedConn {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
    clock: Arc<ConnClock>,
    timeout: Duration,
    reads_are_progress: bool,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl LimitedConn {
    fn new(
        io: TcpStream,
        slot: OwnedSemaphorePermit,
        timeout: Duration,
        reads_are_progress: bool,
    ) -> Self {
        let origin = tokio::time::Instant::now();
        Self {
            io,
            _slot: slot,
            clock: Arc::new(ConnClock {
                origin,
                in_flight: AtomicUsize::new(0),
                progress_ms: AtomicU64::new(0),
            }),
            timeout,
            reads_are_progress,
            timer: Box::pin(tokio::time::sleep_until(origin + timeout)),
        }
    }

    /// True once the connection has been idle past the timeout; otherwise arms the timer so
    /// the reader is woken to check again.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let now = tokio::time::Instant::now();
            let deadline = if self.clock.in_flight.load(Ordering::Relaxed) > 0 {
                now + self.timeout
            } else {
                let since = Duration::from_millis(self.clock.progress_ms.load(Ordering::Relaxed));
                self.clock.origin + since + self.timeout
            };
            if deadline <= now {
                return true;
            }
            self.timer.as_mut().reset(deadline);
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
        }
    }
}

impl AsyncRead for LimitedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if self.reads_are_progress && buf.filled().len() > before {
                    self.clock.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if self.expired(cx) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle too long",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for LimitedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for LimitedConn {
    type ConnectInfo = <TcpStream as tonic::transport::server::Connected>::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::Connected::connect_info(&self.io)
    }
}
