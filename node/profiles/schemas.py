"""Validated input for personal and organisation profiles."""

from typing import Annotated

import phonenumbers
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from federation.protocol.vocabulary import CITIZEN_CHANNELS, Channel

PROFILE_FIELDS = (
    "name",
    "email",
    "phone",
    "preferred_channel",
    "language",
    "consent_contact",
    "consent_profiling",
    "district",
    "birth_year",
)


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """A phone number in E.164 form (+393331234567); raises ValueError when it is not one."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CitizenData(BaseModel):
    """A personal profile as typed by a citizen or by staff on their behalf."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # First, so the phone validator sees it: the region of numbers typed without +.
    default_region: str | None = Field(default=None, exclude=True)
    name: Annotated[str, Field(max_length=200)] | None = None
    email: EmailStr | None = None
    phone: str | None = None
    preferred_channel: Channel = Channel.EMAIL
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    consent_contact: bool = True
    consent_profiling: bool = False
    district: Annotated[str, Field(max_length=100)] | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100)] | None = None

    @field_validator("name", "district", "phone", "email", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email", mode="after")
    @classmethod
    def _lower_email(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("preferred_channel", mode="after")
    @classmethod
    def _reaches_a_citizen(cls, value: Channel) -> Channel:
        if value not in CITIZEN_CHANNELS:
            raise ValueError(f"{value.value} is a channel of the city's staff, not of a citizen")
        return value

    @field_validator("phone", mode="after")
    @classmethod
    def _e164(cls, value: str | None, info) -> str | None:
        if value is None:
            return None
        return normalise_phone(value, info.data.get("default_region"))


class OrganisationData(BaseModel):
    """A business, SME or association profile."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Annotated[str, Field(pattern=r"^(business|sme|association)$")] = "sme"
    registration_number: Annotated[str, Field(max_length=64)] | None = None
    email: EmailStr | None = None
    phone: str | None = None
    district: str | None = None

    @field_validator("phone", mode="after")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value else None
