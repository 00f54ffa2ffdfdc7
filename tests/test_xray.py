"""AWS X-Ray end to end, with the official clients against a running `waggle serve`:
aws-xray-sdk (Flask middleware, UDP segments, centralized sampling over the daemon's TCP
port), boto3 and the aws CLI (the X-Ray API), and the cross-protocol reads (an X-Ray trace
through Tempo and Honeycomb, an OTLP trace through BatchGetTraces).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest
from conftest import POLL_TIMEOUT_S, WaggleServer, poll

# The seed's aws/json/xray.json, kept unedited beside the decoder's fixtures.
SEED_RULE = Path(__file__).resolve().parents[1] / "crates" / "protocols" / "tests" / "fixtures" / "xray" / "seed-xray.json"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
# Bounded wait for the SDK's sampling pollers (rules at once, targets ~10 s later).
SAMPLING_WAIT_S = 40.0


def xray_client(waggle: WaggleServer, **kw):
    return boto3.client(
        "xray",
        endpoint_url=waggle.http_url,
        region_name=REGION,
        config=botocore.config.Config(retries={"max_attempts": 1}),
        **{**KEYS, **kw},
    )


def new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def segment(trace_id: str, name: str = "backend-flask", status: int = 200, **extra) -> dict:
    now = time.time()
    doc = {
        "id": uuid.uuid4().hex[:16],
        "trace_id": trace_id,
        "name": name,
        "start_time": now - 0.05,
        "end_time": now,
        "http": {
            "request": {"method": "GET", "url": f"http://localhost:4567/api/activities/home"},
            "response": {"status": status},
        },
    }
    if status >= 500:
        doc["fault"] = True
    elif status >= 400:
        doc["error"] = True
    doc.update(extra)
    return doc


def send_udp(addr: str, doc: dict | bytes) -> None:
    host, port = addr.rsplit(":", 1)
    body = doc if isinstance(doc, bytes) else b'{"format":"json","version":1}\n' + json.dumps(doc).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(body, (host, int(port)))


def wait_trace(client, trace_id: str, segments: int = 1) -> dict:
    def fetch():
        return client.batch_get_traces(TraceIds=[trace_id])["Traces"]

    traces = poll(fetch, lambda t: bool(t) and len(t[0]["Segments"]) >= segments, POLL_TIMEOUT_S)
    assert traces, f"trace {trace_id} never became readable"
    return traces[0]


# ---- the SDK over UDP -------------------------------------------------------------------


def flask_app(waggle: WaggleServer, sampling: bool):
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
    from flask import Flask

    xray_recorder.configure(
        service="backend-flask",
        daemon_address=waggle.xray_addr,
        sampling=sampling,
        context_missing="LOG_ERROR",
    )
    app = Flask(__name__)
    XRayMiddleware(app, xray_recorder)

    @app.route("/api/activities/home")
    def home():
        with xray_recorder.in_subsegment("mock-data") as sub:
            sub.put_annotation("handle", "andrewbrown")
            sub.put_metadata("result", {"items": 3}, "cruddur")
        return {"ok": True}

    @app.route("/api/boom")
    def boom():
        raise RuntimeError("kaboom")

    return app, xray_recorder


def test_sdk_segments_arrive_over_udp_and_read_back_everywhere(waggle: WaggleServer):
    app, _ = flask_app(waggle, sampling=False)
    client = app.test_client()
    ids = []
    for _ in range(3):
        r = client.get("/api/activities/home")
        assert r.status_code == 200
        ids.append(r.headers["X-Amzn-Trace-Id"].split("Root=")[1].split(";")[0])
    r = client.get("/api/boom")
    assert r.status_code == 500
    boom_id = r.headers["X-Amzn-Trace-Id"].split("Root=")[1].split(";")[0]

    xray = xray_client(waggle)
    trace = wait_trace(xray, ids[0])
    doc = json.loads(trace["Segments"][0]["Document"])
    assert doc["name"] == "backend-flask"
    assert doc["http"]["response"]["status"] == 200
    sub = doc["subsegments"][0]
    assert sub["name"] == "mock-data"
    assert sub["annotations"]["handle"] == "andrewbrown"
    assert sub["metadata"]["cruddur"]["result"] == {"items": 3}

    boom = json.loads(wait_trace(xray, boom_id)["Segments"][0]["Document"])
    assert boom["fault"] is True
    assert boom["cause"]["exceptions"][0]["type"] == "RuntimeError"

    # The same trace through Tempo (OTLP JSON) and a Honeycomb query.
    hex_id = ids[0][2:].replace("-", "")
    resp, spans = waggle.trace_v2(hex_id, expect_spans=2)
    assert resp.status_code == 200 and len(spans) >= 2
    q = waggle.get("/api/waggle/datasets").json()
    assert any(d["name"] == "backend-flask" for d in q["datasets"])

    # Summaries with filter expressions over what the SDK sent.
    now = time.time()
    got = xray.get_trace_summaries(StartTime=now - 600, EndTime=now + 5,
                                   FilterExpression='service("backend-flask") { fault }')
    assert [s["Id"] for s in got["TraceSummaries"]] == [boom_id]
    got = xray.get_trace_summaries(StartTime=now - 600, EndTime=now + 5,
                                   FilterExpression='annotation.handle = "andrewbrown"')
    assert set(ids) <= {s["Id"] for s in got["TraceSummaries"]}

    stats = waggle.get("/api/waggle/stats").json()["receivers"]["xray"]
    assert stats["segments_accepted"] >= 4


def test_centralized_sampling_follows_the_seed_rule(waggle: WaggleServer, tmp_path: Path):
    rule = json.loads(SEED_RULE.read_text())
    rule["SamplingRule"]["RuleName"] = "Cruddur"
    path = tmp_path / "xray.json"
    path.write_text(json.dumps(rule))
    out = aws_cli(waggle, "xray", "create-sampling-rule", "--cli-input-json", f"file://{path}")
    assert out["SamplingRuleRecord"]["SamplingRule"]["RuleName"] == "Cruddur"

    app, recorder = flask_app(waggle, sampling=True)
    client = app.test_client()
    # The SDK fetches rules at its first request, then reports statistics every ~10 s.
    sampled_by = set()
    deadline = time.monotonic() + SAMPLING_WAIT_S
    xray = xray_client(waggle)
    while time.monotonic() < deadline:
        r = client.get("/api/activities/home")
        header = r.headers.get("X-Amzn-Trace-Id", "")
        # The middleware answers with the trace's Root; an unsampled request carries the
        # SDK's dummy id (all zeros) and sends nothing.
        tid = header.split("Root=")[1].split(";")[0] if "Root=" in header else ""
        if tid and not tid.startswith("1-00000000-"):
            time.sleep(0.2)  # UDP: the datagram is in flight, not acknowledged
            docs = xray.batch_get_traces(TraceIds=[tid])["Traces"]
            for t in docs:
                for s in t["Segments"]:
                    d = json.loads(s["Document"])
                    name = d.get("aws", {}).get("xray", {}).get("sampling_rule_name")
                    if name:
                        sampled_by.add(name)
        summaries = xray.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]
        if "Cruddur" in sampled_by and any(s["RuleName"] == "Cruddur" and s["RequestCount"] > 0 for s in summaries):
            break
        time.sleep(0.5)
    assert "Cruddur" in sampled_by, "no segment was sampled by the seed's rule"
    summaries = xray.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]
    cruddur = [s for s in summaries if s["RuleName"] == "Cruddur"]
    assert cruddur and cruddur[0]["RequestCount"] > 0, summaries


# ---- the API with boto3 and the CLI -------------------------------------------------------


def aws_cli(waggle: WaggleServer, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL_XRAY=waggle.http_url,
        AWS_MAX_ATTEMPTS="1",
    )
    p = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, f"aws {' '.join(args)} failed: {p.stderr}"
    return json.loads(p.stdout) if p.stdout.strip() else {}


def test_cli_seed_group_and_rules(waggle: WaggleServer):
    expr = 'service("backend-flask") {fault OR error}'
    out = aws_cli(waggle, "xray", "create-group", "--group-name", "Cruddur", "--filter-expression", expr)
    assert out["Group"]["GroupName"] == "Cruddur"
    assert out["Group"]["FilterExpression"] == expr
    groups = aws_cli(waggle, "xray", "get-groups")["Groups"]
    assert {"Default", "Cruddur"} <= {g["GroupName"] for g in groups}
    rules = aws_cli(waggle, "xray", "get-sampling-rules")["SamplingRuleRecords"]
    assert "Default" in {r["SamplingRule"]["RuleName"] for r in rules}
    # A bad expression is refused with AWS's error type.
    env_fail = subprocess.run(
        [sys.executable, "-m", "awscli", "xray", "create-group", "--group-name", "Bad",
         "--filter-expression", 'service("x" {'],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
             "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL_XRAY": waggle.http_url},
        capture_output=True, text=True, timeout=60,
    )
    assert env_fail.returncode != 0 and "InvalidRequestException" in env_fail.stderr


def test_boto3_put_summaries_paging_graphs(waggle: WaggleServer):
    xray = xray_client(waggle)
    ids = []
    docs = []
    for i in range(120):
        tid = new_trace_id()
        ids.append(tid)
        root = segment(tid, status=500 if i % 10 == 0 else 200)
        child = segment(tid, name="mock-db", parent_id=root["id"])
        child["origin"] = "AWS::DynamoDB::Table"
        docs += [json.dumps(root), json.dumps(child)]
    docs.append("{not json")
    docs.append(json.dumps({"name": "x"}))
    out = xray.put_trace_segments(TraceSegmentDocuments=docs)
    codes = sorted(u["ErrorCode"] for u in out["UnprocessedTraceSegments"])
    assert codes == ["JSONFormatError", "MissingParam"], out

    now = time.time()
    pages = xray.get_paginator("get_trace_summaries").paginate(StartTime=now - 300, EndTime=now + 5)
    seen = [s["Id"] for page in pages for s in page["TraceSummaries"]]
    assert set(ids) <= set(seen), f"{len(set(ids) - set(seen))} traces missing from the pages"
    assert len(seen) == len(set(seen)), "a trace was listed on two pages"

    faults = xray.get_trace_summaries(StartTime=now - 300, EndTime=now + 5,
                                      FilterExpression="fault AND http.status = 500")
    # (Other tests of this module share the server: only this batch's traces are compared.)
    assert {s["Id"] for s in faults["TraceSummaries"]} & set(ids) == set(ids[::10])
    assert all(s["HasFault"] for s in faults["TraceSummaries"])

    got = xray.batch_get_traces(TraceIds=ids[:2] + ["1-00000000-000000000000000000000000"])
    assert len(got["Traces"]) == 2
    assert got["UnprocessedTraceIds"] == ["1-00000000-000000000000000000000000"]

    graph = xray.get_trace_graph(TraceIds=ids[:5])
    names = {s.get("Name") for s in graph["Services"]}
    assert {"backend-flask", "mock-db"} <= names, graph

    sg = xray.get_service_graph(StartTime=now - 300, EndTime=now + 5)
    node = next(s for s in sg["Services"] if s.get("Name") == "backend-flask")
    assert node["SummaryStatistics"]["FaultStatistics"]["TotalCount"] >= 12
    assert any(e for e in node["Edges"])

    series = xray.get_time_series_service_statistics(
        StartTime=now - 300, EndTime=now + 60, Period=60,
        EntitySelectorExpression='service("backend-flask")')
    total = sum(p.get("ServiceSummaryStatistics", {}).get("TotalCount", 0)
                for p in series["TimeSeriesServiceStatistics"])
    assert total >= 120

    with pytest.raises(botocore.exceptions.ClientError) as e:
        xray.get_trace_summaries(StartTime=now - 300, EndTime=now, FilterExpression="service(")
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "position" in e.value.response["Error"]["Message"]


def test_otlp_trace_through_batch_get_traces(waggle: WaggleServer):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "otel-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=waggle.otlp_http_url + "/v1/traces")))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /x") as span:
        span.set_attribute("http.method", "GET")
        span.set_attribute("http.status_code", 200)
        hex_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    xid = f"1-{hex_id[:8]}-{hex_id[8:]}"
    trace = wait_trace(xray_client(waggle), xid)
    assert trace["Id"] == xid
    doc = json.loads(trace["Segments"][0]["Document"])
    assert doc["name"] == "otel-svc"


def test_hostile_datagrams_are_counted_and_neighbours_kept(waggle: WaggleServer):
    before = waggle.get("/api/waggle/stats").json()["receivers"]["xray"]["datagrams_dropped"]
    for bad in [b"", b"no header", b'{"format":"json","version":2}\n{}', b"{\"format\":\"json\",\"version\":1}\n{",
                b'{"format":"json","version":1}\n' + b"[" * 5000, b"\xff\xfe\n\xff", b"x" * 65600]:
        try:
            send_udp(waggle.xray_addr, bad)
        except OSError:
            pass  # the 65 KiB one may be refused by the kernel: fine
    tid = new_trace_id()
    send_udp(waggle.xray_addr, segment(tid))
    wait_trace(xray_client(waggle), tid)
    after = poll(lambda: waggle.get("/api/waggle/stats").json()["receivers"]["xray"]["datagrams_dropped"],
                 lambda d: sum(d.values()) >= sum(before.values()) + 5, POLL_TIMEOUT_S)
    assert sum(after.values()) >= sum(before.values()) + 5, after
    waggle.echo_ok()


def test_sigv4_is_verified_when_credentials_are_configured(waggle_factory):
    server = waggle_factory()
    server.extra_args = ["--aws-credentials", "AKIDWAGGLE:right-secret"]
    server.start()
    try:
        good = boto3.client("xray", endpoint_url=server.http_url, region_name=REGION,
                            aws_access_key_id="AKIDWAGGLE", aws_secret_access_key="right-secret",
                            config=botocore.config.Config(retries={"max_attempts": 1}))
        assert "Groups" in good.get_groups()
        for key, secret, code in [("AKIDWAGGLE", "wrong", "InvalidSignatureException"),
                                  ("AKIDOTHER", "right-secret", "UnrecognizedClientException")]:
            bad = boto3.client("xray", endpoint_url=server.http_url, region_name=REGION,
                               aws_access_key_id=key, aws_secret_access_key=secret,
                               config=botocore.config.Config(retries={"max_attempts": 1}))
            with pytest.raises(botocore.exceptions.ClientError) as e:
                bad.get_groups()
            assert e.value.response["Error"]["Code"] == code
        # Hand-signed requests (botocore's signer): the wrong service in the scope and a body
        # changed after signing are refused.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        import requests

        def signed(service: str, body: bytes, send: bytes | None = None):
            req = AWSRequest(method="POST", url=f"{server.http_url}/Groups", data=body,
                             headers={"Content-Type": "application/json"})
            SigV4Auth(Credentials("AKIDWAGGLE", "right-secret"), service, REGION).add_auth(req)
            headers = dict(req.headers.items())
            return requests.post(f"{server.http_url}/Groups", data=send if send is not None else body,
                                 headers=headers, timeout=10)

        assert signed("xray", b"{}").status_code == 200
        wrong_service = signed("logs", b"{}")
        assert wrong_service.status_code in (400, 403), wrong_service.text
        assert wrong_service.headers.get("x-amzn-ErrorType", "").startswith("InvalidSignatureException"), wrong_service.headers
        changed = signed("xray", b"{}", send=b'{"NextToken":"x"}')
        assert changed.status_code == 403, changed.text
        assert changed.headers.get("x-amzn-ErrorType", "").startswith("InvalidSignatureException"), changed.headers
        # The SDK's unsigned sampling poll is still served.
        r = requests.post(f"http://{server.xray_addr}/GetSamplingRules", data=b"{}", timeout=10)
        assert r.status_code == 200 and "SamplingRuleRecords" in r.json()
    finally:
        server.terminate()
