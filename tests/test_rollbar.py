"""Rollbar with the real pyrollbar 1.5.0 client against `waggle serve`: messages at every
level, real exceptions (chained ones too), the Flask integration through
`got_request_exception` and the seed's `/rollbar/test` route (SYSTEM.md §3.5), grouping into
items, resolve and reactivation in a newer version, token scopes — read back through the
Rollbar read API, Honeycomb's query API and the trace the error belongs to.

pyrollbar cannot be re-initialised (`init` after the first call only merges settings), so the
module initialises it once against the module's server; the token-scope test points the same
client at a second server by changing `rollbar.SETTINGS`, the only way pyrollbar offers.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
import requests
import rollbar
import rollbar.contrib.flask
from flask import Flask, got_request_exception

from conftest import HTTP_TIMEOUT_S, WaggleServer

# Local mode (no --rollbar-tokens): any token posts to project "default", whose dataset is
# "default".
TOKEN = "local-test-token"
DATASET = "default"


@pytest.fixture(scope="module")
def rb(waggle: WaggleServer):
    rollbar.init(
        TOKEN,
        "production",
        endpoint=waggle.http_url + "/api/1/",
        handler="blocking",
        root=os.path.dirname(os.path.abspath(__file__)),
        allow_logging_basic_config=False,
        code_version="1.0",
        suppress_reinit_warning=True,
    )
    rollbar.SETTINGS["endpoint"] = waggle.http_url + "/api/1/"
    rollbar.SETTINGS["access_token"] = TOKEN
    rollbar.SETTINGS["code_version"] = "1.0"
    yield waggle


def api(waggle: WaggleServer, path: str, token: str = TOKEN, **params) -> dict:
    r = requests.get(
        waggle.http_url + path,
        headers={"X-Rollbar-Access-Token": token},
        params=params,
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, f"{path} -> {r.status_code} {r.text[:500]}"
    body = r.json()
    assert body["err"] == 0, body
    return body["result"]


def all_items(waggle: WaggleServer, **params) -> list[dict]:
    return api(waggle, "/api/1/items", **params)["items"]


def item_with_uuid(waggle: WaggleServer, occurrence_uuid: str) -> dict:
    """The item whose newest occurrences include this uuid."""
    for item in all_items(waggle):
        for inst in api(waggle, f"/api/1/item/{item['id']}/instances")["instances"]:
            if inst["data"]["uuid"] == occurrence_uuid:
                return item
    raise AssertionError(f"no item has an occurrence with uuid {occurrence_uuid}")


def honeycomb(waggle: WaggleServer, dataset: str, spec: dict) -> list[dict]:
    r = requests.post(f"{waggle.http_url}/1/queries/{dataset}", json=spec, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{waggle.http_url}/1/query_results/{dataset}",
        json={"query_id": r.json()["id"], "disable_series": True},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 201, r.text
    got = requests.get(f"{waggle.http_url}/1/query_results/{dataset}/{r.json()['id']}", timeout=HTTP_TIMEOUT_S)
    assert got.status_code == 200, got.text
    return [row["data"] for row in got.json()["data"]["results"]]


def test_report_message_at_each_level(rb: WaggleServer):
    uuids = {}
    for level in ["debug", "info", "warning", "error", "critical"]:
        uuids[level] = rollbar.report_message(f"level probe for {level}s", level)
        assert uuids[level]
    for level, occ in uuids.items():
        item = item_with_uuid(rb, occ)
        assert item["level"] == level
        assert item["title"] == f"level probe for {level}s"
        assert item["environment"] == "production"
        assert item["status"] == "active"
        assert item["code_versions"] == ["1.0"]
        [inst] = [i for i in api(rb, f"/api/1/item/{item['id']}/instances")["instances"] if i["data"]["uuid"] == occ]
        assert inst["data"]["notifier"]["name"] == "pyrollbar"
        assert inst["data"]["notifier"]["version"] == "1.5.0"
        assert inst["data"]["body"]["message"]["body"] == f"level probe for {level}s"
        one = api(rb, f"/api/1/instance/{inst['id']}")
        assert one["data"]["uuid"] == occ
    levels = {i["level"] for i in all_items(rb, level="critical")}
    assert levels == {"critical"}


def raise_key_error():
    return {}["missing-key"]


def raise_zero_division():
    return 1 / 0


def test_the_same_exception_50_times_is_one_item_a_different_one_a_second(rb: WaggleServer):
    uuids = []
    for _ in range(50):
        try:
            raise_key_error()
        except KeyError:
            uuids.append(rollbar.report_exc_info())
    assert len(set(uuids)) == 50
    item = item_with_uuid(rb, uuids[-1])
    assert item["total_occurrences"] == 50
    assert "KeyError" in item["title"]
    page1 = api(rb, f"/api/1/item/{item['id']}/instances")["instances"]
    assert len(page1) == 20
    assert page1[0]["data"]["uuid"] == uuids[-1], "newest first"
    page3 = api(rb, f"/api/1/item/{item['id']}/instances", page=3)["instances"]
    assert len(page3) == 10
    frames = page1[0]["data"]["body"]["trace"]["frames"]
    assert frames[-1]["method"] == "raise_key_error"

    try:
        raise_zero_division()
    except ZeroDivisionError:
        other_uuid = rollbar.report_exc_info()
    other = item_with_uuid(rb, other_uuid)
    assert other["id"] != item["id"]
    assert other["counter"] != item["counter"]
    assert other["total_occurrences"] == 1
    # The counter URL leads to the same item.
    assert api(rb, f"/api/1/item_by_counter/{item['counter']}")["id"] == item["id"]


def test_a_message_differing_only_in_a_number_groups_with_the_first(rb: WaggleServer):
    first = rollbar.report_message("Payment 1234 failed for order 77", "error")
    second = rollbar.report_message("Payment 99 failed for order 5", "error")
    a, b = item_with_uuid(rb, first), item_with_uuid(rb, second)
    assert a["id"] == b["id"]
    assert a["total_occurrences"] == 2
    assert a["title"] == "Payment 1234 failed for order 77", "the first occurrence names the item"


def fail_chained():
    try:
        raise_key_error()
    except KeyError as e:
        raise ValueError("could not load the profile") from e


def test_a_chained_exception_is_one_trace_chain_occurrence(rb: WaggleServer):
    try:
        fail_chained()
    except ValueError:
        occ = rollbar.report_exc_info()
    item = item_with_uuid(rb, occ)
    [inst] = [i for i in api(rb, f"/api/1/item/{item['id']}/instances")["instances"] if i["data"]["uuid"] == occ]
    chain = inst["data"]["body"]["trace_chain"]
    assert [t["exception"]["class"] for t in chain] == ["ValueError", "KeyError"]
    assert "ValueError" in item["title"]


def make_cruddur_app() -> Flask:
    """The seed's Flask hook-up (SYSTEM.md §3.5): unhandled view errors are reported through
    `got_request_exception`; `/rollbar/test` sends a warning."""
    app = Flask("cruddur-backend")

    @app.route("/api/activities/home")
    def home():
        # The course's deliberate bug: the view returns None, which Flask refuses (TypeError).
        return None

    @app.route("/rollbar/test")
    def rollbar_test():
        rollbar.report_message("Hello World!", "warning")
        return "Hello World!"

    got_request_exception.connect(rollbar.contrib.flask.report_exception, app)
    return app


def test_flask_integration_and_the_seeds_rollbar_test_route(rb: WaggleServer):
    app = make_cruddur_app()
    client = app.test_client()
    trace_id = uuid.uuid4().hex
    span_id = uuid.uuid4().hex[:16]
    for _ in range(3):
        r = client.get("/api/activities/home", headers={"traceparent": f"00-{trace_id}-{span_id}-01"})
        assert r.status_code == 500
    r = client.get("/rollbar/test")
    assert r.status_code == 200 and r.data == b"Hello World!"

    errors = [i for i in all_items(rb) if i["framework"] == "flask" and "TypeError" in i["title"]]
    assert len(errors) == 1, errors
    error = errors[0]
    assert error["total_occurrences"] == 3
    assert error["level"] == "error"
    inst = api(rb, f"/api/1/item/{error['id']}/instances")["instances"][0]
    assert inst["data"]["context"] == "/api/activities/home"
    assert inst["data"]["request"]["url"].endswith("/api/activities/home")
    assert inst["data"]["request"]["method"] == "GET"

    hello = [i for i in all_items(rb, level="warning") if i["title"] == "Hello World!"]
    assert len(hello) == 1 and hello[0]["total_occurrences"] == 1

    # The occurrences are wide events: Honeycomb sees the route, class and counter as columns,
    # and the traceparent header linked them to their trace.
    rows = honeycomb(
        rb,
        DATASET,
        {
            "calculations": [{"op": "COUNT"}],
            "filters": [{"column": "trace.trace_id", "op": "=", "value": trace_id}],
            "breakdowns": ["exception.type", "http.route", "rollbar.counter", "framework", "environment"],
            "time_range": 3600,
        },
    )
    assert rows == [
        {
            "exception.type": "TypeError",
            "http.route": "/api/activities/home",
            "rollbar.counter": error["counter"],
            "framework": "flask",
            "environment": "production",
            "COUNT": 3,
        }
    ], rows


def fail_checkout():
    raise RuntimeError("checkout failed")


def test_resolve_then_recur_in_a_newer_version_reactivates(rb: WaggleServer):
    def report() -> str:
        try:
            fail_checkout()
        except RuntimeError:
            return rollbar.report_exc_info()

    item = item_with_uuid(rb, report())
    r = requests.patch(
        f"{rb.http_url}/api/1/item/{item['id']}",
        headers={"X-Rollbar-Access-Token": TOKEN},
        json={"status": "resolved", "resolved_in_version": "1.1"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "resolved"
    assert item["id"] in {i["id"] for i in all_items(rb, status="resolved")}
    # Still running 1.0 somewhere: stays resolved.
    report()
    assert api(rb, f"/api/1/item/{item['id']}")["status"] == "resolved"
    # The fix is deployed (1.1) and it happens again: active.
    rollbar.SETTINGS["code_version"] = "1.1"
    try:
        report()
    finally:
        rollbar.SETTINGS["code_version"] = "1.0"
    got = api(rb, f"/api/1/item/{item['id']}")
    assert got["status"] == "active"
    assert got["total_occurrences"] == 3
    assert got["code_versions"] == ["1.0", "1.1"]


def test_a_trace_id_in_custom_data_puts_the_error_on_that_trace(rb: WaggleServer):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    service = f"backend-flask-{uuid.uuid4().hex[:6]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=rb.otlp_http_url + "/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("/api/activities/notifications") as span:
        ctx = span.get_span_context()
        trace_id, span_id = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
        occ = rollbar.report_message("notifications failed", "error", extra_data={"trace_id": trace_id, "span_id": span_id})
    provider.shutdown()
    item = item_with_uuid(rb, occ)
    rows = honeycomb(
        rb,
        "__all__",
        {
            "calculations": [{"op": "COUNT"}],
            "filters": [{"column": "trace.trace_id", "op": "=", "value": trace_id}],
            "breakdowns": ["service.name", "rollbar.item_id", "trace.parent_id"],
            "time_range": 3600,
        },
    )
    by_service = {r["service.name"]: r for r in rows}
    assert set(by_service) == {service, DATASET}, rows
    assert by_service[DATASET]["rollbar.item_id"] == item["id"]
    assert by_service[DATASET]["trace.parent_id"] == span_id, "hangs under the span that failed"
    assert by_service[service]["COUNT"] == 1


def test_token_scopes_with_the_real_client(rb: WaggleServer, tmp_path):
    scoped = WaggleServer(
        tmp_path / "data",
        tmp_path / "logs",
        ["--rollbar-tokens", "cruddur:post0001:post_server_item,cruddur:read0001:read+write"],
    ).start()
    saved = dict(rollbar.SETTINGS)
    try:
        rollbar.SETTINGS["endpoint"] = scoped.http_url + "/api/1/"
        rollbar.SETTINGS["access_token"] = "post0001"
        posted = rollbar.report_message("scoped hello", "info")
        # A read token cannot post (pyrollbar logs the 403 and carries on).
        rollbar.SETTINGS["access_token"] = "read0001"
        rollbar.report_message("refused hello", "info")
        rollbar.SETTINGS["access_token"] = "nope0001"
        rollbar.report_message("refused hello", "info")
    finally:
        rollbar.SETTINGS.clear()
        rollbar.SETTINGS.update(saved)
    items = api(scoped, "/api/1/items", token="read0001")["items"]
    assert [i["title"] for i in items] == ["scoped hello"]
    assert api(scoped, f"/api/1/item/{items[0]['id']}/instances", token="read0001")["instances"][0]["data"]["uuid"] == posted
    # A post token cannot read.
    r = requests.get(scoped.http_url + "/api/1/items", headers={"X-Rollbar-Access-Token": "post0001"}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 403
    assert r.json()["err"] == 1 and r.json()["message"]
    stats = requests.get(scoped.http_url + "/api/waggle/stats", timeout=HTTP_TIMEOUT_S).json()["receivers"]["rollbar"]
    assert stats["accepted"] == 1
    assert stats["unauthorized"] == 3
    assert scoped.terminate() == 0


def test_deploys_are_listed_and_become_honeycomb_markers(rb: WaggleServer):
    revision = uuid.uuid4().hex[:12]
    r = requests.post(
        rb.http_url + "/api/1/deploy/",
        json={"access_token": TOKEN, "environment": "production", "revision": revision, "local_username": "andrew"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    deploy_id = r.json()["data"]["deploy_id"]
    listed = api(rb, "/api/1/deploys")["deploys"]
    assert revision in {d["revision"] for d in listed}
    one = api(rb, f"/api/1/deploy/{deploy_id}")
    assert one["revision"] == revision and one["environment"] == "production"
    markers = requests.get(f"{rb.http_url}/1/markers/{DATASET}", timeout=HTTP_TIMEOUT_S)
    assert markers.status_code == 200, markers.text
    assert any(m["type"] == "deploy" and revision in m["message"] for m in markers.json()), markers.json()


def test_hostile_payloads_get_rollbars_answers_and_nothing_valid_is_lost(rb: WaggleServer):
    url = rb.http_url + "/api/1/item/"

    def post(body: bytes) -> requests.Response:
        return requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "X-Rollbar-Access-Token": TOKEN},
            timeout=HTTP_TIMEOUT_S,
        )

    message = '"body": {"message": {"body": "x"}}'
    cases = [
        (b"{not json", 400),
        (b'{"data": {"environment": "\xff\xfe", ' + message.encode() + b"}}", 400),
        (('{"data": {"environment": "p", "custom": ' + "[" * 500 + "1" + "]" * 500 + ", " + message + "}}").encode(), 422),
        (
            json.dumps(
                {"data": {"environment": "p", "body": {"trace": {"frames": [{"filename": "f.py", "lineno": i} for i in range(5000)], "exception": {"class": "E"}}}}}
            ).encode(),
            422,
        ),
        (json.dumps({"data": {"environment": 5, "body": {"message": {"body": "x"}}}}).encode(), 422),
        (json.dumps({"data": {"environment": "p", "body": {"message": {"body": "x" * (600 * 1024)}}}}).encode(), 413),
    ]
    for body, want in cases:
        r = post(body)
        assert r.status_code == want, (want, r.status_code, r.text[:300])
        got = r.json()
        assert got["err"] == 1 and got["message"], got
    # The real client still gets through, and its item is there.
    occ = rollbar.report_message("after the hostile payloads", "info")
    assert item_with_uuid(rb, occ)["title"] == "after the hostile payloads"


def test_rql_counts_occurrences_by_exception_class(rb: WaggleServer):
    for _ in range(2):
        try:
            raise_zero_division()
        except ZeroDivisionError:
            rollbar.report_exc_info()
    r = requests.post(
        rb.http_url + "/api/1/rql/jobs",
        headers={"X-Rollbar-Access-Token": TOKEN},
        json={"query_string": "SELECT body.trace.exception.class, count(*) FROM item_occurrence "
              "WHERE body.trace.exception.class = 'ZeroDivisionError' GROUP BY body.trace.exception.class"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert r.status_code == 200, r.text
    job = r.json()["result"]
    assert job["status"] == "success", job
    result = api(rb, f"/api/1/rql/job/{job['id']}/result")["result"]
    assert result["columns"] == ["body.trace.exception.class", "count(*)"]
    [[cls, count]] = result["rows"]
    assert cls == "ZeroDivisionError" and count >= 2
