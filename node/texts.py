"""One reader of the texts citizens are sent: a service's messages.toml, and the node's own words.

One fallback rule everywhere. A text is looked for in the reader's language, then in the
service's default language, then in the template's English text; a text that is missing, or that
cannot be filled in (an unknown or malformed placeholder left by a local edit), gives way to the
next one. When even the English text cannot be filled in, what can be filled in is, and the rest
is left out. Nothing here raises into a citizen's reply.
"""

import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MESSAGES_FILE = "messages.toml"


class _Blank(dict):
    """Values for a lenient fill: a placeholder nobody gave is left empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(text: str, values: Mapping[str, Any]) -> str:
    """The text filled in; ValueError when a placeholder is not one of the values by name.

    Attribute and index lookups (`{name.upper}`, `{0}`) are refused too: a text may only name
    what the node gives it, never reach into the objects behind.
    """
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in values:
            raise ValueError(f"unknown placeholder {{{name}}}")
    return text.format_map(values)


def _lenient(text: str, values: Mapping[str, Any]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Blank(values))
    except (IndexError, ValueError, AttributeError, TypeError):
        return text.replace("{", "").replace("}", "")


def read_messages(folder: Path) -> dict[str, Any]:
    """A service folder's messages.toml as it is; empty when it is missing or not valid TOML."""
    try:
        with (folder / MESSAGES_FILE).open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


@dataclass(frozen=True)
class Texts:
    """Texts per language (one table each), a default language, and the English to fall back on."""

    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_language: str = "en"
    english: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, messages: Mapping[str, Any] | None, *, english: Mapping[str, Any]) -> "Texts":
        """The texts of a messages.toml (read, or kept as it was read) over the English ones."""
        messages = messages or {}
        default = messages.get("default_language")
        return cls(
            tables={k: v for k, v in messages.items() if isinstance(v, Mapping)},
            default_language=default if isinstance(default, str) else "en",
            english=english,
        )

    def _tables(self, language: str | None) -> Iterator[Mapping[str, Any]]:
        for name in dict.fromkeys((language or "", self.default_language)):
            table = self.tables.get(name)
            if isinstance(table, Mapping):
                yield table
        yield self.english

    def say(self, key: str, language: str | None, **values: Any) -> str:
        """One text in a language, filled in, by the fallback rule above."""
        for table in self._tables(language):
            text = table.get(key)
            if not isinstance(text, str):
                continue
            try:
                return _fill(text, values)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                continue
        english = self.english.get(key)
        return _lenient(english if isinstance(english, str) else key, values)

    def names(self, table: str, language: str | None) -> Mapping[str, Any]:
        """A table of names (topics, options...) in a language, else the default's, else English."""
        for texts in self._tables(language):
            names = texts.get(table)
            if isinstance(names, Mapping) and names:
                return names
        return {}

    def table(self, language: str | None) -> Mapping[str, Any]:
        """Every text in a language, else in the default language (for the portal's pages)."""
        return next(self._tables(language))

    def overlay(self, language: str | None) -> dict[str, Any]:
        """The English tables' shape with each text, at any depth, found by the fallback rule.

        For nested texts such as a service's name, questions and choices: a table may give only
        some of them, and the others come from the next table in the rule.
        """
        return _overlay(self.english, list(self._tables(language)))


def _overlay(shape: Mapping[str, Any], tables: list[Mapping[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, written in shape.items():
        found = [t.get(key) for t in tables]
        if isinstance(written, Mapping):
            result[key] = _overlay(written, [f for f in found if isinstance(f, Mapping)])
        else:
            result[key] = next((f for f in found if isinstance(f, str) and f.strip()), written)
    return result
