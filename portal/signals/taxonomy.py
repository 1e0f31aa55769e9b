"""Reads and writes of the reference data (taxonomy)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.audit import services as audit
from portal.core.errors import NotFound, ValidationFailed
from portal.core.text import clean_text
from portal.extensions import db
from portal.identity.models import User
from portal.signals.models import TaxonomyTerm, Vocabulary


def terms(vocabulary: Vocabulary, *, include_inactive: bool = False) -> list[TaxonomyTerm]:
    stmt = (
        select(TaxonomyTerm)
        .where(TaxonomyTerm.vocabulary == vocabulary, TaxonomyTerm.parent_id.is_(None))
        .options(selectinload(TaxonomyTerm.children))
        .order_by(TaxonomyTerm.position, TaxonomyTerm.id)
    )
    if not include_inactive:
        stmt = stmt.where(TaxonomyTerm.active.is_(True))
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class Option:
    """An active term as a choice list shows it (plain values: safe to keep between requests)."""

    code: str
    label_nl: str
    label_en: str
    children: tuple[Option, ...] = ()

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_nl


def options(vocabulary: Vocabulary) -> tuple[Option, ...]:
    """The active terms of a vocabulary (with their active children), for filter and form choice lists.

    Every room page, signal form and police page shows three to seven of these lists; loading them as ORM objects was
    a fifth of a room page's time (`make bench`). They are kept per process and rebuilt when the table changes: the
    count of terms and their latest update, read once per request, so an edit made on one worker shows on every
    worker at the next request."""
    cache = current_app.extensions.setdefault("portal_taxonomy_options", {})
    version = _version()
    if cache.get("version") != version:
        cache["by_vocabulary"] = _load_options()
        cache["version"] = version
    return cache["by_vocabulary"].get(vocabulary, ())


def _version() -> tuple:
    if "taxonomy_version" not in g:
        g.taxonomy_version = tuple(
            db.session.execute(select(func.count(TaxonomyTerm.id), func.max(TaxonomyTerm.updated_at))).one()
        )
    return g.taxonomy_version


def _load_options() -> dict[Vocabulary, tuple[Option, ...]]:
    stmt = (
        select(TaxonomyTerm)
        .where(TaxonomyTerm.active.is_(True))
        .order_by(TaxonomyTerm.vocabulary, TaxonomyTerm.position, TaxonomyTerm.id)
    )
    rows = list(db.session.scalars(stmt))
    children: dict[int, list[Option]] = {}
    for term in rows:
        if term.parent_id is not None:
            children.setdefault(term.parent_id, []).append(Option(term.code, term.label_nl, term.label_en))
    by_vocabulary: dict[Vocabulary, list[Option]] = {}
    for term in rows:
        if term.parent_id is None:
            option = Option(term.code, term.label_nl, term.label_en, tuple(children.get(term.id, ())))
            by_vocabulary.setdefault(term.vocabulary, []).append(option)
    return {vocabulary: tuple(found) for vocabulary, found in by_vocabulary.items()}


def get_term(vocabulary: Vocabulary, code: str) -> TaxonomyTerm | None:
    return db.session.scalar(
        select(TaxonomyTerm).where(TaxonomyTerm.vocabulary == vocabulary, TaxonomyTerm.code == code)
    )


def save_term(
    term: TaxonomyTerm | None,
    *,
    vocabulary: Vocabulary,
    code: str,
    label_nl: str,
    label_en: str,
    parent: TaxonomyTerm | None = None,
    position: int = 0,
    active: bool = True,
    description: str = "",
    actor: User | None = None,
    ip: str = "",
) -> TaxonomyTerm:
    code = clean_text(code, field="code", max_length=64)
    if not code:
        raise ValidationFailed("Enter a code.", field="code")
    existing = get_term(vocabulary, code)
    if existing is not None and existing is not term:
        raise ValidationFailed("This code is already used in this list.", field="code")
    if parent is not None and parent.vocabulary is not vocabulary:
        raise ValidationFailed("The parent belongs to another list.", field="parent")
    created = term is None
    term = term or TaxonomyTerm(vocabulary=vocabulary)
    term.code = code
    term.label_nl = clean_text(label_nl, field="label_nl", max_length=200)
    term.label_en = clean_text(label_en, field="label_en", max_length=200) or term.label_nl
    if not term.label_nl:
        raise ValidationFailed("Enter the Dutch label.", field="label_nl")
    term.parent = parent
    term.position = position
    term.active = active
    term.description = clean_text(description, field="description", max_length=1000, multiline=True)
    db.session.add(term)
    db.session.flush()
    if actor is not None:
        audit.record(
            "taxonomy.create" if created else "taxonomy.update",
            actor=actor,
            ip=ip,
            object_type="taxonomy_term",
            object_id=str(term.public_id),
            details={"vocabulary": vocabulary.value, "code": code},
        )
    return term


def load_reference_data() -> int:
    """Add every reference term that is missing; leave existing (possibly edited) terms alone. Returns how many
    terms were added, so running it twice adds nothing."""
    from portal.signals.reference_data import CATEGORIES, FLAT_LISTS

    added = 0

    def ensure(vocabulary: Vocabulary, code: str, nl: str, en: str, position: int, parent=None) -> TaxonomyTerm:
        nonlocal added
        full_code = f"{parent.code}.{code}" if parent is not None else code
        term = get_term(vocabulary, full_code)
        if term is None:
            term = save_term(
                None, vocabulary=vocabulary, code=full_code, label_nl=nl, label_en=en, parent=parent, position=position
            )
            added += 1
        return term

    for position, (code, nl, en, children) in enumerate(CATEGORIES):
        parent = ensure(Vocabulary.CATEGORY, code, nl, en, position)
        for child_position, (child_code, child_nl, child_en) in enumerate(children):
            ensure(Vocabulary.CATEGORY, child_code, child_nl, child_en, child_position, parent=parent)
    for vocabulary, entries in FLAT_LISTS.items():
        for position, (code, nl, en) in enumerate(entries):
            ensure(vocabulary, code, nl, en, position)
    return added


# --- administration ---------------------------------------------------------------------------------------------

TERM_CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,47}$")


def term_by_public_id(public_id) -> TaxonomyTerm:
    term = (
        db.session.scalar(
            select(TaxonomyTerm).where(TaxonomyTerm.public_id == public_id).options(selectinload(TaxonomyTerm.parent))
        )
        if public_id
        else None
    )
    if term is None:
        raise NotFound("Unknown term.")
    return term


def parent_terms(vocabulary: Vocabulary) -> list[TaxonomyTerm]:
    """The terms that may hold children: the top-level categories. Other lists are flat."""
    if vocabulary is not Vocabulary.CATEGORY:
        return []
    return list(
        db.session.scalars(
            select(TaxonomyTerm)
            .where(TaxonomyTerm.vocabulary == vocabulary, TaxonomyTerm.parent_id.is_(None))
            .order_by(TaxonomyTerm.position, TaxonomyTerm.id)
        )
    )


def add_term(
    vocabulary: Vocabulary,
    *,
    code: str,
    label_nl: str,
    label_en: str = "",
    parent: TaxonomyTerm | None = None,
    position: int = 0,
    active: bool = True,
    description: str = "",
    actor: User | None,
    ip: str = "",
) -> TaxonomyTerm:
    """Add a term from the administration. A subcategory's code is prefixed with its category's code
    ("geweld.afpersing"), as the reference data does."""
    code = clean_text(code, field="code", max_length=48).lower()
    if not TERM_CODE_PATTERN.match(code):
        raise ValidationFailed("Use lower-case letters, digits, hyphens and underscores.", field="code")
    if parent is not None and (vocabulary is not Vocabulary.CATEGORY or parent.parent_id is not None):
        raise ValidationFailed("Only a main category can hold subcategories.", field="parent")
    full_code = f"{parent.code}.{code}" if parent is not None else code
    return save_term(
        None,
        vocabulary=vocabulary,
        code=full_code,
        label_nl=label_nl,
        label_en=label_en,
        parent=parent,
        position=position,
        active=active,
        description=description,
        actor=actor,
        ip=ip,
    )
