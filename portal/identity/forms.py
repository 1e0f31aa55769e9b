"""Sign-in forms (validation only)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, NumberRange


class LocalLoginForm(FlaskForm):
    email = StringField(
        _l("E-mail address"),
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email"},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=200)], render_kw={"autocomplete": "current-password"}
    )
    totp = StringField(
        _l("Code from your authenticator app"),
        validators=[Length(max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state (sign out, end session)."""


class ApiTokenForm(FlaskForm):
    """A new personal access token: a name to recognise it by and how many days it lives (1-365)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "off"})
    days = IntegerField(_l("Valid for (days)"), default=90, validators=[DataRequired(), NumberRange(min=1, max=365)])
