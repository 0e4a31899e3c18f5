"""Citation marks: how every claim in the content says where it comes from.

A claim ends with a mark: ``[1]`` (or ``[1, 2]``) names the entry's first (second …)
source, and ``[vurdering]`` marks the editors' own reading ("Bli-atlas' vurdering").
A mark covers the text since the previous mark in the same block, so a paragraph can
mix sourced sentences and the editors' reading, each followed by its own mark, but no
text may follow the last mark. A quotation in «…» counts as attributed when a source
mark (not ``[vurdering]``) covers it.

The content model (``docs/content-model.md``) requires marks in every prose field and
every paragraph and list item of the body; headings are labels and carry none.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

INTERPRETATION = "vurdering"
INTERPRETATION_LABEL = "Bli-atlas' vurdering"
MARK_RE = re.compile(r"[ \t]*\[(vurdering|\d+(?:\s*,\s*\d+)*)\](?!\()")
QUOTE_RE = re.compile(r"«([^«»]*)»")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s")
_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


@dataclass(frozen=True)
class Segment:
    """Text covered by one mark: ``sources`` (1-based) or the editors' reading."""

    text: str
    sources: tuple[int, ...]
    interpretation: bool


def segments(text: str) -> tuple[list[Segment], str]:
    """The marked segments of ``text`` and whatever unmarked text follows the last mark."""
    out: list[Segment] = []
    pos = 0
    for m in MARK_RE.finditer(text):
        body = text[pos:m.start()]
        pos = m.end()
        if m.group(1) == INTERPRETATION:
            out.append(Segment(body, (), True))
        else:
            nums = tuple(int(n) for n in m.group(1).split(","))
            out.append(Segment(body, nums, False))
    return out, text[pos:]


def problems(text: str, n_sources: int) -> list[str]:
    """Why ``text`` is not properly marked (empty list if it is), in Norwegian."""
    found: list[str] = []
    segs, rest = segments(text)
    if rest.strip(" \t\n.,;:)»\"'|"):
        if segs:
            tail = rest.strip()
            shown = tail if len(tail) <= 60 else tail[:57] + "…"
            found.append(f"teksten etter siste kildemerke mangler merke: «{shown}»; avslutt med "
                         "[1] (kildens nummer) eller [vurdering]")
        else:
            found.append("mangler kildemerke; avslutt påstanden med [1] (nummeret på kilden "
                         "i sources) eller [vurdering] (Bli-atlas' vurdering)")
    for seg in segs:
        if not seg.text.strip():
            found.append("et kildemerke står uten tekst foran seg")
        for n in seg.sources:
            if not 1 <= n <= n_sources:
                found.append(f"kildemerket [{n}] viser til en kilde som ikke finnes (oppføringen "
                             f"har {n_sources} kilde{'r' if n_sources != 1 else ''})")
    return found


def plain(text: str) -> str:
    """The text as users read it outside the entry page: source marks dropped, the editors'
    reading said in words."""
    def repl(m: re.Match[str]) -> str:
        return f" ({INTERPRETATION_LABEL})" if m.group(1) == INTERPRETATION else ""

    return re.sub(r"[ \t]{2,}", " ", MARK_RE.sub(repl, text)).strip()


def count_interpretations(text: str) -> int:
    return sum(1 for m in MARK_RE.finditer(text) if m.group(1) == INTERPRETATION)


def body_blocks(markdown: str) -> list[str]:
    """Paragraphs and list items of a Markdown body, headings left out."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(" ".join(line.strip() for line in current))
            current.clear()

    for line in markdown.splitlines():
        if not line.strip() or _HEADING_RE.match(line):
            flush()
        elif _ITEM_RE.match(line):
            flush()
            current.append(_ITEM_RE.sub("", line, count=1))
        else:
            current.append(line)
    flush()
    return blocks


def attributed_quotes(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Quotations («…») covered by a source mark, with the sources that cover them."""
    segs, _ = segments(text)
    return [(m.group(1), seg.sources) for seg in segs if not seg.interpretation
            for m in QUOTE_RE.finditer(seg.text)]


def without_attributed_quotes(text: str) -> str:
    """``text`` with attributed quotations blanked out (for the copying check)."""
    segs, rest = segments(text)
    parts = [QUOTE_RE.sub(" … ", s.text) if not s.interpretation else s.text for s in segs]
    return " ".join([*parts, rest])


def render_html(text: str, anchor: str = "kilde") -> str:
    """Escaped HTML of a marked text: source marks as footnote links, the editors' reading
    as a visible label."""
    return marks_to_html(html.escape(text, quote=False), anchor)


def marks_to_html(escaped: str, anchor: str = "kilde") -> str:
    """Turn the marks in already escaped HTML (e.g. rendered Markdown) into links/labels."""
    def repl(m: re.Match[str]) -> str:
        if m.group(1) == INTERPRETATION:
            return f' <span class="vurdering">({INTERPRETATION_LABEL})</span>'
        links = ", ".join(
            f'<a href="#{anchor}-{n}"><span class="visually-hidden">kilde </span>{n}</a>'
            for n in (int(x) for x in m.group(1).split(",")))
        return f'<sup class="kildemerke">{links}</sup>'

    return MARK_RE.sub(repl, escaped)
