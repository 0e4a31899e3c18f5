"""Norwegian alphabetical order (bokmål), for every sort of names users read.

``sort_key`` orders text as the Unicode Collation Algorithm with CLDR's Norwegian
tailoring does (what ICU, LibreOffice and browsers' ``Intl.Collator('nb')`` use), for
the letters that occur in Norwegian, Sami and Kven place names:

* … x, y, z, **æ, ø, å**; ``ä`` sorts with ``æ``, ``ö``/``ő`` with ``ø``, ``ü`` with ``y``;
* **aa** is å (``Aa`` right after ``Å``), as in Norwegian proper names;
* case is the last tie-breaker only (``gloppen`` before ``Gloppen``, both before ``Glåmos``);
* accents come second: Sami ``á č š ž`` sort as their base letter, and after it only when
  the letters are otherwise equal (``Kárášjohka`` < ``Karasjok``: *h* < *k* decides
  before any accent); ``đ``/``ð`` sort with ``d``; ``ŋ`` right after ``n`` and ``ŧ`` right
  after ``t`` (letters of their own, as in ICU);
* spaces and punctuation come before digits, digits before letters
  (``Nord-Aurdal`` < ``Nordkapp`` < ``Nordre Land``).

The browser tests check that this order equals Chromium's ``Intl.Collator('nb')`` over
every municipality and county name. Pure Python: no ICU library is needed on the server.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Primary order of the letters: the Latin alphabet with the Norwegian letters after z.
# ŋ and ŧ are letters of their own in the root collation (after n and t).
_ALPHABET = "abcdefghijklmnŋopqrstŧuvwxyzʒæøå"
_LETTER = {ch: i for i, ch in enumerate(_ALPHABET)}
# Letters that sort as another letter with a secondary (accent-like) difference:
# letter → (base letter, secondary rank). Ranks below the combining marks' ranks.
_SECONDARY_OF = {
    "đ": ("d", 1), "ð": ("d", 2),
    "ä": ("æ", 1), "ö": ("ø", 1), "ő": ("ø", 2), "ü": ("y", 1), "ű": ("y", 2),
}
# Combining marks in the order of their DUCET secondary weights.
_MARKS = "\u0301\u0300\u0306\u0302\u030c\u030a\u0308\u030b\u0303\u0307\u0327\u0328\u0304"
_MARK_RANK = {m: 10 + i for i, m in enumerate(_MARKS)}
# Space, then punctuation (DUCET order), then digits, then letters.
_PUNCT = "_-–—,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_SPACE, _PUNCTUATION, _DIGIT, _LATIN, _OTHER = range(5)


def _primary(base: str) -> tuple[int, int]:
    if base in _LETTER:
        return (_LATIN, _LETTER[base])
    if base.isspace():
        return (_SPACE, 0)
    if base.isdigit():
        return (_DIGIT, unicodedata.digit(base, 0))
    if base in _PUNCT:
        return (_PUNCTUATION, _PUNCT.index(base))
    if base.isalpha():
        return (_OTHER, ord(base))
    return (_PUNCTUATION, len(_PUNCT) + ord(base))


def _elements(text: str) -> Iterable[tuple[tuple[int, int], int, int]]:
    """(primary, secondary, tertiary) per collation element of ``text``."""
    text = unicodedata.normalize("NFC", text.replace("\xa0", " "))
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in ("aa", "Aa", "AA"):  # the contraction aa = å, tertiary after Å
            yield _primary("å"), 0, {"aa": 2, "Aa": 3, "AA": 4}[pair]
            i += 2
            continue
        ch = text[i]
        i += 1
        lower = ch.lower()
        tertiary = 1 if lower != ch else 0
        if lower in _LETTER:
            yield _primary(lower), 0, tertiary
            continue
        if lower in _SECONDARY_OF:
            base, rank = _SECONDARY_OF[lower]
            yield _primary(base), rank, tertiary
            continue
        decomposed = unicodedata.normalize("NFD", lower)
        base, marks = decomposed[0], decomposed[1:]
        if base == "a" and marks[:1] == "\u030a":  # å is a letter, not a + ring
            base, marks = "å", marks[1:]
        rank = sum(_MARK_RANK.get(m, 40) for m in marks) if marks else 0
        yield _primary(base), rank, tertiary


def sort_key(text: str | None) -> tuple[tuple, tuple, tuple]:
    """A key that orders strings in Norwegian alphabetical order (see the module)."""
    elements = list(_elements(text or ""))
    return (tuple(e[0] for e in elements), tuple(e[1] for e in elements),
            tuple(e[2] for e in elements))


def sorted_nb(items: Iterable[T], key: Callable[[T], str] = str, reverse: bool = False,
              ) -> list[T]:
    """``items`` in Norwegian alphabetical order of ``key(item)``."""
    return sorted(items, key=lambda item: sort_key(key(item)), reverse=reverse)
