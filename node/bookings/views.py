"""Booking pages: free slots and booking on the portal, the office's day list with attendance,
slot publishing, and a small call-centre page that books on a caller's behalf."""

from datetime import date, datetime
from itertools import groupby
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from federation.protocol.vocabulary import Channel
from node.auth import citizen_required, current_citizen, current_staff, staff_required
from node.bookings import service as bookings
from node.bookings.models import Booking
from node.bookings.schemas import BEHAVIOUR, BookingSettings, settings_for
from node.cases.schemas import Actor
from node.database import db_session, utcnow
from node.errors import Conflict, InvalidInput, NotFound
from node.profiles import service as profiles
from node.profiles.models import Citizen
from node.services import service as catalogue
from node.services.models import Service
from node.staff.models import CONSOLE_ROLES, Role, StaffUser

bp = Blueprint("bookings", __name__)


def _service(code: str, staff: StaffUser | None = None) -> tuple[Service, BookingSettings]:
    """A booking service and its rules; for staff, only one of a department they work."""
    try:
        service = catalogue.get_of_behaviour(
            db_session=db_session(), code=code, behaviour=BEHAVIOUR, staff=staff
        )
        settings = settings_for(
            services_dir=current_app.config["SERVICES_DIR"],
            service_code=code,
            timezone=current_app.config["TIMEZONE"],
        )
    except NotFound:
        abort(404)
    return service, settings


def _slot(value: str | None) -> tuple[str, datetime]:
    """The office and start of a slot as the forms send it: `office|ISO start in UTC`."""
    office, _, at = (value or "").partition("|")
    try:
        starts_at = datetime.fromisoformat(at)
    except ValueError as exc:
        raise InvalidInput("choose one of the free times", {"slot": "required"}) from exc
    if starts_at.tzinfo is None:
        raise InvalidInput("choose one of the free times", {"slot": "required"})
    return office, starts_at


def _grouped(
    settings: BookingSettings, times: list[bookings.FreeTime]
) -> list[tuple[str, list[tuple[date, list[bookings.FreeTime]]]]]:
    """Free times per office name, then per local day."""
    by_office = sorted(times, key=lambda t: (t.office, t.starts_at))
    grouped = []
    for office_key, office_times in groupby(by_office, key=lambda t: t.office):
        office = settings.office(office_key)
        days = [
            (day, list(day_times))
            for day, day_times in groupby(
                office_times, key=lambda t: settings.local(t.starts_at).date()
            )
        ]
        grouped.append((office.name if office else office_key, days))
    return grouped


@bp.get("/bookings/mine")
@citizen_required
def mine() -> str:
    """The signed-in citizen's bookings, and the reminders sent to their account."""
    citizen = current_citizen()
    session = db_session()
    rows = []
    for found in bookings.bookings_of(db_session=session, citizen_id=citizen.id):
        _row, settings = _service(found.service_code)
        rows.append((found, bookings.describe(found, settings)))
    return render_template(
        "bookings/mine.html",
        rows=rows,
        reminders=bookings.reminders_of(db_session=session, citizen_id=citizen.id),
    )


@bp.get("/bookings/<code>")
def slots(code: str) -> str:
    """The free slots per office and day, and the booking form."""
    service, settings = _service(code)
    return _slots_page(service, settings, errors={}, form={})


def _slots_page(
    service: Service, settings: BookingSettings, *, errors: dict[str, str], form: Any
) -> str:
    office = request.args.get("office") or None
    times = bookings.free_times(
        db_session=db_session(), service_code=service.code, settings=settings, office=office
    )
    return render_template(
        "bookings/slots.html",
        service=service,
        settings=settings,
        offices=_grouped(settings, times),
        purposes=bookings.purposes_of(service),
        citizen=current_citizen(),
        errors=errors,
        form=form,
    )


@bp.post("/bookings/<code>")
def book(code: str) -> Response | tuple[str, int]:
    """Book the chosen free slot for the signed-in citizen or the contact given."""
    service, settings = _service(code)
    session = db_session()
    form = request.form
    try:
        office, starts_at = _slot(form.get("slot"))
        citizen: Citizen | None = current_citizen()
        if citizen is None:
            citizen = profiles.contact_profile(
                db_session=session,
                email=form.get("email"),
                phone=form.get("phone"),
                language=current_app.config["DEFAULT_LANGUAGE"],
                default_region=current_app.config["DEFAULT_COUNTRY_CODE"],
                channel=Channel.WEB.value,
            )
        booking = bookings.book(
            db_session=session,
            service=service,
            settings=settings,
            citizen=citizen,
            office=office,
            starts_at=starts_at,
            purpose=form.get("purpose"),
            channel=Channel.WEB.value,
            actor=Actor.citizen(),
        )
        session.commit()
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        fields = exc.fields if isinstance(exc, InvalidInput) else {}
        flash(str(exc), "error")
        return _slots_page(service, settings, errors=fields, form=form), (
            409 if isinstance(exc, Conflict) else 400
        )
    flash(settings.say("booked", None, **bookings.describe(booking, settings)), "success")
    return redirect(url_for("bookings.booking", reference=booking.reference))


def _booking(reference: str) -> tuple[Booking, Service, BookingSettings]:
    try:
        booking = bookings.get_booking(db_session=db_session(), reference=reference)
    except NotFound:
        abort(404)
    service, settings = _service(booking.service_code)
    return booking, service, settings


@bp.get("/bookings/ref/<reference>")
def booking(reference: str) -> str:
    """One booking by its reference, with the forms to move or cancel it."""
    found, service, settings = _booking(reference)
    times = bookings.free_times(
        db_session=db_session(), service_code=service.code, settings=settings
    )
    return render_template(
        "bookings/booking.html",
        booking=found,
        service=service,
        settings=settings,
        facts=bookings.describe(found, settings),
        times=times,
    )


@bp.post("/bookings/ref/<reference>/<action>")
def change(reference: str, action: str) -> Response | tuple[str, int]:
    """Move or cancel a booking from its page; refused after the change cut-off."""
    found, _service_row, settings = _booking(reference)
    session = db_session()
    try:
        if action == "cancel":
            bookings.cancel(
                db_session=session,
                booking=found,
                settings=settings,
                channel=Channel.WEB.value,
                actor=Actor.citizen(),
            )
            text = settings.say("cancelled", None, **bookings.describe(found, settings))
        elif action == "move":
            office, starts_at = _slot(request.form.get("slot"))
            bookings.move(
                db_session=session,
                booking=found,
                settings=settings,
                starts_at=starts_at,
                office=office or None,
                channel=Channel.WEB.value,
                actor=Actor.citizen(),
            )
            text = settings.say("moved", None, **bookings.describe(found, settings))
        else:
            abort(404)
        session.commit()
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("bookings.booking", reference=reference)), 303
    flash(text, "success")
    return redirect(url_for("bookings.booking", reference=reference))


@bp.get("/office/bookings/<code>")
@staff_required()
def day_list(code: str) -> str:
    """An office's bookings of a day, to record who came."""
    service, settings = _service(code, current_staff())
    office = request.args.get("office") or settings.default_office
    if settings.office(office) is None:
        abort(404)
    try:
        day = date.fromisoformat(request.args.get("day") or "")
    except ValueError:
        day = settings.local(utcnow()).date()
    rows = bookings.day_list(
        db_session=db_session(), service_code=code, settings=settings, office=office, day=day
    )
    return render_template(
        "bookings/day.html",
        service=service,
        settings=settings,
        office=office,
        day=day,
        rows=[(b, bookings.describe(b, settings)) for b in rows],
    )


@bp.post("/office/bookings/<code>/publish")
@staff_required(Role.SUPERVISOR, Role.ADMIN)
def publish(code: str) -> Response:
    """Publish every office's slots up to the booking horizon."""
    _service_row, settings = _service(code, current_staff())
    session = db_session()
    count = bookings.generate_slots(
        db_session=session,
        service_code=code,
        settings=settings,
        actor=Actor.of_staff(current_staff()),
    )
    session.commit()
    flash(f"{count} new slots published.", "success")
    return redirect(url_for("bookings.day_list", code=code))


@bp.post("/office/bookings/<code>/<int:booking_id>/attendance")
@staff_required()
def attendance(code: str, booking_id: int) -> Response | tuple[Response, int]:
    """Record that the citizen came or did not come."""
    _service_row, settings = _service(code, current_staff())
    session = db_session()
    found = session.get(Booking, booking_id)
    if found is None or found.service_code != code:
        abort(404)
    back = url_for(
        "bookings.day_list",
        code=code,
        office=found.office,
        day=settings.local(found.starts_at).date().isoformat(),
    )
    try:
        bookings.record_attendance(
            db_session=session,
            booking=found,
            outcome=request.form.get("outcome", ""),
            actor=Actor.of_staff(current_staff()),
        )
        session.commit()
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(back), 303
    return redirect(back)


@bp.route("/office/bookings/<code>/console", methods=["GET", "POST"])
@staff_required(*CONSOLE_ROLES)
def console(code: str) -> str | tuple[str, int]:
    """The call centre books or cancels for a caller (by their profile id)."""
    service, settings = _service(code)
    session = db_session()
    status = 200
    done = None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "cancel":
                found = bookings.get_booking(
                    db_session=session, reference=form.get("reference", "")
                )
                bookings.cancel(
                    db_session=session,
                    booking=found,
                    settings=settings,
                    channel=Channel.PHONE.value,
                    actor=Actor.of_staff(current_staff()),
                )
                done = settings.say("cancelled", None, **bookings.describe(found, settings))
            else:
                citizen = profiles.get_citizen(
                    db_session=session, citizen_id=int(form.get("citizen_id") or 0)
                )
                office, starts_at = _slot(form.get("slot"))
                found = bookings.book(
                    db_session=session,
                    service=service,
                    settings=settings,
                    citizen=citizen,
                    office=office,
                    starts_at=starts_at,
                    purpose=form.get("purpose"),
                    channel=Channel.PHONE.value,
                    actor=Actor.of_staff(current_staff()),
                )
                done = settings.say("booked", None, **bookings.describe(found, settings))
            session.commit()
        except (InvalidInput, Conflict, NotFound, ValueError) as exc:
            session.rollback()
            flash(str(exc), "error")
            status = 409 if isinstance(exc, Conflict) else 400
    times = bookings.free_times(db_session=session, service_code=code, settings=settings)
    page = render_template(
        "bookings/console.html",
        service=service,
        settings=settings,
        times=times,
        purposes=bookings.purposes_of(service),
        done=done,
    )
    return (page, status) if status != 200 else page


@bp.app_template_global()
def booking_services_list() -> list[Service]:
    """The booking services, for the call centre's caller page."""
    return bookings.booking_services(db_session=db_session())
