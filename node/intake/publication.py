"""What anyone may see of a request: each service's [publish], its behaviour, and the reader's key.

Open311 GET and the portal show requests to people the node does not know. What they see is
public by design: a service publishes at most its requests' status, dates, the street and
coordinates coarsened to it, and, when it says so, the citizen's text redacted; a behaviour
whose requests are personal matters (bookings, consultations, alerts) publishes none of them.
A client application whose key has the `full` scope (the city's own app) reads them as stored.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from node.behaviours import behaviour_of
from node.cases.models import Case
from node.intake.free_text import mentions, phone_region, street_of
from node.intake.models import ClientScope
from node.services.schemas import LocationDetail, ServiceSpec

# Grid cells a published point is moved to the centre of. A street runs for one or two hundred
# metres between crossings, so a 200 m cell says which stretch of street, not which house; a
# 1 km cell says which neighbourhood.
GRID_METRES = {LocationDetail.STREET: 200.0, LocationDetail.AREA: 1000.0}
_METRES_PER_DEGREE = 111_320.0  # of latitude, and of longitude at the equator


@dataclass(frozen=True)
class Disclosure:
    """What one reader may see of the requests of one service."""

    listed: bool  # the requests are listed and shown at all
    location: LocationDetail | None  # None: exactly as stored
    description: bool
    media: bool
    redacted: bool  # free text (the description, the city's notes) is redacted


FULL = Disclosure(listed=True, location=None, description=True, media=True, redacted=False)


def disclosure(spec: ServiceSpec, *, scope: ClientScope | None = None) -> Disclosure:
    """What a reader with this key scope (None: no key) may see of the service's requests."""
    if scope is ClientScope.FULL:
        return FULL
    publish = spec.publish
    return Disclosure(
        listed=publish.requests and behaviour_of(spec).publishes_requests,
        location=publish.location,
        description=publish.description,
        media=publish.media,
        redacted=True,
    )


def coarse_point(lat: float, long: float, metres: float) -> tuple[float, float]:
    """The centre of the grid cell of about `metres` a side that holds the point.

    Every point of a cell gives the same centre, so requests from one house cannot be averaged
    back to it. A cell's width in degrees of longitude is set at its row's middle latitude.
    """
    step = metres / _METRES_PER_DEGREE
    row = math.floor((lat + 90) / step)
    centre_lat = min(90.0, -90 + (row + 0.5) * step)
    width = step / max(math.cos(math.radians(centre_lat)), 0.01)
    column = math.floor((long + 180) / width)
    centre_long = -180 + (column + 0.5) * width
    return round(centre_lat, 5), round(centre_long, 5)


def region(config: Mapping[str, Any]) -> str | None:
    """The phone region that reads national numbers in the node's texts: its country's."""
    return phone_region(config["DEFAULT_COUNTRY_CODE"] or config["COUNTRY"])


def known_about(case: Case) -> list[str | None]:
    """What the node knows of the person behind a case, to take out of what it shows."""
    known: list[str | None] = []
    if case.citizen is not None:
        known += [case.citizen.name, case.citizen.email, case.citizen.phone]
    if case.organisation is not None:
        known += [case.organisation.email, case.organisation.phone]
    return known


def location(case: Case, shown: Disclosure) -> tuple[str | None, float | None, float | None]:
    """The address, latitude and longitude of a case as the reader may see them."""
    if shown.location is None:
        return case.address, case.lat, case.long
    if shown.location is LocationDetail.NONE:
        return None, None, None
    address = None
    if shown.location is LocationDetail.STREET:
        address = street_of(case.address, known=known_about(case))
    if case.lat is None or case.long is None:
        return address, None, None
    lat, long = coarse_point(case.lat, case.long, GRID_METRES[shown.location])
    return address, lat, long


def media_url(case: Case, shown: Disclosure, photo_url: str | None = None) -> str | None:
    """The photo's link, if the reader may see it; never one that names the person.

    `photo_url` is the node's own public thumbnail of a photo sent with the request, which
    comes first: its address is a random token and names no one.
    """
    if not shown.media:
        return None
    if photo_url:
        return photo_url
    if not case.media_url:
        return None
    if shown.redacted and mentions(case.media_url, known=known_about(case)):
        return None  # a link cannot be cut: photos.example.org/anna.rossi/... goes whole
    return case.media_url
