//! OTLP/gRPC receiver: the three `Export` services on tonic, gzip/zstd accepted, a message
//! limit that fits real batches. Tonic hands us the message undecoded ([`RawCodec`]), so the
//! key is checked (interceptor, [`crate::auth::grpc_layer`]) before anything is read, and
//! protobuf decoding runs on a blocking thread within the shared decode budget, like every
//! HTTP receiver.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use protocols::otlp::{self, Decoded, Hints};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::{Request, Response, Status};

use crate::edge::{Limits, Refusal};
use crate::pipeline::IngestError;
use crate::AppState;

/// Largest gRPC message after decompression: the same 20 MiB as OTLP/HTTP (see
/// `otlp_http::OTLP_BODY_MAX`); tonic's own default of 4 MiB is too small for real batches.
/// Tonic checks the frame's declared length before buffering and caps decompression at it.
pub const GRPC_MESSAGE_MAX: usize = crate::otlp_http::OTLP_BODY_MAX;

/// Export calls being read, decoded or committed at once across all connections (our choice:
/// each buffers up to one 20 MiB message, so 32 bound buffered messages at 640 MiB in the
/// pathological case and ~8 MiB for real 250 KiB SDK batches; the one writer commits one
/// group at a time, so more concurrency only queues). Further calls wait for a slot without
/// their message being read (HTTP/2 flow control holds the client to one 64 KiB window), up
/// to their deadline or the request timeout.
pub const GRPC_CALLS_MAX: usize = 32;

/// Concurrent streams per HTTP/2 connection (RFC 9113 §6.5.2 recommends advertising at
/// least 100; tonic/hyper's default is 200).
pub const GRPC_STREAMS_PER_CONNECTION_MAX: u32 = 100;

/// One OTLP signal's `Export` service.
trait Signal: Send + Sync + 'static {
    const SERVICE: &'static str;
    const PATH: &'static str;
    type Request: prost::Message + Default + Send + 'static;
    type Response: prost::Message + Send + 'static;
    fn translate(req: Self::Request, hints: &Hints) -> Decoded;
    fn respond(rejected: i64, error_message: String) -> Self::Response;
}

struct Traces;
impl Signal for Traces {
    const SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    fn translate(req: Self::Request, hints: &Hints) -> Decoded {
        otlp::translate_traces(req, hints)
    }
    fn respond(rejected: i64, error_message: String) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: (rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message,
            }),
        }
    }
}

struct Logs;
impl Signal for Logs {
    const SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    fn translate(req: Self::Request, hints: &Hints) -> Decoded {
        otlp::translate_logs(req, hints)
    }
    fn respond(rejected: i64, error_message: String) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message,
            }),
        }
    }
}

struct Metrics;
impl Signal for Metrics {
    const SERVICE: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    fn translate(req: Self::Request, hints: &Hints) -> Decoded {
        otlp::translate_metrics(req, hints)
    }
    fn respond(rejected: i64, error_message: String) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message,
            }),
        }
    }
}

/// Decodes a message to its bytes (tonic has inflated and size-checked it) and encodes the
/// response with prost.
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Send + 'static> Codec for RawCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ProstEncoder<R>;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

struct ProstEncoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message> Encoder for ProstEncoder<R> {
    type Item = R;
    type Error = Status;
    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|_| Status::internal("could not encode the response"))
    }
}

struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

/// One signal's service: a tower service tonic routes `/<SERVICE>/*` to.
struct Export<S> {
    state: AppState,
    calls: Arc<Semaphore>,
    _signal: PhantomData<fn() -> S>,
}

impl<S> Clone for Export<S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            calls: self.calls.clone(),
            _signal: PhantomData,
        }
    }
}

impl<S: Signal> tonic::server::NamedService for Export<S> {
    const NAME: &'static str = S::SERVICE;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for Export<S>
where
    S: Signal,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if req.uri().path() != S::PATH {
                return Ok(Status::unimplemented("unknown method").into_http());
            }
            // A slot before tonic reads the message: waiting calls hold no message bytes.
            let Ok(_slot) = this.calls.clone().acquire_owned().await else {
                return Ok(Status::unavailable("shutting down").into_http());
            };
            let mut encodings = EnabledCompressionEncodings::default();
            encodings.enable(CompressionEncoding::Gzip);
            encodings.enable(CompressionEncoding::Zstd);
            let mut send = EnabledCompressionEncodings::default();
            send.enable(CompressionEncoding::Gzip);
            let mut grpc = tonic::server::Grpc::new(RawCodec::<S::Response>(PhantomData))
                .apply_compression_config(encodings, send)
                .apply_max_message_size_config(Some(GRPC_MESSAGE_MAX), None);
            Ok(grpc.unary(Unary(this), req).await)
        })
    }
}

struct Unary<S>(Export<S>);

impl<S: Signal> tonic::server::UnaryService<Bytes> for Unary<S> {
    type Response = S::Response;
    type Future = BoxFuture<Response<S::Response>, Status>;
    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let this = self.0.clone();
        Box::pin(async move { this.export(req).await })
    }
}

impl<S: Signal> Export<S> {
    async fn export(&self, req: Request<Bytes>) -> Result<Response<S::Response>, Status> {
        let c = &self.state.counters.otlp_grpc;
        c.add(&c.requests, 1);
        let dataset = req
            .metadata()
            .get("x-honeycomb-dataset")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let message = req.into_inner();
        let decoded = crate::edge::decode_message(&self.state.decode_budget, message, move |b| {
            <S::Request as prost::Message>::decode(b).map(|r| {
                S::translate(
                    r,
                    &Hints {
                        dataset_header: dataset.as_deref(),
                    },
                )
            })
        })
        .await;
        let decoded = match decoded {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                c.add(&c.bad_requests, 1);
                return Err(Status::invalid_argument(format!(
                    "the message is not a valid OTLP export request: {e}"
                )));
            }
            Err(Refusal::Busy) => {
                c.add(&c.refused_overload, 1);
                return Err(Status::unavailable(Refusal::Busy.message()));
            }
            Err(_) => return Err(Status::internal("internal error while decoding")),
        };
        let accepted = decoded.events.len() as u64;
        let rejected = decoded.rejected;
        match self.state.pipeline.submit(decoded.events).await {
            Ok(report) => {
                let (rejected, message) =
                    crate::pipeline::partial_success(rejected, decoded.message, &report);
                c.add(&c.accepted, accepted.saturating_sub(report.rejected));
                c.add(&c.rejected, rejected);
                Ok(Response::new(S::respond(
                    i64::try_from(rejected).unwrap_or(i64::MAX),
                    message.unwrap_or_default(),
                )))
            }
            Err(IngestError::Overloaded) => {
                c.add(&c.refused_overload, 1);
                Err(Status::unavailable(
                    "Waggle's ingest queue is full; retry with backoff",
                ))
            }
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }
}

fn export<S: Signal>(state: &AppState, calls: &Arc<Semaphore>) -> Export<S> {
    Export {
        state: state.clone(),
        calls: calls.clone(),
        _signal: PhantomData,
    }
}

/// The gRPC services this server mounts, by full name (the auth test walks them).
pub fn services() -> [&'static str; 3] {
    [Traces::SERVICE, Logs::SERVICE, Metrics::SERVICE]
}

pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let calls = Arc::new(Semaphore::new(GRPC_CALLS_MAX));
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .max_concurrent_streams(GRPC_STREAMS_PER_CONNECTION_MAX)
        .layer(crate::auth::grpc_layer(state.api_keys.clone()))
        .add_service(export::<Traces>(&state, &calls))
        .add_service(export::<Logs>(&state, &calls))
        .add_service(export::<Metrics>(&state, &calls))
        .serve_with_incoming_shutdown(crate::edge::grpc_incoming(listener, &limits), shutdown)
        .await
        .map_err(std::io::Error::other)
}
