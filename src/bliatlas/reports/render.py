"""Rendering: standalone HTML (CSS and SVG inlined) and PDF through WeasyPrint.

The PDF is A4 with page numbers, a table of contents with page numbers
(``target-counter``), document language ``nb`` (from ``<html lang="nb">``) and tagged
for accessibility (WeasyPrint's ``pdf_tags`` with the ``pdf/ua-1`` variant). Nothing is
fetched: the HTML has no external references.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bliatlas.errors import InputError
from bliatlas.reports.build import LICENCES, county_report, municipality_report
from bliatlas.reports.context import ReportContext

TEMPLATES = Path(__file__).with_name("templates")
FORMATS = ("html", "pdf")
KINDS = ("kommune", "fylke")
# Tagged PDF with PDF/UA-1 identification and XMP metadata (WeasyPrint's PDF/UA support is
# marked experimental upstream: the structure tags are there, full conformance is not
# verified).
PDF_VARIANT = "pdf/ua-1"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    return env


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def report_data(ctx: ReportContext, kind: str, code: str) -> dict[str, Any]:
    if kind == "kommune":
        return municipality_report(ctx, code)
    if kind == "fylke":
        return county_report(ctx, code)
    raise InputError("rapporttype", f"forventet «kommune» eller «fylke», fikk {kind!r}")


def render_html(ctx: ReportContext, kind: str, code: str) -> str:
    """The report as one standalone HTML document."""
    data = report_data(ctx, kind, code)
    return _environment().get_template("report.html.j2").render(
        r=data, css=_css(), licences=LICENCES)


def pdf_document(html: str) -> tuple[bytes, int]:
    """A4 PDF from report HTML (tagged, language from the document) and its page count."""
    from weasyprint import HTML

    options = {"pdf_tags": True, "pdf_variant": PDF_VARIANT}
    document = HTML(string=html, base_url=str(TEMPLATES)).render(**options)
    return document.write_pdf(**options), len(document.pages)


def html_to_pdf(html: str) -> bytes:
    """A4 PDF from report HTML (tagged, language from the document)."""
    return pdf_document(html)[0]


def render(ctx: ReportContext, kind: str, code: str, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise InputError("format", f"forventet «html» eller «pdf», fikk {fmt!r}")
    html = render_html(ctx, kind, code)
    return html.encode("utf-8") if fmt == "html" else html_to_pdf(html)
