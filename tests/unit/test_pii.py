"""The personal-data check (docs/domain.md E.2): catches Dutch examples, lets ordinary signal text through."""

import pytest

from portal.core.pii import find_personal_data

CAUGHT = [
    ("Jan de Vries stond bij het hek te wachten.", "name"),
    ("Leerling Kevin werd na school bedreigd.", "name"),
    ("Fatima El Amrani is de moeder van het slachtoffer.", "name"),
    ("Bel hem op 06-12345678 voor meer informatie.", "phone"),
    ("Telefoon: +31 6 1234 5678", "phone"),
    ("Het nummer 020-1234567 belde de school.", "phone"),
    ("Mail naar ouder@gmail.com voor contact.", "email"),
    ("Hij woont op 1311 AB 12 in Almere.", "address"),
    ("Het adres is Kruidenstraat 14.", "address"),
    ("BSN 111222333 stond in het formulier.", "bsn"),
    ("Een scooter met kenteken 12-ABC-3 reed weg.", "plate"),
    ("Auto met kenteken XX-12-YY werd gezien.", "plate"),
]

ORDINARY = [
    "Tijdens de kluisjescontrole is een mes gevonden in een kluisje op de tweede verdieping.",
    "Een groep jongeren wachtte na 16:00 bij de ingang en intimideerde leerlingen.",
    "In Almere Buiten circuleert een naaktfoto in een klassenchat; aangifte wordt overwogen.",
    "Snapchat-dreigement gericht aan meerdere scholen in Almere Stad en Almere Poort.",
    "Op het schoolplein van het Vaartzicht College was het onrustig na de les.",
    "Illegaal vuurwerk afgestoken bij de fietsenstalling, Halt-verwijzing door de politie.",
    "De wijkagent heeft extra toezicht gehouden rond het station.",
]


@pytest.mark.parametrize(("text", "kind"), CAUGHT)
def test_personal_data_is_caught(text, kind):
    kinds = {finding.kind for finding in find_personal_data(text)}
    assert kind in kinds, f"{kind} not found in {text!r}: {kinds}"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_passes(text):
    assert find_personal_data(text) == []


def test_each_finding_is_reported_once():
    findings = find_personal_data("Bel 06-12345678 of 06-12345678.")
    assert [f.text for f in findings] == ["06-12345678"]


def test_role_word_followed_by_ordinary_word_is_not_a_name():
    assert find_personal_data("De leerling had een mes bij zich. Een docent zag het.") == []
