"""Reading an export file in whatever state it comes: its encoding, its delimiter, its records.

Every physical line of the file ends up in exactly one record, and a record that cannot be a
row says why (a short or long row, a quote never closed, bytes the encoding cannot read), so
that the import can quarantine it and go on. Undecodable bytes are kept as escapes
(`surrogateescape`): the row they are in is quarantined, never the rest of the file, and the
quarantine file gives them back as they came.
"""

import codecs
import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import charset_normalizer

# Longest marks first: the UTF-32 little-endian mark begins with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# The code page a spreadsheet writes text of a language in, preferred among the guesses that
# read a file equally well: short texts leave a detector torn between close code pages (a French
# export read as Baltic cp1257 gives "DÄ—pÄ™t" for "Dépôt").
_CODE_PAGES = {
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs"), "cp1250"),
    **dict.fromkeys(("bg", "ru", "uk", "sr", "mk"), "cp1251"),
    "el": "cp1253",
    "tr": "cp1254",
    **dict.fromkeys(("et", "lv", "lt"), "cp1257"),
}
_WESTERN = "cp1252"
_CHAOS_MARGIN = 0.1  # how much worse a preferred code page may read than the detector's best
_CHUNK = 1 << 20
_SAMPLE = 1 << 19  # bytes of undecodable lines handed to the detector
DELIMITERS = (",", ";", "\t", "|")
# Bytes the encoding could not read (escaped) and NUL, which no database text column holds.
UNREADABLE = re.compile("[\x00\udc80-\udcff]")


@dataclass(frozen=True)
class Encoding:
    """The encoding a file is read in, and how it was chosen (for the report)."""

    name: str
    how: str  # "declared in the mapping", "byte-order mark" or "detected"


def codec_name(name: str) -> str:
    """Python's name of an encoding, or ValueError when Python has no such codec."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None


def detect_encoding(path: Path, language: str = "en") -> Encoding:
    """The file's encoding: its byte-order mark, else UTF-8 if most of it reads so, else a guess.

    The guess (charset-normalizer) looks at every line that is not valid UTF-8, wherever it is
    in the file, so that a latin-1 export whose first accented letter comes late is still seen
    as one; among guesses that read the file about as well, the Windows code page of the node's
    language wins.
    """
    with path.open("rb") as handle:
        head = handle.read(_CHUNK)
        for mark, name in _BOMS:
            if head.startswith(mark):
                return Encoding(name, "byte-order mark")
        if b"\x00" in head:  # UTF-16 or UTF-32 without a mark: line-by-line checks mean nothing
            best = charset_normalizer.from_bytes(head).best()
            return Encoding(codec_name(best.encoding) if best else "utf-8", "detected")
        handle.seek(0)
        valid = invalid = 0
        sample: list[bytes] = []
        size = 0
        rest = b""
        while chunk := handle.read(_CHUNK):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            chunk, rest = (chunk[:cut], chunk[cut:]) if cut else (b"", chunk)
            valid, invalid, size = _count_lines(chunk, valid, invalid, sample, size)
        valid, invalid, size = _count_lines(rest, valid, invalid, sample, size)
    if valid >= invalid:  # UTF-8 (or ASCII); lines that are not valid UTF-8 are quarantined
        return Encoding("utf-8", "detected")
    matches = charset_normalizer.from_bytes(b"\n".join(sample))
    best = matches.best()
    if best is None:
        return Encoding(_WESTERN, "detected")
    preferred = _CODE_PAGES.get(language, _WESTERN)
    for match in matches:
        if preferred in match.could_be_from_charset and match.chaos <= best.chaos + _CHAOS_MARGIN:
            return Encoding(preferred, "detected")
    return Encoding(codec_name(best.encoding), "detected")


def _count_lines(
    chunk: bytes, valid: int, invalid: int, sample: list[bytes], size: int
) -> tuple[int, int, int]:
    """Count a chunk's non-ASCII lines that are valid UTF-8 and those that are not."""
    if chunk.isascii():
        return valid, invalid, size
    for line in chunk.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
            if size < _SAMPLE:
                sample.append(line)
                size += len(line)
        else:
            valid += 1
    return valid, invalid, size


def detect_delimiter(line: str, wanted: list[str]) -> str:
    """The delimiter that splits a header line into the columns a mapping names (else the most)."""

    def names(delimiter: str) -> list[str]:
        return [name.strip() for name in _loose(line, delimiter)]

    for delimiter in DELIMITERS:
        if set(wanted) <= set(names(delimiter)):
            return delimiter
    return max(DELIMITERS, key=lambda d: len(names(d)))


def _loose(text: str, delimiter: str) -> list[str]:
    """The fields a forgiving reading finds in some lines, for showing a broken record."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return [text.rstrip("\r\n")]
    return [field for row in rows for field in row]


def _unreadable_bytes(text: str) -> bytes:
    return bytes(ord(c) - 0xDC00 if c != "\x00" else 0 for c in UNREADABLE.findall(text))


@dataclass
class Record:
    """One record of the file: the line it starts on, its fields, and why it is no row if not."""

    line: int
    fields: list[str]
    kind: str | None = None  # "format" or "encoding" when the record cannot be a row
    problem: str | None = None


class Records:
    """The header and then every record of an export, one physical line in exactly one record.

    A record with the wrong number of fields whose next lines are rows of their own was
    swallowed by a quote never closed: its first line is reported alone and the lines after it
    are read again.
    """

    def __init__(self, handle: IO[str], encoding: str, delimiter: str | None) -> None:
        self.encoding, self.delimiter = encoding, delimiter
        self.header: list[str] = []
        self._file = iter(handle)
        self._pending: deque[tuple[int, str]] = deque()
        self._taken: list[tuple[int, str]] = []
        self._number = 0
        self._reader: Iterator[list[str]] = iter(())

    def _lines(self) -> Iterator[str]:
        while True:
            if self._pending:
                item = self._pending.popleft()
            else:
                text = next(self._file, None)
                if text is None:
                    return
                self._number += 1
                item = (self._number, text)
            self._taken.append(item)
            yield item[1]

    def _restart(self) -> None:
        self._reader = csv.reader(self._lines(), delimiter=self.delimiter or ",", strict=True)

    def read_header(self, wanted: list[str]) -> list[str]:
        """The first line that is not blank, as column names; [] for an empty file."""
        for number, text in enumerate(self._file, start=1):
            self._number = number
            if text.strip():
                break
        else:
            return []
        if self.delimiter is None:
            self.delimiter = detect_delimiter(text, wanted)
        self._pending.append((number, text))
        self._restart()
        for record in self:
            if record.fields:
                self.header = [name.strip() for name in record.fields]
                self.header[0] = self.header[0].lstrip("\ufeff")
                break
        return self.header

    def __iter__(self) -> Iterator[Record]:
        while True:
            self._taken = []
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield self._broken(str(exc))
                continue
            taken = self._taken
            line = taken[0][0]
            if not any(fields):
                yield Record(line, [])
                continue
            width = len(self.header)
            if not width:  # the header itself
                yield Record(line, fields)
                continue
            if len(fields) != width:
                if self._swallowed(taken):
                    yield self._unclosed(taken)
                    continue
                size = "short" if len(fields) < width else "long"
                problem = f"{size} row: {len(fields)} fields where the header has {width}"
                yield Record(line, fields, "format", problem)
                continue
            text = taken[0][1] if len(taken) == 1 else "".join(t for _, t in taken)
            if UNREADABLE.search(text):
                yield Record(line, fields, "encoding", self._unreadable(fields))
                continue
            yield Record(line, fields)

    def _broken(self, message: str) -> Record:
        """A record the CSV reader gave up on, or its first line when it swallowed the next."""
        taken = self._taken
        if self._swallowed(taken):
            return self._unclosed(taken)
        text = "".join(t for _, t in taken)
        if "unexpected end of data" in message:
            problem = "the file ends inside a quoted field (a quote never closed, or a cut-off row)"
        elif "expected after" in message:
            problem = f"malformed quoting: text after a closing quote ({message})"
        elif "field larger" in message:
            problem = f"a field too long to be one ({message}): a quote never closed?"
        else:
            problem = f"unreadable row: {message}"
        return Record(taken[0][0], _loose(text, self.delimiter or ","), "format", problem)

    def _swallowed(self, taken: list[tuple[int, str]]) -> bool:
        """Whether the lines after a record's first are rows of their own; if so, re-read them."""
        width = len(self.header)
        if len(taken) < 2 or not width:
            return False
        delimiter = self.delimiter or ","
        if not any(len(_loose(text, delimiter)) == width for _, text in taken[1:]):
            return False
        self._pending.extendleft(reversed(taken[1:]))
        self._restart()
        return True

    def _unclosed(self, taken: list[tuple[int, str]]) -> Record:
        line, text = taken[0]
        problem = (
            f"a quote on line {line} is not closed on that line, and the lines after it "
            "are rows of their own (they are read again)"
        )
        return Record(line, _loose(text, self.delimiter or ","), "format", problem)

    def _unreadable(self, fields: list[str]) -> str:
        for name, field in zip(self.header, fields, strict=True):
            if UNREADABLE.search(field):
                found = _unreadable_bytes(field)
                if set(found) == {0}:
                    return f"NUL characters in column {name!r} (is the file UTF-16?)"
                return (
                    f"bytes {found!r} in column {name!r} are not {self.encoding} "
                    "(declare the file's encoding in the mapping)"
                )
        return f"bytes that are not {self.encoding}"


def _quarantine_errors(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Bytes the import could not read go back out as they came; other misfits become '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    if all("\udc80" <= c <= "\udcff" for c in chunk):
        return bytes(ord(c) - 0xDC00 for c in chunk), exc.end
    return "?" * len(chunk), exc.end


QUARANTINE_ERRORS = "carmen-quarantine"
codecs.register_error(QUARANTINE_ERRORS, _quarantine_errors)


def writable(fields: list[str], encoding: str) -> list[str]:
    """Fields a quarantine file in this encoding can hold: UTF-16 and UTF-32 take no escapes."""
    if encoding.startswith(("utf-16", "utf-32")):
        return [UNREADABLE.sub("\ufffd", f) for f in fields]
    return fields
