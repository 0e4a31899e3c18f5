"""Every claim in content/ traceable to its source, in our own words.

Checked over all entries against the five source documents in ../shared/seeds:
- no text shares 12 or more words in a row with a source outside attributed quotation
  marks (the copying check);
- every prose field and paragraph carries a source mark or the mark for the editors'
  reading, and quotations occur in the source their mark names;
- cited sections exist in the cited document (for the county evaluation: in the cited
  chapter; for the booklet: on the cited page), and web addresses and amounts are the
  source's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from knowledge_sources import (
    booklet_pages,
    chapter_index,
    source_index,
    source_texts,
)

from bliatlas.knowledge import citations
from bliatlas.knowledge.fidelity import RUN_LIMIT, copied_runs, keyed_words, prose
from bliatlas.knowledge.loader import load_entries, parse_entry
from bliatlas.knowledge.models import Entry
from bliatlas.knowledge.vocab import NOT_GIVEN

CONTENT = Path(__file__).resolve().parents[1] / "content"
ENTRIES = load_entries(CONTENT)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


# -- copying ------------------------------------------------------------------------------
def test_no_entry_shares_12_words_in_a_row_with_a_source() -> None:
    found = [f"{e.id} ({field}): {run.words} ord som i {run.document}: «{run.excerpt}»"
             for e in ENTRIES for field, run in copied_runs(e, source_index())]
    assert found == []


def _entry_with_body(tmp_path: Path, body: str) -> Entry:
    src = (Path(__file__).parent / "knowledge_fixtures" / "valid" / "praksis" /
           "praksis-testpraksis-sprakkafe.md").read_text(encoding="utf-8")
    head = src[:src.index("---", 4) + 4]
    folder = tmp_path / "content" / "praksis"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "praksis-testpraksis-sprakkafe.md"
    path.write_text(head + body + "\n", encoding="utf-8")
    entry, issues = parse_entry(path)
    assert issues == [] and entry is not None
    return entry


# 14 words of the booklet's story about Fjell, word for word.
COPIED = ("Kraftsenteret samarbeider med alle enheter i kommunen, lag og foreninger og andre "
          "som kan være en ressurs")


def test_copy_check_finds_a_copied_sentence_but_not_an_attributed_quotation(
        tmp_path: Path) -> None:
    assert COPIED.lower() in _norm(source_texts()["temahefte-2019"])
    copied = _entry_with_body(tmp_path, f"{COPIED}. [1]")
    [(field, run)] = copied_runs(copied, source_index())
    assert field == "tekst, avsnitt 1" and run.document == "temahefte-2019"
    assert run.words >= RUN_LIMIT
    quoted = _entry_with_body(tmp_path, f"Heftet skriver: «{COPIED}». [1]")
    assert copied_runs(quoted, source_index()) == []
    # A quotation covered by the editors' mark is not attributed to the source.
    unattributed = _entry_with_body(tmp_path, f"Vi mener: «{COPIED}». [vurdering]")
    assert len(copied_runs(unattributed, source_index())) == 1


def test_copy_check_meets_the_scanned_spelling_of_the_county_report() -> None:
    # The scan reads "ønsker" as "gnsker" and "å" as "a"; the check must still match.
    ours = ("Vi ønsker å takke alle som har bidratt med innsikt og synspunkter i løpet av "
            "prosjektet")
    run = source_index().longest_run(ours)
    assert run is not None and run.document == "fylkeskommunene-2025" and run.words >= 14


# -- marks and quotations -------------------------------------------------------------------
def test_every_claim_carries_a_source_mark_or_the_interpretation_mark() -> None:
    unmarked = []
    for e in ENTRIES:
        for field, text in prose(e):
            if field == "title" or text == NOT_GIVEN:
                continue
            unmarked += [f"{e.id} ({field}): {p}" for p in citations.problems(text,
                                                                               len(e.sources))]
    assert unmarked == []


def test_the_editors_reading_is_marked_and_counted() -> None:
    marks = sum(citations.count_interpretations(text) for e in ENTRIES for _, text in prose(e))
    with_marks = sum(1 for e in ENTRIES
                     if any(citations.count_interpretations(t) for _, t in prose(e)))
    # The content mixes sourced claims with clearly marked readings of them.
    assert marks > 100 and 0 < with_marks < len(ENTRIES)


def test_attributed_quotations_occur_in_the_cited_source() -> None:
    missing = []
    for e in ENTRIES:
        for field, text in prose(e):
            for quote, marks in citations.attributed_quotes(text):
                if len(keyed_words(quote)[0]) < 2:
                    continue  # one-word quotations («smører») are terms, checked by reading
                docs = [e.sources[n - 1].document for n in marks]
                if not any(source_index().occurs(quote, d) for d in docs):
                    missing.append(f"{e.id} ({field}): «{quote}»")
    assert missing == []


def test_quotation_check_catches_an_invented_quotation() -> None:
    real = "et lite hjertesukk"
    invented = "et lite hjertesukk over fylkeskommunens manglende vilje til samarbeid"
    assert source_index().occurs(real, "fylkeskommunene-2025")
    assert not source_index().occurs(invented, "fylkeskommunene-2025")


# -- what is cited ----------------------------------------------------------------------------
def _section_parts(section: str) -> tuple[str | None, list[str]]:
    label = None
    m = re.match(r"^(Kapittel \d|Vedlegg \d|Sammendrag)(?::\s*|$)", section)
    if m:
        label, section = m.group(1), section[m.end():]
    return label, [p for p in section.split(" – ") if p.strip()]


def _section_problems(document: str, section: str) -> list[str]:
    label, parts = _section_parts(section)
    if document == "fylkeskommunene-2025":
        if label is None:
            return [f"«{section}» sier ikke kapittel eller vedlegg"]
        index, doc = chapter_index(), label
    else:
        index, doc = source_index(), document
    return [f"«{part}» står ikke i {document} {label or ''}".strip()
            for part in parts if not index.occurs(part, doc)]


def _booklet_page_problem(section: str, page: int | None) -> str | None:
    pages = booklet_pages()
    starts = {tuple(keyed_words(title)[0][:3]): p for p, title in pages}
    start = starts.get(tuple(keyed_words(_section_parts(section)[1][0])[0][:3]))
    if start is None:
        return None  # a heading inside a story, not in the table of contents
    end = min((p for p, _ in pages if p > start), default=48)
    if page is None or not start <= page < end:
        return f"«{section}» står på s. {start}–{end - 1}, sitert s. {page}"
    return None


def test_cited_sections_exist_in_the_cited_document_and_chapter() -> None:
    wrong = [f"{e.id}: {problem}" for e in ENTRIES for s in e.sources if s.section
             for problem in _section_problems(s.document, s.section)]
    assert wrong == []


def test_section_check_catches_a_wrong_chapter_and_an_invented_heading() -> None:
    heading = "Kapittel 6: Et talerør for lokalkunnskap i bosettingsarbeidet?"
    assert _section_problems("fylkeskommunene-2025", heading) == []
    assert _section_problems("fylkeskommunene-2025", heading.replace("6", "5"))
    assert _section_problems("fylkeskommunene-2025", "Et talerør for lokalkunnskap")
    assert _section_problems("temahefte-2019", "Slik kan det gjøres i Berg")


def test_booklet_pages_match_its_table_of_contents() -> None:
    assert (28, "Frivilligsentralen – en arena for å bygge nettverk") in booklet_pages()
    wrong = [f"{e.id}: {problem}" for e in ENTRIES for s in e.sources
             if s.document == "temahefte-2019" and s.section
             and (problem := _booklet_page_problem(s.section, s.page))]
    assert wrong == []
    assert _booklet_page_problem("Lykken var en mentor", 30) is None
    assert _booklet_page_problem("Lykken var en mentor", 28) is not None


def test_web_addresses_and_amounts_are_the_sources_own() -> None:
    wrong = []
    for e in ENTRIES:
        cited = " ".join(_norm(source_texts()[s.document]) for s in e.sources)
        webs = [e.contact.web] if e.contact else []
        webs += [e.link] if e.link else []
        for web in webs:
            if web != NOT_GIVEN and web.lower() not in cited:
                wrong.append(f"{e.id}: nettadressen {web} står ikke i kilden")
        for amount in e.amounts:
            if _norm(amount) not in cited:
                wrong.append(f"{e.id}: beløpet {amount} står ikke i kilden")
    assert wrong == []


@pytest.mark.parametrize("field", ["evidence", "conditions", "contact", "status"])
def test_every_practice_has_the_actionable_fields(field: str) -> None:
    practices = [e for e in ENTRIES if e.type == "praksis"]
    assert len(practices) >= 35
    assert all(getattr(e, field) is not None for e in practices)
    assert all(e.cost and e.funding for e in practices)


def test_every_grant_scheme_says_amount_deadline_who_may_apply_and_link() -> None:
    grants = [e for e in ENTRIES if e.type == "tilskudd"]
    assert len(grants) == 16
    for e in grants:
        assert e.giver and e.recipients and e.amount and e.deadline and e.link, e.id


def test_every_knowledge_need_names_its_data_or_says_there_is_none() -> None:
    needs = [e for e in ENTRIES if e.type == "kunnskapsbehov"]
    assert needs and all(bool(e.indicators) != bool(e.data_gap) for e in needs)
    assert sum(1 for e in needs if e.indicators) >= 15
