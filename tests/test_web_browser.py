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
import urllib.parse
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


def outside_requests(context) -> list[str]:
    """Collects every request of a browser context that leaves the machine (the site is
    offline: no CDN, no fonts, no favicon from elsewhere)."""
    seen: list[str] = []

    def check(request) -> None:
        host = urllib.parse.urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host not in ("127.0.0.1", "localhost"):
            seen.append(request.url)
    context.on("request", check)
    return seen


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO",
                                  accept_downloads=True)
    outside = outside_requests(context)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not outside, f"requests that left the machine: {outside}"


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
    assert first.inner_text() == "Troms (Romsa, Tromssa)"
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


SCREENSHOTS = REPO / "build" / "screenshots"
WIDTHS = {1366: 900, 390: 844}


def page_types(base: str) -> dict[str, str]:
    """One address of every kind of page a user can open (the matching result is made by
    ``test_web_planner_browser``)."""
    entries = api_json(base, "/api/kunnskap?type=praksis")["results"]
    return {
        "kart": "/", "kart-fylker": "/?niva=fylke&i=innvandrere_per_1000",
        "kommune": "/kommune/4650", "kommune-samisk": "/kommune/5612", "fylke": "/fylke/56",
        "kommune-sammenligningsgruppe": "/kommune/4650?g_antall=8&g_samme_fylke=1"
                                        "&g_vekt_innvandrerandel=2#sammenligningsgruppe",
        "sammenlign": "/sammenlign?k=4650&k=4602&k=1826", "sok": "/sok?q=Aarborte",
        "indikatorer": "/indikatorer", "kunnskap": "/kunnskap",
        "kunnskap-oppforing": f"/kunnskap/{entries[0]['id']}", "api-docs": "/docs",
        "bosetting": "/bosetting?fylke=46", "bosetting-matching": "/bosetting/matching",
        "logg-inn": "/logg-inn", "oppdateringer": "/oppdateringer", "feil": "/kommune/9999",
    }


def test_every_page_type_offline_in_norwegian_at_desktop_and_phone_width(server, browser):
    """Screenshots of every page type at 1366 and 390 px (build/screenshots/, not
    committed); no request leaves the machine; lang="nb"; axe-core finds nothing serious
    anywhere and nothing at all on /docs; nothing wider than the phone's screen."""
    for width, height in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="nb-NO")
        outside = outside_requests(context)
        page = context.new_page()
        errors: list[str] = []

        def note(exc, errors: list[str] = errors) -> None:
            errors.append(str(exc))
        page.on("pageerror", note)
        out = SCREENSHOTS / str(width)
        out.mkdir(parents=True, exist_ok=True)
        for name, path in page_types(server).items():
            response = page.goto(server + path)
            assert response.status == (404 if name == "feil" else 200), name
            assert page.locator("html").get_attribute("lang") == "nb", name
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            if width == 390:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{name}: {scroll}px wide at {width}px"
            axe_check(page, f"{name}-{width}")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"
        assert not outside, f"requests that left the machine: {outside}"
    violations = json.loads((ARTIFACTS / "axe-api-docs-1366.json").read_text(encoding="utf-8"))
    assert violations == [], [v["id"] for v in violations]
    with urllib.request.urlopen(server + "/openapi.json", timeout=30) as r:
        assert r.status == 200
    try:
        urllib.request.urlopen(server + "/redoc", timeout=30)
        raise AssertionError("/redoc should not exist (it needs Google Fonts)")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


FINNMARK = ["Alta", "Berlevåg", "Båtsfjord", "Gamvik", "Hammerfest (Hámmerfeasta)", "Hasvik",
            "Karasjok (Kárášjohka)", "Kautokeino (Guovdageaidnu)", "Lebesby", "Loppa", "Måsøy",
            "Nesseby (Unjárga)", "Nordkapp", "Porsanger (Porsáŋgu, Porsanki)", "Sør-Varanger",
            "Tana (Deatnu)", "Vadsø", "Vardø"]


def test_client_side_sort_is_norwegian(server, page):
    page.goto(server + "/fylke/56")

    def names() -> list[str]:
        return [n.replace(" distrikt", "").strip() for n in
                page.locator("#kommunetabell tbody th").all_inner_texts()]
    assert names() == FINNMARK  # the server's order
    link = page.locator('#kommunetabell th[data-key="navn"] a')
    link.click()  # already ascending: the script turns it round without a page load
    assert names() == FINNMARK[::-1]
    assert page.url.endswith("retning=synkende#kommunetabell")
    link.click()
    assert names() == FINNMARK
    # by centrality, then back by name: the name sort is still Norwegian (Å, Ø last)
    page.locator('#kommunetabell th[data-key="sentralitet"] a').click()
    link.click()
    assert names() == FINNMARK


def test_server_order_equals_the_browsers_norwegian_collator(server, page):
    """Chromium's ICU (Intl.Collator('nb')) is the independent judge of bliatlas.collate."""
    page.goto(server + "/indikatorer")
    for level in ("kommune", "fylke"):
        rows = api_json(server, f"/api/regioner?niva={level}&sorter=navn")["regioner"]
        server_order = [r["norsk_navn"] for r in rows]
        shuffled = sorted(server_order, key=lambda n: n[::-1])
        browser_order = page.evaluate(
            "names => names.slice().sort(new Intl.Collator('nb').compare)", shuffled)
        assert browser_order == server_order, level
        assert len(server_order) == (357 if level == "kommune" else 15)
    words = ["Årdal", "Øygarden", "Askøy", "Alver", "Aarborte", "Ærø", "Đ", "D", "E",
             "Kárášjohka", "Karasjok", "Nord-Aurdal", "Nordkapp"]
    from bliatlas.collate import sorted_nb
    assert page.evaluate("w => w.slice().sort(new Intl.Collator('nb').compare)", words) \
        == sorted_nb(words)


def test_compare_finds_a_municipality_typed_by_its_sami_name(server, page):
    page.goto(server + "/sammenlign?k=4650")
    page.get_by_label("eller skriv navn, flere skilt med komma (norsk, samisk eller kvensk)").fill("Aarborte")
    page.click("button:has-text('Sammenlign')")
    page.wait_for_url("**k=Aarborte**")
    headers = page.locator("#sammenligning thead th").all_inner_texts()
    assert headers[2:4] == ["Gloppen", "Hattfjelldal (Aarborte)"]
    page.get_by_label("eller skriv navn, flere skilt med komma (norsk, samisk eller kvensk)").fill("Guovdageaidnu")
    page.click("button:has-text('Sammenlign')")
    page.wait_for_url("**k=Guovdageaidnu**")
    headers = page.locator("#sammenligning thead th").all_inner_texts()
    assert headers[2:5] == ["Gloppen", "Hattfjelldal (Aarborte)", "Kautokeino (Guovdageaidnu)"]


FONT_PX = """() => Array.from(document.querySelectorAll('svg.chart text, svg.map text')).map(t => {
    const svg = t.ownerSVGElement;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return {px: parseFloat(getComputedStyle(t).fontSize) * scale,
            h: t.getBoundingClientRect().height, text: t.textContent};
})"""


def test_chart_text_is_at_least_12_px_on_a_phone(server, browser):
    """At 390 px every text in a chart or map renders at ≥ 12 CSS px (font size × the
    SVG's scale), on a municipality page, a county page and the compare page."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    counts = {}
    for name, path in {"kommune": "/kommune/4650", "kommune-nesseby": "/kommune/5636",
                       "fylke": "/fylke/46",
                       "sammenlign": "/sammenlign?k=4650&k=4602&k=1826"}.items():
        page.goto(server + path)
        texts = page.evaluate(FONT_PX)
        small = [t for t in texts if t["px"] < 12]
        assert small == [], f"{name}: {small[:5]}"
        counts[name] = len(texts)
    context.close()
    assert counts["kommune"] > 50 and counts["sammenlign"] > 20, counts


def test_chart_downloads_as_png_in_the_browser(server, page, tmp_path):
    """The PNG button draws the chart's own SVG on a canvas (no request leaves the
    machine; the page fixture checks that) and downloads it."""
    page.goto(server + "/kommune/4650")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Bosettingstrakten 2024: PNG").click()
    path = tmp_path / "trakt.png"
    dl.value.save_as(path)
    assert dl.value.suggested_filename == "trakt.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == 800  # the 400-unit chart at twice its size
