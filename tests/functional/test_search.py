"""Search (issue 10): by reference, by category, subcategory and platform label as well as the free text; scoped by
the audience; hostile input; through the room page, the police overview and the API; a constant number of queries.
Every test runs on SQLite (FTS5) and PostgreSQL (the Dutch text-search configuration)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event

from portal.core.db import utcnow
from portal.extensions import db

KNIFE = "Mes gevonden in kluisje"
DEAL = "Verdachte overdracht bij de poort"
CLIP = "Filmpje rondgestuurd in de klas"
FIGHT = "Ruzie op het plein"  # district B only


def _post(app, author, summary: str, **overrides):
    from portal.core.db import commit
    from portal.signals import services

    values = {
        "client_key": uuid.uuid4().hex,
        "occurred_on": utcnow().date() - timedelta(days=2),
        "category": "wapens",
        "subcategory": "wapens.mes_overig",
        "location_type": "in_schoolgebouw",
        "severity": "midden",
        "summary": summary,
        "details_html": "<p>Geen bijzonderheden</p>",
        "classification": "K2",
        "sharing_scope": "stadsdeelnetwerk",
    }
    values.update(overrides)
    with app.app_context():
        result = services.create_signal(db.session.merge(author), services.SignalInput(**values), ip="127.0.0.1")
        commit()
        return result.signal


@pytest.fixture
def signals(app, world):
    author = world["users"]["author"]
    return {
        "knife": _post(app, author, KNIFE),
        "deal": _post(
            app,
            author,
            DEAL,
            category="drugs",
            subcategory="drugs.handel",
            severity="hoog",
            classification="K3",
            details_html="<p>Zwaardvis gezien</p>",
        ),
        "clip": _post(
            app,
            author,
            CLIP,
            category="online",
            subcategory="online.cyberpesten",
            location_type="online",
            online_platform="TikTok",
        ),
        "fight": _post(app, world["users"]["district_b"], FIGHT, category="geweld", subcategory=""),
    }


def _search(app, world, who: str, q: str, **criteria) -> list[str]:
    from portal.signals import queries

    with app.app_context():
        viewer = queries.viewer_for(db.session.merge(world["users"][who]))
        rows, _next = queries.list_signals(viewer, queries.SignalFilter(q=q, **criteria), limit=100)
        return sorted(s.summary for s in rows)


def test_by_reference_exact_lower_case_and_without_leading_zeros(app, world, signals):
    reference = signals["knife"].reference
    year, number = reference.split("-")[1:]
    assert reference == f"SIG-{year}-{number}"
    assert len(number) == 4
    for q in (reference, reference.lower(), f"  {reference}  ", f"sig-{year}-{int(number)}", f"SIG {year} {number}"):
        assert _search(app, world, "police_a", q) == [KNIFE], q
    assert _search(app, world, "police_a", f"SIG-{year}-9999") == []
    assert _search(app, world, "police_a", f"SIG-{year}-{number}1") == []  # exact: no prefix match


def test_a_reference_of_another_district_is_not_found_by_who_may_not_see_it(app, world, signals):
    reference = signals["fight"].reference
    assert _search(app, world, "district_b", reference) == [FIGHT]
    assert _search(app, world, "police_a", reference) == []  # police of district A: the signal is district B's
    assert _search(app, world, "police_a", reference.lower()) == []


def test_by_category_label_in_dutch_and_english(app, world, signals):
    assert _search(app, world, "police_a", "wapens") == [KNIFE]
    assert _search(app, world, "police_a", "Weapons") == [KNIFE]
    assert _search(app, world, "police_a", "drugs en middelen") == [DEAL]
    assert _search(app, world, "police_a", "DRUGS AND SUBSTANCES") == [DEAL]
    assert _search(app, world, "police_a", "subst") == [DEAL]  # the start of a word, from three letters
    assert _search(app, world, "police_a", "su") == []  # shorter: whole words only
    assert _search(app, world, "district_b", "geweld") == [FIGHT]


def test_by_subcategory_label_in_dutch_and_english(app, world, signals):
    assert _search(app, world, "police_a", "steekvoorwerp") == [KNIFE]
    assert _search(app, world, "police_a", "knife") == [KNIFE]
    assert _search(app, world, "police_a", "dealen") == [DEAL]
    assert _search(app, world, "police_a", "Dealing") == [DEAL]
    assert _search(app, world, "police_a", "cyberpesten") == [CLIP]  # the code of "(Cyber)pesten"
    assert _search(app, world, "police_a", "bullying") == [CLIP]


def test_by_online_platform(app, world, signals):
    assert _search(app, world, "police_a", "tiktok") == [CLIP]
    assert _search(app, world, "police_a", "TikTok") == [CLIP]
    assert _search(app, world, "police_a", "snapchat") == []


def test_free_text_still_matches_and_labels_combine_with_other_filters(app, world, signals):
    room_a, room_b = world["rooms"]["a"], world["rooms"]["b"]
    assert _search(app, world, "police_a", "kluisje") == [KNIFE]
    assert _search(app, world, "police_a", "wapens", severity="midden") == [KNIFE]
    assert _search(app, world, "police_a", "wapens", severity="hoog") == []
    assert _search(app, world, "police_a", "drugs", severity="hoog", room=room_a) == [DEAL]
    assert _search(app, world, "police_a", "tiktok", category="online") == [CLIP]
    assert _search(app, world, "police_a", "tiktok", category="wapens") == []
    assert _search(app, world, "district_b", "tiktok", room=room_b) == []
    assert _search(app, world, "police_a", signals["knife"].reference, severity="hoog") == []


def test_labels_match_for_every_viewer_details_only_where_shown(app, world, signals):
    # other_school sees K3 signals of its district without details; partner_a sees no K3 signals at all.
    assert _search(app, world, "police_a", "zwaardvis") == [DEAL]
    assert _search(app, world, "other_school", "zwaardvis") == []
    assert _search(app, world, "other_school", "dealen") == [DEAL]  # the subcategory is shown to everyone
    assert _search(app, world, "other_school", signals["deal"].reference) == [DEAL]
    assert _search(app, world, "partner_a", "dealen") == []
    assert _search(app, world, "partner_a", signals["deal"].reference) == []
    assert _search(app, world, "partner_a", "wapens") == [KNIFE]
    assert _search(app, world, "board_x", "wapens") == []  # no seat in a room: no signal at all


def test_an_edited_label_is_found_at_once(app, world, signals):
    from portal.signals.models import TaxonomyTerm

    with app.app_context():
        term = db.session.query(TaxonomyTerm).filter_by(code="online.cyberpesten").one()
        term.label_nl = "Digitaal treiteren"
        db.session.commit()
    assert _search(app, world, "police_a", "treiteren") == [CLIP]


HOSTILE = [
    "%",
    "_",
    "%%",
    "\\",
    "'",
    '"',
    "' OR '1'='1",
    "'; DROP TABLE signals; --",
    'wapens" OR "1',
    "NEAR(mes kluisje)",
    "summary:mes",
    "{summary details_text}: mes",
    "mes*",
    "-mes",
    "^mes",
    "mes AND NOT kluisje",
    "SIG-%",
    "SIG-____-0001",
    "x" * 280,
    "mes " * 70,
    "\u202egeweld",
    "Ωμέγα 日本語",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_neither_fail_nor_act_as_wildcards(app, world, signals, q):
    found = _search(app, world, "police_a", q)
    if not any(ch.isalnum() for ch in q):
        assert found == []  # no word at all: nothing, not everything
    assert len(found) <= 1  # mes/kluisje/geweld name at most the knife (the fight is district B's)
    assert set(found) <= {KNIFE}


def test_wildcards_in_a_query_are_ignored_not_expanded(app, world, signals):
    assert _search(app, world, "police_a", "%") == []
    assert _search(app, world, "police_a", "_") == []
    assert _search(app, world, "police_a", "%mes%") == _search(app, world, "police_a", "mes") == [KNIFE]
    assert _search(app, world, "police_a", "w_pens") == []
    assert _search(app, world, "police_a", "w%") == []


# --- through the pages and the API ------------------------------------------------------------------------------


def test_room_page_searches_reference_and_labels(app, world, signals, client, login_as):
    login_as(client, world["users"]["police_a"])
    room = world["rooms"]["a"].public_id
    for q, expected in (("wapens", KNIFE), ("tiktok", CLIP), (signals["deal"].reference.lower(), DEAL)):
        page = client.get(f"/rooms/{room}", query_string={"q": q})
        assert page.status_code == 200, q
        html = page.get_data(as_text=True)
        assert [s for s in (KNIFE, DEAL, CLIP) if s in html] == [expected], q
    hostile = client.get(f"/rooms/{room}", query_string={"q": "%' OR 1=1 --"})
    assert hostile.status_code == 200
    assert not any(s in hostile.get_data(as_text=True) for s in (KNIFE, DEAL, CLIP))
    assert client.get(f"/rooms/{room}", query_string={"q": "x" * 280}).status_code == 400  # the form's length


def test_police_overview_searches_reference_and_labels(app, world, signals, client, login_as):
    login_as(client, world["users"]["police_a"])
    for q, expected in (("Weapons", KNIFE), ("dealen", DEAL), (signals["clip"].reference, CLIP)):
        page = client.get("/police", query_string={"q": q})
        assert page.status_code == 200, q
        html = page.get_data(as_text=True)
        assert [s for s in (KNIFE, DEAL, CLIP) if s in html] == [expected], q
    other_district = client.get("/police", query_string={"q": signals["fight"].reference})
    assert FIGHT not in other_district.get_data(as_text=True)


def test_api_searches_reference_labels_and_platform(app, world, signals, client, login_as):
    login_as(client, world["users"]["police_a"])

    def summaries(q: str, **more) -> list[str]:
        response = client.get("/api/v1/signals", query_string={"q": q, **more})
        assert response.status_code == 200, response.get_data(as_text=True)
        return sorted(s["summary"] for s in response.get_json()["signals"])

    assert summaries(signals["knife"].reference.lower()) == [KNIFE]
    assert summaries(signals["fight"].reference) == []
    assert summaries("drugs and substances") == [DEAL]
    assert summaries("knife") == [KNIFE]
    assert summaries("tiktok") == [CLIP]
    assert summaries("tiktok", severity="hoog") == []
    assert summaries("%") == []
    assert summaries("\"_%'") == []
    assert summaries("x" * 200) == []
    too_long = client.get("/api/v1/signals", query_string={"q": "x" * 280})
    assert too_long.status_code == 400  # the documented maximum, a problem not a database error


# --- statements -------------------------------------------------------------------------------------------------


def _statements(app, call) -> int:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200
    return len(statements)


def test_a_search_costs_one_statement_more_than_a_list_whatever_it_finds(app, world, signals, client, login_as):
    login_as(client, world["users"]["police_a"])
    client.get("/api/v1/signals")  # warm-up (the session record's first touch)
    plain = _statements(app, lambda: client.get("/api/v1/signals?limit=100"))
    by_label = _statements(app, lambda: client.get("/api/v1/signals?limit=100&q=wapens"))
    by_reference = _statements(app, lambda: client.get(f"/api/v1/signals?q={signals['knife'].reference}"))
    author = world["users"]["author"]
    for n in range(12):
        _post(app, author, f"Nog een mes {n}", online_platform="Snapchat" if n % 2 else "", themes=[])
    many_by_label = _statements(app, lambda: client.get("/api/v1/signals?limit=100&q=wapens"))
    by_platform = _statements(app, lambda: client.get("/api/v1/signals?limit=100&q=snapchat"))
    assert len(client.get("/api/v1/signals?limit=100&q=wapens").get_json()["signals"]) == 13
    # The label lookup is the one extra statement (plus the search's audit record, which a list also writes).
    assert by_label == many_by_label == by_platform, (by_label, many_by_label, by_platform)
    assert by_label <= plain + 1, (plain, by_label)
    assert by_reference <= plain, (plain, by_reference)
