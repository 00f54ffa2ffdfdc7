//! OTLP/gRPC receiver: the three `Export` services on tonic, gzip/zstd accepted, a message
//! limit that fits real batches.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use protocols::otlp::{self, Decoded, Hints};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::pipeline::IngestError;
use crate::AppState;

/// Largest gRPC message after decompression: the same 20 MiB as OTLP/HTTP (see
/// `otlp_http::OTLP_BODY_MAX`); tonic's own default of 4 MiB is too small for real batches.
pub const GRPC_MESSAGE_MAX: usize = crate::otlp_http::OTLP_BODY_MAX;

#[derive(Clone)]
struct Otlp(AppState);

fn dataset_header<T>(req: &Request<T>) -> Option<String> {
    req.metadata()
        .get("x-honeycomb-dataset")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Otlp {
    fn authorize<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let headers = req.metadata().clone().into_headers();
        if self.0.credentials.check(&headers) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "missing or unknown API key: send it as x-honeycomb-team or authorization: Bearer",
            ))
        }
    }

    /// Commits decoded events; returns (rejected, message) for the partial-success field.
    async fn commit(&self, decoded: Decoded) -> Result<(i64, String), Status> {
        let c = &self.0.counters.otlp_grpc;
        c.add(&c.requests, 1);
        let accepted = decoded.events.len() as u64;
        let rejected = decoded.rejected;
        match self.0.pipeline.submit(decoded.events).await {
            Ok(report) => {
                let (rejected, message) =
                    crate::pipeline::partial_success(rejected, decoded.message, &report);
                c.add(&c.accepted, accepted.saturating_sub(report.rejected));
                c.add(&c.rejected, rejected);
                Ok((
                    i64::try_from(rejected).unwrap_or(i64::MAX),
                    message.unwrap_or_default(),
                ))
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

    async fn translate<T: Send + 'static>(
        req: Request<T>,
        f: fn(T, &Hints) -> Decoded,
    ) -> Result<Decoded, Status> {
        let dataset = dataset_header(&req);
        let body = req.into_inner();
        crate::blocking(move || {
            f(
                body,
                &Hints {
                    dataset_header: dataset.as_deref(),
                },
            )
        })
        .await
        .map_err(|_| Status::internal("internal error while decoding"))
    }
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.authorize(&req)?;
        let decoded = Self::translate(req, otlp::translate_traces).await?;
        let (rejected, error_message) = self.commit(decoded).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.authorize(&req)?;
        let decoded = Self::translate(req, otlp::translate_logs).await?;
        let (rejected, error_message) = self.commit(decoded).await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.authorize(&req)?;
        let decoded = Self::translate(req, otlp::translate_metrics).await?;
        let (rejected, error_message) = self.commit(decoded).await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: rejected,
                error_message,
            }),
        }))
    }
}

pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let svc = Otlp(state);
    let traces = TraceServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(GRPC_MESSAGE_MAX);
    let logs = LogsServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(GRPC_MESSAGE_MAX);
    let metrics = MetricsServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(GRPC_MESSAGE_MAX);
    tonic::transport::Server::builder()
        .add_service(traces)
        .add_service(logs)
        .add_service(metrics)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
        .map_err(std::io::Error::other)
}
