"""Helpers for the report tests: the traceable numbers (``span.num``) in a report's HTML."""

from __future__ import annotations

from html.parser import HTMLParser


class NumSpans(HTMLParser):
    """Collects every ``<span class="num ...">`` with its attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None
        self.external_refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("src", "href"):
            if key in a and not a[key].startswith("#"):
                self.external_refs.append(f"{tag} {key}={a[key]}")
        if tag == "link":
            self.external_refs.append(f"link {a}")
        if tag == "span" and "num" in a.get("class", "").split():
            self._open = {**a, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.spans.append(self._open)
            self._open = None


def parse(html: str) -> NumSpans:
    p = NumSpans()
    p.feed(html)
    return p
