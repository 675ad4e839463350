"""Load service specifications from the instance folder into the node's catalogue."""

import json
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from node.errors import NotFound
from node.services.models import Service
from node.services.schemas import CASES, ServiceSpec
from node.staff.models import Department, Role, StaffUser
from node.staff.service import get_or_create_department

SPEC_FILE = "service.toml"
# Written by `carmen service` next to service.toml: template, version, answers, cloned from.
PROVENANCE_FILE = "provenance.json"


@dataclass
class LoadReport:
    """What a catalogue load found: the valid specs, and each folder it had to skip and why."""

    specs: list[ServiceSpec] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)  # by service code
    warnings: dict[str, str] = field(default_factory=dict)  # loaded, but something is off
    # Loaded, but its cases could go to departments without active caseworkers: code -> why.
    unstaffed: dict[str, str] = field(default_factory=dict)


def read_spec(path: Path) -> ServiceSpec:
    """Read and validate one service.toml; raises ValueError with a readable message."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return ServiceSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'spec'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"{path}: {problems}") from exc


def service_folder(*, services_dir: Path, code: str) -> Path:
    """The folder under services/ whose service.toml declares this code (usually named so)."""
    folder = services_dir / code
    try:
        if read_spec(folder / SPEC_FILE).code == code:
            return folder
    except (OSError, ValueError):
        pass
    # A folder renamed by hand: look for the spec that names the code.
    for spec_path in sorted(services_dir.glob(f"*/{SPEC_FILE}")):
        try:
            if read_spec(spec_path).code == code:
                return spec_path.parent
        except ValueError:
            continue
    raise NotFound(f"no folder of service {code!r} in {services_dir}")


def load_specs(services_dir: Path, *, behaviours: Collection[str] | None = None) -> LoadReport:
    """Read every services/<folder>/service.toml; invalid or clashing specs are reported, and
    so is one naming a behaviour not among `behaviours` (when given)."""
    report = LoadReport()
    if not services_dir.is_dir():
        return report
    keywords: dict[str, str] = {}
    for spec_path in sorted(services_dir.glob(f"*/{SPEC_FILE}")):
        folder = spec_path.parent.name
        try:
            spec = read_spec(spec_path)
        except ValueError as exc:
            report.errors[folder] = str(exc)
            continue
        if behaviours is not None and spec.behaviour not in behaviours:
            report.errors[folder] = (
                f"unknown behaviour {spec.behaviour!r}; this node has {', '.join(behaviours)}"
            )
            continue
        if any(s.code == spec.code for s in report.specs):
            report.errors[folder] = f"service code {spec.code!r} is used by another folder"
            continue
        if spec.sms_keyword and spec.sms_keyword in keywords:
            other = keywords[spec.sms_keyword]
            report.errors[folder] = f"SMS keyword {spec.sms_keyword} is already used by {other}"
            continue
        if spec.sms_keyword:
            keywords[spec.sms_keyword] = spec.code
        report.specs.append(spec)
        provenance_path = spec_path.parent / PROVENANCE_FILE
        if provenance_path.exists():
            try:
                report.provenance[spec.code] = read_provenance(provenance_path)
            except ValueError as exc:  # the service itself is fine; only its history is unclear
                report.warnings[folder] = str(exc)
    return report


def read_provenance(path: Path) -> dict[str, Any]:
    """Read a provenance.json; raises ValueError when it is not a JSON object naming a template."""
    try:
        provenance = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(provenance, dict) or not isinstance(provenance.get("template"), str):
        raise ValueError(f"{path}: not a provenance record (no template named)")
    return provenance


def sync_catalogue(
    *,
    db_session: Session,
    specs: list[ServiceSpec],
    provenance: Mapping[str, dict[str, Any]] | None = None,
) -> list[Service]:
    """Make the catalogue match the specs: add and update them, deactivate services now gone."""
    existing = {s.code: s for s in db_session.scalars(sa.select(Service))}
    # Keywords move between services on an update; clear them first so the unique index holds.
    for service in existing.values():
        service.sms_keyword = None
    db_session.flush()
    for spec in specs:
        get_or_create_department(db_session=db_session, code=spec.department)
        for rule in spec.routing:
            get_or_create_department(db_session=db_session, code=rule.department)
        service = existing.pop(spec.code, None) or Service(code=spec.code)
        service.name = spec.name
        service.domain = spec.domain.value
        service.department_code = spec.department
        service.sla_hours = spec.sla_hours
        service.channels = [c.value for c in spec.channels]
        service.sms_keyword = spec.sms_keyword
        service.spec = spec.model_dump(mode="json")
        service.provenance = (provenance or {}).get(spec.code)
        service.active = True
        db_session.add(service)
    for gone in existing.values():
        gone.active = False  # kept: its cases still refer to it
    db_session.flush()
    return list_active(db_session=db_session)


def unstaffed_departments(*, db_session: Session, spec: ServiceSpec) -> list[str]:
    """The departments a service's cases can be routed to that have no active caseworker."""
    staffed = set(
        db_session.scalars(
            sa.select(Department.code)
            .join(StaffUser, StaffUser.department_id == Department.id)
            .where(StaffUser.active, StaffUser.role == Role.CASEWORKER)
        )
    )
    return [code for code in spec.departments if code not in staffed]


def load_catalogue(
    *,
    db_session: Session,
    services_dir: Path,
    behaviours: Collection[str] | None = None,
    refuse_unstaffed: bool = False,
) -> LoadReport:
    """Read the services folder and bring the catalogue in line with it.

    A case-taking service whose cases could go to a department without active caseworkers is
    reported (`unstaffed`); with `refuse_unstaffed` it is not loaded either, and its reason is
    an error. A node being set up has no staff yet, so only serving refuses.
    """
    report = load_specs(services_dir, behaviours=behaviours)
    for spec in list(report.specs):
        if spec.behaviour != CASES:
            continue
        missing = unstaffed_departments(db_session=db_session, spec=spec)
        if not missing:
            continue
        reason = (
            f"its cases can go to {', '.join(missing)}, which "
            f"{'has' if len(missing) == 1 else 'have'} no active caseworker: add one with "
            f"`carmen node user create --role caseworker --department {missing[0]}`"
        )
        if refuse_unstaffed:
            report.specs.remove(spec)
            report.errors[spec.code] = reason
        else:
            report.unstaffed[spec.code] = reason
    sync_catalogue(db_session=db_session, specs=report.specs, provenance=report.provenance)
    return report


def list_active(*, db_session: Session) -> list[Service]:
    """The services citizens can use now, by name."""
    return list(db_session.scalars(sa.select(Service).where(Service.active).order_by(Service.name)))


def get(*, db_session: Session, code: str, active_only: bool = True) -> Service:
    """One service by code."""
    service = db_session.get(Service, code)
    if service is None or (active_only and not service.active):
        raise NotFound(f"no service with code {code!r}")
    return service


def worked_by(staff: StaffUser, service: Service) -> bool:
    """Whether a staff member works this service: a caseworker only their department's, as with
    cases; to them another department's service does not exist."""
    if staff.sees_all_departments:
        return True
    return staff.department is not None and staff.department.code == service.department_code


def spec_of(service: Service, *, language: str | None = None) -> ServiceSpec:
    """The validated specification stored with a catalogue entry, in a reader's language when
    given (its texts the service does not give in that language as written)."""
    return ServiceSpec.model_validate(service.spec).in_language(language)


def behaves_as(service: Service, behaviour: str) -> bool:
    """Whether a catalogue service's spec names this behaviour."""
    return spec_of(service).behaviour == behaviour


def active_of_behaviour(*, db_session: Session, behaviour: str) -> list[Service]:
    """The active services of one behaviour, by name."""
    return [s for s in list_active(db_session=db_session) if behaves_as(s, behaviour)]


def get_of_behaviour(
    *, db_session: Session, code: str, behaviour: str, staff: StaffUser | None = None
) -> Service:
    """One active service of a behaviour by code; for staff, only one they work. Any other does
    not exist for the caller."""
    service = db_session.get(Service, code)
    if (
        service is None
        or not service.active
        or not behaves_as(service, behaviour)
        or (staff is not None and not worked_by(staff, service))
    ):
        raise NotFound(f"no {behaviour} service with code {code!r}")
    return service


def by_sms_keyword(*, db_session: Session, keyword: str) -> Service | None:
    """The active service that answers to an SMS keyword."""
    return db_session.scalar(
        sa.select(Service).where(Service.active, Service.sms_keyword == keyword.upper())
    )
