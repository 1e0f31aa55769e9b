"""Administration of the taxonomy: the vocabularies, their terms, adding a term and editing one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.admin.forms import NONE_CHOICE, NewTermForm, TermForm
from portal.admin.views.blueprint import bp
from portal.admin.views.shared import pick, show_error
from portal.authz.decorators import require
from portal.authz.permissions import Permission
from portal.core.db import commit, parse_public_id
from portal.core.errors import NotFound, ValidationFailed
from portal.core.security import client_ip
from portal.signals import taxonomy
from portal.signals.models import Vocabulary


def _vocabulary(value: str) -> Vocabulary:
    try:
        return Vocabulary(value)
    except ValueError:
        raise NotFound("Unknown list.") from None


@bp.get("/taxonomy")
@require(Permission.ADMIN_TAXONOMY)
def taxonomy_index():
    return render_template("admin/taxonomy.html")


def _new_term_form(vocabulary: Vocabulary, formdata=True) -> NewTermForm:
    form = NewTermForm(prefix="new") if formdata else NewTermForm(prefix="new", formdata=None)
    form.parent.choices = [NONE_CHOICE] + [
        SelectChoice(str(t.public_id), t.label_nl) for t in taxonomy.parent_terms(vocabulary)
    ]
    return form


def _render_vocabulary(vocabulary: Vocabulary, form: NewTermForm, status: int = 200):
    return (
        render_template(
            "admin/vocabulary.html",
            vocabulary=vocabulary,
            terms=taxonomy.terms(vocabulary, include_inactive=True),
            form=form,
            has_parents=vocabulary is Vocabulary.CATEGORY,
        ),
        status,
    )


@bp.get("/taxonomy/<vocabulary>")
@require(Permission.ADMIN_TAXONOMY)
def vocabulary_terms(vocabulary: str):
    chosen = _vocabulary(vocabulary)
    return _render_vocabulary(chosen, _new_term_form(chosen, formdata=False))


@bp.post("/taxonomy/<vocabulary>")
@require(Permission.ADMIN_TAXONOMY)
def term_new(vocabulary: str):
    chosen = _vocabulary(vocabulary)
    form = _new_term_form(chosen)
    if form.validate_on_submit():
        try:
            term = taxonomy.add_term(
                chosen,
                code=form.code.data,
                label_nl=form.label_nl.data,
                label_en=form.label_en.data or "",
                parent=pick(taxonomy.term_by_public_id, form.parent.data),
                position=form.position.data,
                active=form.active.data,
                description=form.description.data or "",
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("The term %(label)s has been added.", label=term.label_nl), "success")
            return redirect(url_for("admin.vocabulary_terms", vocabulary=chosen.value))
    return _render_vocabulary(chosen, form, status=400)


@bp.route("/taxonomy/terms/<term_id>", methods=["GET", "POST"])
@require(Permission.ADMIN_TAXONOMY)
def term_edit(term_id: str):
    term = taxonomy.term_by_public_id(parse_public_id(term_id))
    data = None
    if request.method == "GET":
        data = {
            "label_nl": term.label_nl,
            "label_en": term.label_en,
            "description": term.description,
            "position": term.position,
            "active": term.active,
        }
    form = TermForm(data=data)
    if form.validate_on_submit():
        try:
            taxonomy.save_term(
                term,
                vocabulary=term.vocabulary,
                code=term.code,
                label_nl=form.label_nl.data,
                label_en=form.label_en.data or "",
                parent=term.parent,
                position=form.position.data,
                active=form.active.data,
                description=form.description.data or "",
                actor=current_user,
                ip=client_ip(),
            )
        except ValidationFailed as error:
            show_error(form, error)
        else:
            commit()
            flash(_("The term has been saved."), "success")
            return redirect(url_for("admin.vocabulary_terms", vocabulary=term.vocabulary.value))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/term.html", term=term, form=form), status
