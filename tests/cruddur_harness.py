"""A real `cruddur` (the Rust port of the seed's Flask backend) on port 0, for the Cruddur
end-to-end tests. Shared by test_cruddur_routes.py and test_cruddur_sinks_down.py.

The binary comes from `$CRUDDUR_BIN`, else `$CARGO_TARGET_DIR/release/cruddur`, else
`~/.cache/waggle-target/release/cruddur` (what `scripts/test-all.sh` builds).

Contract of the binary (what these tests rely on):
- `cruddur --bind HOST:PORT` (or env `CRUDDUR_BIND`) listens there; port 0 picks a free port.
- When it listens it prints one stdout line `CRUDDUR_READY {"addr":"127.0.0.1:PORT"}`.
- SIGTERM or SIGINT stops it cleanly: exit code 0 within a few seconds.
- Configuration is the seed's environment (SYSTEM.md §2.6): `FRONTEND_URL`, `BACKEND_URL`,
  `FLASK_ENV`, `OTEL_*`, `AWS_*`, `ROLLBAR_*`; `CRUDDUR_TELEMETRY=off` turns every telemetry
  sink off (the hermetic route tests use it).

Test modules use the fixtures by importing them:
`from cruddur_harness import cruddur, cruddur_factory  # noqa: F401`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

# Bounded waits (our choice, as in conftest.py: start-up of a mock-data server is
# milliseconds; 30 s absorbs a cold page cache on a loaded 2-core CI machine).
READY_TIMEOUT_S = 30.0
# The contract says "within a few seconds"; 10 s is the bound the brief names for the
# sinks-down case (a shutdown that waits on an unreachable sink must still end by then).
SHUTDOWN_TIMEOUT_S = 10.0
# Per-request timeout for the HTTP helpers (a mock route answers in milliseconds).
HTTP_TIMEOUT_S = 10.0

READY_PREFIX = "CRUDDUR_READY "

# The two CORS origins every test server is started with (SYSTEM.md §2.4: origins are
# [FRONTEND_URL, BACKEND_URL]). Gitpod-shaped, but on a reserved test domain.
FRONTEND_URL = "https://3000-cruddur.example.test"
BACKEND_URL = "https://4567-cruddur.example.test"

# Environment that is never inherited from the developer's shell: anything here could point
# the server at a real sink or change its output format.
_SCRUBBED_PREFIXES = ("OTEL_", "AWS_", "ROLLBAR_", "CRUDDUR_", "HONEYCOMB_", "FLASK_")
# RUST_LOG too: the binary's own default filter rate-limits sink warnings, which the
# sinks-down test counts; a test that wants more logging passes RUST_LOG in `env`.
_SCRUBBED_NAMES = ("FRONTEND_URL", "BACKEND_URL", "TZ", "RUST_LOG")

# Settings every test server gets unless a test overrides them.
BASE_ENV = {
    # The seed's container ran with TZ=UTC: aware timestamps end in +00:00 and the naive
    # user-feed timestamps are UTC wall-clock time. Pinning it makes the tests independent
    # of the machine's zone.
    "TZ": "UTC",
    "FRONTEND_URL": FRONTEND_URL,
    "BACKEND_URL": BACKEND_URL,
    # Never let an AWS credential chain probe the EC2/ECS metadata endpoints (off-machine
    # addresses) or read the developer's ~/.aws files.
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/cruddur-tests/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/cruddur-tests/config",
}

# The hermetic variant used by the route tests: no telemetry sink at all.
HERMETIC_ENV = {**BASE_ENV, "CRUDDUR_TELEMETRY": "off"}


def cruddur_bin() -> Path:
    explicit = os.environ.get("CRUDDUR_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "waggle-target")
    return Path(target) / "release" / "cruddur"


class CruddurServer:
    """One `cruddur` child process with its bound address.

    `env` (default HERMETIC_ENV; build others from BASE_ENV) is layered over a scrubbed copy
    of os.environ (see _SCRUBBED_*); a value of None removes the variable. `bind=None` passes no `--bind` flag (for tests of `CRUDDUR_BIND`
    and of the default address)."""

    def __init__(
        self,
        log_dir: Path,
        env: dict[str, str | None] | None = None,
        bind: str | None = "127.0.0.1:0",
        extra_args: list[str] | None = None,
        name: str = "cruddur",
    ):
        self.log_dir = Path(log_dir)
        self.env_overrides = dict(HERMETIC_ENV if env is None else env)
        self.bind = bind
        self.extra_args = extra_args or []
        self.name = name
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.stdout_lines: list[str] = []
        self.exit_code: int | None = None
        self._starts = 0
        self._stderr_path: Path | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def build_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in list(env):
            if key == "CRUDDUR_BIN":
                continue
            if key.startswith(_SCRUBBED_PREFIXES) or key in _SCRUBBED_NAMES:
                del env[key]
        for key, value in self.env_overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self) -> "CruddurServer":
        binary = cruddur_bin()
        if not binary.is_file():
            pytest.fail(
                f"cruddur binary not found at {binary}; build it with "
                "`cargo build --release -p cruddur` or set CRUDDUR_BIN",
                pytrace=False,
            )
        self._starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_path = self.log_dir / f"{self.name}-stderr-{self._starts}.log"
        args = [str(binary)]
        if self.bind is not None:
            args += ["--bind", self.bind]
        args += self.extra_args
        stderr = open(self._stderr_path, "w", encoding="utf-8")
        self.stdout_lines = []
        self.ready = {}
        self.exit_code = None
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=self.build_env(),
        )
        stderr.close()
        ready_event = threading.Event()
        proc = self.proc
        lines = self.stdout_lines

        def pump() -> None:
            # Drain stdout for the life of the process so the pipe never fills.
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

        threading.Thread(target=pump, name=f"{self.name}-stdout", daemon=True).start()
        if not ready_event.wait(READY_TIMEOUT_S):
            self.kill()
            pytest.fail(
                f"cruddur did not print {READY_PREFIX.strip()} within {READY_TIMEOUT_S} s\n"
                + self.diagnostics(),
                pytrace=False,
            )
        if not self.ready or "_unparseable" in self.ready or "addr" not in self.ready:
            code = self.proc.poll()
            self.kill()
            pytest.fail(
                f"cruddur exited (code {code}) or printed a bad READY line before becoming ready\n"
                + self.diagnostics(),
                pytrace=False,
            )
        return self

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = SHUTDOWN_TIMEOUT_S) -> int:
        """Graceful stop; returns the exit code. Fails the test if it does not exit in time."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"cruddur did not exit within {timeout} s of signal {sig}\n" + self.diagnostics(),
                pytrace=False,
            )
        return self.exit_code

    def stop_expecting_clean_exit(self, sig: int = signal.SIGTERM,
                                  timeout: float = SHUTDOWN_TIMEOUT_S) -> float:
        """Signal, wait (bounded) and fail unless the exit code is 0; returns the seconds taken."""
        t0 = time.monotonic()
        code = self.terminate(sig, timeout)
        took = time.monotonic() - t0
        if code != 0:
            pytest.fail(
                f"cruddur exited with code {code} after signal {sig} (expected 0)\n"
                + self.diagnostics(),
                pytrace=False,
            )
        return took

    def kill(self) -> None:
        """SIGKILL, then reap (bounded)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def stderr_tail(self, max_chars: int = 6000) -> str:
        return self.stderr_text()[-max_chars:]

    def diagnostics(self) -> str:
        code = self.proc.poll() if self.proc is not None else None
        return (
            f"exit code: {code}\n--- stdout ---\n"
            + "\n".join(self.stdout_lines[-40:])
            + "\n--- stderr (tail) ---\n"
            + self.stderr_tail()
        )

    # ---- address and requests --------------------------------------------------------

    @property
    def addr(self) -> str:
        return str(self.ready["addr"])

    @property
    def url(self) -> str:
        return f"http://{self.addr}"

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.addr.rsplit(":", 1)
        return host, int(port)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request on a fresh connection, never following redirects (a redirect where
        Flask answers 404 would be a bug the test must see)."""
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post_json(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        return self.request("POST", path, data=json.dumps(body).encode(), headers=headers, **kwargs)


# ---- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cruddur(tmp_path_factory: pytest.TempPathFactory):
    """One hermetic server (telemetry off, compact JSON) per test module. Teardown stops it
    with SIGTERM and fails if it does not exit 0 in time."""
    root = tmp_path_factory.mktemp("cruddur")
    server = CruddurServer(root / "logs").start()
    try:
        yield server
    finally:
        if server.alive():
            server.stop_expecting_clean_exit()


@pytest.fixture
def cruddur_factory(tmp_path: Path):
    """Builds servers with a test's own environment; any left running are killed."""
    servers: list[CruddurServer] = []

    def make(env: dict[str, str | None] | None = None, **kwargs: Any) -> CruddurServer:
        server = CruddurServer(tmp_path / "logs", env=env, name=f"cruddur{len(servers)}", **kwargs)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for s in servers:
            s.kill()
