"""Norwegian (bokmål) full-text search over the knowledge entries, in memory.

How a word becomes an index term: lower-case, Snowball Norwegian stem, then *folded*
(æ→ae, ø→o, å→a, accents dropped, "aa"→"a", "oe"→"o"), so that "språkopplæring",
"spraakopplaering" and "sprakopplaering" meet. Long compounds are split against the
vocabulary ("arbeidsinnvandrere" → "arbeid" + linking -s- + "innvandrere"), both when
indexing (a compound also counts, at half weight, for its parts) and in queries. Query
words not in the vocabulary are matched with edit distance 1 (5–7 letters) or 2 (8+).

Ranking is BM25F: title, summary, labels (themes, target groups, actors, places) and
body (with the type-specific prose fields) weighted 3 : 2 : 1.5 : 1, with a coverage
factor rewarding entries that match more of the query words. Facets are counted over
the hits; filters narrow on facet values.
"""

from __future__ import annotations

import functools
import html
import math
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import snowballstemmer

from bliatlas.errors import NotFound, UserError
from bliatlas.knowledge.loader import Region
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.vocab import (
    ACTORS,
    CENTRALITY_LABELS,
    COUNTY_CODES_2024,
    FACETS,
    TARGET_GROUPS,
    THEMES,
    TYPES,
    type_label,
)

# Common bokmål function words (after folding), never index terms.
STOPWORDS = frozenset({
    "og", "i", "jeg", "det", "at", "en", "et", "den", "til", "er", "som", "pa", "de", "med",
    "han", "av", "ikke", "ikkje", "der", "sa", "var", "meg", "seg", "men", "ett", "har", "om",
    "vi", "min", "mitt", "ha", "hadde", "hun", "na", "over", "da", "ved", "fra", "du", "ut",
    "sin", "dem", "oss", "opp", "man", "kan", "hans", "hvor", "eller", "hva", "skal", "selv",
    "sjol", "her", "alle", "vil", "bli", "ble", "blitt", "kunne", "inn", "nar", "vaere", "kom",
    "noen", "noe", "ville", "dere", "deres", "hos", "ogsa", "blir", "hvordan", "hvorfor", "hvem",
    "hvilke", "hvilken", "hvilket", "etter", "under", "mellom", "mot", "uten", "sine", "sitt",
    "slik", "mye", "mer", "mange", "andre", "annen", "annet", "for", "hver", "enn", "disse",
    "dette", "denne", "deg", "din", "ditt", "dine", "vart", "vare", "meget", "mest", "bare",
    "ja", "nei", "nok", "enda", "eit", "ei", "kva", "korleis", "kven", "kor", "dei", "ho", "eg",
    "me", "the", "of", "and", "to", "in", "on", "with", "a", "an", "is", "are", "how", "what"
})

# General query expansions (English-influenced and everyday words -> the terms the
# content uses). Expansions are added with a lower weight next to the word itself.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "jobb": ("arbeid", "sysselsetting"),
    "jobbe": ("arbeid",),
    "job": ("jobb", "arbeid"),
    "jobs": ("jobb", "arbeid"),
    "work": ("arbeid",),
    "employment": ("sysselsetting", "arbeid"),
    "sysselsetting": ("arbeid",),
    "ansettelse": ("jobb", "arbeid"),
    "norskkurs": ("norskopplæring", "språkopplæring"),
    "sprakkurs": ("språkopplæring", "norskopplæring"),
    "norskopplaering": ("språkopplæring", "norskkurs"),
    "sprakopplaering": ("norskopplæring", "norskkurs"),
    "language": ("språk",),
    "norwegian": ("norsk",),
    "mentoring": ("mentor", "mentorordning"),
    "mentorprogram": ("mentor", "mentorordning"),
    "housing": ("bolig",),
    "bosted": ("bolig",),
    "hus": ("bolig",),
    "integration": ("integrering", "inkludering"),
    "integrasjon": ("integrering", "inkludering"),
    "inclusion": ("inkludering",),
    "integrering": ("inkludering",),
    "inkludering": ("integrering",),
    "refugee": ("flyktning",),
    "refugees": ("flyktninger",),
    "immigrant": ("innvandrer",),
    "immigrants": ("innvandrere",),
    "migrant": ("innvandrer",),
    "migranter": ("innvandrere",),
    "volunteer": ("frivillig",),
    "volunteering": ("frivillighet",),
    "dugnad": ("frivillig",),
    "startup": ("gründer", "etablerer"),
    "entrepreneur": ("gründer",),
    "entreprenor": ("gründer",),
    "entreprenorskap": ("gründer", "gründerskap"),
    "funding": ("tilskudd", "finansiering"),
    "stotte": ("tilskudd",),
    "stotteordning": ("tilskudd", "tilskuddsordning"),
    "grant": ("tilskudd",),
    "grants": ("tilskudd",),
    "penger": ("tilskudd", "finansiering"),
    "midler": ("tilskudd", "prosjektmidler"),
    "network": ("nettverk",),
    "networking": ("nettverk",),
    "library": ("bibliotek",),
    "welcome": ("velkomst",),
    "velkommen": ("velkomst",),
    "youth": ("ungdom",),
    "unge": ("ungdom",),
    "women": ("kvinner",),
    "damer": ("kvinner",),
    "recruitment": ("rekruttering",),
    "rekruttere": ("rekruttering",),
    "utdanning": ("kvalifisering", "utdanning"),
    "education": ("utdanning",),
    "godkjenning": ("kvalifisering",),
    "kommunen": ("kommune",),
    "fylket": ("fylkeskommune",),
    "county": ("fylkeskommune",),
    "municipality": ("kommune",),
    "statsforvalteren": ("statsforvalter", "fylkesmann"),
    "fylkesmannen": ("statsforvalter",),
}

FIELD_WEIGHTS: dict[str, float] = {"title": 3.0, "summary": 2.0, "labels": 1.5, "body": 1.0}
FIELD_B: dict[str, float] = {"title": 0.3, "summary": 0.6, "labels": 0.3, "body": 0.75}
K1 = 1.2
COMPOUND_PART_WEIGHT = 0.5  # an indexed compound also counts this much for each part
MIN_PART = 4  # shortest compound part considered
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
SNIPPET_TOKENS = 32
WORD_CACHE_SIZE = 50_000

_FOLD_TABLE = str.maketrans({"æ": "ae", "ä": "ae", "ø": "o", "ö": "o", "å": "a", "ß": "ss"})


@functools.lru_cache(maxsize=100_000)
def fold(text: str) -> str:
    """Lower-case, æ→ae, ø→o, å→a, strip accents, aa→a, oe→o (ASCII result)."""
    text = text.lower().translate(_FOLD_TABLE)
    if text.isascii():
        return text.replace("aa", "a").replace("oe", "o")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("aa", "a").replace("oe", "o")


def tokenize(text: str) -> list[tuple[int, int, str]]:
    """Words of ``text`` as (start, end, lower-cased word)."""
    return [(m.start(), m.end(), m.group().lower()) for m in WORD_RE.finditer(text)]


def markdown_to_text(markdown: str) -> str:
    """Plain text of a Markdown body for snippets: no heading marks, emphasis or link targets."""
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", markdown, flags=re.MULTILINE)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"(?<!\w)_(\S[^_]*\S|\S)_(?!\w)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def damerau_levenshtein(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, returning ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


class Analyzer:
    """Turns words into folded stems, memoising the Snowball stemmer."""

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("norwegian")
        self._cache: dict[str, str] = {}

    def term(self, word: str) -> str:
        """The index term of a lower-cased word.

        Snowball is applied twice (it strips "innvandrere" to "innvandrer", and that to
        "innvandr"), the definite plural "-erne" is first cut to "-er", and a final doubled
        consonant is made single ("ungdommer" → "ungdomm" → "ungdom").
        """
        t = self._cache.get(word)
        if t is None:
            w = word[:-2] if len(word) > 6 and word.endswith("erne") else word
            stem = self._stemmer.stemWord(self._stemmer.stemWord(w))
            if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiouyæøå":
                stem = stem[:-1]
            t = fold(stem)
            if len(self._cache) >= WORD_CACHE_SIZE:
                self._cache.clear()  # bounded: query words are arbitrary input
            self._cache[word] = t
        return t

    @staticmethod
    def is_stopword(word: str) -> bool:
        return fold(word) in STOPWORDS


@dataclass
class Snippet:
    """A short passage as segments of (text, highlighted)."""

    segments: list[tuple[str, bool]]

    def html(self) -> str:
        return "".join(f"<mark>{html.escape(t)}</mark>" if hit else html.escape(t)
                       for t, hit in self.segments)

    def text(self, start: str = "**", end: str = "**") -> str:
        return "".join(f"{start}{t}{end}" if hit else t for t, hit in self.segments)

    def plain(self) -> str:
        return "".join(t for t, _ in self.segments)


@dataclass
class FacetValue:
    value: str
    label: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label, "count": self.count}


@dataclass
class Hit:
    entry: Entry
    score: float
    snippet: Snippet
    matched_terms: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "type": self.entry.type,
            "type_label": self.entry.type_label,
            "title": self.entry.title,
            "summary": self.entry.summary,
            "score": round(self.score, 4),
            "snippet_html": self.snippet.html(),
            "snippet_text": self.snippet.text(),
            "themes": self.entry.themes,
            "places": [p.to_dict() for p in self.entry.places],
        }


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    interpretation: list[str] = field(default_factory=list)
    took_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "results": [h.to_dict() for h in self.hits],
            "facets": {
                key: {"label": FACETS[key], "values": [v.to_dict() for v in values]}
                for key, values in self.facets.items()
            },
            "interpretation": self.interpretation,
            "took_ms": round(self.took_ms, 3),
        }


@dataclass
class _Group:
    """One query word: alternatives (each a list of (term, weight) summed), best one counts."""

    word: str
    alternatives: list[list[tuple[str, float]]]
    note: str


class KnowledgeIndex:
    """The in-memory index over all entries, with facets from the region registry if given."""

    def __init__(self, entries: Sequence[Entry], regions: Mapping[str, Region] | None = None):
        started = time.perf_counter()
        self.entries = sorted(entries, key=lambda e: e.id)
        self.by_id = {e.id: e for e in self.entries}
        self.regions = dict(regions or {})
        self.has_regions = bool(self.regions)
        self.analyzer = Analyzer()
        self._word_groups: dict[str, _Group] = {}
        self._build()
        self.build_seconds = time.perf_counter() - started

    # -- building ---------------------------------------------------------------------
    def _field_texts(self, e: Entry) -> dict[str, str]:
        places = []
        for p in e.places:
            if p.kommune:
                region = self.regions.get(p.kommune)
                places.append(region.name if region else "")
            elif p.fylke:
                region = self.regions.get(p.fylke)
                places.append(region.name if region else COUNTY_CODES_2024.get(p.fylke, ""))
            elif p.navn:
                places.append(p.navn)
        return {
            "title": e.title,
            "summary": e.summary,
            "labels": e.label_text() + " " + " ".join(places),
            "body": markdown_to_text(e.body) + "\n" + e.detail_text(),
        }

    def _build(self) -> None:
        an = self.analyzer
        n = len(self.entries)
        tokens: list[dict[str, list[str]]] = []  # per doc, per field: lower-cased words
        surface_term: dict[str, str] = {}
        terms: set[str] = set()
        snippet_texts: list[str] = []
        for e in self.entries:
            texts = self._field_texts(e)
            per_field: dict[str, list[str]] = {}
            for name, text in texts.items():
                words = [w for _, _, w in tokenize(text) if not an.is_stopword(w)]
                per_field[name] = words
                for w in words:
                    t = an.term(w)
                    surface_term[fold(w)] = t
                    terms.add(t)
            tokens.append(per_field)
            snippet_texts.append(e.summary + " " + markdown_to_text(e.body))
        self.terms_vocab = terms
        self._surface_term = surface_term
        self._term_prefixes = {t[:MIN_PART] for t in terms}
        self.heads = {w for w in set(surface_term) | terms if len(w) >= MIN_PART}
        self._split_cache: dict[str, list[str] | None] = {}

        # Per term: weighted, length-normalised term frequency per doc (BM25F).
        avg_len = {f: max(1.0, sum(len(t[f]) for t in tokens) / max(1, n)) for f in FIELD_WEIGHTS}
        tfw: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self.doc_terms: list[dict[str, set[str]]] = []  # word -> its terms (incl. parts)
        for d, per_field in enumerate(tokens):
            word_terms: dict[str, set[str]] = {}
            for name, words in per_field.items():
                norm = 1 - FIELD_B[name] + FIELD_B[name] * len(words) / avg_len[name]
                w_field = FIELD_WEIGHTS[name] / norm
                counts: Counter[str] = Counter()
                for w in words:
                    ts = word_terms.get(w)
                    if ts is None:
                        ts = self._word_terms(w)
                        word_terms[w] = ts
                    main = an.term(w)
                    counts[main] += 1.0
                    for part in ts - {main}:
                        counts[part] += COMPOUND_PART_WEIGHT
                for t, c in counts.items():
                    tfw[t][d] += w_field * c
            self.doc_terms.append(word_terms)

        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for t, docs in tfw.items():
            df = len(docs)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            ids = np.fromiter(docs.keys(), dtype=np.int32, count=df)
            tf = np.fromiter(docs.values(), dtype=np.float64, count=df)
            self.postings[t] = (ids, idf * tf * (K1 + 1) / (K1 + tf))
        self.vocab = set(self.postings)

        # Typo tolerance (symmetric deletion): every folded word of the content with its
        # one-letter deletions; a query word's deletions (up to two) are looked up here and
        # the candidates verified by edit distance. Two letters *missing* from a query word
        # are thus not found (indexing two-letter deletions would triple the build time).
        self._deletes: dict[str, set[str]] = defaultdict(set)
        for f in self._surface_term:
            if len(f) >= 5:
                for v in _deletes(f, 1):
                    self._deletes[v].add(f)

        # Snippets: precomputed tokens of summary + body with their terms.
        self._snippet_src: list[tuple[str, list[tuple[int, int, frozenset[str]]]]] = []
        self._term_positions: list[dict[str, list[int]]] = []
        for d, text in enumerate(snippet_texts):
            toks = []
            for s, e_, w in tokenize(text):
                ts = self.doc_terms[d].get(w)
                if ts is None:
                    ts = self._word_terms(w) if not an.is_stopword(w) else set()
                toks.append((s, e_, frozenset(ts)))
            self._snippet_src.append((text, toks))
            where: dict[str, list[int]] = defaultdict(list)
            for i, (_, _, ts) in enumerate(toks):
                for t in ts:
                    where[t].append(i)
            self._term_positions.append(dict(where))

        # Listing order without a query: by type (as in TYPES), then title.
        type_rank = {t: k for k, t in enumerate(TYPES)}
        listing = sorted(range(n), key=lambda d: (type_rank[self.entries[d].type],
                                                  self.entries[d].title))
        self._list_rank = np.empty(n, dtype=np.int64)
        self._list_rank[listing] = np.arange(n)

        # Facet values per entry.
        self.facet_values: list[dict[str, list[str]]] = [self._facets_of(e) for e in self.entries]
        # Facet membership as 0/1 matrices (entries x values) so counting is one product.
        self._facet_keys = [k for k in FACETS
                            if k not in ("fylke", "sentralitet") or self.has_regions]
        self._facet_matrix: dict[str, tuple[list[str], np.ndarray]] = {}
        for key in self._facet_keys:
            values = sorted({v for fv in self.facet_values for v in fv[key]})
            col = {v: j for j, v in enumerate(values)}
            m = np.zeros((n, len(values)), dtype=np.float64)
            for d, fv in enumerate(self.facet_values):
                for v in fv[key]:
                    m[d, col[v]] = 1.0
            self._facet_matrix[key] = (values, m)

    def _word_terms(self, word: str) -> set[str]:
        """The terms a document word counts for: its own, plus compound parts if it splits."""
        main = self.analyzer.term(word)
        parts = self._split(fold(word)) if len(word) >= 2 * MIN_PART else None
        return {main, *parts} if parts else {main}

    def _split(self, folded: str, fuzzy: bool = False) -> list[str] | None:
        """Split a folded compound into known terms: head [+ s/e] + tail (tail may split again)."""
        key = folded + ("~" if fuzzy else "")
        if key in self._split_cache:
            return self._split_cache[key]
        best: list[str] | None = None
        # Longest head first: fewest, most specific parts.
        for i in range(len(folded) - MIN_PART, MIN_PART - 1, -1):
            head, tail = folded[:i], folded[i:]
            head_term = self._head_term(head)
            if head_term is None:
                continue
            tail_terms = self._tail_terms(tail, fuzzy)
            if tail_terms is None:
                continue
            best = [head_term, *tail_terms]
            break
        if len(self._split_cache) >= WORD_CACHE_SIZE:
            self._split_cache.clear()  # bounded: query words are arbitrary input
        self._split_cache[key] = best
        return best

    def _head_term(self, head: str) -> str | None:
        for cand in (head, head[:-1] if head[-1:] in "se" else None):
            if cand and len(cand) >= MIN_PART and cand in self.heads:
                t = self.analyzer.term(cand)
                if t in self.terms_vocab:
                    return t
        return None

    def _tail_terms(self, tail: str, fuzzy: bool) -> list[str] | None:
        if len(tail) < MIN_PART:
            return None
        known = self._surface_term.get(tail)
        if known is not None and len(known) >= 3:
            return [known]
        # Stemming is the costly step: only for tails that start like some indexed term.
        if tail[:MIN_PART] in self._term_prefixes:
            t = self.analyzer.term(tail)
            if t in self.terms_vocab and len(t) >= 3:
                return [t]
        if fuzzy and len(tail) >= 6:
            cands = self._fuzzy(tail, 1)
            if cands:
                return [cands[0][0]]
        if len(tail) >= 2 * MIN_PART:
            rest = self._split(tail, fuzzy)
            if rest:
                return rest
        return None

    def _facets_of(self, e: Entry) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {
            "type": [e.type],
            "tema": list(e.themes),
            "malgruppe": list(e.target_groups),
            "aktor": list(e.actors),
        }
        if self.has_regions:
            counties: list[str] = []
            centrality: list[str] = []
            for p in e.places:
                if p.kommune and p.kommune in self.regions:
                    r = self.regions[p.kommune]
                    if r.county_code and r.county_code not in counties:
                        counties.append(r.county_code)
                    if r.centrality is not None and str(r.centrality) not in centrality:
                        centrality.append(str(r.centrality))
                elif p.fylke and p.fylke not in counties:
                    counties.append(p.fylke)
            values["fylke"] = counties
            values["sentralitet"] = centrality
        return values

    # -- querying -----------------------------------------------------------------------
    def _fuzzy(self, folded: str, max_d: int) -> list[tuple[str, int]]:
        """Index terms of content words within ``max_d`` edits of the folded word ``folded``,
        closest (then commonest) first."""
        cands: set[str] = set()
        for v in _deletes(folded, max_d):
            cands |= self._deletes.get(v, set())
        best: dict[str, int] = {}
        for c in cands:
            d = damerau_levenshtein(folded, c, max_d)
            if 0 < d <= max_d:
                t = self._surface_term[c]
                best[t] = min(d, best.get(t, d))
        return sorted(best.items(), key=lambda td: (td[1], -len(self.postings[td[0]][0]), td[0]))

    def _resolve_unknown(self, folded: str) -> tuple[list[list[tuple[str, float]]], str]:
        """Alternatives for a word whose term is not indexed: a one-letter typo, a compound
        of known words, a two-letter typo, or a compound with a typo in its last part."""
        steps: list[tuple[str, int]] = [("fuzzy", 1), ("split", 0), ("fuzzy", 2), ("split", 1)]
        for kind, level in steps:
            if kind == "fuzzy":
                if len(folded) < (5 if level == 1 else 8):
                    continue
                cands = self._fuzzy(folded, level)
                if cands:
                    close = [t for t, d in cands if d == cands[0][1]][:3]
                    weight = 0.8 if level == 1 else 0.6
                    return [[(t, weight)] for t in close], "~" + "|".join(close)
            elif len(folded) >= 2 * MIN_PART + level:
                parts = self._split(folded, fuzzy=bool(level))
                if parts:
                    return [[(p, 1.0) for p in parts if p in self.vocab]], "+".join(parts)
        return [], ""

    def analyse_query(self, query: str) -> list[_Group]:
        an = self.analyzer
        groups: list[_Group] = []
        seen: set[str] = set()
        for _, _, word in tokenize(query):
            if an.is_stopword(word) or word in seen:
                continue
            seen.add(word)
            cached = self._word_groups.get(word)
            if cached is None:
                cached = self._analyse_word(word)
                if len(self._word_groups) >= WORD_CACHE_SIZE:
                    self._word_groups.clear()
                self._word_groups[word] = cached
            groups.append(cached)
        return groups

    def _analyse_word(self, word: str) -> _Group:
        """How one query word is matched (memoised: typo and compound look-ups cost most)."""
        an = self.analyzer
        term = an.term(word)
        folded = fold(word)
        alts: list[list[tuple[str, float]]] = []
        note = ""
        if term in self.vocab:
            alts.append([(term, 1.0)])
            note = term
            parts = self._split(folded) if len(folded) >= 2 * MIN_PART else None
            if parts:
                # A decomposed match is worth at most half an exact one.
                alts.append([(p, 0.5 / len(parts)) for p in parts if p in self.vocab])
        else:
            alts, note = self._resolve_unknown(folded)
        for syn in SYNONYMS.get(folded, ()):
            for _, _, sw in tokenize(syn):
                st = an.term(sw)
                if st in self.vocab and st != term:
                    alts.append([(st, 0.7)])
        if alts:
            return _Group(word, alts, note or "synonym")
        return _Group(word, [], "ukjent")

    def _check_filters(self, filters: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
        checked: dict[str, set[str]] = {}
        allowed_by_facet: dict[str, Mapping[str, str]] = {
            "type": {k: v[1] for k, v in TYPES.items()},
            "tema": THEMES,
            "malgruppe": TARGET_GROUPS,
            "aktor": ACTORS,
            "fylke": COUNTY_CODES_2024,
            "sentralitet": CENTRALITY_LABELS,
        }
        for key, values in filters.items():
            values = [v for v in values if v not in (None, "")]
            if not values:
                continue
            if key not in allowed_by_facet:
                raise UserError(f"ukjent filter {key!r}; forventet ett av: {', '.join(FACETS)}")
            if key in ("fylke", "sentralitet") and not self.has_regions:
                raise UserError(f"filteret {key!r} krever regionregisteret; kjør `bli import` "
                                "og oppgi databasen med --database")
            allowed = allowed_by_facet[key]
            for v in values:
                if v not in allowed:
                    raise UserError(f"ukjent verdi {v!r} for filteret {key!r}; forventet ett av: "
                                    f"{', '.join(allowed)}")
            checked[key] = set(values)
        return checked

    def facet_label(self, facet: str, value: str) -> str:
        if facet == "type":
            return type_label(value)
        if facet == "tema":
            return THEMES.get(value, value)
        if facet == "malgruppe":
            return TARGET_GROUPS.get(value, value)
        if facet == "aktor":
            return ACTORS.get(value, value)
        if facet == "fylke":
            return COUNTY_CODES_2024.get(value, value)
        if facet == "sentralitet":
            return CENTRALITY_LABELS.get(value, f"Sentralitet {value}")
        return value

    def search(self, query: str = "", filters: Mapping[str, Iterable[str]] | None = None,
               limit: int = 10, offset: int = 0) -> SearchResult:
        """Ranked hits for ``query`` (all entries, by type and title, if it has no words)."""
        started = time.perf_counter()
        checked = self._check_filters(filters or {})
        n = len(self.entries)
        facet_masks: dict[str, np.ndarray] = {}
        for key, wanted in checked.items():
            values, m = self._facet_matrix[key]
            cols = [j for j, v in enumerate(values) if v in wanted]
            facet_masks[key] = m[:, cols].sum(axis=1) > 0 if cols else np.zeros(n, dtype=bool)
        mask = np.ones(n, dtype=bool)
        groups = self.analyse_query(query)
        matched_terms: set[str] = set()
        if groups:
            total = np.zeros(n)
            covered = np.zeros(n)
            for g in groups:
                best = np.zeros(n)
                # How fully the word is matched: 1 for the word itself, less for a typo
                # correction, a synonym or only some parts of a compound.
                coverage = np.zeros(n)
                for alt in g.alternatives:
                    s = np.zeros(n)
                    w = np.zeros(n)
                    for term, weight in alt:
                        ids, contrib = self.postings[term]
                        s[ids] += weight * contrib
                        w[ids] += weight
                        matched_terms.add(term)
                    np.maximum(best, s, out=best)
                    np.maximum(coverage, w, out=coverage)
                total += best
                covered += np.minimum(coverage, 1.0)
            scores = total * (0.25 + 0.75 * covered / len(groups))
            mask &= scores > 0
        else:
            scores = np.zeros(n)
        # Facet counts are disjunctive: each facet counts the hits under every *other*
        # filter, so the alternatives to a chosen value stay visible.
        facets = self._count_facets(mask, facet_masks)
        for m in facet_masks.values():
            mask &= m
        hit_ids = np.flatnonzero(mask)
        if groups:
            # Highest score first; equal scores in id order (entries are held sorted by id).
            order = [int(i) for i in hit_ids[np.argsort(-scores[hit_ids], kind="stable")]]
        else:
            order = [int(i) for i in hit_ids[np.argsort(self._list_rank[hit_ids])]]
        matched_list = sorted(matched_terms)
        hits = [
            Hit(entry=self.entries[i], score=float(scores[i]),
                snippet=self.snippet(i, matched_terms), matched_terms=matched_list)
            for i in order[offset:offset + limit]
        ]
        interpretation = [f"{g.word} → {g.note}" for g in groups]
        return SearchResult(query=query, total=len(order), hits=hits, facets=facets,
                            interpretation=interpretation,
                            took_ms=(time.perf_counter() - started) * 1000)

    def _count_facets(self, base: np.ndarray, facet_masks: Mapping[str, np.ndarray],
                      ) -> dict[str, list[FacetValue]]:
        out: dict[str, list[FacetValue]] = {}
        for key in self._facet_keys:
            mask = base.copy()
            for other, m in facet_masks.items():
                if other != key:
                    mask &= m
            values, matrix = self._facet_matrix[key]
            counts = mask.astype(np.float64) @ matrix
            found = [(values[j], int(c)) for j, c in enumerate(counts) if c > 0]
            found.sort(key=lambda vc: (-vc[1], vc[0]))
            out[key] = [FacetValue(v, self.facet_label(key, v), c) for v, c in found]
        return out

    def snippet(self, doc: int, terms: set[str], size: int = SNIPPET_TOKENS) -> Snippet:
        """The passage of summary + body with most distinct matched terms, hits marked."""
        text, toks = self._snippet_src[doc]
        if not toks:
            return Snippet([(text, False)])
        positions = self._term_positions[doc]
        # The first 64 hits are plenty to find the best window, and bound the work.
        hit_at = sorted({i for t in terms for i in positions.get(t, ())})[:64]
        best_start = 0
        if hit_at:
            # Sliding window over the hits: the window starting at each hit, counting the
            # distinct matched terms in it (then the number of hits).
            best_key = (-1, -1)
            matched = [toks[i][2] & terms for i in hit_at]
            counts: dict[str, int] = {}
            distinct = 0
            end = 0
            n_hits = len(hit_at)
            for a, start in enumerate(hit_at):
                while end < n_hits and hit_at[end] < start + size:
                    for t in matched[end]:
                        c = counts.get(t, 0)
                        if c == 0:
                            distinct += 1
                        counts[t] = c + 1
                    end += 1
                key = (distinct, end - a)
                if key > best_key:
                    best_start, best_key = start, key
                for t in matched[a]:
                    counts[t] -= 1
                    if counts[t] == 0:
                        distinct -= 1
            # Start a few words before the first hit, for context, and fill the window.
            best_start = max(0, min(best_start - 4, len(toks) - size))
        stop = min(len(toks), best_start + size)
        start_char = 0 if best_start == 0 else toks[best_start][0]
        end_char = toks[stop - 1][1] if stop < len(toks) else len(text)
        segments: list[tuple[str, bool]] = []
        if best_start > 0:
            segments.append(("…", False))
        pos = start_char
        for i in hit_at:
            if best_start <= i < stop:
                s, e, _ = toks[i]
                if s > pos:
                    segments.append((text[pos:s], False))
                segments.append((text[s:e], True))
                pos = e
        if end_char > pos:
            segments.append((text[pos:end_char], False))
        if end_char < len(text):
            segments.append(("…", False))
        return Snippet(segments)

    def get(self, entry_id: str) -> Entry:
        entry = self.by_id.get(entry_id)
        if entry is None:
            raise NotFound(f"fant ingen kunnskapsoppføring med id {entry_id!r}")
        return entry
