"""Honeycomb-style questions over traces sent by the Python OTel exporter, asked through
Waggle's Honeycomb Query Data API (`/1/queries` + `/1/query_results`), the management APIs
(columns, datasets, markers, derived columns), BubbleUp, and the `waggle query` CLI.

The traces are Cruddur-like: Flask server spans named after the URL rule with `http.route`,
`http.status_code`, and a child span carrying the custom attributes `handle` and `uuid`
(the seed's `app.*` attributes in Honeycomb)."""

from __future__ import annotations

import math
import subprocess
import time
import uuid
from urllib.parse import urljoin

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import WaggleServer, waggle_bin

ROUTES = {
    # route: (count, base duration ms, status)
    "/api/activities/home": (40, 20, 200),
    "/api/activities/notifications": (25, 35, 200),
    "/api/activities/@<string:handle>": (20, 50, 200),
    "/api/activities/<string:activity_uuid>": (5, 80, 500),
}
HANDLES = ["andrewbrown", "worf", "garek"]


def lower_percentile(values: list[float], q: float) -> float:
    """Smallest value whose cumulative share reaches q (the weighted lower percentile with
    equal weights)."""
    s = sorted(values)
    idx = max(0, math.ceil(q * len(s)) - 1)
    return s[idx]


@pytest.fixture(scope="module")
def cruddur(waggle: WaggleServer):
    service = f"backend-flask-{uuid.uuid4().hex[:6]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=waggle.otlp_http_url + "/v1/traces")))
    tracer = provider.get_tracer("opentelemetry.instrumentation.flask", "0.66b1")
    now = time.time_ns() - 60 * 1_000_000_000
    durations: dict[str, list[float]] = {}
    handle_counts: dict[str, int] = {}
    n = 0
    for route, (count, base, status) in ROUTES.items():
        for i in range(count):
            start = now + n * 1_000_000
            dur_ns = (base + (i * 7) % 30) * 1_000_000 + 1_000
            root = tracer.start_span(
                route,
                kind=SpanKind.SERVER,
                start_time=start,
                attributes={"http.route": route, "http.method": "GET", "http.status_code": status},
            )
            if status >= 500:
                root.set_status(Status(StatusCode.ERROR))
            from opentelemetry import trace as trace_api

            handle = HANDLES[n % len(HANDLES)]
            handle_counts[handle] = handle_counts.get(handle, 0) + 1
            with trace_api.use_span(root, end_on_exit=False):
                child = tracer.start_span(
                    "home-activities-mock-data",
                    start_time=start + 1_000,
                    attributes={"handle": handle, "uuid": str(uuid.uuid4())},
                )
                child.end(end_time=start + dur_ns // 2)
            root.end(end_time=start + dur_ns)
            durations.setdefault(route, []).append(dur_ns / 1e6)
            n += 1
    assert provider.force_flush(30_000)
    provider.shutdown()
    return {"service": service, "durations": durations, "traces": n, "handles": handle_counts}


def run_query(waggle: WaggleServer, dataset: str, spec: dict, **result_opts) -> dict:
    r = requests.post(f"{waggle.http_url}/1/queries/{dataset}", json=spec, timeout=15)
    assert r.status_code == 200, r.text
    qid = r.json()["id"]
    assert qid
    r = requests.post(
        f"{waggle.http_url}/1/query_results/{dataset}", json={"query_id": qid, **result_opts}, timeout=30
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/1/query_results/{dataset}/{r.json()['id']}"
    # Poll the result the way Honeycomb clients do (Location is relative to the server).
    got = requests.get(urljoin(waggle.http_url, r.headers["Location"]), timeout=15)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["complete"] is True
    assert body["query"]["id"] == qid
    assert "query_url" in body["links"]
    return body["data"]


def test_trace_volume_counts_root_spans_over_time(waggle: WaggleServer, cruddur):
    data = run_query(
        waggle,
        "__all__",
        {
            "calculations": [{"op": "COUNT"}],
            "filters": [
                {"column": "trace.parent_id", "op": "does-not-exist"},
                {"column": "service.name", "op": "=", "value": cruddur["service"]},
            ],
            "breakdowns": ["service.name"],
            "time_range": 3600,
            "granularity": 60,
        },
    )
    assert data["results"] == [{"data": {"service.name": cruddur["service"], "COUNT": cruddur["traces"]}}]
    assert data["series"], "series should have at least one time bucket"
    assert sum(s["data"]["COUNT"] for s in data["series"]) == cruddur["traces"]
    for s in data["series"]:
        assert s["time"].endswith("Z")


def test_p99_latency_by_route(waggle: WaggleServer, cruddur):
    data = run_query(
        waggle,
        cruddur["service"],
        {
            "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "COUNT"}],
            "filters": [{"column": "http.route", "op": "exists"}],
            "breakdowns": ["http.route"],
            "orders": [{"op": "COUNT", "order": "descending"}],
            "time_range": 3600,
        },
        disable_series=True,
    )
    got = {r["data"]["http.route"]: r["data"] for r in data["results"]}
    assert set(got) == set(ROUTES)
    counts = [r["data"]["COUNT"] for r in data["results"]]
    assert counts == sorted(counts, reverse=True)
    for route, values in cruddur["durations"].items():
        assert got[route]["COUNT"] == len(values)
        assert got[route]["P99(duration_ms)"] == pytest.approx(lower_percentile(values, 0.99), abs=1e-6)


def test_heatmap_of_duration(waggle: WaggleServer, cruddur):
    data = run_query(
        waggle,
        cruddur["service"],
        {
            "calculations": [{"op": "HEATMAP", "column": "duration_ms"}],
            "filters": [{"column": "http.route", "op": "exists"}],
            "time_range": 3600,
        },
        disable_series=True,
    )
    heat = data["results"][0]["data"]["HEATMAP(duration_ms)"]
    total = sum(b["count"] for b in heat["buckets"])
    assert total == cruddur["traces"]
    all_d = [d for v in cruddur["durations"].values() for d in v]
    assert heat["min"] == pytest.approx(min(all_d))
    assert heat["max"] == pytest.approx(max(all_d))


def test_filter_on_custom_span_attribute(waggle: WaggleServer, cruddur):
    for handle, expected in cruddur["handles"].items():
        data = run_query(
            waggle,
            cruddur["service"],
            {"calculations": [{"op": "COUNT"}], "filters": [{"column": "handle", "op": "=", "value": handle}], "time_range": 3600},
            disable_series=True,
        )
        assert data["results"][0]["data"]["COUNT"] == expected, handle
    # Whole-trace predicate: child spans whose trace's root span failed.
    data = run_query(
        waggle,
        cruddur["service"],
        {
            "calculations": [{"op": "COUNT_DISTINCT", "column": "uuid"}],
            "filters": [{"column": "root.http.status_code", "op": ">=", "value": 500}, {"column": "uuid", "op": "exists"}],
            "time_range": 3600,
        },
        disable_series=True,
    )
    assert data["results"][0]["data"]["COUNT_DISTINCT(uuid)"] == ROUTES["/api/activities/<string:activity_uuid>"][0]


def test_invalid_spec_names_the_field(waggle: WaggleServer, cruddur):
    r = requests.post(
        f"{waggle.http_url}/1/queries/{cruddur['service']}",
        json={"calculations": [{"op": "P99"}]},
        timeout=15,
    )
    assert r.status_code == 422, r.text
    assert "calculations[0].column" in r.json()["error"]
    r = requests.post(f"{waggle.http_url}/1/query_results/{cruddur['service']}", json={"query_id": "nope"}, timeout=15)
    assert r.status_code == 404


def test_columns_datasets_markers_derived(waggle: WaggleServer, cruddur):
    ds = cruddur["service"]
    cols = requests.get(f"{waggle.http_url}/1/columns/{ds}", timeout=15).json()
    by_name = {c["key_name"]: c for c in cols}
    assert by_name["http.route"]["type"] == "string"
    assert by_name["http.status_code"]["type"] == "integer"
    assert by_name["duration_ms"]["type"] == "float"
    one = requests.get(f"{waggle.http_url}/1/columns/{ds}", params={"key_name": "handle"}, timeout=15).json()
    assert one["key_name"] == "handle"
    datasets = requests.get(f"{waggle.http_url}/1/datasets", timeout=15).json()
    assert ds in [d["name"] for d in datasets]

    m = requests.post(f"{waggle.http_url}/1/markers/{ds}", json={"message": "deploy 42", "type": "deploy"}, timeout=15)
    assert m.status_code == 201, m.text
    marker = m.json()
    assert len(marker["id"]) == 6 and marker["message"] == "deploy 42"
    listed = requests.get(f"{waggle.http_url}/1/markers/{ds}", timeout=15).json()
    assert [x["id"] for x in listed] == [marker["id"]]
    upd = requests.put(f"{waggle.http_url}/1/markers/{ds}/{marker['id']}", json={"message": "deploy 43"}, timeout=15)
    assert upd.json()["message"] == "deploy 43" and upd.json()["type"] == "deploy"
    assert requests.delete(f"{waggle.http_url}/1/markers/{ds}/{marker['id']}", timeout=15).status_code == 200
    assert requests.get(f"{waggle.http_url}/1/markers/{ds}", timeout=15).json() == []

    bad = requests.post(f"{waggle.http_url}/1/derived_columns/{ds}", json={"alias": "x", "expression": "IF("}, timeout=15)
    assert bad.status_code == 422
    dc = requests.post(
        f"{waggle.http_url}/1/derived_columns/{ds}",
        json={"alias": "slow", "expression": "GT($duration_ms, 60)"},
        timeout=15,
    )
    assert dc.status_code == 201, dc.text
    data = run_query(
        waggle,
        ds,
        {"calculations": [{"op": "COUNT"}], "filters": [{"column": "slow", "op": "=", "value": True}, {"column": "http.route", "op": "exists"}], "time_range": 3600},
        disable_series=True,
    )
    expected = sum(1 for v in cruddur["durations"].values() for d in v if d > 60)
    assert data["results"][0]["data"]["COUNT"] == expected


def test_bubbleup_finds_the_failing_route(waggle: WaggleServer, cruddur):
    r = requests.post(
        f"{waggle.http_url}/api/waggle/bubbleup/{cruddur['service']}",
        json={
            "query": {"time_range": 3600, "filters": [{"column": "http.route", "op": "exists"}]},
            "selection": {"filters": [{"column": "http.status_code", "op": ">=", "value": 500}]},
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["selection_count"] == ROUTES["/api/activities/<string:activity_uuid>"][0]
    route = next(c for c in body["columns"] if c["column"] == "http.route")
    top = max(route["values"], key=lambda v: v["selection_pct"])
    assert top["value"] == "/api/activities/<string:activity_uuid>"
    assert top["selection_pct"] == pytest.approx(100.0)


def test_waggle_query_cli_prints_a_table(waggle: WaggleServer, cruddur):
    out = subprocess.run(
        [
            str(waggle_bin()), "query", "--server", waggle.http_url, "-d", cruddur["service"],
            "--calc", "COUNT", "--calc", "P99(duration_ms)", "--breakdown", "http.route",
            "--where", "http.status_code >= 500", "--range", "2h",
        ],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["http.route", "COUNT", "P99(duration_ms)"]
    assert "/api/activities/<string:activity_uuid>" in out.stdout
    assert len([l for l in lines[2:] if l.strip()]) == 1
    bad = subprocess.run(
        [str(waggle_bin()), "query", "--server", waggle.http_url, "--calc", "P99"],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode != 0 and "calculations[0].column" in bad.stderr


def test_query_result_links_do_not_reflect_the_host_header(waggle: WaggleServer):
    """A caller's `Host` must not reach `Location` or the result's links (others read them,
    and a cache may keep them); a dataset name with URL-special characters is one escaped
    path segment."""
    dataset = f"e2e host?q+{uuid.uuid4().hex[:8]}"
    quoted = requests.utils.quote(dataset, safe="")
    r = requests.post(f"{waggle.http_url}/1/events/{quoted}", json={"duration_ms": 1.0},
                      headers={"X-Honeycomb-Team": "e2e"}, timeout=15)
    assert r.status_code == 200, r.text
    r = requests.post(f"{waggle.http_url}/1/queries/{quoted}", json={"calculations": [{"op": "COUNT"}]},
                      timeout=15)
    assert r.status_code == 200, r.text
    r = requests.post(f"{waggle.http_url}/1/query_results/{quoted}", json={"query_id": r.json()["id"]},
                      headers={"Host": "evil.example:8443"}, timeout=30)
    assert r.status_code == 201, r.text
    body = r.json()
    for url in [r.headers["Location"], *body["links"].values()]:
        assert "evil.example" not in url and url.startswith("/"), url
    assert r.headers["Location"] == f"/1/query_results/{quoted}/{body['id']}"
    got = requests.get(urljoin(waggle.http_url, r.headers["Location"]), timeout=15)
    assert got.status_code == 200 and got.json()["data"]["results"][0]["data"]["COUNT"] == 1, got.text
