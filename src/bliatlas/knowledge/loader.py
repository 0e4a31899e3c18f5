"""Parse and validate ``content/**/*.md`` into :class:`~bliatlas.knowledge.models.Entry` objects.

Every problem is collected (not just the first) and reported with the file, the field and
what was expected. The loader works without a database; given the store's region table it
also checks that municipality and county codes exist.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bliatlas.errors import UserError
from bliatlas.knowledge import citations
from bliatlas.knowledge.models import (
    Conditions,
    Contact,
    Entry,
    Evidence,
    IndicatorLink,
    Place,
    QuotedFigure,
    Source,
    Status,
)
from bliatlas.knowledge.vocab import (
    ACTORS,
    COUNTY_CODES_2024,
    DOCUMENTS,
    EVIDENCE_LEVELS,
    FINDING_KINDS,
    INDICATOR_WHEN,
    NOT_GIVEN,
    STATUS_VALUES,
    TARGET_GROUPS,
    THEMES,
    TYPES,
)

# libyaml's safe loader when PyYAML was built with it (about ten times faster).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MUNICIPALITY_PATTERN = re.compile(r"^\d{4}$")
WEB_PATTERN = re.compile(r"^(https?://)?[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(/\S*)?$")
COUNTY_PATTERN = re.compile(r"^\d{2}$")

COMMON_REQUIRED = ("id", "type", "title", "summary", "themes", "target_groups", "actors", "sources")
COMMON_OPTIONAL = ("places", "years", "quoted_figures")
TYPE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required, optional)
    "praksis": (("mechanism", "evidence", "conditions", "cost", "funding", "contact", "status"),
                ("results", "advice", "amounts")),
    "funn": (("finding_kind",), ("confidence",)),
    "tilskudd": (("giver", "recipients", "purpose", "amount", "deadline", "link"),
                 ("legal_basis",)),
    "aktor": (("actor", "responsibilities"), ("legal_basis",)),
    "plan": ((), ()),
    "nettverk": ((), ()),
    "kunnskapsbehov": ((), ("indicators", "data_gap")),
    "rad": ((), ()),
}
NOT_GIVEN_HINT = f"eller «{NOT_GIVEN}» der kilden ikke sier noe"


@functools.lru_cache(maxsize=1)
def indicator_ids() -> frozenset[str]:
    """Ids of the indicator catalogue (knowledge needs name the indicators that speak to them)."""
    from bliatlas.indicators.catalogue import load_catalogue

    return frozenset(load_catalogue().ids)


@dataclass(frozen=True)
class Region:
    """What the knowledge layer needs from the store's ``region`` table."""

    code: str
    level: str
    name: str
    county_code: str | None
    centrality: int | None


@dataclass(frozen=True)
class ContentIssue:
    path: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.field is None else f"{self.path}: felt '{self.field}'"
        return f"{where}: {self.message}"


class ContentError(UserError):
    """Content that does not follow ``docs/content-model.md``; lists every issue found.

    In the API this is the server's content at fault, not the request: status 500.
    """

    http_status = 500

    def __init__(self, issues: list[ContentIssue]):
        self.issues = issues
        lines = [f"{len(issues)} feil i kunnskapsinnholdet:"] + [f"  {i}" for i in issues]
        super().__init__("\n".join(lines))


def default_content_dir() -> Path:
    """``$BLI_CONTENT``, else ``content/`` of the source checkout, else ``./content``."""
    from bliatlas import settings

    configured = settings.get().content
    if configured:
        return configured
    checkout = Path(__file__).resolve().parents[3] / "content"
    if checkout.is_dir():
        return checkout
    return Path("content")


def split_front_matter(text: str) -> tuple[str, str] | None:
    """Return (yaml, body) if ``text`` starts with a ``---`` block closed by a ``---`` line."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1:])
    return None


class _Checker:
    """Validates one file's front matter, collecting issues."""

    def __init__(self, path: str, data: Mapping[str, Any], regions: Mapping[str, Region] | None):
        self.path = path
        self.data = data
        self.regions = regions or {}
        self.issues: list[ContentIssue] = []
        sources = data.get("sources")
        self.n_sources = len(sources) if isinstance(sources, list) else 0

    def fail(self, field: str | None, message: str) -> None:
        self.issues.append(ContentIssue(self.path, field, message))

    def text(self, key: str, required: bool, allow_number: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "mangler; forventet en tekst")
            return None
        if allow_number and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"forventet en ikke-tom tekst, fant {_describe(value)}")
            return None
        return value.strip()

    def text_list(self, key: str, required: bool, min_items: int = 0) -> list[str]:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(key, "mangler; forventet en liste med tekster")
            return []
        if not isinstance(value, list):
            self.fail(key, f"forventet en liste med tekster, fant {_describe(value)}")
            return []
        out: list[str] = []
        for i, item in enumerate(value, 1):
            if not isinstance(item, str) or not item.strip():
                self.fail(key, f"element {i}: forventet en ikke-tom tekst, fant {_describe(item)}")
            else:
                out.append(item.strip())
        if len(value) < min_items:
            self.fail(key, f"forventet minst {min_items} element, fant {len(value)}")
        return out

    # -- marked prose -------------------------------------------------------------------
    def check_marks(self, field: str, text: str) -> None:
        for problem in citations.problems(text, self.n_sources):
            self.fail(field, problem)

    def marked(self, key: str, required: bool, not_given: bool = False,
               value: Any = None, field: str | None = None) -> str | None:
        """A prose text whose claims carry marks; ``not_given`` allows «ikke oppgitt i kilden»."""
        field = field or key
        if value is None:
            value = self.data.get(key)
        if value is None:
            if required:
                hint = f" {NOT_GIVEN_HINT}" if not_given else ""
                self.fail(field, f"mangler; forventet en tekst med kildemerke{hint}")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"forventet en ikke-tom tekst, fant {_describe(value)}")
            return None
        value = value.strip()
        if not_given and value == NOT_GIVEN:
            return value
        self.check_marks(field, value)
        return value

    def marked_list(self, key: str, required: bool, min_items: int = 0) -> list[str]:
        items = self.text_list(key, required, min_items)
        for i, item in enumerate(items, 1):
            if item != NOT_GIVEN:
                self.check_marks(f"{key}[{i}]", item)
        return items

    def mapping(self, key: str, keys: tuple[str, ...]) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            self.fail(key, f"mangler; forventet feltene {', '.join(keys)}")
            return None
        if not isinstance(value, dict):
            self.fail(key, f"forventet feltene {', '.join(keys)}, fant {_describe(value)}")
            return None
        unknown = set(value) - set(keys)
        if unknown:
            self.fail(key, f"ukjente nøkler {sorted(unknown)}; forventet {', '.join(keys)}")
        return value

    def web(self, field: str, value: Any) -> str | None:
        if value is None:
            self.fail(field, f"mangler; forventet nettadressen slik kilden gir den, "
                             f"{NOT_GIVEN_HINT}")
            return None
        if value == NOT_GIVEN:
            return value
        if not isinstance(value, str) or not WEB_PATTERN.match(value.strip()):
            self.fail(field, f"forventet en nettadresse (f.eks. karrierenordland.no), "
                             f"{NOT_GIVEN_HINT}; fant {_describe(value)}")
            return None
        return value.strip()

    def evidence(self) -> Evidence | None:
        value = self.mapping("evidence", ("level", "basis"))
        if value is None:
            return None
        level = value.get("level")
        if level not in EVIDENCE_LEVELS:
            self.fail("evidence.level", f"forventet ett av: {', '.join(EVIDENCE_LEVELS)}, fant "
                                        f"{_describe(level)}")
        basis = self.marked("basis", True, value=value.get("basis"), field="evidence.basis")
        if level in EVIDENCE_LEVELS and basis:
            return Evidence(level, basis)
        return None

    def conditions(self) -> Conditions | None:
        keys = ("size", "partners", "needs")
        value = self.mapping("conditions", keys)
        if value is None:
            return None
        got = {k: self.marked(k, True, not_given=True, value=value.get(k),
                              field=f"conditions.{k}") for k in keys}
        if all(got.values()):
            return Conditions(**got)  # type: ignore[arg-type]
        return None

    def contact(self) -> Contact | None:
        value = self.mapping("contact", ("organisation", "web"))
        if value is None:
            return None
        org = self.marked("organisation", True, not_given=True, value=value.get("organisation"),
                          field="contact.organisation")
        web = self.web("contact.web", value.get("web"))
        return Contact(org, web) if org and web else None

    def status(self) -> Status | None:
        value = self.mapping("status", ("value", "note"))
        if value is None:
            return None
        v = value.get("value")
        if v not in STATUS_VALUES:
            self.fail("status.value", f"forventet ett av: {', '.join(STATUS_VALUES)}, fant "
                                      f"{_describe(v)}")
        note = self.marked("note", True, not_given=True, value=value.get("note"),
                           field="status.note")
        return Status(v, note) if v in STATUS_VALUES and note else None

    def indicator_links(self) -> list[IndicatorLink]:
        value = self.data.get("indicators")
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail("indicators", f"forventet en liste med id:, when: og why:, fant "
                                    f"{_describe(value)}")
            return []
        known = indicator_ids()
        out: list[IndicatorLink] = []
        for i, item in enumerate(value, 1):
            field = f"indicators[{i}]"
            if not isinstance(item, dict):
                self.fail(field, f"forventet id:, when: og why:, fant {_describe(item)}")
                continue
            unknown = set(item) - {"id", "when", "why"}
            if unknown:
                self.fail(field, f"ukjente nøkler {sorted(unknown)}; forventet id, when, why")
            ind, when = item.get("id"), item.get("when")
            ok = True
            if ind not in known:
                self.fail(f"{field}.id", f"ukjent indikator {ind!r}; forventet en id fra "
                                         "indikatorkatalogen (bli indicators list)")
                ok = False
            if when not in INDICATOR_WHEN:
                self.fail(f"{field}.when", f"forventet ett av: {', '.join(INDICATOR_WHEN)}, fant "
                                           f"{_describe(when)}")
                ok = False
            why = self.marked("why", True, value=item.get("why"), field=f"{field}.why")
            if ok and why:
                out.append(IndicatorLink(ind, when, why))
        return out

    def terms(self, key: str, vocabulary: Mapping[str, str], what: str,
              min_items: int) -> list[str]:
        value = self.data.get(key)
        allowed = ", ".join(vocabulary)
        if value is None:
            self.fail(key, f"mangler; forventet en liste med {what} blant: {allowed}")
            return []
        if not isinstance(value, list):
            self.fail(key, f"forventet en liste med {what}, fant {_describe(value)}")
            return []
        out: list[str] = []
        for item in value:
            if item not in vocabulary:
                self.fail(key, f"ukjent {what} {item!r}; forventet ett av: {allowed}")
            elif item in out:
                self.fail(key, f"{item!r} står flere ganger")
            else:
                out.append(item)
        if len(value) < min_items:
            self.fail(key, f"forventet minst {min_items} {what}, fant ingen")
        return out

    def places(self) -> list[Place]:
        value = self.data.get("places")
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail("places", f"forventet en liste med steder, fant {_describe(value)}")
            return []
        out: list[Place] = []
        for i, item in enumerate(value, 1):
            field = f"places[{i}]"
            if not isinstance(item, dict):
                self.fail(field, f"forventet kommune:, fylke: eller navn:, fant {_describe(item)}")
                continue
            unknown = set(item) - {"kommune", "fylke", "navn", "land"}
            if unknown:
                self.fail(field, f"ukjente nøkler {sorted(unknown)}; forventet kommune, fylke, "
                                 "navn (og land)")
            kinds = [k for k in ("kommune", "fylke", "navn") if k in item]
            if len(kinds) != 1:
                self.fail(field, "forventet nøyaktig én av kommune:, fylke: eller navn:")
                continue
            kind = kinds[0]
            code = item[kind]
            if not isinstance(code, str):
                self.fail(f"{field}.{kind}", f"forventet tekst i anførselstegn (f.eks. \"3405\"), "
                                             f"fant {_describe(code)}")
                continue
            if kind == "kommune":
                if not MUNICIPALITY_PATTERN.match(code) or code[:2] not in COUNTY_CODES_2024:
                    self.fail(f"{field}.kommune", f"{code!r} er ikke et firesifret 2024-"
                                                  "kommunenummer (fylkesnummer + to siffer)")
                    continue
                if self.regions and code not in self.regions:
                    self.fail(f"{field}.kommune", f"kommunenummer {code!r} finnes ikke i "
                                                  "regionregisteret for 2024")
                    continue
                out.append(Place(kommune=code))
            elif kind == "fylke":
                if not COUNTY_PATTERN.match(code) or code not in COUNTY_CODES_2024:
                    self.fail(f"{field}.fylke", f"{code!r} er ikke et 2024-fylkesnummer; forventet "
                                                f"ett av: {', '.join(COUNTY_CODES_2024)}")
                    continue
                out.append(Place(fylke=code))
            else:
                land = item.get("land")
                if land is not None and not (isinstance(land, str)
                                             and re.fullmatch(r"[A-Z]{2}", land)):
                    self.fail(f"{field}.land", f"forventet landkode med to store bokstaver "
                                               f"(f.eks. SE), fant {_describe(land)}")
                    continue
                if not code.strip():
                    self.fail(f"{field}.navn", "forventet et stedsnavn")
                    continue
                out.append(Place(navn=code.strip(), land=land))
        return out

    def sources(self) -> list[Source]:
        value = self.data.get("sources")
        if value is None:
            self.fail("sources", "mangler; forventet minst én kilde med document og "
                                 "section/page")
            return []
        if not isinstance(value, list) or not value:
            self.fail("sources", f"forventet en liste med minst én kilde, fant {_describe(value)}")
            return []
        out: list[Source] = []
        keys = ", ".join(DOCUMENTS)
        for i, item in enumerate(value, 1):
            field = f"sources[{i}]"
            if not isinstance(item, dict):
                self.fail(field, f"forventet document: og section:/page:, fant {_describe(item)}")
                continue
            if "title" in item:
                self.fail(f"{field}.title", "skal ikke stå i oppføringen: tittel, utgiver og år "
                                            "hentes fra dokumentregisteret (document:)")
            unknown = set(item) - {"document", "section", "page", "title"}
            if unknown:
                self.fail(field, f"ukjente nøkler {sorted(unknown)}; forventet document, "
                                 "section, page")
            doc = item.get("document")
            ok = True
            if not isinstance(doc, str) or doc not in DOCUMENTS:
                self.fail(f"{field}.document", f"forventet ett av: {keys}; fant {_describe(doc)}")
                ok = False
            section = item.get("section")
            if section is not None and (not isinstance(section, str) or not section.strip()):
                self.fail(f"{field}.section", f"forventet en tekst, fant {_describe(section)}")
                ok = False
            page = item.get("page")
            if page is not None and (not isinstance(page, int) or isinstance(page, bool)
                                     or page < 1):
                self.fail(f"{field}.page", f"forventet et positivt heltall, fant {_describe(page)}")
                ok = False
            if section is None and page is None:
                self.fail(field, "forventet section: og/eller page: som viser hvor i dokumentet")
                ok = False
            if ok:
                out.append(Source(document=doc, section=section.strip() if section else None,
                                  page=page))
        return out

    def quoted_figures(self) -> list[QuotedFigure]:
        value = self.data.get("quoted_figures")
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail("quoted_figures", f"forventet en liste, fant {_describe(value)}")
            return []
        out: list[QuotedFigure] = []
        for i, item in enumerate(value, 1):
            field = f"quoted_figures[{i}]"
            if not isinstance(item, dict):
                self.fail(field, f"forventet figure: og context:, fant {_describe(item)}")
                continue
            fig, ctx = item.get("figure"), item.get("context")
            unknown = set(item) - {"figure", "context"}
            if unknown:
                self.fail(field, f"ukjente nøkler {sorted(unknown)}; forventet figure, context")
            if not isinstance(fig, str) or not fig.strip():
                self.fail(f"{field}.figure", "forventet tallet som tekst nøyaktig slik det står i "
                                             f"kilden, fant {_describe(fig)}")
                continue
            if not isinstance(ctx, str) or not ctx.strip():
                self.fail(f"{field}.context", f"forventet en forklaring, fant {_describe(ctx)}")
                continue
            out.append(QuotedFigure(figure=fig, context=ctx.strip()))
        return out


def _describe(value: Any) -> str:
    if value is None:
        return "ingenting"
    if isinstance(value, bool):
        return f"sannhetsverdi {value}"
    if isinstance(value, int | float):
        return f"tallet {value}"
    if isinstance(value, str):
        return f"teksten {value!r}" if value.strip() else "tom tekst"
    if isinstance(value, list):
        return "en liste"
    if isinstance(value, dict):
        return "en oppslagstabell"
    return type(value).__name__


def _shown(path: Path, root: Path | None) -> str:
    """The path as users see it: relative to the folder holding the content folder."""
    if root is not None and path.is_relative_to(root.parent):
        return str(path.relative_to(root.parent))
    return str(path)


def parse_entry(path: Path, regions: Mapping[str, Region] | None = None,
                root: Path | None = None) -> tuple[Entry | None, list[ContentIssue]]:
    """Parse one file; return the entry (``None`` if invalid) and the issues found."""
    shown = _shown(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [ContentIssue(shown, None, f"er ikke gyldig UTF-8 ({exc.reason} ved "
                                                 f"byte {exc.start})")]
    parts = split_front_matter(text)
    if parts is None:
        return None, [ContentIssue(shown, None, "mangler YAML-hode: filen skal begynne med en "
                                                "linje '---' og hodet slutte med en linje '---'")]
    head, body = parts
    try:
        data = yaml.load(head, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        # Marks count from 0 within the header; the file has the '---' line before it.
        mark = getattr(exc, "problem_mark", None)
        where = f" på linje {mark.line + 2}" if mark is not None else ""
        context = getattr(exc, "context_mark", None)
        started = f", i noe som begynte på linje {context.line + 2}" if context is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [ContentIssue(shown, None, f"ugyldig YAML{where}{started} "
                                                f"(YAML-leseren sier: {problem})")]
    if not isinstance(data, dict):
        return None, [ContentIssue(shown, None, "YAML-hodet skal være en samling felt "
                                                f"(nøkkel: verdi), fant {_describe(data)}")]
    c = _Checker(shown, data, regions)

    type_ = data.get("type")
    if type_ not in TYPES:
        c.fail("type", f"ukjent type {type_!r}; forventet ett av: {', '.join(TYPES)}")
        return None, c.issues
    folder = TYPES[type_][0]
    if path.parent.name != folder:
        c.fail("type", f"type {type_!r} hører hjemme i mappen content/{folder}/, ikke "
                       f"{path.parent.name}/")

    required, optional = TYPE_FIELDS[type_]
    known = set(COMMON_REQUIRED) | set(COMMON_OPTIONAL) | set(required) | set(optional)
    for key in data:
        if key not in known:
            c.fail(str(key), f"ukjent felt for type {type_!r}; tillatte felt: "
                             f"{', '.join(sorted(known))}")

    id_ = data.get("id")
    if not isinstance(id_, str) or not ID_PATTERN.match(id_):
        c.fail("id", f"forventet små bokstaver a-z, sifre og bindestrek (f.eks. "
                     f"'{type_}-mitt-tiltak'), fant {_describe(id_)}")
        id_ = None
    else:
        if not id_.startswith(f"{type_}-"):
            c.fail("id", f"{id_!r} skal begynne med typen: '{type_}-'")
        if id_ != path.stem:
            c.fail("id", f"{id_!r} skal være lik filnavnet uten .md ({path.stem!r})")

    title = c.text("title", True)
    summary = c.marked("summary", True)
    themes = c.terms("themes", THEMES, "tema", 1)
    groups = c.terms("target_groups", TARGET_GROUPS, "målgruppe", 1)
    actors = c.terms("actors", ACTORS, "aktør", 0)
    places = c.places()
    years = c.text("years", False, allow_number=True)
    sources = c.sources()
    figures = c.quoted_figures()

    marked: dict[str, Any] = {"summary": summary}
    extra: dict[str, Any] = {}
    if type_ == "praksis":
        marked["mechanism"] = c.marked("mechanism", True)
        marked["results"] = c.marked_list("results", False)
        marked["advice"] = c.marked_list("advice", False)
        marked["cost"] = c.marked("cost", True, not_given=True)
        marked["funding"] = c.marked("funding", True, not_given=True)
        extra["amounts"] = c.text_list("amounts", False)
        extra["evidence"] = c.evidence()
        extra["conditions"] = c.conditions()
        extra["contact"] = c.contact()
        extra["status"] = c.status()
    elif type_ == "funn":
        kind = data.get("finding_kind")
        if kind not in FINDING_KINDS:
            c.fail("finding_kind", f"forventet ett av: {', '.join(FINDING_KINDS)}, fant "
                                   f"{_describe(kind)}")
        extra["finding_kind"] = kind
        marked["confidence"] = c.marked("confidence", False)
    elif type_ == "tilskudd":
        marked["giver"] = c.marked("giver", True)
        marked["recipients"] = c.marked_list("recipients", True, min_items=1)
        marked["purpose"] = c.marked("purpose", True)
        marked["amount"] = c.marked("amount", True, not_given=True)
        marked["deadline"] = c.marked("deadline", True, not_given=True)
        marked["legal_basis"] = c.marked("legal_basis", False)
        extra["link"] = c.web("link", data.get("link"))
    elif type_ == "aktor":
        actor = data.get("actor")
        if actor not in ACTORS:
            c.fail("actor", f"forventet aktøren i vokabularet som oppføringen beskriver, ett av: "
                            f"{', '.join(ACTORS)}; fant {_describe(actor)}")
        extra["actor"] = actor
        marked["responsibilities"] = c.marked_list("responsibilities", True, min_items=1)
        marked["legal_basis"] = c.marked("legal_basis", False)
    elif type_ == "kunnskapsbehov":
        extra["indicators"] = c.indicator_links()
        marked["data_gap"] = c.marked("data_gap", False)
        if bool(extra["indicators"]) == bool(marked["data_gap"]) and not c.issues:
            c.fail("indicators", "forventet enten indikatorer (indicators:) som belyser "
                                 "kunnskapsbehovet, eller data_gap: som sier at atlaset ikke har "
                                 "data om det ennå – ikke begge og ikke ingen av dem")

    blocks = citations.body_blocks(body)
    if not body.strip():
        c.fail(None, "mangler tekst etter YAML-hodet; forventet en beskrivelse i Markdown")
    for n, block in enumerate(blocks, 1):
        for problem in citations.problems(block, c.n_sources):
            c.fail(f"tekst, avsnitt {n}", problem)

    if c.issues:
        return None, c.issues
    assert id_ is not None and title is not None and summary is not None
    plain_fields = {
        k: ([citations.plain(x) for x in v] if isinstance(v, list)
            else (citations.plain(v) if v and v != NOT_GIVEN else v))
        for k, v in marked.items() if k != "summary"
    }
    entry = Entry(id=id_, type=type_, title=title, summary=citations.plain(summary),
                  themes=themes, target_groups=groups, actors=actors, sources=sources,
                  body=body.strip() + "\n", path=path, places=places, years=years,
                  quoted_figures=figures, marked={k: v for k, v in marked.items() if v},
                  **{k: v for k, v in plain_fields.items() if v is not None}, **extra)
    return entry, []


def content_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if p.is_file())


def validate_content(root: Path | None = None, regions: Mapping[str, Region] | None = None,
                     ) -> tuple[list[Entry], list[ContentIssue]]:
    """Parse all of ``root``; return the valid entries and every issue found."""
    root = Path(root) if root is not None else default_content_dir()
    if not root.is_dir():
        return [], [ContentIssue(str(root), None, "innholdsmappen finnes ikke")]
    entries: list[Entry] = []
    issues: list[ContentIssue] = []
    seen: dict[str, Path] = {}
    for path in content_files(root):
        if path.parent == root:
            issues.append(ContentIssue(
                _shown(path, root), None,
                "ligger rett i innholdsmappen; legg den i mappen for sin type "
                "(f.eks. content/praksis/)"))
            continue
        # The id equals the file name, so a repeated file name is a repeated id.
        if path.stem in seen:
            issues.append(ContentIssue(_shown(path, root), "id", f"{path.stem!r} er allerede "
                                       f"brukt av {_shown(seen[path.stem], root)}; id-er skal "
                                       "være unike"))
            continue
        seen[path.stem] = path
        entry, found = parse_entry(path, regions, root)
        issues.extend(found)
        if entry is not None:
            entries.append(entry)
    return entries, issues


def load_entries(root: Path | None = None, regions: Mapping[str, Region] | None = None,
                 ) -> list[Entry]:
    """All entries of ``root``; raises :class:`ContentError` listing every issue if any."""
    entries, issues = validate_content(root, regions)
    if issues:
        raise ContentError(issues)
    return entries

