"""Where inbound mail is kept: the raw message of every accepted mail, archived with its case
until the retention ends, and the quarantine of what could not be placed."""

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.cases.models import Case
from node.database import utcnow
from node.intake.email.models import ArchivedMail
from node.messaging.models import QuarantinedMessage
from node.profiles.models import Citizen

EMAIL = Channel.EMAIL.value
ERASED = "erased"  # a quarantined message whose sender was erased


@dataclass(frozen=True)
class MailSettings:
    """Where inbound mail goes, how big it may be, how long it is kept, and who the node is."""

    instance_path: Path
    attachments_dir: Path
    quarantine_dir: Path
    archive_dir: Path
    retention_days: int | None
    max_message_bytes: int
    max_attachment_bytes: int
    default_language: str
    default_region: str | None
    tracking_prefix: str
    languages: tuple[str, ...] = ("en",)
    mail_from: str = "no-reply@localhost"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: Path) -> "MailSettings":
        """The settings of a node app."""
        return cls(
            instance_path=instance_path,
            attachments_dir=config["ATTACHMENTS_DIR"],
            quarantine_dir=config["QUARANTINE_DIR"],
            archive_dir=config["MAIL_ARCHIVE_DIR"],
            retention_days=config["MAIL_RETENTION_DAYS"],
            max_message_bytes=config["MAIL_MAX_BYTES"],
            max_attachment_bytes=config["ATTACHMENT_MAX_BYTES"],
            default_language=config["DEFAULT_LANGUAGE"],
            default_region=config["DEFAULT_COUNTRY_CODE"],
            tracking_prefix=config["TRACKING_PREFIX"],
            languages=tuple(config["LANGUAGES"]),
            mail_from=config["MAIL_FROM"],
        )

    def relative(self, path: Path) -> str:
        """A path as rows keep it: relative to the instance folder when it is inside it."""
        try:
            return str(path.relative_to(self.instance_path))
        except ValueError:
            return str(path)

    def absolute(self, path: str) -> Path:
        """A path a row keeps, on disk."""
        return self.instance_path / path


def safe_filename(name: str) -> str:
    """A file name that stays inside its folder and that any file system takes."""
    cleaned = re.sub(r"[^\w.-]+", "_", Path(name.replace("\\", "/")).name).strip("._")
    return cleaned[:100] or "attachment"


def _stamp(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"


def archive_raw(
    *,
    db_session: Session,
    raw: bytes,
    case: Case,
    message_id: str | None,
    settings: MailSettings,
    now: datetime,
    written: list[Path],
) -> ArchivedMail:
    """Keep an accepted message as it came, with its case; `written` collects the new file."""
    folder = settings.archive_dir / case.tracking_code
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _stamp(now)
    path.write_bytes(raw)
    written.append(path)
    row = ArchivedMail(
        case_id=case.id,
        citizen_id=case.citizen_id,
        message_id=message_id and message_id[:300],
        path=settings.relative(path),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        received_at=now,
    )
    db_session.add(row)
    db_session.flush()
    return row


def quarantine(
    *,
    db_session: Session,
    raw: bytes,
    reason: str,
    settings: MailSettings,
    sender: str | None = None,
    subject: str | None = None,
    automatic: str | None = None,
    envelope_recipients: tuple[str, ...] = (),
    now: datetime | None = None,
) -> QuarantinedMessage:
    """Keep a message aside, as a file and a row saying why, for staff to look at."""
    now = now or utcnow()
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True)
    path = settings.quarantine_dir / _stamp(now)
    path.write_bytes(raw)
    row = QuarantinedMessage(
        channel=EMAIL,
        reason=reason[:500],
        path=settings.relative(path),
        size=len(raw),
        sender=(sender or None) and sender[:320],
        subject=(subject or None) and subject[:300],
        automatic=automatic and automatic[:32],
        envelope_recipients=[r[:320] for r in envelope_recipients],
        received_at=now,
    )
    db_session.add(row)
    db_session.flush()
    return row


def quarantined(
    *, db_session: Session, limit: int = 100, waiting: bool = False
) -> list[QuarantinedMessage]:
    """The quarantined messages, newest first; `waiting` leaves out those already released."""
    query = sa.select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc()).limit(limit)
    if waiting:
        query = query.where(QuarantinedMessage.released_at.is_(None))
    return list(db_session.scalars(query))


@dataclass
class Pruned:
    """What a pruning removed."""

    archived: int = 0
    quarantined: int = 0


def _delete(settings: MailSettings, path: str) -> bool:
    """Delete a kept file; whether there was one."""
    file = settings.absolute(path)
    existed = file.exists()
    file.unlink(missing_ok=True)
    return existed


def prune(*, db_session: Session, settings: MailSettings, now: datetime | None = None) -> Pruned:
    """Delete the raw messages kept longer than MAIL_RETENTION_DAYS: those of cases closed
    that long ago, and automatic messages quarantined that long ago. Nothing else goes, except
    the files of erased citizens that an erasure without the instance at hand left behind."""
    pruned = Pruned()
    now = now or utcnow()
    for row in db_session.scalars(
        sa.select(ArchivedMail).where(ArchivedMail.pruned_at.is_not(None))
    ):
        _delete(settings, row.path)
    for row in db_session.scalars(
        sa.select(QuarantinedMessage).where(QuarantinedMessage.resolution == ERASED)
    ):
        _delete(settings, row.path)
    if settings.retention_days is None:
        return pruned
    before = now - timedelta(days=settings.retention_days)
    expired = db_session.scalars(
        sa.select(ArchivedMail)
        .join(Case, Case.id == ArchivedMail.case_id)
        .where(ArchivedMail.pruned_at.is_(None), Case.closed_at < before)
    )
    for row in expired:
        _delete(settings, row.path)
        row.pruned_at = now
        pruned.archived += 1
    automatic = db_session.scalars(
        sa.select(QuarantinedMessage).where(
            QuarantinedMessage.automatic.is_not(None),
            QuarantinedMessage.released_at.is_(None),
            QuarantinedMessage.received_at < before,
        )
    )
    for row in automatic:
        _delete(settings, row.path)
        row.released_at, row.resolution = now, "pruned"
        pruned.quarantined += 1
    db_session.flush()
    return pruned


def forget_citizen(
    *,
    db_session: Session,
    citizen_id: int,
    settings: MailSettings | None,
    now: datetime | None = None,
) -> None:
    """An erased citizen's raw messages go: those archived with their cases, and those from
    their address still in the quarantine. Without the settings (no instance at hand) the rows
    are cut loose at once and `prune` deletes their files."""
    now = now or utcnow()
    for row in db_session.scalars(
        sa.select(ArchivedMail).where(ArchivedMail.citizen_id == citizen_id)
    ):
        if settings is not None:
            _delete(settings, row.path)
        row.pruned_at, row.citizen_id, row.message_id = row.pruned_at or now, None, None
    citizen = db_session.get(Citizen, citizen_id)
    if citizen is not None and citizen.email:
        for row in db_session.scalars(
            sa.select(QuarantinedMessage).where(QuarantinedMessage.sender == citizen.email)
        ):
            if settings is not None:
                _delete(settings, row.path)
            row.sender = row.subject = None
            row.released_at, row.resolution = row.released_at or now, ERASED
    db_session.flush()
