"""The citizen portal: the services on offer, a request to any of them, tracking and feedback."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from federation.protocol.vocabulary import Channel
from node.auth import current_citizen
from node.behaviours import behaviour_of
from node.cases import photos
from node.cases import service as cases
from node.cases.models import CLOSED_STATUSES, Case, Event, EventKind
from node.database import db_session
from node.display import map_settings, place_errors
from node.errors import Conflict, InvalidInput, NotFound
from node.intake import service as intake
from node.intake.forms import (
    ATTRIBUTE_PREFIX,
    FeedbackForm,
    attribute_values,
    form_field_of,
    place_and_photo,
    request_form_class,
)
from node.intake.free_text import redact
from node.intake.publication import disclosure, known_about, region
from node.profiles import service as profiles
from node.services import service as catalogue

bp = Blueprint("portal", __name__)

CLOSING_EVENTS = {EventKind.RESOLVED, EventKind.REJECTED, EventKind.MARKED_DUPLICATE}


@bp.get("/")
def index() -> str:
    """The services citizens can use on this node."""
    services = [
        (service, catalogue.spec_of(service, language=str(get_locale())))
        for service in catalogue.list_active(db_session=db_session())
    ]
    return render_template("portal/index.html", services=services)


@bp.route("/services/<code>", methods=["GET", "POST"])
def new_request(code: str) -> Any:
    """Send a request to one service, signed in or not."""
    service = catalogue.get(db_session=db_session(), code=code)
    spec = catalogue.spec_of(service, language=str(get_locale()))
    endpoint = behaviour_of(spec).portal_endpoint
    if endpoint is not None:  # the behaviour has a page of its own for what citizens ask
        return redirect(url_for(endpoint, code=code))
    if Channel.WEB not in spec.channels:
        raise NotFound(_("%(service)s does not take requests on the web.", service=spec.name))
    citizen = current_citizen()
    form = request_form_class(spec, with_contact=citizen is None)()
    attribute_fields = [getattr(form, ATTRIBUTE_PREFIX + a.code) for a in spec.attributes]
    if form.validate_on_submit():
        session = db_session()
        language = str(get_locale())
        lat, long, photo, errors = place_and_photo(form, current_app.config)
        try:
            if errors:
                raise InvalidInput("the form has errors", errors)
            if citizen is None:
                citizen = profiles.contact_profile(
                    db_session=session,
                    email=form.email.data,
                    phone=form.phone.data,
                    language=language,
                    default_region=current_app.config["DEFAULT_COUNTRY_CODE"],
                    channel=Channel.WEB.value,
                )
            case = intake.submit(
                db_session=session,
                service_code=service.code,
                channel=Channel.WEB,
                description=form.description.data,
                citizen=citizen,
                attributes=attribute_values(form, spec),
                address=form.address.data,
                lat=lat,
                long=long,
                language=language,
                tracking_prefix=current_app.config["TRACKING_PREFIX"],
            )
        except InvalidInput as exc:
            session.rollback()  # a contact profile made for this request goes with it
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
            told = citizen is not None and citizen.consent_contact
            return redirect(url_for("portal.track", code=case.tracking_code, sent=1 if told else 0))
    status = 422 if form.errors else 200
    return (
        render_template(
            "portal/request.html",
            service=service,
            spec=spec,
            form=form,
            attribute_fields=attribute_fields,
            map=map_settings(),
        ),
        status,
    )


@bp.get("/photos/<token>.jpg")
def public_photo(token: str) -> Any:
    """A request's photo as the public may see it: the thumbnail, without EXIF, and only while
    the service publishes media; otherwise there is no such page."""
    session = db_session()
    photo = photos.by_token(db_session=session, token=token)
    case = session.get(Case, photo.case_id)
    service = catalogue.get(db_session=session, code=case.service_code, active_only=False)
    shown = disclosure(catalogue.spec_of(service))
    path = photos.PhotoStore.from_config(current_app.config, current_app.instance_path).absolute(
        photo.thumbnail_path
    )
    if not (shown.listed and shown.media) or not photo.thumbnail_path or not path.is_file():
        raise NotFound(_("No such photo."))
    return send_file(path.resolve(), mimetype="image/jpeg", max_age=3600)


def _feedback_given(events: list[Event]) -> bool:
    """Whether the citizen already rated the case since it was last closed."""
    given = False
    for event in events:
        if event.kind in CLOSING_EVENTS:
            given = False
        elif event.kind is EventKind.FEEDBACK:
            given = True
    return given


def _shown_text(case: Case) -> Callable[[str | None], str | None]:
    """How the page shows a case's texts: in full to the signed-in citizen it belongs to.

    Anyone else who has the tracking code (and a published request's code is public: it is its
    Open311 id) reads the replies and messages redacted, as the Open311 API shows them.
    """
    citizen = current_citizen()
    if citizen is not None and citizen.id == case.citizen_id:
        return lambda text: text
    known, phones = known_about(case), region(current_app.config)
    return lambda text: redact(text, known=known, region=phones) if text else text


def _track_page(case: Case, form: FeedbackForm, status: int = 200) -> Any:
    events = cases.timeline(db_session=db_session(), case=case, public_only=True)
    can_rate = case.status in CLOSED_STATUSES and not _feedback_given(events)
    return (
        render_template(
            "portal/track.html",
            case=case,
            service=catalogue.get(
                db_session=db_session(), code=case.service_code, active_only=False
            ),
            events=events,
            form=form,
            can_rate=can_rate,
            sent=request.args.get("sent"),
            shown=_shown_text(case),
        ),
        status,
    )


@bp.get("/track")
def track() -> Any:
    """A request's status and the city's public replies, found by its tracking code."""
    code = (request.args.get("code") or "").strip()
    if not code:
        return render_template("portal/track_form.html", code="", error=None)
    try:
        case = cases.get_by_code(db_session=db_session(), code=code)
    except NotFound:
        error = _("No request has the tracking code %(code)s. Check it and try again.", code=code)
        return render_template("portal/track_form.html", code=code, error=error), 404
    return _track_page(case, FeedbackForm())


@bp.post("/track/<code>/feedback")
def feedback(code: str) -> Any:
    """Rate a closed request from 1 to 5, once per closing."""
    case = cases.get_by_code(db_session=db_session(), code=code)
    form = FeedbackForm()
    if not form.validate_on_submit():
        return _track_page(case, form, 422)
    events = cases.timeline(db_session=db_session(), case=case, public_only=True)
    if _feedback_given(events):
        flash(_("You have already rated this request. Thank you!"), "info")
        return redirect(url_for("portal.track", code=case.tracking_code))
    try:
        cases.record_feedback(
            db_session=db_session(), case=case, score=int(form.score.data), channel=Channel.WEB
        )
    except Conflict:
        db_session().rollback()
        flash(_("You can rate a request once it is closed."), "error")
        return redirect(url_for("portal.track", code=case.tracking_code))
    db_session().commit()
    flash(_("Thank you for your feedback."), "success")
    return redirect(url_for("portal.track", code=case.tracking_code))
