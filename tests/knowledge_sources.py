"""The source documents of the knowledge base, read from ../shared/seeds for the tests.

The product cites documents by key (``bliatlas.knowledge.vocab.DOCUMENTS``) and never
knows file names; only the tests map keys to the files they check the content against.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from bliatlas.knowledge.fidelity import SourceText, clean_source

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED_FILES = {
    "arbeidsverksted-2023": "000",
    "temahefte-2019": "001",
    "nibr-casestudie-2015": "002",
    "fylkeskommunene-2025": "003",
    "nibr-kunnskapsoppsummering-2015": "004",
}


@cache
def source_texts() -> dict[str, str]:
    texts = {}
    for key, prefix in SEED_FILES.items():
        (path,) = SEEDS.glob(f"{prefix}_*.txt")
        texts[key] = path.read_text(encoding="utf-8")
    return texts


@cache
def source_index() -> SourceText:
    return SourceText(source_texts())


# Chapter headings of the county evaluation, as the scanned text has them ("/." is "7.").
CHAPTERS = {
    "Sammendrag": r"^\s*Sammendrag\s*$",
    "Kapittel 1": r"^\s*1\. Bakgrunn og metoder",
    "Kapittel 2": r"^\s*2\. Fylkeskommunale planer og",
    "Kapittel 3": r"^\s*3\. Organisering og samarbeid",
    "Kapittel 4": r"^\s*4\. Informasjonsfaglige",
    "Kapittel 5": r"^\s*5\. .konomiske virkemidler og",
    "Kapittel 6": r"^\s*6\. Regionreformens konsekvenser",
    "Kapittel 7": r"^\s*/\. Oppsummering og",
    "Vedlegg 1": r"^\s*Vedlegg 1: Intervjuguide",
    "Vedlegg 2": r"^\s*Vedlegg 2: Om fylkeskommunal",
    "Vedlegg 3": r"^3: Kunnskapsgrunnlag",
    "Vedlegg 4": r"^\s*Vedlegg 4: Regionale",
    "Vedlegg 5": r"^Vedlegg 5: Oversikt",
}


@cache
def chapter_index() -> SourceText:
    """The county evaluation split by chapter, one 'document' per chapter label."""
    lines = source_texts()["fylkeskommunene-2025"].splitlines()
    starts = []
    for label, pattern in CHAPTERS.items():
        (line,) = [n for n, text in enumerate(lines) if re.match(pattern, text)]
        starts.append((line, label))
    starts.sort()
    spans = {}
    for (start, label), (end, _) in zip(starts, [*starts[1:], (len(lines), "")]):
        spans[label] = "\n".join(lines[start:end])
    return SourceText(spans)


@cache
def booklet_pages() -> list[tuple[int, str]]:
    """The booklet's table of contents: (page, heading), in page order."""
    text = clean_source(source_texts()["temahefte-2019"])
    head = text[:text.index("Utvikling i folketallet")]
    return sorted((int(m.group(1)), m.group(2).strip())
                  for m in re.finditer(r"^\s*-?\s*s\. (\d+) (.+)$", head, re.MULTILINE))
