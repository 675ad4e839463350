"""Answers to a service's questions read from free text, for channels that cannot ask them (SMS,
e-mail): a choice whose key or name appears in the text is taken."""

import re
from typing import Any

from node.errors import InvalidInput
from node.services.schemas import Datatype, ServiceSpec

FALLBACK_KEYS = ("other", "unknown", "altro")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def answers_from_text(spec: ServiceSpec, text: str) -> dict[str, Any]:
    """Choices named in the text; a required question left open takes its catch-all choice.

    Raises InvalidInput naming the question when a required one cannot be answered that way.
    """
    words = _words(text)
    answers: dict[str, Any] = {}
    for attribute in spec.attributes:
        if attribute.datatype not in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST):
            if attribute.required:
                raise InvalidInput(
                    f"{attribute.description} cannot be answered here; use the web portal",
                    {f"attribute[{attribute.code}]": "required"},
                )
            continue
        named = [
            value.key
            for value in attribute.values
            if value.key.lower() in words or _words(value.name) <= words
        ]
        if named:
            single = attribute.datatype is Datatype.SINGLEVALUELIST
            answers[attribute.code] = named[0] if single else named
            continue
        if not attribute.required:
            continue
        fallback = next((v.key for v in attribute.values if v.key in FALLBACK_KEYS), None)
        if fallback is None:
            keys = ", ".join(v.key for v in attribute.values)
            raise InvalidInput(
                f"{attribute.description} Write one of: {keys}",
                {f"attribute[{attribute.code}]": "required"},
            )
        multi = attribute.datatype is Datatype.MULTIVALUELIST
        answers[attribute.code] = [fallback] if multi else fallback
    return answers
