"""The call-centre console: agents find callers, read their history and open cases for them."""

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from wtforms import SelectChoice

from node.auth import current_staff, staff_required
from node.cases import photos
from node.cases.schemas import Actor
from node.database import db_session
from node.display import map_settings, place_errors
from node.errors import InvalidInput
from node.intake import console_service as console
from node.intake.console_forms import CallerForm, CallerSearchForm, OnBehalfFields, OrganisationForm
from node.intake.forms import (
    ATTRIBUTE_PREFIX,
    attribute_values,
    form_field_of,
    place_and_photo,
    request_form_class,
)
from node.profiles import service as profiles
from node.profiles.forms import with_node_choices
from node.profiles.schemas import OrganisationData
from node.services import service as catalogue
from node.staff.models import CONSOLE_ROLES

bp = Blueprint("console", __name__, url_prefix="/office/console")


@bp.get("/")
@staff_required(*CONSOLE_ROLES)
def search() -> str:
    """Find the caller by phone, e-mail, name or business name, and a case by its number."""
    form = CallerSearchForm(request.args)
    found = cases = None
    if request.args and form.validate():
        found = console.find_callers(
            db_session=db_session(),
            text=form.q.data,
            default_region=current_app.config["DEFAULT_COUNTRY_CODE"],
        )
        cases = console.find_cases(db_session=db_session(), text=form.q.data)
    services = {s.code: s.name for s in catalogue.list_active(db_session=db_session())}
    return render_template(
        "console/search.html", form=form, found=found, cases=cases, service_names=services
    )


@bp.get("/callers/<int:citizen_id>")
@staff_required(*CONSOLE_ROLES)
def caller(citizen_id: int) -> str:
    """A caller's profile, businesses, cases and archive history, and the services to call about."""
    return render_template(
        "console/caller.html",
        caller=console.caller(db_session=db_session(), citizen_id=citizen_id),
        services=console.phone_services(db_session=db_session()),
        service_names={s.code: s.name for s in catalogue.list_active(db_session=db_session())},
    )


@bp.route("/callers/new", methods=["GET", "POST"])
@staff_required(*CONSOLE_ROLES)
def new_caller() -> Any:
    """Take down a new caller's profile, so their cases can be told to them and found again."""
    form = with_node_choices(CallerForm(), current_app.config)
    if request.method == "GET":
        form.language.data = current_app.config["DEFAULT_LANGUAGE"]
        form.preferred_channel.data = "sms"
        form.consent_contact.data = True
        typed = (request.args.get("q") or "").strip()
        if typed:  # the search that found nobody: start from what the agent typed
            target = (
                form.email
                if "@" in typed
                else form.phone
                if typed[:1] in "+0123456789"
                else form.name
            )
            target.data = typed
    if form.validate_on_submit():
        session = db_session()
        values = {
            field: getattr(form, field).data
            for field in (
                "name",
                "phone",
                "email",
                "preferred_channel",
                "language",
                "district",
                "birth_year",
                "consent_contact",
            )
        }
        try:
            if not values["phone"] and not values["email"]:
                raise InvalidInput(
                    "give a phone number or an e-mail address",
                    {"phone": str(_("Give a phone number or an e-mail address."))},
                )
            data = profiles.parse_citizen(
                values, default_region=current_app.config["DEFAULT_COUNTRY_CODE"]
            )
            citizen = profiles.create_citizen(
                db_session=session,
                data=data,
                actor=Actor.of_staff(current_staff()),
                channel="phone",
            )
        except InvalidInput as exc:
            session.rollback()
            place_errors(form, exc, field_of=form_field_of)
        else:
            session.commit()
            flash(_("Profile of %(name)s created.", name=citizen.display_name), "success")
            return redirect(url_for("console.caller", citizen_id=citizen.id))
    status = 422 if form.errors else 200
    return render_template("console/new_caller.html", form=form), status


@bp.route("/callers/<int:citizen_id>/organisations/new", methods=["GET", "POST"])
@staff_required(*CONSOLE_ROLES)
def new_organisation(citizen_id: int) -> Any:
    """Register a business with the caller as its contact person."""
    session = db_session()
    citizen = profiles.get_citizen(db_session=session, citizen_id=citizen_id)
    form = OrganisationForm()
    if form.validate_on_submit():
        try:
            data = OrganisationData.model_validate(
                {
                    "name": form.name.data,
                    "kind": form.kind.data,
                    "registration_number": form.registration_number.data or None,
                    "email": form.email.data or None,
                    "phone": form.phone.data or None,
                    "district": citizen.district,
                }
            )
        except ValidationError as exc:
            place_errors(form, profiles.validation_error(exc), field_of=form_field_of)
        else:
            organisation = profiles.create_organisation(
                db_session=session, data=data, contact=citizen
            )
            session.commit()
            flash(_("%(name)s registered.", name=organisation.name), "success")
            return redirect(url_for("console.caller", citizen_id=citizen.id))
    status = 422 if form.errors else 200
    return render_template("console/new_organisation.html", form=form, citizen=citizen), status


@bp.route("/callers/<int:citizen_id>/cases/new/<code>", methods=["GET", "POST"])
@staff_required(*CONSOLE_ROLES)
def new_case(citizen_id: int, code: str) -> Any:
    """Open a case by phone for the caller, or for a business they are the contact of."""
    session = db_session()
    citizen = profiles.get_citizen(db_session=session, citizen_id=citizen_id)
    service = catalogue.get(db_session=session, code=code)
    spec = catalogue.spec_of(service)
    organisations = console.organisations_of(db_session=session, citizen=citizen)
    base = request_form_class(spec, with_contact=False)
    form = type(f"PhoneCaseForm_{spec.code}", (base, OnBehalfFields), {})()
    form.on_behalf.choices = [
        SelectChoice("", _("%(name)s (the caller)", name=citizen.display_name))
    ] + [SelectChoice(str(o.id), o.name) for o in organisations]
    attribute_fields = [getattr(form, ATTRIBUTE_PREFIX + a.code) for a in spec.attributes]
    if form.validate_on_submit():
        lat, long, photo, errors = place_and_photo(form, current_app.config)
        try:
            if errors:
                raise InvalidInput("the form has errors", errors)
            case = console.open_case(
                db_session=session,
                agent=current_staff(),
                citizen=citizen,
                service_code=service.code,
                organisation_id=int(form.on_behalf.data) if form.on_behalf.data else None,
                description=form.description.data,
                attributes=attribute_values(form, spec),
                address=form.address.data,
                lat=lat,
                long=long,
                tracking_prefix=current_app.config["TRACKING_PREFIX"],
            )
        except InvalidInput as exc:
            session.rollback()
            place_errors(form, exc, field_of=form_field_of)
        else:
            written: list[Path] = []
            if photo is not None:
                photos.keep_photo(
                    db_session=session,
                    case=case,
                    photo=photo,
                    store=photos.PhotoStore.from_config(
                        current_app.config, current_app.instance_path
                    ),
                    written=written,
                )
            with photos.removed_on_failure(written):
                session.commit()
            flash(
                _(
                    "Case %(code)s opened. Read the tracking code to the caller.",
                    code=case.tracking_code,
                ),
                "success",
            )
            return redirect(url_for("console.caller", citizen_id=citizen.id))
    status = 422 if form.errors else 200
    return (
        render_template(
            "console/new_case.html",
            form=form,
            citizen=citizen,
            spec=spec,
            attribute_fields=attribute_fields,
            map=map_settings(),
        ),
        status,
    )


@bp.app_template_global()
def console_allowed(role: Any) -> bool:
    """Whether a staff role may use the call-centre console (for the navigation)."""
    return role in CONSOLE_ROLES
