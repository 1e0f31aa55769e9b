"""Forms of the police and OM views (validation only)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from portal.core.forms import choices
from portal.core.limits import PortalYears

FOLLOW_UP_STATUSES = choices(
    [
        ("kennisgenomen", _l("Acknowledged")),
        ("bekend_bij_politie", _l("Known to the police")),
        ("actie_gestart", _l("Action started")),
        ("overgedragen", _l("Handed over (OM, Halt, JCO)")),
    ]
)


class PoliceFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    start = DateField(_l("From"), validators=[Optional(), PortalYears()])
    end = DateField(_l("Up to and including"), validators=[Optional(), PortalYears()])
    district = SelectField(_l("District"), choices=[], validate_choice=False, validators=[Optional()])
    category = SelectField(_l("Category"), choices=[], validate_choice=False, validators=[Optional()])
    severity = SelectField(_l("Severity"), choices=[], validate_choice=False, validators=[Optional()])
    status = SelectField(
        _l("Status"),
        validate_choice=False,
        validators=[Optional()],
        choices=choices(
            [
                ("gedeeld", _l("Shared")),
                ("in_behandeling", _l("In progress")),
                ("afgesloten", _l("Closed")),
            ],
            blank=_l("All"),
        ),
    )
    follow_up = SelectField(
        _l("Police follow-up"),
        validate_choice=False,
        validators=[Optional()],
        choices=choices(
            [
                ("none", _l("Not picked up yet")),
                ("picked_up", _l("Picked up")),
            ],
            blank=_l("All"),
        ),
    )


class FollowUpForm(FlaskForm):
    status = SelectField(_l("Follow-up"), choices=FOLLOW_UP_STATUSES, validators=[InputRequired()])
    intervention = SelectField(_l("Partner intervention"), choices=[], validate_choice=False, validators=[Optional()])
    police_reference = StringField(
        _l("Police reference number (only police and OM see it)"), validators=[Optional(), Length(max=40)]
    )


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional(), PortalYears()])
    end = DateField(_l("Up to and including"), validators=[Optional(), PortalYears()])
