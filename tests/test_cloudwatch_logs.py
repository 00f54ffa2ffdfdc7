"""Amazon CloudWatch Logs end to end, with the official clients against a running
`waggle serve`: watchtower (the seed's `CloudWatchLogHandler` on the log group `cruddur`,
thousands of records, batches over the size limit, a `kill -9` between batches), boto3 (every
operation Waggle serves, paginated to the end, filter patterns, Logs Insights) and the aws CLI
(`logs describe-log-groups`, `filter-log-events --filter-pattern`, `get-log-events`, `start-query`).
A log line carrying a trace id is linked to that trace (read back through the Honeycomb
query API next to the trace's OTLP span).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests
import watchtower
from conftest import POLL_TIMEOUT_S, WaggleServer, poll

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
# Bounded wait for an Insights query (our choice: they run in milliseconds here).
QUERY_WAIT_S = 30.0


def logs_client(waggle: WaggleServer, **kw):
    return boto3.client(
        "logs",
        endpoint_url=waggle.http_url,
        region_name=REGION,
        config=botocore.config.Config(retries={"max_attempts": 1}),
        **{**KEYS, **kw},
    )


def cli_env(waggle: WaggleServer) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        # botocore reads the service id "CloudWatch Logs", not "logs".
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=waggle.http_url,
        AWS_MAX_ATTEMPTS="1",
    )
    return env


def aws_cli(waggle: WaggleServer, *args: str, output: str = "json") -> str:
    p = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--output", output],
        env=cli_env(waggle), capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, f"aws {' '.join(args)} failed: {p.stderr}"
    return p.stdout


def all_events(client, group: str, **kw) -> list[dict]:
    """FilterLogEvents through botocore's paginator, to the end."""
    out = []
    for page in client.get_paginator("filter_log_events").paginate(logGroupName=group, **kw):
        out.extend(page["events"])
    return out


def wait_query(client, query_id: str) -> dict:
    r = poll(
        lambda: client.get_query_results(queryId=query_id),
        lambda r: r["status"] not in ("Scheduled", "Running"),
        QUERY_WAIT_S,
    )
    assert r["status"] == "Complete", r
    return r


# ---- watchtower ----------------------------------------------------------------------------


def seed_logger(client, name: str, stream: str) -> tuple[logging.Logger, watchtower.CloudWatchLogHandler]:
    """The seed's logger (SYSTEM.md §3.6): DEBUG, CloudWatchLogHandler on `cruddur`."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = watchtower.CloudWatchLogHandler(
        log_group_name="cruddur", log_stream_name=stream, boto3_client=client, send_interval=1,
    )
    logger.addHandler(handler)
    return logger, handler


def test_watchtower_every_record_once_in_order_across_a_kill(waggle_factory):
    waggle = waggle_factory().start()
    stream = f"backend-flask/{uuid.uuid4().hex[:8]}"
    logger, handler = seed_logger(logs_client(waggle), "app-wt-1", stream)
    sent = []
    big = "x" * 200_000  # five of these pass watchtower's 1 MiB batch limit
    for i in range(3000):
        msg = f"record {i:05d} " + (big if i % 500 == 7 else "GET http /api/activities/home? 200 OK")
        logger.info(msg)
        sent.append(msg)
    handler.flush()
    handler.close()
    logger.removeHandler(handler)

    # The group and stream exist as watchtower made them (PutLogEvents failed first with
    # ResourceNotFoundException, then it created the stream).
    client = logs_client(waggle)
    groups = client.describe_log_groups(logGroupNamePrefix="cruddur")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["cruddur"]
    streams = client.describe_log_streams(logGroupName="cruddur")["logStreams"]
    assert stream in [s["logStreamName"] for s in streams]
    stats = waggle.get("/api/waggle/stats").json()["receivers"]["cloudwatch_logs"]
    assert stats["errors"].get("ResourceNotFoundException", 0) >= 1

    # kill -9 after the acknowledgements: nothing acknowledged is lost, the state survives.
    waggle.kill()
    waggle.start()
    logger, handler = seed_logger(logs_client(waggle), "app-wt-2", stream)
    for i in range(3000, 3500):
        msg = f"record {i:05d} second batch"
        logger.info(msg)
        sent.append(msg)
    handler.flush()
    handler.close()

    got = all_events(logs_client(waggle), "cruddur", logStreamNames=[stream])
    assert [e["message"] for e in got] == sent
    assert len({e["eventId"] for e in got}) == len(sent)
    waggle.terminate()


# ---- boto3 -------------------------------------------------------------------------------


def test_boto3_groups_streams_tags_retention_filters(waggle: WaggleServer):
    c = logs_client(waggle)
    prefix = f"/waggle/{uuid.uuid4().hex[:6]}"
    for i in range(7):
        c.create_log_group(logGroupName=f"{prefix}/g{i}", tags={"n": str(i)})
    with pytest.raises(c.exceptions.ResourceAlreadyExistsException):
        c.create_log_group(logGroupName=f"{prefix}/g0")
    names = [
        g["logGroupName"]
        for page in c.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2})
        for g in page["logGroups"]
    ]
    assert names == [f"{prefix}/g{i}" for i in range(7)]
    pattern = c.describe_log_groups(logGroupNamePattern="g3")["logGroups"]
    assert [g["logGroupName"] for g in pattern] == [f"{prefix}/g3"]

    g = f"{prefix}/g0"
    for s in ["b", "a", "c"]:
        c.create_log_stream(logGroupName=g, logStreamName=s)
    now = int(time.time() * 1000)
    c.put_log_events(logGroupName=g, logStreamName="a", logEvents=[{"timestamp": now - 3000, "message": "a1"}])
    c.put_log_events(logGroupName=g, logStreamName="c", logEvents=[{"timestamp": now - 1000, "message": "c1"}])
    by_name = [s["logStreamName"] for p in c.get_paginator("describe_log_streams").paginate(
        logGroupName=g, PaginationConfig={"PageSize": 1}) for s in p["logStreams"]]
    assert by_name == ["a", "b", "c"]
    newest = c.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)["logStreams"]
    assert newest[0]["logStreamName"] == "c" and newest[0]["lastEventTimestamp"] == now - 1000

    # Retention (also the store's), tags both ways.
    c.put_retention_policy(logGroupName=g, retentionInDays=30)
    assert c.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["retentionInDays"] == 30
    c.delete_retention_policy(logGroupName=g)
    assert "retentionInDays" not in c.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]
    acct = c.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["logGroupArn"]
    assert acct.startswith(f"arn:aws:logs:{REGION}:") and acct.endswith(f":log-group:{g}")
    c.tag_resource(resourceArn=acct, tags={"env": "dev"})
    assert c.list_tags_for_resource(resourceArn=acct)["tags"] == {"n": "0", "env": "dev"}
    c.untag_resource(resourceArn=acct, tagKeys=["env"])
    c.tag_log_group(logGroupName=g, tags={"team": "x"})
    assert c.list_tags_log_group(logGroupName=g)["tags"] == {"n": "0", "team": "x"}
    c.untag_log_group(logGroupName=g, tags=["team"])

    # Metric and subscription filters.
    c.put_metric_filter(
        logGroupName=g, filterName="errors", filterPattern='{ $.level = "ERROR" }',
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "Cruddur", "metricValue": "1"}],
    )
    assert [f["filterName"] for f in c.describe_metric_filters(logGroupName=g)["metricFilters"]] == ["errors"]
    tested = c.test_metric_filter(
        filterPattern="[ip, user, ..., status = 5*, bytes]",
        logEventMessages=["1.2.3.4 - GET / 500 12", "1.2.3.4 - GET / 200 12"],
    )
    assert [m["eventNumber"] for m in tested["matches"]] == [1]
    with pytest.raises(c.exceptions.InvalidParameterException):
        c.put_metric_filter(logGroupName=g, filterName="bad", filterPattern="{ $.x = ",
                            metricTransformations=[{"metricName": "E", "metricNamespace": "N", "metricValue": "1"}])
    c.delete_metric_filter(logGroupName=g, filterName="errors")
    c.put_subscription_filter(logGroupName=g, filterName="all", filterPattern="",
                              destinationArn=f"arn:aws:lambda:{REGION}:000000000000:function:f")
    subs = c.describe_subscription_filters(logGroupName=g)["subscriptionFilters"]
    assert subs[0]["filterName"] == "all" and subs[0]["distribution"] == "ByLogStream"
    c.delete_subscription_filter(logGroupName=g, filterName="all")

    # Deleting a stream and a group.
    c.delete_log_stream(logGroupName=g, logStreamName="a")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_log_events(logGroupName=g, logStreamName="a")
    for i in range(7):
        c.delete_log_group(logGroupName=f"{prefix}/g{i}")
    assert c.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == []
    # An operation botocore knows and Waggle does not serve names itself.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.describe_destinations()
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "DescribeDestinations" in e.value.response["Error"]["Message"]


def test_boto3_events_paging_patterns_and_insights(waggle: WaggleServer):
    c = logs_client(waggle)
    g = f"events-{uuid.uuid4().hex[:6]}"
    c.create_log_group(logGroupName=g)
    c.create_log_stream(logGroupName=g, logStreamName="web")
    c.create_log_stream(logGroupName=g, logStreamName="worker")
    base = (int(time.time()) // 60 - 10) * 60_000
    web = []
    for i in range(120):
        level = "ERROR" if i % 10 == 0 else "INFO"
        web.append({"timestamp": base + i * 1000,
                    "message": json.dumps({"level": level, "latency": i, "path": f"/api/{i % 3}"})})
    r = c.put_log_events(logGroupName=g, logStreamName="web", logEvents=web)
    assert "rejectedLogEventsInfo" not in r and r["nextSequenceToken"]
    worker = [{"timestamp": base + 500 + i * 1000, "message": f"10.0.0.{i} - job {i} {200 if i % 4 else 500} {i * 10}"}
              for i in range(40)]
    c.put_log_events(logGroupName=g, logStreamName="worker", logEvents=worker)
    too_old = c.put_log_events(logGroupName=g, logStreamName="worker", logEvents=[
        {"timestamp": int(time.time() * 1000) - 15 * 86_400_000, "message": "old"}])
    # "The index of the last log event that is too old. This field is exclusive." (API reference)
    assert too_old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}

    # GetLogEvents forward from the head to the end, 25 a page; the token repeats at the end.
    seen, token = [], None
    for _ in range(20):
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = c.get_log_events(logGroupName=g, logStreamName="web", limit=25, **kw)
        seen.extend(e["message"] for e in page["events"])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [e["message"] for e in web]

    # FilterLogEvents to the end, interleaved across streams, and with patterns.
    everything = all_events(c, g, PaginationConfig={"PageSize": 17})
    assert len(everything) == 160
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    assert all("eventId" in e and "ingestionTime" in e for e in everything)
    assert len(all_events(c, g, filterPattern='{ $.level = "ERROR" }')) == 12
    assert len(all_events(c, g, filterPattern="{ $.latency > 100 && $.level = INFO }")) == 18
    assert len(all_events(c, g, filterPattern="[ip, dash, job, n, status = 5*, bytes > 100]")) == 7
    assert len(all_events(c, g, filterPattern='"job 1"')) == 11  # job 1, 10..19
    assert len(all_events(c, g, filterPattern="?ERROR ?job")) == 52
    assert len(all_events(c, g, logStreamNamePrefix="wor")) == 40
    with pytest.raises(c.exceptions.InvalidParameterException):
        c.filter_log_events(logGroupName=g, filterPattern="{ $.level = ")

    fields = {f["name"]: f["percent"] for f in c.get_log_group_fields(logGroupName=g)["logGroupFields"]}
    assert fields["@message"] == 100 and fields["level"] == 75 and fields["path"] == 75

    # Logs Insights: a count per minute, and a listing.
    q = c.start_query(logGroupName=g, startTime=base // 1000 - 60, endTime=base // 1000 + 600,
                      queryString="stats count(*) by bin(1m)")
    r = wait_query(c, q["queryId"])
    counts = sorted(int(next(f["value"] for f in row if f["field"] == "count(*)")) for row in r["results"])
    assert counts == [60, 100]
    assert r["statistics"]["recordsMatched"] == 160.0
    q = c.start_query(logGroupNames=[g], startTime=base // 1000 - 60, endTime=base // 1000 + 600,
                      queryString="fields @timestamp, @message, latency | filter level = 'ERROR' | sort @timestamp desc | limit 5")
    r = wait_query(c, q["queryId"])
    assert len(r["results"]) == 5
    assert [f["value"] for f in r["results"][0] if f["field"] == "latency"] == ["110"]
    described = c.describe_queries(logGroupName=g)["queries"]
    assert {d["queryId"] for d in described} >= {q["queryId"]}
    with pytest.raises(c.exceptions.MalformedQueryException):
        c.start_query(logGroupName=g, startTime=0, endTime=10, queryString="stats count(* by")
    stopped = c.stop_query(queryId=q["queryId"])
    assert stopped["success"] is False  # already complete


def test_wrong_signature_is_refused_when_credentials_are_configured(waggle_factory):
    waggle = waggle_factory()
    waggle.extra_args = ["--aws-credentials", "AKIDWAGGLE:s3cret"]
    waggle.start()
    good = logs_client(waggle, aws_access_key_id="AKIDWAGGLE", aws_secret_access_key="s3cret")
    good.create_log_group(logGroupName="signed")
    bad = logs_client(waggle, aws_access_key_id="AKIDWAGGLE", aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.describe_log_groups()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    waggle.terminate()


# ---- the aws CLI ---------------------------------------------------------------------------


def test_cli_describe_filter_read_and_query(waggle: WaggleServer):
    c = logs_client(waggle)
    g = "cruddur"
    try:
        c.create_log_group(logGroupName=g)
    except c.exceptions.ResourceAlreadyExistsException:
        pass
    c.create_log_stream(logGroupName=g, logStreamName="cli")
    now = int(time.time() * 1000)
    lines = [
        "[2023-Mar-01 22:57] 192.168.82.71 GET http /api/activities/notifications? 200 OK",
        "[2023-Mar-01 22:58] 192.168.82.71 GET http /api/home/notifications? 404 NOT FOUND",
        "HomeActivities",
    ]
    c.put_log_events(logGroupName=g, logStreamName="cli",
                     logEvents=[{"timestamp": now - 3000 + i, "message": m} for i, m in enumerate(lines)])

    groups = json.loads(aws_cli(waggle, "logs", "describe-log-groups"))["logGroups"]
    assert g in [x["logGroupName"] for x in groups]
    found = json.loads(aws_cli(waggle, "logs", "filter-log-events", "--log-group-name", g,
                               "--filter-pattern", '"NOT FOUND"'))["events"]
    assert [e["message"] for e in found] == [lines[1]]
    # (`aws logs tail` is AWS CLI v2 only; v1, the pip package, reads a stream like this.)
    got = json.loads(aws_cli(waggle, "logs", "get-log-events", "--log-group-name", g,
                             "--log-stream-name", "cli", "--start-from-head"))
    assert [e["message"] for e in got["events"]] == lines
    streams = json.loads(aws_cli(waggle, "logs", "describe-log-streams", "--log-group-name", g,
                                 "--order-by", "LastEventTime", "--descending"))["logStreams"]
    assert streams[0]["logStreamName"] == "cli"
    q = json.loads(aws_cli(waggle, "logs", "start-query", "--log-group-name", g,
                           "--start-time", str(now // 1000 - 600), "--end-time", str(now // 1000 + 60),
                           "--query-string", "stats count(*) by bin(1m)"))
    r = poll(lambda: json.loads(aws_cli(waggle, "logs", "get-query-results", "--query-id", q["queryId"])),
             lambda r: r["status"] == "Complete", QUERY_WAIT_S)
    assert r["status"] == "Complete" and r["results"]


# ---- logs linked to traces -------------------------------------------------------------------


def test_a_log_line_with_a_trace_id_is_on_that_trace(waggle: WaggleServer):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "backend-flask"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=waggle.otlp_http_url + "/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("/api/activities/home") as span:
        ctx = span.get_span_context()
        trace_id = f"{ctx.trace_id:032x}"
        span_id = f"{ctx.span_id:016x}"
    provider.shutdown()

    c = logs_client(waggle)
    g = f"linked-{uuid.uuid4().hex[:6]}"
    c.create_log_group(logGroupName=g)
    c.create_log_stream(logGroupName=g, logStreamName="app")
    now = int(time.time() * 1000)
    c.put_log_events(logGroupName=g, logStreamName="app", logEvents=[
        {"timestamp": now, "message": json.dumps({"trace_id": trace_id, "span_id": span_id, "msg": "HomeActivities"})},
        {"timestamp": now + 1, "message": f"handled traceparent=00-{trace_id}-{span_id}-01"},
        {"timestamp": now + 2, "message": "unrelated"},
    ])
    # The span is readable through Tempo.
    trace = waggle.trace_v2(trace_id, expect_spans=1)
    assert trace
    # Both lines carry the trace's id in the store: a Honeycomb query on the log group's
    # dataset by trace.trace_id finds them.
    spec = {"calculations": [{"op": "COUNT"}],
            "filters": [{"column": "trace.trace_id", "op": "=", "value": trace_id}],
            "time_range": 3600}
    r = requests.post(f"{waggle.http_url}/1/queries/{g}", json=spec, timeout=15)
    assert r.status_code == 200, r.text
    r = requests.post(f"{waggle.http_url}/1/query_results/{g}", json={"query_id": r.json()["id"]}, timeout=30)
    assert r.status_code == 201, r.text
    body = requests.get(f"{waggle.http_url}/1/query_results/{g}/{r.json()['id']}", timeout=15).json()
    assert body["data"]["results"][0]["data"]["COUNT"] == 2


# ---- live tail -------------------------------------------------------------------------------


def test_live_tail_streams_new_matching_events_within_a_second(waggle: WaggleServer):
    # botocore puts `stream-` in front of the host for StartLiveTail (an endpoint trait); with
    # an IP endpoint that name cannot resolve, so the test turns the prefix off as the protocol
    # notes describe. Waggle ignores the Host header either way.
    c = boto3.client("logs", endpoint_url=waggle.http_url, region_name=REGION,
                     config=botocore.config.Config(retries={"max_attempts": 1},
                                                   inject_host_prefix=False, read_timeout=10),
                     **KEYS)
    g = f"tail-{uuid.uuid4().hex[:6]}"
    c.create_log_group(logGroupName=g)
    c.create_log_stream(logGroupName=g, logStreamName="web")
    arn = f"arn:aws:logs:{REGION}:000000000000:log-group:{g}"
    old = int(time.time() * 1000)
    c.put_log_events(logGroupName=g, logStreamName="web",
                     logEvents=[{"timestamp": old, "message": "ERROR before the session"}])
    resp = c.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="ERROR")
    stream = resp["responseStream"]
    events = iter(stream)
    first = next(events)
    assert "sessionStart" in first, first
    assert first["sessionStart"]["logGroupIdentifiers"] == [arn]
    sent_at = None
    seen: list[dict] = []
    deadline = time.monotonic() + 15
    for ev in events:
        if sent_at is None:
            c.put_log_events(logGroupName=g, logStreamName="web", logEvents=[
                {"timestamp": int(time.time() * 1000), "message": "INFO not this one"},
                {"timestamp": int(time.time() * 1000), "message": "ERROR tailed"}])
            sent_at = time.monotonic()
            continue
        update = ev.get("sessionUpdate")
        assert update is not None, ev
        seen.extend(update["sessionResults"])
        if seen or time.monotonic() > deadline:
            break
    latency = time.monotonic() - sent_at
    stream.close()
    assert [e["message"] for e in seen] == ["ERROR tailed"], seen
    assert seen[0]["logStreamName"] == "web" and seen[0]["logGroupIdentifier"] == arn
    assert latency <= 2.5, f"live tail showed the event {latency:.2f} s after PutLogEvents returned"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.start_live_tail(logGroupIdentifiers=[f"arn:aws:logs:{REGION}:000000000000:log-group:missing"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
