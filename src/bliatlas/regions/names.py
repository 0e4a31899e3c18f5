"""Name handling for Norwegian, Sami and Kven place names.

Official names join language forms with " - " (``Guovdageaidnu - Kautokeino``,
``Troms - Romsa - Tromssa``). Publishers add reform markers (``Moss (t.o.m. 2019)``)
and disambiguators (``Sande (Vestfold)``). ``name_forms`` returns every form, and
``fold`` makes a search key that is insensitive to case, diacritics and the
æ/ø/å ↔ ae/oe/aa spellings people type on keyboards without them.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from importlib import resources

from bliatlas.collate import sort_key

_MARKER = re.compile(r"\((?:[^()]*\b(?:f\.o\.m\.|t\.o\.m\.)[^()]*)\)", re.IGNORECASE)
_PAREN = re.compile(r"\s*\([^()]*\)")
_REFORM_YEARS = re.compile(r"(f\.o\.m\.|t\.o\.m\.)\s*(\d{4})", re.IGNORECASE)

# Letters that do not decompose under NFKD but have plain-Latin keyboard spellings.
_LETTERS = {
    "æ": "ae", "ø": "o", "å": "a", "ŋ": "n", "đ": "d", "ŧ": "t", "ʒ": "z", "ǯ": "z",
    "ß": "ss", "ä": "a", "ö": "o", "ü": "u",
}


def strip_markers(name: str) -> str:
    """``'Holmestrand (f.o.m. 2018, t.o.m. 2019)'`` → ``'Holmestrand'``; keeps other parentheses."""
    return re.sub(r"\s+", " ", _MARKER.sub("", name.replace("\xa0", " "))).strip()


def reform_years(name: str) -> tuple[int | None, int | None]:
    """The (from, to) years a published name carries, e.g. ``(None, 2019)`` for ``t.o.m. 2019``."""
    start = end = None
    for kind, year in _REFORM_YEARS.findall(name):
        if kind.lower().startswith("f"):
            start = int(year)
        else:
            end = int(year)
    return start, end


def name_forms(name: str) -> list[str]:
    """All language forms of a name, markers and disambiguators removed."""
    base = _PAREN.sub("", strip_markers(name)).strip()
    forms = [part.strip() for part in base.split(" - ") if part.strip()]
    return forms or [base]


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A search key: lower case, no diacritics, æ→ae, ø→o, å→a; 'aa'→'a', 'oe'→'o'.

    Both ``fold('Tromsø')`` and ``fold('Tromso')`` give ``'tromso'``; ``fold('Bærum')`` and
    ``fold('Baerum')`` give ``'baerum'``; ``fold('Kárášjohka')`` gives ``'karasjohka'``.
    """
    text = text.replace("\xa0", " ").strip().lower()
    out = []
    for ch in text:
        if ch in _LETTERS:
            out.append(_LETTERS[ch])
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    folded = "".join(out)
    folded = folded.replace("aa", "a").replace("oe", "o")
    return re.sub(r"[^a-z0-9]+", " ", folded).strip()


@functools.cache
def names_in_use() -> dict[str, tuple[str, ...]]:
    """Municipality code → Sami/Kven names in established use that are not part of the
    official name (``data/navneformer_i_bruk.csv``, each with its source). Search only."""
    text = resources.files("bliatlas.regions").joinpath("data/navneformer_i_bruk.csv") \
        .read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["kommunenummer"], []).append(row["navn"])
    return {code: tuple(forms) for code, forms in out.items()}


LANGUAGE_NAMES = {"se": "nordsamisk", "smj": "lulesamisk", "sma": "sørsamisk",
                  "fkv": "kvensk"}
_languages: dict[str, str] | None = None


def _form_languages() -> dict[str, str]:
    """Folded non-Norwegian name form → its language code (``data/navnespraak.csv``)."""
    global _languages
    if _languages is None:
        from importlib import resources

        text = resources.files("bliatlas.regions").joinpath("data/navnespraak.csv").read_text(
            encoding="utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        _languages = {fold(row["form"]): row["language"] for row in csv.DictReader(lines)}
    return _languages


def language_forms(name: str) -> list[tuple[str, str]]:
    """The forms of an official name with their languages, the Norwegian form first:
    ``'Aarborte - Hattfjelldal'`` → ``[('Hattfjelldal', 'nb'), ('Aarborte', 'sma')]``.
    A name none of whose forms is known as Norwegian keeps its first form first."""
    langs = _form_languages()
    tagged = [(form, langs.get(fold(form), "nb")) for form in name_forms(name)]
    norwegian = [t for t in tagged if t[1] == "nb"][:1] or tagged[:1]
    return norwegian + [t for t in tagged if t is not norwegian[0]]


def display_name(name: str) -> str:
    """The name as lists show it: the Norwegian form, the others in parentheses
    (``'Hattfjelldal (Aarborte)'``, ``'Troms (Romsa, Tromssa)'``); others unchanged."""
    forms = language_forms(name)
    if len(forms) < 2:
        return name
    return f"{forms[0][0]} ({', '.join(f for f, _ in forms[1:])})"


def name_sort_key(name: str) -> tuple:
    """Norwegian alphabetical order of official names by their Norwegian form
    (``Aarborte - Hattfjelldal`` sorts as Hattfjelldal, ``Årdal`` after ``Øygarden``)."""
    return sort_key(language_forms(name)[0][0]), sort_key(name)
