"""Typed knowledge entries, as parsed from ``content/**/*.md``.

Prose fields come in two forms. The attributes users of the library read (``summary``,
``mechanism``, ``results`` …) hold *plain* text: source marks removed and the editors'
reading said in words ("(Bli-atlas' vurdering)"), ready for lists, reports and sentences.
``Entry.marked`` keeps the text as written, with its marks (``[1]``, ``[vurdering]``), for
the entry page, where each mark becomes a link to its source (see
:mod:`bliatlas.knowledge.citations`). ``Entry.body`` is the Markdown as written, marks
included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bliatlas.knowledge.citations import plain
from bliatlas.knowledge.vocab import (
    ACTORS,
    COST_CLASSES,
    DOCUMENTS,
    EVIDENCE_LEVELS,
    FINDING_KINDS,
    INDICATOR_WHEN,
    NOT_GIVEN,
    STATUS_VALUES,
    TARGET_GROUPS,
    THEMES,
    Document,
    type_label,
)


@dataclass(frozen=True)
class Place:
    """A place an entry is about: a 2024 municipality, a 2024 county, or a named place abroad."""

    kommune: str | None = None
    fylke: str | None = None
    navn: str | None = None
    land: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Source:
    """A citation: a document of the register (by key) plus section and/or page."""

    document: str
    section: str | None = None
    page: int | None = None

    @property
    def doc(self) -> Document:
        return DOCUMENTS[self.document]

    def reference(self) -> str:
        """The document as users see it: title (publisher, year)."""
        return self.doc.reference()

    def citation(self) -> str:
        parts = [self.reference()]
        if self.section:
            parts.append(f"«{self.section}»")
        if self.page is not None:
            parts.append(f"s. {self.page}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"document": self.document, "title": self.doc.title,
                                "publisher": self.doc.publisher, "year": self.doc.year}
        if self.section:
            data["section"] = self.section
        if self.page is not None:
            data["page"] = self.page
        data["citation"] = self.citation()
        return data


@dataclass(frozen=True)
class QuotedFigure:
    figure: str
    context: str

    def to_dict(self) -> dict[str, str]:
        return {"figure": self.figure, "context": self.context}


def _given(value: str | None) -> bool:
    return bool(value) and value != NOT_GIVEN


@dataclass(frozen=True)
class Evidence:
    """What kind of evidence stands behind a practice, and what the source says (marked)."""

    level: str
    basis: str

    @property
    def label(self) -> str:
        return EVIDENCE_LEVELS[self.level][0]

    @property
    def meaning(self) -> str:
        return EVIDENCE_LEVELS[self.level][1]

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "label": self.label, "meaning": self.meaning,
                "basis": plain(self.basis)}


@dataclass(frozen=True)
class Conditions:
    """What the practice needed (marked texts, or "ikke oppgitt i kilden")."""

    size: str
    partners: str
    needs: str

    def to_dict(self) -> dict[str, str]:
        return {"size": plain(self.size), "partners": plain(self.partners),
                "needs": plain(self.needs)}


@dataclass(frozen=True)
class Contact:
    organisation: str
    web: str

    @property
    def url(self) -> str | None:
        """The web address as a link target (``https://`` added where the source omits it)."""
        if not _given(self.web):
            return None
        return self.web if self.web.startswith(("http://", "https://")) else f"https://{self.web}"

    def to_dict(self) -> dict[str, str | None]:
        return {"organisation": plain(self.organisation), "web": self.web, "url": self.url}


@dataclass(frozen=True)
class Status:
    value: str
    note: str

    @property
    def label(self) -> str:
        return STATUS_VALUES[self.value]

    def to_dict(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label, "note": plain(self.note)}


@dataclass(frozen=True)
class IndicatorLink:
    """An indicator of the catalogue that speaks to a knowledge need, and when it points
    at a municipality (``hoy``/``lav``: among the highest/lowest quarter)."""

    id: str
    when: str
    why: str

    @property
    def when_label(self) -> str:
        return INDICATOR_WHEN[self.when]

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "when": self.when, "when_label": self.when_label,
                "why": plain(self.why)}


@dataclass
class Entry:
    """One knowledge entry. Type-specific fields are ``None``/empty for other types."""

    id: str
    type: str
    title: str
    summary: str
    themes: list[str]
    target_groups: list[str]
    actors: list[str]
    sources: list[Source]
    body: str
    path: Path
    places: list[Place] = field(default_factory=list)
    years: str | None = None
    quoted_figures: list[QuotedFigure] = field(default_factory=list)
    # Marked (as written) versions of the prose fields, by field name.
    marked: dict[str, Any] = field(default_factory=dict)
    # praksis
    mechanism: str | None = None
    results: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    funding: str | None = None
    cost: str | None = None
    amounts: list[str] = field(default_factory=list)
    evidence: Evidence | None = None
    conditions: Conditions | None = None
    contact: Contact | None = None
    status: Status | None = None
    # funn
    finding_kind: str | None = None
    confidence: str | None = None
    # tilskudd
    giver: str | None = None
    recipients: list[str] = field(default_factory=list)
    purpose: str | None = None
    amount: str | None = None
    deadline: str | None = None
    link: str | None = None
    # tilskudd, aktor
    legal_basis: str | None = None
    # aktor
    actor: str | None = None
    responsibilities: list[str] = field(default_factory=list)
    # kunnskapsbehov
    indicators: list[IndicatorLink] = field(default_factory=list)
    data_gap: str | None = None

    @property
    def type_label(self) -> str:
        return type_label(self.type)

    @property
    def municipality_codes(self) -> list[str]:
        return [p.kommune for p in self.places if p.kommune]

    @property
    def county_codes(self) -> list[str]:
        return [p.fylke for p in self.places if p.fylke]

    @property
    def cost_class(self) -> str | None:
        """Facet value for cost and funding (practices only)."""
        if self.type != "praksis":
            return None
        if self.amounts:
            return "belop_oppgitt"
        if _given(self.cost) or _given(self.funding):
            return "finansiering_beskrevet"
        return "ikke_oppgitt"

    @property
    def link_url(self) -> str | None:
        if not _given(self.link):
            return None
        assert self.link is not None
        return self.link if self.link.startswith(("http://", "https://")) else (
            f"https://{self.link}")

    def label_text(self) -> str:
        """Norwegian labels of the entry's vocabulary terms, for indexing and display."""
        labels = [THEMES[t] for t in self.themes if t in THEMES]
        labels += [TARGET_GROUPS[g] for g in self.target_groups if g in TARGET_GROUPS]
        labels += [ACTORS[a] for a in self.actors if a in ACTORS]
        labels.append(self.type_label)
        if self.finding_kind in FINDING_KINDS:
            labels.append(FINDING_KINDS[self.finding_kind])
        if self.evidence is not None:
            labels.append(self.evidence.label)
        return " · ".join(labels)

    def detail_text(self) -> str:
        """The type-specific prose fields (plain) joined, indexed together with the body."""
        parts: list[str] = []
        for value in (self.mechanism, self.funding, self.cost, self.giver, self.purpose,
                      self.amount, self.deadline, self.legal_basis, self.confidence,
                      self.data_gap, self.years):
            if _given(value):
                assert value is not None
                parts.append(value)
        for values in (self.results, self.advice, self.recipients, self.responsibilities):
            parts.extend(values)
        if self.evidence is not None:
            parts.append(plain(self.evidence.basis))
        if self.conditions is not None:
            parts.extend(v for v in self.conditions.to_dict().values() if _given(v))
        if self.contact is not None and _given(self.contact.organisation):
            parts.append(plain(self.contact.organisation))
        parts.extend(f"{q.figure} {q.context}" for q in self.quoted_figures)
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data, vocabulary terms with their labels, prose plain."""
        data: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "type_label": self.type_label,
            "title": self.title,
            "summary": self.summary,
            "themes": [{"id": t, "label": THEMES[t]} for t in self.themes],
            "target_groups": [{"id": g, "label": TARGET_GROUPS[g]} for g in self.target_groups],
            "actors": [{"id": a, "label": ACTORS[a]} for a in self.actors],
            "places": [p.to_dict() for p in self.places],
            "years": self.years,
            "sources": [s.to_dict() for s in self.sources],
            "quoted_figures": [q.to_dict() for q in self.quoted_figures],
        }
        optional: dict[str, Any] = {
            "mechanism": self.mechanism,
            "results": self.results,
            "advice": self.advice,
            "cost": self.cost,
            "funding": self.funding,
            "amounts": self.amounts,
            "cost_class": (None if self.cost_class is None
                           else {"id": self.cost_class, "label": COST_CLASSES[self.cost_class]}),
            "evidence": self.evidence.to_dict() if self.evidence else None,
            "conditions": self.conditions.to_dict() if self.conditions else None,
            "contact": self.contact.to_dict() if self.contact else None,
            "status": self.status.to_dict() if self.status else None,
            "finding_kind": self.finding_kind,
            "confidence": self.confidence,
            "giver": self.giver,
            "recipients": self.recipients,
            "purpose": self.purpose,
            "amount": self.amount,
            "deadline": self.deadline,
            "link": self.link,
            "legal_basis": self.legal_basis,
            "actor": self.actor,
            "responsibilities": self.responsibilities,
            "indicators": [i.to_dict() for i in self.indicators],
            "data_gap": self.data_gap,
        }
        data.update({k: v for k, v in optional.items() if v})
        return data
