"""Alert pages: citizens subscribe in the portal, staff publish alerts in the back office."""

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from federation.protocol.vocabulary import Channel
from node.alerts import service
from node.alerts.schemas import BEHAVIOUR, AlertSettings
from node.alerts.tasks import deliver_after_commit
from node.auth import citizen_required, current_citizen, current_staff, staff_required
from node.cases.schemas import Actor
from node.database import db_session
from node.errors import InvalidInput, NotFound
from node.extensions import csrf
from node.profiles import service as profiles
from node.profiles.models import Citizen, CitizenSegment, SegmentKind
from node.services import service as catalogue
from node.services.models import Service
from node.staff.models import CONSOLE_ROLES, Role, StaffUser

bp = Blueprint("alerts", __name__)


def _service_and_settings(
    code: str, staff: StaffUser | None = None
) -> tuple[Service, AlertSettings]:
    """An alert service and its settings; for staff, only one of a department they work."""
    found = catalogue.get_of_behaviour(
        db_session=db_session(), code=code, behaviour=BEHAVIOUR, staff=staff
    )
    settings = service.settings_of(
        services_dir=current_app.config["SERVICES_DIR"], service_code=found.code
    )
    return found, settings


@bp.app_template_global()
def alert_services_offered() -> bool:
    """Whether the node hosts an alert service, for the navigation."""
    try:
        return bool(service.alert_services(db_session=db_session()))
    except SQLAlchemyError:
        # Error pages share the navigation: a failed database must not break them too.
        return False


@bp.get("/alerts")
def index() -> str:
    """The alert services citizens can subscribe to."""
    return render_template(
        "alerts/index.html", services=service.alert_services(db_session=db_session())
    )


def _subscribe_page(
    alert_service: Service,
    settings: AlertSettings,
    *,
    citizen: Citizen | None = None,
    template: str = "alerts/subscribe.html",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    citizen = citizen or current_citizen()
    session = db_session()
    return render_template(
        template,
        citizen=citizen,
        service=alert_service,
        settings=settings,
        language=citizen.language,
        subscriptions=service.subscriptions_of(
            db_session=session, service_code=alert_service.code, citizen_id=citizen.id
        ),
        received=service.alerts_received(
            db_session=session, service_code=alert_service.code, citizen_id=citizen.id
        ),
        values=values or {},
        errors=errors or {},
    ), status


@bp.get("/alerts/<code>")
@citizen_required
def subscriptions(code: str) -> tuple[str, int]:
    """The citizen's subscriptions to one alert service, and the form to add one."""
    alert_service, settings = _service_and_settings(code)
    return _subscribe_page(alert_service, settings)


@bp.post("/alerts/<code>")
@citizen_required
def subscribe(code: str) -> tuple[str, int] | Response:
    """Subscribe the signed-in citizen; bad choices re-show the form with the errors."""
    alert_service, settings = _service_and_settings(code)
    values = {
        "topics": request.form.getlist("topics"),
        "areas": request.form.getlist("areas"),
        "channel": request.form.get("channel", ""),
    }
    session = db_session()
    try:
        service.subscribe(
            db_session=session,
            service=alert_service,
            settings=settings,
            citizen=current_citizen(),
            topics=values["topics"],
            areas=values["areas"],
            channel=values["channel"],
            via=Channel.WEB.value,
        )
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        return _subscribe_page(
            alert_service, settings, values=values, errors=exc.fields, status=422
        )
    flash(_("You are subscribed."), "success")
    return redirect(url_for("alerts.subscriptions", code=code))


@bp.post("/alerts/<code>/unsubscribe")
@citizen_required
def unsubscribe(code: str) -> Response:
    """End the citizen's subscription on one delivery channel (or all of them)."""
    alert_service, _settings = _service_and_settings(code)
    session = db_session()
    ended = service.unsubscribe(
        db_session=session,
        service=alert_service,
        citizen=current_citizen(),
        channel=request.form.get("channel") or None,
        via=Channel.WEB.value,
    )
    session.commit()
    if ended:
        flash(_("You will get no more of these alerts."), "success")
    return redirect(url_for("alerts.subscriptions", code=code))


@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; mail clients post without a form (RFC 8058)
def unsubscribe_by_link(token: str) -> str:
    """End the subscription an alert e-mail's link names: GET asks, POST ends it."""
    session = db_session()
    subscription = service.subscription_of_token(
        db_session=session, secret=current_app.config["SECRET_KEY"], token=token
    )
    if subscription is None:
        raise NotFound(_("This unsubscribe link is not valid."))
    alert_service = session.get(Service, subscription.service_code)
    ended = request.method == "POST"
    if ended and subscription.active:
        service.unsubscribe(
            db_session=session,
            service=alert_service,
            citizen=subscription.citizen,
            channel=subscription.channel,
            via=Channel.EMAIL.value,
        )
        session.commit()
    return render_template(
        "alerts/unsubscribe_link.html",
        service=alert_service,
        subscription=subscription,
        ended=ended or not subscription.active,
    )


def _usage_segments() -> list[str]:
    query = (
        sa.select(CitizenSegment.value)
        .where(CitizenSegment.kind == SegmentKind.USAGE)
        .distinct()
        .order_by(CitizenSegment.value)
    )
    return list(db_session().scalars(query))


def _publish_page(
    alert_service: Service,
    settings: AlertSettings,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db_session()
    alerts = service.recent_alerts(db_session=session, service_code=alert_service.code)
    return render_template(
        "alerts/publish.html",
        service=alert_service,
        settings=settings,
        language=settings.default_language,
        usage_segments=_usage_segments(),
        alerts=[(a, service.delivery_counts(db_session=session, alert_id=a.id)) for a in alerts],
        values=values or {},
        errors=errors or {},
    ), status


PUBLISHERS = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)


@bp.get("/office/alerts")
@staff_required(*PUBLISHERS)
def office_index() -> str:
    """The alert services staff can publish to."""
    staff = current_staff()
    offered = [
        s for s in service.alert_services(db_session=db_session()) if catalogue.worked_by(staff, s)
    ]
    return render_template("alerts/office_index.html", services=offered)


@bp.get("/office/alerts/<code>")
@staff_required(*PUBLISHERS)
def publish_form(code: str) -> tuple[str, int]:
    """The form to publish an alert, with the service's latest alerts and their deliveries."""
    alert_service, settings = _service_and_settings(code, current_staff())
    return _publish_page(alert_service, settings)


@bp.post("/office/alerts/<code>")
@staff_required(*PUBLISHERS)
def publish(code: str) -> tuple[str, int] | Response:
    """Publish an alert; its deliveries are queued once the publication is committed."""
    alert_service, settings = _service_and_settings(code, current_staff())
    values = {
        "topic": request.form.get("topic", ""),
        "areas": request.form.getlist("areas"),
        "age_band": request.form.get("age_band", ""),
        "usage": request.form.get("usage", ""),
        "text": request.form.get("text", ""),
        "urgent": bool(request.form.get("urgent")),
    }
    session = db_session()
    try:
        alert = service.publish(
            db_session=session,
            service=alert_service,
            settings=settings,
            topic=values["topic"],
            areas=values["areas"],
            text=values["text"],
            age_band=values["age_band"] or None,
            usage=values["usage"] or None,
            urgent=values["urgent"],
            actor=Actor.of_staff(current_staff()),
        )
        deliver_after_commit(db_session=session, alert_id=alert.id)
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        fields = dict(exc.fields)
        if "topics" in fields:
            fields = {**fields, "topic": fields["topics"]}
        return _publish_page(alert_service, settings, values=values, errors=fields, status=422)
    counts = service.delivery_counts(db_session=session, alert_id=alert.id)
    flash(
        _(
            "Alert published: %(sent)d sent, %(pending)d held or pending, %(skipped)d skipped.",
            sent=counts["sent"],
            pending=counts["pending"],
            skipped=counts["skipped"],
        ),
        "success",
    )
    return redirect(url_for("alerts.publish_form", code=code))


# The call centre: an agent subscribes or unsubscribes the caller, recorded as by phone.


@bp.get("/office/console/callers/<int:citizen_id>/alerts/<code>")
@staff_required(*CONSOLE_ROLES)
def console_subscriptions(citizen_id: int, code: str) -> tuple[str, int]:
    """A caller's subscriptions to one alert service, and the form to add one."""
    alert_service, settings = _service_and_settings(code)
    citizen = profiles.get_citizen(db_session=db_session(), citizen_id=citizen_id)
    return _subscribe_page(alert_service, settings, citizen=citizen, template="alerts/console.html")


@bp.post("/office/console/callers/<int:citizen_id>/alerts/<code>")
@staff_required(*CONSOLE_ROLES)
def console_subscribe(citizen_id: int, code: str) -> tuple[str, int] | Response:
    """Subscribe the caller as they ask on the phone; bad choices re-show the form."""
    alert_service, settings = _service_and_settings(code)
    session = db_session()
    citizen = profiles.get_citizen(db_session=session, citizen_id=citizen_id)
    values = {
        "topics": request.form.getlist("topics"),
        "areas": request.form.getlist("areas"),
        "channel": request.form.get("channel", ""),
    }
    try:
        service.subscribe(
            db_session=session,
            service=alert_service,
            settings=settings,
            citizen=citizen,
            topics=values["topics"],
            areas=values["areas"],
            channel=values["channel"],
            via=Channel.PHONE.value,
            actor=Actor.of_staff(current_staff()),
        )
        session.commit()
    except InvalidInput as exc:
        session.rollback()
        return _subscribe_page(
            alert_service,
            settings,
            citizen=profiles.get_citizen(db_session=session, citizen_id=citizen_id),
            template="alerts/console.html",
            values=values,
            errors=exc.fields,
            status=422,
        )
    flash(_("The caller is subscribed."), "success")
    return redirect(url_for("alerts.console_subscriptions", citizen_id=citizen_id, code=code))


@bp.post("/office/console/callers/<int:citizen_id>/alerts/<code>/unsubscribe")
@staff_required(*CONSOLE_ROLES)
def console_unsubscribe(citizen_id: int, code: str) -> Response:
    """End the caller's subscription on one delivery channel, as they ask on the phone."""
    alert_service, _settings = _service_and_settings(code)
    session = db_session()
    service.unsubscribe(
        db_session=session,
        service=alert_service,
        citizen=profiles.get_citizen(db_session=session, citizen_id=citizen_id),
        channel=request.form.get("channel") or None,
        via=Channel.PHONE.value,
        actor=Actor.of_staff(current_staff()),
    )
    session.commit()
    flash(_("The caller will get no more of these alerts."), "success")
    return redirect(url_for("alerts.console_subscriptions", citizen_id=citizen_id, code=code))


@bp.app_template_global()
def alert_services_list() -> list[Service]:
    """The alert services, for the call centre's caller page."""
    return service.alert_services(db_session=db_session())
