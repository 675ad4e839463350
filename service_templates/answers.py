"""The answers a template is rendered with: `--set` assignments, the city, the node's channels."""

from collections.abc import Mapping
from typing import Any

from federation.protocol.vocabulary import CITIZEN_CHANNELS
from service_templates.catalogue import TemplateError, TemplateInfo


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Turn `key=value` strings into answers; raises TemplateError on anything else."""
    answers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TemplateError(f"--set takes key=value, e.g. sla_hours=48; got {item!r}")
        if key.startswith("_"):
            raise TemplateError(f"{key} is set by the node, not by --set")
        answers[key] = value.strip()
    return answers


def check_known(info: TemplateInfo, answers: Mapping[str, Any]) -> None:
    """Refuse answers to variables the template does not have, naming the ones it has."""
    unknown = sorted(set(answers) - set(info.variables))
    if unknown:
        raise TemplateError(
            f"unknown variable {', '.join(unknown)} for template {info.name}; "
            f"its variables: {', '.join(info.variables)}"
        )


def city_answers(*, city: str, country: str, languages: list[str]) -> dict[str, str]:
    """The answers a node's settings give every template: its city, country and languages."""
    return {"city_name": city, "country": country, "languages": ",".join(languages)}


def default_channels(info: TemplateInfo, offered: list[str]) -> str:
    """The template's default channels that the node offers, in the template's order."""
    wanted = [c.strip() for c in info.variables.get("channels", "").split(",") if c.strip()]
    kept = [c for c in wanted if c in offered]
    return ",".join(kept or offered)


def offered_channels(configured: Any) -> list[str]:
    """The channels a node offers: its `channels` setting when it has one, else all of them."""
    every = [c.value for c in CITIZEN_CHANNELS]
    if not configured:
        return every
    if isinstance(configured, str):
        configured = [c.strip() for c in configured.split(",")]
    unknown = [c for c in configured if c not in every]
    if unknown:
        raise TemplateError(
            f"the node's channels setting names unknown channels {', '.join(unknown)}; "
            f"known: {', '.join(every)}"
        )
    return [c for c in every if c in configured]
