"""What anyone may read of a citizen's text: contact details, addresses and signatures go."""

import pytest

from node.intake.free_text import (
    redact,
    street_of,
    strip_quoted_reply,
    strip_signature,
)
from node.intake.publication import coarse_point

ANNA = ["Anna Rossi", "anna.rossi@example.org", "+393331234567"]


@pytest.mark.parametrize(
    "written",
    [
        "Write to anna.rossi@example.org",
        "Write to Anna.Rossi@Example.ORG please",
        "Write to anna [at] example [dot] org",
        "Write to anna(at)example.org",
        "Write to anna at example dot org",
        "Write to m.bianchi+noise@comune.bologna.it",
    ],
)
def test_e_mail_addresses_go_however_they_are_written(written):
    shown = redact(written, region="IT")
    assert "@" not in shown and "example" not in shown and "bianchi" not in shown
    assert shown.startswith("Write to [e-mail]")


@pytest.mark.parametrize(
    ("written", "region"),
    [
        ("Call me on 333 123 4567 after six", "IT"),
        ("Call me on 3331234567 after six", "IT"),
        ("Call me on +39 333 1234567 after six", "IT"),
        ("Call me on 0039 333 123 4567 after six", "IT"),
        ("Call me on 051 219 3111 after six", "IT"),
        ("Call me on 030 12345678 after six", "DE"),
        ("Call me on +49 (0)30 12345678 after six", "IT"),
        ("Call me on 06 12 34 56 78 after six", "FR"),
        ("Call me on 06.12.34.56.78 after six", "IT"),  # a visitor's number: no region knows it
        ("Call me on 020 7946 0958 after six", "GB"),
        ("Call me on 5123 4567 after six", "EE"),
    ],
)
def test_phone_numbers_go_in_international_and_national_formats(written, region):
    shown = redact(written, region=region)
    assert shown == "Call me on [phone] after six"


def test_dates_times_amounts_codes_and_plain_words_stay():
    text = (
        "Since 12/03/2026 at 10.30 the lamp is out; the 2026-03-12 repair cost 1.250.000 lire. "
        "See request BO-7K3M9Q. The pothole is 12 cm deep and 3 m wide."
    )
    assert redact(text, region="IT") == text


def test_an_email_signature_block_goes_from_its_closing():
    mail = (
        "Buongiorno,\n"
        "c'è una buca enorme davanti al civico.\n"
        "\n"
        "Cordiali saluti\n"
        "Anna Rossi\n"
        "Via Irnerio 12, 40126 Bologna\n"
        "Tel. 333 123 4567\n"
        "anna.rossi@example.org"
    )
    assert strip_signature(mail) == "Buongiorno,\nc'è una buca enorme davanti al civico."


@pytest.mark.parametrize(
    "closing",
    [
        "Best regards,",
        "Kind regards",
        "Thanks, Mark",
        "Mit freundlichen Grüßen",
        "Cordialement",
        "Met vriendelijke groet,",
        "Lugupidamisega",
        "--",
        "Sent from my iPhone",
    ],
)
def test_a_signature_goes_whatever_language_it_closes_in(closing):
    mail = f"The bins in the square are full again.\n{closing}\nHans Müller\nMüllerweg 5"
    assert strip_signature(mail) == "The bins in the square are full again."


def test_a_closing_word_inside_a_sentence_is_not_a_signature():
    mail = "Thanks for fixing the lamp last week.\nThanks for that, but now the bin is full too."
    assert strip_signature(mail) == mail


def test_a_contact_block_without_a_closing_goes_too():
    mail = "The fountain leaks.\nAnna Rossi\nTel +39 333 1234567\nanna.rossi@example.org"
    assert strip_signature(mail, region="IT") == "The fountain leaks."


def test_an_sms_signed_on_its_last_line_loses_the_name():
    assert strip_signature("Lamp out at the school - Anna Rossi") == "Lamp out at the school"
    assert strip_signature("Bins full. Grazie, Giulia") == "Bins full."


def test_a_quoted_reply_goes_with_its_header():
    mail = (
        "It is still broken.\n\n"
        "On Mon, 3 Mar 2026 at 10:00, Comune di Bologna <noise@city.example> wrote:\n"
        "> Dear Anna Rossi, a crew will come to Via Irnerio 12."
    )
    assert strip_quoted_reply(mail) == "It is still broken."
    assert strip_quoted_reply("Ancora rotto.\nIl giorno 3 mar 2026, Comune ha scritto:\n> x") == (
        "Ancora rotto."
    )


@pytest.mark.parametrize(
    "address",
    [
        "Via Irnerio 12",
        "via dell'Indipendenza, 10/A",
        "Hauptstraße 5a",
        "Kerkstraat 12",
        "12 rue de Rivoli",
        "12 High Street",
        "Storgatan 5",
        "Narva mnt 5",
    ],
)
def test_a_street_address_in_a_text_goes(address):
    shown = redact(f"The pavement at {address} is broken.", region="IT")
    assert shown == "The pavement at [address] is broken."


def test_postcodes_that_point_at_a_few_houses_go():
    shown = redact("Near 40126 Bologna, SW1A 1AA and 1012 AB Amsterdam.", region="IT")
    assert "40126" not in shown and "SW1A" not in shown and "1012 AB" not in shown


def test_what_the_node_knows_of_the_person_goes_wherever_it_is_written():
    text = "Anna here (anna.rossi, 333-123-4567): Rossi family's car blocks the ramp."
    shown = redact(text, known=ANNA, region="IT")
    assert "Anna" not in shown and "Rossi" not in shown and "anna.rossi" not in shown
    assert "4567" not in shown
    assert "car blocks the ramp" in shown


def test_a_name_the_writer_gives_goes():
    assert (
        redact("Mi chiamo Giulia Bianchi e ho visto tutto.") == "Mi chiamo [name] e ho visto tutto."
    )
    assert redact("Hello, my name is John Smith.") == "Hello, my name is [name]."


def test_the_canary_email_leaves_only_the_problem():
    mail = (
        "Hello,\nthe streetlight opposite my house has been out for a week.\n\n"
        "Best regards,\nCarla Canarini\nVia dei Canarini 17, 40127 Bologna\n"
        "Mobile +39 347 555 0101\ncarla.canarini@example.net"
    )
    assert redact(mail, region="IT") == (
        "Hello,\nthe streetlight opposite my house has been out for a week."
    )


@pytest.mark.parametrize(
    ("address", "street"),
    [
        ("Via Irnerio 12, 40126 Bologna", "Via Irnerio"),
        ("Via dell'Indipendenza 10", "Via dell'Indipendenza"),
        ("Flat 3, 12 High Street, London SW1A 1AA", "High Street"),
        ("12 rue de Rivoli, 75001 Paris", "rue de Rivoli"),
        ("Hauptstraße 5a", "Hauptstraße"),
        ("Calle Mayor, 5, 3º B, 28013 Madrid", "Calle Mayor"),
        ("Kerkstraat 12 III", "Kerkstraat"),
        ("Narva mnt 5, Tallinn", "Narva mnt"),
        ("Irnerio 12", "Irnerio"),
        ("c/o Mario Rossi, Via Roma 5", "Via Roma"),
        ("Mario Rossi, Via Roma 5", "Via Roma"),
        ("Piazza Maggiore", "Piazza Maggiore"),
        # Numbers that are part of a street's name stay; the house number after them goes.
        ("Via 2 Agosto 1980 10", "Via 2 Agosto 1980"),
        ("Rue du 4 Septembre 7", "Rue du 4 Septembre"),
        ("Straße des 17. Juni 135", "Straße des 17. Juni"),
    ],
)
def test_an_address_is_published_as_its_street(address, street):
    assert street_of(address, known=["Mario Rossi"]) == street


@pytest.mark.parametrize("address", ["Giardini Margherita", "44.4949, 11.3426", "", None, "12"])
def test_an_address_that_names_no_street_is_not_published(address):
    assert street_of(address) is None


def test_points_in_one_cell_are_published_as_one_and_stay_near():
    first = coarse_point(44.49490, 11.34260, 200)
    neighbour = coarse_point(44.49495, 11.34270, 200)  # ten metres away
    assert first == neighbour
    assert abs(first[0] - 44.4949) < 0.0019 and abs(first[1] - 11.3426) < 0.0026
    far = coarse_point(44.4990, 11.3426, 200)  # 450 m north
    assert far != first


def test_a_street_cell_is_about_200_metres_a_side_at_any_latitude():
    for lat in (37.98, 44.49, 59.44):
        cells = {coarse_point(lat + i * 0.00009, 11.0, 200)[0] for i in range(40)}  # 400 m
        assert 2 <= len(cells) <= 3
        east = {coarse_point(lat, 11.0 + i * 0.01, 200)[1] for i in range(2)}
        assert len(east) == 2


def test_a_greeted_person_s_name_goes():
    assert redact("Dear Carla Canarini, a crew comes this week.") == (
        "Dear [name], a crew comes this week."
    )
    assert (
        redact("Gentile sig.ra Rossi, abbiamo risolto.")
        == "Gentile sig.ra [name], abbiamo risolto."
    )
    assert redact("Hi Anna thanks") == "Hi [name] thanks"
