"""Render a template with cookiecutter, turning every failure into a TemplateError that says why."""

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import CookiecutterException, FailedHookException
from cookiecutter.main import cookiecutter

from service_templates.catalogue import TemplateError

# Cookiecutter logs a failed hook with a traceback; the hook's own message is what people need.
logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
logging.getLogger("cookiecutter").propagate = False


@contextlib.contextmanager
def _stderr_of_children() -> Iterator[list[str]]:
    """Collect what child processes (cookiecutter's hooks) write on file descriptor 2."""
    collected: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield collected
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            collected.append(sink.read().decode("utf-8", errors="replace"))


def render(*, template_path: Path, answers: Mapping[str, Any], output_dir: Path) -> Path:
    """Render a template with answers into output_dir and return the project folder."""
    with tempfile.TemporaryDirectory(prefix="carmen-cookiecutter-") as scratch:
        # A private config keeps cookiecutter's replay files out of the user's home.
        config = Path(scratch) / "config.yaml"
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(Path(scratch) / 'cookiecutters'))}\n"
            f"replay_dir: {json.dumps(str(Path(scratch) / 'replay'))}\n",
            encoding="utf-8",
        )
        try:
            with _stderr_of_children() as stderr:
                project = cookiecutter(
                    str(template_path),
                    no_input=True,
                    extra_context=dict(answers),
                    output_dir=str(output_dir),
                    config_file=str(config),
                )
        except FailedHookException as exc:
            message = "\n".join(line for line in stderr[0].splitlines() if line.strip())
            raise TemplateError(message or f"the template refused the answers: {exc}") from exc
        except (CookiecutterException, ValueError) as exc:
            raise TemplateError(f"cannot render {template_path.name}: {exc}") from exc
        except Exception as exc:  # Jinja errors name the template line; pass them on readably
            raise TemplateError(f"cannot render {template_path.name}: {exc}") from exc
    return Path(project)
