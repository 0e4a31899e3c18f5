"""The content loader against a corpus of deliberately broken files (tests/knowledge_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bliatlas.cli import main
from bliatlas.knowledge.loader import ContentError, load_entries, validate_content

FIXTURES = Path(__file__).resolve().parent / "knowledge_fixtures"


def test_valid_fixture_corpus_loads_typed_entries() -> None:
    entries = {e.id: e for e in load_entries(FIXTURES / "valid")}
    assert sorted(entries) == ["aktor-testaktor", "kunnskapsbehov-testbehov",
                               "praksis-testpraksis-sprakkafe", "tilskudd-testordning"]
    p = entries["praksis-testpraksis-sprakkafe"]
    assert p.type == "praksis"
    assert p.themes == ["sprak", "frivillighet"]
    assert p.municipality_codes == ["4601"]
    assert p.county_codes == ["46"]
    assert p.places[2].navn == "Jämtland" and p.places[2].land == "SE"
    assert p.sources[0].document == "temahefte-2019" and p.sources[0].page == 10
    assert p.sources[0].citation() == (
        "Innvandring, inkludering, sysselsetting og lokal utvikling. Temahefte, revidert "
        "utgave (Distriktssenteret og IMDi, 2019), «Folkebiblioteket – plass og hjerte for "
        "alle», s. 10")
    # Plain text for lists and reports; the marked text kept for the entry page.
    assert p.summary == "Testoppføring for validatoren. Beskriver en tenkt språkkafé."
    assert p.mechanism == ("Testfelt: uformell språktrening senker terskelen. "
                           "(Bli-atlas' vurdering)")
    assert p.marked["mechanism"] == "Testfelt: uformell språktrening senker terskelen. [vurdering]"
    assert p.results == [] and p.advice == ["Testråd."]
    assert p.body.startswith("Testtekst for validatoren (ikke ekte innhold). [1]")
    assert (p.evidence.level, p.evidence.label) == ("erfaringsbasert", "Erfaringsbasert")
    assert p.conditions.size == "ikke oppgitt i kilden"
    assert (p.cost, p.funding, p.cost_class) == ("ikke oppgitt i kilden", "ikke oppgitt i kilden",
                                                 "ikke_oppgitt")
    assert p.contact.url == "https://vimeo.com/distriktssenteret/berg"
    assert (p.status.value, p.status.note) == ("ukjent", "ikke oppgitt i kilden")
    t = entries["tilskudd-testordning"]
    assert (t.giver, t.recipients, t.purpose) == ("Testfylket.", ["kommuner"], "Teste validatoren.")
    assert (t.amount, t.deadline, t.link) == ("Totalt 22 millioner.", "ikke oppgitt i kilden",
                                              "ikke oppgitt i kilden")
    assert t.sources[0].section is None and t.sources[0].page == 12
    k = entries["kunnskapsbehov-testbehov"]
    assert [(i.id, i.when) for i in k.indicators] == [("arbeidsinnvandrere_per_1000", "hoy")]
    assert entries["aktor-testaktor"].actor == "husbanken"


def test_cli_validate_accepts_valid_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kunnskap", "valider", "--innhold", str(FIXTURES / "valid")]) == 0
    out = capsys.readouterr().out
    assert ("er gyldig: 4 oppføringer (1 praksis / tiltak, 1 kunnskapsbehov, "
            "1 tilskuddsordning, 1 aktør og ansvar)") in out


# (corpus, file, field, expected message fragment)
BROKEN = [
    ("missing_field", "praksis/praksis-mangler-felt.md", "summary",
     "mangler; forventet en tekst"),
    ("missing_field", "praksis/praksis-mangler-felt.md", "mechanism",
     "mangler; forventet en tekst"),
    ("bad_vocabulary", "praksis/praksis-ukjent-tema.md", "themes",
     "ukjent tema 'jobb'; forventet ett av: arbeid, sprak, bolig"),
    ("bad_id", "praksis/praksis-feil-id.md", "id",
     "forventet små bokstaver a-z, sifre og bindestrek"),
    ("id_not_filename", "praksis/praksis-filnavn.md", "id",
     "'praksis-annet-navn' skal være lik filnavnet uten .md ('praksis-filnavn')"),
    ("bad_yaml", "praksis/praksis-ugyldig-yaml.md", None,
     "ugyldig YAML på linje 6, i noe som begynte på linje 4"),
    ("duplicate_id", "rad/praksis-dobbel.md", "id",
     "'praksis-dobbel' er allerede brukt av duplicate_id/praksis/praksis-dobbel.md"),
    ("bad_place", "praksis/praksis-feil-kommunenummer.md", "places[1].kommune",
     "'1201' er ikke et firesifret 2024-kommunenummer"),
    ("bad_place", "praksis/praksis-feil-kommunenummer.md", "places[2].fylke",
     "forventet tekst i anførselstegn"),
    ("bad_source", "praksis/praksis-kilde-uten-anforsel.md", "sources[1].document",
     "forventet ett av: arbeidsverksted-2023, temahefte-2019"),
    ("bad_source", "praksis/praksis-kilde-uten-anforsel.md", "sources[1].title",
     "hentes fra dokumentregisteret"),
    ("bad_marks", "praksis/praksis-uten-kildemerker.md", "summary", "mangler kildemerke"),
    ("bad_marks", "praksis/praksis-uten-kildemerker.md", "advice[1]",
     "kildemerket [2] viser til en kilde som ikke finnes (oppføringen har 1 kilde)"),
    ("bad_marks", "praksis/praksis-uten-kildemerker.md", "tekst, avsnitt 2",
     "teksten etter siste kildemerke mangler merke: «Og en setning etter merket.»"),
    ("bad_evidence", "praksis/praksis-feil-evidens.md", "evidence.level",
     "forventet ett av: effekt_dokumentert, evaluert, erfaringsbasert, ikke_dokumentert"),
    ("bad_evidence", "praksis/praksis-feil-evidens.md", "contact.web",
     "forventet en nettadresse (f.eks. karrierenordland.no)"),
    ("bad_evidence", "praksis/praksis-feil-evidens.md", "status.value",
     "forventet ett av: aktiv, avsluttet, ukjent"),
    ("bad_evidence", "praksis/praksis-feil-evidens.md", "cost", "«ikke oppgitt i kilden»"),
    ("bad_need", "kunnskapsbehov/kunnskapsbehov-ukjent-indikator.md", "indicators[1].id",
     "ukjent indikator 'lykke_per_1000'; forventet en id fra indikatorkatalogen"),
    ("bad_need", "kunnskapsbehov/kunnskapsbehov-ukjent-indikator.md", "indicators[1].when",
     "forventet ett av: hoy, lav"),
    ("bad_need", "kunnskapsbehov/kunnskapsbehov-uten-data.md", "indicators",
     "forventet enten indikatorer (indicators:) som belyser kunnskapsbehovet, eller data_gap:"),
    ("no_front_matter", "praksis/praksis-uten-hode.md", None,
     "mangler YAML-hode: filen skal begynne med en linje '---'"),
]


@pytest.mark.parametrize(("corpus", "file", "field", "message"), BROKEN,
                         ids=[f"{b[0]}-{b[2]}" for b in BROKEN])
def test_broken_corpus_issue_names_file_field_and_expectation(
        corpus: str, file: str, field: str | None, message: str) -> None:
    issues = validate_content(FIXTURES / corpus)[1]
    matching = [i for i in issues if i.path == f"{corpus}/{file}" and i.field == field]
    assert matching, [str(i) for i in issues]
    assert any(message in i.message for i in matching), [str(i) for i in matching]


def test_broken_corpora_report_exactly_their_own_faults() -> None:
    counts = {c: len(validate_content(FIXTURES / c)[1]) for c in sorted({b[0] for b in BROKEN})}
    assert counts == {
        "bad_evidence": 4, "bad_id": 1, "bad_marks": 3, "bad_need": 3, "bad_place": 2,
        "bad_source": 2, "bad_vocabulary": 1, "bad_yaml": 1, "duplicate_id": 1,
        "id_not_filename": 1, "missing_field": 2, "no_front_matter": 1,
    }


def test_load_entries_raises_with_every_issue() -> None:
    with pytest.raises(ContentError) as info:
        load_entries(FIXTURES / "missing_field")
    text = str(info.value)
    assert text.splitlines()[0] == "2 feil i kunnskapsinnholdet:"
    assert "missing_field/praksis/praksis-mangler-felt.md: felt 'summary'" in text


def test_cli_validate_exits_non_zero_with_precise_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kunnskap", "valider", "--innhold", str(FIXTURES / "bad_vocabulary")]) == 2
    err = capsys.readouterr().err
    assert ("bad_vocabulary/praksis/praksis-ukjent-tema.md: felt 'themes': ukjent tema 'jobb'"
            in err)


def test_missing_content_folder_is_an_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kunnskap", "valider", "--innhold", str(tmp_path / "finnes-ikke")]) == 2
    assert "innholdsmappen finnes ikke" in capsys.readouterr().err


def test_unknown_field_and_wrong_folder_are_reported(tmp_path: Path) -> None:
    src = (FIXTURES / "valid" / "praksis" / "praksis-testpraksis-sprakkafe.md").read_text()
    folder = tmp_path / "content" / "funn"
    folder.mkdir(parents=True)
    (folder / "praksis-testpraksis-sprakkafe.md").write_text(
        src.replace("years:", "aar: 2019\nyears:"), encoding="utf-8")
    _, issues = validate_content(tmp_path / "content")
    text = [str(i) for i in issues]
    assert any("felt 'aar': ukjent felt for type 'praksis'" in t for t in text), text
    assert any("hører hjemme i mappen content/praksis/, ikke funn/" in t for t in text), text


def test_region_registry_rejects_unknown_municipality(tmp_path: Path) -> None:
    from bliatlas.knowledge.loader import Region

    regions = {"4601": Region("4601", "kommune", "Bergen", "46", 2),
               "46": Region("46", "fylke", "Vestland", None, None)}
    assert validate_content(FIXTURES / "valid", regions)[1] == []
    only_other = {"3405": Region("3405", "kommune", "Lillehammer", "34", 3)}
    issues = validate_content(FIXTURES / "valid", only_other)[1]
    expected = ("valid/praksis/praksis-testpraksis-sprakkafe.md: felt 'places[1].kommune': "
                "kommunenummer '4601' finnes ikke i regionregisteret for 2024")
    assert [str(i) for i in issues] == [expected]
