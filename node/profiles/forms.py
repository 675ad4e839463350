"""Citizen account forms: sign-up, sign-in, preferences and consent, erasure."""

from collections.abc import Mapping
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

from node.display import CHANNEL_LABELS

LANGUAGE_NAMES = {"en": "English", "it": "Italiano"}
# Channels a citizen can be answered on; phone and counter are ways in, not ways to be told.
ANSWER_CHANNELS = ("email", "sms", "app", "web")
ProfileForm = TypeVar("ProfileForm", bound=FlaskForm)


def with_node_choices(form: ProfileForm, config: Mapping[str, Any]) -> ProfileForm:
    """A profile form (the citizen's own, or the call centre's) offering the node's languages and
    districts."""
    form.language.choices = [
        SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in config["LANGUAGES"]
    ]
    form.district.choices = [SelectChoice("", "—")] + [
        SelectChoice(d, d) for d in config["DISTRICTS"]
    ]
    return form


class CitizenLoginForm(FlaskForm):
    """Sign in with e-mail and password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class PreferencesForm(FlaskForm):
    """The citizen's own profile: contact, preferences and consent."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=320)])
    phone = TelField(_l("Mobile phone"), validators=[Optional(), Length(max=30)])
    preferred_channel = SelectField(
        _l("Tell me about my requests by"),
        choices=[SelectChoice(c, CHANNEL_LABELS[c]) for c in ANSWER_CHANNELS],
    )
    language = SelectField(_l("Language"), choices=[])
    district = SelectField(_l("District"), choices=[], validators=[Optional()])
    birth_year = IntegerField(
        _l("Year of birth (optional)"), validators=[Optional(), NumberRange(min=1900, max=2100)]
    )
    consent_contact = BooleanField(_l("The city may contact me about my own requests"))
    consent_profiling = BooleanField(
        _l("The city may use my requests to improve its services for groups like mine")
    )


class SignupForm(PreferencesForm):
    """Open an account: the profile plus a password."""

    password = PasswordField(
        _l("Password (at least 10 characters)"),
        validators=[DataRequired(), Length(min=10)],
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )


class EraseForm(FlaskForm):
    """Confirm the erasure of one's profile."""

    password = PasswordField(_l("Your password"), validators=[DataRequired()])
    confirm = BooleanField(
        _l("I understand that my profile is erased for good and cannot be restored"),
        validators=[DataRequired()],
    )


class ExportForm(FlaskForm):
    """Ask for a copy of one's data (a POST, because the download is recorded)."""


class ConfirmForm(FlaskForm):
    """Use a link sent by e-mail (a POST: mail scanners open links, people press buttons)."""


class ResetRequestForm(FlaskForm):
    """Ask for a link to choose a new password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])


class NewPasswordForm(FlaskForm):
    """Choose a new password from a reset link."""

    password = PasswordField(
        _l("New password (at least 10 characters)"), validators=[DataRequired(), Length(min=10)]
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )


class PhoneCodeForm(FlaskForm):
    """Type the code sent by SMS to the phone being added."""

    code = StringField(_l("Code from the SMS"), validators=[DataRequired(), Length(max=12)])
