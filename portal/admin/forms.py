"""Administration forms (validation only). Choice lists of database objects are filled in by the view, with
public ids as values; the services check the rules that need the database."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.admin import labels
from portal.authz.permissions import Role, ScopeType
from portal.core.dates import local_today
from portal.identity.models import UserStatus
from portal.main.templating import ROLE_LABELS, SCOPE_LABELS
from portal.organisations.models import AreaKind, OrganisationKind, SchoolSector
from portal.rooms.models import MemberRole, RoomKind

NONE_CHOICE = SelectChoice("", _l("(none)"))


def _enum_choices(mapping: dict) -> list[SelectChoice]:
    return [SelectChoice(member.value, label) for member, label in mapping.items()]


class ActionForm(FlaskForm):
    """Only the CSRF token: for buttons that change state (approve, block, revoke)."""


class CheckboxGroupField(SelectMultipleField):
    """Several choices as a group of checkboxes (easier to use than a multiple select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- organisations ----------------------------------------------------------------------------------------------


class OrganisationFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", _l("All kinds")), *_enum_choices(labels.ORGANISATION_KINDS)],
        validators=[Optional()],
    )
    q = StringField(_l("Name or code"), validators=[Optional(), Length(max=100)])


class OrganisationForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(min=2, max=64)],
        description=_l("Lower-case letters, digits and hyphens. Sign-in configuration refers to it."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=_enum_choices(labels.ORGANISATION_KINDS), validators=[InputRequired()])
    parent = SelectField(_l("Part of"), choices=[], validators=[Optional()])
    district = SelectField(_l("District"), choices=[], validators=[Optional()])
    area = SelectField(_l("Area"), choices=[], validators=[Optional()])
    sector = SelectField(
        _l("Sector"),
        choices=[NONE_CHOICE, *[SelectChoice(s.value) for s in SchoolSector]],
        validators=[Optional()],
        description=_l("School locations only."),
    )
    levels = CheckboxGroupField(
        _l("Levels"), choices=[SelectChoice(level) for level in labels.SCHOOL_LEVELS], validators=[Optional()]
    )
    school_code = StringField(_l("School code (BRIN)"), validators=[Optional(), Length(max=16)])
    convenant_signatory = BooleanField(_l("Signed the covenant"))
    is_fictional = BooleanField(_l("Fictional (demo)"))
    active = BooleanField(_l("Active"), default=True)

    def kind_value(self) -> OrganisationKind:
        return OrganisationKind(self.kind.data)

    def sector_value(self) -> SchoolSector | None:
        return SchoolSector(self.sector.data) if self.sector.data else None


# --- districts and rooms ----------------------------------------------------------------------------------------


class DistrictForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(_l("Active"))


class AreaForm(FlaskForm):
    name = StringField(_l("Area name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Area kind"), choices=_enum_choices(labels.AREA_KINDS), validators=[InputRequired()])

    def kind_value(self) -> AreaKind:
        return AreaKind(self.kind.data)


class RoomForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(min=2, max=32)],
        description=_l("Lower-case letters, digits and hyphens, for example netwerk-stad."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=_enum_choices(labels.ROOM_KINDS), validators=[InputRequired()])
    district = SelectField(
        _l("District"), choices=[], validators=[Optional()], description=_l("District networks only.")
    )
    meetings_per_year = IntegerField(
        _l("Meetings per year"), default=2, validators=[InputRequired(), NumberRange(min=0, max=12)]
    )

    def kind_value(self) -> RoomKind:
        return RoomKind(self.kind.data)


def _after_today(form, field) -> None:
    if field.data is not None and field.data <= local_today():
        raise ValidationError(_l("Choose a date after today."))


class MemberForm(FlaskForm):
    user = SelectField(_l("Person"), choices=[], validators=[InputRequired()])
    role = SelectField(_l("Role in the room"), choices=_enum_choices(labels.MEMBER_ROLES), validators=[InputRequired()])
    valid_until = DateField(
        _l("End date"),
        validators=[Optional(), _after_today],
        description=_l("The membership ends at the start of this day. Leave empty for no end date."),
    )

    def role_value(self) -> MemberRole:
        return MemberRole(self.role.data)


# --- users and roles --------------------------------------------------------------------------------------------


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("All")), *_enum_choices(labels.USER_STATUSES)],
        validators=[Optional()],
    )
    q = StringField(_l("Name or e-mail address"), validators=[Optional(), Length(max=100)])

    def status_value(self) -> UserStatus | None:
        return UserStatus(self.status.data) if self.status.data else None


class UserForm(FlaskForm):
    email = StringField(
        _l("E-mail address"),
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False)],
        render_kw={"autocomplete": "off", "inputmode": "email"},
    )
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    organisation = SelectField(_l("Organisation"), choices=[], validators=[InputRequired()])
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[], validators=[InputRequired()])
    scope_type = SelectField(_l("Scope"), choices=[], validators=[InputRequired()])
    scope_organisation = SelectField(
        _l("Organisation of the scope"),
        choices=[],
        validators=[Optional()],
        description=_l("For a school location, school or school board scope."),
    )
    scope_district = SelectField(
        _l("District of the scope"), choices=[], validators=[Optional()], description=_l("For a district scope.")
    )
    valid_from = DateField(_l("Start date"), validators=[Optional()], description=_l("Empty: today."))
    valid_until = DateField(
        _l("End date"), validators=[Optional()], description=_l("The role ends at the start of this day.")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice(role.value, ROLE_LABELS[role]) for role in Role]
        self.scope_type.choices = [SelectChoice(scope.value, SCOPE_LABELS[scope]) for scope in ScopeType]

    def validate_valid_until(self, field) -> None:
        if field.data and self.valid_from.data and field.data <= self.valid_from.data:
            raise ValidationError(_l("The end date must be after the start date."))
        if field.data and not self.valid_from.data and field.data <= local_today():
            raise ValidationError(_l("Choose a date after today."))

    def role_value(self) -> Role:
        return Role(self.role.data)

    def scope_value(self) -> ScopeType:
        return ScopeType(self.scope_type.data)


# --- taxonomy ---------------------------------------------------------------------------------------------------


class TermForm(FlaskForm):
    label_nl = StringField(_l("Dutch label"), validators=[DataRequired(), Length(max=200)])
    label_en = StringField(
        _l("English label"), validators=[Optional(), Length(max=200)], description=_l("Empty: the Dutch label.")
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=1000)])
    position = IntegerField(
        _l("Position"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=999)],
        description=_l("Lower numbers come first."),
    )
    active = BooleanField(_l("Active"), default=True)


class NewTermForm(TermForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=48)],
        description=_l("Lower-case letters, digits, hyphens and underscores. It cannot be changed later."),
    )
    parent = SelectField(_l("Main category"), choices=[], validators=[Optional()])
