"""The federation's shared words: channels, age-band segments and the common event vocabulary."""

from enum import StrEnum


class Channel(StrEnum):
    """How a citizen or business reached the city."""

    WEB = "web"  # the city's web portal, or a web client of the Open311 API
    APP = "app"  # a mobile app over the Open311 API
    SMS = "sms"
    EMAIL = "email"
    PHONE = "phone"  # the call centre, an agent acting for the caller
    COUNTER = "counter"  # in person at a city office, entered by staff
    # Raised by the city's own staff (an inspector's report, a crew's app): no citizen asked.
    STAFF = "staff"


class ChannelFamily(StrEnum):
    """Whether the citizen served themself (digital), was helped by staff (assisted), or no
    citizen asked at all (internal)."""

    DIGITAL = "digital"
    ASSISTED = "assisted"
    INTERNAL = "internal"


CHANNEL_FAMILY: dict[Channel, ChannelFamily] = {
    Channel.WEB: ChannelFamily.DIGITAL,
    Channel.APP: ChannelFamily.DIGITAL,
    Channel.SMS: ChannelFamily.DIGITAL,
    Channel.EMAIL: ChannelFamily.DIGITAL,
    Channel.PHONE: ChannelFamily.ASSISTED,
    Channel.COUNTER: ChannelFamily.ASSISTED,
    Channel.STAFF: ChannelFamily.INTERNAL,
}
# The channels a citizen can reach the city by: what a node offers and a citizen may prefer.
CITIZEN_CHANNELS: tuple[Channel, ...] = tuple(
    c for c in Channel if CHANNEL_FAMILY[c] is not ChannelFamily.INTERNAL
)


class AgeBand(StrEnum):
    """The federation's segments: Eurostat's age bands for internet use, plus unknown."""

    A16_24 = "16-24"
    A25_54 = "25-54"
    A55_74 = "55-74"
    A75_PLUS = "75+"
    UNKNOWN = "unknown"


def age_band(age: int | None) -> AgeBand:
    """Return the federation age band for an age in years (under 16 and missing are unknown)."""
    if age is None or age < 16:
        return AgeBand.UNKNOWN
    if age <= 24:
        return AgeBand.A16_24
    if age <= 54:
        return AgeBand.A25_54
    if age <= 74:
        return AgeBand.A55_74
    return AgeBand.A75_PLUS


class CommonEvent(StrEnum):
    """The event types every service of every city maps its own events onto."""

    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    REJECTED = "rejected"
    MESSAGE_DELIVERED = "message_delivered"
    MESSAGE_FAILED = "message_failed"
    FEEDBACK = "feedback"  # carries a satisfaction score from 1 to 5
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"  # a booking moved to another time or place
    CANCELLED = "cancelled"  # a booking called off before its time
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    PARTICIPATED = "participated"


# Fixed histogram buckets, so that histograms from every node merge by adding counts.
# Durations are in hours; each bucket counts the cases with upper[i-1] < duration <= upper[i],
# and the last bucket ("gt_<last>") counts those above the last bound.
DURATION_BUCKET_UPPER_HOURS: tuple[int, ...] = (1, 4, 8, 24, 48, 72, 168, 336, 720)
SATISFACTION_SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)


def duration_bucket_names(prefix: str) -> list[str]:
    """Measure names of a duration histogram, e.g. time_to_complete_h_le_1 ... _gt_720."""
    names = [f"{prefix}_h_le_{upper}" for upper in DURATION_BUCKET_UPPER_HOURS]
    return [*names, f"{prefix}_h_gt_{DURATION_BUCKET_UPPER_HOURS[-1]}"]


def duration_bucket_index(hours: float) -> int:
    """Index of the duration bucket that holds a duration in hours."""
    for index, upper in enumerate(DURATION_BUCKET_UPPER_HOURS):
        if hours <= upper:
            return index
    return len(DURATION_BUCKET_UPPER_HOURS)


# Measures of the federation's export tables (observations.csv), shared by hub and evaluation.
MEASURES_CORE = (
    "citizens",  # distinct citizens who used the service in the period
    "submitted",
    "acknowledged",
    "completed",
    "completed_within_sla",
    "rejected",
    "satisfaction_sum",
    "satisfaction_count",
)
TIME_TO_ACKNOWLEDGE = "time_to_acknowledge"
TIME_TO_COMPLETE = "time_to_complete"
