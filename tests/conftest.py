"""Shared fixtures for the end-to-end tests: a real `waggle serve` on port 0 and bounded
HTTP helpers to read data back through its trace API.

The binary comes from `$WAGGLE_BIN`, else `$CARGO_TARGET_DIR/release/waggle`, else
`~/.cache/waggle-target/release/waggle` (what `scripts/test-all.sh` builds).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

# Bounded waits (our choice: start-up is specified at <= 0.5 s; 30 s leaves room for a cold
# page cache and a loaded 2-core CI machine without letting a hung server stall the suite).
READY_TIMEOUT_S = 30.0
# How long a graceful shutdown (SIGTERM, flush) may take before we call it a hang.
SHUTDOWN_TIMEOUT_S = 20.0
# How long to poll a read API for data that was already acknowledged. A 2xx means committed,
# so this should succeed on the first try; polling only absorbs read-side caching.
POLL_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.1
# Per-request timeout for the HTTP helpers.
HTTP_TIMEOUT_S = 15.0

READY_PREFIX = "WAGGLE_READY "


def waggle_bin() -> Path:
    explicit = os.environ.get("WAGGLE_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "waggle-target")
    return Path(target) / "release" / "waggle"


class WaggleServer:
    """One `waggle serve` child process on a data directory, with its bound addresses."""

    def __init__(self, data_dir: Path, log_dir: Path, extra_args: list[str] | None = None,
                 command: str = "serve"):
        self.command = command  # "serve", or "demo" (which also prints WAGGLE_READY)
        self.data_dir = Path(data_dir)
        self.log_dir = Path(log_dir)
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.stdout_lines: list[str] = []
        self._starts = 0
        self._stderr_path: Path | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> "WaggleServer":
        binary = waggle_bin()
        if not binary.is_file():
            pytest.fail(
                f"waggle binary not found at {binary}; build it with `cargo build --release` "
                "or set WAGGLE_BIN",
                pytrace=False,
            )
        self._starts += 1
        # The server creates the data directory itself (private, 0700).
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.log_dir / f"waggle-stderr-{self._starts}.log"
        args = [
            str(binary),
            self.command,
            "--data-dir",
            str(self.data_dir),
            "--http-addr",
            "127.0.0.1:0",
            "--otlp-http-addr",
            "127.0.0.1:0",
            "--otlp-grpc-addr",
            "127.0.0.1:0",
            "--xray-addr",
            "127.0.0.1:0",
            *self.extra_args,
        ]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        # Don't let a developer's shell settings point the server elsewhere.
        for key in list(env):
            if key.startswith("WAGGLE_") and key != "WAGGLE_BIN":
                del env[key]
        stderr = open(self._stderr_path, "w", encoding="utf-8")
        self.stdout_lines = []
        self.ready = {}
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
        stderr.close()
        ready_event = threading.Event()
        proc = self.proc
        lines = self.stdout_lines

        def pump() -> None:
            # Keep draining stdout for the life of the process so the pipe never fills.
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith(READY_PREFIX) and not ready_event.is_set():
                    try:
                        self.ready = json.loads(line[len(READY_PREFIX):])
                    except json.JSONDecodeError:
                        self.ready = {"_unparseable": line}
                    ready_event.set()
            ready_event.set()

        threading.Thread(target=pump, name="waggle-stdout", daemon=True).start()
        if not ready_event.wait(READY_TIMEOUT_S):
            self.kill()
            pytest.fail(
                f"waggle did not print {READY_PREFIX.strip()} within {READY_TIMEOUT_S} s\n"
                + self.diagnostics(),
                pytrace=False,
            )
        if not self.ready or "_unparseable" in self.ready:
            code = self.proc.poll()
            self.kill()
            pytest.fail(
                f"waggle exited (code {code}) or printed a bad READY line before becoming ready\n"
                + self.diagnostics(),
                pytrace=False,
            )
        for key in ("http", "otlp_http", "otlp_grpc", "data_dir"):
            assert key in self.ready, f"READY line lacks {key!r}: {self.ready}"
        return self

    def terminate(self, sig: int = signal.SIGTERM) -> int:
        """Graceful stop; returns the exit code. Fails the test if it does not exit in time."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"waggle did not exit within {SHUTDOWN_TIMEOUT_S} s of signal {sig}\n"
                + self.diagnostics(),
                pytrace=False,
            )
        return -1  # unreachable

    def kill(self) -> None:
        """SIGKILL (kill -9), then reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, max_chars: int = 6000) -> str:
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        text = self._stderr_path.read_text(encoding="utf-8", errors="replace")
        return text[-max_chars:]

    def diagnostics(self) -> str:
        code = self.proc.poll() if self.proc is not None else None
        return (
            f"exit code: {code}\n--- stdout ---\n"
            + "\n".join(self.stdout_lines[-40:])
            + "\n--- stderr (tail) ---\n"
            + self.stderr_tail()
        )

    # ---- addresses -------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.ready['http']}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://{self.ready['otlp_http']}"

    @property
    def otlp_grpc_addr(self) -> str:
        return str(self.ready["otlp_grpc"])

    @property
    def xray_addr(self) -> str:
        """The X-Ray daemon's host:port (UDP segments, TCP sampling and API)."""
        return str(self.ready["xray"])

    @property
    def http_host_port(self) -> tuple[str, int]:
        host, port = str(self.ready["http"]).rsplit(":", 1)
        return host, int(port)

    @property
    def otlp_http_host_port(self) -> tuple[str, int]:
        host, port = str(self.ready["otlp_http"]).rsplit(":", 1)
        return host, int(port)

    # ---- read helpers ----------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return requests.get(self.http_url + path, **kwargs)

    def echo_ok(self) -> None:
        assert self.alive(), "waggle exited\n" + self.diagnostics()
        r = self.get("/api/echo")
        assert r.status_code == 200, f"/api/echo -> {r.status_code} {r.text[:300]}"

    def datasets(self) -> dict[str, int]:
        r = self.get("/api/waggle/datasets")
        assert r.status_code == 200, f"/api/waggle/datasets -> {r.status_code} {r.text[:500]}"
        body = r.json()
        return {d["name"]: int(d["events"]) for d in body["datasets"]}

    def dataset_count(self, name: str) -> int:
        return self.datasets().get(name, 0)

    def wait_dataset_count(self, name: str, expected: int, timeout: float = POLL_TIMEOUT_S) -> int:
        """Polls /api/waggle/datasets until `name` has `expected` events; returns the last count."""
        got = poll(lambda: self.dataset_count(name), lambda n: n >= expected, timeout)
        return got

    def trace_v2(self, trace_id: str, expect_spans: int | None = None,
                 timeout: float = POLL_TIMEOUT_S) -> tuple[requests.Response, list["Span"]]:
        """GET /api/v2/traces/{id}, polling (bounded) until it answers 200 with at least
        `expect_spans` spans. Returns the last response and its flattened spans."""
        return self._trace("/api/v2/traces/" + trace_id, expect_spans, timeout, v2=True)

    def trace_v1(self, trace_id: str, expect_spans: int | None = None,
                 timeout: float = POLL_TIMEOUT_S) -> tuple[requests.Response, list["Span"]]:
        """GET /api/traces/{id} (Tempo v1 shape `{"batches": [...]}`)."""
        return self._trace("/api/traces/" + trace_id, expect_spans, timeout, v2=False)

    def _trace(self, path: str, expect_spans: int | None, timeout: float, v2: bool):
        deadline = time.monotonic() + timeout
        last: requests.Response | None = None
        spans: list[Span] = []
        while True:
            last = self.get(path, headers={"Accept": "application/json"})
            if last.status_code == 200:
                body = last.json()
                resource_spans = body["trace"]["resourceSpans"] if v2 else body["batches"]
                spans = flatten_spans(resource_spans)
                if expect_spans is None or len(spans) >= expect_spans:
                    return last, spans
            if time.monotonic() >= deadline:
                return last, spans
            time.sleep(POLL_INTERVAL_S)


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(POLL_INTERVAL_S)


# ---- OTLP JSON reading (lenient where Tempo and OTLP JSON legitimately differ) ---------


def norm_id(value: Any) -> str:
    """An id as lowercase hex. OTLP JSON uses hex; Tempo's v1 output historically used
    base64 (Go jsonpb). Accept both so one helper reads either endpoint."""
    if value is None:
        return ""
    text = str(value)
    if text == "":
        return ""
    try:
        int(text, 16)
        if len(text) in (16, 32):
            return text.lower()
    except ValueError:
        pass
    raw = base64.b64decode(text)
    return raw.hex()


def as_int(value: Any) -> int:
    """int64/uint64 in OTLP JSON are decimal strings; numbers are accepted too."""
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got bool {value!r}")
    return int(value)


SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def enum_int(value: Any, names: dict[str, int]) -> int:
    """OTLP JSON enums are integers; Tempo's Go output uses names. Accept both."""
    if value is None:
        return 0
    if isinstance(value, str) and value in names:
        return names[value]
    return int(value)


def any_value(v: dict[str, Any] | None) -> Any:
    """Decodes an OTLP JSON AnyValue into a Python value."""
    if not v:
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return as_int(v["intValue"])
    if "doubleValue" in v:
        d = v["doubleValue"]
        return float(d)
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", []) or []]
    if "kvlistValue" in v:
        return {kv["key"]: any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values", []) or []}
    if "bytesValue" in v:
        return base64.b64decode(v["bytesValue"])
    return None


def attrs(kvs: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value")) for kv in (kvs or [])}


class Span:
    """A span read back from the trace API, with its resource and scope attached."""

    def __init__(self, raw: dict[str, Any], resource: dict[str, Any], scope: dict[str, Any]):
        self.raw = raw
        self.resource = resource
        self.scope = scope
        self.trace_id = norm_id(raw.get("traceId"))
        self.span_id = norm_id(raw.get("spanId"))
        self.parent_span_id = norm_id(raw.get("parentSpanId"))
        self.name = raw.get("name")
        self.kind = enum_int(raw.get("kind"), SPAN_KINDS)
        self.start = as_int(raw.get("startTimeUnixNano", 0))
        self.end = as_int(raw.get("endTimeUnixNano", 0))
        self.attributes = attrs(raw.get("attributes"))
        status = raw.get("status") or {}
        self.status_code = enum_int(status.get("code"), STATUS_CODES)
        self.status_message = status.get("message", "") or ""
        self.events = [
            {
                "name": e.get("name"),
                "time": as_int(e.get("timeUnixNano", 0)),
                "attributes": attrs(e.get("attributes")),
            }
            for e in raw.get("events") or []
        ]
        self.links = [
            {
                "trace_id": norm_id(link.get("traceId")),
                "span_id": norm_id(link.get("spanId")),
                "attributes": attrs(link.get("attributes")),
            }
            for link in raw.get("links") or []
        ]

    def __repr__(self) -> str:
        return f"Span({self.name!r}, {self.span_id}, parent={self.parent_span_id or '-'})"


def flatten_spans(resource_spans: list[dict[str, Any]]) -> list[Span]:
    out: list[Span] = []
    for rs in resource_spans or []:
        resource = attrs((rs.get("resource") or {}).get("attributes"))
        # OTLP calls it scopeSpans; Tempo v1 output also used instrumentationLibrarySpans.
        scope_lists = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
        for ss in scope_lists:
            scope = ss.get("scope") or ss.get("instrumentationLibrary") or {}
            for raw in ss.get("spans") or []:
                out.append(Span(raw, resource, scope))
    return out


def xray_id(trace_id_hex: str) -> str:
    """The X-Ray form of a 32-hex-digit trace id: 1-{first 8}-{last 24}."""
    assert len(trace_id_hex) == 32
    return f"1-{trace_id_hex[:8]}-{trace_id_hex[8:]}"


# ---- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def waggle(tmp_path_factory: pytest.TempPathFactory):
    """One server per test module (modules don't share data)."""
    root = tmp_path_factory.mktemp("waggle")
    server = WaggleServer(root / "data", root / "logs").start()
    try:
        yield server
    finally:
        if server.alive():
            server.terminate()


@pytest.fixture
def waggle_factory(tmp_path: Path):
    """Builds servers on a test's own data directory (for restart and kill tests)."""
    servers: list[WaggleServer] = []

    def make(data_dir: Path | None = None, extra_args: list[str] | None = None) -> WaggleServer:
        server = WaggleServer(data_dir or tmp_path / "data", tmp_path / "logs", extra_args)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for s in servers:
            s.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the server's stderr tail so a failing assertion shows what the
    server logged."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        server = item.funcargs.get("waggle") if hasattr(item, "funcargs") else None
        if isinstance(server, WaggleServer):
            report.sections.append(("waggle stderr (tail)", server.stderr_tail(4000)))
