"""Checks that the content is written in its own words and quotes its sources truly.

Given the text of the source documents (by document key), :class:`SourceText` finds the
longest run of words an entry shares with a source, and whether a quotation occurs in
one. Words are compared by a *skeleton*: lower-cased and folded, then reduced to the
consonants b c f h j k m n p q r s t v w x and digits. That is lossy on purpose: the
source files are OCR'd scans where "ø" reads as "g" or "@", "å" as "a", "d" or "3" and
"l" as "I", so "ønsker" must meet "gnsker". A run of 12 skeletons in a row is still
specific enough to mean copied wording. Runs are counted in the entry's own words
(including the short words whose skeleton is empty).

Used by the test suite against ``../shared/seeds``; the knowledge layer never reads the
source files at run time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bliatlas.knowledge.citations import body_blocks, without_attributed_quotes
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.search import fold

RUN_LIMIT = 12  # shared words in a row that count as copied
ANCHOR = 4
_WORD = re.compile(r"[^\W_]+")
_KEEP = re.compile(r"[^bcfhjkmnpqrstvwx0-9]")


def skeleton(word: str) -> str:
    return _KEEP.sub("", fold(word))


def clean_source(text: str) -> str:
    """Undo the commonest scan artefacts: line-break hyphens, '@' for 'ø', '|' for 'I'."""
    text = text.replace("@", "ø").replace("|", "I")
    return re.sub(r"(\w)-\s*\n\s*(?=[a-zæøå])", r"\1", text)


def keyed_words(text: str) -> tuple[list[str], list[int]]:
    """Skeletons of the words of ``text`` (words of one letter and empty skeletons left out)
    and, for each, the index of its word in the full word list."""
    keys: list[str] = []
    where: list[int] = []
    for i, m in enumerate(_WORD.finditer(text)):
        word = m.group()
        if len(word) < 2:
            continue
        key = skeleton(word)
        if key:
            keys.append(key)
            where.append(i)
    return keys, where


@dataclass(frozen=True)
class Run:
    """A run of words shared with a source: its length in the entry's words, the source."""

    words: int
    document: str
    excerpt: str


class SourceText:
    """The source documents as skeleton sequences, indexed for run and quotation look-ups."""

    def __init__(self, texts: Mapping[str, str]):
        self.keys: dict[str, list[str]] = {}
        self._anchors: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for doc, text in texts.items():
            keys, _ = keyed_words(clean_source(text))
            self.keys[doc] = keys
            for i in range(len(keys) - ANCHOR + 1):
                self._anchors[tuple(keys[i:i + ANCHOR])].append((doc, i))

    def longest_run(self, text: str) -> Run | None:
        """The longest run of ``text`` shared with any source (``None`` if none of 4+)."""
        keys, where = keyed_words(text)
        words = [m.group() for m in _WORD.finditer(text)]
        best: Run | None = None
        for i in range(len(keys) - ANCHOR + 1):
            for doc, j in self._anchors.get(tuple(keys[i:i + ANCHOR]), ()):
                src = self.keys[doc]
                n = ANCHOR
                while i + n < len(keys) and j + n < len(src) and keys[i + n] == src[j + n]:
                    n += 1
                first, last = where[i], where[i + n - 1]
                span = last - first + 1
                if best is None or span > best.words:
                    best = Run(span, doc, " ".join(words[first:last + 1]))
        return best

    def occurs(self, quote: str, document: str) -> bool:
        """Whether ``quote`` occurs in ``document`` (one skeleton in eight may differ: the
        scan's misreadings)."""
        keys, _ = keyed_words(quote)
        src = self.keys.get(document, [])
        if not keys:
            return True
        if len(keys) < ANCHOR:
            return any(src[j:j + len(keys)] == keys for j in range(len(src) - len(keys) + 1))
        allowed = len(keys) // 8
        starts: set[int] = set()
        for offset in range(len(keys) - ANCHOR + 1):
            for doc, j in self._anchors.get(tuple(keys[offset:offset + ANCHOR]), ()):
                if doc == document:
                    starts.add(j - offset)
        for j in starts:
            window = src[max(j, 0):j + len(keys)]
            if j < 0 or len(window) < len(keys):
                continue
            if sum(a != b for a, b in zip(keys, window)) <= allowed:
                return True
        return False


def prose(entry: Entry) -> Iterator[tuple[str, str]]:
    """Every text of an entry users read, as written (marks included), by field name."""
    yield "title", entry.title
    for key, value in entry.marked.items():
        if isinstance(value, list):
            for i, item in enumerate(value, 1):
                yield f"{key}[{i}]", item
        else:
            yield key, value
    if entry.evidence is not None:
        yield "evidence.basis", entry.evidence.basis
    if entry.conditions is not None:
        for key in ("size", "partners", "needs"):
            yield f"conditions.{key}", getattr(entry.conditions, key)
    if entry.contact is not None:
        yield "contact.organisation", entry.contact.organisation
    if entry.status is not None:
        yield "status.note", entry.status.note
    for i, link in enumerate(entry.indicators, 1):
        yield f"indicators[{i}].why", link.why
    for n, block in enumerate(body_blocks(entry.body), 1):
        yield f"tekst, avsnitt {n}", block


def copied_runs(entry: Entry, sources: SourceText, limit: int = RUN_LIMIT,
                ) -> list[tuple[str, Run]]:
    """Fields of ``entry`` sharing ``limit`` or more words in a row with a source, outside
    attributed quotations."""
    found: list[tuple[str, Run]] = []
    for name, text in prose(entry):
        run = sources.longest_run(without_attributed_quotes(text))
        if run is not None and run.words >= limit:
            found.append((name, run))
    return found
