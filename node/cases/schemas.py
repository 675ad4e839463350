"""Who acts on a case, and the filters of the case queue."""

from dataclasses import dataclass
from datetime import datetime

from node.cases.models import ActorKind, CaseStatus
from node.staff.models import StaffUser


@dataclass(frozen=True)
class Actor:
    """Who made a change: a citizen (through a channel), a staff member, or the system."""

    kind: ActorKind
    staff: StaffUser | None = None

    @classmethod
    def citizen(cls) -> "Actor":
        """The citizen or business the case is about, or an anonymous member of the public."""
        return cls(ActorKind.CITIZEN)

    @classmethod
    def system(cls) -> "Actor":
        """The node itself: imports, scheduled tasks, delivery reports."""
        return cls(ActorKind.SYSTEM)

    @classmethod
    def of_staff(cls, user: StaffUser) -> "Actor":
        """A signed-in staff member."""
        return cls(ActorKind.STAFF, user)


@dataclass
class QueueFilter:
    """The back office's case queue filters; None means any."""

    status: CaseStatus | None = None
    service_code: str | None = None
    department_id: int | None = None
    assignee_id: int | None = None
    sla_breached: bool | None = None
    open_only: bool = False
    since: datetime | None = None
    number: str | None = None  # a tracking code, or a legacy number from an imported system
    text: str | None = None  # words of the description, address, tracking code or legacy number
    sort: str = "urgency"  # a key of node.cases.service.SORTS
