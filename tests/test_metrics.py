"""OTLP metrics from the Python SDK's OTLP/HTTP metric exporter land as Honeycomb-style metric
events (one per data point, a column named after the metric) in the dataset named by
`x-honeycomb-dataset`, and can be queried through the Honeycomb Query Data API."""

from __future__ import annotations

import time
import uuid

import requests
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from conftest import WaggleServer


def test_python_metrics_land_and_are_queryable(waggle: WaggleServer):
    dataset = f"metrics-{uuid.uuid4().hex[:6]}"
    exporter = OTLPMetricExporter(
        endpoint=waggle.otlp_http_url + "/v1/metrics",
        headers={"x-honeycomb-dataset": dataset},
        timeout=10,
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "backend-flask"}), metric_readers=[reader])
    meter = provider.get_meter("e2e.metrics")
    requests_total = meter.create_counter("app.requests", unit="1")
    latency = meter.create_histogram("app.latency", unit="ms")
    for route, n in (("/api/activities/home", 3), ("/api/messages", 2)):
        requests_total.add(n, {"http.route": route})
        for i in range(n):
            latency.record(10.0 * (i + 1), {"http.route": route})
    assert provider.force_flush(30_000)
    provider.shutdown()

    got = waggle.wait_dataset_count(dataset, 4)
    assert got >= 4, f"expected counter and histogram points for two routes, got {got}"

    spec = {
        "calculations": [{"op": "MAX", "column": "app.requests"}, {"op": "MAX", "column": "app.latency.count"}],
        "breakdowns": ["http.route"],
        "start_time": int(time.time()) - 600,
        "end_time": int(time.time()) + 60,
    }
    q = requests.post(f"{waggle.http_url}/1/queries/{dataset}", json=spec, timeout=15)
    assert q.status_code == 200, q.text
    r = requests.post(
        f"{waggle.http_url}/1/query_results/{dataset}",
        json={"query_id": q.json()["id"], "disable_series": True},
        timeout=15,
    )
    assert r.status_code == 201, r.text
    rows = {row["data"]["http.route"]: row["data"] for row in r.json()["data"]["results"]}
    assert rows["/api/activities/home"]["MAX(app.requests)"] == 3
    assert rows["/api/messages"]["MAX(app.requests)"] == 2
    assert rows["/api/activities/home"]["MAX(app.latency.count)"] == 3
