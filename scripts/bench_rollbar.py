#!/usr/bin/env python3
"""Rollbar benchmark: `POST /api/1/item/` throughput with pyrollbar-shaped payloads (a `trace`
body with frames, request, person, server, custom), over a spread of items, then the read
latency of `GET /api/1/items` and `GET /api/1/item/{id}/instances` over what was loaded.
Results are printed as JSON; BENCHMARKS.md records them.

    ~/.cache/waggle-venv/bin/python scripts/bench_rollbar.py --seconds 20 [--items 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench_aws import closed_loop, start_waggle


def item(i: int, items: int) -> bytes:
    k = i % items
    return json.dumps({"data": {
        "environment": "production",
        "level": "error",
        "language": "python",
        "framework": "flask",
        "platform": "linux",
        "uuid": str(uuid.uuid4()),
        "timestamp": int(time.time()),
        "code_version": "1.0.0",
        "body": {"trace": {
            "frames": [{"filename": f"/backend-flask/services/svc_{k}.py", "lineno": 10 + f,
                        "method": f"run_{f}", "code": "raise ValueError(msg)"} for f in range(12)],
            "exception": {"class": f"Error{k}", "message": f"request {i} failed for user 42"},
        }},
        "request": {"url": "http://localhost:4567/api/activities/home", "method": "GET",
                    "headers": {"User-Agent": "bench"}, "user_ip": "127.0.0.1"},
        "person": {"id": "42", "username": "andrewbrown"},
        "server": {"host": "bench", "root": "/backend-flask", "pid": os.getpid()},
        "custom": {"trace_id": uuid.uuid4().hex},
        "notifier": {"name": "pyrollbar", "version": "1.5.0"},
    }}).encode()


def post_load(port: int, seconds: float, threads: int, items: int) -> dict:
    def call(c: http.client.HTTPConnection, k: int, i: int) -> tuple[bool, int]:
        c.request("POST", "/api/1/item/", body=item(i * threads + k, items), headers={
            "Content-Type": "application/json", "X-Rollbar-Access-Token": "bench"})
        r = c.getresponse()
        r.read()
        return r.status == 200, 1

    return closed_loop(port, seconds, threads, call, "occurrences")


def get_ms(port: int, path: str, runs: int = 7) -> dict:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    body = b""
    for _ in range(runs):
        t0 = time.perf_counter()
        c.request("GET", path, headers={"X-Rollbar-Access-Token": "bench"})
        r = c.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
    times.sort()
    return {"median_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1),
            "_body": json.loads(body)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--waggle", default=str(Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/waggle-target")) / "release" / "waggle"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-rollbar-"))
    out: dict = {"threads": args.threads, "items": args.items}
    try:
        wag, ready = start_waggle(args.waggle, tmp / "waggle")
        try:
            port = int(ready["http"].rsplit(":", 1)[1])
            out["post_item"] = post_load(port, args.seconds, args.threads, args.items)
            listed = get_ms(port, "/api/1/items?status=active")
            body = listed.pop("_body")
            out["GET /api/1/items"] = listed
            first = (body.get("result", {}).get("items") or [{}])[0]
            if "id" in first:
                inst = get_ms(port, f"/api/1/item/{first['id']}/instances")
                inst.pop("_body")
                out["GET /api/1/item/{id}/instances"] = inst
        finally:
            wag.terminate()
            wag.wait(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
