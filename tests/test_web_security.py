"""Browser hardening and access: security headers, trusted hosts, CSRF, Norwegian errors,
and logins/API tokens for the personal-data surfaces when served with --public."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bliatlas.api import auth
from bliatlas.cli import main

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "bliatlas" / "web" / "templates"


@pytest.fixture()
def bare(imported_db, monkeypatch):
    """A client without the CSRF token the shared fixture sends (like a foreign site)."""
    from conftest import reset_app_caches

    from bliatlas.api.app import create_app

    monkeypatch.setenv("BLI_DATABASE", str(imported_db))
    reset_app_caches()
    with TestClient(create_app()) as c:
        yield c
    reset_app_caches()


def _token(client, url="/bosetting/matching") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(url).text).group(1)


def test_every_page_has_the_security_headers(client):
    for url in ("/", "/kommune/4650", "/api/regioner", "/static/atlas.css", "/finnes-ikke"):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"


def test_templates_have_no_inline_script_or_style():
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script>" not in text and not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "style=" not in text and "<style" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path  # no onclick= etc.


def test_report_html_gets_its_own_strict_policy(client):
    r = client.get("/api/rapport/kommune/4650.html")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'") and "script" not in csp


def test_unknown_host_is_refused_and_never_echoed(bare):
    r = bare.get("/kommune/4650/", headers={"host": "evil.test"}, follow_redirects=False)
    assert r.status_code == 400 and "evil.test" not in r.text
    assert "Host" in r.json()["error"]
    r = bare.get("/kommune/4650/", follow_redirects=False)  # a known host: relative redirect
    assert r.status_code == 307 and r.headers["location"] == "/kommune/4650"


def test_norwegian_404_and_405(bare):
    r = bare.get("/finnes-ikke")
    assert r.status_code == 404 and r.json()["error"] == "Fant ikke adressen /finnes-ikke"
    r = bare.get("/finnes-ikke", headers={"accept": "text/html"})
    assert r.status_code == 404 and "Fant ikke adressen /finnes-ikke" in r.text
    assert r.text.lstrip().startswith("<!doctype html>")
    r = bare.delete("/api/regioner")
    assert r.status_code == 405 and r.json()["error"] == "Metoden DELETE er ikke tillatt for " \
        "/api/regioner"


def test_post_forms_need_the_csrf_token(bare):
    form = {"kilde": "syntetisk", "personer": "40", "fylke": "46"}
    r = bare.post("/bosetting/matching", data=form)
    assert r.status_code == 403 and "sikkerhetsnøkkel (CSRF)" in r.text
    token = _token(bare)
    r = bare.post("/bosetting/matching", data={**form, "csrf": "x" + token})
    assert r.status_code == 403
    # the form's own token in the (multipart) body passes, and the run is made
    r = bare.post("/bosetting/matching", data={**form, "csrf": token},
                  files={"kohort": ("", b"", "text/csv")})
    assert r.status_code == 200 and "/bosetting/matching/" in str(r.url)
    run = str(r.url).rsplit("/", 1)[-1]
    r = bare.post(f"/bosetting/matching/{run}/endre", data={"handling": "fjern:las:0:0"})
    assert r.status_code == 403
    r = bare.post(f"/bosetting/matching/{run}/endre",
                  data={"handling": "fjern:las:0:0", "csrf": token})
    assert r.status_code != 403 and "sikkerhetsnøkkel" not in r.text  # the route answered


def test_token_in_a_browser_multipart_form(bare):
    """Browsers send mixed-case boundaries (WebKitFormBoundary…); the token must be found."""
    token = _token(bare)
    b = "----WebKitFormBoundary5AeLrhdKUh80Zw2Z"
    body = "".join(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in (("csrf", token), ("kilde", "syntetisk"), ("personer", "30"),
                                ("fylke", "15")))
    body += (f'--{b}\r\nContent-Disposition: form-data; name="kohort"; filename=""\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n\r\n--{b}--\r\n")
    r = bare.post("/bosetting/matching", content=body.encode(),
                  headers={"content-type": f"multipart/form-data; boundary={b}"})
    assert r.status_code == 200 and "/bosetting/matching/" in str(r.url)


def test_the_forms_carry_the_token(client):
    page = client.get("/bosetting/matching").text
    for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", page, re.DOTALL):
        assert 'name="csrf"' in form


def test_cross_origin_post_is_refused(bare):
    token = _token(bare)
    r = bare.post("/bosetting/matching", data={"kilde": "syntetisk", "personer": "40",
                                               "csrf": token},
                  headers={"origin": "http://evil.test"})
    assert r.status_code == 403 and "annet nettsted" in r.text
    r = bare.post("/api/bosetting/plan", json={"total": 10, "county": "46"},
                  headers={"origin": "http://evil.test"})
    assert r.status_code == 403


def test_api_scripts_without_cookies_need_no_token(bare):
    r = bare.post("/api/bosetting/plan", json={"total": 100, "county": "46"})
    assert r.status_code == 200


# -- access with --public ---------------------------------------------------------------
def test_password_hashes_are_salted_scrypt():
    a, b = auth.hash_password("riktig hest batteri"), auth.hash_password("riktig hest batteri")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert auth.verify_password("riktig hest batteri", a)
    assert not auth.verify_password("feil hest batteri", a)


@pytest.fixture()
def public(imported_db, tmp_path, monkeypatch, capsys):
    users = tmp_path / "brukere.txt"
    token, digest = auth.new_token()
    monkeypatch.setenv("BLI_USERS_FILE", str(users))
    monkeypatch.setenv("BLI_API_TOKENS", digest)
    monkeypatch.setenv("BLI_PUBLIC", "1")
    monkeypatch.setenv("BLI_SECURE_COOKIES", "0")  # TestClient speaks http
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("et langt passord 123\n"))
    assert main(["users", "add", "kari", "--password-stdin"]) == 0
    assert "La til brukeren kari" in capsys.readouterr().out
    assert "kari:scrypt$" in users.read_text() and "et langt passord" not in users.read_text()
    from conftest import reset_app_caches

    from bliatlas.api.app import create_app

    monkeypatch.setenv("BLI_DATABASE", str(imported_db))
    reset_app_caches()
    with TestClient(create_app()) as c:
        yield c, token
    reset_app_caches()


def test_public_server_keeps_the_atlas_open_and_protects_matching(public):
    c, _ = public
    for url in ("/", "/kommune/4650", "/api/profil/4650", "/bosetting", "/sok?q=alta"):
        assert c.get(url).status_code == 200, url
    r = c.get("/bosetting/matching", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/logg-inn?neste=%2Fbosetting%2Fmatching"
    r = c.post("/api/bosetting/match", files={"kohort": ("k.csv", b"x", "text/csv")})
    assert r.status_code == 401 and "Innlogging kreves" in r.json()["error"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert c.get("/api/bosetting/match/abc.csv").status_code == 401


def test_login_with_password(public):
    c, _ = public
    token = _token(c, "/logg-inn")
    r = c.post("/logg-inn", data={"brukernavn": "kari", "passord": "feil passord 12345",
                                  "csrf": token})
    assert r.status_code == 401 and "Feil brukernavn eller passord" in r.text
    r = c.post("/logg-inn", data={"brukernavn": "kari", "passord": "et langt passord 123",
                                  "neste": "//evil.test/x", "csrf": token},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/bosetting/matching"
    assert "HttpOnly" in r.headers["set-cookie"]
    assert c.get("/bosetting/matching").status_code == 200
    r = c.post("/logg-ut", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    c.cookies.delete(auth.SESSION_COOKIE)
    assert c.get("/bosetting/matching", follow_redirects=False).status_code in (303, 401)


def test_api_token(public):
    c, token = public
    r = c.get("/api/bosetting/match/finnes-ikke.csv", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 404  # through the door; the run just does not exist
    r = c.get("/api/bosetting/match/finnes-ikke.csv", headers={"authorization": "Bearer feil"})
    assert r.status_code == 401 and "Ugyldig API-nøkkel" in r.json()["error"]


def test_serve_public_refuses_without_users(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BLI_USERS_FILE", str(tmp_path / "ingen.txt"))
    monkeypatch.delenv("BLI_API_TOKENS", raising=False)
    assert main(["serve", "--public"]) == 2
    assert "bli users add" in capsys.readouterr().err


def test_bad_settings_are_named(monkeypatch, capsys):
    monkeypatch.setenv("BLI_MATCHING_JOBS", "mange")
    assert main(["serve"]) == 2
    assert "miljøvariabelen BLI_MATCHING_JOBS: forventet et heltall" in capsys.readouterr().err


def test_api_docs_page_works_under_the_policy(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert "cdn." not in r.text and "<script>" not in r.text
    spec = client.get("/openapi.json").json()
    for path in spec["paths"]:
        assert f"<code>{path}</code>" in r.text
