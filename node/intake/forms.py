"""Portal forms: a request to a service (its Open311 attributes as fields), tracking, feedback."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    Field,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from node.cases.service import MAX_TEXT
from node.services.schemas import Attribute, Datatype, ServiceSpec

ATTRIBUTE_PREFIX = "attr_"


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as checkboxes, which phones handle better than a list box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RequestForm(FlaskForm):
    """What every request asks; each service adds its own attribute fields."""

    description = TextAreaField(
        _l("Describe your request"), validators=[DataRequired(), Length(max=MAX_TEXT)]
    )
    address = StringField(_l("Address or place"), validators=[Optional(), Length(max=300)])


class ContactFields(FlaskForm):
    """How to reach someone who is not signed in, so they can be told about their request."""

    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Email(), Length(max=320)])
    phone = TelField(_l("Mobile phone (optional)"), validators=[Optional(), Length(max=30)])


def form_field_of(name: str) -> str:
    """The request form's field for a name in a domain error: attribute[x] is attr_x."""
    if name.startswith("attribute[") and name.endswith("]"):
        return ATTRIBUTE_PREFIX + name[len("attribute[") : -1]
    return name


def attribute_field(attribute: Attribute) -> Field:
    """The form field for one Open311 attribute, by its datatype."""
    validators = [DataRequired()] if attribute.required else [Optional()]
    label = attribute.description
    choices = [SelectChoice(value.key, value.name) for value in attribute.values]
    match attribute.datatype:
        case Datatype.SINGLEVALUELIST:
            empty = SelectChoice("", "—")
            return SelectField(label, choices=[empty, *choices], validators=validators)
        case Datatype.MULTIVALUELIST:
            return CheckboxListField(label, choices=choices, validators=validators)
        case Datatype.NUMBER:
            number = {"type": "number", "step": "any", "inputmode": "decimal"}
            return StringField(label, validators=validators, render_kw=number)
        case Datatype.DATETIME:
            return StringField(label, validators=validators, render_kw={"type": "datetime-local"})
        case Datatype.TEXT:
            return TextAreaField(label, validators=[*validators, Length(max=MAX_TEXT)])
        case _:
            return StringField(label, validators=[*validators, Length(max=MAX_TEXT)])


def request_form_class(spec: ServiceSpec, *, with_contact: bool) -> type[RequestForm]:
    """A request form for one service, with contact fields for people who are not signed in."""
    ordered = sorted(spec.attributes, key=lambda a: (a.order is None, a.order or 0))
    fields = {ATTRIBUTE_PREFIX + a.code: attribute_field(a) for a in ordered}
    bases = (RequestForm, ContactFields) if with_contact else (RequestForm,)
    return type(f"RequestForm_{spec.code}", bases, fields)


def attribute_values(form: RequestForm, spec: ServiceSpec) -> dict[str, object]:
    """The attribute answers of a submitted form, keyed by attribute code."""
    return {a.code: getattr(form, ATTRIBUTE_PREFIX + a.code).data for a in spec.attributes}


class FeedbackForm(FlaskForm):
    """How satisfied the citizen is with a closed request."""

    score = RadioField(
        _l("How satisfied are you with how your request was handled?"),
        choices=[
            SelectChoice("5", _l("5 - excellent")),
            SelectChoice("4", _l("4 - good")),
            SelectChoice("3", _l("3 - fair")),
            SelectChoice("2", _l("2 - poor")),
            SelectChoice("1", _l("1 - very poor")),
        ],
        validators=[DataRequired()],
    )
