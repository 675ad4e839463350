"""Back-office case pages: the queue, a case with its timeline and actions, the SLA overview."""

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from node.auth import current_staff, staff_required
from node.cases import service
from node.cases.display import attribute_answers
from node.cases.forms import ACTION_FORMS, QueueFilterForm
from node.cases.models import Case, CaseStatus
from node.cases.schemas import Actor, QueueFilter
from node.cases.service import CASE_CHANGED
from node.database import db_session, utcnow
from node.display import field_message
from node.errors import Conflict, InvalidInput
from node.services import service as catalogue
from node.staff import service as staff_service
from node.staff.models import Role

bp = Blueprint("cases", __name__, url_prefix="/office")

PAGE_SIZE = 25
WORKERS = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
# Agents answer the phone: they may leave notes on a case, but the department works it.
ACTION_ROLES = {action: WORKERS for action in ACTION_FORMS} | {"note": tuple(Role)}
# Which form field shows a domain error about a field the form names differently.
FIELD_ALIASES = {"note": "text", "reply": "text"}


@bp.get("/")
@staff_required()
def queue() -> str:
    """The cases the signed-in staff member may see, filtered and paged."""
    staff = current_staff()
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
    form.validate()  # a filter with an unknown value is shown as invalid and ignored

    def valid(field: Any) -> Any:
        return field.data if field.data and not field.errors else None

    status, department = valid(form.status), valid(form.department)
    filters = QueueFilter(
        status=CaseStatus(status) if status else None,
        service_code=valid(form.service),
        department_id=int(department) if department else None,
        sla_breached={"breached": True, "within": False}.get(valid(form.sla) or ""),
        number=valid(form.number),
    )
    page = valid(form.page) or 1
    cases, total = service.queue(
        db_session=db_session(),
        staff=staff,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "office/queue.html",
        form=form,
        cases=cases,
        service_names=services,
        total=total,
        page=page,
        pages=pages,
        args=args,
        now=utcnow(),
    )


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
    return (
        render_template(
            "office/case.html",
            case=case,
            service_name=spec.name,
            answers=attribute_answers(spec, case.attributes),
            legacy=service.legacy_numbers(db_session=db_session(), case=case),
            events=service.timeline(db_session=db_session(), case=case),
            forms=_action_forms(case, bound),
            allowed=allowed,
            possible=possible,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/cases/<int:case_id>")
@staff_required()
def case_detail(case_id: int) -> Any:
    """One case with every event of its timeline and the actions open to the reader."""
    case = service.get_for_staff(db_session=db_session(), case_id=case_id, staff=current_staff())
    return _case_page(case)


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
