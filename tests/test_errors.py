"""The one error hierarchy (``bliatlas.errors``): each kind's CLI exit code and HTTP status,
through ``bli`` and through the app's error handlers, and the cases the mapping settles (a
network timeout is a source error; a bad year is 422 on the page and in the API)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bliatlas import errors, serving, sync
from bliatlas.cli import main
from bliatlas.sources import ssb

# (error, exit code, HTTP status) as docs/architecture.md and bliatlas/errors.py state them
MAPPING = [
    (errors.UserError("ukjent kommunenummer '9999'"), 2, 400),
    (errors.NotFound("fant ikke region 9999"), 2, 404),
    (errors.InvalidParameter("ar: forventet et årstall, fikk 'tjue'"), 2, 422),
    (errors.TooLarge("for mange husholdninger"), 2, 413),
    (errors.Busy("køen er full", retry_after=7), 2, 429),
    (errors.InputError("fil.csv", "forventet et tall", row=3, column="verdi"), 2, 400),
    (errors.PublisherError("SSB: fikk ikke svar etter 5 forsøk (siste feil: tidsavbrudd)"),
     3, 502),
    (errors.Offline("Ingen nettverksforbindelse"), 3, 503),
    (errors.DatabaseUnavailable("databasen finnes ikke"), 2, 503),
    (errors.InternalError("uventet tilstand"), 1, 500),
]


@pytest.mark.parametrize("exc,code,status", MAPPING, ids=lambda v: type(v).__name__)
def test_cli_exit_code_per_kind(exc, code, status, monkeypatch, capsys):
    def command(args):
        raise exc

    monkeypatch.setattr(sync, "cmd_sync_ssb", command)
    assert main(["sync", "ssb", "11607"]) == code
    assert capsys.readouterr().err == f"bli: feil: {exc}\n"


@pytest.mark.parametrize("exc,code,status", MAPPING, ids=lambda v: type(v).__name__)
def test_http_status_per_kind(exc, code, status):
    app = FastAPI()
    serving.install_error_handlers(app)

    @app.get("/api/feil")
    def fail():
        raise exc

    r = TestClient(app).get("/api/feil")
    assert r.status_code == status
    assert r.json() == {"error": str(exc), "source": serving.SOURCE_NOTE}
    if isinstance(exc, errors.Busy):
        assert r.headers["retry-after"] == "7"


def test_an_error_outside_the_hierarchy_is_internal():
    assert errors.exit_code(ValueError("x")) == 1 and errors.http_status(KeyError("x")) == 500
    assert not issubclass(errors.SourceError, errors.UserError)
    assert issubclass(errors.DataFormatError, errors.UserError)


def test_network_timeout_is_a_source_error_not_bad_input(tmp_path, monkeypatch, capsys):
    def timeout(request):
        raise httpx.ReadTimeout("timed out", request=request)

    monkeypatch.setattr(ssb, "transport_factory", lambda: httpx.MockTransport(timeout))
    monkeypatch.setattr(ssb, "default_sleep", lambda s: None)
    rc = main(["--database", str(tmp_path / "bli.duckdb"), "sync", "ssb", "11607",
               "--region", "4650", "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 3
    assert "fikk ikke svar etter 5 forsøk (siste feil: tidsavbrudd)" in err
    assert not (tmp_path / "bli.duckdb").exists()


def test_same_bad_year_same_status_on_map_page_and_data_api(client):
    page = client.get("/kart", params={"i": "innvandrere_per_1000", "ar": "tjue"},
                      headers={"accept": "text/html"})
    api = client.get("/api/data/innvandrere_per_1000", params={"ar": "tjue"})
    assert page.status_code == api.status_code == 422
    assert "forventet et årstall" in page.text and "tjue" in page.text
    assert "forventet et årstall" in api.json()["error"]
