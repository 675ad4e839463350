"""A consultation service's own files: settings.toml (the rules) and messages.toml (its texts)."""

import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from node.errors import InvalidInput

SETTINGS_FILE = "settings.toml"
BEHAVIOUR = "consultations"
# The template's English texts: what a reply falls back on when messages.toml fails it.
ENGLISH = {
    "participated": "Thank you: your answer to {question} is counted. Results on {results_on}.",
    "already": "You have already taken part in this consultation.",
    "closed": "This consultation closed on {closes_on}.",
    "results": "Results of {question}: {results}",
    "sms_help": "Send {keyword} followed by your option, e.g. {keyword} new-park.",
}


class ConsultationRules(BaseModel):
    """The [consultation] table: the question, its options and the days it is open."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1)
    options: list[str] = Field(min_length=2)
    opens_on: date
    closes_on: date

    @model_validator(mode="after")
    def _dates_in_order(self) -> "ConsultationRules":
        if self.closes_on <= self.opens_on:
            raise ValueError(f"closes_on {self.closes_on} must be after opens_on {self.opens_on}")
        if len(set(self.options)) != len(self.options):
            raise ValueError("an option is listed twice")
        return self


class ParticipationRules(BaseModel):
    """The [participation] table: who may take part, and how they are verified."""

    model_config = ConfigDict(extra="ignore")

    verification: Literal["account", "phone", "eid"] = "account"
    minimum_age: int = Field(default=16, ge=0, le=120)


class ConsultationSettings(BaseModel):
    """A consultation service's settings.toml, as far as the node acts on it."""

    model_config = ConfigDict(extra="ignore")

    consultation: ConsultationRules
    participation: ParticipationRules = ParticipationRules()


def read_settings(folder: Path) -> ConsultationSettings:
    """Read and check a service folder's settings.toml; a clear InvalidInput when it is wrong."""
    path = folder / SETTINGS_FILE
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
        return ConsultationSettings.model_validate(raw)
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path} is missing: the consultation has no rules") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(f"{path}: {problems}") from exc
