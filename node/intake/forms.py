"""Portal forms: a request to a service (its Open311 attributes as fields), tracking, feedback."""

from collections.abc import Mapping
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
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

from node.cases.photos import Photo, PhotoRefused, read_photo
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
    # Set by a click on the form's map, or typed where the map does not load.
    lat = StringField(_l("Latitude (optional)"), validators=[Optional(), Length(max=30)])
    long = StringField(_l("Longitude (optional)"), validators=[Optional(), Length(max=30)])
    photo = FileField(
        _l("Photo (optional)"),
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"},
    )
    share_location = BooleanField(
        _l("Use the place stored in the photo as the place of this request")
    )


def coordinates(form: RequestForm) -> tuple[float | None, float | None, dict[str, str]]:
    """The latitude and longitude typed or picked on the map, and what is wrong with them."""
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name in ("lat", "long"):
        text = (getattr(form, name).data or "").strip().replace(",", ".")
        try:
            values[name] = float(text) if text else None
        except ValueError:
            values[name] = None
            errors[name] = str(_("Write a number, such as 44.4938."))
    return values["lat"], values["long"], errors


def photo_message(exc: PhotoRefused) -> str:
    """Why a photo was refused, in the reader's language."""
    if exc.reason == "size":
        megabytes = format_decimal((exc.limit or 0) / (1024 * 1024), format="#,##0.#")
        return _("The photo is larger than %(size)s MB: send a smaller one.", size=megabytes)
    if exc.reason == "pixels":
        megapixels = format_decimal((exc.limit or 0) / 1_000_000, format="#,##0.#")
        return _(
            "The photo has more than %(count)s million pixels: send a smaller one.",
            count=megapixels,
        )
    if exc.reason == "unreadable":
        return _("The photo is damaged and could not be read: send it again or another one.")
    return _("This file is not a photo: send a JPEG, PNG, WebP or GIF image.")


def place_and_photo(
    form: RequestForm, config: Mapping[str, Any]
) -> tuple[float | None, float | None, Photo | None, dict[str, str]]:
    """The request's point and its checked photo, and what is wrong with either, by field.

    The place stored in the photo is the point only when the citizen shared it and picked no
    point of their own.
    """
    lat, long, errors = coordinates(form)
    photo = None
    try:
        photo = uploaded_photo(form, config)
    except PhotoRefused as exc:
        errors["photo"] = photo_message(exc)
    if photo is not None and photo.location is not None and lat is None and long is None:
        lat, long = photo.location
    return lat, long, photo, errors


def uploaded_photo(form: RequestForm, config: Mapping[str, Any]) -> Photo | None:
    """The form's photo checked and re-encoded, or None when none was sent.

    Raises PhotoRefused; the message for the form is `photo_message`'s.
    """
    upload = form.photo.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    limit = config["PHOTO_MAX_BYTES"]
    data = upload.stream.read(limit + 1)  # one byte more than allowed is enough to refuse
    return read_photo(
        data,
        max_bytes=limit,
        max_pixels=config["PHOTO_MAX_PIXELS"],
        share_location=bool(form.share_location.data),
    )


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
