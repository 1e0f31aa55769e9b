"""Meeting forms (validation only; choices are filled by the views from the room)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.core.forms import choices
from portal.signals.forms import MultiCheckboxField

PII_CONFIRM = _l("I have checked: the text names no pupils or other people.")

MEETING_KINDS = {
    "stadsdeel": _l("District network meeting"),
    "stedelijk": _l("City-wide network meeting"),
    "directeurenoverleg": _l("Directors' consultation"),
    "extra": _l("Extra meeting"),
}
PARTNER_KINDS = choices(
    [
        ("politie", _l("Police picture")),
        ("jongerenwerk", _l("Youth work picture")),
        ("jeugdboa", _l("Youth enforcement picture")),
    ]
)
ACTION_STATUSES = choices(
    [
        ("open", _l("Open")),
        ("loopt", _l("In progress")),
        ("afgerond", _l("Done")),
        ("vervallen", _l("Cancelled")),
    ]
)


class MeetingForm(FlaskForm):
    kind = SelectField(_l("Kind of meeting"), choices=[], validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[InputRequired(), Length(min=3, max=200)])
    date = DateField(_l("Date"), validators=[InputRequired()])
    time = TimeField(_l("Start time"), validators=[InputRequired()])
    duration_min = IntegerField(
        _l("Planned length in minutes"), default=150, validators=[InputRequired(), NumberRange(min=15, max=600)]
    )
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    online_url = StringField(_l("Online meeting link"), validators=[Optional(), Length(max=500)])
    chair = SelectField(_l("Chair"), choices=[], validate_choice=False, validators=[Optional()])
    secretary = SelectField(_l("Secretary (minutes)"), choices=[], validate_choice=False, validators=[Optional()])
    invited_organisations = MultiCheckboxField(_l("Invited organisations"), choices=[], validators=[Optional()])
    invited_users = MultiCheckboxField(_l("Invited people"), choices=[], validators=[Optional()])


class AgendaItemForm(FlaskForm):
    kind = SelectField(_l("Kind of item"), choices=[], validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[InputRequired(), Length(min=3, max=200)])
    duration_min = IntegerField(
        _l("Length in minutes"), default=15, validators=[InputRequired(), NumberRange(min=1, max=240)]
    )
    owner = SelectField(_l("Introduced by"), choices=[], validate_choice=False, validators=[Optional()])
    description = TextAreaField(_l("Explanation"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 4})
    signals = StringField(
        _l("Linked signals (references)"), validators=[Optional(), Length(max=500)], render_kw={"placeholder": "SIG-"}
    )
    themes = MultiCheckboxField(_l("Themes"), choices=[], validators=[Optional()])
    pii_confirmed = BooleanField(PII_CONFIRM)


class SchoolInputForm(FlaskForm):
    concern_1 = StringField(_l("Concern 1"), validators=[InputRequired(), Length(max=280)])
    concern_2 = StringField(_l("Concern 2"), validators=[Optional(), Length(max=280)])
    concern_3 = StringField(_l("Concern 3"), validators=[Optional(), Length(max=280)])
    signals = StringField(
        _l("Notable incidents since the last meeting (signal references)"),
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "SIG-"},
    )
    help_needed = TextAreaField(_l("Help needed"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 4})
    pii_confirmed = BooleanField(PII_CONFIRM)


class PartnerPictureForm(FlaskForm):
    kind = RadioField(_l("Whose picture"), choices=PARTNER_KINDS, validators=[InputRequired()])
    body = TextAreaField(_l("Picture"), validators=[InputRequired(), Length(max=5000)], render_kw={"rows": 8})
    pii_confirmed = BooleanField(PII_CONFIRM)


class NarrativeForm(FlaskForm):
    narrative = TextAreaField(_l("Narrative"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 8})
    pii_confirmed = BooleanField(PII_CONFIRM)


class MinutesForm(FlaskForm):
    body = TextAreaField(_l("Minutes"), validators=[Optional(), Length(max=50_000)], render_kw={"rows": 18})
    base_version = HiddenField(default="0")
    pii_confirmed = BooleanField(PII_CONFIRM)


class CommentForm(FlaskForm):
    text = TextAreaField(_l("Your comment"), validators=[InputRequired(), Length(max=2000)], render_kw={"rows": 3})
    pii_confirmed = BooleanField(PII_CONFIRM)


class AttendanceForm(FlaskForm):
    present = MultiCheckboxField(_l("Present"), choices=[], validators=[Optional()])


class ActionForm(FlaskForm):
    description = StringField(_l("Action"), validators=[InputRequired(), Length(min=3, max=500)])
    owner_organisation = SelectField(_l("Owning organisation"), choices=[], validators=[InputRequired()])
    owner_user = SelectField(_l("Person"), choices=[], validate_choice=False, validators=[Optional()])
    due_date = DateField(_l("Due date"), validators=[InputRequired()])
    pii_confirmed = BooleanField(PII_CONFIRM)


class ActionUpdateForm(FlaskForm):
    status = SelectField(_l("Status"), choices=ACTION_STATUSES, validators=[InputRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
