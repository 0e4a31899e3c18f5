"""SSB PxWebApi client: request shape, disk cache, retries, rate limit, cell-limit splitting.

Everything runs against ``tests/ssb_fake.py`` through ``httpx.MockTransport``; no test
touches the network.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest
from ssb_fake import FakeClock, FakeSsb, load_fixture

from bliatlas.errors import NotFound, UserError
from bliatlas.sources import ssb
from bliatlas.sources.jsonstat import parse_jsonstat
from bliatlas.sources.records import SUPPRESSED
from bliatlas.sources.ssb import (
    MAX_CELLS,
    RATE_LIMIT,
    RATE_PERIOD,
    RateLimiter,
    SsbApiError,
    SsbClient,
    fetch_parsed,
    split_selection,
)


@pytest.fixture(autouse=True)
def allow_test_fixtures(monkeypatch):
    """Our fixtures are marked as test data; only tests may parse them."""
    monkeypatch.setenv("BLI_ALLOW_TEST_DATA", "1")


def make_client(fake: FakeSsb, tmp_path, clock: FakeClock | None = None, **kw) -> SsbClient:
    clock = clock or FakeClock()
    return SsbClient(
        transport=fake.transport,
        cache_dir=tmp_path / "cache",
        clock=clock,
        sleep=clock.sleep,
        **kw,
    )


def test_documented_limits():
    assert (MAX_CELLS, RATE_LIMIT, RATE_PERIOD) == (800_000, 30, 60.0)


def test_v0_metadata_then_post_with_documented_body(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    with make_client(fake, tmp_path) as client:
        result = client.fetch("11607", {"Region": ["4650", "4601"], "Tid": ["2023"]})
    get, post = fake.requests
    assert (get.method, str(get.url)) == ("GET", "https://data.ssb.no/api/v0/no/table/11607")
    assert (post.method, str(post.url)) == ("POST", "https://data.ssb.no/api/v0/no/table/11607")
    assert json.loads(post.content) == {
        "query": [
            {"code": "Region", "selection": {"filter": "item", "values": ["4650", "4601"]}},
            {"code": "Alder", "selection": {"filter": "item", "values": ["15-74"]}},
            {"code": "Kjonn", "selection": {"filter": "item", "values": ["1", "2"]}},
            {"code": "Landbakgrunn", "selection": {"filter": "item", "values": ["ddd", "eee"]}},
            {"code": "ContentsCode", "selection": {"filter": "item", "values": ["Sysselsatte2"]}},
            {"code": "Tid", "selection": {"filter": "item", "values": ["2023"]}},
        ],
        "response": {"format": "json-stat2"},
    }
    assert result.cells == 2 * 1 * 2 * 2 * 1 * 1
    assert (result.requests, result.cache_hits, len(result.documents)) == (2, 0, 1)
    assert result.documents[0]["size"] == [2, 1, 2, 2, 1, 1]


def test_v2_urls_and_get_parameters(tmp_path):
    fake = FakeSsb(load_fixture("13628.json"))
    with make_client(fake, tmp_path, api="v2") as client:
        client.fetch("13628", {"Region": ["4001"], "Tid": ["2017-2023"]})
    meta, data = fake.requests
    assert str(meta.url) == "https://data.ssb.no/api/pxwebapi/v2/tables/13628/metadata?lang=no"
    # PxWebApi v2: the selection travels in the URL as valueCodes[VARIABLE]
    assert data.method == "GET"
    assert data.url.raw_path.decode() == (
        "/api/pxwebapi/v2/tables/13628/data?lang=no&outputFormat=json-stat2"
        "&valueCodes[Region]=4001&valueCodes[FullforingVGO]=1a,2a,4b"
        "&valueCodes[UtdProgram]=00&valueCodes[Kjonn]=0&valueCodes[ContentsCode]=Prosent"
        "&valueCodes[Tid]=2017-2023"
    )


def test_v2_long_selection_goes_as_post_body(tmp_path):
    fake = FakeSsb(load_fixture("13628.json"))
    with make_client(fake, tmp_path, api="v2") as client:
        meta = client.metadata("13628")
        query = client.build_query(meta, {"Region": ["4001"], "Tid": ["2017-2023"]})
        region = query.selections["Region"]
        long = ssb.VarSelection("Region", region.values * 400)
        query.selections["Region"] = long
        req = client.data_request(query)
    assert req.method == "POST" and len(req.url) < 200
    assert req.body["selection"][0] == {"variableCode": "Region",
                                        "valueCodes": ["4001"] * 400}
    assert req.body["selection"][1] == {
        "variableCode": "FullforingVGO", "valueCodes": ["1a", "2a", "4b"]
    }


def test_eliminable_variables_left_out_are_not_requested(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"), elimination={"Kjonn": True, "Region": True})
    with make_client(fake, tmp_path) as client:
        meta = client.metadata("11607")
        resolved = client.resolve_selection(meta, {"Region": ["4601"]})
    assert list(resolved) == ["Region", "Alder", "Landbakgrunn", "ContentsCode", "Tid"]
    assert resolved["Tid"] == ["2022", "2023"]


def test_second_identical_fetch_is_served_from_disk_cache(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    with make_client(fake, tmp_path) as client:
        first = client.fetch("11607", {"Region": ["4650"]})
        n = len(fake.requests)
        second = client.fetch("11607", {"Region": ["4650"]})
        assert len(fake.requests) == n == 2
        assert (second.requests, second.cache_hits) == (0, 2)
        assert second.documents == first.documents
        assert second.content_sha256 == first.content_sha256
        # another selection needs a data request, but the metadata is cached
        client.fetch("11607", {"Region": ["4601"]})
        assert len(fake.requests) == 3 and fake.requests[-1].method == "POST"
    # a new client (another run of `bli sync ssb`) reads the same cache directory
    with make_client(fake, tmp_path) as again:
        again.fetch("11607", {"Region": ["4650"]})
    assert len(fake.requests) == 3
    assert len(list((tmp_path / "cache").glob("11607-*.json"))) == 3


def test_cache_older_than_max_age_is_refetched(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    wall = [1_000_000.0]
    with make_client(fake, tmp_path, max_age=3600, now=lambda: wall[0]) as client:
        client.fetch("11607", {"Region": ["4650"]})
        for f in (tmp_path / "cache").glob("*.json"):
            os.utime(f, (wall[0] - 3599, wall[0] - 3599))
        client.fetch("11607", {"Region": ["4650"]})
        assert len(fake.requests) == 2
        for f in (tmp_path / "cache").glob("*.json"):
            os.utime(f, (wall[0] - 3601, wall[0] - 3601))
        client.fetch("11607", {"Region": ["4650"]})
        assert len(fake.requests) == 4


def test_damaged_cache_file_is_fetched_again(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    with make_client(fake, tmp_path) as client:
        client.fetch("11607", {"Region": ["4650"]})
        for f in (tmp_path / "cache").glob("11607-data-*.json"):
            f.write_text("{trunc", encoding="utf-8")
        result = client.fetch("11607", {"Region": ["4650"]})
    assert (result.requests, result.cache_hits) == (1, 1)


def test_429_then_200_retries_after_backoff(tmp_path):
    clock = FakeClock()
    fake = FakeSsb(load_fixture("11607.json"), script=[429])
    with make_client(fake, tmp_path, clock=clock, backoff=2.0) as client:
        meta = client.metadata("11607")
    assert meta.region_variable.code == "Region"
    assert [r.method for r in fake.requests] == ["GET", "GET"]
    assert clock.sleeps == [2.0]
    assert client.requests == 2


def test_retry_after_header_wins_when_longer(tmp_path):
    clock = FakeClock()
    fake = FakeSsb(load_fixture("11607.json"), script=[(429, {"Retry-After": "30"}), 503])
    with make_client(fake, tmp_path, clock=clock, backoff=1.0) as client:
        client.metadata("11607")
    assert clock.sleeps == [30.0, 2.0]


def test_timeouts_and_5xx_back_off_exponentially_then_give_up(tmp_path):
    clock = FakeClock()
    script = [httpx.ReadTimeout("slow"), 502, httpx.ConnectError("down"), 500]
    fake = FakeSsb(load_fixture("11607.json"), script=script)
    client = make_client(fake, tmp_path, clock=clock, backoff=1.0, max_retries=3)
    with client, pytest.raises(SsbApiError) as err:
        client.metadata("11607")
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert "etter 4 forsøk" in str(err.value) and "HTTP 500" in str(err.value)
    assert not list((tmp_path / "cache").glob("*.json"))


def test_refusals_are_not_retried(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"), script=[404])
    with make_client(fake, tmp_path) as client, pytest.raises(NotFound, match="tabell 11607"):
        client.metadata("11607")
    fake = FakeSsb(load_fixture("11607.json"), script=[400])
    with make_client(fake, tmp_path) as client, pytest.raises(SsbApiError, match="HTTP 400"):
        client.metadata("11607")
    assert len(fake.requests) == 1


def test_rate_limiter_sliding_window():
    clock = FakeClock()
    limiter = RateLimiter(3, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
        clock.t += 5
    assert clock.sleeps == []
    limiter.acquire()                # 15 s after the first call: waits until it leaves
    assert clock.sleeps == [45.0]
    limiter.acquire()                # second call was at +5 s → wait 5 s more
    assert clock.sleeps == [45.0, 5.0]


def test_client_holds_thirty_requests_per_minute(tmp_path):
    clock = FakeClock()
    fake = FakeSsb(load_fixture("11607.json"))
    with make_client(fake, tmp_path, clock=clock, max_cells=1) as client:
        result = client.fetch("11607", {})      # 32 cells, one per query → 33 requests
    assert result.requests == 33 and len(result.documents) == 32
    # 30 requests go out at once; the 31st waits until the first leaves the 60 s window
    assert clock.sleeps == [60.0]
    assert client.limiter.waited == 60.0


def test_selection_larger_than_cell_limit_is_split_and_merged(tmp_path):
    doc = load_fixture("11607.json")
    whole = parse_jsonstat(doc, "SSB-tabell 11607")
    fake = FakeSsb(doc, max_cells=5)
    with make_client(fake, tmp_path, max_cells=5) as client:
        parsed, result = fetch_parsed(client, "11607", {})
    assert len(result.queries) > 1
    for body in fake.data_bodies:
        n_cells = 1
        for q in body["query"]:
            n_cells *= len(q["selection"]["values"])
        assert n_cells <= 5

    def key(o):
        return (o.region_code, o.year, o.measure, tuple(sorted(o.dims.items())), o.value, o.status)

    assert sorted(map(key, parsed.observations)) == sorted(map(key, whole.observations))
    assert sum(o.status == SUPPRESSED for o in parsed.observations) == 1


def test_split_selection_covers_every_cell_once():
    sel = {"Region": [f"{i:04d}" for i in range(10)], "Kjonn": ["1", "2"], "Tid": ["2022", "2023"]}
    parts = split_selection(sel, max_cells=7)
    cells = [
        (r, k, t) for p in parts for r in p["Region"] for k in p["Kjonn"] for t in p["Tid"]
    ]
    assert len(cells) == len(set(cells)) == 40
    assert all(len(p["Region"]) * len(p["Kjonn"]) * len(p["Tid"]) <= 7 for p in parts)
    assert split_selection(sel, max_cells=40) == [sel]


def test_unknown_codes_and_variables_are_named(tmp_path):
    fake = FakeSsb(load_fixture("11607.json"))
    with make_client(fake, tmp_path) as client:
        with pytest.raises(UserError, match=r"variabel Region \(region\): ukjent kode 9999"):
            client.fetch("11607", {"Region": ["9999"]})
        with pytest.raises(UserError, match="ingen variabel 'Botid'"):
            client.fetch("11607", {"Botid": ["1"]})
    with pytest.raises(UserError, match="fem sifre"):
        SsbClient(cache_dir=tmp_path).metadata("116")


def test_transport_factory_is_used_when_no_transport_given(tmp_path, monkeypatch):
    from bliatlas.sources import ssb

    fake = FakeSsb(load_fixture("09817.json"))
    monkeypatch.setattr(ssb, "transport_factory", fake.factory())
    with SsbClient(cache_dir=tmp_path) as client:
        meta = client.metadata("09817")
    assert [v.code for v in meta.variables] == [
        "Region", "InnvandrKat", "Landbakgrunn", "ContentsCode", "Tid"
    ]
    assert meta.time_variable.code == "Tid"
    assert len(fake.requests) == 1


def test_region_patterns_and_prefixed_codes(tmp_path):
    doc = load_fixture("13628.json")
    fake = FakeSsb(doc)
    with make_client(fake, tmp_path) as client:
        meta = client.metadata("13628")
        got = client.resolve_selection(meta, {"Region": ["40*"], "Tid": ["*2023"]})
    assert got["Region"] == ["4001", "40"]
    assert got["Tid"] == ["2017-2023"]

    doc = load_fixture("11607.json")
    cat = doc["dimension"]["Region"]["category"]
    cat["index"] = {f"K-{c}": i for c, i in cat["index"].items()}
    cat["label"] = {f"K-{c}": v for c, v in cat["label"].items()}
    fake = FakeSsb(doc)
    with make_client(fake, tmp_path / "k") as client:
        meta = client.metadata("11607")
        got = client.resolve_selection(meta, {"Region": ["4650", "46*", "K-1507"]})
        with pytest.raises(UserError, match="ukjent kode 47\\*"):
            client.resolve_selection(meta, {"Region": ["47*"]})
    assert got["Region"] == ["K-4650", "K-4601", "K-1507"]
