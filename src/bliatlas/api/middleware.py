"""The web server's protective layers, as plain ASGI middleware (outermost first):

1. :class:`SecurityHeaders` — Content-Security-Policy (no inline script, no framing),
   ``nosniff``, ``Referrer-Policy``, ``X-Frame-Options``; absolute ``Location`` headers
   to this server are made relative, so the Host header is never echoed in a redirect.
2. :class:`TrustedHosts` — requests whose Host is not in ``BLI_ALLOWED_HOSTS`` get 400.
3. :class:`PinGeneration` — the request works on one database state from start to end
   (:func:`bliatlas.api.deps.pin`), so an import switching the file under load never makes
   a request fail or mix two states.
4. :class:`PageCache` — GET answers of the open pages and the API, cached per database
   state, with ``ETag`` and ``Cache-Control`` (a reload revalidates with 304 and does not
   download the map again).
5. :class:`Access` — with ``BLI_PUBLIC=1``, the matching surfaces need a login or an API
   token (:mod:`bliatlas.api.auth`).
6. :class:`Csrf` — POSTs from a browser form need the form's CSRF token (signed
   double-submit cookie); a cross-site ``Origin`` is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from bliatlas import settings
from bliatlas.api import auth, deps

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
CSRF_COOKIE = "bli_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 8 * 1024 * 1024  # the largest form (a cohort upload) plus framing
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    raw = header(scope, b"cookie") or ""
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k:
            out[k] = v
    return out


async def respond(send: Send, status: int, message: str, *, html: bool = False,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """A small Norwegian error answer (JSON, or a plain HTML page for browsers)."""
    if html:
        from html import escape

        body = (f'<!doctype html><html lang="nb"><head><meta charset="utf-8"><title>Feil</title>'
                f'<link rel="stylesheet" href="/static/atlas.css"></head><body><main>'
                f"<h1>Feil</h1><p>{escape(message)}</p><p><a href=\"/\">Til forsiden</a></p>"
                f"</main></body></html>").encode()
        ctype = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": message}, ensure_ascii=False).encode()
        ctype = b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wants_html(scope: Scope) -> bool:
    return not scope["path"].startswith("/api/") and "text/html" in (
        header(scope, b"accept") or "")


# -- 1 ---------------------------------------------------------------------------------
class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = (header(scope, b"host") or "").lower()

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                headers += [h for h in HEADERS if h[0] not in names]
                for i, (k, v) in enumerate(headers):
                    if k.lower() == b"location":
                        headers[i] = (k, _relative(v.decode("latin-1"), host).encode("latin-1"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative(location: str, host: str) -> str:
    """``http://host/x?y`` → ``/x?y`` for this server; other locations unchanged."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https") and parts.netloc.lower() == host:
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return location


# -- 2 ---------------------------------------------------------------------------------
class TrustedHosts:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = (header(scope, b"host") or "").lower()
        name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] \
            if host.count(":") == 1 else host
        allowed = settings.get().allowed_hosts
        if "*" not in allowed and name not in allowed:
            return await respond(send, 400, "Ukjent vertsnavn i Host-headeren; serveren svarer "
                                 "bare på navnene i BLI_ALLOWED_HOSTS", html=wants_html(scope))
        await self.app(scope, receive, send)


# -- 3 ---------------------------------------------------------------------------------
class PinGeneration:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        handle = deps.pin()
        try:
            await self.app(scope, receive, send)
        finally:
            deps.unpin(handle)


# -- 4 ---------------------------------------------------------------------------------
#: Paths whose answers are never cached or shared (personal data, per-user, live status).
UNCACHED = ("/bosetting/matching", "/api/bosetting/match", "/logg-inn", "/logg-ut",
            "/api/jobber", "/static/")
STATIC_MAX_AGE = b"public, max-age=3600"


class PageCache:
    """GET answers per (database state, URL, gzip or not), bounded by ``BLI_PAGE_CACHE_MB``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.entries: OrderedDict[tuple[str, ...], tuple[int, list, bytes, bytes]] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _key(self, scope: Scope) -> tuple[str, ...] | None:
        if scope["method"] not in ("GET", "HEAD"):
            return None
        path = scope["path"]
        if path.startswith(UNCACHED) or auth.is_protected(path):
            return None
        try:
            token = deps.current().token
        except Exception:  # noqa: BLE001 - no database: nothing to key on, answer uncached
            return None
        gzip = "gzip" in (header(scope, b"accept-encoding") or "")
        return (token, path, scope.get("query_string", b"").decode("latin-1"), str(gzip))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"].startswith("/static/"):
            return await self.app(scope, receive, _with_header(send, b"cache-control",
                                                               STATIC_MAX_AGE))
        key = self._key(scope)
        if key is None:
            return await self.app(scope, receive, send)
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
                self.hits += 1
        if entry is not None:
            return await self._send_cached(scope, send, *entry)
        status_headers: dict[str, Any] = {}
        chunks: list[bytes] = []
        streamed = False

        async def capture(message: dict[str, Any]) -> None:
            nonlocal streamed
            if message["type"] == "http.response.start":
                status_headers["status"] = message["status"]
                status_headers["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    streamed = True

        await self.app(scope, receive, capture)
        status = status_headers.get("status", 500)
        headers = status_headers.get("headers", [])
        body = b"".join(chunks)
        names = {k.lower(): v for k, v in headers}
        cacheable = (status == 200 and not streamed and b"set-cookie" not in names
                     and b"no-store" not in names.get(b"cache-control", b"")
                     and scope["method"] == "GET")
        etag = ('"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"').encode()
        if status == 200:
            headers = [h for h in headers if h[0].lower() not in (b"etag", b"cache-control")]
            headers += [(b"etag", etag)]
            if b"cache-control" not in names:
                headers.append((b"cache-control", b"no-cache"))
            else:
                headers.append((b"cache-control", names[b"cache-control"]))
        self.misses += 1
        limit = settings.get().page_cache_mb * 1024 * 1024
        if cacheable and len(body) <= limit // 8:
            with self.lock:
                if key not in self.entries:
                    self.entries[key] = (status, headers, body, etag)
                    self.size += len(body)
                while self.size > limit and self.entries:
                    _, old = self.entries.popitem(last=False)
                    self.size -= len(old[2])
        await self._send_cached(scope, send, status, headers, body, etag if status == 200
                                else b"")

    async def _send_cached(self, scope: Scope, send: Send, status: int, headers: list,
                           body: bytes, etag: bytes) -> None:
        match = header(scope, b"if-none-match")
        if etag and match and etag.decode() in [m.strip().removeprefix("W/")
                                                for m in match.split(",")]:
            keep = [h for h in headers if h[0].lower() in (b"etag", b"cache-control", b"vary")]
            await send({"type": "http.response.start", "status": 304, "headers": keep})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message.get("status") == 200:
            headers = [h for h in message.get("headers", []) if h[0].lower() != name]
            message = {**message, "headers": [*headers, (name, value)]}
        await send(message)
    return wrapped


# -- 5 ---------------------------------------------------------------------------------
class Access:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        session = auth.read_session(cookies(scope).get(auth.SESSION_COOKIE))
        state["user"] = session.user if session else None
        bearer = header(scope, b"authorization") or ""
        state["token"] = False
        if bearer.lower().startswith("bearer "):
            state["token"] = auth.token_ok(bearer[7:].strip())
            if not state["token"]:
                return await respond(send, 401, "Ugyldig API-nøkkel (Authorization: Bearer …)",
                                     extra=[(b"www-authenticate", b'Bearer realm="Bli-atlas"')])
        if (settings.get().public and auth.is_protected(scope["path"])
                and not state["user"] and not state["token"]):
            if wants_html(scope) and scope["method"] == "GET":
                target = scope["path"] + (
                    "?" + scope["query_string"].decode("latin-1") if scope.get("query_string")
                    else "")
                location = "/logg-inn?neste=" + quote(target, safe="")
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", location.encode()),
                                        (b"cache-control", b"no-store"),
                                        (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
            return await respond(
                send, 401, "Innlogging kreves: matching tar imot personopplysninger. Logg inn "
                "på /logg-inn eller send en API-nøkkel (Authorization: Bearer …)",
                html=wants_html(scope),
                extra=[(b"www-authenticate", b'Bearer realm="Bli-atlas"')])
        await self.app(scope, receive, send)


# -- 6 ---------------------------------------------------------------------------------
def new_csrf_token() -> str:
    return auth.sign(secrets.token_urlsafe(18))


def csrf_valid(cookie: str | None, submitted: str | None) -> bool:
    import hmac

    return bool(cookie and submitted and auth.unsign(cookie) is not None
                and hmac.compare_digest(cookie, submitted))


def csrf_token(state: dict[str, Any], cookie: str | None) -> str:
    """The token for the forms of this page: the valid cookie's, else a new one that the
    response sets as cookie (:class:`Csrf`)."""
    if cookie and auth.unsign(cookie) is not None:
        return cookie
    if "csrf_new" not in state:
        state["csrf_new"] = new_csrf_token()
    return state["csrf_new"]


def _same_origin(scope: Scope, origin: str) -> bool:
    host = (header(scope, b"host") or "").lower()
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host


def form_field(body: bytes, content_type: str, name: str) -> str | None:
    """The value of text field ``name`` of a posted form, read in memory (file parts are
    skipped, never written anywhere)."""
    kind = content_type.lower()
    if kind.startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs

        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(name)
        return values[0] if values else None
    if not kind.startswith("multipart/form-data"):
        return None
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        return None
    found: dict[str, Any] = {"field": b"", "value": b"", "current": None, "header": b""}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        found["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        if found["header"].lower() == b"content-disposition":
            found["field"] += data[start:end]

    def on_header_end() -> None:
        found["header"] = b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(found["field"])
        found["current"] = opts.get(b"name", b"").decode("latin-1")
        found["field"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if found["current"] == name and len(found["value"]) < 512:
            found["value"] += data[start:end]

    def on_part_end() -> None:
        if found["current"] == name:
            found["done"] = found["value"]
        found["current"] = None

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end})
    try:
        parser.write(body)
        parser.finalize()
    except Exception:  # noqa: BLE001 - a broken form has no token; the route reports the rest
        return None
    value = found.get("done")
    return value.decode("latin-1") if value is not None else None


class Csrf:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        cookie = cookies(scope).get(CSRF_COOKIE)
        state["csrf_cookie"] = cookie

        async def send_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and "csrf_new" in state:
                secure = "; Secure" if settings.get().secure_cookies else ""
                value = (f"{CSRF_COOKIE}={state['csrf_new']}; Path=/; HttpOnly; "
                         f"SameSite=Strict{secure}")
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", value.encode())]}
            await send(message)

        if scope["method"] not in UNSAFE:
            return await self.app(scope, receive, send_cookie)
        html = not scope["path"].startswith("/api/")
        origin = header(scope, b"origin")
        if origin is not None and not _same_origin(scope, origin):
            return await respond(send, 403, "Forespørselen kom fra et annet nettsted og er "
                                 "avvist (CSRF-vern)", html=html)
        if state.get("token"):  # an API client with its own key: no ambient credentials
            return await self.app(scope, receive, send_cookie)
        raw_ctype = header(scope, b"content-type") or ""
        ctype = raw_ctype.lower()  # for comparisons; the boundary keeps its case
        ambient = bool(cookie or state.get("user")
                       or (header(scope, b"authorization") or "").lower().startswith("basic"))
        if not html and not ambient:
            return await self.app(scope, receive, send_cookie)  # a script without cookies
        if not ctype.startswith(FORM_TYPES) and not html:
            return await self.app(scope, receive, send_cookie)  # JSON needs CORS preflight
        # read the body (bounded), find the token, then hand the same bytes on
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                return await respond(send, 413, "Skjemaet er for stort", html=html)
        submitted = header(scope, CSRF_HEADER.encode()) or form_field(bytes(body), raw_ctype,
                                                                      CSRF_FIELD)
        if not csrf_valid(cookie, submitted):
            return await respond(send, 403, "Skjemaet mangler gyldig sikkerhetsnøkkel (CSRF). "
                                 "Last siden på nytt og send skjemaet igjen.", html=html)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_cookie)
