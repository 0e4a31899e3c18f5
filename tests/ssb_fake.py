"""A fake SSB statistics bank for tests: serves one JSON-stat fixture through httpx.MockTransport.

It answers the metadata request (PxWebApi v1 ``variables`` form under ``/api/v0/``, or
JSON-stat 2.0 under ``/api/pxwebapi/v2/``) and data queries, slicing the fixture cube
to exactly the selected codes, as SSB does. No network is involved.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ssb"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _codes(dim: dict[str, Any]) -> list[str]:
    index = dim["category"].get("index")
    if isinstance(index, dict):
        return [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
    if isinstance(index, list):
        return list(index)
    return list(dim["category"]["label"])


class FakeSsb:
    """Serve ``doc``; ``script`` holds canned replies (status code or exception) sent first."""

    def __init__(
        self,
        doc: dict[str, Any],
        *,
        elimination: dict[str, bool] | None = None,
        max_cells: int = 800_000,
        script: list[int | Exception | tuple[int, dict[str, str]]] | None = None,
    ) -> None:
        self.doc = doc
        self.elimination = elimination or {}
        self.max_cells = max_cells
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []
        self.data_bodies: list[dict[str, Any]] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def factory(self) -> Callable[[], httpx.BaseTransport]:
        return lambda: self.transport

    # -- request handling ----------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
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
        if request.method == "POST" and path in (
            f"/api/v0/no/table/{table}", f"/api/pxwebapi/v2/tables/{table}/data"
        ):
            body = json.loads(request.content)
            self.data_bodies.append(body)
            if "query" in body:
                selection = {q["code"]: q["selection"]["values"] for q in body["query"]}
            else:
                selection = {s["variableCode"]: s["valueCodes"] for s in body["selection"]}
            missing = [d for d in self.doc["id"] if d not in selection]
            if missing:
                return httpx.Response(400, text=f"variabel mangler i spørringen: {missing}")
            cells = math.prod(len(v) for v in selection.values())
            if cells > self.max_cells:
                return httpx.Response(403, text="Too many cells selected")
            return httpx.Response(200, json=self.slice(selection))
        return httpx.Response(404, text="Not found")

    @property
    def table_id(self) -> str:
        return self.doc["label"][:5]

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
            dim.setdefault("extension", {})["elimination"] = bool(self.elimination.get(code))
        return meta

    def slice(self, selection: dict[str, list[str]]) -> dict[str, Any]:
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
        out = json.loads(json.dumps({k: v for k, v in doc.items() if k not in ("value", "status")}))
        out["size"] = [len(selection[d]) for d in ids]
        for d in ids:
            cat = out["dimension"][d]["category"]
            cat["index"] = {c: i for i, c in enumerate(selection[d])}
            labels = doc["dimension"][d]["category"].get("label", {})
            cat["label"] = {c: labels.get(c, c) for c in selection[d]}
            if "unit" in cat:
                cat["unit"] = {c: cat["unit"][c] for c in selection[d] if c in cat["unit"]}
        new_values, new_status = [], {}
        for i, combo in enumerate(itertools.product(*(selection[d] for d in ids))):
            flat = sum(full_codes[d].index(c) * strides[d] for d, c in zip(ids, combo, strict=True))
            new_values.append(dense[flat])
            if flat in status:
                new_status[str(i)] = status[flat]
        out["value"] = new_values
        if new_status:
            out["status"] = new_status
        return out


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
