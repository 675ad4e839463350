"""Exports as cities send them: encodings, delimiters, line ends and rows cut or broken."""

import random
from pathlib import Path

import pytest

from node.database import get_db
from node.intake import imports
from tests.factories import make_template_node_app
from tests.node.test_import import EXAMPLES, archive, quarantined, run_import, without

GERMAN = EXAMPLES / "maengelmelder.csv"
GERMAN_MAPPING = EXAMPLES / "maengelmelder.toml"
NYC = EXAMPLES / "nyc311.csv"
NYC_MAPPING = EXAMPLES / "nyc311.toml"


@pytest.fixture
def app(template_app):
    return template_app


@pytest.fixture
def node(tmp_path):
    """A fresh node per call, for comparing the imports of several files."""
    made = []

    def make(name: str):
        made.append(make_template_node_app(tmp_path / name))
        return made[-1]

    yield make
    for app in made:
        get_db(app).engine.dispose()


@pytest.fixture
def detecting(tmp_path) -> Path:
    """The German example's mapping without its encoding and delimiter: both detected."""
    plain = without(GERMAN_MAPPING, 'encoding = "cp1252"\n', tmp_path / "detect.toml")
    return without(plain, 'delimiter = ";"\n', plain)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_the_same_export_in_utf8_latin1_and_cut_short_gives_the_same_cases(
    node, tmp_path, detecting
):
    shipped = GERMAN.read_bytes()
    text = shipped.decode("cp1252")
    reference = node("reference")
    run_import(reference, GERMAN, GERMAN_MAPPING)
    expected = archive(reference)
    assert len(expected) == 14
    rubbish = expected["2024-000412"]
    assert rubbish["location"] == (50.918213, 6.957042)  # written 50,918213 and 6,957042
    assert rubbish["address"] == "Bonner Straße 112"
    assert expected["2024-000418"]["channel"] == "staff"  # raised by the city's own staff

    variants = {
        "utf-8": text.encode("utf-8"),
        "utf-8 with a byte-order mark": text.encode("utf-8-sig"),
        "latin-1": text.encode("latin-1"),
        "utf-16 (a spreadsheet's Unicode text)": text.encode("utf-16"),
        "LF line ends and a spreadsheet's empty rows": (
            text.replace("\r\n", "\n") + "\n;;;;;;;;;;;;;;;\n\n"
        ).encode("latin-1"),
    }
    for name, data in variants.items():
        app = node(name.split()[0] + str(len(data)))
        export = write(tmp_path / name / "export.csv", data)
        report = run_import(app, export, detecting)
        assert (report.rows, report.imported, report.quarantined) == (14, 14, 0), name
        assert archive(app) == expected, name

    # The last line cut off mid-row, as a download that stopped: everything else is the same,
    # and the cut row is quarantined with its line and why.
    cut = text.encode("latin-1")
    cut = cut[: cut.rstrip(b"\r\n").rfind(b";41;")]
    app = node("cut")
    export = write(tmp_path / "cut" / "export.csv", cut)
    report = run_import(app, export, detecting)
    assert (report.rows, report.imported, report.quarantined) == (14, 13, 1)
    assert report.encoding == "cp1252" and report.delimiter == ";"
    assert quarantined(report) == {16: "short row: 11 fields where the header has 16"}
    assert archive(app) == {k: v for k, v in expected.items() if k != "2024-000425"}

    # The quarantine file is in the export's own encoding and layout: fixed, it imports with
    # the same mapping and completes the archive.
    fixed = report.quarantine_path.read_bytes().replace(
        b"S\xfclzburgstra\xdfe\r\n",
        b"S\xfclzburgstra\xdfe;41;50937;50,922014;6,918230;"
        b"Baustelle zur Befeuchtung verpflichtet.\r\n",
    )
    repaired = write(tmp_path / "cut" / "repaired.csv", fixed)
    again = run_import(app, repaired, detecting)
    assert (again.rows, again.imported, again.quarantined) == (1, 1, 0)
    assert archive(app) == expected


def nyc_like_rows(count: int, seed: int = 7) -> list[str]:
    """Rows in the NYC layout from an Italian city: a few addresses with accented letters."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        street = "PIAZZA SANTO STEFANO" if n % 67 else "VIA DELL'UNIVERSITÀ, CAFFÈ"
        rows.append(
            f"{70_000_000 + n},01/{1 + n % 28:02d}/2024 0{1 + n % 9}:15:00 AM,,NYPD,Polizia Locale,"
            f'Noise - Residential,Loud Music/Party,Residential Building/House,40125,"{street}",'
            f"Open,,,{rng.choice(['PHONE', 'ONLINE', 'MOBILE'])},44.4{n % 10},11.3{n % 7}\n"
        )
    return rows


def test_a_latin1_export_is_read_to_its_last_row_even_when_declared_utf8(node, tmp_path):
    header = NYC.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    data = (header + "".join(nyc_like_rows(2424))).encode("latin-1")
    export = write(tmp_path / "bologna" / "export.csv", data)

    declared = tmp_path / "utf8.toml"
    declared.write_text('encoding = "utf-8"\n' + NYC_MAPPING.read_text(encoding="utf-8"))
    wrong = run_import(node("declared"), export, declared)
    # Every row is accounted for: the 37 with bytes that are not UTF-8 are quarantined with
    # their line, the run goes on to the end.
    assert (wrong.rows, wrong.imported, wrong.quarantined) == (2424, 2387, 37)
    reasons = quarantined(wrong)
    assert sorted(reasons)[:3] == [2, 69, 136]
    assert reasons[69] == (
        "bytes b'\\xc0\\xc8' in column 'Incident Address' are not utf-8 "
        "(declare the file's encoding in the mapping)"
    )
    assert wrong.reasons == {"encoding": 37}

    app = node("detected")
    detected = run_import(app, export, NYC_MAPPING)
    assert (detected.rows, detected.imported, detected.quarantined) == (2424, 2424, 0)
    assert detected.encoding == "cp1252" and detected.encoding_how == "detected"
    addresses = {case["address"] for case in archive(app).values()}
    assert addresses == {"PIAZZA SANTO STEFANO", "VIA DELL'UNIVERSITÀ, CAFFÈ"}


def test_short_long_and_broken_rows_are_quarantined_with_their_line_and_the_rest_imported(
    app, tmp_path
):
    header, *rows = NYC.read_text(encoding="utf-8").splitlines(keepends=True)
    short = rows[1].rstrip("\n").rsplit(",", 2)[0] + "\n"
    long = rows[2].rstrip("\n") + ",EXTRA\n"
    # A quote opening a field and never closed: the reader would run on into the next rows.
    stray = rows[3].replace("Blocked Hydrant", '"Blocked Hydrant', 1)
    after = rows[6].replace(",Loud Talking,", ',"Loud" Talking,', 1)  # text after the quote
    smoke = rows[5].replace("60012006", "60012099")
    cut = smoke[: smoke.index('"') + 12]  # cut inside its quoted descriptor
    lines = [header, rows[0], short, long, stray, *rows[4:6], after, *rows[7:], cut]
    export = write(tmp_path / "broken" / "export.csv", "".join(lines).encode("utf-8"))
    report = run_import(app, export)
    reasons = quarantined(report)
    assert reasons == {
        3: "short row: 14 fields where the header has 16",
        4: "long row: 17 fields where the header has 16",
        5: "a quote on line 5 is not closed on that line, and the lines after it are rows of "
        "their own (they are read again)",
        8: "malformed quoting: text after a closing quote (',' expected after '\"')",
        len(lines): "the file ends inside a quoted field (a quote never closed, or a cut-off row)",
    }
    assert report.rows == len(lines) - 1 and report.reasons == {"format": 5}
    good = [row.split(",")[0] for row in [rows[0], *rows[4:6], *rows[7:]]]
    assert sorted(archive(app)) == sorted(good)


def test_a_header_that_is_not_in_the_declared_encoding_stops_with_a_hint(app, tmp_path):
    declared = tmp_path / "utf8.toml"
    declared.write_text(GERMAN_MAPPING.read_text(encoding="utf-8").replace("cp1252", "utf-8"))
    with pytest.raises(imports.ImportFailed, match=r"not utf-8.*\(it reads as cp1252\)"):
        run_import(app, GERMAN, declared)
    assert archive(app) == {}


def test_an_empty_file_stops_and_a_header_alone_imports_nothing(app, tmp_path):
    empty = write(tmp_path / "empty" / "export.csv", b"\r\n\r\n")
    with pytest.raises(imports.ImportFailed, match="is empty"):
        run_import(app, empty)
    header = NYC.read_bytes().splitlines(keepends=True)[0]
    alone = write(tmp_path / "alone" / "export.csv", header)
    report = run_import(app, alone)
    assert (report.rows, report.imported, report.quarantine_path) == (0, 0, None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database_node(request, tmp_path):
    config = {}
    if request.param == "postgres":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    app = make_template_node_app(tmp_path / request.param, **config)
    yield app
    get_db(app).engine.dispose()


def test_a_row_with_nul_characters_is_quarantined_not_written(any_database_node, tmp_path):
    header, *rows = NYC.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = rows[1].replace("88 FRONT STREET", "88 FRONT\x00\x00 STREET")
    export = write(tmp_path / "nul" / "export.csv", (header + rows[0] + broken).encode())
    report = run_import(any_database_node, export)
    assert (report.imported, report.quarantined) == (1, 1)
    assert quarantined(report) == {
        3: "NUL characters in column 'Incident Address' (is the file UTF-16?)"
    }
