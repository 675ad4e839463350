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


class ChannelFamily(StrEnum):
    """Whether the citizen served themself (digital) or was helped by staff (assisted)."""

    DIGITAL = "digital"
    ASSISTED = "assisted"


CHANNEL_FAMILY: dict[Channel, ChannelFamily] = {
    Channel.WEB: ChannelFamily.DIGITAL,
    Channel.APP: ChannelFamily.DIGITAL,
    Channel.SMS: ChannelFamily.DIGITAL,
    Channel.EMAIL: ChannelFamily.DIGITAL,
    Channel.PHONE: ChannelFamily.ASSISTED,
    Channel.COUNTER: ChannelFamily.ASSISTED,
}


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
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    PARTICIPATED = "participated"
