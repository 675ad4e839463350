"""Proving a contact before anything is attached to it: sign-up, contact changes, password reset.

An e-mail address or phone number typed into a form proves nothing: an impostor can type the
address of someone who wrote to the city, or who will. So an account's contacts are set only
once their owner opened a link sent to the e-mail or typed a code sent to the phone; until then
the request waits in a ContactVerification row that owns nothing. Requests sent earlier with a
contact (anonymously, from the portal, SMS or e-mail) are on a contact-only profile; verifying
the contact joins them to the account (a sign-up becomes that profile; a contact change moves
its cases over).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from node.cases.models import Case, EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import utcnow
from node.errors import Conflict, InvalidInput, NotFound
from node.hooks import Hook
from node.profiles.models import Citizen, ContactVerification, Organisation, VerificationPurpose
from node.profiles.schemas import PROFILE_FIELDS, CitizenData
from node.profiles.service import create_citizen, find_by_contact, update_citizen
from node.staff.service import hash_password, password_matches

LINK_LIFETIME = timedelta(hours=24)
CODE_LIFETIME = timedelta(minutes=15)
CODE_ATTEMPTS = 5
CONTACT_KINDS = ("email", "phone")

CLAIMING = Hook("a contact-only profile's requests join an account: move what else points to it")


@dataclass(frozen=True)
class Confirmed:
    """What a used link did: the account it signed in (if any), and why not otherwise."""

    purpose: VerificationPurpose
    citizen: Citizen | None
    already_registered: bool = False  # a sign-up for an address that has an account already
    claimed_cases: int = 0
    phone_code: str | None = None  # a code to send to the phone the sign-up gave


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_link(
    db_session: Session,
    *,
    purpose: VerificationPurpose,
    address: str,
    now: datetime,
    citizen: Citizen | None = None,
    data: dict | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    db_session.add(
        ContactVerification(
            purpose=purpose,
            kind="email",
            address=address,
            citizen_id=citizen.id if citizen else None,
            secret_hash=_digest(token),
            data=data or {},
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    db_session.flush()
    return token


def start_signup(
    *, db_session: Session, data: CitizenData, password_hash: str, now: datetime | None = None
) -> str:
    """Keep a sign-up until its e-mail is verified; returns the token of the link to send.

    Nothing tells the person signing up whether the address has a profile or an account: the
    answer is the same e-mail in every case, and only its owner reads it.
    """
    profile = data.model_dump(include=set(PROFILE_FIELDS), mode="json")
    return _new_link(
        db_session,
        purpose=VerificationPurpose.SIGNUP,
        address=data.email,
        now=now or utcnow(),
        data={"profile": profile, "password_hash": password_hash},
    )


def start_reset(*, db_session: Session, email: str, now: datetime | None = None) -> str | None:
    """The token of a password-reset link for the account holding this e-mail, if one does."""
    citizen = find_by_contact(db_session=db_session, email=email)
    if citizen is None or not citizen.password_hash:
        return None
    return _new_link(
        db_session,
        purpose=VerificationPurpose.RESET,
        address=citizen.email,
        citizen=citizen,
        now=now or utcnow(),
    )


def start_contact_change(
    *, db_session: Session, citizen: Citizen, kind: str, address: str, now: datetime | None = None
) -> str:
    """Ask to verify an account's new e-mail (returns the link's token) or phone (the code)."""
    if kind not in CONTACT_KINDS:
        raise InvalidInput("choose email or phone", {"kind": "unknown"})
    now = now or utcnow()
    if kind == "email":
        return _new_link(
            db_session,
            purpose=VerificationPurpose.CONTACT,
            address=address,
            citizen=citizen,
            now=now,
        )
    code = f"{secrets.randbelow(10**6):06d}"
    db_session.add(
        ContactVerification(
            purpose=VerificationPurpose.CONTACT,
            kind="phone",
            address=address,
            citizen_id=citizen.id,
            secret_hash=hash_password(code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    db_session.flush()
    return code


def pending(*, db_session: Session, token: str, now: datetime | None = None) -> ContactVerification:
    """The unused, unexpired verification a link's token names; NotFound otherwise."""
    now = now or utcnow()
    verification = db_session.scalar(
        sa.select(ContactVerification).where(ContactVerification.secret_hash == _digest(token))
    )
    if verification is None or verification.used_at is not None or verification.expires_at < now:
        raise NotFound("This link is unknown, used or expired: ask for a new one.")
    return verification


def pending_phone(*, db_session: Session, citizen: Citizen) -> ContactVerification | None:
    """The latest phone number waiting for its code on this account."""
    return db_session.scalar(
        sa.select(ContactVerification)
        .where(
            ContactVerification.citizen_id == citizen.id,
            ContactVerification.kind == "phone",
            ContactVerification.used_at.is_(None),
        )
        .order_by(ContactVerification.id.desc())
    )


def claim(*, db_session: Session, account: Citizen, profile: Citizen, kind: str) -> int:
    """Join a contact-only profile's requests to the account that verified its contact.

    The profile keeps its other contact (its alert subscriptions still reach it) and loses the
    one verified; returns the number of cases moved.
    """
    moved = db_session.execute(
        sa.update(Case).where(Case.citizen_id == profile.id).values(citizen_id=account.id)
    ).rowcount
    db_session.execute(
        sa.update(Organisation)
        .where(Organisation.contact_id == profile.id)
        .values(contact_id=account.id)
    )
    CLAIMING(db_session=db_session, from_citizen_id=profile.id, to_citizen_id=account.id)
    setattr(profile, kind, None)
    db_session.flush()
    return moved


def attach_contact(
    *, db_session: Session, citizen: Citizen, kind: str, address: str, now: datetime | None = None
) -> int:
    """Set a verified contact on an account, claiming the requests sent earlier with it."""
    other = find_by_contact(db_session=db_session, **{kind: address})
    moved = 0
    if other is not None and other.id != citizen.id:
        if other.password_hash:
            raise Conflict(f"This {kind} belongs to another account.")
        moved = claim(db_session=db_session, account=citizen, profile=other, kind=kind)
    setattr(citizen, kind, address)
    citizen.updated_at = now or utcnow()
    _record_verified(db_session, citizen, now, fields=[kind], verified=kind, claimed=moved)
    db_session.flush()
    return moved


def _record_verified(
    db_session: Session,
    citizen: Citizen,
    now: datetime | None,
    *,
    fields: list[str],
    verified: str,
    claimed: int,
) -> None:
    """Archive that the citizen proved a contact, and how many earlier requests it brought."""
    _changed_on_the_web(
        db_session,
        citizen,
        now,
        data={"fields": fields, "verified": verified, "claimed_cases": claimed},
    )


def _changed_on_the_web(
    db_session: Session, citizen: Citizen, now: datetime | None, *, data: dict[str, Any]
) -> None:
    """Archive a change citizens made to their own profile on the portal."""
    record(
        db_session=db_session,
        kind=EventKind.PROFILE_UPDATED,
        actor=Actor.citizen(),
        citizen_id=citizen.id,
        channel="web",
        at=now,
        data=data,
    )


def _finish_signup(
    db_session: Session, verification: ContactVerification, now: datetime
) -> Confirmed:
    purpose = VerificationPurpose.SIGNUP
    profile = dict(verification.data["profile"])
    phone = profile.pop("phone", None)
    existing = find_by_contact(db_session=db_session, email=verification.address)
    if existing is not None and existing.password_hash:
        return Confirmed(purpose=purpose, citizen=None, already_registered=True)
    # The phone the sign-up gave is not verified yet: it waits for its own code.
    data = CitizenData.model_validate(profile | {"phone": None})
    password_hash = verification.data["password_hash"]
    claimed = 0
    if existing is None:
        citizen = create_citizen(
            db_session=db_session,
            data=data,
            actor=Actor.citizen(),
            password_hash=password_hash,
            channel="web",
            now=now,
        )
    else:
        # The person wrote before with this e-mail: the account is that profile, and its
        # requests are theirs. A phone left on it by a request is not this person's proof.
        citizen = existing
        claimed = db_session.scalar(
            sa.select(sa.func.count()).select_from(Case).where(Case.citizen_id == citizen.id)
        )
        update_citizen(
            db_session=db_session, citizen=citizen, data=data, actor=Actor.citizen(), channel="web"
        )
        citizen.password_hash = password_hash
        _record_verified(
            db_session, citizen, now, fields=["password"], verified="email", claimed=claimed
        )
    code = None
    if phone and phone != citizen.phone:
        code = start_contact_change(
            db_session=db_session, citizen=citizen, kind="phone", address=phone, now=now
        )
    return Confirmed(purpose=purpose, citizen=citizen, claimed_cases=claimed, phone_code=code)


def confirm_link(
    *,
    db_session: Session,
    token: str,
    password_hash: str | None = None,
    now: datetime | None = None,
) -> Confirmed:
    """Use a link: create or claim the account, set the new e-mail, or set the new password."""
    now = now or utcnow()
    verification = pending(db_session=db_session, token=token, now=now)
    verification.used_at = now
    if verification.purpose is VerificationPurpose.SIGNUP:
        outcome = _finish_signup(db_session, verification, now)
        # Its profile and password hash were kept only until now.
        verification.data = {}
        db_session.flush()
        return outcome
    citizen = db_session.get(Citizen, verification.citizen_id)
    if citizen is None or citizen.erased_at is not None:
        raise NotFound("This link is unknown, used or expired: ask for a new one.")
    if verification.purpose is VerificationPurpose.RESET:
        if citizen.email != verification.address or not password_hash:
            raise NotFound("This link is unknown, used or expired: ask for a new one.")
        citizen.password_hash = password_hash
        citizen.session_version += 1
        _changed_on_the_web(db_session, citizen, now, data={"fields": ["password"]})
        db_session.flush()
        return Confirmed(purpose=verification.purpose, citizen=citizen)
    moved = attach_contact(
        db_session=db_session, citizen=citizen, kind="email", address=verification.address, now=now
    )
    return Confirmed(purpose=verification.purpose, citizen=citizen, claimed_cases=moved)


def confirm_code(
    *, db_session: Session, citizen: Citizen, code: str, now: datetime | None = None
) -> int:
    """Verify the phone waiting on the account with the code sent to it; returns cases claimed.

    A wrong code counts as an attempt; after CODE_ATTEMPTS, or once expired, a new one is needed.
    """
    now = now or utcnow()
    verification = pending_phone(db_session=db_session, citizen=citizen)
    if (
        verification is None
        or verification.expires_at < now
        or verification.attempts >= CODE_ATTEMPTS
    ):
        raise Conflict("No code is waiting: ask for a new one.")
    verification.attempts += 1
    if not password_matches(verification.secret_hash, (code or "").strip()):
        db_session.flush()
        raise InvalidInput("This code is wrong.", {"code": "wrong code"})
    verification.used_at = now
    return attach_contact(
        db_session=db_session, citizen=citizen, kind="phone", address=verification.address, now=now
    )
