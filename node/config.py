"""The node's settings, each declared once: given values, then CARMEN_NODE_* variables, then the
instance's node.toml, then these defaults. `carmen node settings` lists them."""

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from federation.protocol.vocabulary import Channel
from runtime.celery_app import RetryPolicy
from runtime.settings import SECRET, InstanceSettings

INSTANCE_FILE = "node.toml"
MIB = 1024 * 1024


def _zone_name(value: str) -> str:
    """An IANA time zone's name, checked."""
    try:
        return ZoneInfo(value).key
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Rome") from None


class NodeSettings(InstanceSettings):
    """Every setting of a city node."""

    env_prefix = "CARMEN_NODE_"
    file_name = INSTANCE_FILE
    command = "carmen node settings"

    # The city
    city: str = Field(
        "Unnamed city", description="The city's name, as citizens and the hub see it."
    )
    country: str = Field("EU", description="Two-letter country code (Eurostat), e.g. IT.")
    population: int = Field(0, ge=0, description="Inhabitants, told to the hub at enrollment.")
    languages: list[str] = Field(["en", "it"], description="Languages offered to citizens.")
    default_language: str = Field("en", description="Language of a citizen who chose none.")
    timezone: Annotated[str, AfterValidator(_zone_name)] = Field(
        "Europe/Brussels", description="IANA time zone of the city's clocks."
    )
    districts: list[str] = Field([], description="The city's districts (citizens choose one).")
    default_country_code: str | None = Field(
        None, description="Region of phone numbers typed without +, e.g. IT."
    )
    tracking_prefix: str | None = Field(
        None, description="Prefix of tracking codes; default: the city's first two letters."
    )
    context: dict[str, float] = Field(
        {}, description="Context figures told to the hub (eu_cities.csv columns)."
    )
    population_shares: dict[str, float] | None = Field(
        None, description="Share of inhabitants per age band (16-24, 25-54, 55-74, 75+)."
    )
    channels: list[Channel] | None = Field(
        None, description="Channels new services from templates offer; none: all of them."
    )
    # Storage and tasks
    secret_key: str | None = Field(
        None,
        description="Signs sessions and forms (written by `carmen node init`).",
        json_schema_extra=SECRET,
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file node.db in the instance."
    )
    broker_url: str | None = Field(
        None, description="Celery broker, e.g. redis://host:6379/0; none: tasks run in-process."
    )
    task_queue: str = Field(
        "carmen-node", description="The node's Celery queue (nodes sharing a broker need one each)."
    )
    services_dir: Path | None = Field(
        None, description="Folder of installed services; default: services/ in the instance."
    )
    # The federation
    min_cell_count: int = Field(
        10, description="Not read: the threshold is the hub's k, told at enrollment."
    )
    dp_epsilon: float | None = Field(
        None, ge=0, description="Differential privacy budget per snapshot build; none or 0: off."
    )
    dp_max_events_per_case: int = Field(
        6, ge=1, description="Contribution bound of one case in one month (with dp_epsilon)."
    )
    sync_interval_seconds: int = Field(
        300, gt=0, description="How often beat builds and pushes snapshots to the hub."
    )
    release_grace_days: int = Field(
        5,
        ge=0,
        description="Days after a month ends before its snapshot is first sent, so that late "
        "requests land before release; 0: send months as they go, the open one too.",
    )
    protection_width: int | None = Field(
        None,
        ge=0,
        description="Narrowest interval a withheld count may keep given all published counts; "
        "none: the hub's k; 0: k alone, every revision sent (transport tests, never a pilot).",
    )
    # The web
    wtf_csrf_time_limit: int | None = Field(
        None, description="Seconds a form's CSRF token stays valid; none: the whole session."
    )
    session_cookie_samesite: str = Field("Lax", description="SameSite of the session cookie.")
    session_cookie_secure: bool | None = Field(
        None,
        description="Send the session cookie over HTTPS only; none: yes, unless public_url is "
        "on loopback (127.0.0.1, localhost).",
    )
    ratelimit_enabled: bool | None = Field(
        None, description="Abuse limits on public intake; none: on, except in testing apps."
    )
    ratelimit_storage_url: str | None = Field(
        None,
        description="Where limit counters live, shared by every worker: none is the broker's "
        "Redis when broker_url names one, else this process's memory; or memory://, redis://...",
    )
    ratelimits: dict[str, str] = Field(
        {}, description='Limits per key kind, e.g. {portal_address = "10/minute;60/hour"}.'
    )
    public_url: str | None = Field(
        None,
        description="The node's address as citizens reach it, for links in e-mails; "
        "default: http://127.0.0.1:8311.",
    )
    map_tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tiles ({z}/{x}/{y}); without them maps show points on a plain ground.",
    )
    map_tile_attribution: str = Field(
        "© OpenStreetMap contributors", description="The credit the tile provider asks for."
    )
    map_center: tuple[float, float] | None = Field(
        None, description="Where maps open, [latitude, longitude]; none: around the cases."
    )
    map_zoom: int = Field(13, ge=1, le=19, description="The zoom maps open at on map_center.")
    open311_jurisdiction: str | None = Field(
        None, description="Open311 jurisdiction_id; default: the city's name as a slug."
    )
    open311_contact: str | None = Field(
        None, description="Open311 discovery contact; default: '<city> city services'."
    )
    open311_key_service: str | None = Field(
        None, description="Open311 discovery: where developers ask for an API key."
    )
    open311_cors_origins: list[str] = Field(
        ["*"],
        description='Web origins whose pages may read the public Open311 GETs: ["*"] any, [] none, '
        'or e.g. ["https://map.city.example"].',
    )
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        strict=True,
        description="Reverse proxies in front of the node whose X-Forwarded-For, -Proto, -Host "
        "and -Port are believed; 0 believes none (anyone can send them).",
    )
    # SMS
    sms_auth_token: str | None = Field(
        None,
        description="The SMS gateway's token signing its webhooks; none: no SMS in.",
        json_schema_extra=SECRET,
    )
    sms_webhook_url: str | None = Field(
        None, description="The URL the gateway posts to, when a proxy changes it."
    )
    sms_gateway: Literal["log", "http"] = Field(
        "log", description="Outbound SMS: log only writes them to the log; http posts them."
    )
    sms_gateway_url: str | None = Field(None, description="Where the http gateway posts SMS.")
    sms_gateway_token: str | None = Field(
        None, description="Bearer token for the http SMS gateway.", json_schema_extra=SECRET
    )
    sms_gateway_timeout: float = Field(10, gt=0, description="Seconds to wait for the gateway.")
    sms_from: str | None = Field(None, description="Sender name or number of outbound SMS.")
    sms_dialogue_minutes: int = Field(
        60,
        gt=0,
        description="Minutes a question asked by SMS waits for its answer; later replies are "
        "read as new messages.",
    )
    # E-mail
    email_backend: Literal["log", "smtp"] = Field(
        "log", description="Outbound e-mail: log only writes them to the log; smtp sends them."
    )
    smtp_host: str = Field("localhost", description="SMTP server.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one.")
    smtp_password: str | None = Field(None, description="SMTP password.", json_schema_extra=SECRET)
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_timeout: float = Field(10, gt=0, description="Seconds to wait for the SMTP server.")
    mail_from: str = Field("no-reply@localhost", description="Sender of outbound e-mail.")
    email_webhook_token: str | None = Field(
        None,
        description="Bearer token of the inbound e-mail webhook; none: webhook off.",
        json_schema_extra=SECRET,
    )
    mail_max_bytes: int = Field(25 * MIB, gt=0, description="Largest inbound e-mail accepted.")
    attachment_max_bytes: int = Field(10 * MIB, gt=0, description="Largest attachment kept.")
    attachments_dir: Path | None = Field(
        None, description="Where attachments are kept; default: attachments/ in the instance."
    )
    quarantine_dir: Path | None = Field(
        None, description="Where unplaced mail is kept; default: quarantine/ in the instance."
    )
    mail_archive_dir: Path | None = Field(
        None,
        description="Where the raw message of every accepted e-mail is kept with its case; "
        "default: mail/ in the instance.",
    )
    mail_retention_days: int | None = Field(
        365,
        ge=0,
        description="Days a raw message is kept after its case closes (an automatic one in the "
        "quarantine: after it came); none keeps them for ever.",
    )
    # Photos
    photos_dir: Path | None = Field(
        None,
        description="Where photos sent with requests are kept; default: photos/ in the instance.",
    )
    photo_max_bytes: int = Field(10 * MIB, gt=0, description="Largest photo file accepted.")
    photo_max_pixels: int = Field(
        50_000_000,
        gt=0,
        description="Most pixels (width x height) a photo may have: a small file that would "
        "unpack to a huge image is refused.",
    )
    # Deliveries (notifications, alerts, reminders)
    background_sending: bool | None = Field(
        None,
        description="Without a broker, send on a thread after the response; none: when "
        "served (carmen node serve, gunicorn), not in commands.",
    )
    messaging_max_retries: int = Field(
        RetryPolicy.max_retries, ge=0, description="Attempts after the first one."
    )
    messaging_retry_backoff: int = Field(
        RetryPolicy.backoff, ge=1, description="Seconds the first retry waits at most; doubled."
    )
    messaging_retry_backoff_max: int = Field(
        RetryPolicy.backoff_max, ge=1, description="Longest wait between two attempts, in seconds."
    )

    @field_validator("sms_gateway", "email_backend", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("channels", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [c.strip() for c in value.split(",")] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _gateway_has_url(self) -> "NodeSettings":
        if self.sms_gateway == "http" and not self.sms_gateway_url:
            raise ValueError("sms_gateway = http needs sms_gateway_url")
        return self

    @model_validator(mode="after")
    def _instance_defaults(self) -> "NodeSettings":
        folder = self.instance_path
        self.database_url = self.database_url or f"sqlite:///{folder / 'node.db'}"
        self.services_dir = self.services_dir or folder / "services"
        self.attachments_dir = self.attachments_dir or folder / "attachments"
        self.quarantine_dir = self.quarantine_dir or folder / "quarantine"
        self.mail_archive_dir = self.mail_archive_dir or folder / "mail"
        self.photos_dir = self.photos_dir or folder / "photos"
        self.public_url = (self.public_url or "http://127.0.0.1:8311").rstrip("/")
        if not self.tracking_prefix:
            letters = [c for c in self.city.upper() if c.isascii() and c.isalpha()]
            self.tracking_prefix = "".join(letters[:2]) or "CA"
        return self
