"""Call-centre forms: find a caller, a new caller's profile, a business, a case by phone."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from node.display import CHANNEL_LABELS
from node.profiles.forms import ANSWER_CHANNELS


class CallerSearchForm(FlaskForm):
    """What the agent types to find the caller."""

    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(
        _l("Phone, e-mail, name, business or case number"),
        validators=[DataRequired(), Length(max=320)],
    )


class CallerForm(FlaskForm):
    """A new caller's profile, as the agent takes it down on the phone."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=30)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=320)])
    preferred_channel = SelectField(
        _l("Tell them about their requests by"),
        choices=[SelectChoice(c, CHANNEL_LABELS[c]) for c in ANSWER_CHANNELS],
    )
    language = SelectField(_l("Language"), choices=[])
    district = SelectField(_l("District"), choices=[], validators=[Optional()])
    birth_year = IntegerField(
        _l("Year of birth (optional)"), validators=[Optional(), NumberRange(min=1900, max=2100)]
    )
    consent_contact = BooleanField(_l("The caller agrees to be contacted about their requests"))


class OrganisationForm(FlaskForm):
    """A business, SME or association with the caller as its contact person."""

    name = StringField(_l("Name of the business"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("sme", _l("Small or medium business")),
            SelectChoice("business", _l("Large business")),
            SelectChoice("association", _l("Association")),
        ],
    )
    registration_number = StringField(
        _l("Registration number (optional)"), validators=[Optional(), Length(max=64)]
    )
    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Email(), Length(max=320)])
    phone = TelField(_l("Phone (optional)"), validators=[Optional(), Length(max=30)])


class OnBehalfFields(FlaskForm):
    """For whom the case is opened: the caller, or a business they are the contact of."""

    on_behalf = SelectField(_l("On behalf of"), choices=[], default="")
