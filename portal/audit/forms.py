"""Filter form for the audit trail (GET, so no CSRF token: it changes nothing)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.core.forms import choices


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False, validators=[Optional()])
    result = SelectField(
        _l("Result"),
        choices=choices(
            [
                ("success", _l("Success")),
                ("failure", _l("Failure")),
                ("denied", _l("Denied")),
            ],
            blank=_l("All"),
        ),
        validators=[Optional()],
    )
    actor = StringField(_l("Actor (user id or organisation code)"), validators=[Optional(), Length(max=64)])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=64)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])
