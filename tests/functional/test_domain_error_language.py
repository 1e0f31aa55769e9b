"""A refused step says why in the user's language: the domain error's msgid is translated first and its parameters
are filled in after (portal.core.i18n.error_text). Dutch is the default; English shows the msgid."""

from __future__ import annotations

from html import unescape

from tests.functional.test_meetings import plan, set_status

DUTCH = "Een bijeenkomst met de status 'gepland' kan niet naar de status 'gehouden'."
ENGLISH = "A meeting with status 'gepland' cannot move to 'gehouden'."


def test_a_refused_step_shows_the_dutch_message_by_default(app, world, client, login_as):
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    login_as(client, manager)

    refused = set_status(client, meeting, "gehouden")

    assert refused.status_code == 409
    page = unescape(refused.get_data(as_text=True))
    assert DUTCH in page
    assert "cannot move to" not in page


def test_a_refused_step_shows_the_english_message_in_english(app, world, client, login_as):
    manager = world["users"]["manager_a"]
    meeting = plan(app, manager, world["rooms"]["a"])
    login_as(client, manager)
    with client.session_transaction() as session:
        session["language"] = "en"

    refused = set_status(client, meeting, "gehouden")

    assert refused.status_code == 409
    assert ENGLISH in unescape(refused.get_data(as_text=True))
