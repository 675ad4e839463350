"""Back-office case pages: the queue, a case with its timeline and actions, the SLA overview."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    has_app_context,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from node.auth import (
    content_security_policy,
    current_staff,
    here,
    origin_of,
    safe_next,
    staff_required,
)
from node.cases import photos, service
from node.cases.display import attribute_answers
from node.cases.forms import ACTION_FORMS, ANY_STATUS, OPEN_CASES, BulkForm, QueueFilterForm
from node.cases.models import Case, CaseStatus
from node.cases.schemas import Actor, QueueFilter
from node.cases.service import CASE_CHANGED
from node.database import db_session, get_db, utcnow
from node.display import field_message, map_settings
from node.errors import Conflict, InvalidInput, NotFound
from node.services import service as catalogue
from node.staff import service as staff_service
from node.staff.models import Role, StaffUser

bp = Blueprint("cases", __name__, url_prefix="/office")

PAGE_SIZE = 25
WORKERS = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
# Agents answer the phone: they may leave notes on a case, but the department works it.
ACTION_ROLES = {action: WORKERS for action in ACTION_FORMS} | {"note": tuple(Role)}
# Which form field shows a domain error about a field the form names differently.
FIELD_ALIASES = {"note": "text", "reply": "text"}


def _queue_form(staff: StaffUser) -> tuple[QueueFilterForm, QueueFilter, dict[str, str]]:
    """The queue's filter form read from the query string, the filters it gives (a value that
    is not one of the choices is shown as invalid and ignored), and the service names."""
    form = QueueFilterForm(request.args)
    services = {s.code: s.name for s in catalogue.list_active(db_session=db_session())}
    form.service.choices = [SelectChoice("", _("Any service"))] + [
        SelectChoice(code, name) for code, name in services.items()
    ]
    form.department.choices = [SelectChoice("", _("Any department"))] + [
        SelectChoice(str(d.id), d.name)
        for d in staff_service.list_departments(db_session=db_session())
        if staff.sees_all_departments or d.id == staff.department_id
    ]
    form.validate()
    if "status" not in request.args and (form.q.data or form.number.data):
        form.status.data = ANY_STATUS  # a search looks in closed cases too, unless told not to

    def valid(field: Any) -> Any:
        return field.data if field.data and not field.errors else None

    status, department = valid(form.status) or OPEN_CASES, valid(form.department)
    filters = QueueFilter(
        status=CaseStatus(status) if status not in (OPEN_CASES, ANY_STATUS) else None,
        open_only=status == OPEN_CASES,
        service_code=valid(form.service),
        department_id=int(department) if department else None,
        assignee_id=staff.id if form.mine.data else None,
        sla_breached={"breached": True, "within": False}.get(valid(form.sla) or ""),
        number=valid(form.number),
        text=valid(form.q),
        sort=valid(form.sort) or "urgency",
    )
    return form, filters, services


@bp.get("/")
@staff_required()
def queue() -> str:
    """The cases the signed-in staff member may see, filtered, sorted and paged."""
    staff = current_staff()
    form, filters, services = _queue_form(staff)
    page = (form.page.data if not form.page.errors else None) or 1
    cases, total = service.queue(
        db_session=db_session(),
        staff=staff,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    bulk = None
    if staff.role in WORKERS:
        bulk = BulkForm(formdata=None, back=here())
        bulk.assignee.choices = _assignee_choices(staff)
    return render_template(
        "office/queue.html",
        form=form,
        bulk=bulk,
        cases=cases,
        service_names=services,
        total=total,
        page=page,
        pages=pages,
        args=args,
        now=utcnow(),
    )


def _assignee_choices(staff: StaffUser) -> list[SelectChoice]:
    """Whom the staff member may hand cases to: nobody, or a caseworker they can see."""
    people = [
        user
        for user in staff_service.list_caseworkers(db_session=db_session())
        if staff.sees_all_departments
        or user.role is Role.SUPERVISOR
        or user.department_id == staff.department_id
    ]
    return [SelectChoice("", _("Nobody"))] + [
        SelectChoice(str(user.id), user.name or user.email) for user in people
    ]


@bp.post("/bulk")
@staff_required(*WORKERS)
def bulk() -> Any:
    """Acknowledge, assign or resolve the ticked cases, one event each; a case the move does not
    fit is left as it was and named."""
    staff = current_staff()
    form = BulkForm()
    form.assignee.choices = _assignee_choices(staff)
    back = safe_next(form.back.data, url_for("cases.queue"))
    if not form.validate_on_submit() or not form.cases.data:
        flash(_("Tick at least one case and choose an action."), "error")
        return redirect(back)
    if form.action.data == "resolve" and not (form.reply.data or "").strip():
        flash(_("Write the public reply the citizens will read."), "error")
        return redirect(back)
    session = db_session()
    assignee = None
    if form.action.data == "assign" and form.assignee.data:
        assignee = staff_service.get(db_session=session, user_id=int(form.assignee.data))
    done, refused = [], []
    actor = Actor.of_staff(staff)
    for case_id in dict.fromkeys(form.cases.data):
        try:
            case = service.get_for_staff(db_session=session, case_id=case_id, staff=staff)
        except NotFound:
            continue  # another department's case does not exist for this caseworker
        try:
            if form.action.data == "assign":
                service.assign(db_session=session, case=case, assignee=assignee, actor=actor)
            else:
                service.move(
                    db_session=session,
                    case=case,
                    action=form.action.data,
                    actor=actor,
                    reply=form.reply.data if form.action.data == "resolve" else None,
                )
        except (Conflict, InvalidInput) as exc:
            # Both are raised before the case is touched, so nothing is left half done.
            refused.append(f"{case.tracking_code} ({exc})")
            continue
        CASE_CHANGED(db_session=session, case_id=case.id)
        done.append(case.tracking_code)
    session.commit()
    if done:
        flash(
            _("%(count)d cases updated: %(codes)s.", count=len(done), codes=", ".join(done)),
            "success",
        )
    if refused:
        flash(_("Not changed: %(cases)s.", cases="; ".join(refused)), "error")
    return redirect(back)


MAP_LIMIT = 2000  # points a browser draws without strain


@bp.get("/map")
@staff_required()
def case_map() -> str:
    """The filtered queue's cases on a map (those with a point), listed below it as well."""
    staff = current_staff()
    form, filters, services = _queue_form(staff)
    cases = service.located(db_session=db_session(), staff=staff, filters=filters, limit=MAP_LIMIT)
    points = [
        {
            "code": case.tracking_code,
            "lat": case.lat,
            "long": case.long,
            "status": case.status.value,
            "label": f"{case.tracking_code} · {services.get(case.service_code, case.service_code)}",
            "url": url_for("cases.case_detail", case_id=case.id),
        }
        for case in cases
    ]
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "office/map.html",
        form=form,
        cases=cases,
        points=points,
        service_names=services,
        limit=MAP_LIMIT,
        args=args,
        map=map_settings(),
    )


EXPORT_COLUMNS = (
    "tracking_code",
    "legacy_numbers",
    "service",
    "status",
    "priority",
    "department",
    "channel",
    "assignee",
    "created_at",
    "due_at",
    "closed_at",
    "sla_breached",
    "address",
    "lat",
    "long",
    "description",
)


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run: a leading =, +, -, @ or control is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/cases.csv")
@staff_required()
def export() -> Response:
    """The filtered queue as CSV, in the queue's order, written while it is read."""
    staff_id = current_staff().id
    _form, filters, services = _queue_form(current_staff())
    now = utcnow()

    def lines() -> Iterator[str]:
        # The request's session ends with the view; the rows are read in a session of their own.
        with get_db().session() as session:
            staff = session.get(StaffUser, staff_id)
            yield from _csv_lines(session, staff, filters, services, now)

    name = f"cases-{now:%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_lines(
    session: Session,
    staff: StaffUser,
    filters: QueueFilter,
    services: dict[str, str],
    now: datetime,
) -> Iterator[str]:
    """The export's lines, a few kilobytes at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for n, case in enumerate(
        service.queue_rows(db_session=session, staff=staff, filters=filters), 1
    ):
        legacy = service.legacy_numbers(db_session=session, case=case)
        writer.writerow(
            [
                _cell(value)
                for value in (
                    case.tracking_code,
                    " ".join(i.legacy_id for i in legacy),
                    services.get(case.service_code, case.service_code),
                    case.status.value,
                    case.priority.value,
                    case.department.name,
                    case.channel,
                    case.assignee.email if case.assignee else "",
                    case.created_at.isoformat(),
                    case.due_at.isoformat(),
                    case.closed_at.isoformat() if case.closed_at else "",
                    "yes" if case.sla_breached(now) else "no",
                    case.address or "",
                    case.lat if case.lat is not None else "",
                    case.long if case.long is not None else "",
                    case.description,
                )
            ]
        )
        if n % 100 == 0 or buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def forget_erased_photos(*, db_session: Session, citizen_id: int) -> None:
    """An erased citizen's photos go with them (connected to the erasure hook)."""
    store = (
        photos.PhotoStore.from_config(current_app.config, current_app.instance_path)
        if has_app_context()
        else None
    )
    photos.forget_citizen(db_session=db_session, citizen_id=citizen_id, store=store)


def _action_forms(case: Case, bound: tuple[str, FlaskForm] | None = None) -> dict[str, FlaskForm]:
    forms: dict[str, FlaskForm] = {}
    for action, form_class in ACTION_FORMS.items():
        if bound and bound[0] == action:
            forms[action] = bound[1]
            continue
        forms[action] = form_class(prefix=action, formdata=None)
    assignable = [
        user
        for user in staff_service.list_caseworkers(db_session=db_session())
        if user.role is Role.SUPERVISOR or user.department_id == case.department_id
    ]
    forms["assign"].assignee.choices = [SelectChoice("", _("Nobody"))] + [
        SelectChoice(str(user.id), user.name or user.email) for user in assignable
    ]
    if bound is None or bound[0] != "assign":
        forms["assign"].assignee.data = str(case.assignee_id) if case.assignee_id else ""
    if bound is None or bound[0] != "priority":
        forms["priority"].priority.data = case.priority.value
    return forms


def _case_page(case: Case, bound: tuple[str, FlaskForm] | None = None, status: int = 200) -> Any:
    staff = current_staff()
    allowed = {action for action, roles in ACTION_ROLES.items() if staff.role in roles}
    spec = catalogue.spec_of(
        catalogue.get(db_session=db_session(), code=case.service_code, active_only=False)
    )
    possible = {
        action
        for action, move in service.MOVES.items()
        if case.status in move.sources and action in allowed
    }
    # A photo an app sent by link is shown from where it is: the page's policy lets it in.
    linked = case.media_url if origin_of(case.media_url) else None
    response = make_response(
        render_template(
            "office/case.html",
            case=case,
            photos=photos.photos_of(db_session=db_session(), case_id=case.id),
            linked_photo=linked,
            service_name=spec.name,
            answers=attribute_answers(spec, case.attributes),
            legacy=service.legacy_numbers(db_session=db_session(), case=case),
            duplicates=[
                copy
                for copy in service.duplicates_of(db_session=db_session(), case=case)
                if staff.sees_all_departments or copy.department_id == staff.department_id
            ],
            events=service.timeline(db_session=db_session(), case=case),
            forms=_action_forms(case, bound),
            allowed=allowed,
            possible=possible,
            now=utcnow(),
        ),
        status,
    )
    if linked:
        response.headers["Content-Security-Policy"] = content_security_policy(images=(linked,))
    return response


@bp.get("/cases/<int:case_id>")
@staff_required()
def case_detail(case_id: int) -> Any:
    """One case with every event of its timeline and the actions open to the reader."""
    case = service.get_for_staff(db_session=db_session(), case_id=case_id, staff=current_staff())
    return _case_page(case)


@bp.get("/cases/<int:case_id>/photos/<int:photo_id>")
@staff_required()
def case_photo(case_id: int, photo_id: int) -> Response:
    """A photo of a case the staff member may see (?size=thumbnail: its thumbnail)."""
    case = service.get_for_staff(db_session=db_session(), case_id=case_id, staff=current_staff())
    photo = photos.get_photo(db_session=db_session(), case_id=case.id, photo_id=photo_id)
    kept = photo.thumbnail_path if request.args.get("size") == "thumbnail" else photo.path
    store = photos.PhotoStore.from_config(current_app.config, current_app.instance_path)
    path = store.absolute(kept)
    if not kept or not path.is_file():
        abort(404, _("The photo's file is no longer in the instance folder."))
    # Re-encoded by the node, so a JPEG and nothing else: it may show in the page.
    return send_file(
        path.resolve(),
        mimetype="image/jpeg",
        download_name=f"{case.tracking_code}-{photo.id}.jpg",
    )


@bp.post("/cases/<int:case_id>/<action>")
@staff_required()
def case_action(case_id: int, action: str) -> Any:
    """Apply one action to a case; a refused action changes nothing and says why."""
    staff = current_staff()
    if action not in ACTION_FORMS:
        abort(404)
    case = service.get_for_staff(db_session=db_session(), case_id=case_id, staff=staff)
    if staff.role not in ACTION_ROLES[action]:
        flash(_("Your role does not allow this action."), "error")
        return redirect(url_for("cases.case_detail", case_id=case.id))
    form = ACTION_FORMS[action](prefix=action)
    if action == "assign":
        form = _action_forms(case, (action, form))[action]
    if not form.validate_on_submit():
        flash(_("Please correct the highlighted field."), "error")
        return _case_page(case, (action, form), 422)
    try:
        _apply(case, action, form, Actor.of_staff(staff))
    except Conflict as exc:
        db_session().rollback()
        flash(_("Nothing was changed: %(reason)s.", reason=str(exc)), "error")
        return redirect(url_for("cases.case_detail", case_id=case_id))
    except InvalidInput as exc:
        db_session().rollback()
        case = service.get_for_staff(db_session=db_session(), case_id=case_id, staff=staff)
        for name, message in exc.fields.items():
            field = getattr(form, FIELD_ALIASES.get(action, name), None)
            if field is not None:
                field.errors = [*field.errors, field_message(message)]
        flash(_("Nothing was changed: %(reason)s.", reason=str(exc)), "error")
        return _case_page(case, (action, form), 422)
    # Listeners act once this commit succeeds: a rolled-back change is never announced.
    CASE_CHANGED(db_session=db_session(), case_id=case.id)
    db_session().commit()
    flash(_("Case %(code)s updated.", code=case.tracking_code), "success")
    return redirect(url_for("cases.case_detail", case_id=case.id))


def _apply(case: Case, action: str, form: FlaskForm, actor: Actor) -> None:
    session = db_session()
    if action in service.MOVES:
        service.move(
            db_session=session,
            case=case,
            action=action,
            actor=actor,
            reply=getattr(form, "reply", None) and form.reply.data,
            reason=getattr(form, "reason", None) and form.reason.data,
            duplicate_of_code=getattr(form, "duplicate_of", None) and form.duplicate_of.data,
        )
    elif action == "assign":
        assignee = (
            staff_service.get(db_session=session, user_id=int(form.assignee.data))
            if form.assignee.data
            else None
        )
        service.assign(db_session=session, case=case, assignee=assignee, actor=actor)
    elif action == "priority":
        service.set_priority(
            db_session=session, case=case, priority=form.priority.data, actor=actor
        )
    elif action == "note":
        service.add_note(db_session=session, case=case, text=form.text.data, actor=actor)
    elif action == "reply":
        service.reply(db_session=session, case=case, text=form.text.data, actor=actor)


@bp.get("/sla")
@staff_required(Role.SUPERVISOR, Role.ADMIN)
def sla() -> str:
    """Open, overdue and in-time figures per department and service."""
    rows = service.sla_overview(db_session=db_session(), staff=current_staff())
    return render_template("office/sla.html", rows=rows)
