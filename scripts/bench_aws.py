#!/usr/bin/env python3
"""AWS API benchmarks: X-Ray PutTraceSegments and CloudWatch Logs PutLogEvents throughput of
Waggle and of moto's server side by side in one run (same client, same machine, same
payloads); the X-Ray daemon's loss-free UDP rate at fixed send rates; and, after loading N
segments / log events, the read calls the issues name (GetTraceSummaries with a filter
expression, GetServiceGraph, FilterLogEvents with a pattern, Logs Insights stats by bin).
Results are printed as JSON; BENCHMARKS.md records them.

    ~/.cache/waggle-venv/bin/pip install -r scripts/bench-requirements.txt
    ~/.cache/waggle-venv/bin/python scripts/bench_aws.py --seconds 10 [--waggle PATH]
        [--query-segments 1000000] [--query-log-events 1000000] [--only xray|logs]

The client sends pre-encoded request bodies over keep-alive HTTP/1.1 connections (one per
thread), so its own cost per segment is a small fraction of either server's. Each request
carries 50 documents, the daemon's batch size (aws-xray-daemon `BatchSize: 50`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

DOCS_PER_REQUEST = 50
STARTUP_TIMEOUT_S = 60.0


def fake_auth(service: str) -> dict:
    """A well-formed SigV4 Authorization header (Waggle without --aws-credentials checks the
    form, not the secret; moto reads the service from the credential scope)."""
    now = time.gmtime()
    amz = time.strftime("%Y%m%dT%H%M%SZ", now)
    scope = f"{amz[:8]}/us-east-1/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/{scope}, "
                             f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
            "X-Amz-Date": amz}


def segment_doc(i: int) -> str:
    now = time.time()
    trace = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
    return json.dumps({
        "id": uuid.uuid4().hex[:16],
        "trace_id": trace,
        "name": "backend-flask",
        "start_time": now - 0.02,
        "end_time": now,
        "http": {"request": {"method": "GET", "url": "http://localhost:4567/api/activities/home",
                             "client_ip": "127.0.0.1", "user_agent": "bench"},
                 "response": {"status": 200 if i % 20 else 500, "content_length": 812}},
        "aws": {"xray": {"sdk": "X-Ray for Python", "sdk_version": "2.15.0"}},
        "annotations": {"handle": "andrewbrown"},
        "subsegments": [{"id": uuid.uuid4().hex[:16], "name": "mock-data",
                         "start_time": now - 0.015, "end_time": now - 0.005}],
    })


def bodies(n: int) -> list[bytes]:
    return [json.dumps({"TraceSegmentDocuments": [segment_doc(i * DOCS_PER_REQUEST + j)
                                                  for j in range(DOCS_PER_REQUEST)]}).encode()
            for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str = "/") -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def closed_loop(port: int, seconds: float, threads: int,
                call: Callable[[http.client.HTTPConnection, int, int], tuple[bool, int]],
                unit: str) -> dict:
    """`threads` keep-alive connections, each calling `call(conn, thread, i)` (i = 0, 1, …)
    back to back for `seconds`; `call` answers (succeeded, items it carried). Returns the
    rate of items per second (`{unit}_per_s`), requests, errors and latency percentiles."""
    stop = time.monotonic() + seconds
    done = [0] * threads
    errors = [0] * threads
    lat: list[float] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = 0
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            ok, n = call(c, k, i)
            mine.append(time.perf_counter() - t0)
            i += 1
            if ok:
                done[k] += n
            else:
                errors[k] += 1
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - t0
    lat.sort()
    p = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else None
    return {f"{unit}_per_s": round(sum(done) / elapsed), "requests": len(lat),
            "errors": sum(errors), "p50_ms": p(0.5), "p99_ms": p(0.99)}


def put_load(port: int, payloads: list[bytes], seconds: float, threads: int) -> dict:
    """PutTraceSegments with the pre-built bodies, round robin."""
    auth = fake_auth("xray")

    def call(c: http.client.HTTPConnection, k: int, i: int) -> tuple[bool, int]:
        c.request("POST", "/TraceSegments", body=payloads[(i * threads + k) % len(payloads)],
                  headers={"Content-Type": "application/json", **auth})
        r = c.getresponse()
        r.read()
        return r.status == 200, DOCS_PER_REQUEST

    return closed_loop(port, seconds, threads, call, "segments")


def start_waggle(binary: str, data: Path) -> tuple[subprocess.Popen, dict]:
    p = subprocess.Popen([binary, "serve", "--data-dir", str(data), "--http-addr", "127.0.0.1:0",
                          "--otlp-http-addr", "127.0.0.1:0", "--otlp-grpc-addr", "127.0.0.1:0",
                          "--xray-addr", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("WAGGLE_")})
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    assert p.stdout is not None
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.startswith("WAGGLE_READY "):
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, json.loads(line[len("WAGGLE_READY "):])
    raise RuntimeError("waggle did not start")


def stats(http_addr: str) -> dict:
    host, port = http_addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("GET", "/api/waggle/stats")
    return json.loads(c.getresponse().read())["receivers"]["xray"]


def udp_rate(xray_addr: str, http_addr: str, rate: int, seconds: float) -> dict:
    """Sends datagrams at `rate` per second for `seconds`; counts what the server accepted."""
    host, port = xray_addr.rsplit(":", 1)
    datagrams = [b'{"format":"json","version":1}\n' + segment_doc(i).encode() for i in range(2000)]
    before = stats(http_addr)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = int((now - t0) * rate)
        while sent < due:
            s.sendto(datagrams[sent % len(datagrams)], (host, int(port)))
            sent += 1
    elapsed = time.perf_counter() - t0
    time.sleep(2.0)  # let the receiver drain and commit
    after = stats(http_addr)
    accepted = after["segments_accepted"] - before["segments_accepted"]
    return {"target_per_s": rate, "sent_per_s": round(sent / elapsed), "sent": sent,
            "accepted": accepted, "lost": sent - accepted,
            "dropped_overload": after["dropped_overload"] - before["dropped_overload"]}


def post_json(port: int, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict, float]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = json.dumps(body).encode()
    t0 = time.perf_counter()
    c.request("POST", path, body=data, headers=headers or {"Content-Type": "application/json", **fake_auth("xray")})
    r = c.getresponse()
    out = r.read()
    ms = (time.perf_counter() - t0) * 1000
    return r.status, json.loads(out or b"{}"), ms


def load_segments(port: int, segments: int, threads: int) -> dict:
    """Loads `segments` documents through PutTraceSegments (distinct traces, 50 per call)."""
    per_thread = segments // DOCS_PER_REQUEST // threads
    failures = [0] * threads

    def worker(k: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(per_thread):
            body = json.dumps({"TraceSegmentDocuments": [segment_doc(j) for j in range(DOCS_PER_REQUEST)]}).encode()
            c.request("POST", "/TraceSegments", body=body, headers={"Content-Type": "application/json", **fake_auth("xray")})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                failures[k] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"segments": per_thread * threads * DOCS_PER_REQUEST, "seconds": round(time.monotonic() - t0, 1),
            "failed_requests": sum(failures)}


def query_latency(port: int, runs: int = 7) -> dict:
    """Median and max of the read calls the issue names, over everything loaded."""
    now = time.time()
    # Within the service's 6-hour limit on the window (everything loaded is recent).
    window = {"StartTime": now - 3 * 3600, "EndTime": now + 60}
    calls = {
        "GetTraceSummaries (filter)": ("/TraceSummaries", {**window, "FilterExpression": 'service("backend-flask") AND http.status = 500'}),
        "GetTraceSummaries (annotation, fault)": ("/TraceSummaries", {**window, "FilterExpression": 'annotation.handle = "andrewbrown" AND fault'}),
        "GetServiceGraph": ("/ServiceGraph", window),
    }
    out = {}
    for name, (path, body) in calls.items():
        times = []
        for _ in range(runs):
            status, _, ms = post_json(port, path, body)
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status}")
            times.append(ms)
        times.sort()
        out[name] = {"median_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1)}
    return out


# ---- CloudWatch Logs ----------------------------------------------------------------------

# The batch: 10,000 events (the API's maximum); short lines keep it under 1,048,576
# bytes counting 26 per event.
EVENTS_PER_PUT = 10_000


def logs_call(c: http.client.HTTPConnection, op: str, body: dict | bytes) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    c.request("POST", "/", body=data, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"Logs_20140328.{op}", **fake_auth("logs")})
    r = c.getresponse()
    return r.status, r.read()


def log_line(i: int, now_ms: int) -> dict:
    level = "ERROR" if i % 50 == 0 else "INFO"
    msg = (f'{{"level":"{level}","logger":"backend-flask","path":"/api/activities/home",'
           f'"status":{500 if level == "ERROR" else 200},"duration_ms":{i % 97},'
           f'"user":"andrewbrown","msg":"HomeActivities request {i}"}}')
    return {"timestamp": now_ms, "message": msg}


def short_line(i: int, now_ms: int) -> dict:
    return {"timestamp": now_ms,
            "message": f"{'ERROR' if i % 50 == 0 else 'INFO'} GET /api/activities/home {i % 997} ms user=andrewbrown"}


def logs_setup(port: int, group: str, streams: int) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, body = logs_call(c, "CreateLogGroup", {"logGroupName": group})
    if status != 200 and b"ResourceAlreadyExists" not in body:
        raise RuntimeError(f"CreateLogGroup: {status} {body[:200]!r}")
    for k in range(streams):
        status, body = logs_call(c, "CreateLogStream", {"logGroupName": group, "logStreamName": f"s{k}"})
        if status != 200 and b"ResourceAlreadyExists" not in body:
            raise RuntimeError(f"CreateLogStream: {status} {body[:200]!r}")


def logs_put_load(port: int, seconds: float, threads: int, group: str = "bench") -> dict:
    """PutLogEvents for `seconds`, one stream per thread, fresh timestamps each call."""
    logs_setup(port, group, threads)

    def call(c: http.client.HTTPConnection, k: int, i: int) -> tuple[bool, int]:
        now_ms = int(time.time() * 1000)
        events = [short_line(i * EVENTS_PER_PUT + j, now_ms) for j in range(EVENTS_PER_PUT)]
        status, _ = logs_call(c, "PutLogEvents", {"logGroupName": group, "logStreamName": f"s{k}",
                                                  "logEvents": events})
        return status == 200, EVENTS_PER_PUT

    return closed_loop(port, seconds, threads, call, "events")


def logs_load(port: int, events: int, threads: int, group: str = "bench-q") -> dict:
    """Loads `events` log events spread over the last ~hour (1,000 per call)."""
    logs_setup(port, group, threads)
    per_call = 1000
    calls = events // per_call // threads
    failures = [0] * threads
    start_ms = int(time.time() * 1000) - 3_600_000

    def worker(k: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for n in range(calls):
            base = (k * calls + n) * per_call
            t = start_ms + int(3_600_000 * n / max(1, calls))
            evs = [log_line(base + j, t) for j in range(per_call)]
            status, _ = logs_call(c, "PutLogEvents", {"logGroupName": group, "logStreamName": f"s{k}",
                                                      "logEvents": evs})
            if status != 200:
                failures[k] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"events": calls * threads * per_call, "seconds": round(time.monotonic() - t0, 1),
            "failed_requests": sum(failures)}


def logs_query_latency(port: int, runs: int = 7, group: str = "bench-q") -> dict:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    now_ms = int(time.time() * 1000)
    out = {}
    patterns = {
        "FilterLogEvents (term)": '"ERROR"',
        "FilterLogEvents (JSON)": '{ $.status = 500 && $.duration_ms > 50 }',
    }
    for name, pattern in patterns.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            status, body = logs_call(c, "FilterLogEvents", {"logGroupName": group, "filterPattern": pattern,
                                                            "startTime": now_ms - 7_200_000, "endTime": now_ms + 60_000})
            times.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                raise RuntimeError(f"{name}: {status} {body[:200]!r}")
        times.sort()
        out[name] = {"median_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1)}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        status, body = logs_call(c, "StartQuery", {"logGroupName": group, "startTime": now_ms // 1000 - 7200,
                                                   "endTime": now_ms // 1000 + 60,
                                                   "queryString": "stats count(*) by bin(5m)"})
        if status != 200:
            raise RuntimeError(f"StartQuery: {status} {body[:200]!r}")
        qid = json.loads(body)["queryId"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = logs_call(c, "GetQueryResults", {"queryId": qid})
            if json.loads(body).get("status") in ("Complete", "Failed", "Cancelled", "Timeout"):
                break
            time.sleep(0.005)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    out["Insights stats count(*) by bin(5m) (start to Complete)"] = {
        "median_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--waggle", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/waggle-target")) / "release" / "waggle"))
    ap.add_argument("--udp-rates", default="10000,25000,50000")
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--only", choices=["xray", "logs"], default=None)
    ap.add_argument("--query-log-events", type=int, default=0,
                    help="load this many log events, then time FilterLogEvents and Insights")
    ap.add_argument("--query-segments", type=int, default=0,
                    help="load this many segments, then time GetTraceSummaries/GetServiceGraph")
    args = ap.parse_args()

    xray = args.only in (None, "xray")
    logs = args.only in (None, "logs")
    payloads = bodies(200) if xray else []
    tmp = Path(tempfile.mkdtemp(prefix="bench-aws-"))
    out: dict = {"docs_per_request": DOCS_PER_REQUEST, "events_per_put": EVENTS_PER_PUT,
                 "threads": args.threads, "seconds": args.seconds}
    try:
        wag, ready = start_waggle(args.waggle, tmp / "waggle")
        try:
            port = int(ready["http"].rsplit(":", 1)[1])
            if xray:
                out["waggle_put_trace_segments"] = put_load(port, payloads, args.seconds, args.threads)
                out["waggle_udp"] = [udp_rate(ready["xray"], ready["http"], int(r), args.seconds)
                                     for r in args.udp_rates.split(",") if r]
            if logs:
                out["waggle_put_log_events"] = logs_put_load(port, args.seconds, args.threads)
            if xray and args.query_segments:
                out["waggle_xray_load"] = load_segments(port, args.query_segments, args.threads)
                out["waggle_xray_queries"] = query_latency(port)
            if logs and args.query_log_events:
                out["waggle_logs_load"] = logs_load(port, args.query_log_events, args.threads)
                out["waggle_logs_queries"] = logs_query_latency(port)
        finally:
            wag.terminate()
            wag.wait(timeout=30)
        if not args.skip_moto:
            mport = free_port()
            moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(mport)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_http(mport, "/moto-api/")
                if xray:
                    out["moto_put_trace_segments"] = put_load(mport, payloads, args.seconds, args.threads)
                if logs:
                    out["moto_put_log_events"] = logs_put_load(mport, args.seconds, args.threads)
            finally:
                moto.terminate()
                moto.wait(timeout=30)
            ratio = lambda w, m: round(w / m, 1) if m else None
            if xray:
                out["xray_ratio_waggle_over_moto"] = ratio(out["waggle_put_trace_segments"]["segments_per_s"],
                                                           out["moto_put_trace_segments"]["segments_per_s"])
            if logs:
                out["logs_ratio_waggle_over_moto"] = ratio(out["waggle_put_log_events"]["events_per_s"],
                                                           out["moto_put_log_events"]["events_per_s"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
