"""Parse and validate ``content/**/*.md`` into :class:`~bliatlas.knowledge.models.Entry` objects.

Every problem is collected (not just the first) and reported with the file, the field and
what was expected. The loader works without a database; given the store's region table it
also checks that municipality and county codes exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bliatlas.errors import UserError
from bliatlas.knowledge.models import Entry, Place, QuotedFigure, Source
from bliatlas.knowledge.vocab import (
    ACTORS,
    COUNTY_CODES_2024,
    FINDING_KINDS,
    SEED_DOCUMENTS,
    TARGET_GROUPS,
    THEMES,
    TYPES,
)

# libyaml's safe loader when PyYAML was built with it (about ten times faster).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MUNICIPALITY_PATTERN = re.compile(r"^\d{4}$")
COUNTY_PATTERN = re.compile(r"^\d{2}$")

COMMON_REQUIRED = ("id", "type", "title", "summary", "themes", "target_groups", "actors", "sources")
COMMON_OPTIONAL = ("places", "years", "quoted_figures")
TYPE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required, optional)
    "praksis": (("mechanism",), ("results", "advice", "funding")),
    "funn": (("finding_kind",), ("confidence",)),
    "tilskudd": (("giver", "recipients", "purpose"), ("legal_basis",)),
    "aktor": (("responsibilities",), ("legal_basis",)),
    "plan": ((), ()),
    "nettverk": ((), ()),
    "kunnskapsbehov": ((), ()),
    "rad": ((), ()),
}


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


def read_regions(store: Any) -> dict[str, Region]:
    """The region registry from an open store (empty if the table holds no rows)."""
    rows = store.query(
        "SELECT code, level, short_name, county_code, centrality FROM region ORDER BY code"
    )
    return {
        r["code"]: Region(
            code=r["code"],
            level=r["level"],
            name=r["short_name"],
            county_code=r["county_code"],
            centrality=None if r["centrality"] is None else int(r["centrality"]),
        )
        for r in rows
    }


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
            self.fail("sources", "mangler; forventet minst én kilde med document, title og "
                                 "section/page")
            return []
        if not isinstance(value, list) or not value:
            self.fail("sources", f"forventet en liste med minst én kilde, fant {_describe(value)}")
            return []
        out: list[Source] = []
        for i, item in enumerate(value, 1):
            field = f"sources[{i}]"
            if not isinstance(item, dict):
                self.fail(field, f"forventet document:, title:, section:/page:, fant "
                                 f"{_describe(item)}")
                continue
            unknown = set(item) - {"document", "title", "section", "page"}
            if unknown:
                self.fail(field, f"ukjente nøkler {sorted(unknown)}; forventet document, title, "
                                 "section, page")
            doc = item.get("document")
            ok = True
            if not isinstance(doc, str) or doc not in SEED_DOCUMENTS:
                hint = " (skriv nummeret i anførselstegn)" if isinstance(doc, int) else ""
                self.fail(f"{field}.document", f"forventet ett av {', '.join(SEED_DOCUMENTS)} som "
                                               f"tekst{hint}, fant {_describe(doc)}")
                ok = False
            title = item.get("title")
            if not isinstance(title, str) or not title.strip():
                self.fail(f"{field}.title",
                          f"forventet dokumentets tittel, fant {_describe(title)}")
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
                out.append(Source(document=doc, title=title.strip(),
                                  section=section.strip() if section else None, page=page))
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
    summary = c.text("summary", True)
    themes = c.terms("themes", THEMES, "tema", 1)
    groups = c.terms("target_groups", TARGET_GROUPS, "målgruppe", 1)
    actors = c.terms("actors", ACTORS, "aktør", 0)
    places = c.places()
    years = c.text("years", False, allow_number=True)
    sources = c.sources()
    figures = c.quoted_figures()

    extra: dict[str, Any] = {}
    if type_ == "praksis":
        extra["mechanism"] = c.text("mechanism", True)
        extra["results"] = c.text_list("results", False)
        extra["advice"] = c.text_list("advice", False)
        extra["funding"] = c.text("funding", False)
    elif type_ == "funn":
        kind = data.get("finding_kind")
        if kind not in FINDING_KINDS:
            c.fail("finding_kind", f"forventet ett av: {', '.join(FINDING_KINDS)}, fant "
                                   f"{_describe(kind)}")
        extra["finding_kind"] = kind
        extra["confidence"] = c.text("confidence", False)
    elif type_ == "tilskudd":
        extra["giver"] = c.text("giver", True)
        extra["recipients"] = c.text_list("recipients", True, min_items=1)
        extra["purpose"] = c.text("purpose", True)
        extra["legal_basis"] = c.text("legal_basis", False)
    elif type_ == "aktor":
        extra["responsibilities"] = c.text_list("responsibilities", True, min_items=1)
        extra["legal_basis"] = c.text("legal_basis", False)

    if not body.strip():
        c.fail(None, "mangler tekst etter YAML-hodet; forventet en beskrivelse i Markdown")

    if c.issues:
        return None, c.issues
    assert id_ is not None and title is not None and summary is not None
    entry = Entry(id=id_, type=type_, title=title, summary=summary, themes=themes,
                  target_groups=groups, actors=actors, sources=sources, body=body.strip() + "\n",
                  path=path, places=places, years=years, quoted_figures=figures, **extra)
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

