"""Limits every imported file is held to before it is parsed.

A hostile or broken file must give a clear refusal, never exhaust memory, the stack or
the patience of the user:

* **xlsx** — a workbook is a zip of XML sheets. Before calamine reads one (it allocates
  the whole used area at once: a single cell at ``XFD1048576`` asks for 512 GiB), each
  worksheet's declared area (``<dimension ref="A1:…">``) and its real area (the largest
  row and column any cell names) must stay within :data:`MAX_XLSX_CELLS` cells, the sheet
  may hold at most :data:`MAX_XLSX_CELL_ELEMENTS` cells, and no part may unpack to more
  than :data:`MAX_XLSX_UNPACKED` bytes (zip bombs).
* **text** (CSV, JSON) — no NUL byte anywhere (a UTF-16 or binary file, or an attempt to
  smuggle NULs into stored keys).
* **JSON** — nested at most :data:`MAX_JSON_DEPTH` levels (JSON-stat needs 5, GeoJSON 6),
  checked before decoding, so Python's decoder never recurses into a ``RecursionError``.

The national panel's largest workbook has about 9 000 rows × 20 columns; the limits leave
two orders of magnitude of headroom.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from bliatlas.errors import InputError

MAX_XLSX_CELLS = 5_000_000            # declared or real area of one sheet (rows × columns)
MAX_XLSX_CELL_ELEMENTS = 2_000_000     # cells actually present in one sheet
MAX_XLSX_UNPACKED = 256 * 1024 * 1024  # bytes one part of the workbook may unpack to
MAX_JSON_DEPTH = 64

_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]+)"')
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


def column_number(letters: str) -> int:
    """``A`` → 1, ``Z`` → 26, ``AA`` → 27, ``XFD`` → 16 384."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _area(ref: str) -> tuple[int, int] | None:
    """(rows, columns) a ``<dimension ref>`` such as ``A1:XFD1048576`` declares."""
    corners = [_CELL_REF.fullmatch(part.replace("$", "")) for part in ref.split(":")]
    if not corners or not all(corners):
        return None
    rows = [int(m.group(2)) for m in corners]
    cols = [column_number(m.group(1)) for m in corners]
    return max(rows), max(cols)


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def check_xlsx(data: bytes, path: str) -> None:
    """Refuse a workbook whose sheets are larger than the documented limits."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(path, f"kan ikke lese xlsx-filen ({exc}); forventet en "
                         "Excel-arbeidsbok") from None
    for info in infos:
        if info.file_size > MAX_XLSX_UNPACKED:
            raise InputError(path, f"delen {info.filename} pakkes ut til {_fmt(info.file_size)} "
                             f"byte; grensen er {_fmt(MAX_XLSX_UNPACKED)} byte")
    sheets = [i for i in infos if re.fullmatch(r"xl/worksheets/[^/]+\.xml", i.filename)]
    if not sheets:
        raise InputError(path, "arbeidsboken har ingen regneark (xl/worksheets/…)")
    for info in sheets:
        _check_sheet(zf, info, path)


def _check_sheet(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> None:
    sheet = info.filename.rsplit("/", 1)[-1]
    state = {"rows": 0, "cols": 0, "cells": 0}
    unpacked = 0
    tail = b""
    first = True
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 20)
            unpacked += len(chunk)
            if unpacked > MAX_XLSX_UNPACKED:
                raise InputError(path, f"arket {sheet} pakkes ut til mer enn "
                                 f"{_fmt(MAX_XLSX_UNPACKED)} byte")
            buf = tail + chunk
            if first:
                _check_declared(buf, sheet, path)
                first = False
            if not chunk:
                _scan_cells(buf, state, sheet, path)
                break
            # a tag may be cut at the end of the chunk: keep it for the next round
            cut = buf.rfind(b"<", max(0, len(buf) - 512))
            cut = len(buf) if cut < 0 else cut
            _scan_cells(buf[:cut], state, sheet, path)
            tail = buf[cut:]


def _check_declared(head: bytes, sheet: str, path: str) -> None:
    m = _DIMENSION.search(head)
    if not m:
        return
    ref = m.group(1).decode("ascii", "replace")
    area = _area(ref)
    if area and area[0] * area[1] > MAX_XLSX_CELLS:
        raise InputError(
            path, f"arket {sheet} oppgir området {ref} ({_fmt(area[0])} rader × "
            f"{_fmt(area[1])} kolonner = {_fmt(area[0] * area[1])} celler); grensen er "
            f"{_fmt(MAX_XLSX_CELLS)} celler per ark")


def _scan_cells(buf: bytes, state: dict[str, int], sheet: str, path: str) -> None:
    for m in _REF.finditer(buf):
        state["cells"] += 1
        row = int(m.group(2))
        col = column_number(m.group(1).decode())
        state["rows"] = max(state["rows"], row)
        state["cols"] = max(state["cols"], col)
        if state["rows"] * state["cols"] > MAX_XLSX_CELLS:
            raise InputError(
                path, f"arket {sheet} har en celle i {m.group(1).decode()}{row}: området blir "
                f"{_fmt(state['rows'])} rader × {_fmt(state['cols'])} kolonner = "
                f"{_fmt(state['rows'] * state['cols'])} celler; grensen er "
                f"{_fmt(MAX_XLSX_CELLS)} celler per ark")
    if state["cells"] > MAX_XLSX_CELL_ELEMENTS:
        raise InputError(path, f"arket {sheet} har mer enn {_fmt(MAX_XLSX_CELL_ELEMENTS)} "
                         "celler")


def check_text_bytes(data: bytes, path: str) -> None:
    if b"\x00" in data:
        at = data.index(b"\x00")
        raise InputError(path, f"filen inneholder NUL-byte (første ved byte {_fmt(at)}; UTF-16 "
                         "eller binær?); forventet tekst i ISO-8859-1 eller UTF-8, eller xlsx")


def json_depth_ok(data: bytes, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The byte offset where nesting passes ``limit``, or None. Brackets inside strings
    are skipped; this runs before decoding."""
    depth = 0
    in_string = False
    i = 0
    n = len(data)
    find = data.find
    while i < n:
        if in_string:
            j = find(b'"', i)
            if j < 0:
                return None
            k = j - 1
            backslashes = 0
            while k >= i and data[k] == 0x5C:
                backslashes += 1
                k -= 1
            i = j + 1
            if backslashes % 2 == 0:
                in_string = False
            continue
        m = _STRUCT.search(data, i)
        if m is None:
            return None
        ch = m.group()
        i = m.end()
        if ch == b'"':
            in_string = True
        elif ch in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return m.start()
        else:
            depth -= 1
    return None


_STRUCT = re.compile(rb'["\[\]{}]')


def load_json(data: bytes, path: str) -> Any:
    """Decode JSON with the depth limit; errors name the file and what was expected."""
    at = json_depth_ok(data)
    if at is not None:
        raise InputError(path, f"JSON-dokumentet er nøstet dypere enn {MAX_JSON_DEPTH} nivåer "
                         f"(ved byte {_fmt(at)}); forventet GeoJSON eller JSON-stat")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise InputError(path, "JSON-dokumentet er for dypt nøstet") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"ugyldig JSON ({exc})") from None
