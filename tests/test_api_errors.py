"""API-wide error handling: Norwegian messages and the right status codes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bliatlas import serving as deps
from bliatlas.api.app import create_app
from bliatlas.indicators.api import reset_cube


def test_invalid_body_is_a_norwegian_422(db_env):
    client = TestClient(create_app())
    r = client.post("/api/bosetting/plan", json={"total": "mange", "county": "46"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"].startswith("Ugyldig forespørsel")
    assert "felt 'total': forventet et heltall, fikk 'mange'" in body["error"]
    assert "NLOD" in body["source"]
    r = client.post("/api/bosetting/plan", json={"county": "46"})
    assert r.status_code == 422 and "felt 'total': mangler" in r.json()["error"]


def test_missing_database_is_503_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("BLI_DATABASE", str(tmp_path / "finnes-ikke.duckdb"))
    deps.reset()
    reset_cube()
    try:
        r = TestClient(create_app()).get("/api/regioner")
        assert r.status_code == 503
        assert "bli import" in r.json()["error"]
    finally:
        deps.reset()
        reset_cube()
