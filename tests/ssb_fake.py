"""A fake SSB statistics bank for tests: serves JSON-stat fixtures through httpx.MockTransport.

It speaks the protocol SSB documents (ssb.no/api; PxApiSpecs for v2), as
``bliatlas.sources.ssb`` uses it:

* PxWebApi v1 under ``/api/v0/no/table/{id}``: ``GET`` metadata (``variables``), ``POST`` a
  query with the filters ``item``, ``top``, ``all``, ``agg:<id>`` (aggregated),
  ``agg_single:<id>`` and ``vs:<id>``; too many cells → HTTP 403 (plain text).
* PxWebApi v2 under ``/api/pxwebapi/v2/``: ``GET tables/{id}/metadata`` (JSON-stat 2.0 with
  ``extension.codelists``), ``GET codelists/{id}``, ``GET tables/{id}/data`` with
  ``valueCodes[V]`` (codes, ``*``, ``top(N)``), ``codelist[V]`` and ``outputValues[V]``, or
  ``POST`` the same as a ``selection`` body; too many cells → HTTP 400 problem+json.

Data for a grouping value is computed from the fixture cube as SSB does it: an aggregated
value is the sum of the cube cells its ``valueMap`` names (suppressed if one of them is),
a single value is the cube cell of that code. Codes the fixture has no cell for answer
``null`` (no figure). No network is involved.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ssb"
PROBLEM_TOO_MANY = {
    "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    "title": "Bad Request",
    "status": 400,
    "detail": "Too many cells selected. Max allowed is {max}",
}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _codes(dim: dict[str, Any]) -> list[str]:
    index = dim["category"].get("index")
    if isinstance(index, dict):
        return [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    if isinstance(index, list):
        return list(index)
    return list(dim["category"]["label"])


def codelist_doc(cid: str, label: str, ctype: str,
                 values: Iterable[tuple[str, str, list[str]]]) -> dict[str, Any]:
    """A PxWebApi v2 codelist answer (``GET codelists/{id}``)."""
    return {
        "id": cid, "label": label, "language": "no", "languages": ["no", "en"],
        "elimination": False, "type": ctype,
        "values": [{"code": c, "label": lbl, "valueMap": vm} for c, lbl, vm in values],
        "links": [{"rel": "self", "hreflang": "no",
                   "href": f"https://data.ssb.no/api/pxwebapi/v2/codelists/{cid}?lang=no"}],
    }


class FakeSsb:
    """Serve ``doc``; ``script`` holds canned replies (status code or exception) sent first.

    ``codelists`` maps a variable code to codelist answers (see :func:`codelist_doc`), listed
    in the v2 metadata's ``extension.codelists`` and served at ``/codelists/{id}``.
    """

    def __init__(
        self,
        doc: dict[str, Any],
        *,
        elimination: dict[str, bool] | None = None,
        max_cells: int = 800_000,
        script: list[int | Exception | tuple[int, dict[str, str]]] | None = None,
        codelists: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.doc = doc
        self.elimination = elimination or {}
        self.max_cells = max_cells
        self.script = list(script or [])
        self.codelists = codelists or {}
        self.requests: list[httpx.Request] = []
        self.data_bodies: list[dict[str, Any]] = []
        self.data_queries: list[dict[str, Any]] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def factory(self) -> Callable[[], httpx.BaseTransport]:
        return lambda: self.transport

    @property
    def table_id(self) -> str:
        return self.doc["label"][:5]

    def codelist(self, cid: str) -> dict[str, Any] | None:
        for lists in self.codelists.values():
            for cl in lists:
                if cl["id"] == cid:
                    return cl
        return None

    # -- request handling ----------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._handle(request)
        except ValueError as exc:           # a bad code: SSB answers 400 with its reason
            return httpx.Response(400, json={"title": "Bad Request", "status": 400,
                                             "detail": str(exc)})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            if isinstance(step, tuple):
                return httpx.Response(step[0], headers=step[1], text="Too Many Requests")
            return httpx.Response(step, text=f"canned {step}")
        path = request.url.path
        table = self.table_id
        if request.method == "GET" and path == f"/api/v0/no/table/{table}":
            return httpx.Response(200, json=self.v0_metadata())
        if request.method == "GET" and path == f"/api/pxwebapi/v2/tables/{table}/metadata":
            return httpx.Response(200, json=self.v2_metadata())
        m = re.fullmatch(r"/api/pxwebapi/v2/codelists/([^/]+)", path)
        if request.method == "GET" and m:
            cl = self.codelist(m.group(1))
            if cl is None:
                return httpx.Response(404, json={"title": "Not Found", "status": 404,
                                                 "detail": f"Codelist {m.group(1)} not found"})
            return httpx.Response(200, json=cl)
        if request.method == "POST" and path == f"/api/v0/no/table/{table}":
            body = json.loads(request.content)
            self.data_bodies.append(body)
            return self.answer("v0", self.v0_selection(body))
        if path == f"/api/pxwebapi/v2/tables/{table}/data":
            params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
            self.data_queries.append(params)
            if request.method == "POST":
                body = json.loads(request.content)
                self.data_bodies.append(body)
                return self.answer("v2", self.v2_selection(body["selection"], params))
            sel = []
            for key, value in params.items():
                m = re.fullmatch(r"valueCodes\[(.+)\]", key)
                if m:
                    sel.append({"variableCode": m.group(1), "valueCodes": value.split(",")})
            return self.answer("v2", self.v2_selection(sel, params))
        return httpx.Response(404, text="Not found")

    # -- selections ----------------------------------------------------------------
    def _var_codes(self, var: str) -> list[str]:
        return _codes(self.doc["dimension"][var])

    def _resolve(self, var: str, kind: str, values: list[str], codelist: str | None,
                 aggregated: bool) -> list[tuple[str, list[str]] | str]:
        """Output codes for one variable: a table code, or (grouping code, members)."""
        own = self._var_codes(var)
        if kind == "top":
            return own[-int(values[0]):]
        if (kind == "all" or values == ["*"]) and codelist is None:
            return own
        if codelist is not None:
            cl = self.codelist(codelist)
            if cl is None:
                raise ValueError(f"Codelist {codelist} not found")
            chosen = [v for v in cl["values"] if values == ["*"] or v["code"] in values]
            unknown = set(values) - {v["code"] for v in cl["values"]} - {"*"}
            if unknown:
                raise ValueError(f"Value {min(unknown)} is not a valid value code "
                                 f"for variable {var}")
            if aggregated:
                return [(v["code"], v["valueMap"]) for v in chosen]
            return [v["code"] for v in chosen]
        unknown = [v for v in values if v not in own]
        if unknown:
            raise ValueError(f"Value {unknown[0]} is not a valid value code for variable {var}")
        return list(values)

    def v0_selection(self, body: dict[str, Any]) -> dict[str, list]:
        out = {}
        for q in body["query"]:
            flt = q["selection"]["filter"]
            vals = list(q["selection"]["values"])
            if flt.startswith(("agg:", "agg_single:", "vs:")):
                prefix, name = flt.split(":", 1)
                cid = f"{'agg' if prefix.startswith('agg') else 'vs'}_{name}"
                out[q["code"]] = self._resolve(q["code"], "item", vals, cid, prefix == "agg")
            else:
                out[q["code"]] = self._resolve(q["code"], flt, vals, None, False)
        return out

    def v2_selection(self, selection: list[dict[str, Any]],
                     params: dict[str, str]) -> dict[str, list]:
        out = {}
        for s in selection:
            var = s["variableCode"]
            vals = list(s["valueCodes"])
            codelist = s.get("codelist") or params.get(f"codelist[{var}]")
            aggregated = params.get(f"outputValues[{var}]", "aggregated") == "aggregated" and (
                codelist or "").startswith("agg_")
            m = re.fullmatch(r"top\((\d+)\)", vals[0]) if len(vals) == 1 else None
            if m:
                out[var] = self._resolve(var, "top", [m.group(1)], None, False)
            else:
                out[var] = self._resolve(var, "item", vals, codelist, aggregated)
        return out

    def answer(self, api: str, sel: dict[str, list]) -> httpx.Response:
        missing = [d for d in self.doc["id"] if d not in sel and not self.elimination.get(d)]
        if missing:
            return httpx.Response(400, text=f"variabel mangler i spørringen: {missing}")
        cells = math.prod(len(v) for v in sel.values())
        if cells > self.max_cells:
            if api == "v0":
                return httpx.Response(403, text="403 - Forbidden: Too many cells selected")
            problem = dict(PROBLEM_TOO_MANY, detail=PROBLEM_TOO_MANY["detail"].format(
                max=self.max_cells))
            return httpx.Response(400, json=problem,
                                  headers={"Content-Type": "application/problem+json"})
        return httpx.Response(200, json=self.slice(sel))

    # -- metadata --------------------------------------------------------------------
    def v0_metadata(self) -> dict[str, Any]:
        time_ids = set(self.doc.get("role", {}).get("time", []))
        variables = []
        for code in self.doc["id"]:
            dim = self.doc["dimension"][code]
            codes = _codes(dim)
            labels = dim["category"].get("label", {})
            entry = {
                "code": code,
                "text": dim.get("label", code),
                "values": codes,
                "valueTexts": [labels.get(c, c) for c in codes],
            }
            if self.elimination.get(code):
                entry["elimination"] = True
            if code in time_ids:
                entry["time"] = True
            variables.append(entry)
        return {"title": self.doc["label"], "variables": variables}

    def v2_metadata(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.doc.items() if k not in ("value", "status")}
        meta = json.loads(json.dumps(meta))
        for code, dim in meta["dimension"].items():
            ext = dim.setdefault("extension", {})
            ext["elimination"] = bool(self.elimination.get(code))
            lists = self.codelists.get(code)
            if lists:
                ext["codelists"] = [
                    {"id": cl["id"], "label": cl["label"], "type": cl["type"],
                     "links": [{"rel": "metadata", "hreflang": "no",
                                "href": f"https://data.ssb.no/api/pxwebapi/v2/codelists/"
                                        f"{cl['id']}?lang=no"}]}
                    for cl in lists
                ]
        return meta

    # -- data ------------------------------------------------------------------------
    def slice(self, selection: dict[str, list]) -> dict[str, Any]:
        doc = self.doc
        ids, sizes = doc["id"], doc["size"]
        full_codes = {d: _codes(doc["dimension"][d]) for d in ids}
        strides, step = {}, 1
        for d, s in reversed(list(zip(ids, sizes, strict=True))):
            strides[d] = step
            step *= s
        n = math.prod(sizes)
        values = doc["value"]
        dense = values if isinstance(values, list) else [values.get(str(i)) for i in range(n)]
        status = doc.get("status") or {}
        if isinstance(status, str):
            status = dict.fromkeys(range(n), status)
        elif isinstance(status, list):
            status = {i: s for i, s in enumerate(status) if s is not None}
        else:
            status = {int(k): s for k, s in status.items()}
        out_ids = [d for d in ids if d in selection]
        out = json.loads(json.dumps({k: v for k, v in doc.items() if k not in ("value", "status")}))
        out["id"] = out_ids
        out["size"] = [len(selection[d]) for d in out_ids]
        for d in ids:
            if d not in selection:
                del out["dimension"][d]
        for d in out_ids:
            cat = out["dimension"][d]["category"]
            codes = [c if isinstance(c, str) else c[0] for c in selection[d]]
            cat["index"] = {c: i for i, c in enumerate(codes)}
            labels = doc["dimension"][d]["category"].get("label", {})
            grouping = self.codelists.get(d, [])
            group_labels = {v["code"]: v["label"] for cl in grouping for v in cl["values"]}
            cat["label"] = {c: labels.get(c, group_labels.get(c, c)) for c in codes}
            if "unit" in cat:
                cat["unit"] = {c: cat["unit"][c] for c in codes if c in cat["unit"]}
        new_values, new_status = [], {}
        eliminated = [d for d in ids if d not in selection]
        for i, combo in enumerate(itertools.product(*(selection[d] for d in out_ids))):
            member_lists = []
            for d, c in zip(out_ids, combo, strict=True):
                if isinstance(c, str):
                    member_lists.append([c])
                else:
                    member_lists.append(c[1])
            member_lists += [full_codes[d] for d in eliminated]
            cells = []
            for members in itertools.product(*member_lists):
                key = dict(zip(out_ids + eliminated, members, strict=True))
                if any(key[d] not in full_codes[d] for d in ids):
                    continue
                flat = sum(full_codes[d].index(key[d]) * strides[d] for d in ids)
                cells.append((dense[flat], status.get(flat)))
            if len(cells) == 1:                 # one table cell: as published
                value, mark = cells[0]
            elif any(mark == ":" for _, mark in cells):
                value, mark = None, ":"         # a sum over a suppressed cell is suppressed
            else:
                present = [v for v, _ in cells if v is not None]
                value, mark = (round(sum(present), 6) if present else None), None
            new_values.append(value)
            if mark is not None:
                new_status[str(i)] = mark
        out["value"] = new_values
        if new_status:
            out["status"] = new_status
        return out


class FakeSsbBank:
    """Several tables behind one transport (for `bli sync standard`)."""

    def __init__(self, tables: Iterable[FakeSsb]) -> None:
        self.tables = {t.table_id: t for t in tables}
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        m = re.search(r"/(?:table|tables)/(\d{5})", request.url.path)
        if m and m.group(1) in self.tables:
            return self.tables[m.group(1)].handle(request)
        m = re.fullmatch(r"/api/pxwebapi/v2/codelists/([^/]+)", request.url.path)
        if m:
            for t in self.tables.values():
                if t.codelist(m.group(1)) is not None:
                    return t.handle(request)
        return httpx.Response(404, text="Not found")

    def factory(self) -> Callable[[], httpx.BaseTransport]:
        return lambda: httpx.MockTransport(self.handle)


def region_codelists(fixture: dict[str, Any], registry, crosswalk,
                     region_var: str = "Region") -> list[dict[str, Any]]:
    """The groupings SSB offers for its region variable, built from today's registry and
    the reform crosswalk (test data generated by code): ``agg_KommSummer`` (today's
    municipalities, each summing the table codes that lie in it), ``agg_KommGjeldende``
    (today's municipalities as single values), ``agg_KommFylker`` (today's counties),
    ``vs_Landet`` (the whole country); SSB's residual codes are added as SSB has them."""
    own = _codes(fixture["dimension"][region_var])
    labels = fixture["dimension"][region_var]["category"].get("label", {})
    members: dict[str, list[str]] = {c: [c] for c in registry.municipalities}
    for code in own:
        res = crosswalk.resolve(code, labels.get(code, ""))
        if res.assigned and res.targets[0] in members and code not in members[res.targets[0]]:
            members[res.targets[0]].append(code)
    munis = sorted(registry.municipalities.values(), key=lambda m: m.code)
    summer = [(f"K-{m.code}", m.name, members[m.code]) for m in munis]
    summer += [("K-21-22", "Svalbard og Jan Mayen", ["21", "22"]),
               ("K-23", "Kontinentalsokkelen", ["23"]),
               ("K-Rest", "Uoppgitt komm.", ["Rest"])]
    counties = sorted(registry.counties.values(), key=lambda c: c.code)
    fylker = [(f"F-{c.code}", c.name,
               [code for m in munis if m.county_code == c.code for code in members[m.code]])
              for c in counties]
    return [
        codelist_doc("agg_KommSummer", "Kommuner, summert til gjeldende inndeling",
                     "Aggregation", summer),
        codelist_doc("agg_KommGjeldende", "Gjeldende kommuner", "Aggregation",
                     [(f"K-{m.code}", m.name, [m.code]) for m in munis]),
        codelist_doc("agg_KommFylker", "Fylker, summert fra kommuner (gjeldende inndeling)",
                     "Aggregation", fylker),
        codelist_doc("vs_Landet", "Hele landet", "Valueset", [("0", "Hele landet", ["0"])]),
    ]


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
