"""Reports through the public surfaces: `bli report` and GET /api/rapport/...; errors."""

from __future__ import annotations

import pytest
from reports_html import parse

from bliatlas.cli import main
from bliatlas.reports import api as reports_api


def test_api_html_numbers_equal_the_profile_api(client):
    for code, kind in (("4650", "kommune"), ("15", "fylke")):
        res = client.get(f"/api/rapport/{kind}/{code}.html")
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/html")
        assert f'filename="kunnskapsgrunnlag-{code}-' in res.headers["content-disposition"]
        profile = client.get(f"/api/profil/{code}").json()
        spans = parse(res.text).spans
        compared = 0
        for item in profile["indikatorer"]:
            if item["status"] != "ok":
                continue
            hits = [s for s in spans if s.get("data-indicator") == item["id"]
                    and s["data-region"] == code and s.get("data-year") == str(item["ar"])
                    and s["data-level"] == kind]
            if not hits and item["id"] in ("bofasthet_fylke",) or (
                    kind == "kommune" and item["id"].startswith("sysselsatte")):
                continue
            assert hits, (code, item["id"])
            for s in hits:
                assert float(s["data-value"]) == pytest.approx(item["verdi"], rel=1e-12)
                assert s["text"] == item["verdi_tekst"]
            compared += 1
        assert compared >= 10
        # The summary sentences are the profile's sentences.
        for sentence in profile["setninger"]:
            assert sentence.replace("'", "&#39;") in res.text or sentence in res.text


def test_api_pdf_download(client):
    res = client.get("/api/rapport/fylke/03.pdf")
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/pdf"
    assert res.headers["content-disposition"] == (
        'attachment; filename="kunnskapsgrunnlag-03-oslo.pdf"')
    assert res.content.startswith(b"%PDF-")
    # Cached: the second request returns the same document.
    assert client.get("/api/rapport/fylke/03.pdf").content == res.content
    assert any(k[1:] == ("fylke", "03", "pdf", False) for k in reports_api._cache)


@pytest.mark.parametrize("path,status,words", [
    ("/api/rapport/kommune/9999.html", 404, "ukjent region"),
    ("/api/rapport/fylke/4650.pdf", 404, "er en kommune"),
    ("/api/rapport/kommune/46.html", 404, "er et fylke"),
    ("/api/rapport/kommune/4650.docx", 400, "KODE.html eller KODE.pdf"),
    ("/api/rapport/kommune/4650", 400, "KODE.html eller KODE.pdf"),
])
def test_api_errors(client, path, status, words):
    res = client.get(path)
    assert res.status_code == status
    assert words in res.json()["error"]


def test_cli_writes_html(imported_db, tmp_path, capsys):
    out = tmp_path / "gloppen.html"
    assert main(["--database", str(imported_db), "report", "kommune", "4650",
                 "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<h1>Gloppen kommune</h1>" in html
    assert "Skrev" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_cli_format_from_suffix_and_stdout(imported_db, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--database", str(imported_db), "report", "fylke", "03"]) == 0
    assert (tmp_path / "kunnskapsgrunnlag-03-oslo.html").exists()
    capsys.readouterr()
    assert main(["--database", str(imported_db), "report", "fylke", "03", "--out", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv,words", [
    (["report", "kommune", "9999"], "ukjent region '9999'"),
    (["report", "fylke", "4650"], "4650 er en kommune"),
    (["report", "kommune", "4650", "--out", "/nonexistent-dir/x.html"], "finnes ikke"),
])
def test_cli_errors_write_nothing(imported_db, tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(["--database", str(imported_db), *argv]) == 2
    assert words in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_database(tmp_path, capsys):
    assert main(["--database", str(tmp_path / "none.duckdb"), "report", "kommune",
                 "4650"]) == 2
    assert "databasen finnes ikke" in capsys.readouterr().err


def test_api_short_report(client):
    res = client.get("/api/rapport/kommune/4650.html?kort=1")
    assert res.status_code == 200
    assert res.headers["content-disposition"] == (
        'inline; filename="kort-kunnskapsgrunnlag-4650-gloppen.html"')
    for heading in ("Nøkkeltall", "Det som skiller seg ut", "Hva andre steder har gjort",
                    "Spørsmål til planarbeidet", "Kilder og metode"):
        assert f"<h2>{heading}</h2>" in res.text
    full = client.get("/api/rapport/kommune/4650.html?kort=0").text
    assert "<h2>Det som skiller seg ut</h2>" not in full
    assert "<h2>Definisjoner</h2>" in full
    # The download buttons on the atlas pages offer it.
    assert 'href="/api/rapport/kommune/4650.pdf?kort=1"' in client.get("/kommune/4650").text
    assert 'href="/api/rapport/fylke/46.pdf?kort=1"' in client.get("/fylke/46").text


@pytest.mark.parametrize("path,status,words", [
    ("/api/rapport/kommune/4650.html?kort=ja", 400, "forventet 1 (kort rapport) eller 0"),
    ("/api/rapport/fylke/4650.html?kort=1", 404, "er en kommune"),
])
def test_api_short_errors(client, path, status, words):
    res = client.get(path)
    assert res.status_code == status
    assert words in res.json()["error"]


def test_cli_short_default_name_and_errors(imported_db, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--database", str(imported_db), "report", "fylke", "03", "--short"]) == 0
    written = tmp_path / "kort-kunnskapsgrunnlag-03-oslo.html"
    assert "kort kunnskapsgrunnlag for Oslo" in capsys.readouterr().out
    assert "<h2>Nøkkeltall</h2>" in written.read_text(encoding="utf-8")
    written.unlink()
    assert main(["--database", str(imported_db), "report", "fylke", "4650", "--short"]) == 2
    assert "4650 er en kommune" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
