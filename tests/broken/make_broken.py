"""Write the hostile files of the broken-input corpus that are easier made than typed:
oversized xlsx areas, a NUL byte past the first 4 kB, JSON nested 20 000 levels deep and
GeoJSON with bad geometry. Run from the repository root:
``.venv/bin/python tests/broken/make_broken.py``. (The small CSV cases are typed files.)
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/></Types>')
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Ark1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def xlsx(cells: list[tuple[str, str]], dimension: str | None) -> bytes:
    """A minimal valid workbook with one sheet holding ``cells`` (ref, inline text)."""
    rows: dict[int, list[str]] = {}
    for ref, text in cells:
        row = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(row, []).append(
            f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'{dim}<sheetData>{body}</sheetData></worksheet>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


SQUARE = "[[5.9,61.7],[6.1,61.7],[6.1,61.9],[5.9,61.9],[5.9,61.7]]"


def feature(code: str, name: str, ring: str) -> str:
    props = f'{{"kommunenummer":"{code}","kommunenavn":"{name}"}}'
    return (f'{{"type":"Feature","properties":{props},'
            f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}')


def collection(*features: str) -> str:
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


GENERATED = ("xlsx_cell_at_XFD1048576.xlsx", "xlsx_cell_at_ZZ200000.xlsx",
             "geo_one_feature_nan.geojson", "geo_one_feature.geojson", "geo_open_ring.geojson")


def main(out: Path = HERE) -> None:
    """Write the generated cases into ``out``. The xlsx and GeoJSON ones are not tracked
    in git (the repository holds no data files); the tests write them into a temp folder."""
    header = ["Kommunenummer", "Kommune", "year", "sentralitet"]
    cells = [(f"{c}1", h) for c, h in zip("ABCD", header, strict=True)]
    (out / "xlsx_cell_at_XFD1048576.xlsx").write_bytes(
        xlsx(cells + [("XFD1048576", "x")], "A1:XFD1048576"))
    (out / "xlsx_cell_at_ZZ200000.xlsx").write_bytes(
        xlsx(cells + [("ZZ200000", "x")], None))
    imdi = ("Region;Navn;Innvandringsgrunn: Alle;Innvandringsgrunn: Alle\n"
            ";;Enhet: Personer;Enhet: Personer\n;;År: 2020;År: 2021\n")
    rows = "".join(f"K3001;Halden;{3800 + i};{3801 + i}\n" for i in range(200))
    data = (imdi + rows).encode("iso-8859-1")
    at = 4096 + 300
    (out / "imdi_nul_after_4k.csv").write_bytes(data[:at] + b"\x00" + data[at:])
    (out / "json_nested_20000.json").write_text("[" * 20000 + "]" * 20000, encoding="ascii")
    nan_ring = "[[5.9,61.7],[NaN,61.7],[6.1,Infinity],[5.9,61.9],[5.9,61.7]]"
    (out / "geo_one_feature_nan.geojson").write_text(
        collection(feature("4650", "Gloppen", nan_ring)), encoding="utf-8")
    (out / "geo_one_feature.geojson").write_text(
        collection(feature("4650", "Gloppen", SQUARE)), encoding="utf-8")
    open_ring = "[[5.9,61.7],[6.1,61.7],[6.1,61.9],[5.9,61.9],[5.95,61.75]]"
    (out / "geo_open_ring.geojson").write_text(
        collection(feature("4650", "Gloppen", open_ring)), encoding="utf-8")


if __name__ == "__main__":
    main()
