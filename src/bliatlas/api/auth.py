"""Access to the surfaces that take personal data, when the atlas is served to others.

With ``BLI_PUBLIC=1`` (``bli serve --public``) the matching pages and the matching API
(:data:`PROTECTED_PREFIXES`: cohort uploads with health and origin data) need either

* a login (``/logg-inn``) of a user in the users file (``BLI_USERS_FILE``, written by
  ``bli users add``; passwords stored as scrypt hashes with a random salt), which sets a
  signed session cookie, or
* an API token (``Authorization: Bearer …``) whose SHA-256 digest is listed in
  ``BLI_API_TOKENS`` (``bli users token`` makes one).

Everything else (map, municipality and county pages, reports, indicators, knowledge) stays
open. Without ``--public`` (a local server on one's own machine) nothing asks for a login.
How a real deployment puts ID-porten/OIDC in front instead is in ``docs/deployment.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from bliatlas import settings
from bliatlas.errors import UserError
from bliatlas.export import write_file
from bliatlas.serving import secret, sign, unsign  # noqa: F401 (re-exported)

PROTECTED_PREFIXES = ("/bosetting/matching", "/api/bosetting/match")
SESSION_COOKIE = "bli_okt"
MIN_PASSWORD = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def is_protected(path: str) -> bool:
    return any(path == p or path.startswith((p + "/", p + "."))
               for p in PROTECTED_PREFIXES)


# -- passwords ------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), from the standard library's scrypt KDF."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024,
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# -- the users file ---------------------------------------------------------------------
def read_users(path: Path | None = None) -> dict[str, str]:
    """User name → password hash from the users file (``name:hash`` per line)."""
    path = path or settings.get().users_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    users = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not _NAME.match(name) or not stored.startswith("scrypt$"):
            raise UserError(f"{path}, linje {n}: forventet navn:scrypt$…, laget av `bli users add`")
        users[name] = stored
    return users


def write_users(users: dict[str, str], path: Path | None = None) -> Path:
    path = path or settings.get().users_file
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Bli-atlas brukere (bli users add/remove); passord lagret som scrypt-hash"]
    lines += [f"{name}:{stored}" for name, stored in sorted(users.items())]
    return write_file(path, "\n".join(lines) + "\n", mode=0o600)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"brukernavn {name!r}: forventet 1–64 tegn av a–z, 0–9, . _ @ -")
    return name


def authenticate(name: str, password: str) -> bool:
    stored = read_users().get(name)
    if stored is None:
        verify_password(password, hash_password("x" * MIN_PASSWORD))  # same time either way
        return False
    return verify_password(password, stored)


# -- API tokens --------------------------------------------------------------------------
def new_token() -> tuple[str, str]:
    """A new API token and the SHA-256 digest to put in ``BLI_API_TOKENS``."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def token_ok(token: str) -> bool:
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    return any(hmac.compare_digest(digest, t) for t in settings.get().api_tokens)


# -- signed values: bliatlas.serving.sign / unsign ----------------------------------------
@dataclass(frozen=True)
class Session:
    user: str
    expires: int


def session_cookie(user: str) -> str:
    expires = int(time.time() + settings.get().session_hours * 3600)
    return sign(f"{user}|{expires}")


def read_session(cookie: str | None) -> Session | None:
    if not cookie:
        return None
    value = unsign(cookie)
    if value is None:
        return None
    user, _, expires = value.partition("|")
    if not expires.isdigit() or int(expires) < time.time():
        return None
    return Session(user, int(expires))


# -- login pages -------------------------------------------------------------------------
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this server (``/x``), never ``//host`` or ``http://…``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/bosetting/matching"
    return target


def _login_page(request: Request, neste: str, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    from bliatlas.web.templating import templates

    return templates.TemplateResponse(
        request, "logg_inn.html",
        {"title": "Logg inn", "neste": neste, "error": error, "public": settings.get().public,
         "user": request.scope.get("state", {}).get("user")},
        status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/logg-inn", response_class=HTMLResponse)
def login_form(request: Request, neste: str | None = None) -> HTMLResponse:
    return _login_page(request, _safe_next(neste))


@router.post("/logg-inn", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("brukernavn") or "").strip()
    password = str(form.get("passord") or "")
    target = _safe_next(str(form.get("neste") or ""))
    if not name or not password:
        return _login_page(request, target, "Skriv inn brukernavn og passord.", 400)
    from fastapi.concurrency import run_in_threadpool

    if not await run_in_threadpool(authenticate, name, password):
        return _login_page(request, target, "Feil brukernavn eller passord.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie(name), httponly=True, samesite="lax",
                        secure=settings.get().secure_cookies,
                        max_age=int(settings.get().session_hours * 3600))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/logg-ut")
def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
