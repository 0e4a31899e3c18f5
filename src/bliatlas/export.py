"""Every CSV and xlsx download and export file is written here, in one of two named styles.

* ``maskin`` (:data:`MACHINE`): comma between fields, decimal point, no byte-order mark,
  CRLF line ends (RFC 4180) — for programs (pandas, R, DuckDB).
* ``excel`` (:data:`EXCEL`): semicolon, decimal comma, a UTF-8 byte-order mark so that
  Norwegian Excel opens the file with the right columns, numbers and æøå; CRLF.

Text cells are neutralised against formula injection by OWASP's rule: a cell whose text
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe, so a spreadsheet shows it as text instead of running it. Numbers (int,
float) are written as numbers in the style's notation, never neutralised; ``None``,
NaN and infinities are empty cells. In xlsx every text cell is stored as a string
(never a formula) and sheet titles are made valid (no ``[]:*?/\\``, at most 31
characters, unique).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bliatlas.errors import UserError

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class CsvStyle:
    name: str
    delimiter: str
    decimal: str
    bom: bool
    line_end: str = "\r\n"
    description: str = ""


MACHINE = CsvStyle("maskin", ",", ".", False,
                   description="komma mellom feltene, desimalpunktum, uten BOM (for programmer)")
EXCEL = CsvStyle("excel", ";", ",", True,
                 description="semikolon, desimalkomma og BOM (for norsk Excel)")
STYLES: dict[str, CsvStyle] = {s.name: s for s in (MACHINE, EXCEL)}

#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def style(name: str | None, default: CsvStyle = MACHINE) -> CsvStyle:
    """The style called ``name`` (``maskin`` or ``excel``); ``default`` when empty."""
    if name is None or not name.strip():
        return default
    found = STYLES.get(name.strip().lower())
    if found is None:
        raise UserError(f"stil: forventet {' eller '.join(STYLES)}, fikk {name!r}")
    return found


def neutralise(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _number(value: float, decimal: str) -> str:
    if not math.isfinite(value):
        return ""
    if value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = repr(value)
    return text.replace(".", decimal) if decimal != "." else text


def cell_text(value: Any, csv_style: CsvStyle = MACHINE) -> str:
    """One value as CSV cell text in ``csv_style``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value, csv_style.decimal)
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return cell_text(value.item(), csv_style)
    return neutralise(str(value))


def csv_text(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]],
             csv_style: CsvStyle = MACHINE, footer: Sequence[str] = ()) -> str:
    """The CSV document (header, rows, then ``footer`` lines as ``# …`` comments)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=csv_style.delimiter, lineterminator=csv_style.line_end)
    if header is not None:
        writer.writerow([cell_text(h, csv_style) for h in header])
    for row in rows:
        writer.writerow([cell_text(v, csv_style) for v in row])
    for line in footer:  # our own notes (source, licence) as comment lines after a blank one
        text = " ".join(str(line).split())
        buf.write(f"{csv_style.line_end}# {text}")
    if footer:
        buf.write(csv_style.line_end)
    return ("\ufeff" if csv_style.bom else "") + buf.getvalue()


def csv_bytes(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]],
              csv_style: CsvStyle = MACHINE, footer: Sequence[str] = ()) -> bytes:
    return csv_text(header, rows, csv_style, footer).encode("utf-8")


def dict_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterable[list[Any]]:
    """Rows of dicts as lists in ``columns`` order (a missing key is an empty cell)."""
    for row in rows:
        yield [row.get(c) for c in columns]


@dataclass
class Sheet:
    title: str
    header: Sequence[Any] | None
    rows: Iterable[Sequence[Any]]


_BAD_TITLE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_titles(titles: Sequence[str]) -> list[str]:
    """Valid, unique xlsx sheet titles for ``titles`` (Excel's rules: no ``[]:*?/\\``,
    not starting or ending with an apostrophe, 1–31 characters)."""
    out: list[str] = []
    seen: set[str] = set()
    for title in titles:
        t = _BAD_TITLE.sub("_", str(title)).strip().strip("'") or "Ark"
        t = t[:31]
        base, n = t, 2
        while t.lower() in seen:
            suffix = f" ({n})"
            t = base[:31 - len(suffix)] + suffix
            n += 1
        seen.add(t.lower())
        out.append(t)
    return out


def _xlsx_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _xlsx_value(value.item())
    return str(value)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with one worksheet per :class:`Sheet`; text is stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    wb = Workbook()
    wb.remove(wb.active)
    for sheet, title in zip(sheets, sheet_titles([s.title for s in sheets])):
        ws = wb.create_sheet(title)
        lines = ([sheet.header] if sheet.header is not None else []) + list(sheet.rows)
        for r, row in enumerate(lines, start=1):
            for c, value in enumerate(row, start=1):
                v = _xlsx_value(value)
                if v is None:
                    continue
                cell = ws.cell(row=r, column=c)
                cell.value = v
                if isinstance(v, str):
                    cell.data_type = TYPE_STRING  # "=…" stays text, never a formula
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_file(path: str | os.PathLike[str], data: bytes | str, *,
               mode: int | None = None) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all: a temporary file
    beside it, renamed over it. The one atomic file writer of the project (exports,
    reports, model files, caches, the user file); ``mode`` sets the new file's permissions
    (e.g. ``0o600``) before anything is written to it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: kan ikke skrive filen ({exc.strerror})") from None
    return path


def content_disposition(filename: str, inline: bool = False) -> str:
    """A ``Content-Disposition`` value; the name is reduced to safe ASCII characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-.") or "bli-atlas"
    return f'{"inline" if inline else "attachment"}; filename="{safe}"'


def download(data: bytes, media_type: str, filename: str, **headers: str):
    """A Starlette response that downloads ``data`` as ``filename``."""
    from starlette.responses import Response

    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": content_disposition(filename), **headers})


def csv_download(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]], filename: str,
                 csv_style: CsvStyle = MACHINE, footer: Sequence[str] = (), **headers: str):
    return download(csv_bytes(header, rows, csv_style, footer), CSV_MEDIA_TYPE, filename,
                    **headers)
