"""Staff accounts: creation, password hashing with argon2, sign-in."""

import secrets
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from node.errors import InvalidInput, NotFound
from node.staff.models import Department, Role, StaffUser

_hasher = PasswordHasher()
RESET_LIFETIME = timedelta(hours=1)
_RESET_SALT = "carmen.node.staff.password-reset"


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash of no one's password, made by the current hasher, to check unknown accounts on."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the stored hash (False for a missing or broken hash).

    A missing hash (an unknown e-mail, a profile without an account) is still checked against
    a dummy one, so that the answer takes as long and an e-mail's existence does not show.
    """
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A password to print once; the user is asked to change it at first sign-in."""
    return secrets.token_urlsafe(12)


def normalise_email(email: str) -> str:
    """Validate an e-mail address and return its normalised form, or raise InvalidInput."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(str(exc), {"email": str(exc)}) from exc


def get_or_create_department(
    *, db_session: Session, code: str, name: str | None = None
) -> Department:
    """The department with this code, created when missing."""
    department = db_session.scalar(sa.select(Department).where(Department.code == code))
    if department is None:
        department = Department(code=code, name=name or code.replace("-", " ").title())
        db_session.add(department)
        db_session.flush()
    return department


def create_user(
    *,
    db_session: Session,
    email: str,
    role: Role | str,
    password: str,
    name: str = "",
    department_code: str | None = None,
    must_change_password: bool = True,
) -> StaffUser:
    """Add a staff member; caseworkers must belong to a department."""
    try:
        role = Role(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"unknown role {role!r}: choose one of {choices}", {"role": "unknown"}
        ) from exc
    email = normalise_email(email)
    if role is Role.CASEWORKER and not department_code:
        raise InvalidInput(
            "a caseworker works the cases of one department: give --department",
            {"department": "required for caseworkers"},
        )
    if db_session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)):
        raise InvalidInput(f"a staff member with e-mail {email} already exists", {"email": "taken"})
    department = (
        get_or_create_department(db_session=db_session, code=department_code)
        if department_code
        else None
    )
    user = StaffUser(
        email=email,
        name=name,
        role=role,
        department=department,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    db_session.add(user)
    db_session.flush()
    return user


def authenticate(*, db_session: Session, email: str, password: str) -> StaffUser | None:
    """The active staff member with these credentials, or None."""
    user = db_session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    # Checked before anything else, unknown e-mail or not: the same work, so the answer's time
    # does not tell which e-mails are staff accounts.
    matches = password_matches(user.password_hash if user else None, password)
    if user is None or not user.active or not matches:
        return None
    return user


def get(*, db_session: Session, user_id: int) -> StaffUser:
    """One staff member by id."""
    user = db_session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff member {user_id}")
    return user


def change_password(*, db_session: Session, user: StaffUser, current: str, new: str) -> None:
    """Change a staff member's password after checking the current one."""
    if not password_matches(user.password_hash, current):
        raise InvalidInput("the current password is wrong", {"current": "wrong password"})
    if len(new) < 10:
        raise InvalidInput("choose at least 10 characters", {"new": "at least 10 characters"})
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_version += 1


def list_caseworkers(*, db_session: Session, department_id: int | None = None) -> list[StaffUser]:
    """Active staff who can be assigned cases, optionally of one department."""
    query = sa.select(StaffUser).where(
        StaffUser.active, StaffUser.role.in_([Role.CASEWORKER, Role.SUPERVISOR])
    )
    if department_id is not None:
        query = query.where(StaffUser.department_id == department_id)
    return list(db_session.scalars(query.order_by(StaffUser.email)))


def list_staff(*, db_session: Session) -> list[StaffUser]:
    """Every staff account, active ones first, by e-mail."""
    query = sa.select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.email)
    return list(db_session.scalars(query))


def list_departments(*, db_session: Session) -> list[Department]:
    """Every department, by name."""
    return list(db_session.scalars(sa.select(Department).order_by(Department.name)))


def find_by_email(*, db_session: Session, email: str) -> StaffUser:
    """One staff member by e-mail; NotFound when none."""
    user = db_session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no staff member {email}")
    return user


def set_active(*, user: StaffUser, active: bool) -> None:
    """Disable or enable a staff member; disabling ends every session of theirs."""
    if user.active and not active:
        user.session_version += 1
    user.active = active


def reset_password(*, user: StaffUser) -> str:
    """Give a one-time password (changed at the next sign-in) and end every session; returns it."""
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.session_version += 1
    return password


def change_role(
    *, db_session: Session, user: StaffUser, role: Role | str, department_code: str | None
) -> None:
    """Give a staff member another role and department; caseworkers need a department."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise InvalidInput(f"unknown role {role!r}", {"role": "unknown"}) from exc
    if role is Role.CASEWORKER and not department_code:
        raise InvalidInput(
            "a caseworker works the cases of one department", {"department": "required"}
        )
    user.role = role
    user.department = (
        get_or_create_department(db_session=db_session, code=department_code)
        if department_code
        else None
    )


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_RESET_SALT)


def start_reset(
    *, db_session: Session, email: str, secret_key: str
) -> tuple[StaffUser, str] | None:
    """The active account with this e-mail and the token of its password-reset link, if any.

    The token is signed with the node's secret key and names the account's session version:
    using it, signing out or any new password bumps the version, so a link works once, and
    only until the account's sessions next end.
    """
    user = db_session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    token = _reset_serializer(secret_key).dumps(
        {"user": user.id if user else 0, "version": user.session_version if user else 0}
    )
    if user is None or not user.active:
        return None
    return user, token


def reset_account(*, db_session: Session, token: str, secret_key: str) -> StaffUser:
    """The account a reset link's token names while it is valid; NotFound otherwise."""
    unusable = NotFound("This link is unknown, used or expired: ask for a new one.")
    try:
        data = _reset_serializer(secret_key).loads(
            token, max_age=int(RESET_LIFETIME.total_seconds())
        )
        user_id, version = int(data["user"]), int(data["version"])
    except (BadData, KeyError, TypeError, ValueError) as exc:
        raise unusable from exc
    user = db_session.get(StaffUser, user_id)
    if user is None or not user.active or user.session_version != version:
        raise unusable
    return user


def set_new_password(*, user: StaffUser, new: str) -> None:
    """Set the password chosen from a reset link; every session of the account ends."""
    if len(new) < 10:
        raise InvalidInput("choose at least 10 characters", {"new": "at least 10 characters"})
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_version += 1
