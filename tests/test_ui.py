"""The web UI in a real browser: Debian's chromium, headless, driven by playwright-core
(tests/ui/scenarios.mjs), against a `waggle demo` (Cruddur's traffic: OTel spans, X-Ray
segments, Rollbar items, CloudWatch log events, the seed's sampling rule and group) that the
official Python clients fill further — the OpenTelemetry SDK (a trace with an error), boto3
(log events on that trace), pyrollbar (an exception on that trace) and a 10,000-span trace
over OTLP/HTTP JSON for the waterfall's speed.

Each scenario is one node process that fails on any console error, page error or failed
request, and saves screenshots to tests/ui/artifacts/ (looked at by a person before the UI is
called done). Other servers cover the empty install and the UI token."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
import rollbar

from conftest import HTTP_TIMEOUT_S, WaggleServer, poll

UI_DIR = Path(__file__).parent / "ui"
ARTIFACTS = UI_DIR / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# One scenario's bound (our choice: each takes a few seconds; chromium's start is most of it).
SCENARIO_TIMEOUT_S = 120
SERVICE = "ui-shop"
LOG_GROUP = "ui-tests"
BIG_TRACE_SPANS = 10_000
COMPARE_SERVICE = "ui-order"
LOOP_SERVICE = "ui-stock"  # calls itself: a self-loop on the service map

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and (UI_DIR / "node_modules" / "playwright-core").exists()),
    reason="chromium or playwright-core missing (scripts/test-all.sh installs both)",
)


def otel_trace(srv: WaggleServer) -> tuple[str, str, str]:
    """A checkout trace from the OpenTelemetry SDK: root → two children, one failing.
    Returns (trace id, failing span id, root span id)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=srv.otlp_http_url + "/v1/traces")))
    tracer = provider.get_tracer("ui-test")
    with tracer.start_as_current_span("POST /checkout", attributes={"http.route": "/checkout"}) as root:
        ctx = root.get_span_context()
        with tracer.start_as_current_span("load cart") as s:
            s.set_attribute("cart.items", 3)
            time.sleep(0.01)
        with tracer.start_as_current_span("charge card") as s:
            failing = f"{s.get_span_context().span_id:016x}"
            s.add_event("card declined", {"reason": "insufficient funds"})
            s.set_status(Status(StatusCode.ERROR, "declined"))
            time.sleep(0.02)
    provider.shutdown()
    return f"{ctx.trace_id:032x}", failing, f"{ctx.span_id:016x}"


def big_trace(srv: WaggleServer) -> str:
    """One trace of BIG_TRACE_SPANS spans (a wide, deep tree), as OTLP/HTTP JSON."""
    trace_id = uuid.uuid4().hex
    rng = random.Random(7)
    start = time.time_ns() - 5_000_000_000
    spans, ids = [], []
    for i in range(BIG_TRACE_SPANS):
        sid = f"{i + 1:016x}"
        parent = "" if i == 0 else ids[rng.randrange(max(0, len(ids) - 50), len(ids))]
        s = start + i * 300_000
        spans.append({
            "traceId": trace_id, "spanId": sid, "parentSpanId": parent,
            "name": f"op-{i % 37}", "kind": 1,
            "startTimeUnixNano": str(s), "endTimeUnixNano": str(s + rng.randrange(100_000, 3_000_000)),
            "attributes": [{"key": "i", "value": {"intValue": str(i)}}],
        })
        ids.append(sid)
    body = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "big-trace"}}]},
        "scopeSpans": [{"spans": spans}]}]}
    r = requests.post(srv.otlp_http_url + "/v1/traces", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return trace_id


def compare_traces(srv: WaggleServer) -> tuple[str, str, int, int]:
    """Two runs of one request for the compare view, as OTLP/HTTP JSON: B adds a coupon step,
    a retried query and a failing render and is slower; A alone has a cache lookup. The stock
    service calls itself (a self-loop). Returns (A, B, A's span count, B's)."""
    # (span, parent, service, name, kind, start ms, end ms, error); kinds: 1 internal, 2 server, 3 client
    a = [
        ("r", "", COMPARE_SERVICE, "POST /order", 2, 0, 120, False),
        ("c", "r", COMPARE_SERVICE, "load cart", 1, 2, 20, False),
        ("g", "r", COMPARE_SERVICE, "GET /stock", 3, 22, 100, False),
        ("s", "g", LOOP_SERVICE, "GET /stock", 2, 24, 98, False),
        ("k", "s", LOOP_SERVICE, "cache lookup", 1, 25, 27, False),
        ("q", "s", LOOP_SERVICE, "SELECT stock", 1, 28, 70, False),
        ("v", "s", LOOP_SERVICE, "reserve", 3, 72, 96, False),
        ("w", "v", LOOP_SERVICE, "POST /reserve", 2, 73, 95, False),
        ("d", "r", COMPARE_SERVICE, "render", 1, 101, 118, False),
    ]
    b = [
        ("r", "", COMPARE_SERVICE, "POST /order", 2, 0, 190, False),
        ("c", "r", COMPARE_SERVICE, "load cart", 1, 2, 18, False),
        ("p", "r", COMPARE_SERVICE, "apply coupon", 1, 19, 35, False),
        ("g", "r", COMPARE_SERVICE, "GET /stock", 3, 36, 170, False),
        ("s", "g", LOOP_SERVICE, "GET /stock", 2, 38, 168, False),
        ("q", "s", LOOP_SERVICE, "SELECT stock", 1, 40, 120, False),
        ("t", "s", LOOP_SERVICE, "SELECT stock", 1, 121, 140, False),
        ("v", "s", LOOP_SERVICE, "reserve", 3, 141, 166, False),
        ("w", "v", LOOP_SERVICE, "POST /reserve", 2, 142, 165, False),
        ("d", "r", COMPARE_SERVICE, "render", 1, 171, 188, True),
    ]
    ids = []
    for n, (spans, ago_s) in enumerate(((a, 20), (b, 10))):
        trace_id = uuid.uuid4().hex
        base = time.time_ns() - ago_s * 1_000_000_000
        sid = {key: f"{n + 1:02x}{i + 1:014x}" for i, (key, *_rest) in enumerate(spans)}
        by_service: dict[str, list[dict]] = {}
        for key, parent, service, name, kind, start, end, error in spans:
            span = {
                "traceId": trace_id, "spanId": sid[key], "parentSpanId": sid[parent] if parent else "",
                "name": name, "kind": kind,
                "startTimeUnixNano": str(base + start * 1_000_000), "endTimeUnixNano": str(base + end * 1_000_000),
                "attributes": [{"key": "run", "value": {"stringValue": "AB"[n]}}],
            }
            if error:
                span["status"] = {"code": 2, "message": "template missing"}
            by_service.setdefault(service, []).append(span)
        body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                                   "scopeSpans": [{"spans": group}]} for svc, group in by_service.items()]}
        r = requests.post(srv.otlp_http_url + "/v1/traces", json=body, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
        ids.append(trace_id)
    return ids[0], ids[1], len(a), len(b)


def log_events(srv: WaggleServer, trace_id: str, span_id: str) -> None:
    """boto3: a group with events on the trace and plain ones, for filtering."""
    logs = boto3.client("logs", endpoint_url=srv.http_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="web-1")
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - 3000, "message": json.dumps({"level": "INFO", "msg": "checkout started", "trace_id": trace_id, "span_id": span_id})},
        {"timestamp": now - 2000, "message": json.dumps({"level": "ERROR", "msg": "card declined", "trace_id": trace_id, "span_id": span_id})},
    ] + [{"timestamp": now - 1000 + i, "message": f"GET /health 200 {i}"} for i in range(8)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="web-1", logEvents=events)


def rollbar_error(srv: WaggleServer, trace_id: str, span_id: str) -> str:
    """pyrollbar: a real exception on the failing span. Returns the occurrence uuid."""
    saved = dict(rollbar.SETTINGS)
    rollbar.init("ui-token", "production", endpoint=srv.http_url + "/api/1/", handler="blocking",
                 root=str(Path(__file__).parent), allow_logging_basic_config=False,
                 suppress_reinit_warning=True)
    rollbar.SETTINGS["endpoint"] = srv.http_url + "/api/1/"
    rollbar.SETTINGS["access_token"] = "ui-token"
    try:
        try:
            raise ValueError("card declined: insufficient funds")
        except ValueError:
            return rollbar.report_exc_info(sys.exc_info(), extra_data={"trace_id": trace_id, "span_id": span_id})
    finally:
        rollbar.SETTINGS.clear()
        rollbar.SETTINGS.update(saved)


def item_counter(srv: WaggleServer, occurrence: str) -> int:
    def find():
        items = requests.get(srv.http_url + "/api/1/items", headers={"X-Rollbar-Access-Token": "x"},
                             timeout=HTTP_TIMEOUT_S).json()["result"]["items"]
        return [i["counter"] for i in items if "card declined" in i["title"]]
    return poll(find, bool, 30)[0]


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    base = tmp_path_factory.mktemp("ui")
    demo = WaggleServer(base / "demo", base / "demo-logs",
                        ["--cruddur-addr", "127.0.0.1:0", "--rate", "10"], command="demo").start()
    empty = WaggleServer(base / "empty", base / "empty-logs").start()
    keyed = WaggleServer(base / "keyed", base / "keyed-logs", ["--api-key", "ui-secret-key"]).start()
    try:
        trace_id, failing, root = otel_trace(demo)
        log_events(demo, trace_id, failing)
        occurrence = rollbar_error(demo, trace_id, failing)
        counter = item_counter(demo, occurrence)
        big = big_trace(demo)
        compare_a, compare_b, spans_a, spans_b = compare_traces(demo)
        demo.trace_v1(big, expect_spans=BIG_TRACE_SPANS, timeout=60)
        demo.trace_v1(trace_id, expect_spans=3)
        demo.trace_v1(compare_a, expect_spans=spans_a)
        demo.trace_v1(compare_b, expect_spans=spans_b)
        # The demo's own traffic: an X-Ray service graph and log events take a few seconds.
        poll(lambda: requests.get(demo.http_url + "/api/waggle/datasets", timeout=5).json()["datasets"],
             lambda d: {"backend-flask", "cruddur", SERVICE} <= {x["name"] for x in d}, 60)
        doc = {
            "url": demo.http_url, "empty_url": empty.http_url, "keyed_url": keyed.http_url,
            "api_key": "ui-secret-key", "trace_id": trace_id, "failing_span": failing,
            "root_span": root, "big_trace": big, "big_spans": BIG_TRACE_SPANS,
            "item_counter": counter, "service": SERVICE, "log_group": LOG_GROUP,
            "artifacts": str(ARTIFACTS),
            "compare_a": compare_a, "compare_b": compare_b, "compare_service": COMPARE_SERVICE,
            "loop_service": LOOP_SERVICE,
        }
        path = base / "facts.json"
        path.write_text(json.dumps(doc))
        yield path
    finally:
        for s in (demo, empty, keyed):
            s.terminate()


SCENARIOS = [
    "home", "empty_install", "token", "query_and_back", "heatmap_bubbleup", "trace_search_and_view",
    "trace_compare", "big_trace", "service_map", "sampling_and_groups", "errors_resolve", "item_page",
    "logs_filter", "logs_insights", "live_tail",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ui(facts: Path, scenario: str):
    env = {**os.environ, "UI_FACTS": str(facts), "CHROMIUM": CHROMIUM}
    p = subprocess.run(["node", str(UI_DIR / "scenarios.mjs"), scenario], cwd=UI_DIR, env=env,
                       capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S)
    print(p.stdout)
    assert p.returncode == 0, f"{scenario} failed:\n{p.stdout}\n{p.stderr}"
