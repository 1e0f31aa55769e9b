"""The choice lists of the taxonomy are kept per process (signals/taxonomy.options): a page reads one version row
instead of every term, and an edit shows at the next request — on any worker, since the version is read from the
database, not from the process."""

from __future__ import annotations

from sqlalchemy import event

from portal.core.db import commit
from portal.extensions import db
from portal.signals.models import Vocabulary


def _statements_on_terms(app, client, path: str) -> tuple[int, str]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM taxonomy_terms" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200
    return len(seen), page.get_data(as_text=True)


def test_an_edited_label_shows_at_the_next_request_and_terms_are_not_reloaded_meanwhile(app, world, client, login_as):
    from portal.signals import taxonomy

    login_as(client, world["users"]["author"])
    room = f"/rooms/{world['rooms']['a'].public_id}"
    client.get(room)  # whatever an earlier test left in the cache is rebuilt here
    statements, html = _statements_on_terms(app, client, room)
    assert statements == 1  # the version row only: three choice lists came from the cache
    with app.app_context():
        term = taxonomy.get_term(Vocabulary.CATEGORY, "wapens")
        old_label = term.label_nl
        assert old_label in html
        taxonomy.save_term(
            term, vocabulary=Vocabulary.CATEGORY, code="wapens", label_nl="Wapens en messen", label_en="Weapons"
        )
        commit()
    statements, html = _statements_on_terms(app, client, room)
    assert statements == 2  # the version changed: the lists are loaded again, once
    assert "Wapens en messen" in html
    assert f">{old_label}<" not in html

    with app.app_context():
        term = taxonomy.get_term(Vocabulary.CATEGORY, "wapens")
        taxonomy.save_term(
            term,
            vocabulary=Vocabulary.CATEGORY,
            code="wapens",
            label_nl="Wapens en messen",
            label_en="Weapons",
            active=False,
        )
        commit()
    _statements, html = _statements_on_terms(app, client, room)
    assert 'value="wapens"' not in html  # an inactive term is no longer offered
    form = client.get("/signals/new").get_data(as_text=True)
    assert 'value="wapens.mes_overig"' not in form  # nor are its subcategories


def test_options_hold_active_terms_with_active_children_in_order(app, ctx):
    from portal.signals import taxonomy

    categories = taxonomy.options(Vocabulary.CATEGORY)
    loaded = taxonomy.terms(Vocabulary.CATEGORY)
    assert [c.code for c in categories] == [t.code for t in loaded]
    for option, term in zip(categories, loaded, strict=True):
        assert (option.label("nl"), option.label("en")) == (term.label_nl, term.label_en)
        assert [c.code for c in option.children] == [c.code for c in term.children if c.active]
