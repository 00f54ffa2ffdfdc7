"""A 2xx from Waggle means committed: acknowledged writes survive `kill -9`, and a graceful
restart keeps everything."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid

import requests

from conftest import HTTP_TIMEOUT_S, WaggleServer
import otlp_payloads as P

PROTOBUF = {"Content-Type": "application/x-protobuf"}

# Sizes (our choice: enough requests that group commit batches several of them, small
# enough to run in a few seconds on a 2-core machine).
SEQUENTIAL_REQUESTS = 40
SPANS_PER_TRACE = 25
CONCURRENT_SENDERS = 4
CONCURRENT_ACKS_BEFORE_KILL = 60
# Upper bound on the concurrent phase, so a server that stops answering can't hang the test.
CONCURRENT_PHASE_TIMEOUT_S = 60.0


def post_trace(session: requests.Session, server: WaggleServer, body: bytes) -> requests.Response:
    return session.post(server.otlp_http_url + "/v1/traces", data=body, headers=PROTOBUF, timeout=HTTP_TIMEOUT_S)


def assert_traces_complete(server: WaggleServer, trace_ids: list[bytes], spans_per_trace: int) -> None:
    """Reads each trace once, without waiting: after restart the store is open and every
    acknowledged span must already be there."""
    missing = []
    for tid in trace_ids:
        r = server.get(f"/api/v2/traces/{tid.hex()}")
        if r.status_code != 200:
            missing.append((tid.hex(), r.status_code, r.text[:120]))
            continue
        n = sum(
            len(ss.get("spans") or [])
            for rs in r.json()["trace"]["resourceSpans"]
            for ss in rs.get("scopeSpans") or []
        )
        if n != spans_per_trace:
            missing.append((tid.hex(), f"{n} spans", f"expected {spans_per_trace}"))
    assert not missing, f"{len(missing)} of {len(trace_ids)} acknowledged traces lost or partial: {missing[:5]}"


def test_kill9_right_after_sequential_acks_loses_nothing(waggle_factory):
    server = waggle_factory().start()
    service = f"e2e-durable-{uuid.uuid4().hex[:8]}"
    trace_ids = []
    with requests.Session() as session:
        for _ in range(SEQUENTIAL_REQUESTS):
            tid, req = P.cruddur_trace(service, SPANS_PER_TRACE)
            r = post_trace(session, server, req.SerializeToString())
            assert r.status_code == 200, f"/v1/traces -> {r.status_code} {r.content[:300]!r}"
            trace_ids.append(tid)
    server.kill()  # kill -9 right after the last 200

    server.start()
    expected = SEQUENTIAL_REQUESTS * SPANS_PER_TRACE
    count = server.dataset_count(service)
    assert count == expected, f"after kill -9: dataset {service!r} has {count} events, expected {expected}"
    assert_traces_complete(server, trace_ids, SPANS_PER_TRACE)


def test_kill9_during_concurrent_load_keeps_every_acked_request(waggle_factory):
    server = waggle_factory().start()
    service = f"e2e-durable-conc-{uuid.uuid4().hex[:8]}"
    acked: list[bytes] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def sender() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                tid, req = P.cruddur_trace(service, SPANS_PER_TRACE)
                try:
                    r = post_trace(session, server, req.SerializeToString())
                except requests.RequestException:
                    return  # the server was killed under us: this request was not acked
                if r.status_code == 200:
                    with lock:
                        acked.append(tid)
                elif r.status_code not in (429, 503):
                    errors.append(f"{r.status_code} {r.content[:200]!r}")
                    return

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(CONCURRENT_SENDERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + CONCURRENT_PHASE_TIMEOUT_S
    while True:
        with lock:
            n = len(acked)
        if n >= CONCURRENT_ACKS_BEFORE_KILL or errors or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    server.kill()  # while other requests are in flight
    stop.set()
    for t in threads:
        t.join(HTTP_TIMEOUT_S + 5)
    assert not errors, f"unexpected responses under load: {errors[:3]}"
    with lock:
        acked_now = list(acked)
    assert len(acked_now) >= CONCURRENT_ACKS_BEFORE_KILL, f"only {len(acked_now)} acks in {CONCURRENT_PHASE_TIMEOUT_S} s"

    server.start()
    count = server.dataset_count(service)
    assert count >= len(acked_now) * SPANS_PER_TRACE, (
        f"after kill -9: {count} events, but {len(acked_now)} requests x {SPANS_PER_TRACE} spans were acknowledged"
    )
    assert_traces_complete(server, acked_now, SPANS_PER_TRACE)


def test_graceful_restart_keeps_traces_logs_and_events(waggle_factory):
    server = waggle_factory().start()
    service = f"e2e-restart-{uuid.uuid4().hex[:8]}"
    log_service = f"e2e-restart-logs-{uuid.uuid4().hex[:8]}"
    dataset = f"e2e-restart-hny-{uuid.uuid4().hex[:8]}"
    trace_ids = []
    with requests.Session() as session:
        for _ in range(5):
            tid, req = P.cruddur_trace(service, 4)
            r = post_trace(session, server, req.SerializeToString())
            assert r.status_code == 200, r.content[:300]
            trace_ids.append(tid)
        r = session.post(
            server.otlp_http_url + "/v1/logs",
            data=P.log_request(log_service, ["one", "two", "three"]).SerializeToString(),
            headers=PROTOBUF,
            timeout=HTTP_TIMEOUT_S,
        )
        assert r.status_code == 200, f"/v1/logs -> {r.status_code} {r.content[:300]!r}"
        r = session.post(
            f"{server.http_url}/1/batch/{dataset}",
            data=json.dumps([{"data": {"i": i}} for i in range(7)]),
            headers={"Content-Type": "application/json", "X-Honeycomb-Team": "e2e"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert r.status_code == 200 and r.json() == [{"status": 202}] * 7, r.text[:300]
    before = server.datasets()

    code = server.terminate(signal.SIGTERM)
    assert code == 0, f"graceful shutdown exited {code}\n{server.diagnostics()}"

    server.start()
    after = server.datasets()
    for name, n in ((service, 20), (log_service, 3), (dataset, 7)):
        assert after.get(name) == n, f"{name}: {after.get(name)} events after restart, expected {n} (before: {before.get(name)})"
    assert_traces_complete(server, trace_ids, 4)

    # SIGINT is a graceful stop too.
    code = server.terminate(signal.SIGINT)
    assert code == 0, f"SIGINT shutdown exited {code}\n{server.diagnostics()}"
    server.start()
    assert server.datasets().get(service) == 20


def rollbar_item(exc_class: str, occurrence_uuid: str) -> dict:
    """A pyrollbar-shaped `trace` occurrence (what `report_exc_info` posts)."""
    return {"data": {
        "environment": "production",
        "level": "error",
        "uuid": occurrence_uuid,
        "language": "python",
        "framework": "flask",
        "notifier": {"name": "pyrollbar", "version": "1.5.0"},
        "body": {"trace": {
            "frames": [{"filename": "/backend-flask/services/home.py", "lineno": 12, "method": "run"}],
            "exception": {"class": exc_class, "message": "boom"},
        }},
    }}


def test_kill9_during_rollbar_ingest_keeps_every_acked_occurrence_counted(waggle_factory):
    """Rollbar item state (the items and their counters) is rebuilt from the committed
    occurrences after a crash: every 200 is stored once and counted in its item."""
    server = waggle_factory().start()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def sender(k: int) -> None:
        with requests.Session() as session:
            i = 0
            while not stop.is_set():
                u = str(uuid.uuid4())
                i += 1
                try:
                    r = session.post(server.http_url + "/api/1/item/", json=rollbar_item(f"Error{(i + k) % 7}", u),
                                     headers={"X-Rollbar-Access-Token": "t"}, timeout=HTTP_TIMEOUT_S)
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    with lock:
                        acked.append(u)
                elif r.status_code not in (429, 503):
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return

    threads = [threading.Thread(target=sender, args=(k,), daemon=True) for k in range(CONCURRENT_SENDERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + CONCURRENT_PHASE_TIMEOUT_S
    while True:
        with lock:
            n = len(acked)
        if n >= 4 * CONCURRENT_ACKS_BEFORE_KILL or errors or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    server.kill()
    stop.set()
    for t in threads:
        t.join(HTTP_TIMEOUT_S + 5)
    assert not errors, f"unexpected responses: {errors[:3]}"
    with lock:
        acked_now = set(acked)
    assert len(acked_now) >= 4 * CONCURRENT_ACKS_BEFORE_KILL, f"only {len(acked_now)} acks"

    server.start()
    headers = {"X-Rollbar-Access-Token": "t"}
    r = requests.get(server.http_url + "/api/1/items", headers=headers, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:300]
    items = r.json()["result"]["items"]
    counted = sum(i["total_occurrences"] for i in items)
    stored = server.dataset_count("default")
    assert stored >= len(acked_now), f"{stored} occurrences stored, {len(acked_now)} acknowledged"
    assert counted == stored, f"items count {counted} occurrences, the store holds {stored}"
    assert sorted(i["counter"] for i in items) == list(range(1, len(items) + 1)), items
    # A re-sent acknowledged uuid is a duplicate, not a new occurrence.
    again = next(iter(acked_now))
    r = requests.post(server.http_url + "/api/1/item/", json=rollbar_item("Error0", again), headers=headers,
                      timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:300]
    assert server.dataset_count("default") == stored


# The ingest log (#12): a 200 is an fsynced log record; the loader puts it in DuckDB later.
KILL_ROUNDS = 3
ACKS_PER_ROUND = 40


def ingest_log_stats(server: WaggleServer) -> dict:
    r = server.get("/api/waggle/stats")
    assert r.status_code == 200, r.text[:300]
    stats = r.json()

    def find(node):
        if isinstance(node, dict):
            if "ingest_log" in node:
                return node["ingest_log"]
            for v in node.values():
                found = find(v)
                if found is not None:
                    return found
        return None

    return find(stats)


def send_until_acked(server: WaggleServer, service: str, acks: int) -> list[bytes]:
    """Concurrent senders until `acks` requests are acknowledged; then kill -9 mid-flight."""
    acked: list[bytes] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def sender() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                tid, req = P.cruddur_trace(service, SPANS_PER_TRACE)
                try:
                    r = post_trace(session, server, req.SerializeToString())
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    with lock:
                        acked.append(tid)
                elif r.status_code not in (429, 503):
                    errors.append(f"{r.status_code} {r.content[:200]!r}")
                    return

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(CONCURRENT_SENDERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + CONCURRENT_PHASE_TIMEOUT_S
    while True:
        with lock:
            n = len(acked)
        if n >= acks or errors or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    server.kill()
    stop.set()
    for t in threads:
        t.join(HTTP_TIMEOUT_S + 5)
    assert not errors, f"unexpected responses under load: {errors[:3]}"
    with lock:
        return list(acked)


def test_repeated_kill9_with_the_ingest_log_loses_nothing_and_loads_nothing_twice(waggle_factory):
    """Several crashes in a row, each while requests are in flight and the loader is behind:
    every acknowledged trace is whole after each restart, and none is loaded twice (a replay
    that re-loaded a record would show a trace with twice its spans)."""
    server = waggle_factory(extra_args=["--ingest-log", "on"]).start()
    assert ingest_log_stats(server) is not None, "the ingest log is on"
    service = f"e2e-log-kill-{uuid.uuid4().hex[:8]}"
    all_acked: list[bytes] = []
    for round_no in range(KILL_ROUNDS):
        acked = send_until_acked(server, service, ACKS_PER_ROUND)
        assert len(acked) >= ACKS_PER_ROUND, f"round {round_no}: only {len(acked)} acks"
        all_acked.extend(acked)
        server.start()
        assert_traces_complete(server, all_acked, SPANS_PER_TRACE)
    # Unacknowledged in-flight requests may or may not have been logged; whatever is stored
    # is whole traces, never a duplicate.
    count = server.dataset_count(service)
    assert count % SPANS_PER_TRACE == 0 and count >= len(all_acked) * SPANS_PER_TRACE, count


def test_reads_see_every_acknowledged_write_at_once(waggle_factory):
    """Read-your-writes through the log: a query right after a 200 sees that write (reads wait
    for the loader to pass the last acknowledged record)."""
    server = waggle_factory(extra_args=["--ingest-log", "on"]).start()
    service = f"e2e-log-ryw-{uuid.uuid4().hex[:8]}"
    dataset = f"e2e-log-ryw-hny-{uuid.uuid4().hex[:8]}"
    with requests.Session() as session:
        for i in range(15):
            tid, req = P.cruddur_trace(service, 3)
            r = post_trace(session, server, req.SerializeToString())
            assert r.status_code == 200, r.content[:300]
            r = session.get(f"{server.http_url}/api/v2/traces/{tid.hex()}", timeout=HTTP_TIMEOUT_S)
            assert r.status_code == 200, f"trace {tid.hex()} not readable right after its 200: {r.status_code}"
            r = session.post(
                f"{server.http_url}/1/events/{dataset}", json={"i": i},
                headers={"X-Honeycomb-Team": "e2e"}, timeout=HTTP_TIMEOUT_S,
            )
            assert r.status_code == 200, r.text[:300]
            assert server.dataset_count(dataset) == i + 1
    stats = ingest_log_stats(server)
    assert stats["acked_records"] >= 30 and stats["rejected_events"] == 0, stats


def test_without_the_ingest_log_acks_are_still_commits(waggle_factory):
    """Without the log (the default, `--ingest-log off`) a group is a DuckDB commit before
    its 200: it must stay durable."""
    server = waggle_factory().start()
    assert ingest_log_stats(server) is None
    service = f"e2e-nolog-{uuid.uuid4().hex[:8]}"
    acked = send_until_acked(server, service, ACKS_PER_ROUND)
    server.start()
    assert_traces_complete(server, acked, SPANS_PER_TRACE)
