"""Every HTTP behaviour of the Cruddur backend (SYSTEM.md §2 and §9 items 1-14) against a
real `cruddur` binary over a real socket, with telemetry off (hermetic).

Which variant is tested where the seed's sources differ:
- Mock data: IK@e4df33a (home "Andrew Brown"/"Worf"/"Garek", "Cloud is fun!"; notifications
  3 items "tweeny"/"xjl"/"Juno").
- Route 6 (GET /api/activities/<uuid>) is FIXED: 200, one item whose `replies` is an object
  (§2.3.6), instead of the original NameError 500.
- Route 7 (reply) validation is FIXED: 422 `["message_blank"]` / `["message_exceed_max_chars"]`
  (>1024) instead of the original 500.
- GET-route CORS preflight: flask-cors 3.0.10 behaviour, except that requested headers that
  are in the allowed list `content-type,if-modified-since,traceparent,tracestate`
  (case-insensitive) are echoed in `Access-Control-Allow-Headers` (flask-cors never sent it).
- Everything else as SYSTEM.md §2.4 says, including "no Origin header -> no CORS headers"
  (but see NO_ORIGIN_GETS_CORS below).

Most cases are rows of CASES (method, path, request headers/body, expected status, expected
and absent response headers, body check); the focused tests after the table cover what one
row cannot (validation order, boundaries, pretty mode, HEAD = GET, shared "now", start-up and
shutdown).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
import requests

from cruddur_harness import (  # noqa: F401  (cruddur, cruddur_factory are fixtures)
    BACKEND_URL,
    FRONTEND_URL,
    HERMETIC_ENV,
    CruddurServer,
    cruddur,
    cruddur_factory,
)

# ---- facts from SYSTEM.md §2.3 (IK@e4df33a mock data) ---------------------------------

ACT1_UUID = "68f126b0-1ceb-4a33-88be-d90fa7109eee"
REPLY_UUID = "26e12864-1c26-5c3a-9658-97a10f8fea67"
ACT2_UUID = "66e12864-8c26-4c3a-9658-95a10f8fea67"
ACT3_UUID = "248959df-3079-4947-b847-9e0892d1bab4"
GROUP1_UUID = "24b95582-9e7b-4e0a-9ad1-639773ab7552"
GROUP2_UUID = "417c360e-c4e6-4fce-873b-d2d71469b4ac"
MSG1_UUID = "4e81c06a-db0f-4281-b4cc-98208537772a"
MSG2_UUID = ACT2_UUID  # the seed reuses it for the second message

TTLS = {
    "30-days": timedelta(days=30),
    "7-days": timedelta(days=7),
    "3-days": timedelta(days=3),
    "1-day": timedelta(days=1),
    "12-hours": timedelta(hours=12),
    "3-hours": timedelta(hours=3),
    "1-hour": timedelta(hours=1),
}
ACTIVITY_MAX = 280
MESSAGE_MAX = 1024  # create message and (fixed) create reply

# Python isoformat of an aware UTC datetime (microseconds are omitted when exactly 0) and of
# a naive one (the user feed, §2.1).
AWARE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00")
NAIVE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?")
UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
# Slack between the test's clock and the server's "now" (same machine; the request itself is
# bracketed by t0/t1, this only absorbs clock-read granularity and scheduling).
CLOCK_TOLERANCE = timedelta(seconds=2)

OTHER_ORIGIN = "https://evil.example.test"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
GET_ROUTE_ALLOW_METHODS = "OPTIONS,GET,HEAD,POST"  # app-level CORS(methods=...)
POST_ROUTE_ALLOW_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"  # @cross_origin() default
EXPOSE = "location,link"

# SYSTEM.md §2.4 says a request with no Origin header gets no CORS headers. flask-cors 3.0.10
# actually defaults to always_send=True: a GET on /api/* with no Origin gets
# Access-Control-Allow-Origin set to the first of sorted([FRONTEND_URL, BACKEND_URL]) plus
# Expose-Headers and Vary, and a @cross_origin() POST with no Origin gets "*" (checked with
# Flask 2.2.3 / Werkzeug 2.2.3 / flask-cors 3.0.10 in a scratch probe). The contract follows
# SYSTEM.md; flip this if the port reproduces always_send instead.
NO_ORIGIN_GETS_CORS = False

ANY_ACCESS_CONTROL = "access-control-*"  # in `absent`: no header with that prefix at all


# ---- matchers and case rows ------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A comma-separated header value compared as a set of case-insensitive tokens;
    `exact=False` only requires these tokens to be present (e.g. Vary)."""

    items: frozenset[str]
    exact: bool = True

    def matches(self, value: str) -> bool:
        got = {t.strip().lower() for t in value.split(",") if t.strip()}
        return got == self.items if self.exact else self.items <= got

    def __repr__(self) -> str:
        return ("exactly " if self.exact else "including ") + ",".join(sorted(self.items))


def tokens(*names: str) -> Tokens:
    return Tokens(frozenset(n.lower() for n in names))


def including(*names: str) -> Tokens:
    return Tokens(frozenset(n.lower() for n in names), exact=False)


GET_ALLOW = tokens("GET", "HEAD", "OPTIONS")
POST_ALLOW = tokens("OPTIONS", "POST")


@dataclass
class Ctx:
    """The test's clock around one request."""

    t0: datetime
    t1: datetime


BodyCheck = Callable[[requests.Response, Ctx], None]


@dataclass
class Case:
    id: str
    method: str
    path: str
    status: int
    body: BodyCheck | None = None
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None  # sent as application/json (Python json.dumps, ASCII escapes)
    raw_body: bytes | None = None  # sent as is (with whatever Content-Type `headers` give)
    content_type: str | None = None  # exact expected Content-Type
    expect: dict[str, str | Tokens] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


# ---- body checks -----------------------------------------------------------------------


def canonical_compact(data: Any) -> str:
    """Flask's compact output: sorted keys at every level, no spaces, ASCII escapes, '\\n'."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def canonical_pretty(data: Any) -> str:
    """Flask's debug-mode output: 2-space indent, sorted keys, ASCII escapes, '\\n'."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def parse_json_text(r: requests.Response) -> tuple[str, Any]:
    assert r.content.isascii(), f"JSON body is not ASCII (Flask escapes non-ASCII): {r.content[:200]!r}"
    raw = r.content.decode("ascii")
    try:
        return raw, json.loads(raw)
    except json.JSONDecodeError as e:
        raise AssertionError(f"body is not JSON ({e}): {raw[:300]!r}") from None


def json_body(check: Callable[[Any, Ctx], None] | None = None) -> BodyCheck:
    """The raw text must be byte-for-byte Flask's compact JSON (this is what checks key order
    at every level and the separators), then `check` looks at the parsed value."""

    def run(r: requests.Response, ctx: Ctx) -> None:
        raw, data = parse_json_text(r)
        assert raw == canonical_compact(data), (
            "JSON text is not Flask's compact form (sorted keys, ',' ':' separators, ASCII, "
            f"trailing newline):\n got: {raw[:400]!r}\nwant: {canonical_compact(data)[:400]!r}"
        )
        if check is not None:
            check(data, ctx)

    return run


def errors(*codes: str) -> BodyCheck:
    def check(data: Any, ctx: Ctx) -> None:
        assert data == list(codes), f"422 body {data!r}, want {list(codes)!r}"

    return json_body(check)


def html_page(title: str) -> BodyCheck:
    """Werkzeug's HTML error page (e.g. '404 Not Found')."""

    def run(r: requests.Response, ctx: Ctx) -> None:
        text = r.content.decode("utf-8", errors="replace")
        assert f"<title>{title}</title>" in text, f"want Werkzeug page titled {title!r}, got {text[:300]!r}"

    return run


def empty_body(r: requests.Response, ctx: Ctx) -> None:
    assert r.content == b"", f"want an empty body, got {r.content[:200]!r}"


def exact_text(expected: bytes) -> BodyCheck:
    def run(r: requests.Response, ctx: Ctx) -> None:
        assert r.content == expected, f"body {r.content[:200]!r}, want {expected!r}"

    return run


def has_keys(obj: Any, expected: set[str], what: str) -> None:
    assert isinstance(obj, dict), f"{what}: want an object, got {obj!r}"
    assert set(obj) == expected, (
        f"{what}: keys {sorted(obj)}, want {sorted(expected)} "
        f"(missing {sorted(expected - set(obj))}, extra {sorted(set(obj) - expected)})"
    )


def aware(value: Any, what: str) -> datetime:
    assert isinstance(value, str) and AWARE_RE.fullmatch(value), (
        f"{what}: {value!r} is not Python isoformat with microseconds and +00:00"
    )
    return datetime.fromisoformat(value)


def naive(value: Any, what: str) -> datetime:
    assert isinstance(value, str) and NAIVE_RE.fullmatch(value), (
        f"{what}: {value!r} is not a naive Python isoformat timestamp (no offset)"
    )
    # The server runs with TZ=UTC (harness), so its naive local time is UTC.
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def near(ctx: Ctx, t: datetime, offset: timedelta, what: str) -> None:
    lo = ctx.t0 + offset - CLOCK_TOLERANCE
    hi = ctx.t1 + offset + CLOCK_TOLERANCE
    assert lo <= t <= hi, f"{what}: {t.isoformat()} not within request time {offset:+} ([{lo}, {hi}])"


def new_uuid(value: Any, what: str) -> None:
    assert isinstance(value, str) and UUID4_RE.fullmatch(value), (
        f"{what}: {value!r} is not a lowercase hyphenated UUIDv4"
    )


ITEM1_KEYS = {"created_at", "expires_at", "handle", "likes_count", "message", "replies",
              "replies_count", "reposts_count", "uuid"}
FEED_REPLY_KEYS = {"created_at", "handle", "likes_count", "message", "replies_count",
                   "reply_to_activity_uuid", "reposts_count", "uuid"}
PLAIN_ITEM_KEYS = {"created_at", "expires_at", "handle", "likes", "message", "replies", "uuid"}


def feed(handles: tuple[str, str, str], messages: tuple[str, str, str]) -> BodyCheck:
    """Home (§2.3.1) and IK notifications (§2.3.2): same structure, different text."""

    def check(data: Any, ctx: Ctx) -> None:
        assert isinstance(data, list) and len(data) == 3, f"want 3 activities, got {data!r}"
        a, b, c = data
        has_keys(a, ITEM1_KEYS, "item 1")
        assert (a["uuid"], a["handle"], a["message"]) == (ACT1_UUID, handles[0], messages[0]), a
        assert (a["likes_count"], a["replies_count"], a["reposts_count"]) == (5, 1, 0), a
        assert isinstance(a["replies"], list) and len(a["replies"]) == 1, a["replies"]
        rep = a["replies"][0]
        has_keys(rep, FEED_REPLY_KEYS, "item 1 reply")
        assert rep["uuid"] == REPLY_UUID and rep["reply_to_activity_uuid"] == ACT1_UUID, rep
        assert (rep["handle"], rep["message"]) == ("Worf", "This post has no honor!"), rep
        assert (rep["likes_count"], rep["replies_count"], rep["reposts_count"]) == (0, 0, 0), rep
        for item, uid, i in ((b, ACT2_UUID, 1), (c, ACT3_UUID, 2)):
            has_keys(item, PLAIN_ITEM_KEYS, f"item {i + 1}")
            assert (item["uuid"], item["handle"], item["message"]) == (uid, handles[i], messages[i]), item
            assert item["likes"] == 0 and item["replies"] == [], item
        for item, back, fwd, i in ((a, timedelta(days=2), timedelta(days=5), 1),
                                   (b, timedelta(days=7), timedelta(days=9), 2),
                                   (c, timedelta(hours=1), timedelta(hours=12), 3)):
            created = aware(item["created_at"], f"item {i} created_at")
            expires = aware(item["expires_at"], f"item {i} expires_at")
            near(ctx, created, -back, f"item {i} created_at")
            near(ctx, expires, fwd, f"item {i} expires_at")
            assert expires - created == back + fwd, f"item {i}: expires_at - created_at = {expires - created}"
        assert aware(rep["created_at"], "reply created_at") == aware(a["created_at"], "item 1"), (
            "the reply's created_at is now-2d, the same as item 1's"
        )

    return json_body(check)


HOME = feed(("Andrew Brown", "Worf", "Garek"),
            ("Cloud is fun!", "I am out of prune juice", "My dear doctor, I am just simple tailor"))
NOTIFICATIONS = feed(("tweeny", "xjl", "Juno"), ("My sample message", "It is what it is", "Come bruv"))


def _user_feed(data: Any, ctx: Ctx) -> None:
    assert isinstance(data, list) and len(data) == 1, f"want 1 activity, got {data!r}"
    item = data[0]
    has_keys(item, {"created_at", "expires_at", "handle", "message", "uuid"}, "user feed item")
    assert (item["uuid"], item["handle"], item["message"]) == (ACT3_UUID, "Andrew Brown", "Cloud is fun!"), item
    created = naive(item["created_at"], "created_at")
    expires = naive(item["expires_at"], "expires_at")
    near(ctx, created, -timedelta(days=1), "created_at")
    near(ctx, expires, timedelta(days=31), "expires_at")
    assert expires - created == timedelta(days=32), f"expires_at - created_at = {expires - created}"


USER_FEED = json_body(_user_feed)


def _search(data: Any, ctx: Ctx) -> None:
    assert isinstance(data, list) and len(data) == 1, f"want 1 activity, got {data!r}"
    item = data[0]
    has_keys(item, {"created_at", "handle", "message", "uuid"}, "search item")
    assert (item["uuid"], item["handle"], item["message"]) == (ACT3_UUID, "Andrew Brown", "Cloud is fun!"), item
    near(ctx, aware(item["created_at"], "created_at"), timedelta(0), "created_at")


SEARCH = json_body(_search)


def _show(data: Any, ctx: Ctx) -> None:
    assert isinstance(data, list) and len(data) == 1, f"want a one-item array, got {data!r}"
    item = data[0]
    has_keys(item, {"created_at", "expires_at", "handle", "message", "replies", "uuid"}, "show item")
    assert (item["uuid"], item["handle"], item["message"]) == (ACT1_UUID, "Andrew Brown", "Cloud is fun!"), item
    created = aware(item["created_at"], "created_at")
    expires = aware(item["expires_at"], "expires_at")
    near(ctx, created, -timedelta(days=2), "created_at")
    near(ctx, expires, timedelta(days=5), "expires_at")
    assert expires - created == timedelta(days=7)
    rep = item["replies"]
    has_keys(rep, {"created_at", "handle", "message", "uuid"}, "show replies (an object, §2.3.6)")
    assert (rep["uuid"], rep["handle"], rep["message"]) == (REPLY_UUID, "Worf", "This post has no honor!"), rep
    assert aware(rep["created_at"], "replies.created_at") == created


SHOW = json_body(_show)


def _message_groups(data: Any, ctx: Ctx) -> None:
    assert isinstance(data, list) and len(data) == 2, f"want 2 groups, got {data!r}"
    want = [(GROUP1_UUID, "Andrew Brown", "andrewbrown"), (GROUP2_UUID, "Worf", "worf")]
    for g, (uid, name, handle) in zip(data, want):
        has_keys(g, {"created_at", "display_name", "handle", "uuid"}, "message group")
        assert (g["uuid"], g["display_name"], g["handle"]) == (uid, name, handle), g
        near(ctx, aware(g["created_at"], "created_at"), timedelta(0), "created_at")


MESSAGE_GROUPS = json_body(_message_groups)


def _messages(data: Any, ctx: Ctx) -> None:
    assert isinstance(data, list) and len(data) == 2, f"want 2 messages, got {data!r}"
    want = [(MSG1_UUID, "Cloud is fun!"), (MSG2_UUID, "This platform is great!")]
    for m, (uid, text) in zip(data, want):
        has_keys(m, {"created_at", "display_name", "handle", "message", "uuid"}, "message")
        assert (m["uuid"], m["display_name"], m["handle"], m["message"]) == (
            uid, "Andrew Brown", "andrewbrown", text), m
        near(ctx, aware(m["created_at"], "created_at"), timedelta(0), "created_at")


MESSAGES = json_body(_messages)


def created_activity(message: str, ttl: str) -> BodyCheck:
    def check(data: Any, ctx: Ctx) -> None:
        has_keys(data, {"created_at", "display_name", "expires_at", "handle", "message", "uuid"}, "activity")
        new_uuid(data["uuid"], "uuid")
        assert (data["display_name"], data["handle"]) == ("Andrew Brown", "andrewbrown"), data
        assert data["message"] == message, f"message {data['message']!r}, want {message!r}"
        created = aware(data["created_at"], "created_at")
        expires = aware(data["expires_at"], "expires_at")
        near(ctx, created, timedelta(0), "created_at")
        assert expires - created == TTLS[ttl], f"ttl {ttl}: expires_at - created_at = {expires - created}"

    return json_body(check)


def created_reply(message: str, reply_to: str) -> BodyCheck:
    def check(data: Any, ctx: Ctx) -> None:
        has_keys(data, {"created_at", "display_name", "handle", "message", "reply_to_activity_uuid", "uuid"},
                 "reply")
        new_uuid(data["uuid"], "uuid")
        assert (data["display_name"], data["handle"]) == ("Andrew Brown", "andrewbrown"), data
        assert data["message"] == message, f"message {data['message'][:80]!r}, want {message[:80]!r}"
        assert data["reply_to_activity_uuid"] == reply_to, data["reply_to_activity_uuid"]
        near(ctx, aware(data["created_at"], "created_at"), timedelta(0), "created_at")

    return json_body(check)


def created_message(message: str) -> BodyCheck:
    def check(data: Any, ctx: Ctx) -> None:
        # The receiver is not echoed back (§2.3.10).
        has_keys(data, {"created_at", "display_name", "handle", "message", "uuid"}, "message")
        new_uuid(data["uuid"], "uuid")
        assert (data["display_name"], data["handle"]) == ("Andrew Brown", "andrewbrown"), data
        assert data["message"] == message, f"message {data['message'][:80]!r}, want {message[:80]!r}"
        near(ctx, aware(data["created_at"], "created_at"), timedelta(0), "created_at")

    return json_body(check)


# ---- CORS expectations (§2.4) ----------------------------------------------------------


def cors_simple_get(origin: str) -> dict[str, Any]:
    return dict(
        expect={"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSE,
                "Vary": including("Origin")},
        absent=("Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                "Access-Control-Allow-Credentials", "Access-Control-Max-Age"),
    )


def cors_get_preflight(origin: str, allow_headers: Tokens | None = None) -> dict[str, Any]:
    expect: dict[str, Any] = {
        "Allow": GET_ALLOW,
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSE,
        "Access-Control-Allow-Methods": GET_ROUTE_ALLOW_METHODS,
        "Vary": including("Origin"),
    }
    absent = ["Access-Control-Allow-Credentials", "Access-Control-Max-Age"]
    if allow_headers is None:
        absent.append("Access-Control-Allow-Headers")
    else:
        expect["Access-Control-Allow-Headers"] = allow_headers
    return dict(expect=expect, absent=tuple(absent))


def cors_post_preflight(origin: str, allow_headers: Tokens | None = None) -> dict[str, Any]:
    expect: dict[str, Any] = {
        "Allow": POST_ALLOW,
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": POST_ROUTE_ALLOW_METHODS,
        "Vary": including("Origin"),
    }
    absent = ["Access-Control-Expose-Headers", "Access-Control-Allow-Credentials", "Access-Control-Max-Age"]
    if allow_headers is None:
        absent.append("Access-Control-Allow-Headers")
    else:
        expect["Access-Control-Allow-Headers"] = allow_headers
    return dict(expect=expect, absent=tuple(absent))


def cors_post(origin: str) -> dict[str, Any]:
    """A @cross_origin() route's own response (2xx and 422): any Origin echoed, no Expose."""
    return dict(
        expect={"Access-Control-Allow-Origin": origin, "Vary": including("Origin")},
        absent=("Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
                "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials"),
    )


NO_CORS = dict(absent=(ANY_ACCESS_CONTROL,))


def preflight_headers(origin: str | None, method: str | None = "GET", req_headers: str | None = None) -> dict[str, str]:
    h: dict[str, str] = {}
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if req_headers is not None:
        h["Access-Control-Request-Headers"] = req_headers
    return h


# ---- the table -------------------------------------------------------------------------

HOME_P = "/api/activities/home"
NOTIF_P = "/api/activities/notifications"
CREATE_P = "/api/activities"
REPLY_P = f"/api/activities/{ACT1_UUID}/reply"
SHOW_P = f"/api/activities/{ACT1_UUID}"
GROUPS_P = "/api/message_groups"
MSGS_P = "/api/messages/@worf"
CREATE_MSG_P = "/api/messages"
ROLLBAR_P = "/rollbar/test"

FE = {"Origin": FRONTEND_URL}
BE = {"Origin": BACKEND_URL}
EVIL = {"Origin": OTHER_ORIGIN}
JSON_CT = {"Content-Type": JSON}


def ok(id: str, method: str, path: str, body: BodyCheck, **kw: Any) -> Case:
    kw.setdefault("content_type", JSON)
    return Case(id, method, path, 200, body, **kw)


def unprocessable(id: str, path: str, payload: Any, *codes: str, **kw: Any) -> Case:
    return Case(id, "POST", path, 422, errors(*codes), json_body=payload, content_type=JSON, **kw)


def page(id: str, method: str, path: str, status: int, title: str, **kw: Any) -> Case:
    body = empty_body if method == "HEAD" else html_page(title)
    return Case(id, method, path, status, body, content_type=HTML, **kw)


def not_allowed(id: str, method: str, path: str, allow: Tokens, **kw: Any) -> Case:
    kw.setdefault("expect", {})
    kw["expect"] = {"Allow": allow, **kw["expect"]}
    return page(id, method, path, 405, "405 Method Not Allowed", **kw)


CASES: list[Case] = [
    # 1. home feed
    ok("home", "GET", HOME_P, HOME),
    # 2. notifications (IK: 3 items)
    ok("notifications", "GET", NOTIF_P, NOTIFICATIONS),
    # 3. user feed: any handle, naive timestamps, 32 days
    ok("user-feed", "GET", "/api/activities/@andrewbrown", USER_FEED),
    ok("user-feed-other-handle", "GET", "/api/activities/@worf", USER_FEED),
    ok("user-feed-encoded-handle", "GET", "/api/activities/@a%20b", USER_FEED),
    # Werkzeug routes on the decoded path, so %40 is "@" (requests keeps %40 as sent; it
    # would rewrite an escaped unreserved character such as %68, so none is tested).
    ok("user-feed-encoded-at", "GET", "/api/activities/%40worf", USER_FEED),
    ok("user-feed-with-query", "GET", "/api/activities/@worf?x=1", USER_FEED),
    # 4. search
    ok("search", "GET", "/api/activities/search?term=cloud", SEARCH),
    ok("search-plus-is-space", "GET", "/api/activities/search?term=a+b", SEARCH),
    ok("search-space-term-is-not-blank", "GET", "/api/activities/search?term=%20", SEARCH),
    ok("search-repeated-term", "GET", "/api/activities/search?term=a&term=b", SEARCH),
    Case("search-first-term-empty", "GET", "/api/activities/search?term=&term=b", 422, errors("search_term_blank"),
         content_type=JSON),
    Case("search-missing-term", "GET", "/api/activities/search", 422, errors("search_term_blank"), content_type=JSON),
    Case("search-empty-term", "GET", "/api/activities/search?term=", 422, errors("search_term_blank"),
         content_type=JSON),
    Case("search-other-param", "GET", "/api/activities/search?q=cloud", 422, errors("search_term_blank"),
         content_type=JSON),
    # 5. create activity: every ttl, exact expires_at - created_at
    *[ok(f"create-ttl-{ttl}", "POST", CREATE_P, created_activity("Hello Cruddur", ttl),
         json_body={"message": "Hello Cruddur", "ttl": ttl}) for ttl in TTLS],
    ok("create-280-chars", "POST", CREATE_P, created_activity("x" * 280, "7-days"),
       json_body={"message": "x" * 280, "ttl": "7-days"}),
    unprocessable("create-281-chars", CREATE_P, {"message": "x" * 281, "ttl": "7-days"}, "message_exceed_max_chars"),
    ok("create-280-code-points-multibyte", "POST", CREATE_P, created_activity("é" * 280, "1-day"),
       json_body={"message": "é" * 280, "ttl": "1-day"}),
    ok("create-280-astral-code-points", "POST", CREATE_P, created_activity("\U0001F600" * 280, "1-day"),
       json_body={"message": "\U0001F600" * 280, "ttl": "1-day"}),
    unprocessable("create-281-code-points-multibyte", CREATE_P, {"message": "é" * 281, "ttl": "1-day"},
                  "message_exceed_max_chars"),
    ok("create-non-ascii-escaped-in-output", "POST", CREATE_P, created_activity("héllo \u2713 \U0001F600", "3-hours"),
       json_body={"message": "héllo \u2713 \U0001F600", "ttl": "3-hours"}),
    ok("create-raw-utf8-request", "POST", CREATE_P, created_activity("héllo", "1-hour"),
       raw_body=json.dumps({"message": "héllo", "ttl": "1-hour"}, ensure_ascii=False).encode("utf-8"),
       headers=JSON_CT),
    ok("create-whitespace-message-not-trimmed", "POST", CREATE_P, created_activity("   ", "12-hours"),
       json_body={"message": "   ", "ttl": "12-hours"}),
    ok("create-json-charset-param", "POST", CREATE_P, created_activity("hi", "3-days"),
       raw_body=b'{"message":"hi","ttl":"3-days"}', headers={"Content-Type": "application/json; charset=utf-8"}),
    ok("create-extra-keys-ignored", "POST", CREATE_P, created_activity("hi", "30-days"),
       json_body={"message": "hi", "ttl": "30-days", "handle": "mallory", "uuid": "x"}),
    unprocessable("create-empty-message", CREATE_P, {"message": "", "ttl": "7-days"}, "message_blank"),
    unprocessable("create-null-message", CREATE_P, {"message": None, "ttl": "7-days"}, "message_blank"),
    unprocessable("create-bad-ttl", CREATE_P, {"message": "hi", "ttl": "2-days"}, "ttl_blank"),
    unprocessable("create-empty-ttl", CREATE_P, {"message": "hi", "ttl": ""}, "ttl_blank"),
    unprocessable("create-null-ttl", CREATE_P, {"message": "hi", "ttl": None}, "ttl_blank"),
    unprocessable("create-ttl-case-sensitive", CREATE_P, {"message": "hi", "ttl": "7-Days"}, "ttl_blank"),
    unprocessable("create-bad-ttl-empty-message-last-wins", CREATE_P, {"message": "", "ttl": "nope"}, "message_blank"),
    unprocessable("create-bad-ttl-long-message-last-wins", CREATE_P, {"message": "x" * 281, "ttl": "nope"},
                  "message_exceed_max_chars"),
    Case("create-missing-message-key", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={"ttl": "7-days"}, content_type=HTML),
    Case("create-missing-ttl-key", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={"message": "hi"}, content_type=HTML),
    Case("create-empty-object", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={}, content_type=HTML),
    Case("create-json-array-body", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body=["message", "ttl"], content_type=HTML),
    Case("create-non-string-message", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={"message": 5, "ttl": "7-days"}, content_type=HTML),
    page("create-body-not-json", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b"message=hi", headers=JSON_CT),
    page("create-empty-body", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b"", headers=JSON_CT),
    page("create-truncated-json", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b'{"message": "hi"',
         headers=JSON_CT),
    page("create-text-plain-content-type", "POST", CREATE_P, 400, "400 Bad Request",
         raw_body=b'{"message":"hi","ttl":"7-days"}', headers={"Content-Type": "text/plain"}),
    page("create-form-content-type", "POST", CREATE_P, 400, "400 Bad Request",
         raw_body=b'{"message":"hi","ttl":"7-days"}', headers={"Content-Type": "application/x-www-form-urlencoded"}),
    page("create-no-content-type", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b'{"message":"hi","ttl":"7-days"}'),
    # 6. show activity (FIXED): any path segment without "/", including "@"
    ok("show", "GET", SHOW_P, SHOW),
    ok("show-any-string", "GET", "/api/activities/not-a-uuid", SHOW),
    ok("show-bare-at", "GET", "/api/activities/@", SHOW),
    ok("show-encoded-space", "GET", "/api/activities/a%20b", SHOW),
    ok("show-encoded-utf8", "GET", "/api/activities/%C3%A9", SHOW),
    # 7. reply (FIXED validation: 422)
    ok("reply", "POST", REPLY_P, created_reply("Nice!", ACT1_UUID), json_body={"message": "Nice!"}),
    ok("reply-1024-chars", "POST", REPLY_P, created_reply("r" * 1024, ACT1_UUID), json_body={"message": "r" * 1024}),
    unprocessable("reply-1025-chars", REPLY_P, {"message": "r" * 1025}, "message_exceed_max_chars"),
    unprocessable("reply-empty", REPLY_P, {"message": ""}, "message_blank"),
    unprocessable("reply-null", REPLY_P, {"message": None}, "message_blank"),
    ok("reply-to-decoded-path-value", "POST", "/api/activities/a%20b/reply", created_reply("hi", "a b"),
       json_body={"message": "hi"}),
    ok("reply-to-at", "POST", "/api/activities/@/reply", created_reply("hi", "@"), json_body={"message": "hi"}),
    Case("reply-missing-message-key", "POST", REPLY_P, 500, html_page("500 Internal Server Error"),
         json_body={"msg": "hi"}, content_type=HTML),
    page("reply-body-not-json", "POST", REPLY_P, 400, "400 Bad Request", raw_body=b"hi", headers=JSON_CT),
    page("reply-text-plain", "POST", REPLY_P, 400, "400 Bad Request", raw_body=b'{"message":"hi"}',
         headers={"Content-Type": "text/plain"}),
    # 8. message groups, messages, create message
    ok("message-groups", "GET", GROUPS_P, MESSAGE_GROUPS),
    ok("messages", "GET", MSGS_P, MESSAGES),
    ok("messages-other-handle", "GET", "/api/messages/@andrewbrown", MESSAGES),
    ok("messages-reciever-query-ignored", "GET", "/api/messages/@worf?user_reciever_handle=bob", MESSAGES),
    page("messages-without-at", "GET", "/api/messages/bob", 404, "404 Not Found"),
    page("messages-bare-at", "GET", "/api/messages/@", 404, "404 Not Found"),
    ok("create-message", "POST", CREATE_MSG_P, created_message("Hi Worf"),
       json_body={"message": "Hi Worf", "user_receiver_handle": "worf"}),
    ok("create-message-1024-chars", "POST", CREATE_MSG_P, created_message("m" * 1024),
       json_body={"message": "m" * 1024, "user_receiver_handle": "worf"}),
    unprocessable("create-message-1025-chars", CREATE_MSG_P, {"message": "m" * 1025, "user_receiver_handle": "worf"},
                  "message_exceed_max_chars"),
    unprocessable("create-message-empty", CREATE_MSG_P, {"message": "", "user_receiver_handle": "worf"},
                  "message_blank"),
    unprocessable("create-message-null", CREATE_MSG_P, {"message": None, "user_receiver_handle": "worf"},
                  "message_blank"),
    unprocessable("create-message-empty-receiver", CREATE_MSG_P, {"message": "hi", "user_receiver_handle": ""},
                  "user_reciever_handle_blank"),
    unprocessable("create-message-null-receiver", CREATE_MSG_P, {"message": "hi", "user_receiver_handle": None},
                  "user_reciever_handle_blank"),
    unprocessable("create-message-both-blank-last-wins", CREATE_MSG_P, {"message": "", "user_receiver_handle": ""},
                  "message_blank"),
    unprocessable("create-message-no-receiver-long-message", CREATE_MSG_P,
                  {"message": "m" * 1025, "user_receiver_handle": ""}, "message_exceed_max_chars"),
    Case("create-message-missing-receiver-key", "POST", CREATE_MSG_P, 500, html_page("500 Internal Server Error"),
         json_body={"message": "hi"}, content_type=HTML),
    Case("create-message-missing-message-key", "POST", CREATE_MSG_P, 500, html_page("500 Internal Server Error"),
         json_body={"user_receiver_handle": "worf"}, content_type=HTML),
    Case("create-message-receiver-misspelled-key", "POST", CREATE_MSG_P, 500, html_page("500 Internal Server Error"),
         json_body={"message": "hi", "user_reciever_handle": "worf"}, content_type=HTML),
    page("create-message-body-not-json", "POST", CREATE_MSG_P, 400, "400 Bad Request", raw_body=b"{", headers=JSON_CT),
    # 9. /rollbar/test (telemetry off: no token, still 200)
    Case("rollbar-test", "GET", ROLLBAR_P, 200, exact_text(b"Hello World!"), content_type=HTML,
         expect={"Content-Length": "12"}),
    Case("rollbar-test-no-cors", "GET", ROLLBAR_P, 200, exact_text(b"Hello World!"), content_type=HTML,
         headers=FE, **NO_CORS),
    Case("rollbar-test-head", "HEAD", ROLLBAR_P, 200, empty_body, content_type=HTML),
    Case("rollbar-test-options", "OPTIONS", ROLLBAR_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL), expect={"Allow": GET_ALLOW}, absent=(ANY_ACCESS_CONTROL,)),
    not_allowed("rollbar-test-post", "POST", ROLLBAR_P, GET_ALLOW),
    page("rollbar-test-trailing-slash", "GET", ROLLBAR_P + "/", 404, "404 Not Found"),
    # 10. wrong method, unknown path, trailing slash
    not_allowed("get-create-activity", "GET", CREATE_P, POST_ALLOW),
    not_allowed("put-create-activity", "PUT", CREATE_P, POST_ALLOW),
    not_allowed("delete-create-activity", "DELETE", CREATE_P, POST_ALLOW),
    not_allowed("head-create-activity", "HEAD", CREATE_P, POST_ALLOW),
    not_allowed("get-reply", "GET", REPLY_P, POST_ALLOW),
    not_allowed("get-create-message", "GET", CREATE_MSG_P, POST_ALLOW),
    not_allowed("patch-create-message", "PATCH", CREATE_MSG_P, POST_ALLOW),
    not_allowed("post-home", "POST", HOME_P, GET_ALLOW),
    not_allowed("post-notifications", "POST", NOTIF_P, GET_ALLOW),
    not_allowed("post-user-feed", "POST", "/api/activities/@worf", GET_ALLOW),
    not_allowed("post-search", "POST", "/api/activities/search?term=x", GET_ALLOW),
    not_allowed("post-show", "POST", SHOW_P, GET_ALLOW),
    not_allowed("delete-show", "DELETE", SHOW_P, GET_ALLOW),
    not_allowed("post-message-groups", "POST", GROUPS_P, GET_ALLOW),
    not_allowed("post-messages", "POST", MSGS_P, GET_ALLOW),
    page("root", "GET", "/", 404, "404 Not Found"),
    page("unknown-api-path", "GET", "/api/nope", 404, "404 Not Found"),
    page("api-prefix-only", "GET", "/api", 404, "404 Not Found"),
    page("head-unknown", "HEAD", "/api/nope", 404, "404 Not Found"),
    page("post-unknown", "POST", "/api/nope", 404, "404 Not Found", json_body={}),
    page("home-trailing-slash", "GET", HOME_P + "/", 404, "404 Not Found"),
    page("groups-trailing-slash", "GET", GROUPS_P + "/", 404, "404 Not Found"),
    page("user-feed-trailing-slash", "GET", "/api/activities/@worf/", 404, "404 Not Found"),
    page("create-trailing-slash", "POST", CREATE_P + "/", 404, "404 Not Found", json_body={"message": "a", "ttl": "1-day"}),
    page("reply-trailing-slash", "POST", REPLY_P + "/", 404, "404 Not Found", json_body={"message": "a"}),
    page("show-two-segments", "GET", "/api/activities/a/b", 404, "404 Not Found"),
    page("show-encoded-slash-is-two-segments", "GET", "/api/activities/a%2Fb", 404, "404 Not Found"),
    page("home-case-sensitive", "GET", "/API/activities/home", 404, "404 Not Found"),
    # 13. CORS: simple GET/HEAD on /api/*
    ok("cors-get-frontend", "GET", HOME_P, HOME, headers=FE, **cors_simple_get(FRONTEND_URL)),
    ok("cors-get-backend", "GET", NOTIF_P, NOTIFICATIONS, headers=BE, **cors_simple_get(BACKEND_URL)),
    ok("cors-get-origin-case-insensitive", "GET", GROUPS_P, MESSAGE_GROUPS, headers={"Origin": FRONTEND_URL.upper()},
       **cors_simple_get(FRONTEND_URL.upper())),
    ok("cors-get-origin-trailing-slash-no-match", "GET", HOME_P, HOME, headers={"Origin": FRONTEND_URL + "/"}, **NO_CORS),
    ok("cors-get-other-origin", "GET", HOME_P, HOME, headers=EVIL, **NO_CORS),
    ok("cors-get-null-origin", "GET", HOME_P, HOME, headers={"Origin": "null"}, **NO_CORS),
    ok("cors-get-user-feed", "GET", "/api/activities/@worf", USER_FEED, headers=FE, **cors_simple_get(FRONTEND_URL)),
    ok("cors-get-show", "GET", SHOW_P, SHOW, headers=BE, **cors_simple_get(BACKEND_URL)),
    ok("cors-get-messages", "GET", MSGS_P, MESSAGES, headers=FE, **cors_simple_get(FRONTEND_URL)),
    Case("cors-get-422", "GET", "/api/activities/search", 422, errors("search_term_blank"), content_type=JSON,
         headers=FE, **cors_simple_get(FRONTEND_URL)),
    Case("cors-head-frontend", "HEAD", HOME_P, 200, empty_body, content_type=JSON, headers=FE,
         **cors_simple_get(FRONTEND_URL)),
    page("cors-on-404", "GET", "/api/nope", 404, "404 Not Found", headers=FE, **cors_simple_get(FRONTEND_URL)),
    not_allowed("cors-on-405", "GET", CREATE_P, POST_ALLOW, headers=BE, **cors_simple_get(BACKEND_URL)),
    # 13. CORS: preflight on GET routes (flask-cors + the Allow-Headers decision)
    Case("preflight-get-route", "OPTIONS", HOME_P, 200, empty_body, headers=preflight_headers(FRONTEND_URL),
         **cors_get_preflight(FRONTEND_URL)),
    Case("preflight-get-route-backend-origin", "OPTIONS", NOTIF_P, 200, empty_body,
         headers=preflight_headers(BACKEND_URL), **cors_get_preflight(BACKEND_URL)),
    Case("preflight-get-route-traceparent", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "traceparent"),
         **cors_get_preflight(FRONTEND_URL, tokens("traceparent"))),
    Case("preflight-get-route-content-type", "OPTIONS", "/api/activities/@worf", 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "content-type"),
         **cors_get_preflight(FRONTEND_URL, tokens("content-type"))),
    Case("preflight-get-route-header-case-insensitive", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "TraceParent"),
         **cors_get_preflight(FRONTEND_URL, tokens("traceparent"))),
    Case("preflight-get-route-all-allowed-headers", "OPTIONS", GROUPS_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "traceparent, tracestate, if-modified-since, content-type"),
         **cors_get_preflight(FRONTEND_URL, tokens("traceparent", "tracestate", "if-modified-since", "content-type"))),
    Case("preflight-get-route-mixed-headers-filtered", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "x-custom,traceparent"),
         **cors_get_preflight(FRONTEND_URL, tokens("traceparent"))),
    Case("preflight-get-route-unlisted-header-not-echoed", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "x-custom"), **cors_get_preflight(FRONTEND_URL)),
    Case("preflight-get-route-authorization-not-echoed", "OPTIONS", SHOW_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "GET", "authorization"), **cors_get_preflight(FRONTEND_URL)),
    Case("preflight-get-route-no-request-method", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, None, "traceparent"),
         expect={"Allow": GET_ALLOW, "Access-Control-Allow-Origin": FRONTEND_URL,
                 "Access-Control-Expose-Headers": EXPOSE, "Vary": including("Origin")},
         absent=("Access-Control-Allow-Methods", "Access-Control-Allow-Headers")),
    Case("preflight-get-route-method-not-in-list", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "PUT", "traceparent"),
         expect={"Allow": GET_ALLOW, "Access-Control-Allow-Origin": FRONTEND_URL, "Vary": including("Origin")},
         absent=("Access-Control-Allow-Methods", "Access-Control-Allow-Headers")),
    Case("preflight-get-route-other-origin", "OPTIONS", HOME_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, "GET", "traceparent"), expect={"Allow": GET_ALLOW},
         absent=(ANY_ACCESS_CONTROL,)),
    Case("preflight-search", "OPTIONS", "/api/activities/search", 200, empty_body,
         headers=preflight_headers(FRONTEND_URL), **cors_get_preflight(FRONTEND_URL)),
    Case("preflight-messages", "OPTIONS", MSGS_P, 200, empty_body, headers=preflight_headers(FRONTEND_URL),
         **cors_get_preflight(FRONTEND_URL)),
    Case("options-without-origin", "OPTIONS", HOME_P, 200, empty_body, expect={"Allow": GET_ALLOW}),
    # 13. CORS: the three @cross_origin() POST routes
    Case("preflight-create-activity-any-origin", "OPTIONS", CREATE_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, "POST", "content-type"),
         **cors_post_preflight(OTHER_ORIGIN, tokens("content-type"))),
    Case("preflight-create-activity-echoes-any-header", "OPTIONS", CREATE_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "POST", "content-type, x-anything, traceparent"),
         **cors_post_preflight(FRONTEND_URL, tokens("content-type", "x-anything", "traceparent"))),
    Case("preflight-create-activity-no-request-headers", "OPTIONS", CREATE_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, "POST"), **cors_post_preflight(OTHER_ORIGIN)),
    Case("preflight-create-activity-lowercase-method", "OPTIONS", CREATE_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, "post", "content-type"),
         **cors_post_preflight(OTHER_ORIGIN, tokens("content-type"))),
    Case("preflight-create-activity-no-request-method", "OPTIONS", CREATE_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, None),
         expect={"Allow": POST_ALLOW, "Access-Control-Allow-Origin": OTHER_ORIGIN, "Vary": including("Origin")},
         absent=("Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Expose-Headers")),
    Case("preflight-reply", "OPTIONS", REPLY_P, 200, empty_body,
         headers=preflight_headers(OTHER_ORIGIN, "POST", "content-type"),
         **cors_post_preflight(OTHER_ORIGIN, tokens("content-type"))),
    Case("preflight-create-message", "OPTIONS", CREATE_MSG_P, 200, empty_body,
         headers=preflight_headers(FRONTEND_URL, "POST", "content-type,accept"),
         **cors_post_preflight(FRONTEND_URL, tokens("content-type", "accept"))),
    ok("cors-post-any-origin", "POST", CREATE_P, created_activity("hi", "7-days"),
       json_body={"message": "hi", "ttl": "7-days"}, headers=EVIL, **cors_post(OTHER_ORIGIN)),
    ok("cors-post-frontend", "POST", CREATE_P, created_activity("hi", "7-days"),
       json_body={"message": "hi", "ttl": "7-days"}, headers=FE, **cors_post(FRONTEND_URL)),
    ok("cors-reply-any-origin", "POST", REPLY_P, created_reply("hi", ACT1_UUID), json_body={"message": "hi"},
       headers=EVIL, **cors_post(OTHER_ORIGIN)),
    ok("cors-create-message-any-origin", "POST", CREATE_MSG_P, created_message("hi"),
       json_body={"message": "hi", "user_receiver_handle": "worf"}, headers=EVIL, **cors_post(OTHER_ORIGIN)),
    unprocessable("cors-post-422-any-origin", CREATE_P, {"message": "", "ttl": "7-days"}, "message_blank",
                  headers=EVIL, **cors_post(OTHER_ORIGIN)),
    # A 500 or 400 escapes the decorator; the app-level CORS (allowed origins only) applies.
    Case("cors-post-500-frontend-gets-app-cors", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={"ttl": "7-days"}, content_type=HTML, headers=FE, **cors_simple_get(FRONTEND_URL)),
    Case("cors-post-500-other-origin-none", "POST", CREATE_P, 500, html_page("500 Internal Server Error"),
         json_body={"ttl": "7-days"}, content_type=HTML, headers=EVIL, **NO_CORS),
    page("cors-post-400-frontend-gets-app-cors", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b"x",
         headers={**JSON_CT, **FE}, **cors_simple_get(FRONTEND_URL)),
    page("cors-post-400-other-origin-none", "POST", CREATE_P, 400, "400 Bad Request", raw_body=b"x",
         headers={**JSON_CT, **EVIL}, **NO_CORS),
]

# No Origin header (see NO_ORIGIN_GETS_CORS).
if NO_ORIGIN_GETS_CORS:
    _first_origin = sorted([FRONTEND_URL, BACKEND_URL])[0]
    CASES += [
        ok("cors-get-no-origin", "GET", HOME_P, HOME, **cors_simple_get(_first_origin)),
        ok("cors-post-no-origin-wildcard", "POST", CREATE_P, created_activity("hi", "7-days"),
           json_body={"message": "hi", "ttl": "7-days"},
           expect={"Access-Control-Allow-Origin": "*"}, absent=("Access-Control-Expose-Headers",)),
    ]
else:
    CASES += [
        ok("cors-get-no-origin", "GET", HOME_P, HOME, **NO_CORS),
        Case("cors-head-no-origin", "HEAD", GROUPS_P, 200, empty_body, content_type=JSON, **NO_CORS),
    ]

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), f"duplicate case ids: {sorted({i for i in _ids if _ids.count(i) > 1})}"


# ---- running one case ------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def send(server: CruddurServer, case: Case) -> tuple[requests.Response, Ctx]:
    headers = dict(case.headers)
    data: bytes | None = case.raw_body
    if case.json_body is not None:
        data = json.dumps(case.json_body).encode()
        headers.setdefault("Content-Type", JSON)
    t0 = now_utc()
    r = server.request(case.method, case.path, headers=headers, data=data)
    t1 = now_utc()
    return r, Ctx(t0, t1)


def check_headers(r: requests.Response, case: Case) -> None:
    for name, want in case.expect.items():
        got = r.headers.get(name)
        assert got is not None, f"response lacks {name} (want {want!r}); headers: {dict(r.headers)}"
        if isinstance(want, Tokens):
            assert want.matches(got), f"{name}: {got!r}, want {want!r}"
        else:
            assert got == want, f"{name}: {got!r}, want {want!r}"
    for name in case.absent:
        if name == ANY_ACCESS_CONTROL:
            present = {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}
            assert not present, f"want no Access-Control-* headers, got {present}"
        else:
            assert name not in r.headers, f"want no {name}, got {r.headers[name]!r}"


def describe(r: requests.Response) -> str:
    return (f"{r.request.method} {r.request.path_url} -> {r.status_code} {r.reason}\n"
            f"headers: {dict(r.headers)}\nbody: {r.content[:600]!r}")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_route(cruddur: CruddurServer, case: Case) -> None:
    r, ctx = send(cruddur, case)
    try:
        assert r.status_code == case.status, f"status {r.status_code}, want {case.status}"
        if case.content_type is not None:
            assert r.headers.get("Content-Type") == case.content_type, (
                f"Content-Type {r.headers.get('Content-Type')!r}, want {case.content_type!r}")
        check_headers(r, case)
        if case.body is not None:
            case.body(r, ctx)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- response ---\n{describe(r)}\n--- server stderr (tail) ---\n"
                             f"{cruddur.stderr_tail(2000)}") from None
    assert cruddur.alive(), "cruddur exited\n" + cruddur.diagnostics()


# ---- focused tests ---------------------------------------------------------------------


def test_validation_order_bad_ttl_and_empty_message(cruddur: CruddurServer) -> None:
    """Checks run ttl -> handle -> message and each failure replaces the list, so an empty
    message hides a bad ttl (§2.2), and exactly one code comes back."""
    r = cruddur.post_json(CREATE_P, {"message": "", "ttl": "forever"})
    assert r.status_code == 422, describe(r)
    assert r.content == b'["message_blank"]\n', describe(r)
    r = cruddur.post_json(CREATE_P, {"message": "ok", "ttl": "forever"})
    assert (r.status_code, r.content) == (422, b'["ttl_blank"]\n'), describe(r)


@pytest.mark.parametrize("length,status", [(1, 200), (279, 200), (280, 200), (281, 422), (1000, 422)])
def test_activity_length_boundary(cruddur: CruddurServer, length: int, status: int) -> None:
    r = cruddur.post_json(CREATE_P, {"message": "a" * length, "ttl": "1-hour"})
    assert r.status_code == status, describe(r)
    if status == 422:
        assert r.json() == ["message_exceed_max_chars"]
    else:
        assert r.json()["message"] == "a" * length


@pytest.mark.parametrize("path,extra", [(REPLY_P, {}), (CREATE_MSG_P, {"user_receiver_handle": "worf"})],
                         ids=["reply", "message"])
@pytest.mark.parametrize("length,status", [(1023, 200), (1024, 200), (1025, 422)])
def test_reply_and_message_length_boundary(cruddur: CruddurServer, path: str, extra: dict[str, str],
                                           length: int, status: int) -> None:
    r = cruddur.post_json(path, {"message": "b" * length, **extra})
    assert r.status_code == status, describe(r)
    if status == 422:
        assert r.content == b'["message_exceed_max_chars"]\n'


def test_new_uuids_are_lowercase_v4_and_distinct(cruddur: CruddurServer) -> None:
    seen: set[str] = set()
    for path, payload in [(CREATE_P, {"message": "u", "ttl": "1-day"}), (REPLY_P, {"message": "u"}),
                          (CREATE_MSG_P, {"message": "u", "user_receiver_handle": "worf"})] * 4:
        r = cruddur.post_json(path, payload)
        assert r.status_code == 200, describe(r)
        value = r.json()["uuid"]
        parsed = uuid.UUID(value)
        assert str(parsed) == value, f"{value!r} is not the lowercase hyphenated form"
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122, value
        seen.add(value)
    assert len(seen) == 12, f"uuids repeat: {seen}"


def _created(data: list[dict[str, Any]], i: int) -> datetime:
    return datetime.fromisoformat(data[i]["created_at"])


@pytest.mark.parametrize("path,relation", [
    (HOME_P, "items"), (NOTIF_P, "items"), (GROUPS_P, "equal"), (MSGS_P, "equal"), (SHOW_P, "show"),
])
def test_one_now_per_response(cruddur: CruddurServer, path: str, relation: str) -> None:
    """The seed computes "now" once per request and derives every timestamp from it, so the
    offsets between items are exact (not just within a tolerance)."""
    r = cruddur.get(path)
    assert r.status_code == 200, describe(r)
    data = r.json()
    if relation == "items":
        now1 = _created(data, 0) + timedelta(days=2)
        now2 = _created(data, 1) + timedelta(days=7)
        now3 = _created(data, 2) + timedelta(hours=1)
        assert now1 == now2 == now3, f"items were built from different 'now's: {now1} {now2} {now3}"
        assert datetime.fromisoformat(data[0]["expires_at"]) - timedelta(days=5) == now1
    elif relation == "equal":
        assert data[0]["created_at"] == data[1]["created_at"], data
    else:
        item = data[0]
        assert item["replies"]["created_at"] == item["created_at"], item


def test_422_status_reason(cruddur: CruddurServer) -> None:
    """Werkzeug's status line reads "422 UNPROCESSABLE ENTITY"; any casing of the standard
    phrase is accepted (HTTP clients ignore the reason phrase)."""
    r = cruddur.get("/api/activities/search")
    assert r.status_code == 422
    assert (r.reason or "").upper() == "UNPROCESSABLE ENTITY", f"reason phrase {r.reason!r}"


HEAD_PATHS = [HOME_P, NOTIF_P, "/api/activities/@worf", "/api/activities/search?term=x", "/api/activities/search",
              SHOW_P, "/api/activities/@", GROUPS_P, MSGS_P, ROLLBAR_P, "/api/nope", CREATE_P]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_matches_get(cruddur: CruddurServer, path: str) -> None:
    """HEAD answers like GET: same status and headers (Content-Length included), empty body."""
    g = cruddur.get(path, headers=FE)
    h = cruddur.request("HEAD", path, headers=FE)
    assert h.status_code == g.status_code, f"HEAD {h.status_code} vs GET {g.status_code}"
    assert h.content == b"", f"HEAD body {h.content[:100]!r}"
    # Date moves on; an X-Ray trace header (if any) is per request.
    ignore = {"date", "content-length", "x-amzn-trace-id"}
    gh = {k.lower(): v for k, v in g.headers.items() if k.lower() not in ignore}
    hh = {k.lower(): v for k, v in h.headers.items() if k.lower() not in ignore}
    assert hh == gh, f"HEAD headers {hh} != GET headers {gh}"
    if "Content-Length" in g.headers and "Content-Encoding" not in g.headers:
        assert int(g.headers["Content-Length"]) == len(g.content)
        assert h.headers.get("Content-Length") == g.headers["Content-Length"], (
            f"HEAD Content-Length {h.headers.get('Content-Length')!r}, GET {g.headers['Content-Length']!r}")


def test_post_preflight_allow_headers_sorted_like_flask_cors(cruddur: CruddurServer) -> None:
    """flask-cors echoes the requested headers sorted (Python's case-sensitive order) and joined
    with ', ' (seen with flask-cors 3.0.10)."""
    r = cruddur.request("OPTIONS", CREATE_P, headers=preflight_headers(OTHER_ORIGIN, "POST", "X-Foo, Content-Type,accept"))
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Access-Control-Allow-Headers") == "Content-Type, X-Foo, accept", describe(r)


def test_keep_alive_connection_serves_many_requests(cruddur: CruddurServer) -> None:
    """Browsers reuse connections: a mix of routes over one keep-alive connection."""
    with requests.Session() as s:
        for i in range(10):
            for method, path, payload, status in [
                ("GET", HOME_P, None, 200), ("POST", CREATE_P, {"message": f"m{i}", "ttl": "1-day"}, 200),
                ("GET", "/api/nope", None, 404), ("POST", CREATE_P, {"ttl": "1-day"}, 500),
                ("OPTIONS", CREATE_P, None, 200), ("HEAD", GROUPS_P, None, 200),
            ]:
                r = s.request(method, cruddur.url + path, json=payload, timeout=10, allow_redirects=False)
                assert r.status_code == status, describe(r)
    assert cruddur.alive()


def test_success_is_never_201(cruddur: CruddurServer) -> None:
    for path, payload in [(CREATE_P, {"message": "a", "ttl": "1-day"}), (REPLY_P, {"message": "a"}),
                          (CREATE_MSG_P, {"message": "a", "user_receiver_handle": "worf"})]:
        assert cruddur.post_json(path, payload).status_code == 200


# ---- other server configurations (each starts its own server) --------------------------

PRETTY_REQUESTS = [
    ("GET", HOME_P, None, 200),
    ("GET", NOTIF_P, None, 200),
    ("GET", "/api/activities/@worf", None, 200),
    ("GET", "/api/activities/search?term=x", None, 200),
    ("GET", "/api/activities/search", None, 422),
    ("GET", SHOW_P, None, 200),
    ("GET", GROUPS_P, None, 200),
    ("GET", MSGS_P, None, 200),
    ("POST", CREATE_P, {"message": "pretty é", "ttl": "7-days"}, 200),
    ("POST", CREATE_P, {"message": "", "ttl": "7-days"}, 422),
    ("POST", REPLY_P, {"message": "pretty"}, 200),
    ("POST", CREATE_MSG_P, {"message": "pretty", "user_receiver_handle": "worf"}, 200),
]


def test_pretty_json_in_development_mode(cruddur_factory) -> None:
    """FLASK_ENV=development (the seed's Dockerfile) pretty-prints: 2-space indent, sorted
    keys, ASCII escapes, trailing newline; the data is the same as in compact mode."""
    server = cruddur_factory(env={**HERMETIC_ENV, "FLASK_ENV": "development"}).start()
    for method, path, payload, status in PRETTY_REQUESTS:
        r = server.request(method, path, data=None if payload is None else json.dumps(payload).encode(),
                           headers={} if payload is None else {"Content-Type": JSON})
        assert r.status_code == status, describe(r)
        assert r.headers.get("Content-Type") == JSON, describe(r)
        raw, data = parse_json_text(r)
        assert raw == canonical_pretty(data), (
            f"{method} {path}: not Flask's pretty form\n got: {raw[:500]!r}\nwant: {canonical_pretty(data)[:500]!r}")
    # Spot-check the literal shape (independent of the json module's own formatting).
    r = server.post_json(CREATE_P, {"message": "", "ttl": "x"})
    assert r.content == b'[\n  "message_blank"\n]\n', r.content
    r = server.get(HOME_P)
    assert r.content.startswith(b'[\n  {\n    "created_at": "'), r.content[:80]
    assert b'"replies": [],\n' in r.content and r.content.endswith(b"\n  }\n]\n"), r.content[-80:]
    # Non-JSON responses are unchanged.
    r = server.get(ROLLBAR_P)
    assert (r.status_code, r.content) == (200, b"Hello World!")
    server.stop_expecting_clean_exit()


def test_other_flask_env_is_compact(cruddur_factory) -> None:
    server = cruddur_factory(env={**HERMETIC_ENV, "FLASK_ENV": "production"}).start()
    r = server.get(HOME_P)
    raw, data = parse_json_text(r)
    assert raw == canonical_compact(data) and "\n" not in raw[:-1], raw[:200]
    server.stop_expecting_clean_exit()


def test_cors_origins_come_from_env(cruddur_factory) -> None:
    """Other FRONTEND_URL/BACKEND_URL values are honoured; unset ones match nothing and the
    routes still answer (§2.4: None in the origins list is harmless)."""
    alt = "http://localhost:3000"
    server = cruddur_factory(env={**HERMETIC_ENV, "FRONTEND_URL": alt, "BACKEND_URL": None}).start()
    r = server.get(HOME_P, headers={"Origin": alt})
    assert r.status_code == 200 and r.headers.get("Access-Control-Allow-Origin") == alt, describe(r)
    r = server.get(HOME_P, headers=FE)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers, describe(r)
    server.stop_expecting_clean_exit()

    server = cruddur_factory(env={**HERMETIC_ENV, "FRONTEND_URL": None, "BACKEND_URL": None}).start()
    for origin in (FRONTEND_URL, "None", "null"):
        r = server.get(HOME_P, headers={"Origin": origin})
        assert r.status_code == 200, describe(r)
        assert "Access-Control-Allow-Origin" not in r.headers, describe(r)
    # The POST routes still echo any origin.
    r = server.post_json(CREATE_P, {"message": "a", "ttl": "1-day"}, headers=EVIL)
    assert r.status_code == 200 and r.headers.get("Access-Control-Allow-Origin") == OTHER_ORIGIN, describe(r)
    server.stop_expecting_clean_exit()


def test_bind_from_env(cruddur_factory) -> None:
    """CRUDDUR_BIND is the env equivalent of --bind."""
    server = cruddur_factory(env={**HERMETIC_ENV, "CRUDDUR_BIND": "127.0.0.1:0"}, bind=None).start()
    host, port = server.host_port
    assert host == "127.0.0.1" and port != 0, server.ready
    assert server.get(HOME_P).status_code == 200
    server.stop_expecting_clean_exit()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As servers do (tokio sets it on Unix): a TIME_WAIT left by an earlier run is no conflict.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_default_bind_is_all_interfaces_port_4567(cruddur_factory) -> None:
    """No --bind and no CRUDDUR_BIND: 0.0.0.0:4567, like `flask run --host=0.0.0.0 --port=4567`.
    Only requests to 127.0.0.1 are sent."""
    if not _port_free(4567):
        pytest.skip("port 4567 is in use on this machine")
    server = cruddur_factory(bind=None).start()
    assert server.addr == "0.0.0.0:4567", server.ready
    r = requests.get("http://127.0.0.1:4567" + HOME_P, timeout=10)
    assert r.status_code == 200
    server.stop_expecting_clean_exit()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(cruddur_factory, sig: int) -> None:
    server = cruddur_factory().start()
    assert server.get(HOME_P).status_code == 200
    took = server.stop_expecting_clean_exit(sig)
    assert took < 5.0, f"took {took:.1f} s to exit after {sig!r}"
