"""The real content under content/: schema-valid, sourced, and quoting the seeds exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from knowledge_sources import source_texts

from bliatlas.cli import main
from bliatlas.knowledge.loader import load_entries, validate_content
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.vocab import DOCUMENTS

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"

ENTRIES = load_entries(CONTENT)
# Line breaks in the source text are layout, not content: compare with runs of whitespace
# collapsed to one space, nothing else changed.
SEED_TEXT = {key: re.sub(r"\s+", " ", text) for key, text in source_texts().items()}


def test_all_content_is_schema_valid() -> None:
    entries, issues = validate_content(CONTENT)
    assert [str(i) for i in issues] == []
    assert len(entries) == len(list(CONTENT.rglob("*.md")))


def test_cli_validates_the_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kunnskap", "valider", "--innhold", str(CONTENT)]) == 0
    assert f"er gyldig: {len(ENTRIES)} oppføringer" in capsys.readouterr().out


def test_ids_are_unique_and_every_type_folder_is_used_correctly() -> None:
    ids = [e.id for e in ENTRIES]
    assert len(ids) == len(set(ids))
    for e in ENTRIES:
        assert e.path.stem == e.id
        assert e.id.startswith(e.type + "-")


def test_every_entry_cites_a_source_document_with_place_in_it() -> None:
    for e in ENTRIES:
        assert e.sources, e.id
        for s in e.sources:
            assert s.document in DOCUMENTS
            assert s.section or s.page, e.id


def test_users_see_documents_by_title_publisher_and_year_never_file_numbers() -> None:
    for e in ENTRIES:
        assert not re.search(r"-00\d-", e.id), e.id
        for s in e.sources:
            doc = DOCUMENTS[s.document]
            assert s.citation().startswith(f"{doc.title} ({doc.publisher}, {doc.year})")
            assert not re.search(r"\b00\d\b|seed", s.citation())


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.quoted_figures], ids=lambda e: e.id)
def test_quoted_figures_occur_verbatim_in_the_cited_seed(entry: Entry) -> None:
    cited = [SEED_TEXT[s.document] for s in entry.sources]
    for q in entry.quoted_figures:
        figure = re.sub(r"\s+", " ", q.figure)
        assert any(figure in text for text in cited), (
            f"{entry.id}: {q.figure!r} står ikke i dokument "
            f"{', '.join(s.document for s in entry.sources)}"
        )


def test_quote_check_would_catch_an_altered_figure() -> None:
    entry = next(e for e in ENTRIES if e.quoted_figures)
    figure = entry.quoted_figures[0].figure
    altered = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), figure)
    if altered == figure:
        altered = figure + " 12345"
    assert not any(altered in SEED_TEXT[s.document] for s in entry.sources)
