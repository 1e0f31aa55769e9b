"""Filter form for the audit trail (GET, so no CSRF token: it changes nothing)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False, validators=[Optional()])
    result = SelectField(_l("Result"), choices=[], validators=[Optional()])
    actor = StringField(_l("Actor (user id or organisation code)"), validators=[Optional(), Length(max=64)])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=64)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Assigned here rather than in the field declaration: WTForms 3.3 deprecates tuple choices passed to the
        # constructor (a DeprecationWarning, an error under the test suite's warning policy); the setter accepts them.
        self.result.choices = [
            ("", _l("All")),
            ("success", _l("Success")),
            ("failure", _l("Failure")),
            ("denied", _l("Denied")),
        ]
