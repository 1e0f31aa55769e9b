"""A cautious detector of personal data in free text (docs/domain.md E.2): names, phone numbers, e-mail addresses,
postcodes with house numbers, BSN-like numbers and licence plates. It warns; the user edits or confirms."""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<!\d)(?:\+31|0031|0)[\s-]?(?:6|[1-9]\d{1,2})(?:[\s-]?\d){6,8}(?!\d)")
POSTCODE_HOUSE = re.compile(
    r"\b[1-9]\d{3}\s?[A-Z]{2}\b(?:\s+\d{1,5}[a-zA-Z]?)?|\b[A-Z][a-z]+(?:straat|laan|weg|plein|"
    r"kade|gracht|dijk|pad|hof|singel|dreef)\s+\d{1,5}[a-zA-Z]?\b"
)
NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)|(?<!\d)\d{4}\.\d{2}\.\d{3}(?!\d)")
PLATE = re.compile(
    r"\b(?:[A-Z]{2}-\d{2}-\d{2}|\d{2}-\d{2}-[A-Z]{2}|\d{2}-[A-Z]{2}-\d{2}|[A-Z]{2}-\d{2}-[A-Z]{2}|"
    r"[A-Z]{2}-[A-Z]{2}-\d{2}|\d{2}-[A-Z]{2}-[A-Z]{2}|\d{2}-[A-Z]{3}-\d|\d-[A-Z]{3}-\d{2}|"
    r"[A-Z]{2}-\d{3}-[A-Z]|[A-Z]-\d{3}-[A-Z]{2}|[A-Z]{3}-\d{2}-[A-Z]|\d-[A-Z]{2}-\d{3})\b"
)
# "Jan de Vries", "Fatima El Amrani", "leerling Kevin": a capitalised word followed by (particles and) another
# capitalised word, or a role word followed by a capitalised word. Known place and organisation words are ignored.
PARTICLES = r"(?:van|de|der|den|het|ter|ten|el|al|ben|bin|la|le|da|dos|du)"
FULL_NAME = re.compile(rf"\b([A-Z][a-zà-ÿ]{{1,}})\s+(?:{PARTICLES}\s+){{0,3}}([A-Z][a-zà-ÿ]{{2,}})\b")
ROLE_NAME = re.compile(  # the role word in any case, the name capitalised
    r"\b(?i:leerling|leerlinge|student|studente|docent|docente|meneer|mevrouw|moeder|vader|broer|zus|jongen|"
    r"meisje)\s+([A-Z][a-zà-ÿ]{2,})\b"
)
NOT_NAMES = frozenset(
    [
        "Almere",
        "Stad",
        "Buiten",
        "Haven",
        "Poort",
        "Hout",
        "Pampus",
        "Oosterwold",
        "Nobelhorst",
        "Vogelhorst",
        "Centrum",
        "College",
        "Lyceum",
        "Gymnasium",
        "Campus",
        "School",
        "Scholengemeenschap",
        "Praktijkschool",
        "Vakschool",
        "Hogeschool",
        "Montessori",
        "Politie",
        "Gemeente",
        "Halt",
        "Vitree",
        "Schoor",
        "Snapchat",
        "Instagram",
        "Tiktok",
        "Whatsapp",
        "Telegram",
        "Youtube",
        "Facebook",
        "Veilig",
        "Thuis",
        "Openbaar",
        "Ministerie",
        "Meldcode",
        "Stichting",
        "Zorg",
        "Veiligheidshuis",
        "Filmwijk",
        "Kruidenwijk",
        "Noorderplassen",
        "Regenboogbuurt",
        "Faunabuurt",
        "Homeruskwartier",
        "Europakwartier",
        "Olympiakwartier",
        "Columbuskwartier",
        "Werven",
        "Maandag",
        "Dinsdag",
        "Woensdag",
        "Donderdag",
        "Vrijdag",
        "Zaterdag",
        "Zondag",
        "Januari",
        "Februari",
        "Maart",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Augustus",
        "September",
        "Oktober",
        "November",
        "December",
        "Het",
        "Een",
        "De",
        "Bij",
        "Na",
        "Op",
        "In",
        "Tijdens",
        "Er",
        "Na",
        "Vanaf",
        "Rond",
        "Ouders",
        "Leerlingen",
        "Docenten",
        "Wij",
        "Ze",
        "Hij",
        "Zij",
        "Dit",
        "Deze",
        "Die",
        "Daar",
    ]
)


@dataclass(frozen=True)
class Finding:
    kind: str  # name, phone, email, address, bsn, plate
    text: str


def _bsn_like(digits: str) -> bool:
    digits = digits.replace(".", "")
    if len(digits) != 9:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0


def find_personal_data(text: str) -> list[Finding]:
    """What looks like personal data in ``text``, in order of appearance, without duplicates."""
    text = text or ""
    found: list[tuple[int, Finding]] = []
    for match in EMAIL.finditer(text):
        found.append((match.start(), Finding("email", match.group())))
    for match in PHONE.finditer(text):
        found.append((match.start(), Finding("phone", match.group().strip())))
    for match in POSTCODE_HOUSE.finditer(text):
        found.append((match.start(), Finding("address", match.group())))
    for match in NINE_DIGITS.finditer(text):
        if _bsn_like(match.group()):
            found.append((match.start(), Finding("bsn", match.group())))
    for match in PLATE.finditer(text):
        found.append((match.start(), Finding("plate", match.group())))
    for match in FULL_NAME.finditer(text):
        first, last = match.group(1), match.group(2)
        if first not in NOT_NAMES and last not in NOT_NAMES:
            found.append((match.start(), Finding("name", match.group())))
    for match in ROLE_NAME.finditer(text):
        if match.group(1).capitalize() not in NOT_NAMES:
            found.append((match.start(), Finding("name", match.group())))
    seen: set[tuple[str, str]] = set()
    result = []
    for _, finding in sorted(found, key=lambda item: item[0]):
        key = (finding.kind, finding.text)
        if key not in seen:
            seen.add(key)
            result.append(finding)
    return result
