"""Bring past requests from a city's earlier system (a 311-style CSV export) into the archive.

A mapping file (TOML, see docs/import.md and import_examples/) names the export's columns and
translates its values: service, channel, status and department. Every good row becomes a case
with the events intake would have written (submitted and routed at the opening time) and its
closing (resolved or rejected at the closing time). Bad rows go to a quarantine CSV with their
line number and the reason, and the rest goes on.

Two writers produce the same cases and events: `via="service"` calls intake.submit for each
row, and `via="bulk"` (the default) checks rows the same way and hands whole batches to the
database driver's executemany, which is what makes a million-row export practical. Each batch
is committed, and the table of imported legacy ids makes a re-run (after a crash, or of a grown
export) add only what is not there yet.

The parts, each its own module: `import_files` (the file: its encoding, its delimiter and its
records, whatever state it is in), `import_mapping` (the mapping file), `import_rows` (checking
rows: dates, values, services), `import_writers` (the two writers); this module runs an import
and reports on it, every row read being imported, already there, or quarantined.
"""

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from node.database import utcnow
from node.intake.import_files import (
    QUARANTINE_ERRORS,
    UNREADABLE,
    Encoding,
    Records,
    detect_encoding,
    writable,
)
from node.intake.import_mapping import ImportFailed, ImportMapping, load_mapping
from node.intake.import_rows import (
    EXCEL,
    Catalogue,
    DateFormat,
    ImportReport,
    LegacyRequest,
    RowProblem,
    RowReader,
)
from node.intake.import_writers import BulkWriter, ServiceWriter, not_yet_imported

# The import's public names, wherever they live, so that callers read it all from here.
__all__ = [
    "EXCEL",
    "DateFormat",
    "ImportFailed",
    "ImportMapping",
    "ImportReport",
    "count_rows",
    "default_quarantine_path",
    "import_requests",
    "load_mapping",
    "summary",
]


class _Quarantine:
    """Bad rows with their line number and reason, written as they are met.

    The file has the export's encoding and delimiter, so that the mapping that read the export
    reads the quarantine file too once its rows are fixed.
    """

    def __init__(self, path: Path, header: list[str], encoding: str, delimiter: str) -> None:
        self.path, self.header, self.encoding, self.delimiter = path, header, encoding, delimiter
        self._handle: Any = None
        self._writer: Any = None

    def add(self, line: int, reason: str, row: list[str]) -> None:
        if self._writer is None:
            self._handle = self.path.open(
                "w", newline="", encoding=self.encoding, errors=QUARANTINE_ERRORS
            )
            self._writer = csv.writer(self._handle, delimiter=self.delimiter)
            self._writer.writerow(["line", "reason", *self.header])
        self._writer.writerow(writable([str(line), reason, *row], self.encoding))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def default_quarantine_path(csv_path: Path) -> Path:
    """Where bad rows go unless told: beside the input, e.g. requests.quarantine.csv."""
    return csv_path.with_name(f"{csv_path.stem}.quarantine.csv")


def count_rows(csv_path: Path) -> int:
    """About how many rows the file holds (its lines less the header), for a progress bar."""
    lines = 0
    with csv_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(0, lines - 1)


def import_requests(
    *,
    db_session: Session,
    csv_path: Path,
    mapping: ImportMapping,
    tracking_prefix: str,
    language: str = "en",
    quarantine_path: Path | None = None,
    batch_size: int = 2000,
    via: Literal["bulk", "service"] = "bulk",
    on_progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import an export's rows as cases and archive events, committing each batch.

    Unlike other service functions this one commits: a batch is the unit of work, so that an
    interrupted import keeps what it finished and a re-run skips it. `now` is the moment the
    SLA clock of an imported open case starts from when the export gives no due date.
    """
    known = Catalogue(db_session)
    report = ImportReport(quarantine_path=quarantine_path or default_quarantine_path(csv_path))
    write = BulkWriter if via == "bulk" else ServiceWriter
    writer = write(
        db_session=db_session,
        known=known,
        mapping=mapping,
        prefix=tracking_prefix,
        now=now or utcnow(),
    )
    writer.language = language
    seen: dict[str, int] = {}
    try:
        if mapping.encoding:
            encoding = Encoding(mapping.encoding, "declared in the mapping")
        else:
            encoding = detect_encoding(csv_path, language)
        handle = csv_path.open(newline="", encoding=encoding.name, errors="surrogateescape")
    except OSError as exc:
        raise ImportFailed(f"cannot read {csv_path}: {exc.strerror}") from exc
    report.encoding, report.encoding_how = encoding.name, encoding.how
    with handle:
        records = Records(handle, encoding.name, mapping.delimiter)
        header = records.read_header(mapping.columns.named())
        if not header:
            raise ImportFailed(f"{csv_path} is empty")
        if any(UNREADABLE.search(name) for name in header):
            guess = detect_encoding(csv_path, language).name
            raise ImportFailed(
                f"the header of {csv_path} has bytes that are not {encoding.name}: declare the "
                f"file's encoding in the mapping (it reads as {guess})",
                {"encoding": "wrong"},
            )
        report.delimiter = records.delimiter or ","
        rows = RowReader(mapping, header, known)
        quarantine = _Quarantine(report.quarantine_path, header, encoding.name, report.delimiter)
        batch: list[LegacyRequest] = []

        def flush() -> None:
            fresh = not_yet_imported(db_session, mapping.source, batch)
            report.already_imported += len(batch) - len(fresh)
            writer.write(fresh)
            db_session.commit()
            report.imported += len(fresh)
            batch.clear()
            if on_progress is not None:
                on_progress(report.rows)

        def bad(line: int, kind: str, reason: str, row: list[str]) -> None:
            quarantine.add(line, reason, row)
            report.quarantined += 1
            report.reasons[kind] = report.reasons.get(kind, 0) + 1

        try:
            for record in records:
                if not record.fields:
                    report.blank_lines += 1
                    continue
                report.rows += 1
                line, row = record.line, record.fields
                if record.problem is not None:
                    bad(line, record.kind or "format", record.problem, row)
                    continue
                try:
                    request = rows.read(row, line)
                except RowProblem as exc:
                    bad(line, exc.kind, str(exc), row)
                    continue
                first = seen.setdefault(request.legacy_id, line)
                if first != line:
                    bad(line, "id", f"id {request.legacy_id!r} already on line {first}", row)
                    continue
                if request.caught is not None:
                    report.caught[request.caught] = report.caught.get(request.caught, 0) + 1
                batch.append(request)
                if len(batch) >= batch_size:
                    flush()
            flush()
        finally:
            quarantine.close()
    if not report.accounted:
        raise ImportFailed(
            f"{report.rows} rows read but {report.imported} imported, {report.already_imported} "
            f"already imported and {report.quarantined} quarantined: some rows are unaccounted "
            "for (this is a bug: please report it with the file)"
        )
    if not report.quarantined:
        report.quarantine_path = None
    return report


def summary(report: ImportReport) -> str:
    """The report in one paragraph, for the command line."""
    text = (
        f"{report.rows} rows read: {report.imported} imported, "
        f"{report.already_imported} already imported, {report.quarantined} quarantined"
    )
    if report.quarantine_path is not None:
        text += f" (see {report.quarantine_path})"
    delimiter = {"\t": "tab"}.get(report.delimiter, repr(report.delimiter))
    text += f"\nread as {report.encoding} ({report.encoding_how}), fields separated by {delimiter}"
    if report.blank_lines:
        text += f"; {report.blank_lines} empty lines skipped"
    return text
