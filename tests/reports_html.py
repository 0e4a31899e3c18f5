"""Helpers for the report tests: the traceable numbers (``span.num``) in a report's HTML.

The report template writes these spans in one fixed form (``values.Num.__html__``), so
regular expressions read them exactly and fast enough to check all 357 reports.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field

_SPAN = re.compile(r'<span class="(num(?: [a-z]+)?)"([^>]*)>([^<]*)</span>')
_ATTR = re.compile(r'([a-z][a-z-]*)="([^"]*)"')
_ID = re.compile(r'\sid="([^"]+)"')
_EXTERNAL = re.compile(r'<(?:[a-z]+)\s[^>]*?\b(?:src|href)="(?!#)([^"]*)"|<link\b[^>]*>')


@dataclass
class ReportDoc:
    spans: list[dict[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    external_refs: list[str] = field(default_factory=list)


def parse(text: str) -> ReportDoc:
    doc = ReportDoc()
    for cls, attrs, inner in _SPAN.findall(text):
        span = {k: html_lib.unescape(v) for k, v in _ATTR.findall(attrs)}
        span["class"] = cls
        span["text"] = html_lib.unescape(inner)
        doc.spans.append(span)
    doc.ids = set(_ID.findall(text))
    doc.external_refs = [m.group(0)[:120] for m in _EXTERNAL.finditer(text)]
    return doc
