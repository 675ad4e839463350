"""Every interface string of the node in every language it offers, and compiled as it is written.

The strings are extracted from the code and the page templates as `pybabel extract` does
(babel.cfg), in-process, so that a string added without a translation fails here and is named.
"""

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from node.config import NodeSettings

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node"
CATALOGUES = NODE / "translations"
SOURCE_LANGUAGE = "en"  # the msgids are English: its catalogue only has to know them
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def catalogue_languages() -> list[str]:
    """The languages a node offers by default, and every language with a catalogue."""
    offered = NodeSettings.model_fields["languages"].default
    shipped = [p.parent.parent.name for p in CATALOGUES.glob("*/LC_MESSAGES/messages.po")]
    return sorted(set(offered) | set(shipped))


@pytest.fixture(scope="module")
def extracted() -> dict[str, str | tuple[str, ...]]:
    """What the code and templates ask to translate: singular id -> id (or ids with plurals)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(ROOT / "babel.cfg"))
    found: dict[str, str | tuple[str, ...]] = {}
    for _, _, message, _, _ in extract_from_dir(
        str(NODE), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            found[key] = message
    return found


def read_catalogue(language: str) -> Catalog:
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        pytest.fail(f"{language} has no catalogue: see docs/translations.md")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def listed(strings: list[str]) -> str:
    return "\n".join(f"  {text!r}" for text in sorted(strings))


def test_the_extraction_finds_the_node_strings(extracted):
    # A broken babel.cfg or a lost Jinja extractor would make every other test here pass.
    assert "Tracking code" in extracted  # a page template's
    assert "Sign in" in extracted  # a form's, marked with lazy_gettext
    assert len(extracted) > 300


@pytest.mark.parametrize("language", catalogue_languages())
def test_every_interface_string_is_translated(extracted, language):
    catalogue = read_catalogue(language)
    missing, untranslated = [], []
    for key, ids in extracted.items():
        entry = catalogue.get(key)
        if entry is None:
            missing.append(key)
            continue
        if language == SOURCE_LANGUAGE:
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        plural = isinstance(ids, tuple) and len(ids) > 1
        if entry.fuzzy or not all(strings) or (plural and not isinstance(entry.string, tuple)):
            untranslated.append(key)
    assert not missing, (
        f"{len(missing)} strings are not in the {language} catalogue; extract and update it "
        f"(docs/translations.md):\n{listed(missing)}"
    )
    assert not untranslated, (
        f"{len(untranslated)} strings have no checked {language} translation (empty or fuzzy):\n"
        f"{listed(untranslated)}"
    )


@pytest.mark.parametrize("language", catalogue_languages())
def test_translations_keep_their_placeholders(language):
    catalogue = read_catalogue(language)
    broken = [
        f"{message.id!r}: {'; '.join(str(error) for error in errors)}"
        for message, errors in catalogue.check()
        if not message.fuzzy
    ]
    assert not broken, f"{language} translations that would fail on a page:\n" + "\n".join(broken)


@pytest.mark.parametrize("language", catalogue_languages())
def test_the_compiled_catalogue_is_the_written_one(language):
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.mo"
    assert path.exists(), f"{language}: compile it with pybabel compile -d node/translations"
    compiled = BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    wanted = {m.id: m.string for m in read_mo(compiled) if m.id}
    with path.open("rb") as handle:
        committed = {m.id: m.string for m in read_mo(handle) if m.id}
    differ = [
        str(key if isinstance(key, str) else key[0])
        for key in wanted.keys() | committed.keys()
        if wanted.get(key) != committed.get(key)
    ]
    assert not differ, (
        f"{language}: messages.mo is older than messages.po for {len(differ)} strings; run "
        f"pybabel compile -d node/translations:\n{listed(differ)}"
    )
