//! The read direction: X-Ray answers (`BatchGetTraces` segment documents, `GetTraceSummaries`
//! summaries, `GetTraceGraph`/`GetServiceGraph` services) built from stored events of any
//! protocol. X-Ray-origin events (those with `aws.xray.type`) rebuild their documents from the
//! `FIELDS.md` fields; OTLP-origin spans are mapped the way the OTel Collector's
//! `awsxrayexporter` shapes segments (server/consumer/root spans become segments, the rest
//! nest as subsegments; `remote` namespace for client/producer spans).

mod graph;
mod segments;
mod summary;
mod view;

pub use graph::{
    trace_graph_services, Edge, EdgeStatistics, ErrorStatistics, FaultStatistics, HistogramEntry,
    Service, ServiceGraphBuilder, GRAPH_EDGES_MAX, GRAPH_NODES_MAX, HISTOGRAM_BUCKETS_MAX,
    HISTOGRAM_MAX_S, HISTOGRAM_MIN_S,
};
pub use segments::{trace_segments, SegmentOut};
pub use summary::{
    trace_summary, AnnotationValueOut, AvailabilityZone, InstanceId, ServiceId, TraceSummary,
    TraceSummaryHttp, TraceUser, ValueWithServiceIds,
};
pub use view::dedup_spans;
