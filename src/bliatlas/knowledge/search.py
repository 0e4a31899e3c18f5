"""Norwegian (bokmål) full-text search over the knowledge entries, in memory.

How a word becomes an index term: lower-case, Snowball Norwegian stem, then *folded*
(æ→ae, ø→o, å→a, accents dropped, "aa"→"a", "oe"→"o"), so that "språkopplæring",
"spraakopplaering" and "sprakopplaering" meet. Long compounds are split against the
vocabulary ("arbeidsinnvandrere" → "arbeid" + linking -s- + "innvandrere"), both when
indexing (a compound also counts, at half weight, for its parts) and in queries. Query
words not in the vocabulary are matched with edit distance 1 (5–7 letters) or 2 (8+).

Nynorsk query words the content (bokmål) does not contain are tried in their bokmål
form: a short list of common words ("tilskot" → "tilskudd", "korleis" → "hvordan") and
the regular endings (-ar → -er, -ane → -ene, -inga → -ingen, -leg → -lig, kj → k), both
before typo tolerance.

Place names are resolved through the region registry (``bliatlas.regions``): a query
word (or two or three adjacent words) equal to any official form of a municipality or
county name (Norwegian, Sami, Kven; folded like the registry folds them), or an
unknown word the registry's own typo-tolerant search places, marks a place. Entries
about that place weigh three times as much, entries in its county twice, and entries
about the place count as matching that word even where the text does not name it.

Ranking is BM25F: title, summary, labels (themes, target groups, actors, places) and
body (with the type-specific prose fields) weighted 3 : 2 : 1.5 : 1, times a coverage
factor that rewards entries matching more of the query words. An entry is a hit only if
it matches enough of the words: all of them for one or two words, 60 % (rounded up) for
three or more, so a multi-word query does not return every entry that shares one common
word. Each hit says why it matched: which query word, in which fields, and which place.
Facets are counted over the hits; filters narrow on facet values.
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
from bliatlas.knowledge.citations import plain
from bliatlas.knowledge.loader import Region
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.vocab import (
    ACTOR_NAMES,
    ACTORS,
    CENTRALITY_LABELS,
    COST_CLASSES,
    COUNTY_CODES_2024,
    EVIDENCE_LEVELS,
    FACETS,
    TARGET_GROUPS,
    THEMES,
    TYPES,
    type_label,
)
from bliatlas.regions import names as region_names
from bliatlas.regions.registry import Registry

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

# Common nynorsk words whose bokmål form differs beyond the regular endings (folded).
NYNORSK: dict[str, str] = {
    "tilskot": "tilskudd", "tilskota": "tilskuddene", "tilskotet": "tilskuddet",
    "tilskotsordning": "tilskuddsordning", "tilskotsordningar": "tilskuddsordninger",
    "korleis": "hvordan", "kvifor": "hvorfor", "kva": "hva", "kven": "hvem", "kor": "hvor",
    "ikkje": "ikke", "eit": "et", "ein": "en", "berre": "bare", "mykje": "mye",
    "saman": "sammen", "busetjing": "bosetting", "busetting": "bosetting", "busette": "bosette",
    "busett": "bosatt", "busetjingskommune": "bosettingskommune", "bustad": "bolig",
    "bustader": "boliger", "heim": "hjem", "born": "barn", "borna": "barna",
    "tilsett": "ansatt", "tilsette": "ansatte", "nytilsette": "nyansatte",
    "verksemd": "virksomhet", "verksemder": "virksomheter", "teneste": "tjeneste",
    "tenester": "tjenester", "tenestene": "tjenestene", "tilbod": "tilbud",
    "moglegheit": "mulighet", "moglegheiter": "muligheter", "mogleg": "mulig",
    "kunnskapsgrunnlag": "kunnskapsgrunnlag", "rettleiing": "veiledning",
    "karriererettleiing": "karriereveiledning", "sysselsetjing": "sysselsetting",
    "arbeidsinnvandrar": "arbeidsinnvandrer", "innvandrarar": "innvandrere",
    "flyktningar": "flyktninger", "kvinner": "kvinner", "ungdomar": "ungdommer",
    "nettverka": "nettverkene", "frivilligsentral": "frivilligsentral", "lag": "lag",
    "søkjar": "søker", "søkjarar": "søkere", "søkje": "søke", "søknad": "søknad",
    "støtte": "støtte", "utdanning": "utdanning", "opplæring": "opplæring",
    "kommunane": "kommunene", "fylka": "fylkene", "fylkeskommunane": "fylkeskommunene",
    "dei": "de", "deira": "deres", "òg": "også", "ho": "hun", "eg": "jeg",
}
# Regular nynorsk → bokmål spellings, tried one at a time on a word the content lacks.
NYNORSK_RULES: tuple[tuple[str, str], ...] = (
    ("arane", "erne"), ("ane", "ene"), ("inga", "ingen"), ("ingar", "inger"),
    ("leg", "lig"), ("legt", "lig"), ("heit", "het"), ("kj", "k"), ("gj", "g"),
    ("ar", "er"), ("ast", "est"), ("tje", "tte"), ("bu", "bo"),
)
NYNORSK_WEIGHT = 0.95

# How much a place in the query weighs: entries about the place, about its county.
PLACE_WEIGHT_OWN = 1.0
PLACE_WEIGHT_COUNTY = 0.5
PLACE_BOOST = 2.0  # score x (1 + PLACE_BOOST * place weight)
PLACE_SPREAD = 0.25  # place weight / (1 + 0.25 per further county the entry is about)
MAX_PLACE_WORDS = 3  # "Møre og Romsdal"
MIN_FUZZY_PLACE = 5
# Share of the query words an entry must match (three or more words; all of one or two).
MIN_MATCH_SHARE = 0.6
FIELD_LABELS: dict[str, str] = {"title": "tittel", "summary": "sammendrag",
                                "labels": "emneord", "body": "tekst"}

NYNORSK_FOLDED: dict[str, str] = {}  # filled below, once fold() exists
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


NYNORSK_FOLDED.update({fold(k): fold(v) for k, v in NYNORSK.items() if fold(k) != fold(v)})


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


def _strip_foreign_accents(word: str) -> str:
    """Drop accents the Norwegian stemmer does not know (Sami "áltá" → "alta"), keeping å."""
    out = []
    for ch in word:
        if ch in "åæø":
            out.append(ch)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFKD", ch)
                           if not unicodedata.combining(c)))
    return "".join(out)


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
            w = word if word.isascii() else _strip_foreign_accents(word)
            w = w[:-2] if len(w) > 6 and w.endswith("erne") else w
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
class Reason:
    """Why a hit matched one query word: the fields the word was found in, or a place."""

    word: str
    fields: list[str]
    place: str | None = None
    actor: str | None = None
    bokmal: str | None = None

    def text(self) -> str:
        parts = []
        if self.fields:
            word = f"«{self.word}»" + (f" (som «{self.bokmal}»)" if self.bokmal else "")
            parts.append(f"{word} i {_join_nb([FIELD_LABELS[f] for f in self.fields])}")
        for about in (self.place, self.actor):
            if about:
                parts.append(f"handler om {about}" if not parts else f"og handler om {about}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"word": self.word,
                                "fields": [FIELD_LABELS[f] for f in self.fields]}
        if self.place:
            data["place"] = self.place
        if self.actor:
            data["actor"] = self.actor
        if self.bokmal:
            data["bokmal"] = self.bokmal
        return data


def _join_nb(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " og " + items[-1]


@dataclass
class Hit:
    entry: Entry
    score: float
    snippet: Snippet
    matched_terms: list[str]
    reasons: list[Reason] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)

    def why(self) -> str:
        """Norwegian sentence: what matched where, e.g. «alta» i tittel og tekst."""
        return "Treff: " + "; ".join(r.text() for r in self.reasons) if self.reasons else ""

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
            "why": [r.to_dict() for r in self.reasons],
            "why_text": self.why(),
            "themes": self.entry.themes,
            "places": self.places,
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
    """One query word: alternatives (each a list of (term, weight) summed), best one counts;
    ``places``: registry codes the word names."""

    word: str
    alternatives: list[list[tuple[str, float]]]
    note: str
    places: tuple[str, ...] = ()
    actor: str | None = None
    bokmal: str | None = None  # the bokmål form a nynorsk word was matched as

    @property
    def counts(self) -> bool:
        """Whether the word can match anything (unknown words do not count)."""
        return bool(self.alternatives or self.places or self.actor)


def regions_of(registry: Registry) -> dict[str, Region]:
    """The knowledge layer's view of the registry: code, level, name, county, centrality."""
    return {r.code: Region(code=r.code, level=r.level, name=r.short_name,
                           county_code=r.county_code, centrality=r.centrality)
            for r in [*registry.counties.values(), *registry.municipalities.values()]}


class KnowledgeIndex:
    """The in-memory index over all entries, with facets from the region registry if given."""

    def __init__(self, entries: Sequence[Entry], regions: Mapping[str, Region] | None = None,
                 registry: Registry | None = None):
        started = time.perf_counter()
        self.entries = sorted(entries, key=lambda e: e.id)
        self.by_id = {e.id: e for e in self.entries}
        if regions is None and registry is not None:
            regions = regions_of(registry)
        self.regions = dict(regions or {})
        self.has_regions = bool(self.regions)
        self.registry = registry
        self.analyzer = Analyzer()
        self._word_groups: dict[str, _Group] = {}
        self._query_groups: dict[str, list[_Group]] = {}
        self._build()
        self._build_places()
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
            "body": markdown_to_text(plain(e.body)) + "\n" + e.detail_text(),
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
            snippet_texts.append(e.summary + " " + markdown_to_text(plain(e.body)))
        self.terms_vocab = terms
        self._surface_term = surface_term
        self._term_prefixes = {t[:MIN_PART] for t in terms}
        self.heads = {w for w in set(surface_term) | terms if len(w) >= MIN_PART}
        self._split_cache: dict[str, list[str] | None] = {}

        # Per term: weighted, length-normalised term frequency per doc (BM25F).
        avg_len = {f: max(1.0, sum(len(t[f]) for t in tokens) / max(1, n)) for f in FIELD_WEIGHTS}
        tfw: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self.doc_terms: list[dict[str, set[str]]] = []  # word -> its terms (incl. parts)
        self.field_terms: list[dict[str, set[str]]] = []  # field -> terms it contains
        for d, per_field in enumerate(tokens):
            word_terms: dict[str, set[str]] = {}
            in_field: dict[str, set[str]] = {}
            self.field_terms.append(in_field)
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
                in_field[name] = set(counts)
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
        # All facets side by side: without filters every facet is counted over the same
        # hits, so one product gives them all.
        self._facet_all = np.hstack([self._facet_matrix[k][1] for k in self._facet_keys])
        self._facet_cols: dict[str, tuple[int, int]] = {}
        start = 0
        for key in self._facet_keys:
            width = len(self._facet_matrix[key][0])
            self._facet_cols[key] = (start, start + width)
            start += width

    def _build_places(self) -> None:
        """Place look-up: every folded name form of the registry's regions, and per entry the
        municipalities and counties it is about."""
        self._place_forms: dict[str, tuple[str, ...]] = {}
        forms: dict[str, set[str]] = defaultdict(set)
        if self.registry is not None:
            for r in [*self.registry.counties.values(), *self.registry.municipalities.values()]:
                for form in {r.name, r.short_name, *r.forms}:
                    key = region_names.fold(form)
                    if len(key) >= 3:
                        forms[key].add(r.code)
        self._place_forms = {k: tuple(sorted(v)) for k, v in forms.items()}
        self._place_word_max = max((len(k.split()) for k in self._place_forms), default=1)
        n = len(self.entries)
        self._doc_munis: list[set[str]] = []
        self._doc_counties: list[set[str]] = []
        for e in self.entries:
            munis = set(e.municipality_codes)
            counties = set(e.county_codes)
            for m in munis:
                r = self.regions.get(m)
                if r is not None and r.county_code:
                    counties.add(r.county_code)
            self._doc_munis.append(munis)
            self._doc_counties.append(counties)
        self._place_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._n = n
        # Named organisations: their name forms, and the actor entry describing each.
        self._actor_forms = {" ".join(w for _, _, w in tokenize(fold(form))): actor
                             for actor, forms in ACTOR_NAMES.items() for form in forms}
        self._actor_doc = {e.actor: d for d, e in enumerate(self.entries)
                           if e.type == "aktor" and e.actor}

    def place_weights(self, codes: tuple[str, ...]) -> np.ndarray:
        """Per entry: 1 if it is about one of the places (a municipality, or for a county any
        place in it), 0.5 if only about the municipality's county, else 0."""
        cached = self._place_cache.get(codes)
        if cached is not None:
            return cached
        w = np.zeros(self._n)
        for code in codes:
            region = self.regions.get(code)
            if region is None:
                continue
            for d in range(self._n):
                # An entry about one county is more about it than one listing six.
                focus = 1.0 / (1.0 + PLACE_SPREAD * max(0, len(self._doc_counties[d]) - 1))
                if region.level == "kommune":
                    if code in self._doc_munis[d]:
                        w[d] = max(w[d], PLACE_WEIGHT_OWN * focus)
                    elif region.county_code in self._doc_counties[d]:
                        w[d] = max(w[d], PLACE_WEIGHT_COUNTY * focus)
                elif code in self._doc_counties[d]:
                    w[d] = max(w[d], PLACE_WEIGHT_OWN * focus)
        if len(self._place_cache) >= WORD_CACHE_SIZE:
            self._place_cache.clear()
        self._place_cache[codes] = w
        return w

    def resolve_place(self, words: str, known_word: bool) -> tuple[str, ...]:
        """Registry codes that ``words`` names: an exact name form (any language), else, for
        a single word the content does not know, the registry's typo-tolerant search."""
        key = region_names.fold(words)
        exact = self._place_forms.get(key)
        if exact:
            return exact
        if (self.registry is None or known_word or " " in key
                or len(key) < MIN_FUZZY_PLACE):
            return ()
        found = self.registry.search(words, limit=1)
        return (found[0].code,) if found else ()

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
            "evidens": [e.evidence.level] if e.evidence is not None else [],
            "kostnad": [e.cost_class] if e.cost_class is not None else [],
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
        """The query as word groups; adjacent words forming a place name become one group
        (memoised per query: a server sees the same queries again and again)."""
        cached = self._query_groups.get(query)
        if cached is None:
            cached = self._analyse_query(query)
            if len(self._query_groups) >= WORD_CACHE_SIZE:
                self._query_groups.clear()
            self._query_groups[query] = cached
        return cached

    def _analyse_query(self, query: str) -> list[_Group]:
        an = self.analyzer
        words = [w for _, _, w in tokenize(query)]
        groups: list[_Group] = []
        seen: set[str] = set()
        i = 0
        while i < len(words):
            # Longest place name first: "møre og romsdal", "nordre land".
            span = 1
            for size in range(min(MAX_PLACE_WORDS, self._place_word_max, len(words) - i), 1, -1):
                phrase = " ".join(words[i:i + size])
                if region_names.fold(phrase) in self._place_forms:
                    span = size
                    break
            # Organisations named with several words: "innovasjon norge".
            actor_span = next((size for size in (3, 2) if len(words) - i >= size and
                               " ".join(fold(w) for w in words[i:i + size]) in self._actor_forms),
                              0)
            if span == 1 and actor_span:
                phrase = " ".join(words[i:i + actor_span])
                if phrase not in seen:
                    seen.add(phrase)
                    parts = [self._cached_group(w) for w in words[i:i + actor_span]
                             if not an.is_stopword(w)]
                    terms = [t for g in parts for alt in g.alternatives[:1] for t in alt]
                    actor = self._actor_forms[" ".join(fold(w) for w in words[i:i + actor_span])]
                    groups.append(_Group(phrase, [terms] if terms else [], "aktør", (), actor))
                i += actor_span
                continue
            if span > 1:
                phrase = " ".join(words[i:i + span])
                if phrase not in seen:
                    seen.add(phrase)
                    parts = [self._cached_group(w) for w in words[i:i + span]
                             if not an.is_stopword(w)]
                    terms = [alt for g in parts for alt in g.alternatives[:1]]
                    groups.append(_Group(phrase, [[t for alt in terms for t in alt]] if terms
                                         else [], "sted",
                                         self._place_forms[region_names.fold(phrase)]))
                i += span
                continue
            word = words[i]
            i += 1
            if an.is_stopword(word) or word in seen:
                continue
            seen.add(word)
            groups.append(self._cached_group(word))
        return groups

    def _cached_group(self, word: str) -> _Group:
        cached = self._word_groups.get(word)
        if cached is None:
            cached = self._analyse_word(word)
            if len(self._word_groups) >= WORD_CACHE_SIZE:
                self._word_groups.clear()
            self._word_groups[word] = cached
        return cached

    def _nynorsk(self, folded: str) -> str | None:
        """The bokmål form of a nynorsk word whose term the index knows, if any."""
        cands: list[str] = []
        if folded in NYNORSK_FOLDED:
            cands.append(NYNORSK_FOLDED[folded])
        frontier = [folded]
        for _ in range(2):  # at most two spelling rules per word
            nxt = []
            for word in frontier:
                for a, b in NYNORSK_RULES:
                    start = word.find(a)
                    while start != -1:
                        nxt.append(word[:start] + b + word[start + len(a):])
                        start = word.find(a, start + 1)
            cands.extend(nxt)
            frontier = nxt
        for cand in dict.fromkeys(cands):
            if cand == folded:
                continue
            if self.analyzer.term(cand) in self.vocab:
                return cand
            if len(cand) >= 2 * MIN_PART and self._split(cand):
                return cand
        return None

    def _analyse_word(self, word: str) -> _Group:
        """How one query word is matched (memoised: typo and compound look-ups cost most)."""
        an = self.analyzer
        term = an.term(word)
        folded = fold(word)
        alts: list[list[tuple[str, float]]] = []
        note = ""
        places = self.resolve_place(word, term in self.vocab)
        if places and folded not in self._surface_term:
            # A place name the text never spells out ("Romsa"): matched by place only, not
            # by whatever common word its stem happens to equal ("rom").
            return _Group(word, [], "sted", places)
        bokmal = None if term in self.vocab else self._nynorsk(folded)
        if bokmal is not None:
            nb = self._analyse_word(bokmal)
            return _Group(word, [[(t, w * NYNORSK_WEIGHT) for t, w in alt]
                                 for alt in nb.alternatives],
                          f"nynorsk→{bokmal}" + (f" ({nb.note})" if nb.note != bokmal else ""),
                          places, bokmal=bokmal)
        actor = self._actor_forms.get(folded)
        if places and term not in self.vocab:
            # A place name the text does not contain: matched by place, not guessed as a typo.
            return _Group(word, [], "sted", places)
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
        if not alts and not places:
            places = self.resolve_place(word, False)
        if alts:
            return _Group(word, alts, note or "synonym", places, actor)
        if places or actor:
            return _Group(word, [], "sted" if places else "aktør", places, actor)
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
            "evidens": {k: v[0] for k, v in EVIDENCE_LEVELS.items()},
            "kostnad": COST_CLASSES,
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
        if facet == "evidens":
            return EVIDENCE_LEVELS[value][0] if value in EVIDENCE_LEVELS else value
        if facet == "kostnad":
            return COST_CLASSES.get(value, value)
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
        analysed = self.analyse_query(query)
        groups = [g for g in analysed if g.counts]
        matched_terms: set[str] = set()
        group_terms: list[set[str]] = []
        place_w: list[np.ndarray | None] = []
        if groups:
            total = np.zeros(n)
            covered = np.zeros(n)
            matched = np.zeros(n)
            boost = np.zeros(n)
            for g in groups:
                best = np.zeros(n)
                # How fully the word is matched: 1 for the word itself, less for a typo
                # correction, a synonym or only some parts of a compound.
                coverage = np.zeros(n)
                terms: set[str] = set()
                for alt in g.alternatives:
                    s = np.zeros(n)
                    w = np.zeros(n)
                    for term, weight in alt:
                        ids, contrib = self.postings[term]
                        s[ids] += weight * contrib
                        w[ids] += weight
                        terms.add(term)
                    np.maximum(best, s, out=best)
                    np.maximum(coverage, w, out=coverage)
                pw = self.place_weights(g.places) if g.places else None
                if g.actor is not None and g.actor in self._actor_doc:
                    # The entry describing a named organisation weighs as an entry about a place.
                    own = np.zeros(n)
                    own[self._actor_doc[g.actor]] = PLACE_WEIGHT_OWN
                    pw = own if pw is None else np.maximum(pw, own)
                if pw is not None:
                    # An entry about the place matches the word even without the name in it.
                    np.maximum(coverage, pw, out=coverage)
                    np.maximum(boost, pw, out=boost)
                matched_terms |= terms
                group_terms.append(terms)
                place_w.append(pw)
                total += best
                covered += np.minimum(coverage, 1.0)
                hit = coverage >= 0.5
                if pw is not None:
                    hit |= pw > 0
                matched += hit
            k = len(groups)
            required = k if k <= 2 else math.ceil(MIN_MATCH_SHARE * k)
            share = covered / k
            scores = total * (0.25 + 0.75 * share)
            # Entries about a named place weigh more; entries matched only by the place get a
            # small score of their own, so they follow the entries that also match the words.
            scores = scores * (1 + PLACE_BOOST * boost) + 0.01 * boost * share
            mask &= (scores > 0) & (matched >= required)
        else:
            scores = np.zeros(n)
            if analysed or tokenize(query):
                # Only words nothing matches, or only words as common as "og" and "hvordan":
                # no hits, not the whole list.
                mask[:] = False
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
                snippet=self.snippet(i, matched_terms), matched_terms=matched_list,
                reasons=self._reasons(i, groups, group_terms, place_w),
                places=self.place_links(self.entries[i]))
            for i in order[offset:offset + limit]
        ]
        interpretation = [f"{g.word} → {g.note}" for g in analysed]
        if not analysed and hit_ids.size == 0 and query.strip():
            interpretation = ["bare vanlige ord – skriv et mer bestemt ord"]
        return SearchResult(query=query, total=len(order), hits=hits, facets=facets,
                            interpretation=interpretation,
                            took_ms=(time.perf_counter() - started) * 1000)

    def _reasons(self, doc: int, groups: list[_Group], group_terms: list[set[str]],
                 place_w: list[np.ndarray | None]) -> list[Reason]:
        """Per query word: the fields of the entry it was found in, and the place it names."""
        out: list[Reason] = []
        fields = self.field_terms[doc]
        for g, terms, pw in zip(groups, group_terms, place_w):
            where = [f for f in FIELD_WEIGHTS if terms & fields.get(f, set())]
            place = actor = None
            if pw is not None and pw[doc] > 0:
                place = self._place_phrase(doc, g.places)
                if g.actor is not None and self._actor_doc.get(g.actor) == doc:
                    actor = ACTORS.get(g.actor, g.actor)
            if where or place or actor:
                out.append(Reason(g.word, where, place, actor, g.bokmal))
        return out

    def _place_phrase(self, doc: int, codes: tuple[str, ...]) -> str | None:
        """How an entry relates to the places a query word names, in Norwegian."""
        for code in codes:
            region = self.regions.get(code)
            if region is None:
                continue
            if region.level == "kommune":
                if code in self._doc_munis[doc]:
                    return f"{region.name} kommune"
                county = self.regions.get(region.county_code or "")
                if region.county_code in self._doc_counties[doc] and county is not None:
                    return f"{county.name}, fylket {region.name} ligger i"
            elif code in self._doc_counties[doc]:
                return f"{region.name} fylke"
        return None

    def place_links(self, entry: Entry) -> list[dict[str, Any]]:
        """The entry's places by name, with the atlas page of each Norwegian one."""
        out: list[dict[str, Any]] = []
        for p in entry.places:
            if p.kommune:
                r = self.regions.get(p.kommune)
                out.append({"kind": "kommune", "code": p.kommune,
                            "name": r.name if r else f"kommune {p.kommune}",
                            "url": f"/kommune/{p.kommune}"})
            elif p.fylke:
                r = self.regions.get(p.fylke)
                out.append({"kind": "fylke", "code": p.fylke,
                            "name": r.name if r else COUNTY_CODES_2024[p.fylke],
                            "url": f"/fylke/{p.fylke}"})
            elif p.navn:
                out.append({"kind": "utland" if p.land else "sted", "code": None,
                            "name": p.navn + (f" ({p.land})" if p.land else ""), "url": None})
        return out

    def _count_facets(self, base: np.ndarray, facet_masks: Mapping[str, np.ndarray],
                      ) -> dict[str, list[FacetValue]]:
        # A facet that is not filtered on is counted over the hits under all filters; a
        # filtered one over the hits under the other filters.
        every = base.copy()
        for m in facet_masks.values():
            every &= m
        counts_all = every.astype(np.float64) @ self._facet_all
        out: dict[str, list[FacetValue]] = {}
        for key in self._facet_keys:
            values, matrix = self._facet_matrix[key]
            if key in facet_masks:
                mask = base.copy()
                for other, m in facet_masks.items():
                    if other != key:
                        mask &= m
                counts = mask.astype(np.float64) @ matrix
            else:
                a, b = self._facet_cols[key]
                counts = counts_all[a:b]
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
