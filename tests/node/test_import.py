"""Importing a city's legacy 311 export: cases and events, idempotent re-runs, quarantine."""

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from carmen.cli import main
from node.cases.models import Case, Event, ImportedRequest
from node.database import get_db
from node.instance import open_app
from node.intake import imports
from tests.factories import install_template_services, make_template_node_app

SAMPLE = Path(__file__).parent / "import_data" / "nyc311_sample.csv"
EXAMPLES = Path(imports.__file__).parent / "import_examples"
NYC_MAPPING = EXAMPLES / "nyc311.toml"
# The moment the sample is imported: the SLA clock of its open cases without a due date.
IMPORTED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(template_app):
    """Every import here goes into a node with the shipped templates' services."""
    return template_app


@pytest.fixture
def export(tmp_path) -> Path:
    """The sample export in a folder of its own, where its quarantine file will go."""
    path = tmp_path / "export" / "nyc311_sample.csv"
    path.parent.mkdir()
    shutil.copy(SAMPLE, path)
    return path


def run_import(app, export: Path, mapping: Path = NYC_MAPPING, **options) -> imports.ImportReport:
    """Import a file, and check that every row read is accounted for."""
    options.setdefault("now", IMPORTED_AT)
    with get_db(app).session() as session:
        report = imports.import_requests(
            db_session=session,
            csv_path=export,
            mapping=imports.load_mapping(mapping),
            tracking_prefix="BO",
            **options,
        )
    assert report.rows == report.imported + report.already_imported + report.quarantined
    return report


def archive(app) -> dict[str, dict]:
    """Each imported case by legacy id, with its events, without database ids or codes."""
    with get_db(app).session() as session:
        found = {}
        for imported, case in session.execute(
            sa.select(ImportedRequest, Case).join(Case, Case.id == ImportedRequest.case_id)
        ):
            events = session.scalars(
                sa.select(Event).where(Event.case_id == case.id).order_by(Event.id)
            )
            found[imported.legacy_id] = {
                "source": imported.source,
                "service": case.service_code,
                "channel": case.channel,
                "status": case.status.value,
                "department": case.department.code,
                "created_at": case.created_at,
                "closed_at": case.closed_at,
                "due_at": case.due_at,
                "description": case.description,
                "address": case.address,
                "location": (case.lat, case.long),
                "attributes": case.attributes,
                "citizen": case.citizen_id,
                "events": [
                    (e.kind.value, e.at, e.channel, e.actor_kind.value, e.service_code, e.data)
                    for e in events
                ],
            }
        return found


def quarantined(report: imports.ImportReport) -> dict[int, str]:
    """The quarantine file's reasons by line, read back in the export's encoding (the bytes it
    could not read are written back as they came)."""
    path = report.quarantine_path
    with path.open(newline="", encoding=report.encoding, errors="surrogateescape") as handle:
        rows = csv.DictReader(handle, delimiter=report.delimiter)
        return {int(row["line"]): row["reason"] for row in rows}


def without(mapping: Path, line: str, target: Path) -> Path:
    """A copy of a mapping with one line taken out."""
    text = mapping.read_text(encoding="utf-8")
    assert line in text
    target.write_text(text.replace(line, ""), encoding="utf-8")
    return target


def test_a_311_export_becomes_cases_with_their_events_and_statuses(app, export):
    report = run_import(app, export, batch_size=2)
    assert (report.rows, report.imported, report.quarantined) == (11, 6, 5)
    cases = archive(app)
    assert sorted(cases) == [
        "59893281",
        "59893282",
        "59893283",
        "59893284",
        "59893286",
        "59893288",
    ]

    party = cases["59893281"]
    opened = datetime(2024, 1, 16, 4, 32, 5, tzinfo=UTC)  # 11:32:05 PM in New York, in UTC
    closed = datetime(2024, 1, 16, 6, 10, 44, tzinfo=UTC)
    assert party["service"] == "issue-report" and party["source"] == "nyc311"
    assert party["status"] == "resolved" and party["channel"] == "phone"
    assert (party["created_at"], party["closed_at"]) == (opened, closed)
    assert party["due_at"] == datetime(2024, 1, 16, 12, 32, 5, tzinfo=UTC)  # its Due Date
    assert party["attributes"] == {"problem_type": "noise"} and party["department"] == "police"
    assert party["description"] == "Loud Music/Party — Residential Building/House"
    assert party["location"] == (40.8187, -73.952) and party["address"] == "512 WEST 135 STREET"
    assert [(kind, at) for kind, at, *_ in party["events"]] == [
        ("submitted", opened),
        ("routed", opened),
        ("routed", opened),
        ("resolved", closed),
        ("note_added", closed),
    ]
    assert party["events"][0][2] == "phone" and party["events"][0][3] == "system"
    assert party["events"][2][5] == {"department": "police"}
    assert party["events"][4][5] == {
        "text": "The Police Department responded to the complaint and took action to fix the "
        "condition."
    }

    assert cases["59893282"]["channel"] == "web"
    assert cases["59893282"]["department"] == "environment"
    assert cases["59893283"]["status"] == "new" and cases["59893283"]["channel"] == "app"
    assert [e[0] for e in cases["59893283"]["events"]][-1] == "routed"
    assert cases["59893284"]["channel"] == "phone"  # UNKNOWN, as the mapping decides
    assert cases["59893284"]["location"] == (40.799, -73.968)
    iso = cases["59893288"]  # the API's ISO dates in the same file
    assert iso["created_at"] == datetime(2024, 3, 2, 15, 15, tzinfo=UTC)
    assert iso["department"] == "building-control"
    assert [e[0] for e in iso["events"]] == [
        "submitted",
        "routed",
        "routed",
        "resolved",
        "note_added",
    ]


def test_an_open_case_is_due_by_its_legacy_date_or_an_sla_after_the_import(app, export):
    run_import(app, export)
    cases = archive(app)
    # Its Due Date, long past: late, as it was in the earlier system.
    assert cases["59893283"]["due_at"] == datetime(2024, 1, 18, 8, 15, tzinfo=UTC)
    # No Due Date: the issue report's 72 hours run from the import, not from 2024.
    assert cases["59893284"]["due_at"] == IMPORTED_AT + timedelta(hours=72)
    # A closed case without one keeps the SLA from its opening, for the within-SLA count.
    assert cases["59893288"]["due_at"] == datetime(2024, 3, 9, 15, 15, tzinfo=UTC)


def test_rerunning_the_import_adds_nothing_twice(app, export):
    first = run_import(app, export)
    with get_db(app).session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Event))
    again = run_import(app, export)
    assert first.imported == 6
    assert (again.imported, again.already_imported) == (0, 6)
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 6
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == before


def test_bad_rows_are_quarantined_with_their_line_number_and_reason(app, export):
    report = run_import(app, export)
    assert report.quarantine_path == export.with_name("nyc311_sample.quarantine.csv")
    with report.quarantine_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    reasons = {int(row["line"]): row["reason"] for row in rows}
    assert sorted(reasons) == [7, 9, 10, 12, 13]
    assert reasons[7].startswith("unparseable date '31/31/2024 99:00:00 PM' in column 'Created")
    assert "needs a closing date" in reasons[9]
    assert reasons[10] == "no id in column 'Unique Key'"
    assert reasons[12] == "id '59893281' already on line 2"
    assert reasons[13].startswith("closed (01/21/2024 05:00:00 PM) before it was opened")
    assert rows[0]["Unique Key"] == "59893285", "the row itself is kept for fixing"
    assert report.reasons == {"date": 3, "id": 2}


def test_an_unmapped_category_goes_to_the_catch_all_with_its_category_kept(app, export):
    report = run_import(app, export)
    parking = archive(app)["59893286"]
    assert parking["service"] == "issue-report"
    assert parking["attributes"] == {"problem_type": "other"}
    assert parking["description"] == "Illegal Parking — Blocked Hydrant — Street/Sidewalk"
    assert report.caught == {"Illegal Parking": 1}


def test_without_a_catch_all_an_unmapped_category_is_quarantined(app, export, tmp_path):
    strict = without(NYC_MAPPING, 'catch_all = "issue-report"\n', tmp_path / "strict.toml")
    report = run_import(app, export, strict)
    reason = quarantined(report)[8]
    assert "'Illegal Parking'" in reason and "[services]" in reason and "catch_all" in reason
    assert "59893286" not in archive(app)


def test_a_catch_all_that_is_not_installed_stops_before_writing(app, export, tmp_path):
    mapping = tmp_path / "missing.toml"
    mapping.write_text(
        NYC_MAPPING.read_text().replace('catch_all = "issue-report"', 'catch_all = "potholes"')
    )
    with pytest.raises(imports.ImportFailed, match="catch-all service 'potholes'"):
        run_import(app, export, mapping)
    assert archive(app) == {}


def test_a_service_code_not_installed_is_quarantined_with_a_clear_reason(app, tmp_path):
    export = tmp_path / "codes.csv"
    export.write_text(
        "id,type,opened,how\n"
        "A1,noise-report,2024-01-02 10:00:00,phone\n"
        "A2,street-lights,2024-01-02 11:00:00,phone\n"
        "A3,consultation,2024-01-02 12:00:00,phone\n"
    )
    mapping = tmp_path / "codes.toml"
    mapping.write_text(
        'source = "legacy-crm"\ndate_formats = ["%Y-%m-%d %H:%M:%S"]\n'
        '[columns]\nid = "id"\nservice = "type"\nopened = "opened"\nchannel = "how"\n'
        '[attributes.noise-report.source]\ndefault = "other"\n'
    )
    report = run_import(app, export, mapping)
    assert (report.imported, report.quarantined) == (1, 2)
    reasons = quarantined(report)
    assert reasons[3] == "service code 'street-lights' is not installed on this node"
    assert "takes no cases" in reasons[4]  # a consultation keeps choices, not cases


def test_the_bulk_and_the_service_paths_write_the_same_cases_and_events(app, export, tmp_path):
    run_import(app, export, via="bulk")
    reference = make_template_node_app(tmp_path / "reference")
    try:
        run_import(reference, export, via="service")
        assert archive(app) == archive(reference)
    finally:
        get_db(reference).engine.dispose()


def test_a_mapping_naming_a_missing_column_stops_before_writing(app, export, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(NYC_MAPPING.read_text().replace('id = "Unique Key"', 'id = "Ticket"'))
    with pytest.raises(imports.ImportFailed, match="no column 'Ticket'"):
        run_import(app, export, broken)
    typo = tmp_path / "typo.toml"
    typo.write_text(NYC_MAPPING.read_text().replace("[statuses]", "[status]"))
    with pytest.raises(imports.ImportFailed, match="status: Extra inputs are not permitted"):
        imports.load_mapping(typo)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('encoding = "klingon"\n' + NYC_MAPPING.read_text())
    with pytest.raises(imports.ImportFailed, match="unknown encoding 'klingon'"):
        imports.load_mapping(unknown)
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_the_command_shows_progress_and_a_summary_and_reruns_cleanly(tmp_path, export):
    instance = tmp_path / "bologna"
    runner = CliRunner()
    city = ["--city", "Bologna", "--country", "IT", "--population", "390000"]
    created = runner.invoke(main, ["node", "init", *city, "--instance", str(instance)])
    assert created.exit_code == 0, created.output
    install_template_services(instance)
    command = ["node", "import-requests", str(export), "--mapping", str(NYC_MAPPING)]
    command += ["--instance", str(instance)]
    first = runner.invoke(main, command)
    assert first.exit_code == 1, first.output  # some rows were quarantined
    assert "11 rows read: 6 imported, 0 already imported, 5 quarantined" in first.output
    assert "read as utf-8 (detected), fields separated by ','" in first.output
    assert "rows/s" in first.output and "11/11" in first.output
    assert "3 rows with date problems" in first.output
    assert "1 rows went to the catch-all issue-report: Illegal Parking (1)" in first.output
    assert export.with_name("nyc311_sample.quarantine.csv").exists()
    again = runner.invoke(main, command)
    assert "0 imported, 6 already imported" in again.output
    app = open_app(instance)
    with get_db(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 6
    get_db(app).engine.dispose()


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_each_shipped_example_imports_its_data_whole_against_the_shipped_templates(
    app, example, tmp_path
):
    data = example.with_suffix(".csv")
    export = tmp_path / data.name
    shutil.copy(data, export)
    with data.open(newline="", encoding=imports.load_mapping(example).encoding or "utf-8") as f:
        mapping = imports.load_mapping(example)
        records = sum(1 for _ in csv.reader(f, delimiter=mapping.delimiter or ",")) - 1
    report = run_import(app, export, example)
    assert report.quarantined == 0, export.with_name(f"{export.stem}.quarantine.csv").read_text()
    assert report.imported == report.rows == records > 10


@pytest.mark.postgres
def test_the_bulk_import_writes_the_same_archive_on_postgres(app, export, postgres_url, tmp_path):
    pg = make_template_node_app(tmp_path / "pg", DATABASE_URL=postgres_url)
    try:
        run_import(pg, export, batch_size=3)
        run_import(app, export, batch_size=3)
        assert archive(pg) == archive(app)
        assert run_import(pg, export).already_imported == 6
    finally:
        get_db(pg).engine.dispose()


@pytest.mark.parametrize(
    ("fmt", "raw"),
    [
        ("%m/%d/%Y %I:%M:%S %p", "01/15/2024 11:32:05 PM"),
        ("%m/%d/%Y %I:%M:%S %p", "01/15/2024 12:02:05 AM"),
        ("%m/%d/%Y %I:%M:%S %p", "02/30/2024 10:00:00 AM"),
        ("%m/%d/%Y %I:%M:%S %p", "01/15/2024 13:00:00 PM"),
        ("%Y-%m-%dT%H:%M:%S.%f", "2024-03-02T10:15:00.123"),
        ("%Y-%m-%dT%H:%M:%S%z", "2024-01-15T23:32:05-05:00"),
        ("%Y-%m-%d %H:%M:%S", "2024-01-15 24:00:00"),
        ("%d.%m.%Y", "15.01.2024"),
        ("%d %b %Y", "15 Jan 2024"),
        ("%d.%m.%y %H:%M", "15.01.24 14:32"),
    ],
)
def test_dates_are_read_as_strptime_reads_them(fmt, raw):
    try:
        expected = datetime.strptime(raw, fmt)
    except ValueError:
        expected = None
    assert imports.DateFormat(fmt).parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("45306", datetime(2024, 1, 15)),
        ("45306.64722222", datetime(2024, 1, 15, 15, 32)),
        ("45306,5", datetime(2024, 1, 15, 12)),
        ("0", None),
        ("15.01.2024", None),
    ],
)
def test_a_spreadsheet_s_serial_dates_are_read_by_the_excel_format(raw, expected):
    assert imports.DateFormat(imports.EXCEL).parse(raw) == expected
