"""The service specification format: what a node needs to know to host a service.

A service lives in its own folder under the instance's `services/`, described by `service.toml`:

    code = "noise-report"          # unique on the node; letters, digits and dashes
    name = "Noise report"
    domain = "environment"         # environment | mobility | personal | democracy
    description = "Report noise from traffic, building sites or venues."
    department = "environment"     # department that works its cases, created when missing
    channels = ["web", "app", "sms", "email", "phone"]
    sla_hours = 72                 # time to resolve before the case is late
    sms_keyword = "NOISE"          # optional: SMS messages starting with it open a case here
    email_address = "noise@city.example"  # optional: mail to it opens a case here
    template = "issue-report"      # optional: federation-wide identity (set by templates)
    behaviour = "cases"            # what the node does with it: cases (the default), alerts,
                                   # bookings or consultations (node/behaviours.py lists them)

    [[attributes]]                 # Open311 attributes, asked on every channel that can
    code = "source"
    datatype = "singlevaluelist"   # string, number, datetime, text, singlevaluelist, multivaluelist
    description = "Where does the noise come from?"
    required = true
    values = [{ key = "traffic", name = "Traffic" }, { key = "works", name = "Building works" }]

    [[routing]]                    # optional: what an answer changes (one or more of these)
    attribute = "source"
    equals = "works"
    department = "building-control"  # another department works the case
    priority = "urgent"            # low | normal | high | urgent
    sla_hours = 4                  # shorter than the service's
    alert = true                   # a danger report: the department's staff on duty are told

    [i18n.it]                      # optional: the texts in another language; what is not
    name = "Rumore"                # given is shown as written above (node/texts.py's rule)
    description = "Segnala rumore da traffico, cantieri o locali."
    [i18n.it.attributes.source]
    description = "Da dove viene il rumore?"
    values = { traffic = "Traffico", works = "Cantiere" }

    [events]                       # optional: the service's own events -> common vocabulary
    resolved = "completed"

    [publish]                      # optional: what Open311 GET shows anyone without an API key
    requests = true                # false: no request of the service is listed or shown
    location = "street"            # none | area (about 1 km) | street (the street's name, and
                                   # coordinates on a grid of about 200 m)
    description = false            # the citizen's text, redacted (docs/open311.md)
    media = false                  # media_url: a photo may show faces, number plates, a home

Services whose behaviour keeps personal matters (bookings, consultations, alerts) publish
nothing per request whatever [publish] says: node/plugins.py, `Behaviour.publishes_requests`.
"""

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from federation.protocol.vocabulary import Channel, CommonEvent
from node.texts import Texts

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Domain(StrEnum):
    """The four application domains of the pilots."""

    ENVIRONMENT = "environment"
    MOBILITY = "mobility"
    PERSONAL = "personal"
    DEMOCRACY = "democracy"


class Datatype(StrEnum):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


class AttributeValue(BaseModel):
    """One choice of a list attribute."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class Attribute(BaseModel):
    """An Open311 attribute a request to the service may carry."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    datatype: Datatype
    description: str = Field(min_length=1, max_length=500)
    required: bool = False
    variable: bool = True
    order: int | None = None
    datatype_description: str = ""
    values: list[AttributeValue] = []

    @model_validator(mode="after")
    def _lists_have_values(self) -> "Attribute":
        is_list = self.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
        if is_list and not self.values:
            raise ValueError(f"attribute {self.code}: a {self.datatype} needs values")
        if not is_list and self.values:
            raise ValueError(f"attribute {self.code}: only list attributes take values")
        if self.required and not self.variable:
            # Open311: a variable=false attribute only informs the user; nobody answers it.
            raise ValueError(f"attribute {self.code}: required, but not variable")
        return self


class RoutingRule(BaseModel):
    """What a given attribute answer changes: the department, the priority, a shorter SLA, and
    whether the department's staff on duty are alerted at once (a danger report)."""

    model_config = ConfigDict(extra="forbid")

    attribute: str
    equals: str
    department: Annotated[str, Field(pattern=SLUG)] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    sla_hours: int | None = Field(None, gt=0, le=24 * 365)
    alert: bool = False

    @model_validator(mode="after")
    def _changes_something(self) -> "RoutingRule":
        if not (self.department or self.priority or self.sla_hours or self.alert):
            raise ValueError(
                f"routing rule on {self.attribute} = {self.equals!r} changes nothing: give a "
                "department, a priority, sla_hours or alert = true"
            )
        return self


class LocationDetail(StrEnum):
    """How precisely Open311 GET shows a request's location to anyone."""

    NONE = "none"  # neither address nor coordinates
    AREA = "area"  # coordinates on a grid of about 1 km, no address
    STREET = "street"  # the street's name without house number, coordinates on about 200 m


class Publication(BaseModel):
    """What Open311 GET may show anyone, without an API key, of each request to the service.

    The default publishes the request's service, status and dates, the street and coordinates
    coarsened to it, and no free text or media.
    """

    model_config = ConfigDict(extra="forbid")

    requests: bool = True
    location: LocationDetail = LocationDetail.STREET
    description: bool = False
    media: bool = False


class AttributeTexts(BaseModel):
    """An attribute's question and choices in another language."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, min_length=1, max_length=500)
    values: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}


class SpecTexts(BaseModel):
    """A service's own texts in another language; what is missing is shown as written."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    attributes: dict[str, AttributeTexts] = {}


LANGUAGE_CODE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"

CASES = "cases"
# Service folders generated before service.toml named its behaviour: the template said it.
BEHAVIOUR_OF_TEMPLATE = {
    "alert-subscription": "alerts",
    "appointment-booking": "bookings",
    "consultation": "consultations",
}

DEFAULT_EVENTS: dict[str, CommonEvent] = {
    "submitted": CommonEvent.SUBMITTED,
    "acknowledged": CommonEvent.ACKNOWLEDGED,
    "resolved": CommonEvent.COMPLETED,
    "rejected": CommonEvent.REJECTED,
    "message_delivered": CommonEvent.MESSAGE_DELIVERED,
    "message_failed": CommonEvent.MESSAGE_FAILED,
    "feedback": CommonEvent.FEEDBACK,
}


class ServiceSpec(BaseModel):
    """A validated service specification."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=SLUG, max_length=64)]
    name: str = Field(min_length=1, max_length=200)
    domain: Domain
    description: str = ""
    department: Annotated[str, Field(pattern=SLUG, max_length=64)]
    channels: list[Channel] = Field(min_length=1)
    sla_hours: int = Field(gt=0, le=24 * 365)
    sms_keyword: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,16}$")] | None = None
    email_address: str | None = None
    template: str | None = None
    behaviour: Annotated[str, Field(pattern=SLUG, max_length=64)] = CASES
    attributes: list[Attribute] = []
    routing: list[RoutingRule] = []
    events: dict[str, CommonEvent] = {}
    publish: Publication = Publication()
    i18n: dict[Annotated[str, Field(pattern=LANGUAGE_CODE)], SpecTexts] = {}

    @model_validator(mode="before")
    @classmethod
    def _behaviour_from_template(cls, data: object) -> object:
        if isinstance(data, dict) and "behaviour" not in data:
            template = data.get("template")
            if isinstance(template, str) and template in BEHAVIOUR_OF_TEMPLATE:
                return {**data, "behaviour": BEHAVIOUR_OF_TEMPLATE[template]}
        return data

    @field_validator("sms_keyword", mode="before")
    @classmethod
    def _upper_keyword(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> "ServiceSpec":
        codes = [a.code for a in self.attributes]
        if len(codes) != len(set(codes)):
            raise ValueError("attribute codes must be unique")
        for rule in self.routing:
            if rule.attribute not in codes:
                raise ValueError(f"routing rule names unknown attribute {rule.attribute!r}")
            if rule.sla_hours is not None and rule.sla_hours >= self.sla_hours:
                raise ValueError(
                    f"routing rule on {rule.attribute}: sla_hours {rule.sla_hours} must be "
                    f"shorter than the service's {self.sla_hours}"
                )
        if self.sms_keyword and Channel.SMS not in self.channels:
            raise ValueError("an SMS keyword needs the sms channel")
        choices = {a.code: {v.key for v in a.values} for a in self.attributes}
        for language, texts in self.i18n.items():
            for code, attribute in texts.attributes.items():
                if code not in choices:
                    raise ValueError(f"i18n.{language} names unknown attribute {code!r}")
                unknown = sorted(set(attribute.values) - choices[code])
                if unknown:
                    raise ValueError(f"i18n.{language}.attributes.{code}: no choice {unknown[0]!r}")
        return self

    def in_language(self, language: str | None) -> "ServiceSpec":
        """The spec with its name, description, questions and choices in a language, each text
        the service does not give in it as written (the one fallback rule of node/texts.py)."""
        if not language or language not in self.i18n:
            return self
        written = {
            "name": self.name,
            "description": self.description,
            "attributes": {
                a.code: {"description": a.description, "values": {v.key: v.name for v in a.values}}
                for a in self.attributes
            },
        }
        tables = {code: t.model_dump(exclude_none=True) for code, t in self.i18n.items()}
        # The spec as written is the service's default language: no other table comes before it.
        texts = Texts(tables=tables, default_language=language, english=written).overlay(language)
        attributes = [
            a.model_copy(
                update={
                    "description": texts["attributes"][a.code]["description"],
                    "values": [
                        v.model_copy(update={"name": texts["attributes"][a.code]["values"][v.key]})
                        for v in a.values
                    ],
                }
            )
            for a in self.attributes
        ]
        return self.model_copy(
            update={
                "name": texts["name"],
                "description": texts["description"],
                "attributes": attributes,
            }
        )

    def choice_names(self, code: str) -> dict[str, str]:
        """The choices of one of the service's questions, key to name; empty without it."""
        for attribute in self.attributes:
            if attribute.code == code:
                return {value.key: value.name for value in attribute.values}
        return {}

    def question(self, code: str) -> str | None:
        """One of the service's questions as it asks it, or None without it."""
        return next((a.description for a in self.attributes if a.code == code), None)

    @property
    def event_map(self) -> dict[str, CommonEvent]:
        """Local event kinds mapped onto the common vocabulary, defaults overlaid by the spec."""
        return {**DEFAULT_EVENTS, **self.events}

    @property
    def departments(self) -> list[str]:
        """Every department the service's cases can go to: its own, then its rules'."""
        named = [self.department, *(rule.department for rule in self.routing if rule.department)]
        return list(dict.fromkeys(named))

    @property
    def identity(self) -> str:
        """The federation-wide identity: the template it came from, else its own code."""
        return self.template or self.code


def is_slug(value: str) -> bool:
    """Whether a value is a lower-case dash-separated slug."""
    return re.fullmatch(SLUG, value) is not None
