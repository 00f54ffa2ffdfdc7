"""The official Python libhoney client (Honeycomb Events API) against a real Waggle:
batches land in the named dataset and every event gets its own 202, in order."""

from __future__ import annotations

import gzip
import json
import queue
import time
import uuid

import libhoney
import requests

from conftest import HTTP_TIMEOUT_S, WaggleServer

EVENTS = 250
# libhoney's close() joins its sender; each batch POST has a 10 s timeout, so this bounds
# how long we wait for the response queue to drain.
RESPONSES_TIMEOUT_S = 30.0
WRITE_KEY = "e2e-environment-key"


def drain_responses(client: libhoney.Client, expected: int) -> list[dict]:
    responses = []
    deadline = time.monotonic() + RESPONSES_TIMEOUT_S
    q = client.responses()
    while len(responses) < expected:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(responses)} of {expected} libhoney responses arrived"
        try:
            item = q.get(timeout=remaining)
        except queue.Empty:
            continue
        if item is None:  # close() sentinel: nothing more is coming
            break
        responses.append(item)
    return responses


def test_libhoney_batches_land_with_per_event_202(waggle: WaggleServer):
    dataset = f"e2e-libhoney-{uuid.uuid4().hex[:8]}"
    client = libhoney.Client(
        writekey=WRITE_KEY,
        dataset=dataset,
        api_host=waggle.http_url,
        block_on_send=True,
        block_on_response=True,
    )
    try:
        for i in range(EVENTS):
            ev = client.new_event()
            ev.add(
                {
                    "name": "e2e.libhoney",
                    "seq": i,
                    "duration_ms": i * 0.5,
                    "ok": i % 7 != 0,
                    "route": f"/api/things/{i % 5}",
                    "user": "andrew" if i % 2 else "brown",
                }
            )
            ev.metadata = {"seq": i}
            ev.send()
            if i % 60 == 59:
                # Spread events over several batches (libhoney batches every 250 ms or
                # after 100 events).
                time.sleep(0.3)
    finally:
        client.close()
    responses = drain_responses(client, EVENTS)
    assert len(responses) == EVENTS, f"{len(responses)} responses for {EVENTS} events"
    bad = [r for r in responses if r["status_code"] != 202 or r["error"]]
    assert not bad, f"{len(bad)} events not accepted, e.g. {bad[:3]}"
    assert sorted(r["metadata"]["seq"] for r in responses) == list(range(EVENTS))

    count = waggle.wait_dataset_count(dataset, EVENTS)
    assert count == EVENTS, f"dataset {dataset!r} has {count} events: {waggle.datasets()}"


def test_libhoney_dataset_with_space_in_name(waggle: WaggleServer):
    """libhoney-py sends the dataset unescaped; requests percent-encodes the space."""
    dataset = f"E2E Spaced {uuid.uuid4().hex[:6]}"
    client = libhoney.Client(writekey=WRITE_KEY, dataset=dataset, api_host=waggle.http_url, block_on_send=True)
    try:
        for i in range(3):
            client.send_now({"seq": i})
    finally:
        client.close()
    responses = drain_responses(client, 3)
    assert [r["status_code"] for r in responses] == [202] * 3, responses
    names = waggle.datasets()
    matching = {n: c for n, c in names.items() if n.lower() == dataset.lower()}
    assert sum(matching.values()) == 3, f"no dataset named {dataset!r}: {names}"


def test_single_event_endpoint(waggle: WaggleServer):
    dataset = f"e2e-single-{uuid.uuid4().hex[:8]}"
    r = requests.post(
        f"{waggle.http_url}/1/events/{dataset}",
        data=json.dumps({"name": "one", "duration_ms": 12.5, "ok": True}),
        headers={
            "X-Honeycomb-Team": WRITE_KEY,
            "Content-Type": "application/json",
            "X-Honeycomb-Event-Time": "2026-11-25T23:36:11.107982Z",
            "X-Honeycomb-Samplerate": "1",
        },
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code in (200, 202), f"/1/events -> {r.status_code} {r.text[:300]}"
    assert waggle.wait_dataset_count(dataset, 1) == 1, waggle.datasets()


def test_batch_gzip_and_zstd_bodies(waggle: WaggleServer):
    import zstandard

    dataset = f"e2e-enc-{uuid.uuid4().hex[:8]}"
    body = json.dumps([{"data": {"n": i}, "samplerate": 1} for i in range(4)]).encode()
    for encoding, payload in (
        ("gzip", gzip.compress(body)),
        ("zstd", zstandard.ZstdCompressor().compress(body)),
    ):
        r = requests.post(
            f"{waggle.http_url}/1/batch/{dataset}",
            data=payload,
            headers={"X-Honeycomb-Team": WRITE_KEY, "Content-Type": "application/json", "Content-Encoding": encoding},
            timeout=HTTP_TIMEOUT_S,
        )
        assert r.status_code == 200, f"{encoding}: /1/batch -> {r.status_code} {r.text[:300]}"
        assert r.json() == [{"status": 202}] * 4, f"{encoding}: {r.text[:300]}"
    assert waggle.wait_dataset_count(dataset, 8) == 8, waggle.datasets()


def test_auth_endpoint(waggle: WaggleServer):
    r = requests.get(f"{waggle.http_url}/1/auth", headers={"X-Honeycomb-Team": WRITE_KEY}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, f"/1/auth -> {r.status_code} {r.text[:300]}"
    body = r.json()
    for key in ("team", "environment", "api_key_access"):
        assert key in body, f"/1/auth lacks {key!r}: {body}"
