"""Bad input over real sockets: each gets the protocol's own error with a readable message,
valid items in the same batch are kept where the protocol allows, and the server keeps
serving afterwards."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
import uuid
import zlib
from typing import Iterable

import pytest
import requests
import zstandard
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from conftest import HTTP_TIMEOUT_S, WaggleServer
import otlp_payloads as P

MIB = 1024 * 1024
# OTLP spec: servers SHOULD cap bodies (after decompression) at 64 MiB and answer 413.
BODY_LIMIT = 64 * MIB
# A valid body that every OTLP server must take (our choice: 16 MiB, above gRPC's 4 MiB
# default and below the Collector's and Honeycomb's 20 MiB).
LARGE_BODY = 16 * MIB
# How long a 413 for a decompression bomb may take (our choice: inflating 64 MiB of zeros
# takes well under a second; anything slow means the server inflates past the limit).
BOMB_ANSWER_S_MAX = 10.0
PROTOBUF = "application/x-protobuf"
HNY_KEY = "e2e-environment-key"


@pytest.fixture(autouse=True)
def still_serving(waggle: WaggleServer):
    """After every bad request, the server must still be up and answering."""
    yield
    waggle.echo_ok()


def post(server: WaggleServer, path: str, body: bytes, content_type: str, **headers: str) -> requests.Response:
    return requests.post(
        server.otlp_http_url + path,
        data=body,
        headers={"Content-Type": content_type, **headers},
        timeout=HTTP_TIMEOUT_S,
    )


def status_message(r: requests.Response) -> str:
    """The google.rpc.Status message of an OTLP error response, in the response's encoding."""
    ctype = r.headers.get("Content-Type", "")
    if "json" in ctype:
        body = r.json()
        assert isinstance(body, dict) and "message" in body, f"JSON error body is not a Status: {r.text[:300]}"
        return str(body["message"])
    assert "protobuf" in ctype, f"error Content-Type {ctype!r} is neither protobuf nor JSON: {r.content[:300]!r}"
    st = status_pb2.Status()
    st.ParseFromString(r.content)
    return st.message


def valid_request(service: str, n: int = 3) -> tuple[bytes, trace_service_pb2.ExportTraceServiceRequest]:
    return P.cruddur_trace(service, n)


def span_count(server: WaggleServer, trace_hex: str) -> int:
    r, spans = server.trace_v2(trace_hex, timeout=2.0)
    return len(spans) if r.status_code == 200 else 0


def partial_success(r: requests.Response) -> tuple[int, str]:
    """(rejected_spans, error_message) of a 200 OTLP trace response in either encoding."""
    if "json" in r.headers.get("Content-Type", ""):
        body = r.json()
        ps = body.get("partialSuccess") or {}
        return int(ps.get("rejectedSpans", 0)), ps.get("errorMessage", "")
    resp = trace_service_pb2.ExportTraceServiceResponse()
    resp.ParseFromString(r.content)
    return resp.partial_success.rejected_spans, resp.partial_success.error_message


def raw_request(
    host: str, port: int, path: str, headers: dict[str, str], body: Iterable[bytes], timeout: float = 60.0
) -> tuple[int, dict[str, str], bytes, bool]:
    """Sends a request over a plain socket, streaming the body, and reads the answer even if
    the server answers (and stops reading) before the body is complete. Returns
    (status, headers, body, whole_body_sent)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sent_all = True
        try:
            sock.sendall(head.encode())
            for chunk in body:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, sent_all
    finally:
        sock.close()


def zeros(total: int, chunk: int = MIB) -> Iterable[bytes]:
    block = b"\0" * chunk
    left = total
    while left > 0:
        n = min(chunk, left)
        yield block if n == chunk else block[:n]
        left -= n


# ---- OTLP/HTTP --------------------------------------------------------------------------


def test_truncated_protobuf_is_400_with_status(waggle: WaggleServer):
    _, req = valid_request("e2e-bad-trunc")
    body = req.SerializeToString()
    r = post(waggle, "/v1/traces", body[: len(body) - 7], PROTOBUF)
    assert r.status_code == 400, f"truncated protobuf -> {r.status_code} {r.content[:300]!r}"
    msg = status_message(r)
    assert len(msg) >= 10, f"400 without a readable message: {msg!r}"


def test_wrong_content_type_is_415(waggle: WaggleServer):
    _, req = valid_request("e2e-bad-ctype")
    for ctype in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        r = post(waggle, "/v1/traces", req.SerializeToString(), ctype)
        assert r.status_code == 415, f"Content-Type {ctype!r} -> {r.status_code} {r.content[:300]!r}"


def test_unknown_content_encoding_is_rejected(waggle: WaggleServer):
    _, req = valid_request("e2e-bad-enc")
    r = post(waggle, "/v1/traces", req.SerializeToString(), PROTOBUF, **{"Content-Encoding": "br"})
    assert r.status_code in (400, 415), f"Content-Encoding br -> {r.status_code} {r.content[:300]!r}"


def test_invalid_json_is_400_with_json_status(waggle: WaggleServer):
    for body in (b'{"resourceSpans": [', b"not json at all", b'{"resourceSpans": {"x": 1}}'):
        r = post(waggle, "/v1/traces", body, "application/json")
        assert r.status_code == 400, f"{body!r} -> {r.status_code} {r.content[:300]!r}"
        assert "json" in r.headers.get("Content-Type", ""), f"JSON request got {r.headers.get('Content-Type')!r}"
        msg = status_message(r)
        assert len(msg) >= 10, f"400 without a readable message: {msg!r}"


def test_json_invalid_ids_partial_success_keeps_valid_spans(waggle: WaggleServer):
    service = f"e2e-bad-ids-{uuid.uuid4().hex[:6]}"
    tid = P.new_trace_id().hex()
    root, child = P.new_span_id().hex(), P.new_span_id().hex()
    spans = [
        P.json_span(tid, root, "valid-root"),
        P.json_span(tid, child, "valid-child", parent=root),
        P.json_span("0" * 32, P.new_span_id().hex(), "zero-trace-id"),
        P.json_span(tid, "abcd", "short-span-id"),
        P.json_span(tid, "", "empty-span-id"),
        P.json_span(tid, "0" * 16, "zero-span-id"),
    ]
    r = post(waggle, "/v1/traces", json.dumps(P.json_trace_request(service, spans)).encode(), "application/json")
    assert r.status_code == 200, f"-> {r.status_code} {r.text[:500]}"
    assert "json" in r.headers.get("Content-Type", ""), r.headers
    rejected, message = partial_success(r)
    assert rejected == 4, f"rejectedSpans {rejected}, expected 4: {r.text[:500]}"
    assert message, f"partial success without errorMessage: {r.text[:500]}"
    r2, kept = waggle.trace_v2(tid, expect_spans=2)
    assert sorted(s.name for s in kept) == ["valid-child", "valid-root"], f"{r2.status_code} {kept}"


def test_json_non_hex_id(waggle: WaggleServer):
    """A trace id that isn't hex at all: either the one span is rejected (partial success,
    the valid span kept) or the request is refused as unreadable; never a 5xx or silent loss."""
    service = f"e2e-bad-hex-{uuid.uuid4().hex[:6]}"
    tid = P.new_trace_id().hex()
    spans = [
        P.json_span(tid, P.new_span_id().hex(), "valid"),
        P.json_span("zz" * 16, P.new_span_id().hex(), "non-hex"),
    ]
    r = post(waggle, "/v1/traces", json.dumps(P.json_trace_request(service, spans)).encode(), "application/json")
    if r.status_code == 200:
        rejected, message = partial_success(r)
        assert rejected == 1 and message, r.text[:500]
        assert span_count(waggle, tid) == 1
    else:
        assert r.status_code == 400, f"-> {r.status_code} {r.text[:500]}"
        assert len(status_message(r)) >= 10


def test_protobuf_invalid_ids_partial_success(waggle: WaggleServer):
    service = f"e2e-bad-pbids-{uuid.uuid4().hex[:6]}"
    tid = P.new_trace_id()
    good = P.span(tid, P.new_span_id(), "good")
    bad_trace = P.span(b"\x01\x02\x03", P.new_span_id(), "three-byte-trace-id")
    bad_span = P.span(tid, b"\0" * 8, "zero-span-id")
    body = P.trace_request(service, [good, bad_trace, bad_span]).SerializeToString()
    r = post(waggle, "/v1/traces", body, PROTOBUF)
    assert r.status_code == 200, f"-> {r.status_code} {r.content[:300]!r}"
    rejected, message = partial_success(r)
    assert rejected == 2 and message, f"partial_success rejected={rejected} message={message!r}"
    assert span_count(waggle, tid.hex()) == 1


def test_span_with_10000_attributes(waggle: WaggleServer):
    service = f"e2e-bad-attrs-{uuid.uuid4().hex[:6]}"
    tid, big_tid = P.new_trace_id(), P.new_trace_id()
    root = P.new_span_id()
    spans = [
        P.span(tid, root, "valid-root", attributes={"a": 1}),
        P.span(tid, P.new_span_id(), "valid-child", parent=root, attributes={"b": "x"}),
        P.span(big_tid, P.new_span_id(), "huge", attributes={f"attr.{i}": i for i in range(10_000)}),
    ]
    t = time.monotonic()
    r = post(waggle, "/v1/traces", P.trace_request(service, spans).SerializeToString(), PROTOBUF)
    elapsed = time.monotonic() - t
    assert r.status_code == 200, f"-> {r.status_code} {r.content[:300]!r}"
    rejected, message = partial_success(r)
    assert rejected in (0, 1), f"rejected_spans={rejected}"
    assert message, "10,000 attributes accepted without a partial-success message saying what was dropped"
    assert span_count(waggle, tid.hex()) == 2, "valid spans in the same request were not kept"
    assert elapsed < 30, f"took {elapsed:.1f} s"
    if rejected == 1:
        assert span_count(waggle, big_tid.hex()) == 0


def test_large_valid_body_is_accepted(waggle: WaggleServer):
    """Control for the size tests: a real large batch (16 MiB of protobuf, 4x gRPC's
    default message size, as a Collector with big batches sends) is stored, not refused."""
    service = f"e2e-large-{uuid.uuid4().hex[:6]}"
    tid = P.new_trace_id()
    spans = [
        P.span(tid, P.new_span_id(), f"span-{i}", attributes={"payload": "x" * 16_000, "i": i})
        for i in range(LARGE_BODY // 16_050)
    ]
    body = P.trace_request(service, spans).SerializeToString()
    assert len(body) > LARGE_BODY - 64 * 1024, len(body)
    r = post(waggle, "/v1/traces", body, PROTOBUF)
    assert r.status_code == 200, f"{len(body)} byte valid body -> {r.status_code} {r.content[:300]!r}"
    assert partial_success(r) == (0, ""), partial_success(r)
    assert waggle.wait_dataset_count(service, len(spans)) == len(spans)


def test_oversized_body_is_413(waggle: WaggleServer):
    host, port = waggle.otlp_http_host_port
    size = BODY_LIMIT + MIB
    status, headers, body, _ = raw_request(
        host, port, "/v1/traces", {"Content-Type": PROTOBUF, "Content-Length": str(size)}, zeros(size)
    )
    assert status == 413, f"{size} byte body -> {status} {body[:300]!r}"


def test_oversized_chunked_body_is_413(waggle: WaggleServer):
    """Without Content-Length the server must stop reading at the limit."""
    host, port = waggle.otlp_http_host_port

    def chunked() -> Iterable[bytes]:
        for block in zeros(BODY_LIMIT + MIB):
            yield f"{len(block):x}\r\n".encode() + block + b"\r\n"
        yield b"0\r\n\r\n"

    status, _, body, _ = raw_request(
        host, port, "/v1/traces", {"Content-Type": PROTOBUF, "Transfer-Encoding": "chunked"}, chunked()
    )
    assert status == 413, f"chunked oversized body -> {status} {body[:300]!r}"


def bomb(encoding: str) -> bytes:
    # Each member/frame inflates to 65 MiB (over the limit by itself); 16 gzip members make
    # ~1 GiB for decoders that follow multi-member gzip.
    plain = b"\0" * (BODY_LIMIT + MIB)
    if encoding == "gzip":
        return gzip.compress(plain, compresslevel=9) * 16
    if encoding == "deflate":
        return zlib.compress(plain, 9)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(plain)
    raise ValueError(encoding)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_decompression_bomb_is_413_quickly(waggle: WaggleServer, encoding: str):
    payload = bomb(encoding)
    assert len(payload) < 2 * MIB
    t = time.monotonic()
    r = post(waggle, "/v1/traces", payload, PROTOBUF, **{"Content-Encoding": encoding})
    elapsed = time.monotonic() - t
    assert r.status_code == 413, f"{encoding} bomb ({len(payload)} bytes) -> {r.status_code} {r.content[:300]!r}"
    assert elapsed < BOMB_ANSWER_S_MAX, f"{encoding} bomb took {elapsed:.1f} s to refuse"


def test_gzip_request_is_accepted(waggle: WaggleServer):
    """Control for the bomb tests: a normal gzip/zstd/deflate body is fine."""
    for encoding, compress in (
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
    ):
        tid, req = valid_request(f"e2e-enc-{encoding}-{uuid.uuid4().hex[:6]}")
        r = post(waggle, "/v1/traces", compress(req.SerializeToString()), PROTOBUF, **{"Content-Encoding": encoding})
        assert r.status_code == 200, f"{encoding} -> {r.status_code} {r.content[:300]!r}"
        assert span_count(waggle, tid.hex()) == 3, encoding


# ---- Honeycomb Events API ---------------------------------------------------------------


def hny_post(server: WaggleServer, dataset: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"{server.http_url}/1/batch/{dataset}",
        data=body,
        headers={"Content-Type": "application/json", "X-Honeycomb-Team": HNY_KEY, **headers},
        timeout=HTTP_TIMEOUT_S,
    )


def test_honeycomb_malformed_batch_is_400_with_error(waggle: WaggleServer):
    dataset = f"e2e-hny-bad-{uuid.uuid4().hex[:6]}"
    for body in (b'[{"data": {"a": 1}', b"garbage", b'{"data": {"a": 1}}'):
        r = hny_post(waggle, dataset, body)
        assert r.status_code == 400, f"{body!r} -> {r.status_code} {r.text[:300]}"
        err = r.json()
        assert isinstance(err, dict) and isinstance(err.get("error"), str) and err["error"], r.text[:300]
    assert waggle.dataset_count(dataset) == 0


def test_honeycomb_batch_per_event_statuses_in_order(waggle: WaggleServer):
    dataset = f"e2e-hny-mixed-{uuid.uuid4().hex[:6]}"
    too_many_fields = {f"f{i}": i for i in range(2001)}  # Honeycomb: max 2000 fields per event
    events = [
        {"data": {"a": 1}},
        {"data": "not an object"},
        {"data": {"b": 2}, "time": "2026-11-25T23:36:11.107982Z", "samplerate": 1},
        {"time": "2026-11-25T23:36:11Z"},  # no data
        {"data": too_many_fields},
        {"data": {"c": 3}},
    ]
    r = hny_post(waggle, dataset, json.dumps(events).encode())
    assert r.status_code == 200, f"-> {r.status_code} {r.text[:300]}"
    statuses = r.json()
    assert isinstance(statuses, list) and len(statuses) == len(events), r.text[:500]
    assert [s["status"] for s in statuses] == [202, 400, 202, 400, 400, 202], r.text[:500]
    for s in statuses:
        if s["status"] == 400:
            assert isinstance(s.get("error"), str) and s["error"], f"400 without error text: {s}"
    assert waggle.wait_dataset_count(dataset, 3) == 3, waggle.datasets()


def test_honeycomb_gzip_bomb(waggle: WaggleServer):
    dataset = f"e2e-hny-bomb-{uuid.uuid4().hex[:6]}"
    t = time.monotonic()
    r = hny_post(waggle, dataset, bomb("gzip"), **{"Content-Encoding": "gzip"})
    elapsed = time.monotonic() - t
    assert r.status_code in (400, 413), f"-> {r.status_code} {r.text[:300]}"
    assert isinstance(r.json().get("error"), str), r.text[:300]
    assert elapsed < BOMB_ANSWER_S_MAX, f"took {elapsed:.1f} s"
