"""Alert subscriptions and alerts: who wants to hear what, where and how; who is told, and when.

Functions here take a session and never commit. Deliveries go through the messaging adapters
(node/messaging): one AlertDelivery row per subscriber and channel, created when staff publish,
tried by `deliver` after the commit and again on a retry; quiet hours and the daily cap hold a
delivery (`not_before`) instead of dropping it.
"""

import enum
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from federation.protocol.vocabulary import Channel
from node.alerts.models import Alert, AlertDelivery, AlertSubscription
from node.alerts.schemas import BEHAVIOUR, WHOLE_CITY, AlertSettings, read_settings
from node.cases.models import EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.database import utcnow
from node.errors import InvalidInput
from node.messaging.adapters import Adapters, DeliveryError
from node.messaging.models import DeliveryStatus
from node.messaging.service import PORTAL, _unreachable_by
from node.profiles.models import Citizen, CitizenSegment, SegmentKind
from node.services.models import Service
from node.services.service import (
    active_of_behaviour,
    behaves_as,
    get_of_behaviour,
    service_folder,
)

SMS_LENGTH = 320  # two concatenated SMS parts, as for case notices
MAX_TEXT = 1000
STOP_WORDS = frozenset({"STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "BASTA"})
WHOLE_CITY_WORDS = frozenset({"city", "all", "everywhere", "tutto", "tutta", "citta"})
# A number that sent STOP stays opted out until it sends START (node/intake/sms): subscribing
# by SMS does not silently undo that, it says how.
OPTED_OUT = {
    "en": "You opted out of SMS from {city}: send START first, then {keyword} again.",
    "it": "Ha disattivato gli SMS di {city}: invii prima START, poi di nuovo {keyword}.",
}


class Outcome(enum.Enum):
    """What the task should do after an attempt."""

    DONE = "done"
    RETRY = "retry"
    DEFERRED = "deferred"  # held by quiet hours or the daily cap until `not_before`


def is_alert_service(service: Service) -> bool:
    """Whether a catalogue service's behaviour is alerts."""
    return behaves_as(service, BEHAVIOUR)


def alert_services(*, db_session: Session) -> list[Service]:
    """The active alert services, by name."""
    return active_of_behaviour(db_session=db_session, behaviour=BEHAVIOUR)


def get_alert_service(*, db_session: Session, code: str) -> Service:
    """One active alert service by code."""
    return get_of_behaviour(db_session=db_session, code=code, behaviour=BEHAVIOUR)


def settings_of(*, services_dir: Path, service_code: str) -> AlertSettings:
    """The settings of an installed alert service, found by its code in the services folder."""
    return read_settings(service_folder(services_dir=services_dir, code=service_code))


# --- subscriptions ------------------------------------------------------------------------------


def _checked_topics(settings: AlertSettings, topics: Iterable[str]) -> list[str]:
    chosen = [t.strip() for t in topics if t and t.strip()]
    if not chosen:
        raise InvalidInput("choose at least one topic", {"topics": "choose at least one topic"})
    unknown = [t for t in chosen if t not in settings.topics]
    if unknown:
        raise InvalidInput(
            f"unknown topic {', '.join(unknown)}; known: {', '.join(settings.topics)}",
            {"topics": f"unknown topic {', '.join(unknown)}"},
        )
    return list(dict.fromkeys(chosen))


def _checked_areas(settings: AlertSettings, areas: Iterable[str], *, default: str) -> list[str]:
    chosen = [a.strip() for a in areas if a and a.strip()] or [default]
    unknown = [a for a in chosen if a not in settings.area_keys]
    if unknown:
        raise InvalidInput(
            f"unknown area {', '.join(unknown)}; known: {', '.join(settings.area_keys)}",
            {"areas": f"unknown area {', '.join(unknown)}"},
        )
    # The whole city covers every area, so it stands alone.
    return [WHOLE_CITY] if WHOLE_CITY in chosen else list(dict.fromkeys(chosen))


def _reach_problem(citizen: Citizen, channel: str) -> str | None:
    """Why alerts could never reach the citizen on the channel (the contact is missing)."""
    if channel == Channel.SMS.value and not citizen.phone:
        return "alerts by SMS need a phone number in your profile"
    if channel == Channel.EMAIL.value and not citizen.email:
        return "alerts by e-mail need an e-mail address in your profile"
    if channel == Channel.APP.value and not citizen.password_hash:
        return "alerts in the app and portal need an account"
    return None


def subscribe(
    *,
    db_session: Session,
    service: Service,
    settings: AlertSettings,
    citizen: Citizen,
    topics: Iterable[str],
    areas: Iterable[str] = (),
    channel: str,
    via: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> AlertSubscription:
    """Subscribe a citizen to topics in areas on a delivery channel; `via` is how they asked.

    Subscribing again on the same channel adds the topics and areas to what they had.
    """
    chosen_topics = _checked_topics(settings, topics)
    chosen_areas = _checked_areas(settings, areas, default=settings.default_area)
    if channel not in settings.delivery_channels:
        raise InvalidInput(
            f"alerts go by {', '.join(settings.delivery_channels)}, not {channel!r}",
            {"channel": "not a delivery channel of this service"},
        )
    problem = _reach_problem(citizen, channel)
    if problem:
        raise InvalidInput(problem, {"channel": problem})
    now = now or utcnow()
    subscription = db_session.scalar(
        sa.select(AlertSubscription).where(
            AlertSubscription.service_code == service.code,
            AlertSubscription.citizen_id == citizen.id,
            AlertSubscription.channel == channel,
        )
    )
    if subscription is None:
        subscription = AlertSubscription(
            service_code=service.code,
            citizen_id=citizen.id,
            channel=channel,
            topics=chosen_topics,
            areas=chosen_areas,
            active=True,
            created_at=now,
            updated_at=now,
        )
        db_session.add(subscription)
    else:
        topics_now = chosen_topics if not subscription.active else subscription.topics
        areas_now = chosen_areas if not subscription.active else subscription.areas
        subscription.topics = list(dict.fromkeys([*topics_now, *chosen_topics]))
        subscription.areas = _checked_areas(settings, [*areas_now, *chosen_areas], default="")
        subscription.active, subscription.ended_at, subscription.updated_at = True, None, now
    record(
        db_session=db_session,
        kind=EventKind.SUBSCRIBED,
        actor=actor or Actor.citizen(),
        citizen_id=citizen.id,
        service_code=service.code,
        channel=via,
        at=now,
        data={"delivery": channel, "topics": chosen_topics, "areas": chosen_areas},
    )
    db_session.flush()
    return subscription


def unsubscribe(
    *,
    db_session: Session,
    service: Service,
    citizen: Citizen,
    channel: str | None = None,
    via: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> int:
    """End the citizen's subscriptions to the service (on one delivery channel, or all of them).

    Returns how many ended; nothing subscribed is not an error (STOP twice is still STOP).
    """
    now = now or utcnow()
    query = sa.select(AlertSubscription).where(
        AlertSubscription.service_code == service.code,
        AlertSubscription.citizen_id == citizen.id,
        AlertSubscription.active,
    )
    if channel is not None:
        query = query.where(AlertSubscription.channel == channel)
    ended = list(db_session.scalars(query))
    for subscription in ended:
        subscription.active, subscription.ended_at, subscription.updated_at = False, now, now
        record(
            db_session=db_session,
            kind=EventKind.UNSUBSCRIBED,
            actor=actor or Actor.citizen(),
            citizen_id=citizen.id,
            service_code=service.code,
            channel=via,
            at=now,
            data={"delivery": subscription.channel},
        )
    db_session.flush()
    return len(ended)


def subscriptions_of(
    *, db_session: Session, service_code: str, citizen_id: int
) -> list[AlertSubscription]:
    """A citizen's active subscriptions to one service, by delivery channel."""
    query = (
        sa.select(AlertSubscription)
        .where(
            AlertSubscription.service_code == service_code,
            AlertSubscription.citizen_id == citizen_id,
            AlertSubscription.active,
        )
        .order_by(AlertSubscription.channel)
    )
    return list(db_session.scalars(query))


# --- SMS ----------------------------------------------------------------------------------------


def handle_sms(
    *,
    db_session: Session,
    service: Service,
    settings: AlertSettings,
    text: str,
    citizen: Citizen | None,
    citizen_of,
    language: str,
    city: str,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Act on `<KEYWORD> <topic> [<area>]` or `<KEYWORD> STOP`; returns (reply, outcome).

    Anything not understood gets the service's help and changes nothing: no profile, no
    subscription.
    """
    words = text.split()
    keyword = service.sms_keyword or ""
    help_text = settings.say("sms_help", language, keyword=keyword)
    if words and words[0].upper().strip(".!") in STOP_WORDS:
        if citizen is not None:
            unsubscribe(
                db_session=db_session,
                service=service,
                citizen=citizen,
                channel=Channel.SMS.value,
                via=Channel.SMS.value,
                now=now,
            )
        return settings.say("unsubscribed", language, city=city), "unsubscribed"
    area_by_word = {area.key: area.key for area in settings.areas}
    area_by_word |= {area.name.lower(): area.key for area in settings.areas}
    topics: list[str] = []
    areas: list[str] = []
    for word in words:
        lowered = word.lower().strip(",.;")
        if lowered in settings.topics:
            topics.append(lowered)
        elif lowered in area_by_word:
            areas.append(area_by_word[lowered])
        elif lowered in WHOLE_CITY_WORDS:
            areas.append(WHOLE_CITY)
        else:
            return help_text, "help"
    if not topics:
        return help_text, "help"
    if citizen is not None and citizen.sms_opt_out:
        reply = OPTED_OUT.get(language, OPTED_OUT["en"]).format(city=city, keyword=keyword)
        return reply, "opted_out"
    subscriber = citizen_of()
    try:
        subscription = subscribe(
            db_session=db_session,
            service=service,
            settings=settings,
            citizen=subscriber,
            topics=topics,
            areas=areas,
            channel=Channel.SMS.value,
            via=Channel.SMS.value,
            now=now,
        )
    except InvalidInput:
        return help_text, "help"
    reply = settings.say(
        "subscribed",
        language,
        topics=", ".join(settings.topic_name(t, language) for t in subscription.topics),
        area=", ".join(settings.area_name(a, language) for a in subscription.areas),
        channel="SMS",
        city=city,
    )
    return reply, "subscribed"


# --- publishing ---------------------------------------------------------------------------------


def _segment_matches(citizen: Citizen, kind: SegmentKind, value: str) -> bool:
    segments: list[CitizenSegment] = citizen.segments
    return any(s.kind is kind and s.value == value for s in segments)


def publish(
    *,
    db_session: Session,
    service: Service,
    settings: AlertSettings,
    topic: str,
    areas: Iterable[str],
    text: str,
    age_band: str | None = None,
    usage: str | None = None,
    urgent: bool = False,
    actor: Actor,
    now: datetime | None = None,
) -> Alert:
    """Publish an alert and create one pending delivery per matching subscriber and channel.

    A subscriber matches when the topic is theirs, their areas and the alert's meet (the whole
    city meets every area), and they fall in the group profile given, if any.
    """
    now = now or utcnow()
    chosen_topic = _checked_topics(settings, [topic])
    chosen_areas = _checked_areas(settings, areas, default=WHOLE_CITY)
    body = (text or "").strip()
    if not body:
        raise InvalidInput("the alert needs a text", {"text": "the alert needs a text"})
    if len(body) > MAX_TEXT:
        too_long = f"the text is longer than {MAX_TEXT} characters"
        raise InvalidInput(too_long, {"text": too_long})
    profile: dict[str, str] = {}
    if age_band:
        if "age_band" not in settings.profiles or age_band not in settings.age_bands:
            raise InvalidInput(
                f"this service cannot target the age band {age_band!r}",
                {"age_band": "not a group profile of this service"},
            )
        profile["age_band"] = age_band
    if usage:
        if "usage" not in settings.profiles:
            raise InvalidInput(
                "this service cannot target usage segments",
                {"usage": "not a group profile of this service"},
            )
        profile["usage"] = usage.strip()
    alert = Alert(
        service_code=service.code,
        topic=chosen_topic[0],
        areas=chosen_areas,
        profile=profile,
        text=body,
        urgent=urgent,
        published_by_id=actor.staff.id if actor.staff else None,
        published_at=now,
    )
    db_session.add(alert)
    db_session.flush()
    recipients = 0
    for subscription in _matching(db_session, alert):
        db_session.add(
            AlertDelivery(
                alert_id=alert.id,
                citizen_id=subscription.citizen_id,
                channel=subscription.channel,
                status=DeliveryStatus.PENDING,
                created_at=now,
            )
        )
        recipients += 1
    record(
        db_session=db_session,
        kind=EventKind.ALERT_PUBLISHED,
        actor=actor,
        service_code=service.code,
        at=now,
        data={
            "alert": alert.id,
            "topic": alert.topic,
            "areas": chosen_areas,
            "profile": profile,
            "urgent": urgent,
            "deliveries": recipients,
        },
    )
    db_session.flush()
    return alert


def _matching(db_session: Session, alert: Alert) -> list[AlertSubscription]:
    subscriptions = db_session.scalars(
        sa.select(AlertSubscription)
        .where(AlertSubscription.service_code == alert.service_code, AlertSubscription.active)
        .order_by(AlertSubscription.id)
    )
    matched = []
    alert_areas = set(alert.areas)
    for subscription in subscriptions:
        if alert.topic not in subscription.topics or subscription.citizen.erased_at is not None:
            continue
        wanted = set(subscription.areas)
        if WHOLE_CITY not in alert_areas and WHOLE_CITY not in wanted and not wanted & alert_areas:
            continue
        citizen = subscription.citizen
        if "age_band" in alert.profile and not _segment_matches(
            citizen, SegmentKind.AGE_BAND, alert.profile["age_band"]
        ):
            continue
        if "usage" in alert.profile and not _segment_matches(
            citizen, SegmentKind.USAGE, alert.profile["usage"]
        ):
            continue
        matched.append(subscription)
    return matched


def recent_alerts(*, db_session: Session, service_code: str, limit: int = 20) -> list[Alert]:
    """The service's latest alerts, newest first."""
    query = (
        sa.select(Alert)
        .where(Alert.service_code == service_code)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return list(db_session.scalars(query))


def delivery_counts(*, db_session: Session, alert_id: int) -> dict[str, int]:
    """How many of an alert's deliveries are pending, sent, failed or skipped."""
    rows = db_session.execute(
        sa.select(AlertDelivery.status, sa.func.count())
        .where(AlertDelivery.alert_id == alert_id)
        .group_by(AlertDelivery.status)
    )
    counts = {status.value: 0 for status in DeliveryStatus}
    counts.update({status.value: number for status, number in rows})
    return counts


# --- delivering ---------------------------------------------------------------------------------


def pending_deliveries(*, db_session: Session, alert_id: int) -> list[int]:
    """Ids of an alert's deliveries still to try."""
    query = sa.select(AlertDelivery.id).where(
        AlertDelivery.alert_id == alert_id, AlertDelivery.status == DeliveryStatus.PENDING
    )
    return list(db_session.scalars(query.order_by(AlertDelivery.id)))


def due_deliveries(
    *,
    db_session: Session,
    now: datetime | None = None,
    lost_after: timedelta = timedelta(minutes=2),
) -> list[int]:
    """Ids of pending deliveries whose time has come: held ones at the end of their hold, and
    untried ones whose queueing was lost (older than `lost_after`)."""
    now = now or utcnow()
    query = sa.select(AlertDelivery.id).where(
        AlertDelivery.status == DeliveryStatus.PENDING,
        sa.or_(
            AlertDelivery.not_before <= now,
            sa.and_(
                AlertDelivery.not_before.is_(None), AlertDelivery.created_at <= now - lost_after
            ),
        ),
    )
    return list(db_session.scalars(query.order_by(AlertDelivery.id)))


def _next_local(local: datetime, at) -> datetime:
    """The next local datetime at wall-clock `at` after `local`."""
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=at.hour, minute=at.minute)
    return candidate


def hold_until(
    *,
    db_session: Session,
    delivery: AlertDelivery,
    settings: AlertSettings,
    zone: ZoneInfo,
    now: datetime,
) -> datetime | None:
    """When a delivery may go at the earliest, if not now: after the quiet hours, or tomorrow
    when the subscriber already had the day's cap of alerts from this service."""
    local = now.astimezone(zone)
    window = settings.quiet_window()
    if window is not None and not delivery.alert.urgent:
        start, end = window
        clock = local.time()
        quiet = start <= clock < end if start < end else clock >= start or clock < end
        if quiet:
            return _next_local(local, end).astimezone(UTC)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # The cap counts alerts, not messages: one alert on two channels is one, and the other
    # channel of an alert already told today is never held by it.
    sent_today = db_session.scalar(
        sa.select(sa.func.count(sa.distinct(AlertDelivery.alert_id)))
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(
            Alert.service_code == delivery.alert.service_code,
            AlertDelivery.citizen_id == delivery.citizen_id,
            AlertDelivery.alert_id != delivery.alert_id,
            AlertDelivery.status == DeliveryStatus.SENT,
            AlertDelivery.sent_at >= day_start.astimezone(UTC),
        )
    )
    if sent_today >= settings.max_per_day and not delivery.alert.urgent:
        # Wall-clock arithmetic: the next local midnight, whatever a DST change does.
        return (day_start + timedelta(days=1)).astimezone(UTC)
    return None


def compose(
    *, delivery: AlertDelivery, settings: AlertSettings, language: str, city: str
) -> tuple[str, str]:
    """The subject and text of an alert for one subscriber, in their language."""
    alert = delivery.alert
    topic = settings.topic_name(alert.topic, language)
    area = ", ".join(settings.area_name(a, language) for a in alert.areas)
    body = settings.say("alert", language, city=city, topic=topic, area=area, text=alert.text)
    if delivery.channel == Channel.SMS.value and len(body) > SMS_LENGTH:
        body = body[: SMS_LENGTH - 1] + "…"
    return f"{city}: {topic} ({area})", body


def deliver(
    *,
    db_session: Session,
    delivery_id: int,
    attempt: int,
    final: bool,
    adapters: Adapters,
    settings: AlertSettings,
    city: str,
    zone: ZoneInfo,
    retry_delay: float = 0.0,
    unsubscribe_url: Callable[[int], str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Make one attempt at one delivery; the caller commits.

    A delivery already sent, failed or skipped is left alone, so a duplicated task never sends
    twice. A subscriber who unsubscribed, withdrew consent or sent STOP since the alert was
    published is skipped. An e-mail carries the link that ends the subscription, in its text and
    as List-Unsubscribe (with List-Unsubscribe-Post, for one-click unsubscribing, RFC 8058).
    """
    query = sa.select(AlertDelivery).where(AlertDelivery.id == delivery_id)
    # Locked and re-read: two workers on one delivery send it once.
    delivery = db_session.scalar(
        query.with_for_update(of=AlertDelivery).execution_options(populate_existing=True)
    )
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        return Outcome.DONE
    now = now or utcnow()
    citizen = delivery.citizen
    still_subscribed = db_session.scalar(
        sa.select(AlertSubscription.id).where(
            AlertSubscription.service_code == delivery.alert.service_code,
            AlertSubscription.citizen_id == delivery.citizen_id,
            AlertSubscription.channel == delivery.channel,
            AlertSubscription.active,
        )
    )
    reach = PORTAL if delivery.channel == Channel.APP.value else delivery.channel
    reason = "unsubscribed" if still_subscribed is None else _unreachable_by(citizen, reach)
    if reason:
        delivery.status, delivery.skip_reason = DeliveryStatus.SKIPPED, reason
        db_session.flush()
        return Outcome.DONE
    held = hold_until(
        db_session=db_session, delivery=delivery, settings=settings, zone=zone, now=now
    )
    if held is not None:
        delivery.not_before = held
        db_session.flush()
        return Outcome.DEFERRED
    language = citizen.language or settings.default_language
    subject, delivery.body = compose(
        delivery=delivery, settings=settings, language=language, city=city
    )
    delivery.attempts = attempt
    data = {"alert": delivery.alert_id, "attempt": attempt, "delivery": delivery.id}
    try:
        if delivery.channel == Channel.EMAIL.value:
            headers: dict[str, str] = {}
            body = delivery.body
            if unsubscribe_url is not None:
                link = unsubscribe_url(still_subscribed)
                body += "\n\n" + settings.say("unsubscribe", language, link=link)
                headers = {
                    "List-Unsubscribe": f"<{link}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                }
            adapters.email.send(
                to=citizen.email, subject=subject, body=body, language=language, headers=headers
            )
            adapter = adapters.email.name
        elif delivery.channel == Channel.SMS.value:
            adapters.sms.send(to=citizen.phone, body=delivery.body)
            adapter = adapters.sms.name
        else:
            adapter = PORTAL  # the row is the message: the citizen reads it in the portal
    except DeliveryError as exc:
        final = final or exc.permanent
        delivery.last_error = str(exc)[:500]
        if final:
            delivery.status = DeliveryStatus.FAILED
        else:
            # Held until the retry is due, so the catch-up sweep does not try it early.
            delivery.not_before = now + timedelta(seconds=retry_delay)
        _delivery_event(db_session, delivery, EventKind.ALERT_FAILED, now, data | {"final": final})
        db_session.flush()
        return Outcome.DONE if final else Outcome.RETRY
    delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, now, None
    _delivery_event(
        db_session, delivery, EventKind.ALERT_DELIVERED, now, data | {"adapter": adapter}
    )
    db_session.flush()
    return Outcome.DONE


def _delivery_event(
    db_session: Session, delivery: AlertDelivery, kind: EventKind, now: datetime, data: dict
) -> None:
    record(
        db_session=db_session,
        kind=kind,
        actor=Actor.system(),
        citizen_id=delivery.citizen_id,
        service_code=delivery.alert.service_code,
        channel=delivery.channel,
        at=now,
        data=data,
    )


UNSUBSCRIBE_SALT = "carmen-alerts-unsubscribe"


def unsubscribe_token(*, secret: str, subscription_id: int) -> str:
    """A token naming one subscription, signed with the node's secret key; it does not expire,
    since an old alert's link must still work."""
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps(subscription_id)


def subscription_of_token(
    *, db_session: Session, secret: str, token: str
) -> AlertSubscription | None:
    """The subscription an unsubscribe token names, or None for a forged or broken token."""
    try:
        subscription_id = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(subscription_id, int):
        return None
    return db_session.get(AlertSubscription, subscription_id)


def alerts_received(
    *, db_session: Session, service_code: str, citizen_id: int, limit: int = 20
) -> list[AlertDelivery]:
    """The alerts a citizen got in the portal (the app channel), newest first."""
    query = (
        sa.select(AlertDelivery)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(
            Alert.service_code == service_code,
            AlertDelivery.citizen_id == citizen_id,
            AlertDelivery.channel == Channel.APP.value,
            AlertDelivery.status == DeliveryStatus.SENT,
        )
        .order_by(AlertDelivery.id.desc())
        .limit(limit)
    )
    return list(db_session.scalars(query))


def end_subscriptions(*, db_session: Session, citizen_id: int) -> None:
    """An erased citizen hears no more alerts: subscriptions end, deliveries lose their texts."""
    now = utcnow()
    db_session.execute(
        sa.update(AlertSubscription)
        .where(AlertSubscription.citizen_id == citizen_id, AlertSubscription.active)
        .values(active=False, ended_at=now, updated_at=now)
    )
    db_session.execute(
        sa.update(AlertDelivery)
        .where(AlertDelivery.citizen_id == citizen_id)
        .values(body="", last_error=None)
    )


def export_subscriptions(*, db_session: Session, citizen_id: int, into: dict) -> None:
    """A citizen's alert subscriptions, in the export of their data."""
    query = sa.select(AlertSubscription).where(AlertSubscription.citizen_id == citizen_id)
    into["alert_subscriptions"] = [
        {
            "service": s.service_code,
            "channel": s.channel,
            "topics": s.topics,
            "areas": s.areas,
            "active": s.active,
            "created_at": s.created_at.isoformat(),
        }
        for s in db_session.scalars(query.order_by(AlertSubscription.id))
    ]
