"""Rendering: standalone HTML (CSS and SVG inlined) and PDF through WeasyPrint.

The PDF is A4 with page numbers, a table of contents with page numbers
(``target-counter``), document language ``nb`` (from ``<html lang="nb">``) and tagged
for accessibility (WeasyPrint's ``pdf_tags`` with the ``pdf/ua-1`` variant). Nothing is
fetched: the HTML has no external references.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bliatlas.errors import InputError
from bliatlas.indicators.peer_groups import (
    GROUP_PARAMETERS,
    PeerGroup,
    group_from_params,
)
from bliatlas.reports.build import LICENCES, county_report, municipality_report
from bliatlas.reports.context import ReportContext
from bliatlas.reports.short import short_report

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
    env.filters["breaks"] = line_breaks
    return env


# Long compounds in table heads, with where they may break (heads do not hyphenate by
# themselves: ``hyphens: manual``, so names such as «Gloppen» and «KOSTRA» stay whole).
SOFT_BREAKS = {"sentralitetsklasse": "sentralitets\u00adklasse",
               "familieinnvandrede": "familie\u00adinnvandrede",
               "sammenligningsgruppen": "sammenlignings\u00adgruppen"}


def line_breaks(text: str) -> str:
    """Break opportunities in a table head or a file name: a soft hyphen inside the long
    compounds above, and a zero-width space after ``_`` and ``-`` in file names."""
    text = str(text)
    for word, broken in SOFT_BREAKS.items():
        text = text.replace(word, broken)
    if " " not in text and ("_" in text or "." in text):
        text = text.replace("_", "_\u200b").replace("-", "-\u200b")
    return text


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def report_group(ctx: ReportContext, kind: str, code: str,
                 group: Mapping[str, str] | None) -> PeerGroup | None:
    """The comparison group the ``g_…`` parameters ask for (a municipality's only), built
    as on the page; None without parameters."""
    if not group:
        return None
    if kind != "kommune":
        raise InputError("sammenligningsgruppe", "en sammenligningsgruppe gjelder bare "
                         "kommunerapporter; fjern g_…-parameterne for fylket")
    unknown = sorted(k for k in group if k not in GROUP_PARAMETERS)
    if unknown:
        raise InputError("sammenligningsgruppe", f"ukjent parameter {', '.join(unknown)}: "
                         f"forventet {', '.join(GROUP_PARAMETERS)}")
    ctx.cube.group("kommune", code)  # 404 for an unknown code before the group is built
    return group_from_params(ctx.cube, code, group)


def report_data(ctx: ReportContext, kind: str, code: str, short: bool = False,
                group: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``group``: the comparison group's ``g_…`` parameters (as in the page's URL)."""
    if kind not in KINDS:
        raise InputError("rapporttype", f"forventet «kommune» eller «fylke», fikk {kind!r}")
    peers = report_group(ctx, kind, code, group)
    if short:
        return short_report(ctx, kind, code, peers)
    if kind == "kommune":
        return municipality_report(ctx, code, peers)
    return county_report(ctx, code)


def render_html(ctx: ReportContext, kind: str, code: str, short: bool = False,
                pdf: bool = False, group: Mapping[str, str] | None = None) -> str:
    """The report as one standalone HTML document: the full report, or the short one
    (``short``). ``pdf``: the HTML the PDF is printed from, without what only works on a
    screen (hints about hovering, pointers to attributes)."""
    data = report_data(ctx, kind, code, short, group)
    template = "short.html.j2" if short else "report.html.j2"
    return _environment().get_template(template).render(
        r=data, css=_css(), licences=LICENCES, pdf=pdf)


def pdf_document(html: str) -> tuple[bytes, int]:
    """A4 PDF from report HTML (tagged, language from the document) and its page count."""
    from weasyprint import HTML

    options = {"pdf_tags": True, "pdf_variant": PDF_VARIANT}
    document = HTML(string=html, base_url=str(TEMPLATES)).render(**options)
    return document.write_pdf(**options), len(document.pages)


def html_to_pdf(html: str) -> bytes:
    """A4 PDF from report HTML (tagged, language from the document)."""
    return pdf_document(html)[0]


def render(ctx: ReportContext, kind: str, code: str, fmt: str, short: bool = False,
           group: Mapping[str, str] | None = None) -> bytes:
    if fmt not in FORMATS:
        raise InputError("format", f"forventet «html» eller «pdf», fikk {fmt!r}")
    html = render_html(ctx, kind, code, short=short, pdf=fmt == "pdf", group=group)
    return html.encode("utf-8") if fmt == "html" else html_to_pdf(html)
