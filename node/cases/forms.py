"""Back-office forms: the queue's filters and one form per case action."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from node.cases.display import PRIORITY_LABELS, STATUS_LABELS
from node.cases.models import CaseStatus, Priority
from node.cases.service import MAX_TEXT

OPEN_CASES = "open"  # the queue's default: new, acknowledged and in progress
ANY_STATUS = "all"
BULK_ACTIONS = ("acknowledge", "assign", "resolve")


class QueueFilterForm(FlaskForm):
    """The queue's filters, read from the query string."""

    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField(
        _l("Search"),
        description=_l("Words of the description or address, a tracking code or a legacy number"),
        validators=[Optional(), Length(max=200)],
    )
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(OPEN_CASES, _l("Open")), SelectChoice(ANY_STATUS, _l("Any status"))]
        + [SelectChoice(s.value, STATUS_LABELS[s]) for s in CaseStatus],
        default=OPEN_CASES,
        validators=[Optional()],
    )
    mine = BooleanField(_l("My cases"), validators=[Optional()])
    sort = SelectField(
        _l("Sort by"),
        choices=[
            SelectChoice("urgency", _l("Most urgent first")),
            SelectChoice("due", _l("Due soonest")),
            SelectChoice("newest", _l("Newest")),
            SelectChoice("oldest", _l("Oldest")),
            SelectChoice("updated", _l("Last changed")),
        ],
        default="urgency",
        validators=[Optional()],
    )
    service = SelectField(_l("Service"), choices=[], validators=[Optional()])
    department = SelectField(_l("Department"), choices=[], validators=[Optional()])
    sla = SelectField(
        _l("SLA"),
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("breached", _l("Breached")),
            SelectChoice("within", _l("Within SLA")),
        ],
        validators=[Optional()],
    )
    number = StringField(
        _l("Case number"),
        description=_l("A tracking code, or the number of an imported request"),
        validators=[Optional(), Length(max=128)],
    )
    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(min=1)])


class MoveForm(FlaskForm):
    """A status move that needs nothing but a click (acknowledge, start)."""


class ResolveForm(FlaskForm):
    """Resolve the case, telling the citizen what was done."""

    reply = TextAreaField(
        _l("Public reply to the citizen"), validators=[DataRequired(), Length(max=MAX_TEXT)]
    )


class RejectForm(FlaskForm):
    """Reject the case with the reason the citizen is told."""

    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=MAX_TEXT)])


class DuplicateForm(FlaskForm):
    """Close the case as a duplicate of another one."""

    duplicate_of = StringField(
        _l("Tracking code of the original case"), validators=[DataRequired(), Length(max=20)]
    )


class ReopenForm(FlaskForm):
    """Reopen a closed case."""

    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=MAX_TEXT)])


class AssignForm(FlaskForm):
    """Give the case to a caseworker, or to nobody."""

    assignee = SelectField(_l("Assignee"), choices=[], validators=[Optional()])


class PriorityForm(FlaskForm):
    """Change the case's priority."""

    priority = SelectField(
        _l("Priority"), choices=[SelectChoice(p.value, PRIORITY_LABELS[p]) for p in Priority]
    )


class NoteForm(FlaskForm):
    """An internal note, never shown to the citizen."""

    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=MAX_TEXT)])


class ReplyForm(FlaskForm):
    """A public reply, shown to the citizen with the case's status."""

    text = TextAreaField(_l("Public reply"), validators=[DataRequired(), Length(max=MAX_TEXT)])


ACTION_FORMS: dict[str, type[FlaskForm]] = {
    "acknowledge": MoveForm,
    "start": MoveForm,
    "resolve": ResolveForm,
    "reject": RejectForm,
    "mark_duplicate": DuplicateForm,
    "reopen": ReopenForm,
    "assign": AssignForm,
    "priority": PriorityForm,
    "note": NoteForm,
    "reply": ReplyForm,
}


class BulkForm(FlaskForm):
    """One action on the cases ticked in the queue: acknowledge, assign or resolve them."""

    cases = SelectMultipleField(_l("Cases"), choices=[], coerce=int, validate_choice=False)
    action = SelectField(
        _l("Action"),
        choices=[
            SelectChoice("acknowledge", _l("Acknowledge")),
            SelectChoice("assign", _l("Assign to")),
            SelectChoice("resolve", _l("Resolve with a public reply")),
        ],
    )
    assignee = SelectField(_l("Assignee"), choices=[], validators=[Optional()])
    reply = TextAreaField(
        _l("Public reply to the citizens"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    back = StringField(validators=[Optional(), Length(max=2000)])
