"""The official Python OpenTelemetry SDK and OTLP/HTTP exporters against a real Waggle:
every span the SDK exported comes back through the Tempo-compatible trace API with ids,
timing, status, events, links and attributes intact; logs land; X-Ray ids resolve.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Sequence

import pytest
import requests
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from conftest import HTTP_TIMEOUT_S, Span, WaggleServer, xray_id

# Every attribute type the OTel API allows on a span (str, bool, int, float and homogeneous
# arrays of each). The big int is 2^62 + 1: exact only if int64 survives as an integer
# (JSON doubles would round it).
ROOT_ATTRIBUTES: dict[str, Any] = {
    "app.str": "hello wörld ✓",
    "app.empty_str": "",
    "app.int": 42,
    "app.neg_int": -7,
    "app.big_int": 2**62 + 1,
    "app.float": 3.25,
    "app.float_frac": 0.1,
    "app.bool_true": True,
    "app.bool_false": False,
    "app.str_list": ["a", "b", "c"],
    "app.int_list": [1, 2, 3],
    "app.float_list": [1.5, 2.5],
    "app.bool_list": [True, False],
    "http.route": "/api/activities/home",
    "http.status_code": 500,
}

# Honeycomb fields the translation computes. They are columns in Waggle's store, but in
# Tempo/OTLP output they are carried by OTLP's own fields, so they must not show up again
# as span attributes (Grafana would show every one of them twice).
COMPUTED_FIELDS = [
    "trace.trace_id",
    "trace.span_id",
    "trace.parent_id",
    "duration_ms",
    "span.kind",
    "status_code",
    "meta.signal_type",
    "meta.annotation_type",
    "span.num_events",
    "span.num_links",
]


class RecordingSpanExporter(SpanExporter):
    """Delegates to the real exporter and records what it exported and how it went."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner
        self.results: list[SpanExportResult] = []
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        self.results.append(result)
        self.spans.extend(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class RecordingLogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter):
        self.inner = inner
        self.results: list[LogRecordExportResult] = []
        self.count = 0

    def export(self, batch):  # type: ignore[override]
        result = self.inner.export(batch)
        self.results.append(result)
        self.count += len(batch)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def hex_trace(trace_id: int) -> str:
    return f"{trace_id:032x}"


def hex_span(span_id: int) -> str:
    return f"{span_id:016x}"


def new_service(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_provider(endpoint: str, service: str, compression: Compression | None, grpc: bool = False):
    if grpc:
        import grpc as grpc_lib
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        inner: SpanExporter = GrpcSpanExporter(
            endpoint=endpoint,
            insecure=True,
            compression=grpc_lib.Compression.Gzip if compression else None,
            timeout=10,
        )
    else:
        inner = OTLPSpanExporter(endpoint=endpoint, compression=compression, timeout=10)
    exporter = RecordingSpanExporter(inner)
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": service, "deployment.environment": "e2e", "host.cores": 2}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def emit_trace(provider: TracerProvider) -> tuple[str, str]:
    """Emits a linked-to root in one trace, then a nested trace that uses every feature.
    Returns (main trace id, linked trace id) as hex."""
    tracer = provider.get_tracer("e2e.python", "1.2.3")

    # A span in another trace, for the link to point at.
    other = tracer.start_span("linked-job", kind=SpanKind.CONSUMER)
    other_ctx = other.get_span_context()
    other.end()

    # Explicit, odd-nanosecond start and end on the root: ns-exact round trip is checked.
    # The children (timed by the SDK) run within the root's 250 ms.
    t0 = time.time_ns() - 1_000_000 + 123_457
    root = tracer.start_span(
        "GET /api/activities/home",
        kind=SpanKind.SERVER,
        attributes=ROOT_ATTRIBUTES,
        start_time=t0,
    )
    root.add_event("request.received", {"bytes": 123, "ok": True, "who": "e2e"}, timestamp=t0 + 1_001)
    with trace_api.use_span(root, end_on_exit=False):
        with tracer.start_as_current_span(
            "db.query",
            kind=SpanKind.CLIENT,
            links=[Link(other_ctx, {"link.reason": "retry-of", "link.attempt": 2})],
            attributes={"db.system": "postgresql", "db.rows": 3},
        ) as child:
            with tracer.start_as_current_span(
                "mock-data", kind=SpanKind.INTERNAL, record_exception=False, set_status_on_exception=False
            ) as grandchild:
                try:
                    raise KeyError("message")
                except KeyError as exc:
                    grandchild.record_exception(exc, attributes={"app.handled": True})
                grandchild.set_status(Status(StatusCode.ERROR, "KeyError: 'message'"))
            child.set_status(Status(StatusCode.OK))
        with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER):
            pass
        with tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER):
            pass
    root.set_status(Status(StatusCode.ERROR, "boom"))
    root.end(end_time=t0 + 250_000_001)
    return hex_trace(root.get_span_context().trace_id), hex_trace(other_ctx.trace_id)


def flush(provider: TracerProvider, exporter: RecordingSpanExporter, expected: int) -> None:
    assert provider.force_flush(30_000), "force_flush timed out"
    assert exporter.results, "the exporter exported nothing"
    assert all(r == SpanExportResult.SUCCESS for r in exporter.results), (
        f"export results: {exporter.results} (see waggle stderr)"
    )
    assert len(exporter.spans) == expected


def values_equal(sent: Any, got: Any) -> bool:
    """Equality that keeps types apart (True is not 1; 1 is not 1.0). Arrays may come
    back as OTLP arrays or, Honeycomb-style, as a JSON string of the array."""
    if isinstance(sent, (list, tuple)):
        if isinstance(got, str):
            try:
                got = json.loads(got)
            except json.JSONDecodeError:
                return False
        if not isinstance(got, list) or len(got) != len(sent):
            return False
        return all(values_equal(a, b) for a, b in zip(sent, got))
    if type(sent) is not type(got):
        return False
    return sent == got


def assert_attrs(where: str, sent: dict[str, Any], got: dict[str, Any]) -> None:
    problems = []
    for key, value in sent.items():
        if key not in got:
            problems.append(f"missing {key!r} (sent {value!r})")
        elif not values_equal(value, got[key]):
            problems.append(f"{key!r}: sent {value!r} ({type(value).__name__}), got {got[key]!r} ({type(got[key]).__name__})")
    assert not problems, f"{where}: attribute mismatches:\n  " + "\n  ".join(problems)


OTLP_KIND = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}


def assert_span_matches(sent: ReadableSpan, got: Span) -> None:
    where = f"span {sent.name!r} ({hex_span(sent.context.span_id)})"
    assert got.trace_id == hex_trace(sent.context.trace_id), where
    assert got.name == sent.name, where
    expected_parent = hex_span(sent.parent.span_id) if sent.parent else ""
    assert got.parent_span_id == expected_parent, f"{where}: parent {got.parent_span_id!r} != {expected_parent!r}"
    assert got.kind == OTLP_KIND[sent.kind], f"{where}: kind {got.raw.get('kind')!r}, sent {sent.kind}"
    assert got.start == sent.start_time, f"{where}: start {got.start} != {sent.start_time} (ns exact)"
    assert got.end == sent.end_time, f"{where}: end {got.end} != {sent.end_time} (ns exact)"
    assert got.status_code == sent.status.status_code.value, f"{where}: status {got.raw.get('status')!r}"
    if sent.status.status_code == StatusCode.ERROR:
        assert got.status_message == sent.status.description, f"{where}: status {got.raw.get('status')!r}"
    assert_attrs(where, dict(sent.attributes or {}), got.attributes)

    got_events = sorted(got.events, key=lambda e: (e["time"], e["name"]))
    sent_events = sorted(sent.events, key=lambda e: (e.timestamp, e.name))
    assert [(e["name"], e["time"]) for e in got_events] == [(e.name, e.timestamp) for e in sent_events], (
        f"{where}: events (name, time ns) differ: got {got.raw.get('events')!r}"
    )
    for s_ev, g_ev in zip(sent_events, got_events):
        assert_attrs(f"{where} event {s_ev.name!r}", dict(s_ev.attributes or {}), g_ev["attributes"])

    assert len(got.links) == len(sent.links), f"{where}: links {got.raw.get('links')!r}"
    for s_link, g_link in zip(sent.links, got.links):
        assert g_link["trace_id"] == hex_trace(s_link.context.trace_id), f"{where}: link {g_link}"
        assert g_link["span_id"] == hex_span(s_link.context.span_id), f"{where}: link {g_link}"
        assert_attrs(f"{where} link", dict(s_link.attributes or {}), g_link["attributes"])


def assert_trace_round_trips(sent: list[ReadableSpan], got: list[Span]) -> None:
    by_id = {s.span_id: s for s in got}
    assert len(got) == len(sent), (
        f"expected {len(sent)} spans, got {len(got)}: {got} (sent {[s.name for s in sent]})"
    )
    assert len(by_id) == len(got), f"duplicate span ids in output: {got}"
    for span in sent:
        sid = hex_span(span.context.span_id)
        assert sid in by_id, f"span {span.name!r} ({sid}) missing from {got}"
        assert_span_matches(span, by_id[sid])


CASES = [
    pytest.param("otlp_http", None, id="http-protobuf"),
    pytest.param("otlp_http", Compression.Gzip, id="http-protobuf-gzip"),
    pytest.param("http", None, id="main-port-protobuf"),
    pytest.param("otlp_grpc", Compression.Gzip, id="grpc-gzip"),
]


@pytest.mark.parametrize("port,compression", CASES)
def test_python_sdk_trace_round_trips(waggle: WaggleServer, port: str, compression):
    service = new_service("e2e-py")
    if port == "otlp_grpc":
        provider, exporter = make_provider(waggle.otlp_grpc_addr, service, compression, grpc=True)
    else:
        base = waggle.otlp_http_url if port == "otlp_http" else waggle.http_url
        provider, exporter = make_provider(base + "/v1/traces", service, compression)
    trace_id, linked_trace_id = emit_trace(provider)
    flush(provider, exporter, expected=6)
    provider.shutdown()

    sent_main = [s for s in exporter.spans if hex_trace(s.context.trace_id) == trace_id]
    assert len(sent_main) == 5

    r2, spans_v2 = waggle.trace_v2(trace_id, expect_spans=len(sent_main))
    assert r2.status_code == 200, f"/api/v2/traces/{trace_id} -> {r2.status_code} {r2.text[:500]}"
    assert_trace_round_trips(sent_main, spans_v2)
    for s in spans_v2:
        assert s.resource.get("service.name") == service, f"resource of {s}: {s.resource}"

    r1, spans_v1 = waggle.trace_v1(trace_id, expect_spans=len(sent_main))
    assert r1.status_code == 200, f"/api/traces/{trace_id} -> {r1.status_code} {r1.text[:500]}"
    assert_trace_round_trips(sent_main, spans_v1)

    # The linked-to span is a trace of its own.
    sent_linked = [s for s in exporter.spans if hex_trace(s.context.trace_id) == linked_trace_id]
    r, spans = waggle.trace_v2(linked_trace_id, expect_spans=1)
    assert r.status_code == 200, f"/api/v2/traces/{linked_trace_id} -> {r.status_code} {r.text[:500]}"
    assert_trace_round_trips(sent_linked, spans)


@pytest.fixture(scope="module")
def sent_trace(waggle: WaggleServer):
    """One trace, sent once, shared by the read-side tests below."""
    service = new_service("e2e-py-read")
    provider, exporter = make_provider(waggle.otlp_http_url + "/v1/traces", service, None)
    trace_id, _ = emit_trace(provider)
    flush(provider, exporter, expected=6)
    provider.shutdown()
    sent = [s for s in exporter.spans if hex_trace(s.context.trace_id) == trace_id]
    return {"service": service, "trace_id": trace_id, "spans": sent}


def test_xray_form_id_returns_same_trace(waggle: WaggleServer, sent_trace):
    trace_id = sent_trace["trace_id"]
    _, by_hex = waggle.trace_v2(trace_id, expect_spans=5)
    for path in (f"/api/v2/traces/{xray_id(trace_id)}", f"/api/traces/{xray_id(trace_id)}"):
        r = waggle.get(path)
        assert r.status_code == 200, f"{path} -> {r.status_code} {r.text[:500]}"
    r, by_xray = waggle.trace_v2(xray_id(trace_id), expect_spans=5)
    assert sorted(s.span_id for s in by_xray) == sorted(s.span_id for s in by_hex)
    assert_trace_round_trips(sent_trace["spans"], by_xray)
    # Uppercase hex is the same id (OTLP JSON ids are case-insensitive).
    r, upper = waggle.trace_v2(trace_id.upper(), expect_spans=5)
    assert r.status_code == 200 and len(upper) == 5, f"uppercase id -> {r.status_code} {r.text[:300]}"


def test_unknown_and_malformed_trace_ids(waggle: WaggleServer):
    r = waggle.get("/api/v2/traces/" + uuid.uuid4().hex)
    assert r.status_code == 404, f"unknown trace -> {r.status_code} {r.text[:300]}"
    r = waggle.get("/api/traces/not-a-trace-id")
    assert r.status_code == 400, f"malformed trace id -> {r.status_code} {r.text[:300]}"
    waggle.echo_ok()


def test_resource_and_scope_come_back(waggle: WaggleServer, sent_trace):
    _, spans = waggle.trace_v2(sent_trace["trace_id"], expect_spans=5)
    assert spans
    for s in spans:
        assert s.resource.get("service.name") == sent_trace["service"], s.resource
        # Resource attributes belong to the resource; accept them on the span too, since
        # Honeycomb flattens them into each event.
        merged = {**s.attributes, **s.resource}
        assert merged.get("deployment.environment") == "e2e", (s.resource, s.attributes)
        assert values_equal(2, merged.get("host.cores")), (s.resource, s.attributes)
        assert s.scope.get("name") == "e2e.python", f"scope of {s}: {s.scope}"
        assert s.scope.get("version") == "1.2.3", f"scope of {s}: {s.scope}"


def test_honeycomb_fields_do_not_leak_into_otlp_attributes(waggle: WaggleServer, sent_trace):
    _, spans = waggle.trace_v2(sent_trace["trace_id"], expect_spans=5)
    assert spans
    leaks = {
        s.name: sorted(k for k in COMPUTED_FIELDS if k in s.attributes) for s in spans
    }
    leaks = {k: v for k, v in leaks.items() if v}
    assert not leaks, f"computed Honeycomb fields returned as span attributes: {leaks}"


def test_tempo_search(waggle: WaggleServer, sent_trace):
    service = sent_trace["service"]
    trace_id = sent_trace["trace_id"]

    def found(params: dict[str, str]) -> list[str]:
        r = waggle.get("/api/search", params=params)
        assert r.status_code == 200, f"/api/search {params} -> {r.status_code} {r.text[:500]}"
        body = r.json()
        assert "traces" in body, body
        # Tempo trims leading zeros from traceID in search results.
        return [str(t["traceID"]).lower().lstrip("0") for t in body["traces"] or []]

    want = trace_id.lstrip("0")
    assert want in found({"tags": f"service.name={service}", "limit": "20"})
    # The root lasts 250.000001 ms.
    assert want in found({"tags": f"service.name={service}", "minDuration": "200ms", "limit": "20"})
    assert want not in found({"tags": f"service.name={service}", "minDuration": "300ms", "limit": "20"})
    assert want not in found({"tags": f"service.name={service}-nope", "limit": "20"})
    hit = waggle.get("/api/search", params={"tags": f"service.name={service}"}).json()["traces"]
    mine = [t for t in hit if str(t["traceID"]).lower().lstrip("0") == want]
    assert mine and mine[0].get("rootServiceName") == service, mine
    assert mine[0].get("rootTraceName") == "GET /api/activities/home", mine

    r = waggle.get("/api/search/tags")
    assert r.status_code == 200, f"/api/search/tags -> {r.status_code} {r.text[:300]}"
    assert "service.name" in json.dumps(r.json()), r.text[:1000]
    r = waggle.get("/api/search/tag/service.name/values")
    assert r.status_code == 200, f"/api/search/tag/service.name/values -> {r.status_code} {r.text[:300]}"
    assert service in json.dumps(r.json()), r.text[:2000]


def test_tempo_search_traceql(waggle: WaggleServer, sent_trace):
    """`GET /api/search?q=` with TraceQL, as Grafana's Tempo data source sends it."""
    service = sent_trace["service"]
    want = sent_trace["trace_id"].lstrip("0")

    def found(q: str) -> list[str]:
        r = waggle.get("/api/search", params={"q": q, "limit": "50", "spss": "3"})
        assert r.status_code == 200, f"q={q} -> {r.status_code} {r.text[:500]}"
        return [str(t["traceID"]).lower().lstrip("0") for t in r.json()["traces"] or []]

    svc = f'resource.service.name = "{service}"'
    hits = [
        f"{{ {svc} }}",
        f'{{ {svc} && name = "db.query" && span.db.rows >= 3 }}',
        f'{{ {svc} && kind = server && status = error && duration > 200ms }}',
        f'{{ {svc} && span.db.system =~ "post.*" }}',
        # Structural: a CLIENT span whose parent is the SERVER root.
        f'{{ {svc} && kind = server }} > {{ {svc} && kind = client }}',
        f'{{ {svc} && name = "publish" }} && {{ {svc} && name = "consume" }}',
    ]
    misses = [
        f'{{ {svc} && duration > 300ms && kind = server }}',
        f'{{ {svc} && name = "db.query" && span.db.rows > 3 }}',
        f'{{ {svc} && kind = client }} > {{ {svc} && kind = server }}',
        f'{{ {svc} && name = "no-such-span" }}',
    ]
    for q in hits:
        assert want in found(q), f"expected the trace for {q}"
    for q in misses:
        assert want not in found(q), f"did not expect the trace for {q}"
    # Grafana reads the matched spans of each trace from spanSets (spss per set).
    r = waggle.get("/api/search", params={"q": f'{{ {svc} && kind = client }}', "spss": "5", "limit": "50"})
    mine = [t for t in r.json()["traces"] if str(t["traceID"]).lower().lstrip("0") == want]
    assert mine, r.text[:500]
    sets = mine[0]["spanSets"]
    assert len(sets) == 1 and sets[0]["matched"] == 1, sets
    span = sets[0]["spans"][0]
    assert span["name"] == "db.query" and int(span["durationNanos"]) > 0, span
    assert {"key": "service.name", "value": {"stringValue": service}} in span["attributes"], span
    assert mine[0]["spanSet"] == sets[0]
    r = waggle.get("/api/search", params={"q": f"{{ {svc} }}", "spss": "2", "limit": "50"})
    mine = [t for t in r.json()["traces"] if str(t["traceID"]).lower().lstrip("0") == want]
    assert mine[0]["spanSet"]["matched"] == 5 and len(mine[0]["spanSet"]["spans"]) == 2, mine[0]
    for q, kind in [("{ .a = ", "parse error"), ('{ .a =~ "(" }', "invalid TraceQL"), ("{ .a } | rate()", "unsupported")]:
        r = waggle.get("/api/search", params={"q": q})
        assert r.status_code == 400 and kind in r.text, f"q={q} -> {r.status_code} {r.text[:300]}"


def test_tempo_traceql_structure_and_pipelines(waggle: WaggleServer, sent_trace):
    """Descendant, ancestor, sibling, negated and union structural operators, and aggregate
    pipelines, over the one trace (server root > db.query > mock-data; root > publish,
    consume)."""
    service = sent_trace["service"]
    want = sent_trace["trace_id"].lstrip("0")
    svc = f'resource.service.name = "{service}"'

    def search(q: str) -> list[dict]:
        r = waggle.get("/api/search", params={"q": q, "limit": "50", "spss": "10"})
        assert r.status_code == 200, f"q={q} -> {r.status_code} {r.text[:500]}"
        return [t for t in r.json()["traces"] or [] if str(t["traceID"]).lower().lstrip("0") == want]

    def matched(q: str) -> set[str]:
        mine = search(q)
        assert mine, f"expected the trace for {q}"
        return {s["name"] for s in mine[0]["spanSets"][0]["spans"]}

    assert matched(f'{{ {svc} && kind = server }} >> {{ {svc} }}') == {"db.query", "mock-data", "publish", "consume"}
    assert matched(f'{{ {svc} && name = "mock-data" }} << {{ {svc} }}') == {"db.query", "GET /api/activities/home"}
    assert matched(f'{{ {svc} && name = "publish" }} ~ {{ {svc} }}') == {"db.query", "consume"}
    assert matched(f'{{ {svc} && kind = server }} !> {{ {svc} && name != "GET /api/activities/home" }}') == {"mock-data"}
    assert matched(f'{{ {svc} && name = "db.query" }} &> {{ {svc} }}') == {"db.query", "mock-data"}
    assert matched(f'{{ {svc} && name = "db.query" }} &>> {{ {svc} && status = error }}') == {"db.query", "mock-data"}
    for q in [
        f"{{ {svc} }} | count() > 4",
        f"{{ {svc} }} | max(duration) >= 250ms",
        f"{{ {svc} }} | by(resource.service.name) | count() = 5",
        f'{{ {svc} && kind = server }} > {{ {svc} }} | count() = 3',
    ]:
        assert search(q), f"expected the trace for {q}"
    for q in [
        f"{{ {svc} }} | count() > 5",
        f"{{ {svc} }} | max(duration) > 300ms",
        f"{{ {svc} }} | by(kind) | count() > 1",
        f'{{ {svc} && name = "db.query" }} ~ {{ {svc} && name = "mock-data" }}',
        f'{{ {svc} && name = "consume" }} >> {{ {svc} }}',
    ]:
        assert not search(q), f"did not expect the trace for {q}"


def test_tempo_traceql_select_and_nested_sets(waggle: WaggleServer):
    """`| select(…)` adds the selected attributes and intrinsics to each matched span, with
    Tempo's nested-set numbers (depth-first, children by start time, one counter for entry
    and exit), as Traces Drilldown's Structure tab reads them."""
    service = new_service("e2e-py-select")
    provider, exporter = make_provider(waggle.otlp_http_url + "/v1/traces", service, None)
    tracer = provider.get_tracer("e2e.python", "1.2.3")
    ms = 1_000_000
    t0 = time.time_ns() - 5_000 * ms
    # checkout → load-cart → db.select; checkout → render (explicit times fix the order).
    root = tracer.start_span("checkout", kind=SpanKind.SERVER, start_time=t0, attributes={"e2e.step": "root"})
    in_root = trace_api.set_span_in_context(root)
    first = tracer.start_span("load-cart", context=in_root, start_time=t0 + 10 * ms, attributes={"e2e.step": "first"})
    nested = tracer.start_span(
        "db.select",
        context=trace_api.set_span_in_context(first),
        kind=SpanKind.CLIENT,
        start_time=t0 + 20 * ms,
        attributes={"e2e.step": "nested"},
    )
    nested.set_status(Status(StatusCode.ERROR, "timeout"))
    nested.end(end_time=t0 + 50 * ms)
    first.set_status(Status(StatusCode.OK))
    first.end(end_time=t0 + 100 * ms)
    second = tracer.start_span("render", context=in_root, start_time=t0 + 120 * ms, attributes={"e2e.step": "second"})
    second.end(end_time=t0 + 200 * ms)
    root.end(end_time=t0 + 250 * ms)
    trace_id = hex_trace(root.get_span_context().trace_id).lstrip("0")
    flush(provider, exporter, expected=4)
    provider.shutdown()

    def spans_of(q: str) -> dict[str, dict]:
        r = waggle.get("/api/search", params={"q": q, "spss": "10", "limit": "50"})
        assert r.status_code == 200, f"q={q} -> {r.status_code} {r.text[:500]}"
        mine = [t for t in r.json()["traces"] or [] if str(t["traceID"]).lower().lstrip("0") == trace_id]
        assert mine, f"expected the trace for {q}: {r.text[:500]}"
        assert mine[0]["spanSet"] == mine[0]["spanSets"][0]
        out = {}
        for s in mine[0]["spanSet"]["spans"]:
            keys = [a["key"] for a in s.get("attributes", [])]
            assert len(keys) == len(set(keys)), f"repeated attribute keys: {s}"
            out[s["name"]] = {a["key"]: a["value"] for a in s.get("attributes", [])}
        return out

    svc = f'resource.service.name = "{service}"'
    got = spans_of(
        f"{{ {svc} }} | select(span.e2e.step, resource.service.name, status, nestedSetLeft, nestedSetRight, nestedSetParent)"
    )
    want = {
        # name: (e2e.step, status, nestedSetLeft, nestedSetRight, nestedSetParent)
        "checkout": ("root", "unset", 1, 8, -1),
        "load-cart": ("first", "ok", 2, 5, 1),
        "db.select": ("nested", "error", 3, 4, 2),
        "render": ("second", "unset", 6, 7, 1),
    }
    assert set(got) == set(want), got
    for name, (step, status, left, right, parent) in want.items():
        attrs = got[name]
        assert attrs == {
            "service.name": {"stringValue": service},
            "e2e.step": {"stringValue": step},
            "status": {"stringValue": status},
            "nestedSetLeft": {"intValue": str(left)},
            "nestedSetRight": {"intValue": str(right)},
            "nestedSetParent": {"intValue": str(parent)},
        }, (name, attrs)

    # Without select(): service.name alone, as before.
    plain = spans_of(f"{{ {svc} }}")
    assert all(a == {"service.name": {"stringValue": service}} for a in plain.values()), plain

    # Traces Drilldown's Structure tab: root spans with an erroring descendant, both sides.
    got = spans_of(
        f"{{nestedSetParent<0 && {svc}}} &>> {{status=error}} | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)"
    )
    assert set(got) == {"checkout", "db.select"}, got
    assert got["checkout"]["nestedSetParent"] == {"intValue": "-1"}, got
    assert got["checkout"]["nestedSetRight"] == {"intValue": "8"}, got
    assert got["db.select"]["status"] == {"stringValue": "error"}, got
    assert (got["db.select"]["nestedSetLeft"], got["db.select"]["nestedSetParent"]) == (
        {"intValue": "3"},
        {"intValue": "2"},
    ), got
    # Nested-set numbers still answer only the root tests inside a filter.
    r = waggle.get("/api/search", params={"q": f"{{ {svc} && nestedSetLeft > 2 }}"})
    assert r.status_code == 400 and "unsupported" in r.text, r.text[:300]


def test_tempo_traceql_metrics(waggle: WaggleServer, sent_trace):
    """`/api/metrics/query_range` and `/api/metrics/query` in Tempo's shapes, as Grafana and
    Traces Drilldown call them."""
    service = sent_trace["service"]
    svc = f'resource.service.name = "{service}"'
    now = int(time.time())
    window = {"start": str(now - 1800), "end": str(now + 60)}
    r = waggle.get("/api/metrics/query_range", params={"q": f"{{ {svc} }} | count_over_time() by (name)", "step": "60s", **window})
    assert r.status_code == 200, r.text[:500]
    series = r.json()["series"]
    by_name = {s["labels"][0]["value"]["stringValue"]: s for s in series}
    # The five spans of the trace and the span in another trace its link points at.
    assert set(by_name) == {"GET /api/activities/home", "db.query", "mock-data", "publish", "consume", "linked-job"}, by_name.keys()
    for s in series:
        assert s["labels"][0]["key"] == "name"
        assert sum(p["value"] for p in s["samples"]) == 1, s
        stamps = [int(p["timestampMs"]) for p in s["samples"]]
        assert stamps == sorted(stamps) and all(t % 60_000 == 0 for t in stamps), stamps
    r = waggle.get("/api/metrics/query_range", params={"q": f"{{ {svc} && kind = server }} | quantile_over_time(duration, 0.5, 0.99)", "step": "60", **window})
    assert r.status_code == 200, r.text[:500]
    ps = {s["labels"][-1]["value"]["doubleValue"] for s in r.json()["series"]}
    assert ps == {0.5, 0.99}, r.text[:500]
    values = [p["value"] for s in r.json()["series"] for p in s["samples"]]
    assert values and all(abs(v - 0.25) < 0.001 for v in values), values  # seconds
    r = waggle.get("/api/metrics/query", params={"q": f"{{ {svc} }} | rate()", **window})
    assert r.status_code == 200, r.text[:500]
    [only] = r.json()["series"]
    assert only["labels"] == [{"key": "__name__", "value": {"stringValue": "rate"}}], only
    assert abs(only["value"] - 6 / 1860) < 1e-6, only
    r = waggle.get("/api/metrics/query_range", params={"q": f"{{ {svc} }} | histogram_over_time(duration)", "step": "60s", **window})
    assert r.status_code == 200, r.text[:500]
    buckets = {s["labels"][-1]["value"]["doubleValue"] for s in r.json()["series"]}
    assert 0.25 <= max(buckets) <= 0.5 and all(s["labels"][-1]["key"] == "__bucket" for s in r.json()["series"]), buckets
    for q, status, word in [
        ("{ } | rate() by (", 400, "parse error"),
        ("{ } | compare({ status = error })", 400, "unsupported"),
        ("{ }", 400, "metrics function"),
    ]:
        r = waggle.get("/api/metrics/query_range", params={"q": q, **window})
        assert r.status_code == status and word in r.text, f"{q} -> {r.status_code} {r.text[:300]}"
    r = waggle.get("/api/metrics/query_range", params={"q": "{ } | rate()", "start": str(now), "end": str(now - 10)})
    assert r.status_code == 400 and "start must be before end" in r.text, r.text


def test_tempo_tags_v2_scopes_and_narrowing(waggle: WaggleServer, sent_trace):
    """Grafana's autocomplete: tags by scope, tags and values narrowed by the query typed so far."""
    service = sent_trace["service"]
    q = f'{{ resource.service.name = "{service}" && name = "db.query" }}'
    r = waggle.get("/api/v2/search/tags")
    assert r.status_code == 200, r.text[:300]
    scopes = {s["name"]: s["tags"] for s in r.json()["scopes"]}
    assert "service.name" in scopes["resource"] and "db.system" in scopes["span"], scopes
    assert "service.name" not in scopes["span"] and "duration" in scopes["intrinsic"]
    r = waggle.get("/api/v2/search/tags", params={"scope": "resource"})
    assert [s["name"] for s in r.json()["scopes"]] == ["resource"]
    r = waggle.get("/api/v2/search/tags", params={"scope": "span", "q": q})
    [span] = r.json()["scopes"]
    assert "db.system" in span["tags"] and "app.str" not in span["tags"], span
    assert waggle.get("/api/v2/search/tags", params={"scope": "nope"}).status_code == 400
    r = waggle.get("/api/v2/search/tag/span.db.system/values", params={"q": q})
    assert r.json()["tagValues"] == [{"type": "string", "value": "postgresql"}], r.text
    r = waggle.get("/api/v2/search/tag/span.db.rows/values", params={"q": q})
    assert r.json()["tagValues"] == [{"type": "int", "value": "3"}], r.text
    r = waggle.get("/api/v2/search/tag/resource.service.name/values", params={"q": q})
    assert r.json()["tagValues"] == [{"type": "string", "value": service}], r.text
    r = waggle.get("/api/v2/search/tag/status/values")
    assert {"type": "keyword", "value": "error"} in r.json()["tagValues"]
    r = waggle.get("/api/v2/search/tag/name/values", params={"q": q})
    assert r.json()["tagValues"] == [{"type": "string", "value": "db.query"}], r.text


def test_echo(waggle: WaggleServer):
    r = waggle.get("/api/echo")
    assert r.status_code == 200
    assert r.text.strip() == "echo"


# ---- logs ---------------------------------------------------------------------------------


def make_log_pipeline(endpoint: str, service: str, compression: Compression | None = None):
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    exporter = RecordingLogExporter(OTLPLogExporter(endpoint=endpoint, compression=compression, timeout=10))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger(f"e2e.{service}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    return provider, exporter, logger, handler


@pytest.mark.parametrize("compression", [None, Compression.Gzip], ids=["plain", "gzip"])
def test_python_logs_land(waggle: WaggleServer, compression):
    log_service = new_service("e2e-logs")
    provider, exporter, logger, handler = make_log_pipeline(
        waggle.otlp_http_url + "/v1/logs", log_service, compression
    )
    try:
        for i in range(5):
            logger.info("plain log line %d", i, extra={"app.line": i})
        logger.error("something failed", extra={"app.flag": True})
        assert provider.force_flush(30_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    assert exporter.results and all(r == LogRecordExportResult.SUCCESS for r in exporter.results), exporter.results
    assert exporter.count == 6
    got = waggle.wait_dataset_count(log_service, 6)
    assert got == 6, f"dataset {log_service!r} has {got} events, expected 6: {waggle.datasets()}"


def honeycomb_count(waggle: WaggleServer, dataset: str, filters: list[dict]) -> int:
    """COUNT of events matching `filters` in `dataset`, through the Honeycomb Query Data API
    (create query, create result, poll the result until complete; all bounded)."""
    # An explicit window around now (the events were just written).
    now_s = int(time.time())
    spec = {"calculations": [{"op": "COUNT"}], "filters": filters, "start_time": now_s - 3600, "end_time": now_s + 60}
    r = requests.post(f"{waggle.http_url}/1/queries/{dataset}", json=spec, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, f"/1/queries -> {r.status_code} {r.text[:300]}"
    r = requests.post(
        f"{waggle.http_url}/1/query_results/{dataset}", json={"query_id": r.json()["id"]}, timeout=HTTP_TIMEOUT_S
    )
    assert r.status_code == 201, f"/1/query_results -> {r.status_code} {r.text[:300]}"
    result_id = r.json()["id"]
    deadline = time.monotonic() + 10
    while True:
        got = waggle.get(f"/1/query_results/{dataset}/{result_id}")
        assert got.status_code == 200, got.text[:300]
        body = got.json()
        if body.get("complete") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body.get("complete"), body
    results = body["data"]["results"]
    return int(results[0]["data"]["COUNT"]) if results else 0


def test_log_inside_span_links_to_trace(waggle: WaggleServer):
    """A log emitted inside a span carries its trace and span id (Honeycomb: `trace.trace_id`,
    `trace.parent_id` = the span, `meta.annotation_type` = span_event), so it can be found by
    trace. The Tempo view of the trace stays spans only (Waggle documents that logs are left
    out of the rebuilt OTLP): the log neither becomes a span nor changes the span."""
    log_service = new_service("e2e-logs-linked")
    span_service = new_service("e2e-py-logspan")
    marker = uuid.uuid4().hex
    tprovider, texporter = make_provider(waggle.otlp_http_url + "/v1/traces", span_service, None)
    lprovider, lexporter, logger, handler = make_log_pipeline(waggle.otlp_http_url + "/v1/logs", log_service)
    tracer = tprovider.get_tracer("e2e.python")
    try:
        logger.info("outside any span %s", marker)
        with tracer.start_as_current_span("handler-with-log") as span:
            logger.warning("inside span %s", marker)
            ctx = span.get_span_context()
        assert lprovider.force_flush(30_000)
        flush(tprovider, texporter, expected=1)
    finally:
        logger.removeHandler(handler)
        lprovider.shutdown()
        tprovider.shutdown()
    assert all(r == LogRecordExportResult.SUCCESS for r in lexporter.results), lexporter.results
    assert waggle.wait_dataset_count(log_service, 2) == 2, waggle.datasets()

    trace_id, span_id = hex_trace(ctx.trace_id), hex_span(ctx.span_id)
    r, spans = waggle.trace_v2(trace_id, expect_spans=1)
    assert r.status_code == 200, f"/api/v2/traces/{trace_id} -> {r.status_code} {r.text[:500]}"
    assert [s.span_id for s in spans] == [span_id], f"log must not become a span: {spans}"
    assert spans[0].name == "handler-with-log" and spans[0].events == [], spans[0].raw

    by_trace = [{"column": "trace.trace_id", "op": "=", "value": trace_id}]
    assert honeycomb_count(waggle, log_service, by_trace) == 1, "log not findable by its trace id"
    by_span = by_trace + [{"column": "trace.parent_id", "op": "=", "value": span_id}]
    assert honeycomb_count(waggle, log_service, by_span) == 1, "log not linked to its span"
    annotated = [{"column": "meta.annotation_type", "op": "=", "value": "span_event"}]
    assert honeycomb_count(waggle, log_service, annotated) == 1, "only the in-span log is a span_event"
