"""Typed knowledge entries, as parsed from ``content/**/*.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bliatlas.knowledge.vocab import ACTORS, FINDING_KINDS, TARGET_GROUPS, THEMES, type_label


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
    """A citation: seed document prefix plus section and/or page."""

    document: str
    title: str
    section: str | None = None
    page: int | None = None

    def citation(self) -> str:
        parts = [self.title]
        if self.section:
            parts.append(f"«{self.section}»")
        if self.page is not None:
            parts.append(f"s. {self.page}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class QuotedFigure:
    figure: str
    context: str

    def to_dict(self) -> dict[str, str]:
        return {"figure": self.figure, "context": self.context}


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
    # praksis
    mechanism: str | None = None
    results: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    funding: str | None = None
    # funn
    finding_kind: str | None = None
    confidence: str | None = None
    # tilskudd
    giver: str | None = None
    recipients: list[str] = field(default_factory=list)
    purpose: str | None = None
    # tilskudd, aktor
    legal_basis: str | None = None
    # aktor
    responsibilities: list[str] = field(default_factory=list)

    @property
    def type_label(self) -> str:
        return type_label(self.type)

    @property
    def municipality_codes(self) -> list[str]:
        return [p.kommune for p in self.places if p.kommune]

    @property
    def county_codes(self) -> list[str]:
        return [p.fylke for p in self.places if p.fylke]

    def label_text(self) -> str:
        """Norwegian labels of the entry's vocabulary terms, for indexing and display."""
        labels = [THEMES[t] for t in self.themes if t in THEMES]
        labels += [TARGET_GROUPS[g] for g in self.target_groups if g in TARGET_GROUPS]
        labels += [ACTORS[a] for a in self.actors if a in ACTORS]
        labels.append(self.type_label)
        if self.finding_kind in FINDING_KINDS:
            labels.append(FINDING_KINDS[self.finding_kind])
        return " · ".join(labels)

    def detail_text(self) -> str:
        """The type-specific prose fields joined, indexed together with the body."""
        parts: list[str] = []
        for value in (self.mechanism, self.funding, self.giver, self.purpose, self.legal_basis,
                      self.confidence, self.years):
            if value:
                parts.append(value)
        for values in (self.results, self.advice, self.recipients, self.responsibilities):
            parts.extend(values)
        parts.extend(f"{q.figure} {q.context}" for q in self.quoted_figures)
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data, vocabulary terms with their labels."""
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
        optional = {
            "mechanism": self.mechanism,
            "results": self.results,
            "advice": self.advice,
            "funding": self.funding,
            "finding_kind": self.finding_kind,
            "confidence": self.confidence,
            "giver": self.giver,
            "recipients": self.recipients,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "responsibilities": self.responsibilities,
        }
        data.update({k: v for k, v in optional.items() if v})
        return data
