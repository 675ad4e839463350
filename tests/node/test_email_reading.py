"""Reading mail as the world writes it: the writer's own words kept and nothing else, text in
any charset without a lost letter, and machines told apart from people."""

import pytest

from node.intake.email.charsets import decode
from node.intake.email.own_words import forwarded_words, own_words
from node.intake.email.parsing import parse_mail


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (  # Outlook in Italian: divider and header block
            "Il lampione è spento da tre sere.\n\n-----Messaggio originale-----\n"
            "Da: Comune di Bologna [mailto:no-reply@comune.bologna.it]\n"
            "Inviato: lunedì 3 marzo 2025 10:12\nA: Mario\nOggetto: [BO-7K3M9Q]\n\nBuongiorno",
            "Il lampione è spento da tre sere.",
        ),
        (  # Outlook in German, no divider
            "Der Container ist wieder voll.\n\nVon: Stadt <no-reply@stadt.example>\n"
            "Gesendet: Montag, 3. März 2025 10:12\nAn: Jonas\nBetreff: Ihre Meldung",
            "Der Container ist wieder voll.",
        ),
        (  # Gmail in French, wrapped attribution
            "Merci, le trottoir est dégagé.\n\nLe lun. 3 mars 2025 à 10:12, Ville de Lyon <\n"
            "no-reply@lyon.example> a écrit :\n> Bonjour",
            "Merci, le trottoir est dégagé.",
        ),
        (  # Apple Mail in Italian
            "Grazie mille, tutto risolto.\n\nIl giorno 3 mar 2025, alle ore 10:12, Comune "
            "<no-reply@comune.bologna.it> ha scritto:\n\n> Buongiorno",
            "Grazie mille, tutto risolto.",
        ),
        (  # interleaved quotes
            "> Is the sofa still there?\nYes, by the bins.\n> Which colour?\nGreen.",
            "Yes, by the bins.\nGreen.",
        ),
        (  # an Android footer and a closing with the name on its line
            "Water leaking from the fountain in Piazza Maggiore.\n\nThanks, Luca\n\n"
            "Sent from my Galaxy",
            "Water leaking from the fountain in Piazza Maggiore.",
        ),
        (  # German closing with a title and a contact block
            "Bitte den Sperrmüll abholen.\n\nMit freundlichen Grüßen\nDr. Jonas Weber\n"
            "Hauptstraße 5\n10115 Berlin\nTel. 030 1234567",
            "Bitte den Sperrmüll abholen.",
        ),
    ],
)
def test_the_writers_own_words_are_kept_and_quotes_and_signatures_left_out(text, words):
    assert own_words(text, region="IT") == words


@pytest.mark.parametrize(
    "text",
    [
        # The place of the problem at the end is no signature.
        "The sofa is at\nVia Mascarella 12",
        # "Thanks" that starts a sentence on the next line is no sign-off.
        "Hello,\nThanks\nfor the quick fix of the light last week. Now the other one is broken.",
        # A phone number the citizen asks to be called on stays: it is in a sentence.
        "The gate is locked, please call me at 333 1234567 before you come.",
        # A message that is only a thank-you.
        "Grazie",
    ],
)
def test_words_that_only_look_like_a_signature_or_a_quote_stay(text):
    assert own_words(text, region="IT") == text


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (  # Gmail
            "---------- Forwarded message ---------\nFrom: Carlo Verdi <carlo@example.org>\n"
            "Date: Mon, 3 Mar 2025 at 10:12\nSubject: materasso\nTo: <urp@comune.bologna.it>\n\n"
            "Materasso abbandonato in Via del Pratello 20.\n\nCarlo Verdi\nTel. 333 1234567",
            "Fwd: materasso",
        ),
        (  # Apple Mail
            "Begin forwarded message:\n\nFrom: Carlo Verdi <carlo@example.org>\nSubject: materasso"
            "\nDate: 3 March 2025 at 10:12:00 CET\nTo: urp@comune.bologna.it\n\n"
            "Materasso abbandonato in Via del Pratello 20.\n\nSent from my iPhone",
            "Fwd: materasso",
        ),
        (  # Thunderbird: its header block begins with the subject
            "-------- Forwarded Message --------\nSubject: \tmaterasso\n"
            "Date: \tMon, 3 Mar 2025 10:12:00 +0100\nFrom: \tCarlo Verdi <carlo@example.org>\n"
            "To: \turp@comune.bologna.it\n\nMaterasso abbandonato in Via del Pratello 20.\n\n"
            "-- \nCarlo",
            "Fwd: materasso",
        ),
        (  # Outlook in Italian: no divider, a rule, the header block and "I:" in the subject
            "\n________________________________\nDa: Carlo Verdi <carlo@example.org>\n"
            "Inviato: lunedì 3 marzo 2025 10:12\nA: URP\nOggetto: materasso\n\n"
            "Materasso abbandonato in Via del Pratello 20.\n\nCordiali saluti\nCarlo Verdi",
            "I: materasso",
        ),
    ],
)
def test_a_forward_s_words_are_the_forwarded_message_s_without_its_headers_or_signature(
    text, subject
):
    assert own_words(text, region="IT") == ""
    assert forwarded_words(text, subject=subject, region="IT") == (
        "Materasso abbandonato in Via del Pratello 20."
    )


def test_a_reply_s_quote_is_no_forward():
    reply = "\n\nOn Mon, 3 Mar 2025 Comune <no-reply@comune.bologna.it> wrote:\n> Buongiorno"
    assert forwarded_words(reply, subject="Re: [BO-7K3M9Q]", region="IT") == ""


@pytest.mark.parametrize(
    ("text", "written", "languages"),
    [
        ("La città è più pulita, perché?", "cp1252", ("it",)),
        ("Śmieci przy ulicy Długiej, proszę o odbiór.", "cp1250", ("pl", "en")),
        ("Prügi on jäetud tänavale, palun koristage ära. Õues.", "cp1257", ("et",)),
        ("Müll in der Straße – danke!", "utf-8", ("de",)),
    ],
)
def test_text_declared_in_the_wrong_charset_is_read_without_losing_a_letter(
    text, written, languages
):
    decoded = decode(text.encode(written), "us-ascii", languages=languages)
    assert decoded.text == text


def test_bytes_no_charset_explains_still_come_back_whole():
    data = bytes(range(128, 256))
    decoded = decode(data, "x-unknown-charset")
    assert decoded.text.encode(decoded.charset) == data


def _headers(extra: str) -> bytes:
    return (
        f"From: someone@example.org\r\nTo: rifiuti@comune.bologna.it\r\n{extra}"
        "Subject: Sofa\r\n\r\nAn old sofa.\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ("Auto-Submitted: auto-replied\r\n", "auto-replied"),
        ("Auto-Submitted: auto-generated; owner-email=x@example.org\r\n", "auto-generated"),
        ("Precedence: bulk\r\n", "precedence bulk"),
        ("Precedence: list\r\n", "precedence list"),
        ("Precedence: auto_reply\r\n", "precedence auto_reply"),
        ("X-Autoreply: yes\r\n", "auto-replied"),
        ("X-Autorespond: vacation\r\n", "auto-replied"),
        ("Return-Path: <>\r\n", "null sender"),
        ("", None),
        ("Auto-Submitted: no\r\n", None),
    ],
)
def test_machines_are_told_apart_from_people_by_their_headers(headers, why):
    assert parse_mail(_headers(headers)).automatic == why


def test_an_out_of_office_subject_marks_a_machine_but_a_citizens_subject_does_not():
    raw = _headers("").replace(b"Subject: Sofa", b"Subject: Risposta automatica: Sofa")
    assert parse_mail(raw).automatic == "auto-replied"
    raw = _headers("").replace(b"Subject: Sofa", b"Subject: Out of office hours noise")
    assert parse_mail(raw).automatic is None
