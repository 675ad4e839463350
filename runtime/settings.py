"""Typed settings of an instance, from four sources in order of precedence: the values given by
code (tests, `create_app(config)`), PREFIX_<NAME> environment variables, the instance's TOML
file, and the defaults declared on the model.

A subclass declares every setting once, as a field with its type, default and a one-line
description. An unknown name or a value of the wrong type stops the start with a message that
names the setting and where it came from.
"""

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, get_args

import tomli_w
from flask import Flask, current_app
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from runtime.private_files import write_private

EXTENSION = "carmen.settings"
SECRET: dict[str, Any] = {"secret": True}  # a field's json_schema_extra: its value is never shown


class SettingsError(ValueError):
    """A setting is unknown or its value has the wrong type; the message says which and where."""


def read_literal(raw: str) -> Any:
    """An environment value read as a TOML literal (number, boolean, list, table), else as text."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def environment_values(prefix: str) -> dict[str, Any]:
    """The settings given as PREFIX_<NAME> variables; PREFIX_INSTANCE names the folder instead."""
    return {
        key.removeprefix(prefix).lower(): read_literal(raw)
        for key, raw in os.environ.items()
        if key.startswith(prefix) and key != f"{prefix}INSTANCE"
    }


def file_values(path: Path) -> dict[str, Any]:
    """The settings of an instance file, with lower-case names; a missing file gives none."""
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    return {key.lower(): value for key, value in values.items()}


class _Values(PydanticBaseSettingsSource):
    """A source of values read beforehand."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class InstanceSettings(BaseSettings):
    """Base of a part's settings; build them with `load`."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    env_prefix: ClassVar[str]  # e.g. CARMEN_NODE_
    file_name: ClassVar[str]  # e.g. node.toml, in the instance folder
    command: ClassVar[str]  # the command that lists the settings, named in errors

    instance_path: Path = Field(description="The instance folder.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = Path(init_settings.init_kwargs["instance_path"])  # type: ignore[attr-defined]
        return (
            init_settings,
            _Values(settings_cls, environment_values(cls.env_prefix)),
            _Values(settings_cls, file_values(folder / cls.file_name)),
        )

    @classmethod
    def load(cls, instance_path: Path, given: Mapping[str, Any] | None = None) -> Self:
        """The settings of an instance; `given` names settings in any case and wins over all."""
        values = {key.lower(): value for key, value in (given or {}).items()}
        try:
            return cls(instance_path=instance_path, **values)
        except ValidationError as exc:
            raise SettingsError(cls._explain(exc, Path(instance_path), values)) from None

    @classmethod
    def split(cls, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Separate the settings in `config` from the rest (Flask's own keys such as TESTING, and
        INSTANCE_PATH, which the caller gives to `load` itself)."""
        names = set(cls.model_fields) - {"instance_path"}
        settings = {k: v for k, v in config.items() if k.lower() in names}
        return settings, {k: v for k, v in config.items() if k not in settings}

    @classmethod
    def _explain(cls, exc: ValidationError, instance_path: Path, given: dict[str, Any]) -> str:
        """One line per wrong setting: where it came from, its name and what is wrong."""
        environment = environment_values(cls.env_prefix)
        settings_file = instance_path / cls.file_name
        from_file = file_values(settings_file)
        lines = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            name = loc[0] if loc else ""
            if name in given:
                where = "the given settings"
            elif name in environment:
                where = f"environment variable {cls.env_prefix}{name.upper()}"
            elif name in from_file:
                where = str(settings_file)
            else:
                where = "the settings"
            if error["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown setting {name!r} (`{cls.command}` lists them)")
                continue
            field = cls.model_fields.get(name)
            if field is None:  # a rule across settings: its input is all of them, secrets too
                lines.append(f"{where}: {error['msg']}")
                continue
            shown = "***" if _is_secret(field) else repr(error["input"])
            lines.append(f"{where}: {'.'.join(loc)}: {error['msg']} (got {shown})")
        return "\n".join(lines)

    @classmethod
    def write_file(cls, instance_path: Path, values: Mapping[str, Any]) -> Path:
        """Write the instance's settings file owner-only (it holds secrets); None is left out."""
        unknown = sorted(key for key in values if key not in cls.model_fields)
        if unknown:
            raise SettingsError(f"unknown settings {', '.join(unknown)} (`{cls.command}`)")
        path = instance_path / cls.file_name
        kept = {key: value for key, value in values.items() if value is not None}
        write_private(path, tomli_w.dumps(kept).encode("utf-8"))
        return path

    def flask_config(self) -> dict[str, Any]:
        """Every setting under its upper-case name, as the Flask app's config holds it."""
        return {name.upper(): value for name, value in self if name != "instance_path"}

    def describe(self) -> list[tuple[str, str, str, str, str]]:
        """(name, type, default, current value, help) of every setting; secrets are masked."""
        rows = []
        for name, field in type(self).model_fields.items():
            if name == "instance_path":
                continue
            value = getattr(self, name)
            shown = "***" if _is_secret(field) and value else _show(value)
            rows.append(
                (name, _type_name(field), _show(field.default), shown, field.description or "")
            )
        return rows


def _is_secret(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("secret"))


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"  # as written in the TOML file
    if isinstance(value, str | Path):
        return str(value)
    return repr(value)


def _type_name(field: FieldInfo) -> str:
    annotation = field.annotation
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))  # typing.Literal -> Literal


def init_app(app: Flask, settings: InstanceSettings) -> None:
    """Give the app its settings: typed values in `app.config`, the model in its extensions."""
    app.config.update(settings.flask_config())
    app.extensions[EXTENSION] = settings


def get_settings(app: Flask | None = None) -> Any:
    """The settings model of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]
