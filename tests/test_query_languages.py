"""One question, three languages: a Honeycomb query, an X-Ray filter expression and a
TraceQL query that mean the same thing return the same traces (issue 14, item 3).

Traces come from the OpenTelemetry Python SDK over OTLP/HTTP; the Honeycomb query runs
through `/1/queries` (broken down by `trace.trace_id`), the X-Ray expression through boto3's
`GetTraceSummaries`, and TraceQL through Tempo's `/api/search`. All three compile to the
same plan; this checks they agree with each other and with the traces each row should find.
"""

from __future__ import annotations

import time
import uuid

import boto3
import botocore.config
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from conftest import WaggleServer

MS = 1_000_000

# name: (root status code, root duration ms, root span status error?, child error?, url)
TRACES = {
    "ok-fast": (200, 100, False, False, "http://api/a"),
    "boom": (500, 300, True, False, "http://api/b"),
    "slow-child-error": (200, 400, False, True, "http://api/a/slow"),
    "missing": (404, 50, False, False, "http://api/c"),
    "throttled": (429, 20, False, False, "http://api/a"),
    "slowish": (200, 250, False, False, "http://api/d"),
}


@pytest.fixture(scope="module")
def traces(waggle: WaggleServer):
    service = f"lang-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=waggle.otlp_http_url + "/v1/traces", timeout=10)))
    tracer = provider.get_tracer("e2e.languages")
    ids: dict[str, str] = {}
    t0 = time.time_ns() - 60_000 * MS
    for i, (name, (status, dur_ms, root_err, child_err, url)) in enumerate(TRACES.items()):
        start = t0 + i * 1_000 * MS
        root = tracer.start_span(
            "GET " + url, kind=SpanKind.SERVER, start_time=start,
            attributes={"http.status_code": status, "http.url": url, "http.method": "GET"},
        )
        child = tracer.start_span("db.query", kind=SpanKind.CLIENT, context=set_span_in_context(root), start_time=start + MS)
        if child_err:
            child.set_status(Status(StatusCode.ERROR, "db failed"))
        child.end(end_time=start + 2 * MS)
        if root_err:
            root.set_status(Status(StatusCode.ERROR, "server error"))
        root.end(end_time=start + dur_ms * MS)
        ids[name] = f"{root.get_span_context().trace_id:032x}"
    assert provider.force_flush(30_000)
    provider.shutdown()
    deadline = time.monotonic() + 30
    while waggle.dataset_count(service) < 2 * len(TRACES) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {"service": service, "ids": ids, "start": t0 // 1_000_000_000 - 5, "end": time.time_ns() // 1_000_000_000 + 5}


def honeycomb(waggle: WaggleServer, t: dict, filters: list[dict], combination: str = "AND") -> set[str]:
    spec = {
        "calculations": [{"op": "COUNT"}],
        "breakdowns": ["trace.trace_id"],
        "filters": filters,
        "filter_combination": combination,
        "start_time": t["start"],
        "end_time": t["end"],
        "limit": 1000,
    }
    ds = t["service"]
    r = requests.post(f"{waggle.http_url}/1/queries/{ds}", json=spec, timeout=15)
    assert r.status_code == 200, r.text
    r = requests.post(f"{waggle.http_url}/1/query_results/{ds}", json={"query_id": r.json()["id"], "disable_series": True}, timeout=30)
    assert r.status_code == 201, r.text
    return {str(row["data"]["trace.trace_id"]).lower() for row in r.json()["data"]["results"] if row["data"].get("trace.trace_id")}


def xray(waggle: WaggleServer, t: dict, expression: str) -> set[str]:
    client = boto3.client(
        "xray", endpoint_url=waggle.http_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    out: set[str] = set()
    # OTel trace ids carry no X-Ray epoch, so the window is on event time (as for any
    # non-X-Ray id in the real service).
    kwargs = {
        "StartTime": t["start"], "EndTime": t["end"], "TimeRangeType": "Event",
        "FilterExpression": f'service("{t["service"]}") AND ({expression})',
    }
    for page in client.get_paginator("get_trace_summaries").paginate(**kwargs):
        for s in page["TraceSummaries"]:
            _, epoch, rest = s["Id"].split("-")
            out.add((epoch + rest).lower())
    return out


def traceql(waggle: WaggleServer, t: dict, query: str) -> set[str]:
    q = f'{{ resource.service.name = "{t["service"]}" }} && ({query})'
    r = waggle.get("/api/search", params={"q": q, "start": str(t["start"]), "end": str(t["end"]), "limit": "1000"})
    assert r.status_code == 200, f"{q} -> {r.status_code} {r.text[:400]}"
    return {str(x["traceID"]).lower().rjust(32, "0") for x in r.json()["traces"] or []}


# (what the question is, Honeycomb filters [+ combination], X-Ray expression, TraceQL, expected traces)
TRIPLES = [
    ("every trace", [], "ok OR error OR fault OR throttle", "{ }", set(TRACES)),
    (
        "root response slower than 200 ms",
        [{"column": "root.duration_ms", "op": ">", "value": 200}],
        "responsetime > 0.2",
        "{ nestedSetParent < 0 && duration > 200ms }",
        {"boom", "slow-child-error", "slowish"},
    ),
    (
        "root answered 404",
        [{"column": "root.http.status_code", "op": "=", "value": 404}],
        "http.status = 404",
        "{ nestedSetParent < 0 && span.http.status_code = 404 }",
        {"missing"},
    ),
    (
        "root faulted (5xx or error status)",
        ([{"column": "root.http.status_code", "op": ">=", "value": 500}, {"column": "root.status_code", "op": "=", "value": 2}], "OR"),
        "fault",
        "{ nestedSetParent < 0 && (span.http.status_code >= 500 || status = error) }",
        {"boom"},
    ),
    (
        "root URL contains api/a",
        [{"column": "root.http.url", "op": "contains", "value": "api/a"}],
        'http.url CONTAINS "api/a"',
        '{ nestedSetParent < 0 && span.http.url =~ ".*api/a.*" }',
        {"ok-fast", "slow-child-error", "throttled"},
    ),
    (
        "root throttled",
        [{"column": "root.http.status_code", "op": "=", "value": 429}],
        "throttle",
        "{ nestedSetParent < 0 && span.http.status_code = 429 }",
        {"throttled"},
    ),
    (
        "trace longer than 280 ms",
        [{"column": "root.duration_ms", "op": ">", "value": 280}],
        "duration > 0.28",
        "{ traceDuration > 280ms }",
        {"boom", "slow-child-error"},
    ),
]


@pytest.mark.parametrize("triple", TRIPLES, ids=[t[0] for t in TRIPLES])
def test_three_languages_find_the_same_traces(waggle: WaggleServer, traces, triple):
    _, hc, xr, tql, expected_names = triple
    filters, combination = hc if isinstance(hc, tuple) else (hc, "AND")
    want = {traces["ids"][n] for n in expected_names}
    got_hc = honeycomb(waggle, traces, filters, combination)
    got_xr = xray(waggle, traces, xr)
    got_tql = traceql(waggle, traces, tql)
    names = {v: k for k, v in traces["ids"].items()}
    show = lambda s: sorted(names.get(x, x) for x in s)  # noqa: E731
    assert got_hc == want, f"Honeycomb: {show(got_hc)} != {show(want)}"
    assert got_xr == want, f"X-Ray: {show(got_xr)} != {show(want)}"
    assert got_tql == want, f"TraceQL: {show(got_tql)} != {show(want)}"
