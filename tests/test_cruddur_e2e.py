"""End to end: the Rust Cruddur backend with every sink pointed at a running Waggle, real
requests, then everything read back through Waggle's own APIs (Tempo, boto3 X-Ray and
CloudWatch Logs, Rollbar's read API, Honeycomb queries), and one request's trace id linking
its OTel spans, X-Ray segment, log lines and Rollbar occurrence (issue 10's end-to-end list).
Also `waggle demo`, started as a newcomer would, with SIGINT at the end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from conftest import WaggleServer, norm_id, poll, waggle_bin
from cruddur_harness import BASE_ENV, cruddur_factory  # noqa: F401

REGION = "us-east-1"
TOKEN = "local-test-token"
# Telemetry is asynchronous (batches, UDP, a 1 s log flush): generous but bounded.
ARRIVE_S = 30.0
LOG_LINE = re.compile(
    r"^\[\d{4}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}\] 127\.0\.0\.1 (GET|POST) http (\S*)\?(\S*) "
    r"(\d{3}) ([A-Z ]+?)(?: (Root=1-[0-9a-f]{8}-[0-9a-f]{24}.*))?$"
)


def aws(service: str, waggle: WaggleServer):
    return boto3.client(
        service,
        endpoint_url=waggle.http_url,
        region_name=REGION,
        aws_access_key_id="AKIDE2E",
        aws_secret_access_key="secret",
    )


def sinks_env(waggle: WaggleServer, **extra: str) -> dict[str, str]:
    return {
        **BASE_ENV,
        "OTEL_EXPORTER_OTLP_ENDPOINT": waggle.otlp_http_url,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "AWS_XRAY_DAEMON_ADDRESS": waggle.xray_addr,
        "CRUDDUR_XRAY_RULES_SECS": "1",
        "CRUDDUR_XRAY_TARGETS_SECS": "1",
        "ROLLBAR_ACCESS_TOKEN": TOKEN,
        "ROLLBAR_ENDPOINT": waggle.http_url + "/api/1/item/",
        "AWS_ENDPOINT_URL": waggle.http_url,
        "AWS_ACCESS_KEY_ID": "AKIDE2E",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": REGION,
        "CRUDDUR_LOG_FLUSH_SECS": "1",
        **extra,
    }


def root_of(resp: requests.Response) -> str:
    h = resp.headers.get("X-Amzn-Trace-Id", "")
    m = re.match(r"^Root=(1-[0-9a-f]{8}-[0-9a-f]{24})", h)
    assert m, f"X-Amzn-Trace-Id response header: {h!r}"
    return m.group(1)


def w3c(root: str) -> str:
    return root[2:10] + root[11:]


def honeycomb_rows(waggle: WaggleServer, spec: dict) -> list[dict]:
    r = requests.post(f"{waggle.http_url}/1/queries/__all__", json=spec, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{waggle.http_url}/1/query_results/__all__",
        json={"query_id": r.json()["id"], "disable_series": True},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    got = requests.get(f"{waggle.http_url}/1/query_results/__all__/{r.json()['id']}", timeout=10)
    assert got.status_code == 200, got.text
    return [row["data"] for row in got.json()["data"]["results"]]


def signals_of(waggle: WaggleServer, trace_id: str) -> list[dict]:
    return honeycomb_rows(
        waggle,
        {
            "calculations": [{"op": "COUNT"}],
            "filters": [{"column": "trace.trace_id", "op": "=", "value": trace_id}],
            "breakdowns": ["name", "aws.xray.type", "cloudwatch.log_group", "rollbar.item_id"],
            "time_range": 3600,
        },
    )


def rollbar_api(waggle: WaggleServer, path: str) -> dict:
    r = requests.get(waggle.http_url + path, headers={"X-Rollbar-Access-Token": TOKEN}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def tempo_spans(waggle: WaggleServer, trace_id: str) -> list[dict]:
    r = requests.get(f"{waggle.http_url}/api/v2/traces/{trace_id}", timeout=10)
    if r.status_code != 200:
        return []
    body = r.json()
    trace = body.get("trace", body)
    spans = []
    for rs in trace.get("resourceSpans", []) or trace.get("batches", []):
        res = {a["key"]: a["value"] for a in rs.get("resource", {}).get("attributes", [])}
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                s["__scope"] = ss.get("scope", {}).get("name")
                s["__service"] = res.get("service.name", {}).get("stringValue")
                s["__attrs"] = {a["key"]: next(iter(a["value"].values()), None) for a in s.get("attributes", [])}
                spans.append(s)
    return spans


@pytest.fixture(scope="module")
def waggle_e2e(tmp_path_factory):
    root = tmp_path_factory.mktemp("waggle-cruddur")
    server = WaggleServer(root / "data", root / "logs").start()
    try:
        yield server
    finally:
        if server.alive():
            server.terminate()


def test_one_request_one_trace_across_all_four_sinks(waggle_e2e: WaggleServer, cruddur_factory):
    waggle = waggle_e2e
    app = cruddur_factory(env=sinks_env(waggle)).start()
    # Spaced a little over a second apart: the X-Ray reservoir (local default rule, or the
    # Default rule's borrow, or its quota) takes the first request of every second.
    home = app.get("/api/activities/home", headers={"User-Agent": "e2e"})
    assert home.status_code == 200
    time.sleep(1.1)
    warn = app.get("/rollbar/test")
    assert warn.status_code == 200 and warn.text == "Hello World!"
    failures = []
    for _ in range(2):
        time.sleep(1.1)
        r = app.post_json("/api/activities", {"message": "no ttl"})
        assert r.status_code == 500
        failures.append(r)
    time.sleep(1.1)
    users = app.get("/api/activities/@worf")
    assert users.status_code == 200

    # ---- OTel spans through Tempo: names, scopes, attributes ----
    home_id = w3c(root_of(home))
    spans = poll(lambda: tempo_spans(waggle, home_id), lambda s: len(s) >= 2, ARRIVE_S)
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) >= {"/api/activities/home", "home-activites-mock-data"}, list(by_name)
    server = by_name["/api/activities/home"]
    assert server["__scope"] == "opentelemetry.instrumentation.flask"
    assert server["__service"] == "backend-flask"
    a = server["__attrs"]
    assert a["http.method"] == "GET" and a["http.route"] == "/api/activities/home"
    assert a["http.target"] == "/api/activities/home" and a["http.scheme"] == "http"
    assert int(a["http.status_code"]) == 200 and a["http.user_agent"] == "e2e"
    assert a["net.peer.ip"] == "127.0.0.1" and "http.host" in a
    custom = by_name["home-activites-mock-data"]
    assert custom["__scope"] == "home.activities"
    assert int(custom["__attrs"]["app.result_length"]) == 3
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$", custom["__attrs"]["app.now"])
    assert norm_id(custom["parentSpanId"]) == norm_id(server["spanId"])

    # ---- X-Ray: the segment of the same trace, with its subsegment ----
    xray = aws("xray", waggle)

    def segments(root):
        got = xray.batch_get_traces(TraceIds=[root])["Traces"]
        return [json.loads(s["Document"]) for t in got for s in t["Segments"]]

    # BatchGetTraces answers for the whole trace, so the OTel spans of the same request come
    # back too, rebuilt as segments: the SDK's own segment is the one its `aws` block names.
    def ours(docs):
        return [d for d in docs if "X-Ray for Rust" in json.dumps(d.get("aws", {}))]

    docs = poll(lambda: ours(segments(root_of(home))), lambda d: len(d) > 0, ARRIVE_S)
    assert len(segments(root_of(home))) > len(docs), "the OTel server span shares the trace"
    seg = docs[0]
    assert seg["name"] == "backend-flask"
    assert seg["http"]["request"]["method"] == "GET"
    assert seg["http"]["response"]["status"] == 200
    assert [s["name"] for s in seg["subsegments"]] == ["activities_home"]
    users_docs = poll(lambda: ours(segments(root_of(users))), lambda d: len(d) > 0, ARRIVE_S)
    sub = users_docs[0]["subsegments"][0]
    assert sub["name"] == "activities_users"
    mock = sub["subsegments"][0]
    assert mock["name"] == "mock-data"
    assert mock["metadata"]["namespace"]["key"]["results-size"] == 1
    fault_docs = poll(lambda: ours(segments(root_of(failures[0]))), lambda d: len(d) > 0, ARRIVE_S)
    fault = fault_docs[0]
    assert fault.get("fault") is True and fault["http"]["response"]["status"] == 500
    assert fault["cause"]["exceptions"][0]["type"] == "KeyError"

    # ---- CloudWatch Logs: group cruddur, the seed's line format, the trace header ----
    logs = aws("logs", waggle)

    def events():
        try:
            return logs.filter_log_events(logGroupName="cruddur")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []

    evs = poll(events, lambda e: sum(1 for x in e if LOG_LINE.match(x["message"])) >= 5, ARRIVE_S)
    streams = logs.describe_log_streams(logGroupName="cruddur")["logStreams"]
    assert len(streams) == 1 and re.match(r"^[^/]+/.+/app/\d+$", streams[0]["logStreamName"]), streams
    lines = [x["message"] for x in evs]
    assert "initializing xray middleware" in lines
    home_line = next(m for m in (LOG_LINE.match(x) for x in lines) if m and m.group(2) == "/api/activities/home")
    assert home_line.group(4) == "200" and home_line.group(5) == "OK"
    assert home_line.group(6).startswith("Root=" + root_of(home)), home_line.group(0)
    assert any(x.startswith("Exception on /api/activities [POST]\nTraceback") for x in lines)
    assert any(m and m.group(4) == "500" and m.group(5) == "INTERNAL SERVER ERROR" for m in map(LOG_LINE.match, lines))

    # ---- Rollbar: the warning, and one error item for both failures ----
    def items():
        return rollbar_api(waggle, "/api/1/items")["items"]

    its = poll(items, lambda i: sum(x["total_occurrences"] for x in i) >= 3, ARRIVE_S)
    warning = next(i for i in its if i["level"] == "warning")
    assert warning["title"] == "Hello World!"
    error = next(i for i in its if i["level"] == "error")
    assert error["total_occurrences"] == 2 and "KeyError" in error["title"], error
    inst = rollbar_api(waggle, f"/api/1/item/{error['id']}/instances")["instances"][0]["data"]
    assert inst["environment"] == "production" and inst["framework"] == "flask"
    assert inst["context"] == "/api/activities"
    assert inst["body"]["trace"]["exception"]["class"] == "KeyError"
    assert inst["custom"]["trace_id"] in {w3c(root_of(r)) for r in failures}

    # ---- one trace id links all four ----
    for resp, name in [(warn, "/rollbar/test"), (failures[0], "/api/activities")]:
        tid = w3c(root_of(resp))

        def kinds(rows):
            return {
                "otel": any(r.get("name") == name and not r.get("aws.xray.type") for r in rows),
                "xray": any(r.get("aws.xray.type") == "segment" for r in rows),
                "logs": any(r.get("cloudwatch.log_group") == "cruddur" for r in rows),
                "rollbar": any(r.get("rollbar.item_id") is not None for r in rows),
            }

        rows = poll(lambda: signals_of(waggle, tid), lambda r: all(kinds(r).values()), ARRIVE_S)
        assert all(kinds(rows).values()), (name, kinds(rows), rows)
    warn_spans = tempo_spans(waggle, w3c(root_of(warn)))
    assert any(s["name"] == "HTTP POST" for s in warn_spans), "the Rollbar POST is a client span of the request"
    app.stop_expecting_clean_exit()


def test_the_sampling_reservoir_limits_what_is_sent(waggle_e2e: WaggleServer, cruddur_factory):
    waggle = waggle_e2e
    xray = aws("xray", waggle)
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": "e2e-one-per-second",
            "ResourceARN": "*",
            "Priority": 1,
            "FixedRate": 0.0,
            "ReservoirSize": 1,
            "ServiceName": "backend-flask",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "GET",
            "URLPath": "/api/message_groups",
            "Version": 1,
        }
    )
    app = cruddur_factory(env=sinks_env(waggle)).start()
    time.sleep(2.5)  # the sampler polls rules and targets every second here
    roots = []
    t0 = time.time()
    for _ in range(30):
        r = app.get("/api/message_groups")
        assert r.status_code == 200
        roots.append(root_of(r))
    elapsed = time.time() - t0
    # Every request has an OTel span...
    for root in roots[:3] + roots[-3:]:
        poll(lambda: tempo_spans(waggle, w3c(root)), lambda s: len(s) >= 1, ARRIVE_S)
    time.sleep(1.0)
    # ...but the reservoir of 1/s with FixedRate 0 lets about one per second through.
    found = []
    for i in range(0, len(roots), 5):
        for t in xray.batch_get_traces(TraceIds=roots[i : i + 5])["Traces"]:
            # Every trace has its OTel span (rebuilt as a segment); count the SDK's segments.
            if any("X-Ray for Rust" in s["Document"] for s in t["Segments"]):
                found.append(t["Id"])
    limit = int(elapsed) + 2
    assert 1 <= len(found) <= limit, f"{len(found)} of 30 sampled in {elapsed:.1f} s (limit {limit})"
    stats = poll(
        lambda: xray.get_sampling_statistic_summaries()["SamplingStatisticSummaries"],
        lambda st: any(s["RuleName"] == "e2e-one-per-second" and s["RequestCount"] >= 1 for s in st),
        ARRIVE_S,
    )
    assert any(s["RuleName"] == "e2e-one-per-second" for s in stats), stats
    app.stop_expecting_clean_exit()


def test_waggle_demo_has_data_everywhere_within_a_minute(tmp_path: Path):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("WAGGLE_", "OTEL_", "AWS_", "ROLLBAR_", "CRUDDUR_")) and k != "WAGGLE_BIN":
            del env[k]
    args = [
        str(waggle_bin()), "demo",
        "--http-addr", "127.0.0.1:0", "--otlp-http-addr", "127.0.0.1:0",
        "--otlp-grpc-addr", "127.0.0.1:0", "--xray-addr", "127.0.0.1:0",
        "--cruddur-addr", "127.0.0.1:0", "--rate", "20",
    ]
    stderr = open(tmp_path / "demo-stderr.log", "w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    ready: dict = {}
    lines: list[str] = []
    got = threading.Event()

    def pump():
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            for prefix in ("WAGGLE_READY ", "DEMO_READY "):
                if line.startswith(prefix):
                    ready[prefix.strip()] = json.loads(line[len(prefix):])
            if "DEMO_READY" in ready:
                got.set()
        got.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert got.wait(60), "".join(lines)
        assert "DEMO_READY" in ready, "".join(lines) + (tmp_path / "demo-stderr.log").read_text()[-4000:]
        http = "http://" + ready["WAGGLE_READY"]["http"]
        fake = WaggleServer.__new__(WaggleServer)
        fake.ready = ready["WAGGLE_READY"]
        xray, logs = aws("xray", fake), aws("logs", fake)
        deadline = time.time() + 60

        def until(what, fetch, ok):
            while time.time() < deadline:
                try:
                    v = fetch()
                    if ok(v):
                        return v
                except Exception:  # not there yet
                    pass
                time.sleep(0.5)
            raise AssertionError(f"demo: no {what} within 60 s")

        now = time.time()
        until("OTel spans", lambda: requests.get(f"{http}/api/waggle/datasets", timeout=5).json(),
              lambda d: "backend-flask" in json.dumps(d))
        until("X-Ray service graph", lambda: xray.get_service_graph(StartTime=now - 600, EndTime=time.time() + 60)["Services"],
              lambda s: any(x.get("Name") == "backend-flask" for x in s))
        until("the seed's sampling rule", lambda: xray.get_sampling_rules()["SamplingRuleRecords"],
              lambda r: any(x["SamplingRule"]["RuleName"] == "Cruddur" for x in r))
        until("log events", lambda: logs.filter_log_events(logGroupName="cruddur", limit=5)["events"], lambda e: len(e) > 0)
        until("Rollbar items", lambda: requests.get(f"{http}/api/1/items", headers={"X-Rollbar-Access-Token": "demo"}, timeout=5).json()["result"]["items"],
              lambda i: len(i) > 0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0, (tmp_path / "demo-stderr.log").read_text()[-4000:]
        data_dir = ready["WAGGLE_READY"]["data_dir"]
        assert not Path(data_dir).exists(), "the temporary data directory is removed"
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr.close()
