"""Text of a mail part in the charset it was really written in, whatever it declares.

Mail clients and web forms get the charset wrong often enough: Windows-1252 text declared as
UTF-8, UTF-8 declared as Latin-1 or as nothing at all. Decoding with the declaration alone
turns every accented letter into U+FFFD. The order tried here never loses a byte:

1. ASCII is ASCII; text that is valid UTF-8 beyond ASCII is UTF-8 (other charsets almost never
   form valid UTF-8 sequences by accident);
2. the declared charset, when Python knows it and it decodes the bytes;
3. the single-byte charsets of the node's languages, each taken only when charset-normalizer
   finds its text plausible (short texts fool detection, the city's own languages less so);
4. charset-normalizer's detection over every charset;
5. Windows-1252, and Latin-1, which decodes any byte.

The raw message is archived as it came, so a wrong guess can always be read again.
"""

import codecs
from dataclasses import dataclass

import charset_normalizer

# The legacy Windows code page people in a language write in; the rest of Europe's write 1252.
CODE_PAGES = {
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs", "sr"), "cp1250"),
    **dict.fromkeys(("bg", "ru", "uk", "mk"), "cp1251"),
    "el": "cp1253",
    "tr": "cp1254",
    **dict.fromkeys(("et", "lv", "lt"), "cp1257"),
}
WESTERN = "cp1252"


@dataclass(frozen=True)
class Decoded:
    """A text, the charset it was read with, and the one its part declared."""

    text: str
    charset: str
    declared: str | None

    @property
    def differs(self) -> bool:
        """Whether the text was read with another charset than the one declared."""
        if self.charset == "ascii" or self.declared is None:
            return False
        return _name(self.charset) != _name(self.declared)


def _name(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return charset.lower()


def code_pages(languages: list[str] | tuple[str, ...]) -> list[str]:
    """The single-byte charsets to try for a node speaking these languages, most likely first."""
    pages = [CODE_PAGES.get(language.split("-")[0].lower(), WESTERN) for language in languages]
    return list(dict.fromkeys([*pages, WESTERN]))


def decode(data: bytes, declared: str | None, *, languages=("en",)) -> Decoded:
    """Read bytes as text by the order in the module's docstring; never fails, never loses."""
    declared = (declared or "").strip().strip('"').lower() or None
    if data.isascii():
        return Decoded(data.decode("ascii"), "ascii", declared)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", declared)
    except UnicodeDecodeError:
        pass
    if declared and _name(declared) != "utf-8":
        try:
            return Decoded(data.decode(declared), _name(declared), declared)
        except (LookupError, UnicodeDecodeError):
            pass
    for page in code_pages(languages):
        found = charset_normalizer.from_bytes(data, cp_isolation=[page]).best()
        if found is not None:
            return Decoded(str(found), found.encoding, declared)
    found = charset_normalizer.from_bytes(data).best()
    if found is not None:
        return Decoded(str(found), found.encoding, declared)
    try:
        return Decoded(data.decode(WESTERN), WESTERN, declared)
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "latin_1", declared)
