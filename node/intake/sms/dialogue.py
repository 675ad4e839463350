"""Asking a service's questions by SMS, and reading the reply to the one that was asked.

SMS cannot show a form, so the node asks one question per message and reads the next message
from that number as its answer. A reply is an answer only to a question the node asked: a word
in a request's text is never taken for an answer to a question nobody put.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from node.cases.service import MAX_TEXT
from node.messaging import texts
from node.services.schemas import Attribute, Datatype, ServiceSpec

SKIP_WORDS = frozenset({"SKIP", "NEXT", "PASS", "SALTA", "AVANTI", "PASSO"})
# A yes/no choice also takes the short and foreign words people type for it.
YES_NO = {
    "yes": {"yes", "y", "yeah", "yep", "si", "ja", "oui", "jah"},
    "no": {"no", "n", "nope", "nein", "non", "ei"},
}
LISTS = (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
_DATE_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y")


@dataclass(frozen=True)
class Reading:
    """What a reply says about the question asked: an answer, a skip, or neither."""

    kind: str  # "answer" | "skip" | "none"
    value: Any = None


NOT_AN_ANSWER = Reading("none")


def _plain(text: str) -> str:
    """Lower case, without accents and punctuation, spaces squeezed: how replies are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", bare))


def questions(spec: ServiceSpec) -> list[Attribute]:
    """The questions SMS asks, in the service's order."""
    asked = [a for a in spec.attributes if a.variable]
    return sorted(asked, key=lambda a: a.order if a.order is not None else len(spec.attributes))


def ask(attribute: Attribute, language: str, *, needed: bool) -> str:
    """The question as one SMS: its text, how to answer, and SKIP unless it must be answered."""
    if attribute.datatype in LISTS:
        choices = ", ".join(f"{n} {v.name}" for n, v in enumerate(attribute.values, start=1))
        how = "sms_how_several" if attribute.datatype is Datatype.MULTIVALUELIST else "sms_how_one"
        how_text = texts.say(how, language, choices=choices)
    elif attribute.datatype is Datatype.NUMBER:
        how_text = texts.say("sms_how_number", language)
    elif attribute.datatype is Datatype.DATETIME:
        how_text = texts.say("sms_how_datetime", language)
    else:
        how_text = texts.say("sms_how_words", language)
    way_out = texts.say("sms_needed" if needed else "sms_skip", language)
    return f"{attribute.description} {how_text} {way_out}"


def _choice(attribute: Attribute, word: str) -> str | None:
    """The key of the choice a word names: its number, its key, its name, or a yes/no word."""
    for number, value in enumerate(attribute.values, start=1):
        names = {str(number), _plain(value.key), _plain(value.name)} | YES_NO.get(value.key, set())
        if word in names:
            return value.key
    return None


def _list_answer(attribute: Attribute, reply: str, *, whole_only: bool) -> Any:
    key = _choice(attribute, reply)
    if attribute.datatype is Datatype.MULTIVALUELIST:
        if key is not None:
            return [key]
        parts = [p for p in re.split(r"[\s,;/+&]+|\band\b|\be\b", reply) if p.strip()]
        keys = [_choice(attribute, p.strip()) for p in parts]
        if keys and None not in keys:
            return list(dict.fromkeys(keys))
        return None
    if key is not None or whole_only:
        return key
    # "yes the hole is still there": the first word answers, the rest is a message.
    first = reply.split(" ", 1)[0]
    return _choice(attribute, first)


def _number(reply: str) -> float | None:
    match = re.search(r"[-+]?\d+(?:[.,]\d+)?", reply)  # "about 15 cm", "2,5"
    return float(match.group().replace(",", ".")) if match else None


def _datetime(reply: str) -> str | None:
    text = reply.strip()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    for layout in _DATE_FORMATS:
        try:
            return datetime.strptime(text, layout).isoformat()
        except ValueError:
            continue
    return None


def read(attribute: Attribute, reply: str, *, whole_only: bool = False) -> Reading:
    """Read a reply to the question `attribute` asked.

    `whole_only` takes a choice only when it is the whole reply ("2", "Yes", "Sì"), for a reply
    that may also be a new command; otherwise a reply starting with a choice answers too.
    """
    words = re.findall(r"\w+", reply.upper())
    if words and "".join(words) in SKIP_WORDS:
        return Reading("skip")
    if attribute.datatype in LISTS:
        value = _list_answer(attribute, _plain(reply), whole_only=whole_only)
    elif whole_only:
        return NOT_AN_ANSWER  # free words, a number or a date are read only when nothing else is
    elif attribute.datatype is Datatype.NUMBER:
        value = _number(reply)
    elif attribute.datatype is Datatype.DATETIME:
        value = _datetime(reply)
    else:
        value = reply.strip()[:MAX_TEXT] or None
    return NOT_AN_ANSWER if value is None else Reading("answer", value)
