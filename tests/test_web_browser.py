"""End-to-end: the web atlas in headless Chromium, with axe-core accessibility checks.

Uvicorn serves the app in a subprocess on 127.0.0.1 over the imported test database;
Playwright drives Debian's ``/usr/bin/chromium`` (never ``playwright install``). Screenshots
of every page type go to ``test-artifacts/`` (gitignored). axe-core comes from npm
(``npm ci`` in ``scripts/setup.sh``) and is injected into each page.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

# scripts/setup.sh installs both; a missing browser is a broken set-up, not a reason to skip.
import playwright.sync_api as playwright_sync

if not CHROMIUM.exists():
    pytest.fail("Debian chromium missing: run scripts/setup.sh (apt-get install chromium)",
                pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(imported_db):
    port = _free_port()
    env = {**os.environ, "BLI_DATABASE": str(imported_db)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bliatlas.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The first page builds the cube and the map geometry; wait for it.
                with urllib.request.urlopen(base + "/", timeout=30) as r:
                    assert r.status == 200
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"uvicorn did not start:\n{out}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO",
                                  accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe_check(page, name: str) -> None:
    """No serious or critical axe-core violations (WCAG 2.0/2.1 A and AA rules)."""
    assert AXE.exists(), f"{AXE} missing: run `npm ci` (scripts/setup.sh)"
    # through the DevTools protocol: the pages' Content-Security-Policy (no inline script)
    # stays in force, so a page that needs inline script would fail here too
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;window.axe = axe;")
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(
        json.dumps(result["violations"], ensure_ascii=False, indent=1), encoding="utf-8")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)
    assert result["passes"], "axe ran no checks"


def api_json(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.loads(r.read().decode("utf-8"))


def test_user_journey_map_municipality_csv_compare_search(server, page, tmp_path):
    # 1. Open the map.
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.locator("svg.map a").count() == 357
    shot(page, "01-kart")
    axe_check(page, "kart")

    # 2. Switch indicator, then year, with the GET form (works without JS).
    page.select_option("#f-i", "anmodning")
    page.click("text=Vis kartet")
    page.wait_for_url("**i=anmodning**")
    page.select_option("#f-ar", "2020")
    page.click("text=Vis kartet")
    page.wait_for_url("**ar=2020**")
    assert "Anmodning om bosetting" in page.locator("h1").inner_text()
    assert "2020" in page.locator("h1").inner_text()
    hatched = page.locator('svg.map path[fill="url(#skjermet-kart)"]').count()
    api = api_json(server, "/api/data/anmodning?niva=kommune&ar=2020")
    assert hatched == sum(row["status"] == "suppressed" for row in api["verdier"]) > 0
    assert "Skjermet: færre enn 5" in page.locator(".legend").inner_text()
    shot(page, "02-kart-anmodning-2020")

    # Tooltip on hover and on keyboard focus shows the municipality and its value.
    gloppen = page.locator('svg.map a[href="/kommune/4650"]')
    expected = next(r for r in api["verdier"] if r["kode"] == "4650")
    gloppen.focus()
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    assert tip.inner_text() == f"Gloppen: {expected['verdi_tekst']}" + (
        f" {expected['enhet']}" if expected["status"] == "ok" else "")
    page.locator('svg.map a[href="/kommune/5501"]').hover()
    assert tip.inner_text().startswith("Tromsø:")

    # 3. Open a district municipality from the map with the keyboard.
    gloppen.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/kommune/4650")
    assert page.locator("h1").inner_text().startswith("Gloppen")
    assert "distriktskommune" in page.locator(".facts").inner_text()
    profile = api_json(server, "/api/profil/4650")
    for item in profile["indikatorer"][:8]:
        cell = page.locator(f'#nokkeltall td[data-indicator="{item["id"]}"]')
        assert cell.inner_text() == item["verdi_tekst"]
    shot(page, "03-kommune-gloppen")
    axe_check(page, "kommune")

    # 4. Download the CSV of everything on the page.
    with page.expect_download() as dl:
        page.click("text=Last ned alt på siden (CSV)")
    path = tmp_path / "gloppen.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert text.startswith("seksjon;kode;kommune;indikator;navn;år;verdi")
    assert "bosettingstrakt;4650;Gloppen;anmodning" in text

    # 5. Compare three municipalities via the form, starting from Gloppen's page.
    page.click("text=Sammenlign med andre kommuner")
    page.wait_for_url("**/sammenlign?k=4650")
    page.select_option("#k-ny", "4602")
    page.click("button:has-text('Sammenlign')")
    page.select_option("#k-ny", "1820")
    page.click("button:has-text('Sammenlign')")
    page.wait_for_url("**k=1820**")
    headers = page.locator("#sammenligning thead th").all_inner_texts()
    assert headers[2:5] == ["Gloppen", "Kinn", "Alstahaug"]
    data = api_json(server, "/api/data/bosatte_per_1000?niva=kommune")
    by_code = {row["kode"]: row["verdi_tekst"] for row in data["verdier"]}
    for code in ("4650", "4602", "1820"):
        cell = page.locator(f'td[data-code="{code}"][data-indicator="bosatte_per_1000"]')
        assert cell.inner_text() == by_code[code]
    assert page.locator("svg.chart").count() >= 4
    shot(page, "04-sammenlign")
    axe_check(page, "sammenlign")

    # 6. Search "Romsa" from the header and land on Troms county.
    page.fill("#toppsok", "Romsa")
    page.press("#toppsok", "Enter")
    page.wait_for_url("**/sok?q=Romsa")
    first = page.locator("#h-steder + ul a").first
    assert first.inner_text() == "Troms - Romsa - Tromssa"
    shot(page, "05-sok-romsa")
    axe_check(page, "sok")
    first.click()
    page.wait_for_url("**/fylke/55")
    assert page.locator("#kommunetabell tbody tr").count() == 21
    shot(page, "06-fylke-troms")
    axe_check(page, "fylke")


def test_county_table_sorts_with_and_without_js(server, browser):
    api = api_json(server, "/api/data/bosatte_per_1000?niva=kommune&ar=2024")
    values = {row["navn"]: row["verdi"] for row in api["verdier"] if row["kode"][:2] == "46"}
    for js in (True, False):
        context = browser.new_context(java_script_enabled=js)
        page = context.new_page()
        page.goto(server + "/fylke/46")
        page.click('#kommunetabell th[data-key="bosatte_per_1000"] a')
        if not js:
            page.wait_for_url("**sort=bosatte_per_1000**")
        names = [n.replace(" distrikt", "").strip() for n in
                 page.locator("#kommunetabell tbody th").all_inner_texts()]
        shown = [values[n] for n in names if values.get(n) is not None]
        assert shown == sorted(shown), f"javascript={js}"
        th = page.locator('#kommunetabell th[data-key="bosatte_per_1000"]')
        assert th.get_attribute("aria-sort") == "ascending"
        context.close()


def test_every_page_type_passes_axe_and_fits_a_phone(server, browser):
    pages = {
        "indikatorer": "/indikatorer",
        "kunnskap": "/kunnskap?type=praksis",
        "feil": "/kommune/9999",
        "kart-fylker": "/?niva=fylke&i=innvandrere_per_1000",
    }
    entries = api_json(server, "/api/kunnskap?type=praksis")["results"]
    pages["kunnskap-oppforing"] = f"/kunnskap/{entries[0]['id']}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    for name, path in pages.items():
        page.goto(server + path)
        shot(page, f"07-{name}")
        axe_check(page, name)
    context.close()
    # 360 px wide: nothing wider than the screen except inside scrollable table regions.
    phone = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1)
    page = phone.new_page()
    for name, path in {"kart": "/", "kommune": "/kommune/4650", "fylke": "/fylke/46",
                       "sammenlign": "/sammenlign?k=4650&k=4602&k=1820",
                       "kunnskap": "/kunnskap"}.items():
        page.goto(server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{name}: page is {width}px wide at 360px"
        shot(page, f"08-mobil-{name}")
    axe_check(page, "mobil-kunnskap")
    phone.close()


def test_keyboard_skip_link_and_visible_focus(server, page):
    page.goto(server + "/kommune/4650")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.bounding_box()["x"] >= 0  # visible when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "innhold"
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
