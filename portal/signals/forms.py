"""The signal form and the small forms around it (validation only; choices are filled by the view)."""

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
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.core.forms import choices
from portal.core.limits import PortalYears
from portal.signals.models import AGE_BANDS, INVOLVED_GROUPS, ONLINE_PLATFORMS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


DAYPARTS = choices(
    [
        ("ochtend", _l("Morning")),
        ("middag", _l("Afternoon")),
        ("avond", _l("Evening")),
        ("nacht", _l("Night")),
        ("onbekend", _l("Unknown")),
    ]
)
REPORT_STATUSES = choices(
    [
        ("geen", _l("No report to the police")),
        ("overwogen", _l("Report considered")),
        ("gedaan_door_school", _l("Report filed by the school")),
        ("gedaan_door_slachtoffer", _l("Report filed by the victim")),
        ("onbekend", _l("Unknown")),
    ]
)
CLASSIFICATIONS = choices(
    [
        ("K2", _l("K2 - anonymised: no names, no traceable details")),
        ("K3", _l("K3 - confidential: details could identify people")),
    ]
)
SCOPES = choices(
    [
        ("eigen_locatie", _l("Only my school location")),
        ("eigen_bestuur", _l("My school board")),
        ("stadsdeelnetwerk", _l("The district network (recommended)")),
        ("meerdere_stadsdelen", _l("Several districts")),
        ("stedelijk", _l("City-wide, all networks")),
        ("benoemde_ontvangers", _l("Named organisations only")),
    ]
)
GROUP_LABELS = {
    "leerlingen": _l("Pupils"),
    "studenten": _l("Students"),
    "medewerkers": _l("Staff"),
    "derden": _l("Third parties"),
    "onbekend": _l("Unknown"),
}
WIDE_SCOPES = {"meerdere_stadsdelen", "stedelijk"}
PII_REASONS = choices(
    [
        ("geen_persoonsgegeven", _l("It is not personal data (for example a street or school name)")),
        ("noodzakelijk", _l("It is necessary for the purpose of this signal and allowed by the covenant")),
    ],
    blank=_l("Choose a reason"),
)


class SignalForm(FlaskForm):
    client_key = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])
    occurred_on = DateField(_l("Date of the incident"), validators=[InputRequired()])
    daypart = SelectField(_l("Part of the day"), choices=DAYPARTS, default="onbekend")
    district = SelectField(_l("District"), choices=[], validate_choice=False, validators=[Optional()])
    school_location = SelectField(_l("School location"), choices=[], validate_choice=False, validators=[Optional()])
    area = SelectField(_l("Neighbourhood"), choices=[], validate_choice=False, validators=[Optional()])
    location_type = SelectField(_l("Where did it happen?"), choices=[], validators=[InputRequired()])
    category = SelectField(_l("Category"), choices=[], validators=[InputRequired()])
    subcategory = SelectField(_l("Subcategory"), choices=[], validate_choice=False, validators=[Optional()])
    severity = RadioField(_l("Severity"), choices=[], validators=[InputRequired()])
    summary = StringField(
        _l("Short summary"), validators=[InputRequired(), Length(min=5, max=280)], render_kw={"maxlength": 280}
    )
    details = TextAreaField(_l("Details"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 6})
    weapon_type = SelectField(_l("Type of weapon"), choices=[], validate_choice=False, validators=[Optional()])
    online_platform = SelectField(
        _l("Online platform"),
        validators=[Optional()],
        choices=choices(((p, p) for p in ONLINE_PLATFORMS), blank=_l("Not applicable")),
    )
    age_bands = MultiCheckboxField(
        _l("Age of those involved"), choices=choices((b, b) for b in AGE_BANDS), validators=[Optional()]
    )
    school_measures = MultiCheckboxField(_l("Measures taken by the school"), choices=[], validators=[Optional()])
    police_involved = BooleanField(_l("The police were involved"))
    report_status = SelectField(_l("Report to the police (aangifte)"), choices=REPORT_STATUSES, default="geen")
    themes = MultiCheckboxField(_l("Themes"), choices=[], validators=[Optional()])
    classification = RadioField(_l("Classification"), choices=CLASSIFICATIONS, default="K2")
    sharing_scope = RadioField(_l("Share with"), choices=SCOPES, default="stadsdeelnetwerk")
    extra_districts = MultiCheckboxField(_l("Other districts"), choices=[], validators=[Optional()])
    recipients = SelectMultipleField(_l("Organisations"), choices=[], validators=[Optional()], render_kw={"size": 6})
    confirm_wide_share = BooleanField(_l("I confirm that this signal may be shared this widely."))
    pii_confirmed = BooleanField(_l("I have checked the text and keep it as it is."))
    pii_reason = SelectField(_l("Why does the text stay as it is?"), choices=PII_REASONS, validators=[Optional()])

    def validate_pii_reason(self, field) -> None:
        if self.pii_confirmed.data and not field.data:
            raise ValidationError(_l("Choose why the text stays as it is."))

    def validate_on_submit_with_rules(self) -> bool:
        valid = self.validate_on_submit()
        if valid and self.sharing_scope.data in WIDE_SCOPES and not self.confirm_wide_share.data:
            self.confirm_wide_share.errors = [_l("Confirm that you want to share this signal beyond your district.")]
            valid = False
        return valid


def add_involved_fields(form_class: type[SignalForm]) -> None:
    for group in INVOLVED_GROUPS:
        setattr(
            form_class,
            f"involved_{group}",
            IntegerField(
                GROUP_LABELS[group], validators=[Optional(), NumberRange(min=0, max=500)], render_kw={"min": 0}
            ),
        )


add_involved_fields(SignalForm)


class ResponseForm(FlaskForm):
    client_key = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])
    kind = RadioField(
        _l("Kind of response"),
        default="kennisgenomen",
        choices=choices(
            [
                ("kennisgenomen", _l("Noted")),
                ("aanvullende_info", _l("Additional information")),
                ("actie_gestart", _l("Action started")),
                ("advies", _l("Advice")),
            ]
        ),
    )
    text = TextAreaField(_l("Response"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})
    pii_confirmed = BooleanField(_l("I have checked the text and keep it as it is."))
    pii_reason = SelectField(_l("Why does the text stay as it is?"), choices=PII_REASONS, validators=[Optional()])


class RoomFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    start = DateField(_l("From"), validators=[Optional(), PortalYears()])
    end = DateField(_l("Up to and including"), validators=[Optional(), PortalYears()])
    category = SelectField(_l("Category"), choices=[], validate_choice=False, validators=[Optional()])
    location_type = SelectField(_l("Location"), choices=[], validate_choice=False, validators=[Optional()])
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
                ("ingetrokken", _l("Withdrawn")),
                ("concept", _l("Draft")),
            ],
            blank=_l("All"),
        ),
    )
    school = SelectField(_l("School"), choices=[], validate_choice=False, validators=[Optional()])
