"""Administration pages, one module per section, all on the one ``admin`` blueprint (defined in ``blueprint``).

Thin: load → authorise → form → service → commit → redirect. Objects appear in URLs by public id only; unknown or
malformed ids answer 404. Services raise ``ValidationFailed`` for rules that need the database; the message is shown
at the form field it names (status 400), never a 500.
"""

from __future__ import annotations

# Importing a section module registers its routes on the blueprint.
from portal.admin.views import districts, organisations, rooms, taxonomy, users  # noqa: F401
from portal.admin.views.blueprint import bp

__all__ = ["bp"]
