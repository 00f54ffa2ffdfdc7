"""Builders for raw OTLP requests (protobuf via the official generated classes, and OTLP
JSON as dicts), for the tests that talk to the receivers without an SDK in between."""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)


def kv(key: str, value: Any) -> common_pb2.KeyValue:
    av = common_pb2.AnyValue()
    if isinstance(value, bool):
        av.bool_value = value
    elif isinstance(value, int):
        av.int_value = value
    elif isinstance(value, float):
        av.double_value = value
    else:
        av.string_value = str(value)
    return common_pb2.KeyValue(key=key, value=av)


def span(
    trace_id: bytes,
    span_id: bytes,
    name: str,
    parent: bytes = b"",
    start_ns: int | None = None,
    duration_ns: int = 1_500_000,
    attributes: dict[str, Any] | None = None,
) -> trace_pb2.Span:
    start = start_ns if start_ns is not None else time.time_ns()
    return trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_SERVER if not parent else trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration_ns,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
    )


def trace_request(service: str, spans: list[trace_pb2.Span]) -> trace_service_pb2.ExportTraceServiceRequest:
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(attributes=[kv("service.name", service)]),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        scope=common_pb2.InstrumentationScope(name="e2e.raw", version="0.1"),
                        spans=spans,
                    )
                ],
            )
        ]
    )


def cruddur_trace(service: str, spans_per_trace: int) -> tuple[bytes, trace_service_pb2.ExportTraceServiceRequest]:
    """One trace of `spans_per_trace` spans (a root and its children) with ~10 attributes
    each, like the Cruddur backend's Flask spans. Returns (trace id, request)."""
    tid = new_trace_id()
    root_id = new_span_id()
    now = time.time_ns()
    spans = []
    for i in range(spans_per_trace):
        sid = root_id if i == 0 else new_span_id()
        spans.append(
            span(
                tid,
                sid,
                "GET /api/activities/home" if i == 0 else f"mock-data-{i}",
                parent=b"" if i == 0 else root_id,
                start_ns=now + i * 1000,
                attributes={
                    "http.method": "GET",
                    "http.route": "/api/activities/home",
                    "http.target": "/api/activities/home",
                    "http.status_code": 200,
                    "net.host.port": 4567,
                    "net.peer.ip": "127.0.0.1",
                    "app.now": "2026-11-25T23:36:11",
                    "app.result_length": 3,
                    "app.seq": i,
                    "app.ok": True,
                },
            )
        )
    return tid, trace_request(service, spans)


def log_request(service: str, bodies: list[str]) -> logs_service_pb2.ExportLogsServiceRequest:
    now = time.time_ns()
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[
            logs_pb2.ResourceLogs(
                resource=resource_pb2.Resource(attributes=[kv("service.name", service)]),
                scope_logs=[
                    logs_pb2.ScopeLogs(
                        scope=common_pb2.InstrumentationScope(name="e2e.raw"),
                        log_records=[
                            logs_pb2.LogRecord(
                                time_unix_nano=now + i,
                                severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
                                severity_text="INFO",
                                body=common_pb2.AnyValue(string_value=b),
                            )
                            for i, b in enumerate(bodies)
                        ],
                    )
                ],
            )
        ]
    )


def json_span(trace_id: str, span_id: str, name: str, parent: str = "", **extra: Any) -> dict[str, Any]:
    start = time.time_ns()
    out = {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 2_000_000),
        "attributes": [{"key": "app.kind", "value": {"stringValue": "json"}}],
        "status": {},
    }
    out.update(extra)
    return out


def json_trace_request(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "e2e.json"}, "spans": spans}],
            }
        ]
    }
